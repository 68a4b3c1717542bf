//! A worker's half of the split (`serve --role worker`): the partitions
//! of the inbound stream it owns, and their events handled by its
//! gateway.
//!
//! Partition `P` is owned by the holder of lease `part.P`. Owning it
//! means owning its durable consumer `part-P`: a node that takes the
//! lease deletes the consumer and makes it again, so every event the last
//! owner did not acknowledge is delivered at once, in stream order (the
//! stream is a work queue: an acknowledged event is gone). An event is
//! acknowledged only once the gateway has handled it: the answer stored
//! and delivered, or its sender told why not. A long turn keeps its event
//! with progress acknowledgements.
//!
//! Spreading: each worker takes free partitions only while it owns fewer
//! than its share (partitions / live workers, rounded up), and lets one go
//! per look while it owns more, after the events it is handling from it
//! are done. A partition whose owner stopped renewing its lease is taken
//! over by any worker (shares are evened out afterwards), so a dead
//! worker's sessions wait about a lease time, not a heartbeat timeout.

use super::Cluster;
use super::edge::{in_subject, inbound_stream, partition_of};
use super::lease::Lease;
use super::wire::Envelope;
use crate::gateway::{Dispatched, Gateway};
use anyhow::Result;
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
/// How long a worker letting a partition go waits for its events in
/// flight to be handled.
const HANDOFF_WAIT: Duration = Duration::from_secs(30);

/// The lease partition `p` is owned under.
pub fn lease_name(p: u32) -> String {
    format!("part.{p}")
}

/// The durable consumer of partition `p`.
pub fn consumer_name(p: u32) -> String {
    format!("part-{p}")
}

/// The partitions this worker wants, owns and consumes.
pub struct Partitions {
    task: tokio::task::JoinHandle<()>,
    stop: watch::Sender<bool>,
    done: tokio::sync::oneshot::Receiver<()>,
}

/// One partition as this worker sees it.
struct Part {
    p: u32,
    lease: Option<Lease>,
    /// Pulling its events, while owned.
    consumer: Option<(tokio::task::JoinHandle<()>, watch::Sender<bool>)>,
    in_flight: Arc<AtomicUsize>,
}

struct Worker {
    cluster: Cluster,
    gateway: Arc<Gateway>,
    stream: async_nats::jetstream::stream::Stream,
    take_free: Arc<AtomicBool>,
    count: u32,
}

impl Partitions {
    /// Starts wanting the `count` partitions of the inbound stream (made
    /// if missing) and handling the events of those it owns.
    pub async fn start(cluster: &Cluster, gateway: Arc<Gateway>, count: u32) -> Result<Partitions> {
        let stream = inbound_stream(cluster, count).await?;
        let worker = Worker {
            cluster: cluster.clone(),
            gateway,
            stream,
            take_free: Arc::new(AtomicBool::new(true)),
            count,
        };
        let mut parts = Vec::new();
        for p in 0..count {
            parts.push(Part {
                p,
                lease: Some(worker.want(p).await?),
                consumer: None,
                in_flight: Arc::new(AtomicUsize::new(0)),
            });
        }
        let (stop, stopped) = watch::channel(false);
        let (finished, done) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(async move {
            worker.run(parts, stopped).await;
            let _ = finished.send(());
        });
        Ok(Partitions { task, stop, done })
    }

    /// Stops taking events, waits (bounded) for those in flight, and lets
    /// the partitions go to the other workers at once.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        if tokio::time::timeout(HANDOFF_WAIT + Duration::from_secs(5), self.done)
            .await
            .is_err()
        {
            self.task.abort();
        }
    }
}

impl Worker {
    async fn want(&self, p: u32) -> Result<Lease> {
        Lease::want_with(&self.cluster, &lease_name(p), Some(self.take_free.clone())).await
    }

