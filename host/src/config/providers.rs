//! `[providers.NAME]`: the language-model providers. Each names a preset
//! (which protocol component speaks for it, and the service's defaults)
//! and becomes an alias of that component with its own policy; every one
//! configured is loaded, `[agent].provider` first.

use super::{Config, url_host};
use anyhow::{Result, bail};
use serde::Deserialize;

/// The components that speak a provider protocol ([`Preset::component`]).
/// Providers are their aliases; `serve` loads one under its own name only
/// when the configuration uses it so (see [`dormant_protocols`]).
pub const PROTOCOL_COMPONENTS: &[&str] =
    &["llm-anthropic", "llm-echo", "llm-openai", "llm-responses"];

/// The protocol components nothing in `setups` names directly: each
/// configured provider is an alias with its own compiled copy, so the bare
/// component would only take memory and start-up time.
pub fn dormant_protocols(setups: &[ProviderSetup]) -> Vec<&'static str> {
    PROTOCOL_COMPONENTS
        .iter()
        .copied()
        .filter(|c| !setups.iter().any(|s| s.component == *c))
        .collect()
}

/// Which wire protocol and defaults a provider uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    Openai,
    Claude,
    Anthropic,
    Together,
    Ollama,
    Openrouter,
    Custom,
    Responses,
    Echo,
    /// GitHub Copilot, with `openpista auth login --provider copilot`.
    Copilot,
    /// A ChatGPT Plus/Pro subscription (the ChatGPT backend of the
    /// Responses API), with `openpista auth login --provider openai`.
    Chatgpt,
    /// Google Gemini's OpenAI-compatible endpoint.
    Gemini,
    /// Vercel AI Gateway (OpenAI-compatible).
    Vercel,
    /// Azure OpenAI's v1 API; `base_url` names the resource.
    Azure,
}

impl Preset {
    /// The component that speaks this preset's protocol.
    pub fn component(self) -> &'static str {
        match self {
            Preset::Claude | Preset::Anthropic => "llm-anthropic",
            Preset::Responses | Preset::Chatgpt => "llm-responses",
            // Gemini, Vercel and Azure speak Chat Completions too.
            Preset::Echo => "llm-echo",
            _ => "llm-openai",
        }
    }

    /// Whether the service lists its models (`GET …/models`) in a shape
    /// the protocol component reads (`models = "listed"`). The ChatGPT
    /// backend has no public list; echo has nothing to list.
    pub fn lists_models(self) -> bool {
        !matches!(self, Preset::Chatgpt | Preset::Echo)
    }

    /// The environment variable holding the API key, unless configured.
    pub fn default_key_env(self) -> Option<&'static str> {
        match self {
            Preset::Openai | Preset::Responses => Some("OPENAI_API_KEY"),
            Preset::Claude | Preset::Anthropic => Some("ANTHROPIC_API_KEY"),
            Preset::Together => Some("TOGETHER_API_KEY"),
            Preset::Openrouter => Some("OPENROUTER_API_KEY"),
            Preset::Gemini => Some("GEMINI_API_KEY"),
            Preset::Vercel => Some("AI_GATEWAY_API_KEY"),
            Preset::Azure => Some("AZURE_OPENAI_API_KEY"),
            Preset::Ollama | Preset::Custom | Preset::Echo | Preset::Copilot | Preset::Chatgpt => {
                None
            }
        }
    }

    /// The `openpista auth login --provider` slot whose stored sign-in or
    /// key this preset can use.
    pub fn credential(self) -> Option<&'static str> {
        match self {
            Preset::Openai | Preset::Responses | Preset::Chatgpt => Some("openai"),
            Preset::Claude | Preset::Anthropic => Some("anthropic"),
            Preset::Openrouter => Some("openrouter"),
            Preset::Copilot => Some("copilot"),
            Preset::Gemini => Some("gemini"),
            Preset::Vercel => Some("vercel"),
            Preset::Azure => Some("azure"),
            Preset::Together | Preset::Ollama | Preset::Custom | Preset::Echo => None,
        }
    }

    fn wire_name(self) -> &'static str {
        match self {
            Preset::Openai => "openai",
            Preset::Claude | Preset::Anthropic => "anthropic",
            Preset::Together => "together",
            Preset::Ollama => "ollama",
            Preset::Openrouter => "openrouter",
            Preset::Custom => "custom",
            // The component's own preset: the Responses API at OpenAI.
            Preset::Responses => "openai",
            Preset::Echo => "echo",
            Preset::Copilot => "copilot",
            Preset::Chatgpt => "chatgpt",
            Preset::Gemini => "gemini",
            Preset::Vercel => "vercel",
            Preset::Azure => "azure",
        }
    }
}

