//! Pulling one owned partition's events into the worker's gateway, and
//! acknowledging each once it is handled ([`super::partitions`] decides
//! which partitions a worker owns).

use super::inbound::{consumer_name, in_subject, partition_of};
use super::wire::Envelope;
use crate::gateway::{Dispatched, Gateway};
use async_nats::jetstream::AckKind;
use async_nats::jetstream::consumer::pull;
use futures::StreamExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::watch;

/// How long an event may go without an acknowledgement (or a progress
/// one) before the server delivers it again.
const ACK_WAIT: Duration = Duration::from_secs(60);
/// Events of one partition delivered and not yet acknowledged, at most.
const MAX_IN_FLIGHT: i64 = 10_000;

/// Event ids this worker handled lately, to recognise one the server
/// delivers again with no sign of it (a restarted server can forget an
/// acknowledgement it had taken: the event then comes back as new).
#[derive(Default)]
pub(super) struct Recent {
    order: std::collections::VecDeque<String>,
    ids: std::collections::HashSet<String>,
}

impl Recent {
    const KEEP: usize = 100_000;

    /// Notes `id`; true when it was noted before.
    fn seen(&mut self, id: &str) -> bool {
        if self.ids.contains(id) {
            return true;
        }
        if self.order.len() >= Self::KEEP
            && let Some(old) = self.order.pop_front()
        {
            self.ids.remove(&old);
        }
        self.order.push_back(id.to_string());
        self.ids.insert(id.to_string());
        false
    }
}

/// One partition's consumer loop and what it shares with the manager.
pub(super) struct Consume {
    pub stream: async_nats::jetstream::stream::Stream,
    pub gateway: Arc<Gateway>,
    pub p: u32,
    pub count: u32,
    /// The partition's lease: the loop ends when it turns false.
    pub held: watch::Receiver<bool>,
    /// Set by the manager to stop pulling (a hand-over, a shutdown).
    pub stopped: watch::Receiver<bool>,
    /// Events dispatched and not yet handled.
    pub in_flight: Arc<AtomicUsize>,
    /// Just taken: remake the consumer, so what the last owner did not
    /// acknowledge comes at once. False when this node goes on with a
    /// consumer it already had (its own events in flight are not sent to
    /// it a second time).
    pub fresh: bool,
    /// Set when the loop ended because the lease was lost.
    pub lost: Arc<AtomicBool>,
    /// The worker's recently handled events.
    pub recent: Arc<std::sync::Mutex<Recent>>,
}

impl Consume {
    /// Pulls the partition's events into the gateway until the lease is
    /// lost (its sessions' work here is then dropped: the new owner
    /// answers them) or the manager stops it.
    pub async fn run(self) {
        let Consume {
            stream,
            gateway,
            p,
            count,
            mut held,
            mut stopped,
            in_flight,
            fresh,
            lost,
            recent,
        } = self;
        let (mut messages, seen_before) = match open(&stream, p, fresh).await {
            Ok(opened) => opened,
            Err(e) => {
                tracing::warn!(
                    partition = p,
                    "cluster: cannot consume the partition: {e:#}"
                );
                // The manager starts it again at its next look.
                return;
            }
        };
        tracing::info!(partition = p, fresh, "cluster: consuming partition");
        loop {
            let message = tokio::select! {
                biased;
                _ = held.wait_for(|h| !*h) => {
                    // Lost, not handed over: another worker owns these
                    // sessions now, and must be the only one answering them.
                    lost.store(true, Ordering::Release);
                    let dropped = gateway.abandon(|session| partition_of(session, count) == p);
                    tracing::warn!(partition = p, sessions = dropped, "cluster: partition lost; its sessions' turns here are dropped");
                    break;
                }
                _ = stopped.wait_for(|s| *s) => break,
                message = messages.next() => message,
            };
            let message = match message {
                Some(Ok(message)) => message,
                Some(Err(e)) => {
                    tracing::debug!(partition = p, "cluster: pull: {e}");
                    continue;
                }
                None => break,
            };
            // Events up to `seen_before` may have reached the last owner,
            // and one delivered again may have reached this one: only
            // those are looked up in memory for an earlier attempt.
            let again = message
                .info()
                .map(|i| i.stream_sequence <= seen_before || i.delivered > 1)
                .unwrap_or(true);
            let (message, acker) = message.split();
            let envelope = match serde_json::from_slice::<Envelope>(&message.payload) {
                Ok(envelope) => envelope,
                Err(e) => {
                    tracing::warn!(partition = p, subject = %message.subject, "cluster: malformed event dropped: {e}");
                    let _ = acker.ack_with(AckKind::Term).await;
                    continue;
                }
            };
            let seen = recent.lock().unwrap().seen(&envelope.id);
            let (mut origin, event) = envelope.into_event();
            if let Some(via) = &mut origin.via {
                via.redelivered |= again || seen;
            }
            let (done, handled) = tokio::sync::oneshot::channel();
            match gateway.dispatch_tracked(origin, event, done) {
                Dispatched::Queued | Dispatched::Busy => {}
                Dispatched::Foreign => {
                    let _ = acker.ack_with(AckKind::Term).await;
                    continue;
                }
                // Stopping: the next owner gets it.
                Dispatched::Closed => continue,
            }
            in_flight.fetch_add(1, Ordering::AcqRel);
            let in_flight = in_flight.clone();
            tokio::spawn(async move {
                tokio::pin!(handled);
                loop {
                    tokio::select! {
                        result = &mut handled => {
                            if result.is_ok()
                                && let Err(e) = acker.ack().await
                            {
                                tracing::warn!("cluster: event handled but not acknowledged: {e}");
                            }
                            break;
                        }
                        _ = tokio::time::sleep(ACK_WAIT / 3) => {
                            let _ = acker.ack_with(AckKind::Progress).await;
                        }
                    }
                }
                in_flight.fetch_sub(1, Ordering::AcqRel);
            });
        }
        tracing::info!(partition = p, "cluster: stopped consuming partition");
    }
}

/// The partition's message stream, and the last stream sequence the
/// previous owner can have seen (0 when the consumer was kept).
async fn open(
    stream: &async_nats::jetstream::stream::Stream,
    p: u32,
    fresh: bool,
) -> anyhow::Result<(pull::Stream, u64)> {
    let name = consumer_name(p);
    let mut seen_before = 0;
    if fresh {
        // A new owner starts from the first event nobody acknowledged;
        // a consumer that would not go would hold those back behind newer
        // ones, so it must be gone before going on.
        let _ = stream.delete_consumer(&name).await;
        if stream.consumer_info(&name).await.is_ok() {
            anyhow::bail!("consumer {name} could not be deleted");
        }
        seen_before = stream.get_info().await?.state.last_sequence;
    }
    let consumer = stream
        .create_consumer(pull::Config {
            durable_name: Some(name.clone()),
            filter_subject: in_subject(p),
            ack_policy: async_nats::jetstream::consumer::AckPolicy::Explicit,
            ack_wait: ACK_WAIT,
            max_ack_pending: MAX_IN_FLIGHT,
            ..Default::default()
        })
        .await?;
    Ok((consumer.messages().await?, seen_before))
}

#[cfg(test)]
mod tests {
    #[test]
    fn recent_events_are_recognised_and_the_oldest_forgotten() {
        let mut recent = super::Recent::default();
        assert!(!recent.seen("a"));
        assert!(recent.seen("a"));
        for i in 0..super::Recent::KEEP {
            recent.seen(&i.to_string());
        }
        assert!(!recent.seen("a"), "the oldest is forgotten");
        assert_eq!(recent.ids.len(), super::Recent::KEEP);
    }
}
