//! Events already handled, so that Slack's retries are not answered twice.
//!
//! Slack re-sends an event it got no timely 2xx for (with
//! `X-Slack-Retry-Num`, or `retry_attempt` in Socket Mode), and may deliver
//! one event on more than one connection. Ids are kept for [`TTL_MS`] (an
//! hour: Slack retries over minutes) and at most [`MAX_IDS`] of them, the
//! oldest dropped first. They live in the instance only: a replaced
//! instance could answer one retry twice, which costs less than a memory
//! write per event.

use std::collections::VecDeque;

/// How long an id is remembered.
pub const TTL_MS: u64 = 60 * 60 * 1000;
/// How many ids are remembered at most.
pub const MAX_IDS: usize = 2000;

/// The ids seen, oldest first.
#[derive(Clone, Debug, Default)]
pub struct Seen {
    ids: VecDeque<(String, u64)>,
}

impl Seen {
    pub fn new() -> Self {
        Seen::default()
    }

    /// Whether `id` is new at `now_ms`; it is remembered either way.
    pub fn first_time(&mut self, id: &str, now_ms: u64) -> bool {
        while let Some((_, at)) = self.ids.front() {
            if now_ms.saturating_sub(*at) > TTL_MS {
                self.ids.pop_front();
            } else {
                break;
            }
        }
        if self.ids.iter().any(|(seen, _)| seen == id) {
            return false;
        }
        if self.ids.len() >= MAX_IDS {
            self.ids.pop_front();
        }
        self.ids.push_back((id.to_string(), now_ms));
        true
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retry_of_a_seen_event_is_not_new() {
        let mut seen = Seen::new();
        assert!(seen.first_time("Ev1", 1_000));
        assert!(!seen.first_time("Ev1", 2_000), "a retry");
        assert!(seen.first_time("Ev2", 2_000));
        assert_eq!(seen.len(), 2);
    }

    #[test]
    fn ids_expire_after_an_hour() {
        let mut seen = Seen::new();
        assert!(seen.first_time("Ev1", 0));
        assert!(!seen.first_time("Ev1", TTL_MS));
        assert!(seen.first_time("Ev1", 2 * TTL_MS + 1));
    }

    #[test]
    fn the_list_is_bounded() {
        let mut seen = Seen::new();
        for i in 0..MAX_IDS + 10 {
            assert!(seen.first_time(&format!("Ev{i}"), 5));
        }
        assert_eq!(seen.len(), MAX_IDS);
        assert!(seen.first_time("Ev0", 5), "the oldest were dropped");
        assert!(!seen.first_time(&format!("Ev{}", MAX_IDS + 9), 5));
    }
}
