//! `[channels.telegram]`: the Telegram bot. The protocol lives in the
//! `channel-telegram` component; this is what the operator sets and how it
//! becomes that component's grants, secrets and `[config]` values.

use crate::runtime::capabilities::ComponentPolicy;
use anyhow::{Context, Result, bail};
use serde::Deserialize;

/// The component that speaks the Bot API.
pub const COMPONENT: &str = "channel-telegram";
/// The secret the bot token is kept under; the component only ever writes
/// the placeholder `{{secret:telegram_bot_token}}`.
pub const TOKEN_SECRET: &str = "telegram_bot_token";
/// The secret Telegram sends back in `X-Telegram-Bot-Api-Secret-Token`.
pub const WEBHOOK_SECRET: &str = "telegram_webhook_secret";
/// Where the Bot API lives unless `api_url` says otherwise.
pub const DEFAULT_API_URL: &str = "https://api.telegram.org";

/// `[channels.telegram]` as written in the file. Environment variables
/// override it (see [`TelegramSection::resolve`]).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelegramSection {
    pub enabled: bool,
    /// The bot token from @BotFather. Prefer `TELEGRAM_BOT_TOKEN` in the
    /// environment to writing it here.
    pub token: Option<String>,
    /// Telegram user ids allowed to talk to the bot. Anyone else gets
    /// nothing, or a pairing code the owner approves.
    pub allowed_users: Vec<i64>,
    /// Public HTTPS URL Telegram posts updates to. Set: webhook mode.
    /// Unset: long polling.
    pub webhook_url: Option<String>,
    /// Port of the host's webhook listener (behind the reverse proxy that
    /// terminates TLS for `webhook_url`).
    pub webhook_port: u16,
    /// Address the webhook listener binds; loopback, for the proxy.
    pub webhook_listen: String,
    /// Value Telegram must echo in `X-Telegram-Bot-Api-Secret-Token`.
    /// Unset: a random one is made at every start.
    pub webhook_secret: Option<String>,
    /// Turn `[[label|data]]` in answers into inline buttons.
    pub confirm_actions: bool,
    /// Bot API root: a local Bot API server, or a test double.
    pub api_url: String,
    /// Offer unknown private senders a pairing code.
    pub pairing: bool,
}

impl Default for TelegramSection {
    fn default() -> Self {
        TelegramSection {
            enabled: false,
            token: None,
            allowed_users: Vec::new(),
            webhook_url: None,
            webhook_port: 8443,
            webhook_listen: "127.0.0.1".into(),
            webhook_secret: None,
            confirm_actions: false,
            api_url: DEFAULT_API_URL.into(),
            pairing: true,
        }
    }
}

/// The effective settings: the file's, with the environment's overrides.
#[derive(Debug, Clone)]
pub struct TelegramSettings {
    pub enabled: bool,
    pub token: Option<String>,
    pub allowed_users: Vec<i64>,
    pub webhook_url: Option<String>,
    pub webhook_port: u16,
    pub webhook_listen: String,
    pub webhook_secret: Option<String>,
    pub confirm_actions: bool,
    pub api_url: String,
    pub pairing: bool,
}

impl TelegramSettings {
    /// `webhook` or `polling`.
    pub fn mode(&self) -> &'static str {
        if self.webhook_url.is_some() {
            "webhook"
        } else {
            "polling"
        }
    }

    /// The webhook listener's address.
    pub fn webhook_addr(&self) -> String {
        format!("{}:{}", self.webhook_listen, self.webhook_port)
    }

    /// The `channel-telegram` policy: the API's host as its only grant,
    /// the two secrets, and the settings as `[config]` values.
    pub fn policy(&self) -> Result<ComponentPolicy> {
        let mut policy = ComponentPolicy {
            enabled: Some(self.enabled),
            ..ComponentPolicy::default()
        };
        if !self.enabled {
            return Ok(policy);
        }
        if self.token.is_none() {
            bail!(
                "[channels.telegram] is enabled but has no token: set TELEGRAM_BOT_TOKEN (or token = \"...\")"
            );
        }
        policy.hosts = Some(vec![super::url_host(
            &self.api_url,
            "[channels.telegram] api_url",
        )?]);
        let mut set = |k: &str, v: String| {
            policy.config.insert(k.into(), toml::Value::String(v));
        };
        set("api_url", self.api_url.trim_end_matches('/').to_string());
        set("mode", self.mode().into());
        if let Some(url) = &self.webhook_url {
            set("webhook_url", url.clone());
        }
        let users: Vec<String> = self.allowed_users.iter().map(i64::to_string).collect();
        set("allowed_users", users.join(","));
        set("confirm_actions", self.confirm_actions.to_string());
        set("pairing", self.pairing.to_string());
        Ok(policy)
    }
}

/// A comma-separated list of user ids; `origin` names it in errors.
pub fn parse_users(text: &str, origin: &str) -> Result<Vec<i64>> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<i64>()
                .with_context(|| format!("{origin}: {s:?} is not a Telegram user id (a number)"))
        })
        .collect()
}

impl TelegramSection {
    /// Applies `TELEGRAM_BOT_TOKEN`, `TELEGRAM_ALLOWED_USERS`
    /// (comma-separated), `TELEGRAM_WEBHOOK_URL` and `TELEGRAM_WEBHOOK_PORT`
    /// over the file's values, and checks the result.
    pub fn resolve(&self) -> Result<TelegramSettings> {
        self.resolve_with(super::env_var)
    }

