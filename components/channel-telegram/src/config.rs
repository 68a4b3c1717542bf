//! The channel's configuration, read from `host::config` strings.
//!
//! Every value is a string (the host stringifies the operator's
//! `[channels.telegram]` table); this module turns them into typed
//! [`Settings`] and says which key is wrong when one cannot be read. It
//! takes the lookup as a function so that it is tested natively.

use openpista_sdk::Error;
use openpista_sdk::settings::ConfigValues;

/// Where Telegram's Bot API lives unless `api_url` says otherwise.
pub const DEFAULT_API_URL: &str = "https://api.telegram.org";
/// Seconds a `getUpdates` long poll waits for updates by default.
pub const DEFAULT_POLL_TIMEOUT_SECS: u32 = 25;
/// Largest file downloaded into an attachment by default (5 MiB).
pub const DEFAULT_MAX_FILE_BYTES: u64 = 5 * 1024 * 1024;

/// How updates reach the channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The host calls `poll`, which long-polls `getUpdates`.
    Polling,
    /// Telegram posts updates to `/telegram/webhook`.
    Webhook,
}

/// The typed configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// Bot API root without a trailing slash.
    pub api_url: String,
    /// Polling or webhook.
    pub mode: Mode,
    /// The public URL Telegram posts to, when set and not empty.
    pub webhook_url: Option<String>,
    /// User ids always let through.
    pub allowed_users: Vec<i64>,
    /// Whether `[[label|data]]` markers become inline buttons.
    pub confirm_actions: bool,
    /// Whether unknown private users get a pairing code.
    pub pairing: bool,
    /// Seconds one `getUpdates` call waits.
    pub poll_timeout_secs: u32,
    /// Files this size or larger are described, not downloaded.
    pub max_file_bytes: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            api_url: DEFAULT_API_URL.to_string(),
            mode: Mode::Polling,
            webhook_url: None,
            allowed_users: Vec::new(),
            confirm_actions: false,
            pairing: true,
            poll_timeout_secs: DEFAULT_POLL_TIMEOUT_SECS,
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
        }
    }
}

impl Settings {
    /// Reads every key through `get` (`host::config` in the component); a
    /// missing or blank key keeps its default. A value that cannot be
    /// read is an [`Error::Unavailable`] naming the key and what it takes.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Settings, Error> {
        let values = ConfigValues::new("telegram", get);
        let mut s = Settings::default();
        if let Some(url) = values.url("api_url") {
            s.api_url = url;
        }
        if let Some(mode) = values.text("mode") {
            s.mode = match mode.to_ascii_lowercase().as_str() {
                "polling" => Mode::Polling,
                "webhook" => Mode::Webhook,
                _ => return Err(values.bad("mode", &mode, "`polling` or `webhook`")),
            };
        }
        s.webhook_url = values.text("webhook_url");
        for item in values.items("allowed_users") {
            s.allowed_users.push(item.parse::<i64>().map_err(|_| {
                values.bad(
                    "allowed_users",
                    &item,
                    "a numeric Telegram user id (write the ids separated by commas)",
                )
            })?);
        }
        if let Some(v) = values.flag("confirm_actions")? {
            s.confirm_actions = v;
        }
        if let Some(v) = values.flag("pairing")? {
            s.pairing = v;
        }
        if let Some(v) = values.number("poll_timeout_secs", "a whole number of seconds")? {
            s.poll_timeout_secs = v;
        }
        if let Some(v) = values.number("max_file_bytes", "a whole number of bytes")? {
            s.max_file_bytes = v;
        }
        Ok(s)
    }

    /// The webhook URL, required in webhook mode: an
    /// [`Error::Unavailable`] saying what to set when it is missing.
    pub fn require_webhook_url(&self) -> Result<&str, Error> {
        self.webhook_url.as_deref().ok_or_else(|| {
            Error::unavailable(
                "telegram: mode is `webhook` but `webhook_url` is not set; set it in \
                 [channels.telegram] to the public https URL that reaches \
                 /telegram/webhook, or use mode = \"polling\"",
            )
        })
    }

    /// Whether `user_id` is in `allowed_users`.
    pub fn is_allowed(&self, user_id: i64) -> bool {
        self.allowed_users.contains(&user_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(pairs: &[(&str, &str)]) -> Result<Settings, Error> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|key| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()))
    }

    #[test]
    fn defaults_when_nothing_is_set() {
        let s = lookup(&[]).unwrap();
        assert_eq!(s, Settings::default());
        assert_eq!(s.api_url, "https://api.telegram.org");
        assert_eq!(s.mode, Mode::Polling);
        assert!(s.pairing && !s.confirm_actions);
        assert_eq!((s.poll_timeout_secs, s.max_file_bytes), (25, 5_242_880));
    }

    #[test]
    fn reads_every_key() {
        let s = lookup(&[
            ("api_url", "http://127.0.0.1:8081/"),
            ("mode", "Webhook"),
            ("webhook_url", "https://bot.example/telegram/webhook"),
            ("allowed_users", " 42, -7 ,,9000000000"),
            ("confirm_actions", "true"),
            ("pairing", "FALSE"),
            ("poll_timeout_secs", "3"),
            ("max_file_bytes", "100"),
        ])
        .unwrap();
        assert_eq!(s.api_url, "http://127.0.0.1:8081");
        assert_eq!(s.mode, Mode::Webhook);
        assert_eq!(
            s.require_webhook_url().unwrap(),
            "https://bot.example/telegram/webhook"
        );
        assert_eq!(s.allowed_users, vec![42, -7, 9_000_000_000]);
        assert!(s.is_allowed(-7) && !s.is_allowed(43));
        assert!(s.confirm_actions && !s.pairing);
        assert_eq!((s.poll_timeout_secs, s.max_file_bytes), (3, 100));
    }

    #[test]
    fn blank_values_keep_defaults() {
        let s = lookup(&[("webhook_url", "  "), ("allowed_users", ""), ("mode", "")]).unwrap();
        assert_eq!(s.webhook_url, None);
        assert!(s.allowed_users.is_empty());
        assert_eq!(s.mode, Mode::Polling);
    }

    #[test]
    fn webhook_mode_needs_a_url() {
        let s = lookup(&[("mode", "webhook")]).unwrap();
        let e = s.require_webhook_url().unwrap_err();
        assert_eq!(e.kind(), "unavailable");
        assert!(e.message().contains("webhook_url"), "{e}");
    }

    #[test]
    fn bad_values_name_the_key() {
        for (key, value) in [
            ("mode", "push"),
            ("allowed_users", "42,bob"),
            ("confirm_actions", "yes"),
            ("pairing", "1"),
            ("poll_timeout_secs", "-1"),
            ("max_file_bytes", "5MB"),
        ] {
            let e = lookup(&[(key, value)]).unwrap_err();
            assert_eq!(e.kind(), "unavailable", "{key}");
            assert!(e.message().contains(&format!("`{key}`")), "{e}");
        }
    }
}
