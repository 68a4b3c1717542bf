//! The conversation as the page keeps it in `localStorage`, so a reload
//! shows it again. The server holds the real history; this is a view of it.

use crate::protocol::Attachment;
use serde::{Deserialize, Serialize};

/// At most this many messages are kept.
pub const MAX_ENTRIES: usize = 200;
/// Attachment data kept in storage, newest first, in base64 characters;
/// older attachments keep their name but lose their data (`localStorage`
/// holds about 5 MB per origin).
pub const ATTACHMENT_BUDGET: usize = 1_500_000;

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The person at this browser.
    User,
    /// The agent.
    Assistant,
    /// An error report (`message` with `error: true`, or an `error` frame).
    Error,
}

impl Role {
    /// The CSS class of a message by this role (`.message.user` …).
    pub fn class(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Error => "error",
        }
    }
}

/// One message of the conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub role: Role,
    #[serde(default)]
    pub text: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
}

/// The last [`MAX_ENTRIES`] messages, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transcript {
    entries: Vec<Entry>,
}

impl Transcript {
    /// An empty transcript.
    pub fn new() -> Transcript {
        Transcript::default()
    }

    /// The transcript stored as `json`; empty when it is missing or
    /// unreadable (a newer or corrupted format is not worth an error).
    pub fn from_json(json: Option<&str>) -> Transcript {
        let mut entries: Vec<Entry> = json
            .and_then(|j| serde_json::from_str(j).ok())
            .unwrap_or_default();
        let excess = entries.len().saturating_sub(MAX_ENTRIES);
        entries.drain(..excess);
        Transcript { entries }
    }

    /// The transcript as stored: attachment data only for the newest
    /// attachments within [`ATTACHMENT_BUDGET`].
    pub fn to_json(&self) -> String {
        let mut budget = ATTACHMENT_BUDGET;
        let mut kept: Vec<Entry> = self.entries.clone();
        for entry in kept.iter_mut().rev() {
            for a in entry.attachments.iter_mut() {
                if a.data.len() <= budget {
                    budget -= a.data.len();
                } else {
                    budget = 0;
                    a.data.clear();
                }
            }
        }
        serde_json::to_string(&kept).expect("entries serialize")
    }

    /// Adds a message, dropping the oldest beyond [`MAX_ENTRIES`].
    pub fn push(&mut self, entry: Entry) {
        self.entries.push(entry);
        if self.entries.len() > MAX_ENTRIES {
            self.entries.remove(0);
        }
    }

    /// Drops the older half, when storage is full.
    pub fn shrink(&mut self) {
        let half = self.entries.len().div_ceil(2);
        self.entries.drain(..half);
    }

    /// Forgets everything (after `/clear`).
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// The messages, oldest first.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(role: Role, text: &str) -> Entry {
        Entry {
            role,
            text: text.into(),
            attachments: vec![],
        }
    }

    #[test]
    fn round_trips() {
        let mut t = Transcript::new();
        t.push(entry(Role::User, "hi"));
        t.push(entry(Role::Assistant, "**hello**"));
        t.push(entry(Role::Error, "boom"));
        let json = t.to_json();
        assert_eq!(
            json,
            r#"[{"role":"user","text":"hi"},{"role":"assistant","text":"**hello**"},{"role":"error","text":"boom"}]"#
        );
        assert_eq!(Transcript::from_json(Some(&json)), t);
    }

    #[test]
    fn keeps_the_last_200() {
        let mut t = Transcript::new();
        for i in 0..250 {
            t.push(entry(Role::User, &i.to_string()));
        }
        assert_eq!(t.entries().len(), MAX_ENTRIES);
        assert_eq!(t.entries()[0].text, "50");
        t.shrink();
        assert_eq!(t.entries().len(), 100);
        assert_eq!(t.entries()[0].text, "150");
    }

    #[test]
    fn bad_storage_is_empty() {
        assert!(Transcript::from_json(None).entries().is_empty());
        assert!(
            Transcript::from_json(Some("{not json"))
                .entries()
                .is_empty()
        );
        assert!(
            Transcript::from_json(Some(r#"{"v":2}"#))
                .entries()
                .is_empty()
        );
    }

    #[test]
    fn old_attachment_data_is_dropped_beyond_the_budget() {
        let mut t = Transcript::new();
        let big = "A".repeat(ATTACHMENT_BUDGET / 2 + 1);
        for name in ["old.png", "mid.png", "new.png"] {
            t.push(Entry {
                role: Role::User,
                text: String::new(),
                attachments: vec![Attachment {
                    mime: "image/png".into(),
                    name: name.into(),
                    data: big.clone(),
                }],
            });
        }
        let back = Transcript::from_json(Some(&t.to_json()));
        let data: Vec<usize> = back
            .entries()
            .iter()
            .map(|e| e.attachments[0].data.len())
            .collect();
        assert_eq!(data, vec![0, 0, big.len()]);
        assert_eq!(back.entries()[0].attachments[0].name, "old.png");
    }
}
