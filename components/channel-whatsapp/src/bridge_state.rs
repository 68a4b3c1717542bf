//! What the channel knows about the bridge, and `report` tells the host
//! (for the CLI and the link page): `bridge/state`, kept up to date from
//! the events, and `bridge/rejected`, the count of lines that could not be
//! understood. Nothing here calls the host.
//!
//! `bridge_restarts` counts the starts that follow an exit after which the
//! host said it would restart the bridge (`restart_in_ms` set); the glue
//! remembers that promise in `bridge/restart_pending`. A start without
//! one (the host itself started) sets the count back to 0, so the first
//! start never counts and the second one counts 1.

use serde::{Deserialize, Serialize};

use crate::event::Event;

/// Memory key of [`BridgeState`].
pub const KEY: &str = "bridge/state";
/// Memory key of [`Rejected`].
pub const REJECTED_KEY: &str = "bridge/rejected";
/// Memory key that exists between an exit with a planned restart and the
/// next start.
pub const RESTART_PENDING_KEY: &str = "bridge/restart_pending";

/// The socket's last close, as the bridge reported it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastDisconnect {
    pub reason: String,
    pub code: Option<i64>,
    pub reconnect: bool,
    pub delay_ms: u64,
}

/// What `bridge/state` holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BridgeState {
    /// `starting`, `connecting`, `qr`, `open`, `closed`, `logged_out`
    /// (the bridge's states) or `bridge_down` (no bridge process).
    pub state: String,
    /// The latest QR string to scan, until the socket opens.
    pub qr: Option<String>,
    /// The latest code from `request_pairing_code`, until the socket opens.
    pub pairing_code: Option<String>,
    /// The account's own JID while linked.
    pub jid: Option<String>,
    /// The account's push name.
    pub name: Option<String>,
    pub last_disconnect: Option<LastDisconnect>,
    pub bridge_pid: Option<u64>,
    pub bridge_restarts: u64,
    pub updated_ms: u64,
}

impl Default for BridgeState {
    fn default() -> Self {
        BridgeState {
            state: "starting".into(),
            qr: None,
            pairing_code: None,
            jid: None,
            name: None,
            last_disconnect: None,
            bridge_pid: None,
            bridge_restarts: 0,
            updated_ms: 0,
        }
    }
}

impl BridgeState {
    /// Whether `event` changes the state (so it is worth reading).
    pub fn concerns(event: &Event) -> bool {
        !matches!(
            event,
            Event::Ready | Event::Message(_) | Event::Sent { .. } | Event::Error { .. }
        )
    }

    /// Applies `event` at `now_ms`; `false` (and nothing changed) when the
    /// event says nothing about the state. `restart_pending` tells a
    /// `bridge_started` whether it is a restart.
    pub fn apply(&mut self, event: &Event, restart_pending: bool, now_ms: u64) -> bool {
        match event {
            Event::Qr(qr) => {
                self.state = "qr".into();
                self.qr = Some(qr.clone());
            }
            Event::PairingCode { code } => self.pairing_code = Some(code.clone()),
            Event::Connected { jid, name } => {
                self.state = "open".into();
                self.qr = None;
                self.pairing_code = None;
                self.jid = jid.clone();
                self.name = name.clone();
            }
            Event::Disconnected(d) => {
                if d.reason == "logged_out" {
                    self.state = "logged_out".into();
                    self.jid = None;
                    self.name = None;
                } else {
                    self.state = "closed".into();
                }
                self.last_disconnect = Some(LastDisconnect {
                    reason: d.reason.clone(),
                    code: d.code,
                    reconnect: d.reconnect,
                    delay_ms: d.delay_ms,
                });
            }
            Event::Status { state, jid } => {
                self.state = state.clone();
                if jid.is_some() {
                    self.jid = jid.clone();
                }
                if state == "open" {
                    self.qr = None;
                }
            }
            Event::BridgeStarted { pid } => {
                self.state = "starting".into();
                self.bridge_pid = *pid;
                self.qr = None;
                self.pairing_code = None;
                self.bridge_restarts = if restart_pending {
                    self.bridge_restarts.saturating_add(1)
                } else {
                    0
                };
            }
            Event::BridgeExited { .. } => {
                self.state = "bridge_down".into();
                self.bridge_pid = None;
                self.qr = None;
                self.pairing_code = None;
            }
            Event::Ready | Event::Message(_) | Event::Sent { .. } | Event::Error { .. } => {
                return false;
            }
        }
        self.updated_ms = now_ms;
        true
    }
}

/// What `bridge/rejected` holds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Rejected {
    /// Lines rejected so far.
    pub count: u64,
    /// What was wrong with the latest.
    pub last: String,
    pub at_ms: u64,
}

