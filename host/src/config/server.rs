//! `[channels.*]`: the channels the host serves. (`[server]` is the
//! server module's, `[[cron]]` the gateway's: each module owns its
//! settings; this file only aggregates.)

use serde::Deserialize;

/// `[channels]`: one table per messenger.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct ChannelsSection {
    pub web: WebChannelSection,
    pub telegram: super::telegram::TelegramSection,
    pub whatsapp: super::whatsapp::WhatsAppSection,
    pub discord: super::discord::DiscordSection,
    pub slack: super::slack::SlackSection,
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
