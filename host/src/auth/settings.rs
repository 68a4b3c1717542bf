//! `[auth.PROVIDER]`: where each provider's sign-in endpoints are, with
//! the real endpoints as defaults. Everything is configurable so that an
//! enterprise proxy (or a test double) can stand in for the provider.
//!
//! ```toml
//! [auth.openai]
//! authorize_url = "https://auth.openai.com/oauth/authorize"
//! redirect_port = 1455        # 0 = any free port (tests; providers that accept any)
//! ```
//!
//! An unknown provider, an unknown key or a URL that is not http(s) is
//! refused with the table and the key named.

use serde::Deserialize;
use std::collections::BTreeMap;

/// How a provider signs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// OpenAI: authorisation code + PKCE, loopback redirect.
    OpenAi,
    /// Anthropic: authorisation code + PKCE, the code is shown and pasted.
    Anthropic,
    /// OpenRouter: PKCE with a loopback `callback_url`, exchanged for a key.
    OpenRouter,
    /// GitHub Copilot: the GitHub device flow, then a Copilot token.
    Copilot,
    /// An API key only (the extension slots).
    KeyOnly,
}

/// A provider one can sign in to.
#[derive(Debug, Clone, Copy)]
pub struct Provider {
    /// The name in `[auth.NAME]`, `--provider NAME` and the credentials file.
    pub name: &'static str,
    /// What a person calls it.
    pub label: &'static str,
    pub flow: Flow,
}

/// Every provider, in the order the picker shows them.
pub const PROVIDERS: &[Provider] = &[
    Provider {
        name: "openai",
        label: "OpenAI (ChatGPT Plus/Pro)",
        flow: Flow::OpenAi,
    },
    Provider {
        name: "anthropic",
        label: "Anthropic (Claude Pro/Max)",
        flow: Flow::Anthropic,
    },
    Provider {
        name: "openrouter",
        label: "OpenRouter",
        flow: Flow::OpenRouter,
    },
    Provider {
        name: "copilot",
        label: "GitHub Copilot",
        flow: Flow::Copilot,
    },
    Provider {
        name: "gemini",
        label: "Google Gemini (API key)",
        flow: Flow::KeyOnly,
    },
    Provider {
        name: "azure",
        label: "Azure OpenAI (API key)",
        flow: Flow::KeyOnly,
    },
    Provider {
        name: "vercel",
        label: "Vercel AI Gateway (API key)",
        flow: Flow::KeyOnly,
    },
    Provider {
        name: "bedrock",
        label: "AWS Bedrock (API key)",
        flow: Flow::KeyOnly,
    },
];

/// The provider called `name`, or an error listing the known ones.
pub fn provider(name: &str) -> Result<&'static Provider, String> {
    PROVIDERS.iter().find(|p| p.name == name).ok_or_else(|| {
        let known: Vec<&str> = PROVIDERS.iter().map(|p| p.name).collect();
        format!("unknown provider {name:?} (known: {})", known.join(", "))
    })
}

/// All of `[auth]`.
#[derive(Debug, Clone, Default)]
pub struct AuthSettings {
    pub openai: OpenAiSettings,
    pub anthropic: AnthropicSettings,
    pub openrouter: OpenRouterSettings,
    pub copilot: CopilotSettings,
    /// `[auth.gemini]`, `[auth.azure]`, `[auth.vercel]`, `[auth.bedrock]`:
    /// slots that hold an API key and have nothing to configure yet.
    pub key_slots: BTreeMap<String, KeySlotSettings>,
    /// `[auth] credentials_file`: where sign-ins are stored, when not
    /// `~/.openpista/credentials.toml` (several hosts on one account, or
    /// tests).
    pub credentials_file: Option<String>,
}

impl AuthSettings {
    /// The credentials file these settings name.
    pub fn store(&self) -> super::CredentialStore {
        match &self.credentials_file {
            Some(path) => super::CredentialStore::open(crate::paths::expand(path)),
            None => super::CredentialStore::open(super::CredentialStore::default_path()),
        }
    }
}

/// `[auth.openai]`: the ChatGPT sign-in of OpenAI's Codex CLI client.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OpenAiSettings {
    pub authorize_url: String,
    pub token_url: String,
    /// The public client id of OpenAI's Codex CLI.
    pub client_id: String,
    /// Port of the loopback redirect `http://localhost:PORT/auth/callback`;
    /// 0 takes any free port (for tests: OpenAI's client accepts 1455).
    pub redirect_port: u16,
    pub scopes: String,
    /// How long to wait for the browser's callback.
    pub login_timeout_secs: u64,
}

impl Default for OpenAiSettings {
    fn default() -> Self {
        OpenAiSettings {
            authorize_url: "https://auth.openai.com/oauth/authorize".into(),
            token_url: "https://auth.openai.com/oauth/token".into(),
            client_id: "app_EMoamEEZ73f0CkXaXp7hrann".into(),
            redirect_port: 1455,
            scopes: "openid profile email offline_access".into(),
            login_timeout_secs: DEFAULT_LOGIN_TIMEOUT_SECS,
        }
    }
}

