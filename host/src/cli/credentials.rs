//! Stored sign-ins wired into provider aliases: a provider whose preset
//! can use a sign-in slot (`openpista auth login --provider SLOT`), and
//! whose configuration names no key variable of its own, gets the stored
//! credential as its `api_key` secret (and ChatGPT its `account_id`),
//! obtained and refreshed by the host at send time. The component only
//! ever writes the placeholders.

use crate::auth::source::{Field, SignIn};
use crate::auth::{AuthSettings, CredentialStore, Method};
use crate::config::{Preset, ProviderSetup};
use crate::runtime::secrets::SecretStore;
use anyhow::Result;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The sign-ins of one host, shared by every alias that uses the same
/// slot, so one refresh serves them all.
pub struct SignIns {
    store: CredentialStore,
    settings: Arc<AuthSettings>,
    by_slot: BTreeMap<String, Arc<SignIn>>,
}

impl SignIns {
    pub fn new(store: CredentialStore, settings: AuthSettings) -> Self {
        SignIns {
            store,
            settings: Arc::new(settings),
            by_slot: BTreeMap::new(),
        }
    }

    /// Lets `setup` use its slot's stored credential, if there is one
    /// that its API takes; returns `secrets` with the sources added.
    pub fn wire(&mut self, setup: &mut ProviderSetup, secrets: SecretStore) -> Result<SecretStore> {
        let (Some(slot), Some(preset)) = (setup.credential.clone(), setup.preset) else {
            return Ok(secrets);
        };
        let Some(credential) = self.store.get(&slot)? else {
            return Ok(secrets);
        };
        let field = match preset {
            // The platform API takes API keys: a stored key, or the one an
            // OpenAI sign-in exchanged its id_token for. A ChatGPT token
            // alone works only with the `chatgpt` preset.
            Preset::Openai | Preset::Responses
                if credential.method == Method::OAuth
                    && !credential.extra.contains_key("api_key") =>
            {
                return Ok(secrets);
            }
            Preset::Openai | Preset::Responses => Field::ApiKey,
            _ => Field::Token,
        };
        let sign_in = self
            .by_slot
            .entry(slot.clone())
            .or_insert_with(|| SignIn::new(&slot, self.store.clone(), self.settings.clone()))
            .clone();
        let component = &setup.component;
        let mut secrets =
            secrets.with_source(&format!("{component}/api_key"), sign_in.source(field));
        let config = &mut setup.policy.config;
        let set = |config: &mut BTreeMap<String, toml::Value>, key: &str, value: &str| {
            config.insert(key.to_string(), toml::Value::String(value.to_string()));
        };
        match preset {
            Preset::Chatgpt => {
                secrets = secrets.with_source(
                    &format!("{component}/account_id"),
                    sign_in.source(Field::Account),
                );
            }
            Preset::Claude | Preset::Anthropic if credential.method == Method::OAuth => {
                set(config, "auth", "oauth");
            }
            Preset::Copilot if !config.contains_key("base_url") => {
                // The token says which API serves the account (business
                // and enterprise accounts have their own).
                if let Some(api) = credential.extra.get("api_endpoint") {
                    set(config, "base_url", api.trim_end_matches('/'));
                    let host = api
                        .split("://")
                        .nth(1)
                        .and_then(|rest| rest.split('/').next())
                        .unwrap_or_default();
                    if !host.is_empty() {
                        setup.policy.hosts = Some(vec![host.to_string()]);
                    }
                }
            }
            _ => {}
        }
        // The sign-in stands for the preset's default key variable.
        setup.policy.secret_env.remove("api_key");
        setup.key_present = true;
        Ok(secrets)
    }
}
