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

/// How a messenger admits people, for checks that go over all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admission {
    pub name: &'static str,
    pub enabled: bool,
    /// `allowed_users` is empty.
    pub no_allowlist: bool,
    pub pairing: bool,
}

impl ChannelsSection {
    /// The messengers (the web page is not one), each with how it admits
    /// people.
    pub fn messengers(&self) -> [Admission; 4] {
        let admission = |name, enabled, no_allowlist, pairing| Admission {
            name,
            enabled,
            no_allowlist,
            pairing,
        };
        [
            admission(
                "telegram",
                self.telegram.enabled,
                self.telegram.allowed_users.is_empty(),
                self.telegram.pairing,
            ),
            admission(
                "discord",
                self.discord.enabled,
                self.discord.allowed_users.is_empty(),
                self.discord.pairing,
            ),
            admission(
                "slack",
                self.slack.enabled,
                self.slack.allowed_users.is_empty(),
                self.slack.pairing,
            ),
            admission(
                "whatsapp",
                self.whatsapp.enabled,
                self.whatsapp.allowed_users.is_empty(),
                self.whatsapp.pairing,
            ),
        ]
    }

    /// The channels that are on, the web page first.
    pub fn enabled(&self) -> Vec<&'static str> {
        let web = self.web.enabled.then_some("web");
        web.into_iter()
            .chain(
                self.messengers()
                    .into_iter()
                    .filter(|m| m.enabled)
                    .map(|m| m.name),
            )
            .collect()
    }
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
