//! Long polling with `getUpdates`: the request, the offset kept in
//! memory, and the backoff after a `409 Conflict`.
//!
//! The offset (memory key [`OFFSET_KEY`], decimal text) is the next
//! update id to ask for. It is stored before `poll` returns its events,
//! so a restart never repeats an update. A 409 means another consumer
//! holds the bot (a webhook, or a second instance polling); the glue
//! deletes the webhook and waits [`ConflictBackoff`] before the next poll.

use serde_json::{Value, json};

/// Memory key of the next update id to ask for.
pub const OFFSET_KEY: &str = "offset";
/// The update kinds asked for, in polling and webhook mode alike.
pub const ALLOWED_UPDATES: [&str; 2] = ["message", "callback_query"];
/// How much longer than the long poll the HTTP request may take.
pub const REQUEST_SLACK_MS: u64 = 15_000;

/// The stored offset, `None` when absent or unreadable.
pub fn parse_offset(stored: Option<&[u8]>) -> Option<i64> {
    std::str::from_utf8(stored?).ok()?.trim().parse().ok()
}

/// The `getUpdates` body.
pub fn get_updates_body(offset: Option<i64>, timeout_secs: u32) -> Value {
    let mut body = json!({ "timeout": timeout_secs, "allowed_updates": ALLOWED_UPDATES });
    if let Some(offset) = offset {
        body["offset"] = json!(offset);
    }
    body
}

/// The HTTP timeout for a long poll of `timeout_secs`: always longer.
pub fn request_timeout_ms(timeout_secs: u32) -> u64 {
    u64::from(timeout_secs) * 1_000 + REQUEST_SLACK_MS
}

/// The offset after `updates`: one past the highest `update_id` among
/// them and `current`, or `None` when nothing moved it. An id of
/// `i64::MAX` (from a broken or hostile API server) has no id past it:
/// the offset stays at it rather than overflowing.
pub fn next_offset(updates: &[Value], current: Option<i64>) -> Option<i64> {
    let highest = updates
        .iter()
        .filter_map(|u| u.get("update_id").and_then(Value::as_i64))
        .max()?;
    let next = highest.saturating_add(1);
    (current.is_none_or(|c| next > c)).then_some(next)
}

/// The wait after a 409: 1 s, doubling to 30 s, reset by a success.
#[derive(Debug, PartialEq, Eq)]
pub struct ConflictBackoff {
    next_ms: u64,
}

impl ConflictBackoff {
    /// The first wait.
    pub const INITIAL_MS: u64 = 1_000;
    /// The longest wait.
    pub const MAX_MS: u64 = 30_000;

    /// A backoff at its first wait (usable in a `static`).
    pub const fn new() -> Self {
        ConflictBackoff {
            next_ms: Self::INITIAL_MS,
        }
    }

    /// The wait for this conflict; the next one waits twice as long.
    pub fn on_conflict(&mut self) -> u64 {
        let wait = self.next_ms;
        self.next_ms = (wait * 2).min(Self::MAX_MS);
        wait
    }

    /// A poll succeeded: start again from the first wait.
    pub fn reset(&mut self) {
        self.next_ms = Self::INITIAL_MS;
    }
}

impl Default for ConflictBackoff {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_round_trip_through_memory_text() {
        assert_eq!(parse_offset(Some(b"12345")), Some(12345));
        assert_eq!(parse_offset(Some(b" 7\n")), Some(7));
        assert_eq!(parse_offset(Some(b"x")), None);
        assert_eq!(parse_offset(None), None);
    }

    #[test]
    fn the_request_carries_offset_timeout_and_kinds() {
        assert_eq!(
            get_updates_body(Some(8), 25),
            json!({"offset": 8, "timeout": 25, "allowed_updates": ["message", "callback_query"]})
        );
        assert!(get_updates_body(None, 25).get("offset").is_none());
        assert!(request_timeout_ms(25) > 25_000);
        assert!(request_timeout_ms(0) > 0);
    }

    #[test]
    fn the_offset_moves_past_the_highest_update() {
        let updates = vec![
            json!({"update_id": 5}),
            json!({"update_id": 9}),
            json!({"update_id": 7}),
            json!({"bad": 1}),
        ];
        assert_eq!(next_offset(&updates, Some(5)), Some(10));
        assert_eq!(next_offset(&updates, None), Some(10));
        assert_eq!(next_offset(&updates, Some(10)), None);
        assert_eq!(next_offset(&[], Some(3)), None);
    }

    #[test]
    fn the_largest_update_id_does_not_overflow() {
        // Found by fuzz_telegram_update: `highest + 1` panicked.
        let updates = [json!({"update_id": i64::MAX})];
        assert_eq!(next_offset(&updates, None), Some(i64::MAX));
        assert_eq!(next_offset(&updates, Some(i64::MAX)), None);
    }

    #[test]
    fn conflicts_back_off_and_reset() {
        let mut b = ConflictBackoff::new();
        let waits: Vec<u64> = (0..7).map(|_| b.on_conflict()).collect();
        assert_eq!(
            waits,
            vec![1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]
        );
        b.reset();
        assert_eq!(b.on_conflict(), 1_000);
    }
}
