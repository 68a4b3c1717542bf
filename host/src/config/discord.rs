//! `[channels.discord]`: the Discord bot. The Gateway and REST protocols
//! live in the `channel-discord` component; this is what the operator sets
//! and how it becomes that component's grants, secret and `[config]`
//! values.

use crate::runtime::capabilities::ComponentPolicy;
use anyhow::{Result, bail};
use serde::Deserialize;

/// The component that speaks Discord's Gateway and REST API.
pub const COMPONENT: &str = "channel-discord";
/// The secret the bot token is kept under; the component only ever writes
/// the placeholder `{{secret:discord_bot_token}}` (in the `Authorization`
/// header and the Gateway's Identify frame).
pub const TOKEN_SECRET: &str = "discord_bot_token";
/// Where the REST API lives unless `api_url` says otherwise.
pub const DEFAULT_API_URL: &str = "https://discord.com/api/v10";
/// What the public API needs: REST, the Gateway (whose address
/// `/gateway/bot` names, and whose resume address READY names), and the
/// CDN that serves attachments.
pub const DEFAULT_HOSTS: &[&str] = &[
    "discord.com",
    "gateway.discord.gg",
    "*.discord.gg",
    "cdn.discordapp.com",
    "media.discordapp.net",
];

/// `[channels.discord]` as written in the file. Environment variables
/// override it (see [`DiscordSection::resolve`]).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DiscordSection {
    pub enabled: bool,
    /// The bot token from the Developer Portal. Prefer `DISCORD_BOT_TOKEN`
    /// in the environment to writing it here.
    pub token: Option<String>,
    /// Discord user ids (snowflakes) allowed to talk to the bot. Anyone
    /// else gets nothing, or in a direct message a pairing code.
    pub allowed_users: Vec<String>,
    /// REST root: a test double, or a proxy. Its host becomes the only
    /// grant, with `hosts`.
    pub api_url: String,
    /// Hosts granted besides `api_url`'s when it is not the public API
    /// (where a proxy's Gateway and files live).
    pub hosts: Vec<String>,
    /// Offer unknown direct-message senders a pairing code.
    pub pairing: bool,
    /// Attachments larger than this are described, not downloaded.
    pub max_attachment_bytes: u64,
}

impl Default for DiscordSection {
    fn default() -> Self {
        DiscordSection {
            enabled: false,
            token: None,
            allowed_users: Vec::new(),
            api_url: DEFAULT_API_URL.into(),
            hosts: Vec::new(),
            pairing: true,
            max_attachment_bytes: 8 * 1024 * 1024,
        }
    }
}

/// The effective settings: the file's, with the environment's overrides.
#[derive(Debug, Clone)]
pub struct DiscordSettings {
    pub enabled: bool,
    pub token: Option<String>,
    pub allowed_users: Vec<String>,
    pub api_url: String,
    pub hosts: Vec<String>,
    pub pairing: bool,
    pub max_attachment_bytes: u64,
}

impl DiscordSettings {
    /// The `channel-discord` policy: the API's hosts, the token's secret,
    /// and the settings as `[config]` values.
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
                "[channels.discord] is enabled but has no token: set DISCORD_BOT_TOKEN (or token = \"...\")"
            );
        }
        if self.api_url.trim_end_matches('/') != DEFAULT_API_URL {
            let mut hosts = vec![super::url_host(
                &self.api_url,
                "[channels.discord] api_url",
            )?];
            hosts.extend(self.hosts.iter().cloned());
            policy.hosts = Some(hosts);
        }
        let mut set = |k: &str, v: String| {
            policy.config.insert(k.into(), toml::Value::String(v));
        };
        set("api_url", self.api_url.trim_end_matches('/').to_string());
        set("allowed_users", self.allowed_users.join(","));
        set("pairing", self.pairing.to_string());
        set(
            "max_attachment_bytes",
            self.max_attachment_bytes.to_string(),
        );
        Ok(policy)
    }
}

/// A comma-separated list of Discord user ids; `origin` names it in errors.
pub fn parse_users(text: &str, origin: &str) -> Result<Vec<String>> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| check_user(s, origin).map(|()| s.to_string()))
        .collect()
}

/// A snowflake: a decimal number of up to 20 digits.
fn check_user(id: &str, origin: &str) -> Result<()> {
    if id.is_empty() || id.len() > 20 || !id.bytes().all(|b| b.is_ascii_digit()) {
        bail!(
            "{origin}: {id:?} is not a Discord user id (a number, Developer Mode → Copy User ID)"
        );
    }
    Ok(())
}

