//! The Gateway's send limit: at most [`LIMIT`] frames in any
//! [`WINDOW_MS`] per connection, or Discord closes it.
//!
//! Heartbeats must never wait, so ordinary frames may use all but
//! [`RESERVED`] of the window; heartbeats may use all of it. The clock is
//! passed in, so this is tested natively.

use std::collections::VecDeque;

/// Frames per window Discord allows.
pub const LIMIT: usize = 120;
/// The window, in milliseconds.
pub const WINDOW_MS: u64 = 60_000;
/// Places kept for heartbeats.
pub const RESERVED: usize = 5;

/// Frames sent on the current connection in the last window.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Budget {
    sent: VecDeque<u64>,
}

impl Budget {
    /// An empty budget, for a new connection.
    pub fn new() -> Self {
        Budget::default()
    }

    fn expire(&mut self, now_ms: u64) {
        while self.sent.front().is_some_and(|t| t + WINDOW_MS <= now_ms) {
            self.sent.pop_front();
        }
    }

    /// Books a frame at `now_ms` if the window has room for it (a
    /// heartbeat may use the reserve); false when it must wait.
    pub fn try_take(&mut self, now_ms: u64, heartbeat: bool) -> bool {
        self.expire(now_ms);
        let cap = if heartbeat { LIMIT } else { LIMIT - RESERVED };
        if self.sent.len() >= cap {
            return false;
        }
        self.sent.push_back(now_ms);
        true
    }

    /// Frames booked in the window ending at `now_ms`.
    pub fn used(&mut self, now_ms: u64) -> usize {
        self.expire(now_ms);
        self.sent.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_frames_stop_short_of_the_reserve() {
        let mut b = Budget::new();
        for i in 0..(LIMIT - RESERVED) as u64 {
            assert!(b.try_take(1_000 + i, false), "frame {i}");
        }
        assert!(!b.try_take(2_000, false));
        // Heartbeats still go, up to the limit itself.
        for i in 0..RESERVED as u64 {
            assert!(b.try_take(2_000 + i, true), "heartbeat {i}");
        }
        assert!(!b.try_take(3_000, true));
        assert_eq!(b.used(3_000), LIMIT);
    }

    #[test]
    fn the_window_slides() {
        let mut b = Budget::new();
        for _ in 0..LIMIT - RESERVED {
            assert!(b.try_take(0, false));
        }
        assert!(!b.try_take(59_999, false));
        assert!(b.try_take(60_000, false));
        assert_eq!(b.used(60_000), 1);
    }
}
