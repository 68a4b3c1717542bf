//! `[channels.slack]`: the Slack app. The Events API, Socket Mode and Web
//! API live in the `channel-slack` component; this is what the operator
//! sets and how it becomes that component's grants, secrets and `[config]`
//! values.

use crate::runtime::capabilities::ComponentPolicy;
use anyhow::{Result, bail};
use serde::Deserialize;

/// The component that speaks Slack's protocols.
pub const COMPONENT: &str = "channel-slack";
/// The bot token (`xoxb-…`), for the Web API and file downloads.
pub const BOT_TOKEN_SECRET: &str = "slack_bot_token";
/// The app-level token (`xapp-…`), for opening Socket Mode connections.
pub const APP_TOKEN_SECRET: &str = "slack_app_token";
/// The signing secret the Events API's requests are signed with; only
/// the host computes with it (`host.secret-hmac-matches`).
pub const SIGNING_SECRET: &str = "slack_signing_secret";
/// Where the Web API lives unless `api_url` says otherwise.
pub const DEFAULT_API_URL: &str = "https://slack.com/api";

/// `[channels.slack]` as written in the file. Environment variables
/// override it (see [`SlackSection::resolve`]).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlackSection {
    pub enabled: bool,
    /// The bot token; prefer `SLACK_BOT_TOKEN`.
    pub bot_token: Option<String>,
    /// The app-level token with `connections:write`, for Socket Mode;
    /// prefer `SLACK_APP_TOKEN`.
    pub app_token: Option<String>,
    /// The app's signing secret, for the Events API; prefer
    /// `SLACK_SIGNING_SECRET`.
    pub signing_secret: Option<String>,
    /// `events` (Slack posts to `/slack/events` on a public URL) or
    /// `socket` (the channel connects out; no public URL). Unset: `socket`
    /// when an app token is given, else `events`.
    pub mode: Option<String>,
    /// Slack user ids (`U012AB3CD`) allowed to talk to the bot.
    pub allowed_users: Vec<String>,
    /// Offer unknown direct-message senders a pairing code.
    pub pairing: bool,
    /// Files larger than this are described, not downloaded.
    pub max_file_bytes: u64,
    /// Web API root: a test double, or a proxy. Its host becomes the only
    /// grant, with `hosts`.
    pub api_url: String,
    /// Hosts granted besides `api_url`'s when it is not the public API
    /// (the Socket Mode and file hosts of a proxy or double).
    pub hosts: Vec<String>,
}

impl Default for SlackSection {
    fn default() -> Self {
        SlackSection {
            enabled: false,
            bot_token: None,
            app_token: None,
            signing_secret: None,
            mode: None,
            allowed_users: Vec::new(),
            pairing: true,
            max_file_bytes: 8 * 1024 * 1024,
            api_url: DEFAULT_API_URL.into(),
            hosts: Vec::new(),
        }
    }
}

/// How Slack's events reach the channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlackMode {
    /// Slack posts signed requests to the channel's `events` route.
    Events,
    /// The channel holds a Socket Mode WebSocket.
    Socket,
}

impl SlackMode {
    pub fn as_str(self) -> &'static str {
        match self {
            SlackMode::Events => "events",
            SlackMode::Socket => "socket",
        }
    }
}

/// The effective settings: the file's, with the environment's overrides.
#[derive(Debug, Clone)]
pub struct SlackSettings {
    pub enabled: bool,
    pub bot_token: Option<String>,
    pub app_token: Option<String>,
    pub signing_secret: Option<String>,
    pub mode: SlackMode,
    pub allowed_users: Vec<String>,
    pub pairing: bool,
    pub max_file_bytes: u64,
    pub api_url: String,
    pub hosts: Vec<String>,
}

