//! Session ids: one conversation per chat, or per forum topic.
//!
//! `telegram:{chat_id}` for a chat, `telegram:{chat_id}:{thread_id}` for a
//! topic of a forum supergroup, so that every topic is its own
//! conversation and answers land in the topic they came from.

use openpista_sdk::Error;

/// The channel's name, the prefix of its sessions.
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

    /// The session id of this chat or topic.
    pub fn session(&self) -> String {
        match self.thread_id {
            Some(thread) => format!("{CHANNEL}:{}:{thread}", self.chat_id),
            None => format!("{CHANNEL}:{}", self.chat_id),
        }
    }

    /// The chat and topic of `session`; an [`Error::InvalidInput`] naming
    /// it when it is not a session of this channel.
    pub fn parse(session: &str) -> Result<ChatRef, Error> {
        let bad = || {
            Error::invalid_input(format!(
                "`{session}` is not a Telegram session (telegram:CHAT_ID or \
                 telegram:CHAT_ID:THREAD_ID)"
            ))
        };
        let rest = session
            .strip_prefix(CHANNEL)
            .and_then(|r| r.strip_prefix(':'))
            .ok_or_else(bad)?;
        let mut parts = rest.split(':');
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
            assert_eq!(ChatRef::parse(&chat.session()).unwrap(), chat);
        }
        assert_eq!(ChatRef::chat(42).session(), "telegram:42");
        let topic = ChatRef {
            chat_id: -100,
            thread_id: Some(3),
        };
        assert_eq!(topic.session(), "telegram:-100:3");
    }

    #[test]
    fn other_sessions_are_refused_by_name() {
        for bad in [
            "web:42",
            "telegram",
            "telegram:",
            "telegram:abc",
            "telegram:42:",
            "telegram:42:x",
            "telegram:1:2:3",
            "telegramx:42",
        ] {
            let e = ChatRef::parse(bad).unwrap_err();
            assert_eq!(e.kind(), "invalid-input");
            assert!(e.message().contains(&format!("`{bad}`")), "{e}");
        }
    }
}
