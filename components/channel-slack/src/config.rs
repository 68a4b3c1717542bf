//! The channel's configuration, read from `host::config` strings.
//!
//! Every value is a string (the host stringifies the operator's
//! `[channels.slack]` table); this module turns them into typed
//! [`Settings`] and names the key that cannot be read. It takes the lookup
//! as a function so that it is tested natively.

use openpista_sdk::Error;
use openpista_sdk::settings::ConfigValues;

/// Slack's Web API unless `api_url` says otherwise.
pub const DEFAULT_API_URL: &str = "https://slack.com/api";
/// Largest file downloaded by default (8 MiB).
pub const DEFAULT_MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;

/// How Slack reaches the channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The Events API: Slack posts to the host's routes.
    Events,
    /// Socket Mode: a WebSocket the host holds for the channel.
    Socket,
}

impl Mode {
    /// The word of the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Events => "events",
            Mode::Socket => "socket",
        }
    }
}

/// The typed configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// Web API root without a trailing slash.
    pub api_url: String,
    pub mode: Mode,
    /// Slack user ids always let through.
    pub allowed_users: Vec<String>,
    /// Whether unknown senders of direct messages get a pairing code.
    pub pairing: bool,
    /// Files larger than this are described, not downloaded.
    pub max_file_bytes: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            api_url: DEFAULT_API_URL.to_string(),
            mode: Mode::Events,
            allowed_users: Vec::new(),
            pairing: true,
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
        }
    }
}

impl Settings {
    /// Reads every key through `get` (`host::config` in the component); a
    /// missing or blank key keeps its default. A value that cannot be read
    /// is an [`Error::Unavailable`] naming the key and what it takes.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Settings, Error> {
        let values = ConfigValues::new("slack", get);
        let mut s = Settings::default();
        if let Some(url) = values.url("api_url") {
            s.api_url = url;
        }
        if let Some(m) = values.text("mode") {
            s.mode = match m.to_ascii_lowercase().as_str() {
                "events" => Mode::Events,
                "socket" => Mode::Socket,
                _ => return Err(values.bad("mode", &m, "`events` or `socket`")),
            };
        }
        for user in values.items("allowed_users") {
            let ok = user.len() >= 2
                && (user.starts_with('U') || user.starts_with('W'))
                && user
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
            if !ok {
                return Err(values.bad("allowed_users", &user, "a Slack user id (like U012AB3CD)"));
            }
            s.allowed_users.push(user);
        }
        if let Some(v) = values.flag("pairing")? {
            s.pairing = v;
        }
        if let Some(v) = values.number("max_file_bytes", "a whole number of bytes")? {
            s.max_file_bytes = v;
        }
        Ok(s)
    }

    /// Whether `user_id` is in `allowed_users`.
    pub fn is_allowed(&self, user_id: &str) -> bool {
        self.allowed_users.iter().any(|u| u == user_id)
    }

    /// The most bytes of files downloaded for one message: three files at
    /// the per-file limit, so one message cannot fill the component's
    /// memory.
    pub fn max_total_file_bytes(&self) -> u64 {
        self.max_file_bytes.saturating_mul(3)
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
        assert_eq!(s.api_url, "https://slack.com/api");
        assert_eq!(s.mode, Mode::Events);
        assert_eq!(s.max_file_bytes, 8_388_608);
        assert!(s.pairing);
    }

    #[test]
    fn every_key_is_read() {
        let s = read(&[
            ("api_url", "http://127.0.0.1:9/api/"),
            ("mode", "Socket"),
            ("allowed_users", "U012AB3CD, W1,U2"),
            ("pairing", "false"),
            ("max_file_bytes", "1000"),
        ])
        .unwrap();
        assert_eq!(s.api_url, "http://127.0.0.1:9/api");
        assert_eq!(s.mode, Mode::Socket);
        assert_eq!(s.allowed_users, vec!["U012AB3CD", "W1", "U2"]);
        assert!(s.is_allowed("W1") && !s.is_allowed("U012"));
        assert!(!s.pairing);
        assert_eq!((s.max_file_bytes, s.max_total_file_bytes()), (1000, 3000));
    }

    #[test]
    fn bad_values_name_their_key() {
        for (key, value) in [
            ("pairing", "maybe"),
            ("mode", "rtm"),
            ("allowed_users", "U1,@ann"),
            ("allowed_users", "u123"),
            ("max_file_bytes", "8MB"),
        ] {
            let e = read(&[(key, value)]).unwrap_err();
            assert!(e.message().contains(&format!("`{key}`")), "{e}");
        }
    }
}