/// `[providers.NAME]`: one language-model provider.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderSection {
    pub preset: Preset,
    pub model: Option<String>,
    /// Required for `custom`; overrides the preset's endpoint otherwise.
    pub base_url: Option<String>,
    /// Environment variable with the API key (the preset's default otherwise).
    pub api_key_env: Option<String>,
    pub temperature: Option<f64>,
    pub max_tokens: Option<u32>,
    /// The model's context window in tokens, when the provider cannot say
    /// (its `models()` reports it otherwise); history is trimmed to fit.
    pub context_window: Option<u32>,
}

/// How the configured provider is wired into the runtime.
#[derive(Debug, Clone)]
pub struct ProviderSetup {
    /// The name the config gives it (`[providers.NAME]`, or `echo`).
    pub name: String,
    /// The name the agent calls (`provider-NAME`, or `llm-echo`).
    pub component: String,
    /// The component it is an alias of, when it is one.
    pub alias_of: Option<String>,
    pub policy: crate::runtime::capabilities::ComponentPolicy,
    /// The key's environment variable and whether it is set.
    pub key_env: Option<String>,
    pub key_present: bool,
    pub model: Option<String>,
    /// The preset, for a `[providers.NAME]` entry.
    pub preset: Option<Preset>,
    /// The sign-in slot whose stored credential may stand for the key
    /// (none when `api_key_env` names a variable explicitly: the operator
    /// chose that key).
    pub credential: Option<String>,
}

impl Config {
    /// Resolves `[agent].provider` to the component that answers and the
    /// policy it runs under.
    pub fn provider_setup(&self) -> Result<ProviderSetup> {
        self.provider_setup_named(&self.agent.provider)
    }

    /// Every provider the config names, `[agent].provider` first: all are
    /// loaded, so a conversation can switch between them (`/model
    /// PROVIDER/MODEL`). A broken `[providers.NAME]` table is an error
    /// even when it is not the default: it would fail later, mid-session.
    pub fn provider_setups(&self) -> Result<Vec<ProviderSetup>> {
        let mut setups = vec![self.provider_setup()?];
        for name in self.providers.keys() {
            if *name != self.agent.provider {
                setups.push(self.provider_setup_named(name)?);
            }
        }
        Ok(setups)
    }

