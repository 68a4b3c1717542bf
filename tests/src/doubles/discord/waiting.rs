//! Waiting for the component: polling until a condition holds, and on a
//! timeout a panic that lists everything the double saw.

use std::time::{Duration, Instant};

use super::{Call, Delivered, DiscordDouble};

impl DiscordDouble {
    fn summary(&self) -> String {
        let calls: Vec<String> = self
            .calls()
            .iter()
            .map(|c| format!("{} {} -> {} {}", c.method, c.path, c.status, c.body))
            .collect();
        let events: Vec<String> = self
            .gateway_events()
            .iter()
            .map(|(_, e)| format!("{e:?}"))
            .collect();
        format!(
            "counters: {:?}\nREST calls: {calls:#?}\ngateway: {events:#?}",
            self.counters()
        )
    }

    /// Waits until `pred` holds (at most `secs`), polling every 20 ms;
    /// panics naming `what` with everything the double saw.
    pub async fn wait_until(&self, what: &str, secs: u64, pred: impl Fn(&DiscordDouble) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if pred(self) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}\n{}",
                self.summary()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until a session is READY and bound to a socket.
    pub async fn wait_ready(&self, secs: u64) {
        self.wait_until("a READY session", secs, |d| d.bound_connection().is_some())
            .await
    }

    /// Waits until `route` has calls satisfying `pred`.
    pub async fn wait_for(
        &self,
        route: &str,
        secs: u64,
        pred: impl Fn(&[Call]) -> bool,
    ) -> Vec<Call> {
        self.wait_until(route, secs, |d| pred(&d.calls_of(route)))
            .await;
        self.calls_of(route)
    }

    /// Waits until at least `n` messages were delivered to `channel_id`.
    pub async fn wait_delivered(&self, channel_id: &str, n: usize, secs: u64) -> Vec<Delivered> {
        self.wait_until(&format!("{n} messages to {channel_id}"), secs, |d| {
            d.delivered(channel_id).len() >= n
        })
        .await;
        self.delivered(channel_id)
    }
}
