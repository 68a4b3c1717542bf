//! `[[cron]]`: messages sent to a session on a schedule. Each entry waits
//! for its next occurrence (local time) and is dispatched through the
//! gateway like a user's message, so it is ordered with the session's
//! other events and its answer goes to the session's channel.

use super::Incoming;
use super::{Gateway, Origin};
use anyhow::Result;
use chrono::{DateTime, Local};
use croner::Cron;
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;

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

/// Parses a schedule: 5 fields, 6 with seconds first, or `@daily` and
/// friends.
pub fn parse(schedule: &str) -> Result<Cron> {
    let text = match schedule.trim() {
        "@yearly" | "@annually" => "0 0 1 1 *",
        "@monthly" => "0 0 1 * *",
        "@weekly" => "0 0 * * 0",
        "@daily" | "@midnight" => "0 0 * * *",
        "@hourly" => "0 * * * *",
        other => other,
    };
    text.parse::<Cron>()
        .map_err(|e| anyhow::anyhow!("bad cron schedule {schedule:?}: {e}"))
}

/// When `cron` next fires after `after`.
pub fn next_after(cron: &Cron, after: &DateTime<Local>) -> Option<DateTime<Local>> {
    cron.find_next_occurrence(after, false).ok()
}

/// The event an entry dispatches.
pub fn event(entry: &CronEntry) -> Incoming {
    Incoming {
        session: entry.session.clone(),
        sender: "cron".into(),
        text: entry.message.clone(),
        attachments: Vec::new(),
        command: None,
    }
}

/// Runs every entry until the returned handles are dropped or aborted.
/// With a `gate` (a cluster lease) an entry fires only while it is true,
/// so in a cluster each occurrence fires on one node.
pub fn start(
    gateway: Arc<Gateway>,
    entries: &[CronEntry],
    gate: Option<tokio::sync::watch::Receiver<bool>>,
) -> Vec<tokio::task::JoinHandle<()>> {
    entries
        .iter()
        .filter_map(|entry| {
            let cron = match parse(&entry.schedule) {
                Ok(c) => c,
                Err(e) => {
                    tracing::error!("{e:#}");
                    return None;
                }
            };
            let entry = entry.clone();
            let gateway = gateway.clone();
            let gate = gate.clone();
            Some(tokio::spawn(async move {
                loop {
                    let now = Local::now();
                    let Some(next) = next_after(&cron, &now) else {
                        tracing::warn!(schedule = %entry.schedule, "cron entry never fires again");
                        return;
                    };
                    let wait = (next - now).to_std().unwrap_or(Duration::ZERO);
                    tokio::time::sleep(wait).await;
                    if let Some(gate) = &gate
                        && !*gate.borrow()
                    {
                        tracing::debug!(session = %entry.session, "cron: another node holds the lease");
                        continue;
                    }
                    tracing::info!(session = %entry.session, schedule = %entry.schedule, "cron message");
                    gateway.dispatch(Origin::operator(entry.channel()), event(&entry));
                }
            }))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn schedules_parse_and_fire_when_they_say() {
        let at = Local.with_ymd_and_hms(2026, 11, 24, 8, 59, 30).unwrap();
        let daily9 = parse("0 9 * * *").unwrap();
        let next = next_after(&daily9, &at).unwrap();
        assert_eq!(next, Local.with_ymd_and_hms(2026, 11, 24, 9, 0, 0).unwrap());
        let every5s = parse("*/5 * * * * *").unwrap();
        assert_eq!(
            next_after(&every5s, &at).unwrap(),
            Local.with_ymd_and_hms(2026, 11, 24, 8, 59, 35).unwrap()
        );
        let hourly = parse("@hourly").unwrap();
        assert_eq!(
            next_after(&hourly, &at).unwrap(),
            Local.with_ymd_and_hms(2026, 11, 24, 9, 0, 0).unwrap()
        );
        for bad in ["", "61 * * * *", "* * *", "0 9 * * MOON"] {
            let e = parse(bad).unwrap_err().to_string();
            assert!(e.contains("bad cron schedule"), "{bad}: {e}");
        }
    }

    #[test]
    fn the_channel_defaults_to_the_session_prefix() {
        let mut entry = CronEntry {
            schedule: "@daily".into(),
            session: "web:abc".into(),
            channel: None,
            message: "morning report".into(),
        };
        assert_eq!(entry.channel(), "web");
        let e = event(&entry);
        assert_eq!((e.session.as_str(), e.sender.as_str()), ("web:abc", "cron"));
        entry.channel = Some("telegram".into());
        assert_eq!(entry.channel(), "telegram");
    }
}
