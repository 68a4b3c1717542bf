//! Waiting for the component: polling until a condition holds, and on a
//! timeout a panic that lists everything the double saw.

use std::time::{Duration, Instant};

use super::{Ack, Call, Posted, SlackDouble};

impl SlackDouble {
    /// Everything the double saw, for failure messages.
    pub fn summary(&self) -> String {
        let calls: Vec<String> = self
            .calls()
            .iter()
            .map(|c| {
                format!(
                    "{} ({}) -> {} {} {}",
                    c.method,
                    c.encoding,
                    c.status,
                    c.error.as_deref().unwrap_or("ok"),
                    c.params
                )
            })
            .collect();
        let events: Vec<String> = self
            .socket_events()
            .iter()
            .map(|(_, e)| format!("{e:?}"))
            .collect();
        format!(
            "counters: {:?}\nWeb API calls: {calls:#?}\nsocket: {events:#?}",
            self.counters()
        )
    }

    /// Waits until `pred` holds (at most `secs`), polling every 20 ms;
    /// panics naming `what` with everything the double saw.
    pub async fn wait_until(&self, what: &str, secs: u64, pred: impl Fn(&SlackDouble) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if pred(self) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "timed out after {secs} s waiting for {what}\n{}",
                self.summary()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until `method` has calls satisfying `pred`; returns them.
    pub async fn wait_for(
        &self,
        method: &str,
        secs: u64,
        pred: impl Fn(&[Call]) -> bool,
    ) -> Vec<Call> {
        self.wait_until(method, secs, |d| pred(&d.calls_of(method)))
            .await;
        self.calls_of(method)
    }

    /// Waits until at least `n` messages were posted to `channel`.
    pub async fn wait_posted(&self, channel: &str, n: usize, secs: u64) -> Vec<Posted> {
        self.wait_until(&format!("{n} messages in {channel}"), secs, |d| {
            d.posted(channel).len() >= n
        })
        .await;
        self.posted(channel)
    }

    /// Waits until `n` sockets were upgraded and the newest is open.
    pub async fn wait_connected(&self, n: u32, secs: u64) -> u64 {
        self.wait_until(&format!("socket connection #{n}"), secs, |d| {
            let s = &d.state.lock().unwrap().socket;
            s.counters.connections >= n
                && s.conns.keys().next_back().is_some_and(|c| *c >= n as u64)
        })
        .await;
        *self.open_connections().last().unwrap()
    }

    /// Waits for the acknowledgement of `envelope_id`.
    pub async fn wait_ack(&self, envelope_id: &str, secs: u64) -> Ack {
        self.wait_until(&format!("the ack of {envelope_id}"), secs, |d| {
            d.acks().iter().any(|a| a.envelope_id == envelope_id)
        })
        .await;
        self.acks()
            .into_iter()
            .find(|a| a.envelope_id == envelope_id)
            .unwrap()
    }
}
