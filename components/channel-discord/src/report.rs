//! What the channel says about itself (`report.describe`) for
//! `openpista discord status`. The live instance keeps a [`Snapshot`] of
//! its connection in memory (key [`MEMORY_KEY`]) whenever it changes, and
//! the report is made from that, so a fresh instance that never started
//! answers the same. Nothing here calls the host.

use openpista_sdk::{ChannelReport, Error};
use serde::{Deserialize, Serialize};

use crate::config::Settings;
use crate::gateway::session::{Gateway, Phase};

/// Memory key of the snapshot.
pub const MEMORY_KEY: &str = "report";

/// The connection's state as last seen.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// `connected`, `connecting` or `stopped`.
    pub state: String,
    /// Why it stopped.
    pub reason: Option<String>,
    pub username: Option<String>,
    pub user_id: Option<String>,
    pub resumes: u32,
    pub last_close: Option<(u16, String)>,
}

impl Snapshot {
    /// The snapshot of `gateway` for the bot `(id, username)`.
    pub fn of(gateway: &Gateway, bot: Option<(&str, &str)>) -> Snapshot {
        let (state, reason) = match &gateway.phase {
            Phase::Connected => ("connected", None),
            Phase::Connecting | Phase::Waiting => ("connecting", None),
            Phase::Idle => ("stopped", Some("not started".to_string())),
            Phase::Stopped(why) => ("stopped", Some(why.clone())),
        };
        Snapshot {
            state: state.into(),
            reason,
            username: bot.map(|(_, name)| name.to_string()),
            user_id: bot.map(|(id, _)| id.to_string()),
            resumes: gateway.resumes,
            last_close: gateway.last_close.clone(),
        }
    }
}

/// The report from the configuration (or why it cannot be read) and the
/// last snapshot.
pub fn describe(settings: Result<&Settings, &Error>, snapshot: Option<&Snapshot>) -> ChannelReport {
    let settings = match settings {
        Ok(s) => s,
        Err(e) => {
            return ChannelReport::new("unconfigured").with_detail("configuration", e.message());
        }
    };
    let Some(snap) = snapshot else {
        return ChannelReport::new("stopped")
            .with_detail("bot", "unknown until the channel has started once")
            .with_detail("api", settings.api_url.as_str());
    };
    let mut report = ChannelReport::new(snap.state.as_str());
    if let Some(name) = &snap.username {
        let id = snap.user_id.as_deref().unwrap_or("?");
        report = report.with_account(format!("@{name} (id {id})"));
    }
    if let Some(why) = &snap.reason {
        report = report.with_detail("reason", why.as_str());
    }
    report = report.with_detail("sessions resumed", snap.resumes.to_string());
    if let Some((code, reason)) = &snap.last_close {
        let text = if reason.is_empty() {
            code.to_string()
        } else {
            format!("{code} {reason}")
        };
        report = report.with_detail("last close", text);
    }
    let pairing = if settings.pairing { "on" } else { "off" };
    report
        .with_detail("allowed users", settings.allowed_users.len().to_string())
        .with_detail("pairing", pairing)
        .with_detail("intents", settings.intents.to_string())
        .with_detail("api", settings.api_url.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connected_bot_reports_its_account_and_details() {
        let mut g = Gateway::new("wss://gateway.discord.gg", 1);
        g.phase = Phase::Connected;
        g.resumes = 2;
        g.last_close = Some((1006, "reset".into()));
        let snap = Snapshot::of(&g, Some(("99", "pista")));
        let r = describe(Ok(&Settings::default()), Some(&snap));
        assert_eq!(r.state, "connected");
        assert_eq!(r.account.as_deref(), Some("@pista (id 99)"));
        assert_eq!(r.detail("sessions resumed"), Some("2"));
        assert_eq!(r.detail("last close"), Some("1006 reset"));
        assert_eq!(r.detail("pairing"), Some("on"));
    }

    #[test]
    fn a_stopped_bot_says_why() {
        let mut g = Gateway::new("wss://x", 1);
        g.phase = Phase::Stopped("Gateway closed with 4004: authentication failed".into());
        let snap = Snapshot::of(&g, None);
        let r = describe(Ok(&Settings::default()), Some(&snap));
        assert_eq!(r.state, "stopped");
        assert!(r.detail("reason").unwrap().contains("4004"));
        assert_eq!(r.account, None);
        g.phase = Phase::Waiting;
        assert_eq!(Snapshot::of(&g, None).state, "connecting");
    }

    #[test]
    fn before_any_start_and_with_bad_configuration() {
        let r = describe(Ok(&Settings::default()), None);
        assert_eq!(r.state, "stopped");
        assert!(r.detail("bot").unwrap().contains("started once"));
        let e = Error::unavailable("discord: config `pairing` is `x`");
        let r = describe(Err(&e), None);
        assert_eq!(r.state, "unconfigured");
        assert!(r.detail("configuration").unwrap().contains("pairing"));
    }
}
