//! A conversation's sessions as the page reads and drives them
//! (docs/WEB_PROTOCOL.md, "Frames": `sessions`, `history`).
//!
//! The host lists the conversation's sessions with a `sessions` frame (the
//! answer to `/sessions`, and again after every change) and, when the page
//! moves to another session (`/new`, `/sessions N`), sends that session's
//! messages with a `history` frame, which replaces the transcript. The page
//! drives them with ordinary `message` frames whose text is a command,
//! built here: `/sessions`, `/new`, `/sessions N`, `/sessions rename N
//! TITLE`, `/sessions delete N`, and `/model` for the model button.
//!
//! Pure Rust, tested natively; `browser/sessions.rs` puts it on the page.

use crate::transcript::{Entry, Role};
use serde::{Deserialize, Serialize};

/// Lists the sessions (answered with a `sessions` frame).
pub const LIST_COMMAND: &str = "/sessions";
/// Starts a new session (answered with `history` and `sessions`).
pub const NEW_COMMAND: &str = "/new";
/// Asks which model to use (answered with a `choices` card).
pub const MODEL_COMMAND: &str = "/model";

/// One session of a `sessions` frame; every field must be present.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionItem {
    /// What `/sessions N` takes.
    pub number: u32,
    pub title: String,
    /// How many messages it holds.
    pub messages: u64,
    /// True for the session the page's conversation uses now.
    pub active: bool,
}

impl SessionItem {
    /// The command that switches to this session: `/sessions N`.
    pub fn switch_command(&self) -> String {
        format!("{LIST_COMMAND} {}", self.number)
    }

    /// The command that deletes this session: `/sessions delete N`.
    pub fn delete_command(&self) -> String {
        format!("{LIST_COMMAND} delete {}", self.number)
    }

    /// The line under the title: `1 message`, `4 messages`.
    pub fn count_text(&self) -> String {
        match self.messages {
            1 => "1 message".to_string(),
            n => format!("{n} messages"),
        }
    }
}

/// A title as typed, made fit for a command: one line (its lines joined
/// by a space), trimmed; `None` when nothing is left of it.
pub fn clean_title(title: &str) -> Option<String> {
    let title = title
        .split(['\r', '\n'])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    (!title.is_empty()).then_some(title)
}

/// The command that renames session `number` to `title`: `/sessions rename
/// N TITLE` with the [`clean_title`]; `None` when it is empty.
pub fn rename_command(number: u32, title: &str) -> Option<String> {
    clean_title(title).map(|title| format!("{LIST_COMMAND} rename {number} {title}"))
}

/// Who wrote a message of a `history` frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HistoryRole {
    User,
    Assistant,
    /// A role this client does not know; the message is not shown.
    #[serde(other)]
    Unknown,
}

/// One message of a `history` frame; both fields must be present.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryMessage {
    pub role: HistoryRole,
    pub text: String,
}

