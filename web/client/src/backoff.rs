//! Reconnect timing: exponential backoff from 0.5 s doubling to 15 s, with
//! jitter, reset once a connection has stayed open for 10 s
//! (docs/WEB_PROTOCOL.md, "Heartbeat and delivery").
//!
//! Pure: the caller passes the clock and the randomness, so tests need no
//! browser.

/// The first retry waits about this long.
pub const INITIAL_MS: f64 = 500.0;
/// No retry waits longer than this.
pub const MAX_MS: f64 = 15_000.0;
/// A connection open at least this long resets the backoff.
pub const STABLE_MS: f64 = 10_000.0;
/// The delay varies by ± this fraction, so that many clients that lost the
/// same server do not all come back in the same millisecond.
pub const JITTER: f64 = 0.2;

/// The backoff state of one connection manager.
#[derive(Debug, Clone, Default)]
pub struct Backoff {
    /// Failed attempts since the last stable connection.
    attempts: u32,
    /// When the current connection opened (ms), if it is open.
    opened_at: Option<f64>,
}

impl Backoff {
    /// A fresh backoff: the next delay is about [`INITIAL_MS`].
    pub fn new() -> Backoff {
        Backoff::default()
    }

    /// The delay before the next attempt, in ms; `random` is uniform in
    /// `[0, 1)`. Each call counts one more failed attempt.
    pub fn next_delay(&mut self, random: f64) -> u32 {
        let base = (INITIAL_MS * 2f64.powi(self.attempts.min(16) as i32)).min(MAX_MS);
        self.attempts = self.attempts.saturating_add(1);
        let jittered = base * (1.0 - JITTER + 2.0 * JITTER * random.clamp(0.0, 1.0));
        jittered.clamp(INITIAL_MS * (1.0 - JITTER), MAX_MS) as u32
    }

    /// A connection opened at `now` (ms).
    pub fn opened(&mut self, now: f64) {
        self.opened_at = Some(now);
    }

    /// The connection closed at `now` (ms). If it had stayed open for
    /// [`STABLE_MS`], the backoff starts over.
    pub fn closed(&mut self, now: f64) {
        if let Some(opened) = self.opened_at.take()
            && now - opened >= STABLE_MS
        {
            self.attempts = 0;
        }
    }

    /// Starts over, as when the user acts (a new token, the page becoming
    /// visible, the network coming back).
    pub fn reset(&mut self) {
        self.attempts = 0;
        self.opened_at = None;
    }

    /// Failed attempts since the last reset.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_from_half_a_second_to_fifteen() {
        let mut b = Backoff::new();
        let delays: Vec<u32> = (0..8).map(|_| b.next_delay(0.5)).collect();
        assert_eq!(
            delays,
            vec![500, 1000, 2000, 4000, 8000, 15000, 15000, 15000]
        );
    }

    #[test]
    fn jitter_stays_in_bounds() {
        let mut low = Backoff::new();
        let mut high = Backoff::new();
        assert_eq!(low.next_delay(0.0), 400);
        assert_eq!(high.next_delay(0.999_999), 599);
        for _ in 0..20 {
            assert!(low.next_delay(0.0) <= 15_000);
            assert!(high.next_delay(1.0) <= 15_000);
        }
        assert_eq!(low.next_delay(0.0), 12_000);
    }

    #[test]
    fn a_stable_connection_resets() {
        let mut b = Backoff::new();
        for _ in 0..5 {
            b.next_delay(0.5);
        }
        b.opened(1_000.0);
        b.closed(1_000.0 + STABLE_MS);
        assert_eq!(b.next_delay(0.5), 500);
    }

    #[test]
    fn a_short_connection_does_not_reset() {
        let mut b = Backoff::new();
        for _ in 0..3 {
            b.next_delay(0.5);
        }
        b.opened(1_000.0);
        b.closed(5_000.0);
        assert_eq!(b.next_delay(0.5), 4000);
        // A close without an open (the socket never opened) changes nothing.
        b.closed(100_000.0);
        assert_eq!(b.next_delay(0.5), 8000);
    }

    #[test]
    fn many_attempts_do_not_overflow() {
        let mut b = Backoff::new();
        for _ in 0..10_000 {
            assert!(b.next_delay(0.3) <= 15_000);
        }
        b.reset();
        assert_eq!(b.attempts(), 0);
    }
}
