//! Conversation ids: a channel's id (`123`), or `PARENT:THREAD` for a
//! thread whose parent channel is known, so that the host's session
//! (`discord:PARENT:THREAD`) names where the thread lives. Answers go to
//! the last part: the thread, or the channel.
//!
//! [`Threads`] remembers which thread belongs to which channel, from
//! `THREAD_CREATE` and the threads of `GUILD_CREATE`.

use std::collections::HashMap;

use openpista_sdk::Error;

/// Threads remembered at most; the oldest are forgotten first.
const MAX_THREADS: usize = 5_000;

/// Where a conversation's messages go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The channel (or DM channel) id.
    pub channel: String,
    /// The thread inside it, when the conversation is a thread.
    pub thread: Option<String>,
}

impl Target {
    /// Reads a conversation id.
    pub fn parse(conversation: &str) -> Result<Target, Error> {
        let snowflake = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        let bad =
            || Error::invalid_input(format!("discord: `{conversation}` is not a conversation"));
        match conversation.split_once(':') {
            None if snowflake(conversation) => Ok(Target {
                channel: conversation.to_string(),
                thread: None,
            }),
            Some((p, t)) if snowflake(p) && snowflake(t) => Ok(Target {
                channel: p.to_string(),
                thread: Some(t.to_string()),
            }),
            _ => Err(bad()),
        }
    }

    /// The channel id to post to: the thread when there is one.
    pub fn post_to(&self) -> &str {
        self.thread.as_deref().unwrap_or(&self.channel)
    }

    /// The conversation id.
    pub fn conversation(&self) -> String {
        match &self.thread {
            Some(t) => format!("{}:{t}", self.channel),
            None => self.channel.clone(),
        }
    }
}

/// Threads and their parent channels.
#[derive(Clone, Debug, Default)]
pub struct Threads {
    parents: HashMap<String, String>,
    order: Vec<String>,
}

impl Threads {
    pub fn new() -> Self {
        Threads::default()
    }

    /// Remembers that `thread` is in `parent`.
    pub fn insert(&mut self, thread: &str, parent: &str) {
        if self
            .parents
            .insert(thread.to_string(), parent.to_string())
            .is_none()
        {
            self.order.push(thread.to_string());
            if self.order.len() > MAX_THREADS {
                let old = self.order.remove(0);
                self.parents.remove(&old);
            }
        }
    }

    /// The parent of `thread`, if known.
    pub fn parent(&self, thread: &str) -> Option<&str> {
        self.parents.get(thread).map(String::as_str)
    }

    /// The conversation of a message posted in `channel_id`.
    pub fn conversation_of(&self, channel_id: &str) -> String {
        match self.parent(channel_id) {
            Some(parent) => format!("{parent}:{channel_id}"),
            None => channel_id.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_and_threads_round_trip() {
        let t = Target::parse("123").unwrap();
        assert_eq!((t.post_to(), t.conversation().as_str()), ("123", "123"));
        let t = Target::parse("123:456").unwrap();
        assert_eq!(t.post_to(), "456");
        assert_eq!(t.conversation(), "123:456");
        for bad in ["", "abc", "1:", ":2", "1:2:3", "1:x"] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn known_threads_name_their_parent() {
        let mut threads = Threads::new();
        assert_eq!(threads.conversation_of("456"), "456");
        threads.insert("456", "123");
        assert_eq!(threads.conversation_of("456"), "123:456");
        assert_eq!(threads.conversation_of("123"), "123");
    }

    #[test]
    fn the_oldest_threads_are_forgotten() {
        let mut threads = Threads::new();
        for i in 0..=MAX_THREADS {
            threads.insert(&i.to_string(), "1");
        }
        assert_eq!(threads.parent("0"), None);
        assert_eq!(threads.parent(&MAX_THREADS.to_string()), Some("1"));
        assert_eq!(threads.parents.len(), MAX_THREADS);
    }
}