    /// The setup of the provider called `name` (`echo`, or a
    /// `[providers.NAME]` table).
    pub fn provider_setup_named(&self, name: &str) -> Result<ProviderSetup> {
        let Some(section) = self.providers.get(name) else {
            if name == "echo" {
                return Ok(ProviderSetup {
                    name: name.to_string(),
                    component: "llm-echo".into(),
                    alias_of: None,
                    policy: Default::default(),
                    key_env: None,
                    key_present: true,
                    model: None,
                    preset: None,
                    credential: None,
                });
            }
            let known: Vec<&str> = self.providers.keys().map(|k| k.as_str()).collect();
            bail!(
                "[agent].provider = {name:?} names no [providers.{name}] table (configured: {}; or use \"echo\")",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            );
        };
        let origin = format!("[providers.{name}]");
        let preset = section.preset;
        let mut policy = crate::runtime::capabilities::ComponentPolicy::default();
        let mut set = |k: &str, v: toml::Value| {
            policy.config.insert(k.to_string(), v);
        };
        set("preset", toml::Value::String(preset.wire_name().into()));
        if let Some(m) = &section.model {
            set("model", toml::Value::String(m.clone()));
        }
        if let Some(t) = section.temperature {
            set("temperature", toml::Value::Float(t));
        }
        if let Some(t) = section.max_tokens {
            set("max_tokens", toml::Value::Integer(t as i64));
        }
        if let Some(w) = section.context_window {
            set("context_window", toml::Value::Integer(w as i64));
        }
        match (&section.base_url, preset) {
            (None, Preset::Custom) => bail!("{origin}: preset \"custom\" needs base_url"),
            (None, Preset::Azure) => bail!(
                "{origin}: preset \"azure\" needs base_url (https://RESOURCE.openai.azure.com/openai/v1)"
            ),
            (Some(url), _) => {
                set("base_url", toml::Value::String(url.clone()));
                policy.hosts = Some(vec![url_host(url, &origin)?]);
            }
            (None, Preset::Ollama) => {
                policy.hosts = Some(vec!["localhost:11434".into()]);
            }
            (None, _) => {}
        }
        let key_env = section
            .api_key_env
            .clone()
            .or_else(|| preset.default_key_env().map(String::from));
        let key_present = match &key_env {
            Some(var) => {
                policy.secret_env.insert("api_key".into(), var.clone());
                std::env::var(var).is_ok_and(|v| !v.is_empty())
            }
            None => true,
        };
        Ok(ProviderSetup {
            name: name.to_string(),
            component: format!("provider-{name}"),
            alias_of: Some(preset.component().to_string()),
            policy,
            key_env,
            key_present,
            model: section.model.clone(),
            preset: Some(preset),
            credential: match section.api_key_env {
                Some(_) => None,
                None => preset.credential().map(String::from),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_protocols_no_provider_names_directly_are_dormant() {
        let echo = Config::default().provider_setups().unwrap();
        assert_eq!(
            dormant_protocols(&echo),
            ["llm-anthropic", "llm-openai", "llm-responses"]
        );
        let c = Config::parse(
            "[agent]\nprovider = \"main\"\n[providers.main]\npreset = \"openai\"\nmodel = \"m\"\n",
            "t",
        )
        .unwrap();
        // The provider is an alias of llm-openai: the bare one stays off too.
        assert_eq!(
            dormant_protocols(&c.provider_setups().unwrap()),
            PROTOCOL_COMPONENTS
        );
        for preset in [
            Preset::Openai,
            Preset::Claude,
            Preset::Responses,
            Preset::Echo,
            Preset::Azure,
        ] {
            assert!(
                PROTOCOL_COMPONENTS.contains(&preset.component()),
                "{preset:?}"
            );
        }
    }

    #[test]
    fn switching_provider_is_one_line() {
        let text = |provider: &str| {
            format!(
                r#"
[agent]
provider = "{provider}"
[providers.main]
preset = "openai"
model = "gpt-4o-mini"
api_key_env = "OPENPISTA_TEST_NO_SUCH_KEY"
[providers.local]
preset = "ollama"
model = "llama3"
[providers.claude]
preset = "claude"
base_url = "https://api.anthropic.com/v1"
"#
            )
        };
        let main = Config::parse(&text("main"), "c")
            .unwrap()
            .provider_setup()
            .unwrap();
        assert_eq!(main.component, "provider-main");
        assert_eq!(main.alias_of.as_deref(), Some("llm-openai"));
        assert!(!main.key_present);
        assert_eq!(
            main.policy.secret_env["api_key"],
            "OPENPISTA_TEST_NO_SUCH_KEY"
        );
        let local = Config::parse(&text("local"), "c")
            .unwrap()
            .provider_setup()
            .unwrap();
        assert_eq!(
            local.policy.hosts.as_deref(),
            Some(&["localhost:11434".to_string()][..])
        );
        assert!(local.key_present);
        let claude = Config::parse(&text("claude"), "c")
            .unwrap()
            .provider_setup()
            .unwrap();
        assert_eq!(claude.alias_of.as_deref(), Some("llm-anthropic"));
        assert_eq!(
            claude.policy.hosts.as_deref(),
            Some(&["api.anthropic.com".to_string()][..])
        );
        let err = Config::parse(&text("nope"), "c")
            .unwrap()
            .provider_setup()
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("[providers.nope]") && err.contains("claude, local, main"),
            "{err}"
        );
        let err = Config::parse(
            "[providers.x]\npreset = \"custom\"\n[agent]\nprovider = \"x\"",
            "c",
        )
        .unwrap()
        .provider_setup()
        .unwrap_err()
        .to_string();
        assert!(err.contains("needs base_url"), "{err}");
    }

    #[test]
    fn every_provider_is_set_up_the_default_first_and_a_broken_one_is_an_error() {
        let text = "[agent]\nprovider = \"main\"\n\
                    [providers.alpha]\npreset = \"anthropic\"\n\
                    [providers.main]\npreset = \"ollama\"\n";
        let setups = Config::parse(text, "c").unwrap().provider_setups().unwrap();
        let names: Vec<&str> = setups.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["main", "alpha"]);
        assert_eq!(setups[1].component, "provider-alpha");
        let settings = Config::parse(text, "c").unwrap().agent_settings(&setups[0]);
        assert_eq!(settings.provider_name, "main");
        assert_eq!(settings.providers["alpha"], "provider-alpha");
        let broken = format!("{text}[providers.zeta]\npreset = \"custom\"\n");
        let err = Config::parse(&broken, "c")
            .unwrap()
            .provider_setups()
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("[providers.zeta]") && err.contains("needs base_url"),
            "{err}"
        );
    }

    #[test]
    fn subscription_presets_use_their_sign_in_unless_a_key_variable_is_named() {
        let setup = |preset: &str, extra: &str| {
            Config::parse(
                &format!(
                    "[agent]\nprovider = \"p\"\n[providers.p]\npreset = \"{preset}\"\n{extra}"
                ),
                "c",
            )
            .unwrap()
            .provider_setup()
            .unwrap()
        };
        let chatgpt = setup("chatgpt", "");
        assert_eq!(chatgpt.alias_of.as_deref(), Some("llm-responses"));
        assert_eq!(chatgpt.policy.config["preset"].as_str(), Some("chatgpt"));
        assert_eq!(chatgpt.credential.as_deref(), Some("openai"));
        assert_eq!(chatgpt.key_env, None);
        let copilot = setup("copilot", "");
        assert_eq!(copilot.alias_of.as_deref(), Some("llm-openai"));
        assert_eq!(copilot.credential.as_deref(), Some("copilot"));
        // The Responses preset is the component's `openai` preset.
        let responses = setup("responses", "");
        assert_eq!(responses.policy.config["preset"].as_str(), Some("openai"));
        assert_eq!(responses.credential.as_deref(), Some("openai"));
        assert_eq!(setup("claude", "").credential.as_deref(), Some("anthropic"));
        assert_eq!(
            setup("openrouter", "").credential.as_deref(),
            Some("openrouter")
        );
        assert_eq!(setup("together", "").credential, None);
        let gemini = setup("gemini", "");
        assert_eq!(gemini.alias_of.as_deref(), Some("llm-openai"));
        assert_eq!(gemini.credential.as_deref(), Some("gemini"));
        assert_eq!(gemini.key_env.as_deref(), Some("GEMINI_API_KEY"));
        let azure = setup(
            "azure",
            "base_url = \"https://r.openai.azure.com/openai/v1\"",
        );
        assert_eq!(
            azure.policy.hosts.as_deref(),
            Some(&["r.openai.azure.com".to_string()][..])
        );
        assert_eq!(azure.credential.as_deref(), Some("azure"));
        let named = setup("anthropic", "api_key_env = \"MY_CLAUDE_KEY\"");
        assert_eq!(named.credential, None, "the operator chose that key");
    }
}
