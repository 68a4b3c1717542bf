//! `/model`: which provider and model answer this conversation. Every
//! configured provider is loaded, so a conversation can move between them
//! (`/model PROVIDER/MODEL`); the agent makes the stored history fit the
//! new provider's API when it sends it.
//!
//! An argument is read, in order, as `PROVIDER/MODEL` when the part before
//! the first `/` names a configured provider (`openrouter/anthropic/x`
//! is OpenRouter's model `anthropic/x`), as a model the conversation's
//! provider lists, as a provider name alone (its default model), else as
//! a model of the conversation's provider (refused when the provider
//! lists models and this is not one of them).

use super::Gateway;
use super::commands::{Reply, button};
use super::sessions::ModelChoice;

/// Runs `/model ARGS` for session `active`.
pub async fn run(gateway: &Gateway, active: &str, args: &str) -> Reply {
    let agent = gateway.agent();
    let settings = &agent.settings;
    let chosen = gateway.session_model(active);
    let current = chosen
        .provider
        .clone()
        .filter(|p| settings.providers.contains_key(p))
        .unwrap_or_else(|| settings.provider_name.clone());
    let arg = args.trim();
    if arg.is_empty() {
        return overview(gateway, &current, chosen.model).await;
    }
    let here = catalogue(gateway, &current).await;
    let (provider, model) = match arg.split_once('/') {
        Some((p, m)) if settings.providers.contains_key(p) => {
            (p.to_string(), Some(m.trim()).filter(|m| !m.is_empty()))
        }
        _ if here.iter().any(|m| m == arg) => (current.clone(), Some(arg)),
        _ if settings.providers.contains_key(arg) => (arg.to_string(), None),
        _ => (current.clone(), Some(arg)),
    };
    if let Some(model) = model {
        let catalogue = if provider == current {
            here
        } else {
            catalogue(gateway, &provider).await
        };
        if !catalogue.is_empty() && !catalogue.iter().any(|m| m == model) {
            return Reply::error(format!(
                "the provider {provider} has no model {model:?}; it has: {}",
                catalogue.join(", ")
            ));
        }
    }
    let choice = ModelChoice {
        provider: (provider != settings.provider_name).then(|| provider.clone()),
        model: model.map(String::from),
    };
    match gateway.set_session_model(active, &choice) {
        Ok(()) => Reply::ok(match model {
            Some(m) if provider == current => format!("This conversation now uses the model {m}."),
            Some(m) => format!("This conversation now uses {provider}/{m}."),
            None => format!("This conversation now uses {provider} with its default model."),
        }),
        Err(e) => Reply::error(format!("could not choose the model: {e:#}")),
    }
}

/// The conversation's provider and model, the provider's models and the
/// other providers, as text and buttons.
async fn overview(gateway: &Gateway, current: &str, model: Option<String>) -> Reply {
    let settings = &gateway.agent().settings;
    let model = model.or_else(|| {
        (current == settings.provider_name)
            .then(|| settings.model.clone())
            .flatten()
    });
    let catalogue = catalogue(gateway, current).await;
    let shown = model.clone().unwrap_or_else(|| "its default".into());
    let mut text = format!("Provider {current}, model {shown}.");
    if !catalogue.is_empty() {
        text.push_str(&format!("\nModels: {}", catalogue.join(", ")));
    }
    let others: Vec<&String> = settings
        .providers
        .keys()
        .filter(|p| p.as_str() != current)
        .collect();
    if !others.is_empty() {
        let names: Vec<&str> = others.iter().map(|p| p.as_str()).collect();
        text.push_str(&format!("\nOther providers: {}", names.join(", ")));
    }
    text.push_str("\n/model NAME or /model PROVIDER/MODEL switches this conversation.");
    let buttons = catalogue
        .iter()
        .filter(|m| model.as_deref() != Some(m.as_str()))
        .take(10)
        // A name with a `/` could read as PROVIDER/MODEL: say both.
        .map(|m| match m.contains('/') {
            false => button(m.clone(), "model", m.clone()),
            true => button(m.clone(), "model", format!("{current}/{m}")),
        })
        .chain(
            others
                .iter()
                .take(4)
                .map(|p| button(p.to_string(), "model", p.to_string())),
        )
        .collect();
    Reply {
        text,
        buttons,
        ..Default::default()
    }
}

/// The models `provider` (a config name) lists; empty when it lists none
/// or the listing failed (then any model name is taken).
async fn catalogue(gateway: &Gateway, provider: &str) -> Vec<String> {
    let agent = gateway.agent();
    let Some(component) = agent.settings.providers.get(provider) else {
        return Vec::new();
    };
    match agent.runtime.get(component) {
        Some(p) => match p.models().await {
            Ok(models) => models.into_iter().map(|m| m.id).collect(),
            Err(e) => {
                tracing::warn!("the model list of {provider} failed: {e}");
                Vec::new()
            }
        },
        None => Vec::new(),
    }
}
