//! Per-chat send limits, so that long answers and bursts of files do not
//! run into Telegram's flood control.
//!
//! Each chat may get at most [`PER_SECOND`] messages in any second; a
//! group (negative chat id) also at most [`GROUP_PER_MINUTE`] in any
//! minute. [`Limiter::reserve`] books a send and says how long to wait
//! before making it; the clock is passed in, so this is tested natively.

use std::collections::{HashMap, VecDeque};

/// Messages per chat in any 1000 ms.
pub const PER_SECOND: usize = 30;
/// Messages per group in any 60 000 ms.
pub const GROUP_PER_MINUTE: usize = 20;
const SECOND_MS: u64 = 1_000;
const MINUTE_MS: u64 = 60_000;
/// Chats remembered before idle ones are forgotten.
const MAX_CHATS: usize = 1_000;

/// Booked send times per chat.
#[derive(Debug, Default)]
pub struct Limiter {
    chats: HashMap<i64, VecDeque<u64>>,
}

impl Limiter {
    /// An empty limiter (usable in a `static`).
    pub fn new() -> Self {
        Limiter {
            chats: HashMap::new(),
        }
    }

    /// Books a send to `chat_id` at the earliest moment the limits allow,
    /// from `now_ms` on, and returns how many milliseconds to wait for it.
    pub fn reserve(&mut self, chat_id: i64, now_ms: u64) -> u64 {
        if self.chats.len() >= MAX_CHATS {
            self.forget_idle(now_ms);
        }
        let sent = self.chats.entry(chat_id).or_default();
        while sent.front().is_some_and(|t| t + MINUTE_MS <= now_ms) {
            sent.pop_front();
        }
        let mut at = now_ms;
        // The send that must have left the window before this one may go.
        if sent.len() >= PER_SECOND {
            at = at.max(sent[sent.len() - PER_SECOND] + SECOND_MS);
        }
        if chat_id < 0 && sent.len() >= GROUP_PER_MINUTE {
            at = at.max(sent[sent.len() - GROUP_PER_MINUTE] + MINUTE_MS);
        }
        sent.push_back(at);
        at - now_ms
    }

    /// Drops chats with nothing sent in the last minute.
    fn forget_idle(&mut self, now_ms: u64) {
        self.chats
            .retain(|_, sent| sent.back().is_some_and(|t| t + MINUTE_MS > now_ms));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_31st_in_a_second_waits() {
        let mut l = Limiter::new();
        for i in 0..30 {
            assert_eq!(l.reserve(42, 1_000 + i), 0, "send {i}");
        }
        // The first went at 1000, so the 31st may go at 2000.
        assert_eq!(l.reserve(42, 1_100), 900);
        // The 32nd follows the second one (sent at 1001).
        assert_eq!(l.reserve(42, 1_100), 901);
    }

    #[test]
    fn the_21st_in_a_minute_in_a_group_waits() {
        let mut l = Limiter::new();
        for i in 0..20 {
            assert_eq!(l.reserve(-100, i * 1_000), 0, "send {i}");
        }
        assert_eq!(l.reserve(-100, 30_000), 30_000);
        // A minute after the first, there is room again.
        let mut l = Limiter::new();
        for i in 0..20 {
            l.reserve(-100, i * 100);
        }
        assert_eq!(l.reserve(-100, 60_000), 0);
    }

    #[test]
    fn private_chats_are_not_held_by_the_group_rule() {
        let mut l = Limiter::new();
        for i in 0..25 {
            assert_eq!(l.reserve(42, i * 1_000), 0, "send {i}");
        }
    }

    #[test]
    fn chats_do_not_affect_each_other() {
        let mut l = Limiter::new();
        for _ in 0..30 {
            l.reserve(1, 0);
        }
        for _ in 0..20 {
            l.reserve(-2, 0);
        }
        assert!(l.reserve(1, 0) > 0);
        assert!(l.reserve(-2, 0) > 0);
        assert_eq!(l.reserve(3, 0), 0);
        assert_eq!(l.reserve(-4, 0), 0);
    }

    #[test]
    fn idle_chats_are_forgotten() {
        let mut l = Limiter::new();
        for chat in 0..MAX_CHATS as i64 {
            l.reserve(chat, 0);
        }
        l.reserve(-1, MINUTE_MS);
        assert_eq!(l.chats.len(), 1);
    }
}
