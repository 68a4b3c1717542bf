//! The inbound stream: an edge's channels' events on their way to the
//! workers, partitioned by session.
//!
//! [`Forwarder`] is the gateway's [`Forward`] on an edge. One task
//! publishes the events in the order the channels delivered them, a batch
//! at a time, each with its event id as the stream's deduplication id, so
//! a publish retried after a lost acknowledgement is stored once (within
//! the stream's [`DUPLICATE_WINDOW`]; an event retried after that is
//! marked `retried`, and its worker looks for an earlier attempt).

use super::Cluster;
use super::wire::Envelope;
use crate::gateway::delivery::DeliveryLimits;
use crate::gateway::remote::Forward;
use crate::gateway::{Dispatched, Incoming, Origin};
use anyhow::{Context, Result};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;

/// The stream of inbound events.
pub const IN_STREAM: &str = "OPENPISTA_IN";
/// How long the server remembers an event id to store a retried publish
/// once.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(600);
/// Events waiting to be published before a channel is told the edge is
/// busy.
const BACKLOG: usize = 50_000;
/// Room left in a message for the headers.
const HEADROOM: usize = 1024;

/// The subject of partition `p`.
pub fn in_subject(p: u32) -> String {
    format!("openpista.in.{p}")
}

/// The lease partition `p` is owned under.
pub fn lease_name(p: u32) -> String {
    format!("part.{p}")
}

/// The durable consumer of partition `p`, its owner's.
pub fn consumer_name(p: u32) -> String {
    format!("part-{p}")
}

/// The partition of a conversation's session: FNV-1a, the same on every
/// machine and build.
pub fn partition_of(session: &str, partitions: u32) -> u32 {
    let mut hash: u64 = 0xcbf29ce484222325;
    for byte in session.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x100000001b3);
    }
    (hash % u64::from(partitions.max(1))) as u32
}

/// Makes the inbound stream, or checks that the one there has as many
/// partitions as this node was told: nodes that disagree would send a
/// session's events to two owners.
pub async fn inbound_stream(
    cluster: &Cluster,
    partitions: u32,
) -> Result<async_nats::jetstream::stream::Stream> {
    use async_nats::jetstream::stream::{Config, RetentionPolicy, StorageType};
    let description = format!("openpista inbound events; partitions={partitions}");
    if let Ok(mut stream) = cluster.jetstream.get_stream(IN_STREAM).await {
        let info = stream.info().await?;
        let theirs = info.config.description.clone().unwrap_or_default();
        if theirs != description {
            anyhow::bail!(
                "[cluster] partitions = {partitions}, but the cluster's stream {IN_STREAM} says {theirs:?}: every node must have the same number of partitions"
            );
        }
        return Ok(stream);
    }
    cluster
        .jetstream
        .create_stream(Config {
            name: IN_STREAM.into(),
            description: Some(description),
            subjects: vec!["openpista.in.*".into()],
            // An event leaves the stream when its worker acknowledges it.
            retention: RetentionPolicy::WorkQueue,
            storage: StorageType::File,
            duplicate_window: DUPLICATE_WINDOW,
            max_age: Duration::from_secs(7 * 24 * 3600),
            ..Default::default()
        })
        .await
        .context("cluster: cannot make the inbound stream")
}