impl Rejected {
    /// Counts one more rejected line.
    pub fn record(&mut self, what: &str, now_ms: u64) {
        self.count = self.count.saturating_add(1);
        self.last = what.to_string();
        self.at_ms = now_ms;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::parse;

    fn apply(s: &mut BridgeState, line: &str) -> bool {
        s.apply(&parse(line).unwrap(), false, 42)
    }

    #[test]
    fn a_fresh_state_encodes_every_field() {
        assert_eq!(
            serde_json::to_value(BridgeState::default()).unwrap(),
            serde_json::json!({
                "state": "starting", "qr": null, "pairing_code": null, "jid": null,
                "name": null, "last_disconnect": null, "bridge_pid": null,
                "bridge_restarts": 0, "updated_ms": 0
            })
        );
        let back: BridgeState = serde_json::from_str(r#"{"state":"open"}"#).unwrap();
        assert_eq!(back.state, "open");
    }

    #[test]
    fn pairing_then_connecting() {
        let mut s = BridgeState::default();
        assert!(apply(&mut s, r#"{"type":"qr","qr":"2@one"}"#));
        assert_eq!((s.state.as_str(), s.qr.as_deref()), ("qr", Some("2@one")));
        assert_eq!(s.updated_ms, 42);
        apply(&mut s, r#"{"type":"qr","qr":"2@two"}"#);
        apply(
            &mut s,
            r#"{"type":"pairing_code","ref":"r","code":"ABCD1234"}"#,
        );
        assert_eq!(
            (s.qr.as_deref(), s.pairing_code.as_deref()),
            (Some("2@two"), Some("ABCD1234"))
        );
        apply(
            &mut s,
            r#"{"type":"connected","jid":"1555@s.whatsapp.net","name":"Me"}"#,
        );
        assert_eq!(s.state, "open");
        assert_eq!((s.qr.as_ref(), s.pairing_code.as_ref()), (None, None));
        assert_eq!(
            (s.jid.as_deref(), s.name.as_deref()),
            (Some("1555@s.whatsapp.net"), Some("Me"))
        );
    }

    #[test]
    fn disconnects_are_kept() {
        let mut s = BridgeState {
            jid: Some("1555@s.whatsapp.net".into()),
            ..BridgeState::default()
        };
        apply(
            &mut s,
            r#"{"type":"disconnected","reason":"timed_out","code":408,"reconnect":true,"delay_ms":1000}"#,
        );
        assert_eq!(s.state, "closed");
        assert_eq!(s.jid.as_deref(), Some("1555@s.whatsapp.net"));
        let d = s.last_disconnect.clone().unwrap();
        assert_eq!(
            (d.reason.as_str(), d.code, d.reconnect, d.delay_ms),
            ("timed_out", Some(408), true, 1000)
        );
        apply(
            &mut s,
            r#"{"type":"disconnected","reason":"logged_out","code":401,"reconnect":true,"delay_ms":0}"#,
        );
        assert_eq!((s.state.as_str(), s.jid.as_ref()), ("logged_out", None));
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(
            json["last_disconnect"],
            serde_json::json!({"reason": "logged_out", "code": 401, "reconnect": true, "delay_ms": 0})
        );
    }

    #[test]
    fn status_replies_set_the_state() {
        let mut s = BridgeState::default();
        apply(
            &mut s,
            r#"{"type":"status","ref":"s","state":"open","jid":"1@s.whatsapp.net","registered":true}"#,
        );
        assert_eq!(
            (s.state.as_str(), s.jid.as_deref()),
            ("open", Some("1@s.whatsapp.net"))
        );
        apply(
            &mut s,
            r#"{"type":"status","ref":"s","state":"connecting","jid":null,"registered":true}"#,
        );
        assert_eq!(
            (s.state.as_str(), s.jid.as_deref()),
            ("connecting", Some("1@s.whatsapp.net"))
        );
    }

    #[test]
    fn the_process_lifecycle_and_restart_count() {
        let started = parse(r#"{"type":"bridge_started","pid":100}"#).unwrap();
        let exited =
            parse(r#"{"type":"bridge_exited","code":1,"signal":null,"restart_in_ms":2000}"#)
                .unwrap();
        let mut s = BridgeState::default();
        s.apply(&started, false, 1);
        assert_eq!(
            (s.state.as_str(), s.bridge_pid, s.bridge_restarts),
            ("starting", Some(100), 0)
        );
        apply(&mut s, r#"{"type":"qr","qr":"q"}"#);
        s.apply(&exited, false, 2);
        assert_eq!(
            (s.state.as_str(), s.bridge_pid, s.qr.as_ref()),
            ("bridge_down", None, None)
        );
        s.apply(
            &parse(r#"{"type":"bridge_started","pid":101}"#).unwrap(),
            true,
            3,
        );
        assert_eq!((s.bridge_pid, s.bridge_restarts), (Some(101), 1));
        s.apply(&exited, false, 4);
        s.apply(&started, true, 5);
        assert_eq!(s.bridge_restarts, 2);
        // The host started anew: no restart.
        s.apply(&started, false, 6);
        assert_eq!((s.bridge_restarts, s.updated_ms), (0, 6));
    }

    #[test]
    fn other_events_change_nothing() {
        let mut s = BridgeState::default();
        for line in [
            r#"{"type":"ready"}"#,
            r#"{"type":"sent","ref":"r","id":"x"}"#,
            r#"{"type":"error","ref":null,"message":"m"}"#,
        ] {
            assert!(!BridgeState::concerns(&parse(line).unwrap()), "{line}");
            assert!(!apply(&mut s, line), "{line}");
        }
        assert_eq!(s, BridgeState::default());
    }

    #[test]
    fn rejected_lines_are_counted() {
        let mut r = Rejected::default();
        r.record("not JSON", 5);
        r.record("unknown type \"x\"", 9);
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            serde_json::json!({"count": 2, "last": "unknown type \"x\"", "at_ms": 9})
        );
    }
}
