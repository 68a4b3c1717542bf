//! The channel's configuration, read from `host::config` strings.
//!
//! Every value is a string (the host stringifies the operator's
//! `[channels.discord]` table); this module turns them into typed
//! [`Settings`] and names the key that cannot be read. It takes the lookup
//! as a function so that it is tested natively.

use openpista_sdk::Error;
use openpista_sdk::settings::ConfigValues;

/// Discord's REST API unless `api_url` says otherwise.
pub const DEFAULT_API_URL: &str = "https://discord.com/api/v10";
/// Largest attachment downloaded by default (8 MiB).
pub const DEFAULT_MAX_ATTACHMENT_BYTES: u64 = 8 * 1024 * 1024;

/// Gateway intent `GUILDS`.
pub const GUILDS: u64 = 1 << 0;
/// Gateway intent `GUILD_MESSAGES`.
pub const GUILD_MESSAGES: u64 = 1 << 9;
/// Gateway intent `GUILD_MESSAGE_REACTIONS` (not asked for by default).
pub const GUILD_MESSAGE_REACTIONS: u64 = 1 << 10;
/// Gateway intent `DIRECT_MESSAGES`.
pub const DIRECT_MESSAGES: u64 = 1 << 12;
/// Gateway intent `MESSAGE_CONTENT` (privileged: enable it in the
/// developer portal, or guild messages arrive without their text).
pub const MESSAGE_CONTENT: u64 = 1 << 15;
/// The intents asked for unless `intents` says otherwise.
pub const DEFAULT_INTENTS: u64 = GUILDS | GUILD_MESSAGES | DIRECT_MESSAGES | MESSAGE_CONTENT;

/// The typed configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// REST root without a trailing slash.
    pub api_url: String,
    /// User ids (snowflakes, as text) always let through.
    pub allowed_users: Vec<String>,
    /// Whether unknown senders of direct messages get a pairing code.
    pub pairing: bool,
    /// Attachments larger than this are described, not downloaded.
    pub max_attachment_bytes: u64,
    /// The Gateway intents of Identify.
    pub intents: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            api_url: DEFAULT_API_URL.to_string(),
            allowed_users: Vec::new(),
            pairing: true,
            max_attachment_bytes: DEFAULT_MAX_ATTACHMENT_BYTES,
            intents: DEFAULT_INTENTS,
        }
    }
}

impl Settings {
    /// Reads every key through `get` (`host::config` in the component); a
    /// missing or blank key keeps its default. A value that cannot be read
    /// is an [`Error::Unavailable`] naming the key and what it takes.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Settings, Error> {
        let values = ConfigValues::new("discord", get);
        let mut s = Settings::default();
        if let Some(url) = values.url("api_url") {
            s.api_url = url;
        }
        for user in values.items("allowed_users") {
            if user.is_empty() || !user.bytes().all(|b| b.is_ascii_digit()) {
                return Err(values.bad("allowed_users", &user, "a Discord user id (digits)"));
            }
            s.allowed_users.push(user);
        }
        if let Some(v) = values.flag("pairing")? {
            s.pairing = v;
        }
        if let Some(v) = values.number("max_attachment_bytes", "a whole number of bytes")? {
            s.max_attachment_bytes = v;
        }
        if let Some(v) = values.number("intents", "a whole number (a bit set of intents)")? {
            s.intents = v;
        }
        Ok(s)
    }

    /// Whether `user_id` is in `allowed_users`.
    pub fn is_allowed(&self, user_id: &str) -> bool {
        self.allowed_users.iter().any(|u| u == user_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(pairs: &[(&str, &str)]) -> Result<Settings, Error> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|k| {
            pairs
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn defaults_when_nothing_is_set() {
        let s = read(&[]).unwrap();
        assert_eq!(s, Settings::default());
        assert_eq!(s.api_url, "https://discord.com/api/v10");
        assert_eq!(s.intents, 37377);
        assert_eq!(s.max_attachment_bytes, 8_388_608);
        assert!(s.pairing);
    }

    #[test]
    fn every_key_is_read() {
        let s = read(&[
            ("api_url", "http://127.0.0.1:9/api/v10/"),
            ("allowed_users", "123, 456,789"),
            ("pairing", "false"),
            ("max_attachment_bytes", "1000"),
            ("intents", "513"),
        ])
        .unwrap();
        assert_eq!(s.api_url, "http://127.0.0.1:9/api/v10");
        assert_eq!(s.allowed_users, vec!["123", "456", "789"]);
        assert!(s.is_allowed("456") && !s.is_allowed("45"));
        assert!(!s.pairing);
        assert_eq!((s.max_attachment_bytes, s.intents), (1000, 513));
    }

    #[test]
    fn bad_values_name_their_key() {
        for (key, value) in [
            ("pairing", "maybe"),
            ("allowed_users", "123,@ann"),
            ("max_attachment_bytes", "8MB"),
            ("intents", "-1"),
        ] {
            let e = read(&[(key, value)]).unwrap_err();
            assert!(e.message().contains(&format!("`{key}`")), "{e}");
        }
    }
}