/// `[auth.anthropic]`: the Claude Pro/Max sign-in of Claude Code's client.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AnthropicSettings {
    pub authorize_url: String,
    pub token_url: String,
    /// The public client id of Claude Code.
    pub client_id: String,
    /// The page that shows the code to paste.
    pub redirect_uri: String,
    pub scopes: String,
}

impl Default for AnthropicSettings {
    fn default() -> Self {
        AnthropicSettings {
            authorize_url: "https://claude.ai/oauth/authorize".into(),
            token_url: "https://console.anthropic.com/v1/oauth/token".into(),
            client_id: "9d1c250a-e61b-44d9-88ed-5944d1962f5e".into(),
            redirect_uri: "https://console.anthropic.com/oauth/code/callback".into(),
            scopes: "org:create_api_key user:profile user:inference".into(),
        }
    }
}

/// `[auth.openrouter]`: OpenRouter's PKCE flow, which yields an API key.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OpenRouterSettings {
    pub authorize_url: String,
    /// Where the code is exchanged for a key.
    pub keys_url: String,
    /// Port of the loopback `callback_url` `http://localhost:PORT/callback`;
    /// 0 takes any free port.
    pub redirect_port: u16,
    pub login_timeout_secs: u64,
}

impl Default for OpenRouterSettings {
    fn default() -> Self {
        OpenRouterSettings {
            authorize_url: "https://openrouter.ai/auth".into(),
            keys_url: "https://openrouter.ai/api/v1/auth/keys".into(),
            // OpenRouter's documentation names localhost:3000 for local apps.
            redirect_port: 3000,
            login_timeout_secs: DEFAULT_LOGIN_TIMEOUT_SECS,
        }
    }
}

/// `[auth.copilot]`: GitHub's device flow with the VS Code Copilot client,
/// then Copilot's own short-lived token.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CopilotSettings {
    pub device_code_url: String,
    pub token_url: String,
    pub copilot_token_url: String,
    /// The public client id of the Copilot extension for VS Code.
    pub client_id: String,
    pub scopes: String,
    /// `Editor-Version` and `Editor-Plugin-Version`: Copilot's endpoints
    /// serve editors and ask which one is calling.
    pub editor_version: String,
    pub editor_plugin_version: String,
}

impl Default for CopilotSettings {
    fn default() -> Self {
        CopilotSettings {
            device_code_url: "https://github.com/login/device/code".into(),
            token_url: "https://github.com/login/oauth/access_token".into(),
            copilot_token_url: "https://api.github.com/copilot_internal/v2/token".into(),
            client_id: "Iv1.b507a08c87ecfe98".into(),
            scopes: "read:user".into(),
            editor_version: "vscode/1.99.3".into(),
            editor_plugin_version: "copilot-chat/0.26.7".into(),
        }
    }
}

/// An extension slot's table: nothing to configure yet (the key is
/// entered with `auth login --provider NAME --api-key`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeySlotSettings {}

/// Five minutes: long enough to sign in, short enough not to leave a
/// listener behind.
pub const DEFAULT_LOGIN_TIMEOUT_SECS: u64 = 300;

impl<'de> Deserialize<'de> for AuthSettings {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let tables = BTreeMap::<String, toml::Value>::deserialize(d)?;
        let mut out = AuthSettings::default();
        for (name, value) in tables {
            if name == "credentials_file" {
                let path = value
                    .as_str()
                    .filter(|p| !p.trim().is_empty())
                    .ok_or_else(|| {
                        D::Error::custom("[auth] credentials_file must be a path (a string)")
                    })?;
                out.credentials_file = Some(path.to_string());
                continue;
            }
            parse_table(&mut out, &name, value)
                .map_err(|e| D::Error::custom(format!("[auth.{name}]: {e}")))?;
        }
        Ok(out)
    }
}

/// Reads one `[auth.NAME]` table into `out` and checks its URLs.
fn parse_table(out: &mut AuthSettings, name: &str, value: toml::Value) -> Result<(), String> {
    match provider(name)?.flow {
        Flow::OpenAi => {
            out.openai = table(value, |s: &OpenAiSettings| {
                check_timeout(s.login_timeout_secs)?;
                check_urls(&[
                    ("authorize_url", &s.authorize_url),
                    ("token_url", &s.token_url),
                ])
            })?
        }
        Flow::Anthropic => {
            out.anthropic = table(value, |s: &AnthropicSettings| {
                check_urls(&[
                    ("authorize_url", &s.authorize_url),
                    ("token_url", &s.token_url),
                    ("redirect_uri", &s.redirect_uri),
                ])
            })?
        }
        Flow::OpenRouter => {
            out.openrouter = table(value, |s: &OpenRouterSettings| {
                check_timeout(s.login_timeout_secs)?;
                check_urls(&[
                    ("authorize_url", &s.authorize_url),
                    ("keys_url", &s.keys_url),
                ])
            })?
        }
        Flow::Copilot => {
            out.copilot = table(value, |s: &CopilotSettings| {
                check_urls(&[
                    ("device_code_url", &s.device_code_url),
                    ("token_url", &s.token_url),
                    ("copilot_token_url", &s.copilot_token_url),
                ])
            })?
        }
        Flow::KeyOnly => {
            let slot = table(value, |_: &KeySlotSettings| Ok(()))?;
            out.key_slots.insert(name.to_string(), slot);
        }
    }
    Ok(())
}