impl SlackSettings {
    /// The `channel-slack` policy: the API's hosts, the secrets the mode
    /// needs, and the settings as `[config]` values.
    pub fn policy(&self) -> Result<ComponentPolicy> {
        let mut policy = ComponentPolicy {
            enabled: Some(self.enabled),
            ..ComponentPolicy::default()
        };
        if !self.enabled {
            return Ok(policy);
        }
        if self.bot_token.is_none() {
            bail!(
                "[channels.slack] is enabled but has no bot token: set SLACK_BOT_TOKEN (or bot_token = \"xoxb-...\")"
            );
        }
        match self.mode {
            SlackMode::Socket if self.app_token.is_none() => bail!(
                "[channels.slack] mode = \"socket\" needs an app-level token: set SLACK_APP_TOKEN (or app_token = \"xapp-...\")"
            ),
            SlackMode::Events if self.signing_secret.is_none() => bail!(
                "[channels.slack] mode = \"events\" needs the signing secret: set SLACK_SIGNING_SECRET (or signing_secret = \"...\"), or use Socket Mode with SLACK_APP_TOKEN"
            ),
            _ => {}
        }
        if self.api_url.trim_end_matches('/') != DEFAULT_API_URL {
            let mut hosts = vec![super::url_host(&self.api_url, "[channels.slack] api_url")?];
            hosts.extend(self.hosts.iter().cloned());
            policy.hosts = Some(hosts);
        }
        let mut set = |k: &str, v: String| {
            policy.config.insert(k.into(), toml::Value::String(v));
        };
        set("api_url", self.api_url.trim_end_matches('/').to_string());
        set("mode", self.mode.as_str().into());
        set("allowed_users", self.allowed_users.join(","));
        set("pairing", self.pairing.to_string());
        set("max_file_bytes", self.max_file_bytes.to_string());
        Ok(policy)
    }

    /// The secrets to hold, by name: only those set.
    pub fn secrets(&self) -> Vec<(&'static str, String)> {
        [
            (BOT_TOKEN_SECRET, &self.bot_token),
            (APP_TOKEN_SECRET, &self.app_token),
            (SIGNING_SECRET, &self.signing_secret),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.clone().map(|v| (name, v)))
        .collect()
    }
}

/// A Slack user id: `U` or `W` and then letters and digits.
fn check_user(id: &str, origin: &str) -> Result<()> {
    let ok = id.len() >= 2
        && id.len() <= 32
        && (id.starts_with('U') || id.starts_with('W'))
        && id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    if !ok {
        bail!(
            "{origin}: {id:?} is not a Slack user id (like U012AB3CD: profile → ⋮ → Copy member ID)"
        );
    }
    Ok(())
}

impl SlackSection {
    /// Applies `SLACK_BOT_TOKEN`, `SLACK_APP_TOKEN`, `SLACK_SIGNING_SECRET`
    /// and `SLACK_ALLOWED_USERS` (comma-separated) over the file's values,
    /// and checks the result.
    pub fn resolve(&self) -> Result<SlackSettings> {
        self.resolve_with(super::env_var)
    }

