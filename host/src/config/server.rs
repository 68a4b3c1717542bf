//! `[server]`, `[channels.*]` and `[[cron]]`: the HTTP listener, the
//! channels it serves, and scheduled messages.

use serde::Deserialize;

/// `[server]`: the host's HTTP listener (web page, WebSockets, webhooks,
/// health).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSection {
    pub enabled: bool,
    /// Address and port; loopback by default so nothing is exposed
    /// until the operator chooses to.
    pub listen: String,
    /// Origins (`https://chat.example.com`) allowed to call the server from
    /// another site. Same-origin requests are always allowed.
    pub cors_origins: Vec<String>,
    /// PEM certificate chain and private key: serve HTTPS and WSS
    /// directly, without a reverse proxy.
    pub tls_cert: Option<String>,
    pub tls_key: Option<String>,
    /// Largest WebSocket message accepted, bytes.
    pub max_frame_bytes: usize,
}

impl Default for ServerSection {
    fn default() -> Self {
        ServerSection {
            enabled: true,
            listen: "127.0.0.1:8480".into(),
            cors_origins: Vec::new(),
            tls_cert: None,
            tls_key: None,
            max_frame_bytes: 8 * 1024 * 1024,
        }
    }
}

/// `[channels]`: one table per messenger.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct ChannelsSection {
    pub web: WebChannelSection,
    pub telegram: super::telegram::TelegramSection,
    pub whatsapp: super::whatsapp::WhatsAppSection,
}

/// `[channels.web]`: the browser chat page.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebChannelSection {
    pub enabled: bool,
    /// Environment variable holding the access token. Unset: a token is
    /// generated on first start, stored in `~/.openpista/web-token` and
    /// printed once.
    pub token_env: Option<String>,
}

impl Default for WebChannelSection {
    fn default() -> Self {
        WebChannelSection {
            enabled: true,
            token_env: None,
        }
    }
}

/// `[[cron]]`: a message sent to a session on a schedule, through the same
/// path as a user's message; the answer goes to the session's channel.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CronEntry {
    /// Cron expression, 5 fields (`min hour day month weekday`) or 6 with
    /// seconds first; `@hourly`, `@daily` and friends work too.
    pub schedule: String,
    /// Session to talk in, such as `web:abc123` or `telegram:42`.
    pub session: String,
    /// Channel that delivers the answer; the session's prefix when unset.
    pub channel: Option<String>,
    /// The message, as if the user had sent it.
    pub message: String,
}

impl CronEntry {
    /// The channel this entry's answers go to.
    pub fn channel(&self) -> &str {
        self.channel
            .as_deref()
            .unwrap_or_else(|| self.session.split(':').next().unwrap_or(""))
    }
}