    async fn run(self, mut parts: Vec<Part>, mut stopped: watch::Receiver<bool>) {
        let look = self.cluster.lease_ttl / 4;
        loop {
            for part in parts.iter_mut() {
                self.follow(part);
            }
            let owned = parts.iter().filter(|p| p.owned()).count();
            let share = self.share().await;
            self.take_free.store(owned < share, Ordering::Release);
            let extra = owned.saturating_sub(share);
            let giving: Vec<usize> = (0..parts.len())
                .rev()
                .filter(|&i| parts[i].owned())
                .take(extra)
                .collect();
            for i in giving {
                let part = &mut parts[i];
                tracing::info!(
                    partition = part.p,
                    owned,
                    share,
                    "cluster: letting a partition go to a worker with fewer"
                );
                part.hand_off().await;
                match self.want(part.p).await {
                    Ok(lease) => part.lease = Some(lease),
                    Err(e) => {
                        tracing::warn!(partition = part.p, "cluster: cannot want it again: {e:#}")
                    }
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(look) => {}
                _ = stopped.wait_for(|s| *s) => break,
            }
        }
        for part in parts.iter_mut() {
            part.stop_pulling();
        }
        let until = tokio::time::Instant::now() + HANDOFF_WAIT;
        for part in parts.iter_mut() {
            part.wait_idle(until).await;
            if let Some(lease) = part.lease.take() {
                lease.release().await;
            }
        }
    }

    /// Partitions per live worker, rounded up.
    async fn share(&self) -> usize {
        let live = match super::nodes::nodes(&self.cluster).await {
            Ok(nodes) => nodes
                .iter()
                .filter(|n| n.role == super::Role::Worker.as_str())
                .count(),
            Err(e) => {
                tracing::debug!("cluster: nodes unreadable: {e:#}");
                1
            }
        };
        (self.count as usize).div_ceil(live.max(1))
    }

    /// Starts pulling a partition just taken; stops one just lost.
    fn follow(&self, part: &mut Part) {
        let owned = part.owned();
        if let Some((task, _)) = &part.consumer
            && (task.is_finished() || !owned)
        {
            part.stop_pulling();
        }
        if owned && part.consumer.is_none() {
            let (stop, stopped) = watch::channel(false);
            let held = part.lease.as_ref().expect("owned").held();
            let task = tokio::spawn(consume(
                self.stream.clone(),
                self.gateway.clone(),
                (part.p, self.count),
                held,
                stopped,
                part.in_flight.clone(),
            ));
            part.consumer = Some((task, stop));
        }
    }
}

impl Part {
    fn owned(&self) -> bool {
        self.lease.as_ref().is_some_and(|l| *l.held().borrow())
    }

    fn stop_pulling(&mut self) {
        if let Some((task, stop)) = self.consumer.take() {
            let _ = stop.send(true);
            // The task ends on its own at the signal; a stuck one is cut.
            tokio::spawn(async move {
                if tokio::time::timeout(Duration::from_secs(5), task)
                    .await
                    .is_err()
                {
                    tracing::warn!("cluster: a partition's consumer did not stop in time");
                }
            });
        }
    }

    async fn wait_idle(&self, until: tokio::time::Instant) {
        while self.in_flight.load(Ordering::Acquire) > 0 && tokio::time::Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops pulling, lets the events in flight finish (bounded), then
    /// deletes the lease so another worker takes the partition at once.
    async fn hand_off(&mut self) {
        self.stop_pulling();
        self.wait_idle(tokio::time::Instant::now() + HANDOFF_WAIT)
            .await;
        if let Some(lease) = self.lease.take() {
            lease.release().await;
        }
    }
}

/// Pulls partition `p`'s events into `gateway` while `held` and not
/// `stopped`; each is acknowledged once handled.
async fn consume(
    stream: async_nats::jetstream::stream::Stream,
    gateway: Arc<Gateway>,
    (p, count): (u32, u32),
    mut held: watch::Receiver<bool>,
    mut stopped: watch::Receiver<bool>,
    in_flight: Arc<AtomicUsize>,
) {
    let name = consumer_name(p);
    // Events up to this sequence may have reached the last owner: only
    // they are looked up in memory for an earlier attempt.
    let mut seen_before = 0;
    let consumer = async {
        // A new owner starts from the first event nobody acknowledged.
        let _ = stream.delete_consumer(&name).await;
        seen_before = stream.get_info().await?.state.last_sequence;
        stream
            .create_consumer(pull::Config {
                durable_name: Some(name.clone()),
                filter_subject: in_subject(p),
                ack_policy: async_nats::jetstream::consumer::AckPolicy::Explicit,
                ack_wait: ACK_WAIT,
                max_ack_pending: MAX_IN_FLIGHT,
                ..Default::default()
            })
            .await?
            .messages()
            .await
            .map_err(anyhow::Error::from)
    };
    let mut messages = match consumer.await {
        Ok(messages) => messages,
        Err(e) => {
            tracing::warn!(
                partition = p,
                "cluster: cannot consume the partition: {e:#}"
            );
            // The manager starts it again at its next look.
            return;
        }
    };
    tracing::info!(partition = p, "cluster: consuming partition");
    loop {
        let message = tokio::select! {
            message = messages.next() => message,
            _ = held.wait_for(|h| !*h) => {
                // Lost, not handed over: another worker owns these
                // sessions now, and must be the only one answering them.
                let dropped = gateway.abandon(|session| partition_of(session, count) == p);
                tracing::warn!(partition = p, sessions = dropped, "cluster: partition lost; its sessions' turns here are dropped");
                break;
            }
            _ = stopped.wait_for(|s| *s) => break,
        };
        let message = match message {
            Some(Ok(message)) => message,
            Some(Err(e)) => {
                tracing::debug!(partition = p, "cluster: pull: {e}");
                continue;
            }
            None => break,
        };
        let redelivered = message
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
        let (mut origin, event) = envelope.into_event();
        if let Some(via) = &mut origin.via {
            via.redelivered = redelivered;
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