/// The transcript a `history` frame stands for, oldest first: user and
/// assistant messages, others skipped.
pub fn history_entries(messages: &[HistoryMessage]) -> Vec<Entry> {
    messages
        .iter()
        .filter_map(|m| {
            let role = match m.role {
                HistoryRole::User => Role::User,
                HistoryRole::Assistant => Role::Assistant,
                HistoryRole::Unknown => return None,
            };
            Some(Entry {
                role,
                text: m.text.clone(),
                attachments: Vec::new(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ServerFrame;

    const SESSIONS: &str = r#"{"type":"sessions","items":[{"number":1,"title":"first talk","messages":4,"active":false},{"number":2,"title":"web:abc#2","messages":0,"active":true}]}"#;
    const HISTORY: &str = r#"{"type":"history","title":"first talk","messages":[{"role":"user","text":"first talk"},{"role":"assistant","text":"echo: first talk"}]}"#;

    fn item(number: u32, title: &str, messages: u64, active: bool) -> SessionItem {
        SessionItem {
            number,
            title: title.into(),
            messages,
            active,
        }
    }

    /// The error `ServerFrame::parse` gives for `json`, which must not parse.
    fn refused(json: &str) -> String {
        match ServerFrame::parse(json) {
            Ok(frame) => panic!("{json} parsed as {frame:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn sessions_frame_of_the_spec() {
        assert_eq!(
            ServerFrame::parse(SESSIONS).unwrap(),
            ServerFrame::Sessions {
                items: vec![
                    item(1, "first talk", 4, false),
                    item(2, "web:abc#2", 0, true),
                ]
            }
        );
        assert_eq!(
            ServerFrame::parse(r#"{"type":"sessions","items":[]}"#).unwrap(),
            ServerFrame::Sessions { items: vec![] }
        );
    }

    #[test]
    fn sessions_fields_are_required() {
        assert!(refused(r#"{"type":"sessions"}"#).starts_with("sessions frame:"));
        for field in ["number", "title", "messages", "active"] {
            let mut value: serde_json::Value = serde_json::from_str(SESSIONS).unwrap();
            value["items"][0].as_object_mut().unwrap().remove(field);
            let e = refused(&value.to_string());
            assert!(e.contains(field), "{field}: {e}");
        }
    }

    #[test]
    fn sessions_fields_must_have_their_types() {
        for (field, bad) in [
            ("number", r#""1""#),
            ("number", "-1"),
            ("number", "1.5"),
            ("title", "7"),
            ("title", "null"),
            ("messages", r#""4""#),
            ("active", "1"),
            ("active", r#""true""#),
        ] {
            let mut value: serde_json::Value = serde_json::from_str(SESSIONS).unwrap();
            value["items"][0][field] = serde_json::from_str(bad).unwrap();
            refused(&value.to_string());
        }
        refused(r#"{"type":"sessions","items":{}}"#);
        refused(r#"{"type":"sessions","items":[1]}"#);
    }

    #[test]
    fn history_frame_of_the_spec() {
        assert_eq!(
            ServerFrame::parse(HISTORY).unwrap(),
            ServerFrame::History {
                title: "first talk".into(),
                messages: vec![
                    HistoryMessage {
                        role: HistoryRole::User,
                        text: "first talk".into(),
                    },
                    HistoryMessage {
                        role: HistoryRole::Assistant,
                        text: "echo: first talk".into(),
                    },
                ],
            }
        );
        assert_eq!(
            ServerFrame::parse(r#"{"type":"history","title":"web:abc#2","messages":[]}"#).unwrap(),
            ServerFrame::History {
                title: "web:abc#2".into(),
                messages: vec![],
            }
        );
    }

    #[test]
    fn history_fields_are_required_and_typed() {
        refused(r#"{"type":"history","messages":[]}"#);
        refused(r#"{"type":"history","title":"t"}"#);
        refused(r#"{"type":"history","title":"t","messages":[{"role":"user"}]}"#);
        refused(r#"{"type":"history","title":"t","messages":[{"text":"hi"}]}"#);
        refused(r#"{"type":"history","title":1,"messages":[]}"#);
        refused(r#"{"type":"history","title":"t","messages":"hi"}"#);
        refused(r#"{"type":"history","title":"t","messages":[{"role":"user","text":5}]}"#);
        refused(r#"{"type":"history","title":"t","messages":[{"role":3,"text":"x"}]}"#);
    }

    #[test]
    fn history_becomes_the_transcript() {
        let json = r#"{"type":"history","title":"t","messages":[{"role":"user","text":"a"},{"role":"tool","text":"ran"},{"role":"assistant","text":"**b**"}]}"#;
        let ServerFrame::History { messages, .. } = ServerFrame::parse(json).unwrap() else {
            panic!("not a history frame");
        };
        assert_eq!(messages[1].role, HistoryRole::Unknown);
        let entries = history_entries(&messages);
        let roles: Vec<(Role, &str)> = entries.iter().map(|e| (e.role, e.text.as_str())).collect();
        assert_eq!(roles, vec![(Role::User, "a"), (Role::Assistant, "**b**")]);
        assert!(entries.iter().all(|e| e.attachments.is_empty()));
        assert!(history_entries(&[]).is_empty());
    }

    #[test]
    fn commands() {
        let s = item(3, "x", 1, false);
        assert_eq!(s.switch_command(), "/sessions 3");
        assert_eq!(s.delete_command(), "/sessions delete 3");
        assert_eq!(s.count_text(), "1 message");
        assert_eq!(item(3, "x", 0, false).count_text(), "0 messages");
        assert_eq!(item(3, "x", 4, false).count_text(), "4 messages");
        assert_eq!(
            rename_command(3, "  trip\r\n plans \n").as_deref(),
            Some("/sessions rename 3 trip plans")
        );
        assert_eq!(rename_command(3, " \n "), None);
        assert_eq!(clean_title(" a\nb ").as_deref(), Some("a b"));
        assert_eq!(clean_title("a\rb").as_deref(), Some("a b"));
        assert_eq!(rename_command(3, ""), None);
        for command in [
            LIST_COMMAND,
            NEW_COMMAND,
            MODEL_COMMAND,
            &s.switch_command(),
            &s.delete_command(),
            &rename_command(3, "a b").unwrap(),
        ] {
            assert!(crate::approval::is_command(command), "{command}");
        }
    }
}
