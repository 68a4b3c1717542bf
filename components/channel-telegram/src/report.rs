//! What the channel says about itself (`report.describe`), for
//! `openpista telegram status`: the bot it speaks as, from the identity
//! `start` stored (memory key `bot`), and how it receives updates. The host
//! may ask a fresh instance that never started, so nothing here calls
//! Telegram; the glue passes what configuration and memory hold.

use openpista_sdk::{ChannelReport, Error};

use crate::bot::BotIdentity;
use crate::config::{Mode, Settings};

/// The report from the configuration (or why it cannot be read) and the
/// stored identity. `connected` once a start has stored who the bot is,
/// `stopped` before, `unconfigured` when the configuration is unreadable.
pub fn describe(settings: Result<&Settings, &Error>, bot: Option<&BotIdentity>) -> ChannelReport {
    let state = match (&settings, bot) {
        (Err(_), _) => "unconfigured",
        (Ok(_), Some(_)) => "connected",
        (Ok(_), None) => "stopped",
    };
    let mut report = ChannelReport::new(state);
    match bot {
        Some(bot) => report = report.with_account(format!("@{} (id {})", bot.username, bot.id)),
        None => {
            report = report.with_detail("bot", "unknown until the channel has started once");
        }
    }
    let settings = match settings {
        Ok(settings) => settings,
        Err(e) => return report.with_detail("configuration", e.message()),
    };
    report = match (settings.mode, &settings.webhook_url) {
        (Mode::Polling, _) => report.with_detail("mode", "polling"),
        (Mode::Webhook, url) => report.with_detail("mode", "webhook").with_detail(
            "webhook url",
            url.as_deref().unwrap_or("not set (webhook_url)"),
        ),
    };
    let pairing = if settings.pairing { "on" } else { "off" };
    report
        .with_detail("allowed users", settings.allowed_users.len().to_string())
        .with_detail("pairing", pairing)
        .with_detail("api", settings.api_url.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_started_bot_reports_its_identity_and_mode() {
        let bot = BotIdentity {
            id: 123,
            username: "pista_bot".into(),
            first_name: "Pista".into(),
        };
        let settings = Settings {
            allowed_users: vec![1, 2],
            ..Settings::default()
        };
        let report = describe(Ok(&settings), Some(&bot));
        assert_eq!(report.state, "connected");
        assert_eq!(report.account.as_deref(), Some("@pista_bot (id 123)"));
        assert_eq!(report.detail("mode"), Some("polling"));
        assert_eq!(report.detail("allowed users"), Some("2"));
        assert_eq!(report.detail("pairing"), Some("on"));
        assert!(report.link.is_none());
    }

    #[test]
    fn before_the_first_start_the_bot_is_unknown() {
        let settings = Settings {
            mode: Mode::Webhook,
            webhook_url: Some("https://example.org/telegram/webhook".into()),
            pairing: false,
            ..Settings::default()
        };
        let report = describe(Ok(&settings), None);
        assert_eq!(report.state, "stopped");
        assert_eq!(report.account, None);
        assert!(report.detail("bot").unwrap().contains("started once"));
        assert_eq!(report.detail("mode"), Some("webhook"));
        assert_eq!(
            report.detail("webhook url"),
            Some("https://example.org/telegram/webhook")
        );
        assert_eq!(report.detail("pairing"), Some("off"));
    }

    #[test]
    fn an_unreadable_configuration_is_named() {
        let e = Error::unavailable("telegram: `mode` is `push`");
        let report = describe(Err(&e), None);
        assert_eq!(report.state, "unconfigured");
        assert_eq!(
            report.detail("configuration"),
            Some("telegram: `mode` is `push`")
        );
        assert_eq!(report.detail("mode"), None);
    }
}