impl DiscordSection {
    /// Applies `DISCORD_BOT_TOKEN` and `DISCORD_ALLOWED_USERS`
    /// (comma-separated) over the file's values, and checks the result.
    pub fn resolve(&self) -> Result<DiscordSettings> {
        self.resolve_with(super::env_var)
    }

    /// [`DiscordSection::resolve`] with the environment given as a
    /// function, for tests.
    pub fn resolve_with(&self, env: impl Fn(&str) -> Option<String>) -> Result<DiscordSettings> {
        let mut s = DiscordSettings {
            enabled: self.enabled,
            token: self.token.clone().filter(|t| !t.is_empty()),
            allowed_users: self.allowed_users.clone(),
            api_url: self.api_url.clone(),
            hosts: self.hosts.clone(),
            pairing: self.pairing,
            max_attachment_bytes: self.max_attachment_bytes,
        };
        if let Some(t) = env("DISCORD_BOT_TOKEN") {
            s.token = Some(t.trim().to_string());
        }
        if let Some(u) = env("DISCORD_ALLOWED_USERS") {
            s.allowed_users = parse_users(&u, "DISCORD_ALLOWED_USERS")?;
        }
        for user in &s.allowed_users {
            check_user(user, "[channels.discord] allowed_users")?;
        }
        if !s.api_url.starts_with("https://") && !s.api_url.starts_with("http://") {
            bail!(
                "[channels.discord] api_url = {:?} must start with https:// (or http:// for a local double)",
                s.api_url
            );
        }
        for host in &s.hosts {
            crate::runtime::net::HostPattern::parse(host)
                .map_err(|e| anyhow::anyhow!("[channels.discord] hosts entry {host:?}: {e}"))?;
        }
        if s.max_attachment_bytes == 0 {
            bail!("[channels.discord] max_attachment_bytes must be at least 1");
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(text: &str) -> DiscordSection {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn defaults_stay_off_and_grant_the_public_hosts() {
        let s = section("").resolve_with(|_| None).unwrap();
        assert!(!s.enabled);
        assert_eq!(s.policy().unwrap().enabled, Some(false));
        let s = section("enabled = true\ntoken = \"abc\"")
            .resolve_with(|_| None)
            .unwrap();
        let p = s.policy().unwrap();
        // The manifest's own hosts: the public API's.
        assert_eq!(p.hosts, None);
        assert_eq!(p.config["api_url"].as_str(), Some(DEFAULT_API_URL));
        assert_eq!(p.config["pairing"].as_str(), Some("true"));
    }

    #[test]
    fn the_environment_overrides_and_is_checked() {
        let env = |k: &str| match k {
            "DISCORD_BOT_TOKEN" => Some(" tok ".to_string()),
            "DISCORD_ALLOWED_USERS" => Some("80351110224678912, 1".to_string()),
            _ => None,
        };
        let s = section("enabled = true").resolve_with(env).unwrap();
        assert_eq!(s.token.as_deref(), Some("tok"));
        assert_eq!(s.allowed_users, ["80351110224678912", "1"]);
        let p = s.policy().unwrap();
        assert_eq!(
            p.config["allowed_users"].as_str(),
            Some("80351110224678912,1")
        );

        let bad = |k: &str| (k == "DISCORD_ALLOWED_USERS").then(|| "12,@me".to_string());
        let e = section("").resolve_with(bad).unwrap_err().to_string();
        assert!(e.contains("\"@me\" is not a Discord user id"), "{e}");
    }

    #[test]
    fn a_local_api_is_the_only_grant_with_the_listed_hosts() {
        let s = section(
            "enabled = true\ntoken = \"t\"\napi_url = \"http://127.0.0.1:4000/api/v10/\"\nhosts = [\"127.0.0.1:4001\"]",
        )
        .resolve_with(|_| None)
        .unwrap();
        let p = s.policy().unwrap();
        assert_eq!(
            p.hosts,
            Some(vec!["127.0.0.1:4000".to_string(), "127.0.0.1:4001".into()])
        );
        assert_eq!(
            p.config["api_url"].as_str(),
            Some("http://127.0.0.1:4000/api/v10")
        );
    }

    #[test]
    fn mistakes_are_named() {
        let e = section("enabled = true")
            .resolve_with(|_| None)
            .unwrap()
            .policy();
        assert!(e.unwrap_err().to_string().contains("DISCORD_BOT_TOKEN"));
        let e = section("api_url = \"discord.com\"")
            .resolve_with(|_| None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("must start with https://"), "{e}");
        let e = section("allowed_users = [\"x1\"]")
            .resolve_with(|_| None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("allowed_users"), "{e}");
        assert!(toml::from_str::<DiscordSection>("tokn = \"x\"").is_err());
    }
}
