//! The frames that show a conversation's sessions on the page: `sessions`
//! (the list) and `history` (the messages of the session the page now
//! uses). The host decides both (`sessions.show`, `sessions.opened`); this
//! module only writes them as `docs/WEB_PROTOCOL.md` describes.

use openpista_sdk::serde_json::{Value, json};
use openpista_sdk::{HistoryEntry, SessionEntry, Speaker};

/// The most a `history` frame carries; older messages are left out first.
/// Well under the page's 8 MiB frame limit, and quick on a phone.
pub const MAX_HISTORY_BYTES: usize = 1024 * 1024;

/// `sessions`: the conversation's sessions, oldest first.
pub fn sessions(entries: &[SessionEntry]) -> String {
    let items: Vec<Value> = entries
        .iter()
        .map(|e| {
            json!({
                "number": e.number,
                "title": e.title,
                "messages": e.messages,
                "active": e.active,
            })
        })
        .collect();
    json!({"type": "sessions", "items": items}).to_string()
}

/// `history`: the page now shows session `title`; `history` replaces its
/// transcript. The newest messages that fit in [`MAX_HISTORY_BYTES`] are
/// sent.
pub fn history(title: &str, history: &[HistoryEntry]) -> String {
    let entry = |h: &HistoryEntry| {
        let role = match h.speaker {
            Speaker::User => "user",
            Speaker::Assistant => "assistant",
        };
        json!({"role": role, "text": h.text})
    };
    let mut kept: Vec<Value> = Vec::new();
    let mut size = title.len() + 64;
    for h in history.iter().rev() {
        let value = entry(h);
        let len = value.to_string().len() + 1;
        if size + len > MAX_HISTORY_BYTES {
            break;
        }
        size += len;
        kept.push(value);
    }
    kept.reverse();
    json!({"type": "history", "title": title, "messages": kept}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(frame: &str) -> Value {
        openpista_sdk::serde_json::from_str(frame).unwrap()
    }

    #[test]
    fn the_list_names_every_session() {
        let frame = parse(&sessions(&[
            SessionEntry {
                number: 1,
                title: "first \"talk\"".into(),
                messages: 4,
                active: false,
            },
            SessionEntry {
                number: 2,
                title: "web:abc#2".into(),
                messages: 0,
                active: true,
            },
        ]));
        assert_eq!(
            frame,
            json!({"type": "sessions", "items": [
                {"number": 1, "title": "first \"talk\"", "messages": 4, "active": false},
                {"number": 2, "title": "web:abc#2", "messages": 0, "active": true},
            ]})
        );
    }

    #[test]
    fn a_history_keeps_the_newest_messages_that_fit() {
        let h = |speaker, text: &str| HistoryEntry {
            speaker,
            text: text.into(),
        };
        let frame = parse(&history(
            "t",
            &[h(Speaker::User, "hi"), h(Speaker::Assistant, "echo: hi")],
        ));
        assert_eq!(
            frame,
            json!({"type": "history", "title": "t", "messages": [
                {"role": "user", "text": "hi"},
                {"role": "assistant", "text": "echo: hi"},
            ]})
        );
        let big = "x".repeat(300 * 1024);
        let many: Vec<HistoryEntry> = (0..6)
            .map(|i| h(Speaker::User, &format!("{i}{big}")))
            .collect();
        let frame = history("t", &many);
        assert!(frame.len() <= MAX_HISTORY_BYTES, "{}", frame.len());
        let kept = parse(&frame)["messages"].as_array().unwrap().clone();
        assert_eq!(kept.len(), 3);
        assert!(kept[0]["text"].as_str().unwrap().starts_with('3'));
        assert!(kept[2]["text"].as_str().unwrap().starts_with('5'));
    }
}