    /// [`SlackSection::resolve`] with the environment given as a function,
    /// for tests.
    pub fn resolve_with(&self, env: impl Fn(&str) -> Option<String>) -> Result<SlackSettings> {
        let set = |v: &Option<String>| v.clone().filter(|t| !t.is_empty());
        let bot_token = env("SLACK_BOT_TOKEN").or_else(|| set(&self.bot_token));
        let app_token = env("SLACK_APP_TOKEN").or_else(|| set(&self.app_token));
        let signing_secret = env("SLACK_SIGNING_SECRET").or_else(|| set(&self.signing_secret));
        let mode = match self.mode.as_deref() {
            None if app_token.is_some() => SlackMode::Socket,
            None => SlackMode::Events,
            Some("socket") => SlackMode::Socket,
            Some("events") => SlackMode::Events,
            Some(other) => bail!(
                "[channels.slack] mode = {other:?}: use \"events\" (a public URL) or \"socket\" (Socket Mode)"
            ),
        };
        let allowed_users = match env("SLACK_ALLOWED_USERS") {
            Some(list) => list
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            None => self.allowed_users.clone(),
        };
        for user in &allowed_users {
            check_user(user, "[channels.slack] allowed_users")?;
        }
        if !self.api_url.starts_with("https://") && !self.api_url.starts_with("http://") {
            bail!(
                "[channels.slack] api_url = {:?} must start with https:// (or http:// for a local double)",
                self.api_url
            );
        }
        for host in &self.hosts {
            crate::runtime::net::HostPattern::parse(host)
                .map_err(|e| anyhow::anyhow!("[channels.slack] hosts entry {host:?}: {e}"))?;
        }
        if self.max_file_bytes == 0 {
            bail!("[channels.slack] max_file_bytes must be at least 1");
        }
        Ok(SlackSettings {
            enabled: self.enabled,
            bot_token: bot_token.map(|t| t.trim().to_string()),
            app_token: app_token.map(|t| t.trim().to_string()),
            signing_secret: signing_secret.map(|t| t.trim().to_string()),
            mode,
            allowed_users,
            pairing: self.pairing,
            max_file_bytes: self.max_file_bytes,
            api_url: self.api_url.clone(),
            hosts: self.hosts.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(text: &str) -> SlackSection {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn the_mode_follows_the_tokens_given() {
        let s = section("enabled = true\nbot_token = \"xoxb-1\"\nsigning_secret = \"s\"")
            .resolve_with(|_| None)
            .unwrap();
        assert_eq!(s.mode, SlackMode::Events);
        let p = s.policy().unwrap();
        assert_eq!(p.config["mode"].as_str(), Some("events"));
        assert_eq!(p.hosts, None);
        let env = |k: &str| (k == "SLACK_APP_TOKEN").then(|| "xapp-1".to_string());
        let s = section("enabled = true\nbot_token = \"xoxb-1\"")
            .resolve_with(env)
            .unwrap();
        assert_eq!(s.mode, SlackMode::Socket);
        assert_eq!(
            s.secrets(),
            [
                (BOT_TOKEN_SECRET, "xoxb-1".to_string()),
                (APP_TOKEN_SECRET, "xapp-1".to_string())
            ]
        );
    }

    #[test]
    fn a_mode_without_its_token_is_named() {
        let e = section("enabled = true\nbot_token = \"x\"\nmode = \"socket\"")
            .resolve_with(|_| None)
            .unwrap()
            .policy()
            .unwrap_err()
            .to_string();
        assert!(e.contains("SLACK_APP_TOKEN"), "{e}");
        let e = section("enabled = true\nbot_token = \"x\"")
            .resolve_with(|_| None)
            .unwrap()
            .policy()
            .unwrap_err()
            .to_string();
        assert!(e.contains("SLACK_SIGNING_SECRET"), "{e}");
        let e = section("enabled = true")
            .resolve_with(|_| None)
            .unwrap()
            .policy()
            .unwrap_err()
            .to_string();
        assert!(e.contains("SLACK_BOT_TOKEN"), "{e}");
        let e = section("mode = \"webhook\"")
            .resolve_with(|_| None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"events\""), "{e}");
    }

    #[test]
    fn users_and_a_local_api_are_checked() {
        let env = |k: &str| (k == "SLACK_ALLOWED_USERS").then(|| "U012AB3CD, W1".to_string());
        let s = section(
            "enabled = true\nbot_token = \"x\"\nsigning_secret = \"s\"\napi_url = \"http://127.0.0.1:5000/api\"\nhosts = [\"127.0.0.1:5001\"]",
        )
        .resolve_with(env)
        .unwrap();
        assert_eq!(s.allowed_users, ["U012AB3CD", "W1"]);
        let p = s.policy().unwrap();
        assert_eq!(
            p.hosts,
            Some(vec!["127.0.0.1:5000".to_string(), "127.0.0.1:5001".into()])
        );
        assert_eq!(p.config["allowed_users"].as_str(), Some("U012AB3CD,W1"));
        let e = section("allowed_users = [\"alice\"]")
            .resolve_with(|_| None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"alice\" is not a Slack user id"), "{e}");
        assert!(toml::from_str::<SlackSection>("token = \"x\"").is_err());
    }
}
