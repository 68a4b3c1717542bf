//! Fuzzing of the bridge's lines (target `whatsapp_line`, seeds in
//! fuzz/corpus/whatsapp_line): whatever the bridge writes, an event that
//! parses, written back as a line, parses to the same event, and a message
//! goes through the decision and its file handling without harm.

use serde_json::{Value, json};

use super::{Event, Incoming, excerpt, parse};
use crate::bridge_state::BridgeState;
use crate::config::Settings;
use crate::inbound::{self, Action};

/// `event` as the line the bridge (or the host) would write for it.
fn line(event: &Event) -> String {
    let value = match event {
        Event::Ready => json!({"type": "ready"}),
        Event::Qr(qr) => json!({"type": "qr", "qr": qr}),
        Event::PairingCode { code } => json!({"type": "pairing_code", "code": code}),
        Event::Connected { jid, name } => json!({"type": "connected", "jid": jid, "name": name}),
        Event::Disconnected(d) => json!({"type": "disconnected", "reason": d.reason,
            "code": d.code, "reconnect": d.reconnect, "delay_ms": d.delay_ms}),
        Event::Message(m) => message(m),
        Event::Sent { reference } => json!({"type": "sent", "ref": reference}),
        Event::Status { state, jid } => json!({"type": "status", "state": state, "jid": jid}),
        Event::Error { reference, message } => {
            json!({"type": "error", "ref": reference, "message": message})
        }
        Event::BridgeStarted { pid } => json!({"type": "bridge_started", "pid": pid}),
        Event::BridgeExited {
            code,
            signal,
            restart_in_ms,
        } => json!({"type": "bridge_exited", "code": code, "signal": signal,
            "restart_in_ms": restart_in_ms}),
    };
    value.to_string()
}

fn message(m: &Incoming) -> Value {
    let media = m.media.as_ref().map(|f| {
        json!({"kind": f.kind, "mime": f.mime, "file_name": f.file_name, "size": f.size,
            "data_b64": f.data_b64, "note": f.note})
    });
    json!({"type": "message", "id": m.id, "chat": m.chat, "sender": m.sender,
        "sender_lid": m.sender_lid, "push_name": m.push_name, "timestamp": m.timestamp,
        "is_group": m.is_group, "text": m.text, "media": media})
}

/// Takes a message through the decision and, when it reaches the agent,
/// its file: an attached file is never larger than the limit.
fn receive(m: &Incoming) {
    for (approved, pairing) in [(true, false), (false, true), (false, false)] {
        let settings = Settings {
            pairing,
            max_media_bytes: 16,
            ..Settings::default()
        };
        if let Action::Forward(draft) = inbound::decide(m, &settings, approved) {
            assert!(approved && !m.is_group);
            let event = inbound::event(draft, settings.max_media_bytes);
            for a in &event.attachments {
                assert!(a.data.len() <= 16, "{} bytes attached", a.data.len());
            }
        }
    }
}

#[test]
fn fuzz_whatsapp_line() {
    openpista_fuzz::run_str("whatsapp_line", |text| {
        let short = excerpt(text);
        assert!(text.starts_with(short.trim_end_matches('…')));
        assert!(short.chars().count() <= 121);
        let Ok(event) = parse(text.trim()) else {
            return;
        };
        let again = line(&event);
        assert_eq!(parse(&again), Ok(event.clone()), "{again}");
        let mut state = BridgeState::default();
        assert_eq!(
            state.apply(&event, true, u64::MAX),
            BridgeState::concerns(&event)
        );
        if let Event::Message(m) = &event {
            receive(m);
        }
    });
}
