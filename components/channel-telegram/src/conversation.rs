//! Conversations: one per chat, or per forum topic.
//!
//! The channel names `{chat_id}` for a chat and `{chat_id}:{thread_id}` for
//! a topic of a forum supergroup, so that every topic is its own
//! conversation and answers land in the topic they came from. The host
//! makes them the sessions `telegram:{chat_id}` and
//! `telegram:{chat_id}:{thread_id}`.

use openpista_sdk::Error;

/// The channel's id as the host gives it (the manifest name without
/// `channel-`), for the texts that name it (`openpista pairing approve
/// telegram CODE`). The channel never prefixes anything with it.
pub const CHANNEL: &str = "telegram";

/// Where a message goes: a chat and, in forum supergroups, a topic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ChatRef {
    /// Telegram chat id (negative for groups).
    pub chat_id: i64,
    /// `message_thread_id` of the topic, for topic messages only.
    pub thread_id: Option<i64>,
}

impl ChatRef {
    /// A chat without a topic.
    pub fn chat(chat_id: i64) -> Self {
        ChatRef {
            chat_id,
            thread_id: None,
        }
    }

    /// The conversation of this chat or topic.
    pub fn conversation(&self) -> String {
        match self.thread_id {
            Some(thread) => format!("{}:{thread}", self.chat_id),
            None => self.chat_id.to_string(),
        }
    }

    /// The chat and topic of `conversation`; an [`Error::InvalidInput`]
    /// naming it when it is not one of this channel's.
    pub fn parse(conversation: &str) -> Result<ChatRef, Error> {
        let bad = || {
            Error::invalid_input(format!(
                "`{conversation}` is not a Telegram conversation (CHAT_ID or \
                 CHAT_ID:THREAD_ID)"
            ))
        };
        let mut parts = conversation.split(':');
        let chat_id = parts
            .next()
            .and_then(|p| p.parse::<i64>().ok())
            .ok_or_else(bad)?;
        let thread_id = match parts.next() {
            None => None,
            Some(p) => Some(p.parse::<i64>().map_err(|_| bad())?),
        };
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(ChatRef { chat_id, thread_id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chats_and_topics_round_trip() {
        for chat in [
            ChatRef::chat(42),
            ChatRef::chat(-1001234567890),
            ChatRef {
                chat_id: -1001234567890,
                thread_id: Some(7),
            },
        ] {
            assert_eq!(ChatRef::parse(&chat.conversation()).unwrap(), chat);
        }
        assert_eq!(ChatRef::chat(42).conversation(), "42");
        let topic = ChatRef {
            chat_id: -100,
            thread_id: Some(3),
        };
        assert_eq!(topic.conversation(), "-100:3");
    }

    #[test]
    fn other_conversations_are_refused_by_name() {
        for bad in [
            "",
            "telegram:42",
            "web:42",
            "abc",
            "42:",
            "42:x",
            "1:2:3",
            " 42",
        ] {
            let e = ChatRef::parse(bad).unwrap_err();
            assert_eq!(e.kind(), "invalid-input");
            assert!(e.message().contains(&format!("`{bad}`")), "{e}");
        }
    }
}