    /// [`TelegramSection::resolve`] with the environment given as a
    /// function, for tests.
    pub fn resolve_with(&self, env: impl Fn(&str) -> Option<String>) -> Result<TelegramSettings> {
        let mut s = TelegramSettings {
            enabled: self.enabled,
            token: self.token.clone().filter(|t| !t.is_empty()),
            allowed_users: self.allowed_users.clone(),
            webhook_url: self.webhook_url.clone().filter(|u| !u.is_empty()),
            webhook_port: self.webhook_port,
            webhook_listen: self.webhook_listen.clone(),
            webhook_secret: self.webhook_secret.clone().filter(|u| !u.is_empty()),
            confirm_actions: self.confirm_actions,
            api_url: self.api_url.clone(),
            pairing: self.pairing,
        };
        if let Some(t) = env("TELEGRAM_BOT_TOKEN") {
            s.token = Some(t.trim().to_string());
        }
        if let Some(u) = env("TELEGRAM_ALLOWED_USERS") {
            s.allowed_users = parse_users(&u, "TELEGRAM_ALLOWED_USERS")?;
        }
        if let Some(u) = env("TELEGRAM_WEBHOOK_URL") {
            s.webhook_url = Some(u.trim().to_string());
        }
        if let Some(p) = env("TELEGRAM_WEBHOOK_PORT") {
            s.webhook_port = p
                .trim()
                .parse()
                .with_context(|| format!("TELEGRAM_WEBHOOK_PORT = {p:?} is not a port number"))?;
        }
        if !s.api_url.starts_with("https://") && !s.api_url.starts_with("http://") {
            bail!(
                "[channels.telegram] api_url = {:?} must start with https:// (or http:// for a local Bot API server)",
                s.api_url
            );
        }
        if let Some(url) = &s.webhook_url
            && !url.starts_with("https://")
        {
            bail!(
                "[channels.telegram] webhook_url = {url:?}: Telegram only posts to https:// URLs"
            );
        }
        if let Some(secret) = &s.webhook_secret
            && (secret.len() > 256
                || !secret
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'))
        {
            bail!(
                "[channels.telegram] webhook_secret: 1 to 256 characters of A-Z, a-z, 0-9, _ and - (Telegram's rule)"
            );
        }
        format!("{}:{}", s.webhook_listen, s.webhook_port)
            .parse::<std::net::SocketAddr>()
            .with_context(|| {
                format!(
                    "[channels.telegram] webhook_listen = {:?} with port {} is not an address",
                    s.webhook_listen, s.webhook_port
                )
            })?;
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(text: &str) -> TelegramSection {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn defaults_poll_the_public_api_and_stay_off() {
        let s = section("").resolve_with(|_| None).unwrap();
        assert!(!s.enabled);
        assert_eq!(s.mode(), "polling");
        assert_eq!(s.webhook_addr(), "127.0.0.1:8443");
        assert_eq!(s.api_url, DEFAULT_API_URL);
        assert!(s.pairing && !s.confirm_actions);
        assert_eq!(s.policy().unwrap().enabled, Some(false));
    }

    #[test]
    fn the_environment_overrides_the_file() {
        let file =
            section("enabled = true\ntoken = \"file\"\nallowed_users = [1]\nwebhook_port = 9000\n");
        let vars = |k: &str| match k {
            "TELEGRAM_BOT_TOKEN" => Some("123:env".to_string()),
            "TELEGRAM_ALLOWED_USERS" => Some(" 42, -7 ,".to_string()),
            "TELEGRAM_WEBHOOK_URL" => Some("https://bot.example.com/telegram/webhook".to_string()),
            "TELEGRAM_WEBHOOK_PORT" => Some("8444".to_string()),
            _ => None,
        };
        let s = file.resolve_with(vars).unwrap();
        assert_eq!(s.token.as_deref(), Some("123:env"));
        assert_eq!(s.allowed_users, vec![42, -7]);
        assert_eq!(s.mode(), "webhook");
        assert_eq!(s.webhook_port, 8444);
        let p = s.policy().unwrap();
        assert_eq!(p.hosts, Some(vec!["api.telegram.org".to_string()]));
        assert_eq!(p.config["allowed_users"].as_str(), Some("42,-7"));
        assert_eq!(p.config["mode"].as_str(), Some("webhook"));
    }

    #[test]
    fn bad_values_say_which_and_why() {
        let err = |text: &str, vars: &dyn Fn(&str) -> Option<String>| {
            format!("{:#}", section(text).resolve_with(vars).unwrap_err())
        };
        let none = |_: &str| None;
        let e = err("", &|k: &str| {
            (k == "TELEGRAM_ALLOWED_USERS").then(|| "12,bob".to_string())
        });
        assert!(
            e.contains("TELEGRAM_ALLOWED_USERS") && e.contains("\"bob\""),
            "{e}"
        );
        let e = err("", &|k: &str| {
            (k == "TELEGRAM_WEBHOOK_PORT").then(|| "x".to_string())
        });
        assert!(e.contains("TELEGRAM_WEBHOOK_PORT"), "{e}");
        let e = err("webhook_url = \"http://plain.example\"", &none);
        assert!(e.contains("https://"), "{e}");
        let e = err("webhook_secret = \"has space\"", &none);
        assert!(e.contains("webhook_secret"), "{e}");
        let e = err("api_url = \"ftp://x\"", &none);
        assert!(e.contains("api_url"), "{e}");
        assert!(
            toml::from_str::<TelegramSection>("tokn = \"x\"").is_err(),
            "unknown keys are refused"
        );
    }

    #[test]
    fn a_local_api_url_is_granted_by_its_literal_address() {
        let s = section("enabled = true\ntoken = \"1:a\"\napi_url = \"http://127.0.0.1:8081/\"")
            .resolve_with(|_| None)
            .unwrap();
        let p = s.policy().unwrap();
        assert_eq!(p.hosts, Some(vec!["127.0.0.1:8081".to_string()]));
        assert_eq!(p.config["api_url"].as_str(), Some("http://127.0.0.1:8081"));
    }
}
