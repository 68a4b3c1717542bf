//! The parts of Discord's objects this channel reads (messages, users,
//! attachments, channels), with serde. Unknown fields are ignored and
//! missing optional ones default, so a payload Discord extends still
//! reads.

use serde::{Deserialize, Serialize};

/// A user (`author`, `mentions`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct User {
    pub id: String,
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub global_name: Option<String>,
    #[serde(default)]
    pub bot: bool,
}

impl User {
    /// The name to show: the display name, else the username.
    pub fn display(&self) -> &str {
        self.global_name
            .as_deref()
            .filter(|n| !n.is_empty())
            .unwrap_or(&self.username)
    }
}

/// A file on a message.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct Attachment {
    pub id: String,
    pub filename: String,
    #[serde(default)]
    pub size: u64,
    pub url: String,
    #[serde(default)]
    pub content_type: Option<String>,
}

/// The message a reply refers to (only who wrote it matters).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct Referenced {
    #[serde(default)]
    pub author: Option<User>,
}

/// A message (`MESSAGE_CREATE`'s `d`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct Message {
    pub id: String,
    pub channel_id: String,
    #[serde(default)]
    pub guild_id: Option<String>,
    pub author: User,
    #[serde(default)]
    pub content: String,
    #[serde(default)]
    pub mentions: Vec<User>,
    #[serde(default)]
    pub attachments: Vec<Attachment>,
    #[serde(default)]
    pub referenced_message: Option<Box<Referenced>>,
    /// Set for messages sent by a webhook.
    #[serde(default)]
    pub webhook_id: Option<String>,
}

/// A channel (`THREAD_CREATE`'s `d`, `GUILD_CREATE`'s `threads`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct Channel {
    pub id: String,
    #[serde(rename = "type", default)]
    pub kind: u64,
    #[serde(default)]
    pub parent_id: Option<String>,
}

/// Channel types that are threads (announcement, public, private).
pub const THREAD_TYPES: [u64; 3] = [10, 11, 12];

impl Channel {
    /// Whether this channel is a thread.
    pub fn is_thread(&self) -> bool {
        THREAD_TYPES.contains(&self.kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_message_create_reads_with_its_extras() {
        let d = json!({
            "id": "10", "channel_id": "20", "guild_id": "30",
            "author": {"id": "40", "username": "ann", "global_name": "Ann", "avatar": null},
            "content": "<@99> hi", "mentions": [{"id": "99", "username": "pista", "bot": true}],
            "attachments": [{"id": "1", "filename": "a.png", "size": 12,
                             "url": "https://cdn.discordapp.com/a.png", "content_type": "image/png"}],
            "referenced_message": {"id": "5", "author": {"id": "99", "username": "pista"}},
            "tts": false, "embeds": []
        });
        let m: Message = serde_json::from_value(d).unwrap();
        assert_eq!(m.author.display(), "Ann");
        assert_eq!(m.mentions[0].id, "99");
        assert!(m.mentions[0].bot);
        assert_eq!(m.attachments[0].content_type.as_deref(), Some("image/png"));
        let author = m.referenced_message.unwrap().author.unwrap();
        assert_eq!(author.id, "99");
    }

    #[test]
    fn a_dm_has_no_guild_and_few_fields() {
        let d = json!({"id": "1", "channel_id": "2", "author": {"id": "3", "username": "bob"}});
        let m: Message = serde_json::from_value(d).unwrap();
        assert_eq!((m.guild_id, m.content.as_str()), (None, ""));
        assert_eq!(m.author.display(), "bob");
    }

    #[test]
    fn threads_are_recognised_by_type() {
        let t: Channel =
            serde_json::from_value(json!({"id": "7", "type": 11, "parent_id": "2"})).unwrap();
        assert!(t.is_thread());
        let c: Channel = serde_json::from_value(json!({"id": "2", "type": 0})).unwrap();
        assert!(!c.is_thread());
    }
}