/// One table as `T`, checked by `check`.
fn table<T: serde::de::DeserializeOwned>(
    value: toml::Value,
    check: impl FnOnce(&T) -> Result<(), String>,
) -> Result<T, String> {
    let t: T = value
        .try_into()
        .map_err(|e: toml::de::Error| e.message().to_string())?;
    check(&t)?;
    Ok(t)
}

/// Each `(key, url)` must be an absolute http or https URL with a host.
fn check_urls(urls: &[(&str, &str)]) -> Result<(), String> {
    for (key, text) in urls {
        match url::Url::parse(text) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
            Ok(_) => {
                return Err(format!(
                    "{key} = {text:?} must be an http:// or https:// URL"
                ));
            }
            Err(e) => return Err(format!("{key} = {text:?} is not a URL ({e})")),
        }
    }
    Ok(())
}

fn check_timeout(secs: u64) -> Result<(), String> {
    if secs == 0 {
        return Err("login_timeout_secs must be at least 1".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<AuthSettings, String> {
        #[derive(Deserialize)]
        struct Wrap {
            #[serde(default)]
            auth: AuthSettings,
        }
        toml::from_str::<Wrap>(text)
            .map(|w| w.auth)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_are_the_providers_real_endpoints() {
        let s = parse("").unwrap();
        assert_eq!(s.openai.redirect_port, 1455);
        assert_eq!(s.openai.token_url, "https://auth.openai.com/oauth/token");
        assert!(s.openai.scopes.contains("offline_access"));
        assert_eq!(
            s.anthropic.redirect_uri,
            "https://console.anthropic.com/oauth/code/callback"
        );
        assert_eq!(
            s.copilot.copilot_token_url,
            "https://api.github.com/copilot_internal/v2/token"
        );
        assert_eq!(
            s.openrouter.keys_url,
            "https://openrouter.ai/api/v1/auth/keys"
        );
    }

    #[test]
    fn the_credentials_file_can_be_named() {
        let s = parse("[auth]\ncredentials_file = \"/srv/pista/creds.toml\"\n").unwrap();
        assert_eq!(
            s.store().path(),
            std::path::Path::new("/srv/pista/creds.toml")
        );
        assert_eq!(
            parse("").unwrap().store().path(),
            super::super::CredentialStore::default_path()
        );
        let e = parse("[auth]\ncredentials_file = 3\n").unwrap_err();
        assert!(e.contains("credentials_file"), "{e}");
    }

    #[test]
    fn a_table_overrides_only_its_keys() {
        let s = parse(
            "[auth.openai]\ntoken_url = \"http://127.0.0.1:9/t\"\nredirect_port = 0\n[auth.gemini]\n",
        )
        .unwrap();
        assert_eq!(s.openai.token_url, "http://127.0.0.1:9/t");
        assert_eq!(s.openai.redirect_port, 0);
        assert_eq!(
            s.openai.authorize_url,
            "https://auth.openai.com/oauth/authorize"
        );
        assert!(s.key_slots.contains_key("gemini"));
    }

    #[test]
    fn unknown_key_names_table_and_key() {
        let e = parse("[auth.anthropic]\ntoken_uri = \"https://x\"\n").unwrap_err();
        assert!(
            e.contains("[auth.anthropic]") && e.contains("token_uri"),
            "{e}"
        );
    }

    #[test]
    fn unknown_provider_is_refused_with_the_known_ones() {
        let e = parse("[auth.openia]\n").unwrap_err();
        assert!(
            e.contains("[auth.openia]") && e.contains("openai, anthropic"),
            "{e}"
        );
    }

    #[test]
    fn bad_urls_name_table_and_key() {
        let e = parse("[auth.copilot]\ndevice_code_url = \"ftp://x/y\"\n").unwrap_err();
        assert!(
            e.contains("[auth.copilot]") && e.contains("device_code_url"),
            "{e}"
        );
        let e = parse("[auth.openrouter]\nkeys_url = \"not a url\"\n").unwrap_err();
        assert!(
            e.contains("[auth.openrouter]") && e.contains("keys_url"),
            "{e}"
        );
        let e = parse("[auth.openai]\nlogin_timeout_secs = 0\n").unwrap_err();
        assert!(e.contains("login_timeout_secs"), "{e}");
    }

    #[test]
    fn key_slots_take_no_keys() {
        let e = parse("[auth.bedrock]\nregion = \"x\"\n").unwrap_err();
        assert!(e.contains("[auth.bedrock]") && e.contains("region"), "{e}");
    }
}