/// The gateway's [`Forward`] on an edge.
pub struct Forwarder {
    tx: mpsc::Sender<Envelope>,
    node: String,
    /// The largest message the server takes, less the headers' room.
    max_payload: usize,
    /// Events taken and not yet stored by the server.
    unstored: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Forwarder {
    /// Starts publishing to the inbound stream (made if missing).
    pub async fn start(cluster: &Cluster, partitions: u32) -> Result<Arc<Forwarder>> {
        inbound_stream(cluster, partitions).await?;
        let (tx, rx) = mpsc::channel(BACKLOG);
        let unstored = Arc::new(AtomicUsize::new(0));
        let task = tokio::spawn(publish(cluster.clone(), partitions, rx, unstored.clone()));
        Ok(Arc::new(Forwarder {
            tx,
            node: cluster.node.clone(),
            max_payload: cluster
                .client
                .server_info()
                .max_payload
                .saturating_sub(HEADROOM),
            unstored,
            task,
        }))
    }

    /// Waits (at most `limit`) until every event taken is stored, then
    /// stops publishing: a stopping edge loses none it accepted while the
    /// server is there.
    pub async fn stop(&self, limit: Duration) {
        let until = tokio::time::Instant::now() + limit;
        while self.unstored.load(Ordering::Acquire) > 0 {
            if tokio::time::Instant::now() >= until {
                tracing::warn!(
                    events = self.unstored.load(Ordering::Acquire),
                    "cluster: stopping with events not stored"
                );
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.task.abort();
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Forward for Forwarder {
    fn forward(
        &self,
        origin: Origin,
        event: Incoming,
        limits: DeliveryLimits,
    ) -> Result<Dispatched, String> {
        let id = format!("{}-{:016x}", self.node, rand::random::<u64>());
        let envelope = Envelope::new(id, &self.node, &origin, &event, limits);
        let size = serde_json::to_vec(&envelope).map_or(usize::MAX, |b| b.len());
        if size > self.max_payload {
            return Err(format!(
                "This message is too large for the cluster ({} KiB with its files; the NATS server takes {} KiB): it was not taken. Send smaller files.",
                size / 1024,
                self.max_payload / 1024
            ));
        }
        self.unstored.fetch_add(1, Ordering::AcqRel);
        match self.tx.try_send(envelope) {
            Ok(()) => Ok(Dispatched::Queued),
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.unstored.fetch_sub(1, Ordering::AcqRel);
                tracing::warn!(session = %event.session, "cluster: {BACKLOG} events wait to be published; event refused");
                Err(format!(
                    "Busy: {BACKLOG} messages wait to reach the cluster, so this one was not taken. Send it again in a moment."
                ))
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.unstored.fetch_sub(1, Ordering::AcqRel);
                Ok(Dispatched::Closed)
            }
        }
    }
}

/// Publishes envelopes in order, a batch at a time (all sent, then all
/// acknowledgements awaited); a batch that failed is sent again from its
/// first failure until the server stored it, marked `retried`.
async fn publish(
    cluster: Cluster,
    partitions: u32,
    mut rx: mpsc::Receiver<Envelope>,
    unstored: Arc<AtomicUsize>,
) {
    let mut batch = Vec::new();
    while rx.recv_many(&mut batch, 512).await > 0 {
        let mut backoff = Duration::from_millis(100);
        while !batch.is_empty() {
            match publish_batch(&cluster, partitions, &batch).await {
                Ok(()) => {
                    unstored.fetch_sub(batch.len(), Ordering::AcqRel);
                    batch.clear();
                }
                Err((stored, e)) => {
                    unstored.fetch_sub(stored, Ordering::AcqRel);
                    batch.drain(..stored);
                    // Stored or not, nobody knows: the worker checks.
                    for envelope in &mut batch {
                        envelope.retried = true;
                    }
                    tracing::warn!(
                        waiting = batch.len(),
                        "cluster: events not stored yet ({e}); retrying in {backoff:?}"
                    );
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    }
}

/// Publishes `batch`; on failure, how many at its start were stored.
async fn publish_batch(
    cluster: &Cluster,
    partitions: u32,
    batch: &[Envelope],
) -> std::result::Result<(), (usize, String)> {
    let mut acks = Vec::with_capacity(batch.len());
    for (i, envelope) in batch.iter().enumerate() {
        let payload = serde_json::to_vec(envelope).expect("an envelope serialises");
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(async_nats::header::NATS_MESSAGE_ID, envelope.id.as_str());
        let subject = in_subject(partition_of(&envelope.session, partitions));
        match cluster
            .jetstream
            .publish_with_headers(subject, headers, payload.into())
            .await
        {
            Ok(ack) => acks.push(ack),
            Err(e) => {
                return Err((first_failure(acks, i).await, e.to_string()));
            }
        }
    }
    let sent = acks.len();
    match first_failure(acks, sent).await {
        n if n == sent => Ok(()),
        n => Err((n, "no acknowledgement from the server".into())),
    }
}

/// How many of `acks` succeeded before the first failure (`limit` when
/// all did).
async fn first_failure(
    acks: Vec<async_nats::jetstream::context::PublishAckFuture>,
    limit: usize,
) -> usize {
    for (i, ack) in acks.into_iter().enumerate() {
        if let Err(e) = ack.await {
            tracing::debug!("cluster: publish not acknowledged: {e}");
            return i;
        }
    }
    limit
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_spread_over_partitions_the_same_way_everywhere() {
        // Fixed values: another build or machine must agree.
        assert_eq!(partition_of("web:a", 16), partition_of("web:a", 16));
        assert_eq!(partition_of("", 16), (0xcbf29ce484222325u64 % 16) as u32);
        let mut counts = [0usize; 8];
        for i in 0..8000 {
            counts[partition_of(&format!("web:client-{i}"), 8) as usize] += 1;
        }
        for count in counts {
            assert!((800..1200).contains(&count), "{counts:?}");
        }
        assert_eq!(partition_of("x", 0), 0);
    }
}
