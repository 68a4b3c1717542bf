//! What the channel says about itself (`report.describe`) for
//! `openpista slack status`. The live instance writes a [`Snapshot`] to
//! memory (key [`MEMORY_KEY`]) whenever it changes, and the report is made
//! from that, so a fresh instance that never started answers the same.
//! Nothing here calls the host.

use openpista_sdk::{ChannelReport, Error};
use serde::{Deserialize, Serialize};

use crate::config::Settings;
use crate::socket::{Phase, Socket};

/// Memory key of the snapshot.
pub const MEMORY_KEY: &str = "report";

/// Who the bot is (`auth.test`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bot {
    pub user_id: String,
    pub user: String,
    pub team: String,
    pub team_id: String,
    pub bot_id: String,
}

/// The channel's state as last seen.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// `connected`, `connecting` or `stopped`.
    pub state: String,
    pub reason: Option<String>,
    /// `events` or `socket`.
    pub mode: String,
    pub bot: Option<Bot>,
    pub reconnects: u32,
    pub last_close: Option<(u16, String)>,
}

impl Snapshot {
    /// The snapshot of the Events API mode: connected once `auth.test`
    /// answered.
    pub fn events(bot: Option<&Bot>) -> Snapshot {
        Snapshot {
            state: "connected".into(),
            mode: "events".into(),
            bot: bot.cloned(),
            ..Snapshot::default()
        }
    }

    /// The snapshot of Socket Mode.
    pub fn socket(s: &Socket, bot: Option<&Bot>) -> Snapshot {
        let (state, reason) = match &s.phase {
            Phase::Connected => ("connected", None),
            Phase::Connecting { .. } | Phase::Waiting { .. } => ("connecting", None),
            Phase::Idle => ("stopped", Some("not started".to_string())),
            Phase::Stopped(why) => ("stopped", Some(why.clone())),
        };
        Snapshot {
            state: state.into(),
            reason,
            mode: "socket".into(),
            bot: bot.cloned(),
            reconnects: s.reconnects,
            last_close: s.last_close.clone(),
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
    let mut report = match snapshot {
        None => ChannelReport::new("stopped")
            .with_detail("bot", "unknown until the channel has started once"),
        Some(snap) => {
            let mut r = ChannelReport::new(snap.state.as_str());
            if let Some(bot) = &snap.bot {
                r = r.with_account(format!("@{} ({})", bot.user, bot.team));
                r = r.with_detail("bot user", bot.user_id.as_str());
            }
            if let Some(why) = &snap.reason {
                r = r.with_detail("reason", why.as_str());
            }
            if snap.mode == "socket" {
                r = r.with_detail("reconnects", snap.reconnects.to_string());
                if let Some((code, reason)) = &snap.last_close {
                    r = r.with_detail("last close", format!("{code} {reason}").trim().to_string());
                }
            }
            r
        }
    };
    report = report.with_detail("mode", settings.mode.as_str());
    let pairing = if settings.pairing { "on" } else { "off" };
    report
        .with_detail("allowed users", settings.allowed_users.len().to_string())
        .with_detail("pairing", pairing)
        .with_detail("api", settings.api_url.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bot() -> Bot {
        Bot {
            user_id: "UBOT".into(),
            user: "pista".into(),
            team: "Acme".into(),
            team_id: "T1".into(),
            bot_id: "B1".into(),
        }
    }

    #[test]
    fn events_mode_reports_the_account() {
        let r = describe(
            Ok(&Settings::default()),
            Some(&Snapshot::events(Some(&bot()))),
        );
        assert_eq!(r.state, "connected");
        assert_eq!(r.account.as_deref(), Some("@pista (Acme)"));
        assert_eq!(r.detail("mode"), Some("events"));
        assert_eq!(r.detail("pairing"), Some("on"));
    }

    #[test]
    fn socket_mode_says_why_it_stopped() {
        let mut s = Socket::new();
        s.phase = Phase::Stopped("link_disabled".into());
        s.last_close = Some((1000, "bye".into()));
        s.reconnects = 2;
        let snap = Snapshot::socket(&s, Some(&bot()));
        let r = describe(Ok(&Settings::default()), Some(&snap));
        assert_eq!(r.state, "stopped");
        assert_eq!(r.detail("reason"), Some("link_disabled"));
        assert_eq!(r.detail("reconnects"), Some("2"));
        assert_eq!(r.detail("last close"), Some("1000 bye"));
        s.phase = Phase::Waiting { at_ms: 5 };
        assert_eq!(Snapshot::socket(&s, None).state, "connecting");
        // Stored and read back, as a fresh instance does.
        let text = serde_json::to_string(&snap).unwrap();
        assert_eq!(serde_json::from_str::<Snapshot>(&text).unwrap(), snap);
    }

    #[test]
    fn before_any_start_and_with_bad_configuration() {
        let r = describe(Ok(&Settings::default()), None);
        assert_eq!(r.state, "stopped");
        assert!(r.detail("bot").unwrap().contains("started once"));
        let e = Error::unavailable("slack: config `mode` is `x`");
        assert_eq!(describe(Err(&e), None).state, "unconfigured");
    }
}
