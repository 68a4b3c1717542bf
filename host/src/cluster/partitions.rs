//! A worker's half of the split (`serve --role worker`): the partitions
//! of the inbound stream it owns, and their events handled by its
//! gateway.
//!
//! Partition `P` is owned by the holder of lease `part.P`. Owning it
//! means owning its durable consumer `part-P` ([`super::consumer`]): a
//! node that takes the lease deletes the consumer and makes it again, so
//! every event the last owner did not acknowledge is delivered at once,
//! in stream order (the stream is a work queue: an acknowledged event is
//! gone).
//!
//! Spreading: each worker takes free partitions only while it owns fewer
//! than its share (partitions / live workers, rounded up), and lets one go
//! per look while it owns more, after the events it is handling from it
//! are done (or dropped, past a bound, for the next owner to redo). A partition whose owner stopped renewing its lease is taken
//! over by any worker (shares are evened out afterwards), so a dead
//! worker's sessions wait about a lease time, not a heartbeat timeout.

use super::Cluster;
use super::consumer::Consume;
use super::inbound::{inbound_stream, lease_name, partition_of};
use super::lease::Lease;
use crate::gateway::Gateway;
use anyhow::Result;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::watch;

/// How long a worker letting a partition go waits for its events in
/// flight to be handled.
const HANDOFF_WAIT: Duration = Duration::from_secs(30);

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
    /// This node has pulled from the partition's consumer since it took
    /// the lease (a restarted loop goes on with that consumer).
    pulled: bool,
    /// Set by the loop when the lease was lost under it.
    lost: Arc<AtomicBool>,
}

struct Worker {
    recent: Arc<std::sync::Mutex<super::consumer::Recent>>,
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
            recent: Arc::default(),
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
                pulled: false,
                lost: Arc::new(AtomicBool::new(false)),
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
            // One a look: the others keep being followed meanwhile.
            if owned > share
                && let Some(part) = parts.iter_mut().rev().find(|p| p.owned())
            {
                tracing::info!(
                    partition = part.p,
                    owned,
                    share,
                    "cluster: letting a partition go to a worker with fewer"
                );
                self.hand_off(part, tokio::time::Instant::now() + HANDOFF_WAIT)
                    .await;
                match self.want(part.p).await {
                    Ok(lease) => part.lease = Some(lease),
                    Err(e) => {
                        tracing::warn!(partition = part.p, "cluster: cannot want it again: {e:#}")
                    }
                }
            }
            // A lease taken or lost is followed at once (a new owner's
            // consumer starts without waiting for the next look).
            let mut leases: Vec<watch::Receiver<bool>> = parts
                .iter()
                .filter_map(|p| p.lease.as_ref().map(Lease::held))
                .collect();
            let changed = async {
                if leases.is_empty() {
                    std::future::pending::<()>().await;
                }
                let (changed, ..) = futures::future::select_all(
                    leases.iter_mut().map(|held| Box::pin(held.changed())),
                )
                .await;
                if changed.is_err() {
                    // A keeper gone (shutting down): the look is enough.
                    std::future::pending::<()>().await;
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(look) => {}
                _ = changed => {}
                _ = stopped.wait_for(|s| *s) => break,
            }
        }
        for part in parts.iter_mut() {
            part.stop_pulling();
        }
        let until = tokio::time::Instant::now() + HANDOFF_WAIT;
        for part in parts.iter_mut() {
            self.hand_off(part, until).await;
        }
    }

    /// Stops pulling, lets the events in flight finish (until `until`;
    /// what is still running then is dropped, so the next owner is the
    /// only one answering), then deletes the lease so another worker
    /// takes the partition at once.
    async fn hand_off(&self, part: &mut Part, until: tokio::time::Instant) {
        part.stop_pulling();
        part.wait_idle(until).await;
        if part.in_flight.load(Ordering::Acquire) > 0 {
            let p = part.p;
            let dropped = self
                .gateway
                .abandon(|session| partition_of(session, self.count) == p);
            tracing::warn!(
                partition = p,
                sessions = dropped,
                "cluster: handing over with turns still running; they are dropped here and redone by the next owner"
            );
        }
        part.pulled = false;
        if let Some(lease) = part.lease.take() {
            lease.release().await;
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
        if !owned || part.lost.swap(false, Ordering::AcqRel) {
            part.pulled = false;
        }
        if let Some((task, _)) = &part.consumer
            && (task.is_finished() || !owned)
        {
            part.stop_pulling();
        }
        if owned && part.consumer.is_none() {
            let (stop, stopped) = watch::channel(false);
            let consume = Consume {
                stream: self.stream.clone(),
                gateway: self.gateway.clone(),
                p: part.p,
                count: self.count,
                held: part.lease.as_ref().expect("owned").held(),
                stopped,
                in_flight: part.in_flight.clone(),
                fresh: !part.pulled,
                lost: part.lost.clone(),
                recent: self.recent.clone(),
            };
            part.pulled = true;
            part.consumer = Some((tokio::spawn(consume.run()), stop));
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
}
