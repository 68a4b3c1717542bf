//! The parts of a Bot API `Update` the channel reads, as serde types.
//!
//! Only the fields used are declared; everything else Telegram sends is
//! ignored, so new Bot API fields never break parsing. Updates of kinds
//! the channel does not handle (edited messages, channel posts...) parse
//! with neither `message` nor `callback_query` set.

use serde::Deserialize;
use serde_json::Value;

use crate::conversation::ChatRef;

/// One update.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Update {
    /// Increasing id; polling asks for ids above the last one seen.
    pub update_id: i64,
    /// A new message.
    #[serde(default)]
    pub message: Option<Message>,
    /// A press of an inline button.
    #[serde(default)]
    pub callback_query: Option<CallbackQuery>,
}

/// A message.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct Message {
    pub message_id: i64,
    #[serde(default)]
    pub message_thread_id: Option<i64>,
    #[serde(default)]
    pub is_topic_message: bool,
    #[serde(default)]
    pub from: Option<User>,
    pub chat: Chat,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub caption: Option<String>,
    #[serde(default)]
    pub reply_to_message: Option<Box<Message>>,
    #[serde(default)]
    pub photo: Option<Vec<PhotoSize>>,
    #[serde(default)]
    pub document: Option<FileInfo>,
    #[serde(default)]
    pub voice: Option<FileInfo>,
    #[serde(default)]
    pub video_note: Option<FileInfo>,
    #[serde(default)]
    pub audio: Option<FileInfo>,
    #[serde(default)]
    pub video: Option<FileInfo>,
}

impl Message {
    /// The chat and, for a topic message, its topic.
    pub fn chat_ref(&self) -> ChatRef {
        ChatRef {
            chat_id: self.chat.id,
            thread_id: if self.is_topic_message {
                self.message_thread_id
            } else {
                None
            },
        }
    }
}

/// A user or bot.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct User {
    pub id: i64,
    #[serde(default)]
    pub is_bot: bool,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub first_name: String,
}

/// A chat.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct Chat {
    pub id: i64,
    /// `private`, `group`, `supergroup` or `channel`.
    #[serde(rename = "type", default)]
    pub kind: String,
}

impl Chat {
    /// Whether the chat is a group or supergroup, where the bot answers
    /// only when addressed.
    pub fn is_group(&self) -> bool {
        matches!(self.kind.as_str(), "group" | "supergroup")
    }

    /// Whether the chat is a one-to-one chat with the bot.
    pub fn is_private(&self) -> bool {
        self.kind == "private"
    }
}

/// One size of a photo.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct PhotoSize {
    pub file_id: String,
    #[serde(default)]
    pub width: u32,
    #[serde(default)]
    pub height: u32,
    #[serde(default)]
    pub file_size: Option<u64>,
}

/// A document, voice note, video note, audio file or video: the fields
/// they share.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct FileInfo {
    pub file_id: String,
    #[serde(default)]
    pub file_name: Option<String>,
    #[serde(default)]
    pub mime_type: Option<String>,
    #[serde(default)]
    pub file_size: Option<u64>,
}

/// A press of an inline button.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct CallbackQuery {
    pub id: String,
    pub from: User,
    /// The message with the button; absent for inline-mode messages.
    #[serde(default)]
    pub message: Option<Message>,
    #[serde(default)]
    pub data: Option<String>,
}

/// The `result` of `getFile`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct TgFile {
    #[serde(default)]
    pub file_size: Option<u64>,
    #[serde(default)]
    pub file_path: Option<String>,
}

/// An update from its JSON; the error says what was wrong.
pub fn parse(value: &Value) -> Result<Update, String> {
    if !value.is_object() {
        return Err("an update must be a JSON object".into());
    }
    if !value.get("update_id").is_some_and(Value::is_i64) {
        return Err("the update has no numeric `update_id`".into());
    }
    Update::deserialize(value).map_err(|e| format!("the update is malformed: {e}"))
}

/// An update from a request body (the webhook's); the error says what
/// was wrong.
pub fn parse_body(body: &[u8]) -> Result<Update, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    parse(&value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_a_topic_message_with_media() {
        let update = parse(&json!({
            "update_id": 10,
            "message": {
                "message_id": 5, "message_thread_id": 3, "is_topic_message": true,
                "date": 0, "from": {"id": 42, "is_bot": false, "first_name": "A", "username": "ann"},
                "chat": {"id": -100, "type": "supergroup", "title": "T"},
                "caption": "look",
                "photo": [{"file_id": "s", "file_unique_id": "u", "width": 90, "height": 90, "file_size": 10}],
                "reply_to_message": {"message_id": 4, "chat": {"id": -100, "type": "supergroup"},
                                      "from": {"id": 1, "is_bot": true, "first_name": "B"}},
                "new_field": {"x": 1}
            }
        }))
        .unwrap();
        let m = update.message.unwrap();
        assert_eq!(
            m.chat_ref(),
            ChatRef {
                chat_id: -100,
                thread_id: Some(3)
            }
        );
        assert!(m.chat.is_group() && !m.chat.is_private());
        assert_eq!(m.from.unwrap().username.as_deref(), Some("ann"));
        assert_eq!(m.photo.unwrap()[0].file_size, Some(10));
        assert_eq!(m.reply_to_message.unwrap().from.unwrap().id, 1);
    }

    #[test]
    fn a_thread_id_without_topic_flag_is_no_topic() {
        // Replies in ordinary groups carry message_thread_id too.
        let update = parse(&json!({"update_id": 1, "message": {
            "message_id": 1, "message_thread_id": 9, "chat": {"id": -5, "type": "group"}}}))
        .unwrap();
        assert_eq!(update.message.unwrap().chat_ref(), ChatRef::chat(-5));
    }

    #[test]
    fn other_update_kinds_parse_empty() {
        let update = parse(&json!({"update_id": 2, "edited_message": {"message_id": 1}})).unwrap();
        assert!(update.message.is_none() && update.callback_query.is_none());
    }

    #[test]
    fn errors_say_what_is_wrong() {
        assert!(parse_body(b"nope").unwrap_err().contains("not JSON"));
        assert!(parse_body(b"[1]").unwrap_err().contains("object"));
        assert!(parse_body(b"{}").unwrap_err().contains("update_id"));
        assert!(
            parse_body(br#"{"update_id": 1, "message": {"chat": 5}}"#)
                .unwrap_err()
                .contains("malformed")
        );
    }
}

#[cfg(test)]
#[path = "update_fuzz.rs"]
mod fuzz;
