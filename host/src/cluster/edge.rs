//! An edge node's half of the split (`serve --role edge`): its channels'
//! events go to the inbound stream, partitioned by session, and the calls
//! workers make on its channels are carried out here.
//!
//! - [`Forwarder`]: the gateway's [`Forward`]. One task publishes the
//!   events in the order the channels delivered them, each with its event
//!   id as the stream's deduplication id, so a publish retried after a
//!   lost acknowledgement is stored once.
//! - [`serve_calls`]: answers `openpista.out.NODE` (calls for this edge:
//!   the person's connection is here) and, in a queue group,
//!   `openpista.out.any.CHANNEL` (calls any edge serving the channel can
//!   make, such as a Bot API send). A `send` is delivered once per event
//!   and content, cluster-wide: a redone turn's answer is not repeated.

use super::Cluster;
use super::wire::{self, Envelope, Op, OutCall, OutReply};
use crate::gateway::delivery::DeliveryLimits;
use crate::gateway::remote::Forward;
use crate::gateway::{Dispatched, Gateway, Incoming, Origin};
use anyhow::{Context, Result};
use async_nats::jetstream::kv::Store;
use futures::StreamExt;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::sync::mpsc;

/// The stream of inbound events.
pub const IN_STREAM: &str = "OPENPISTA_IN";
/// The KV bucket of answers already delivered: key = event and content.
pub const DELIVERED_BUCKET: &str = "openpista_delivered";
/// How long a delivered answer is remembered (longer than any redelivery).
const DELIVERED_FOR: Duration = Duration::from_secs(24 * 3600);
/// The queue group edges answer `openpista.out.any.*` in.
const EDGES_QUEUE: &str = "openpista-edges";
/// Events waiting to be published before a channel is told the edge is
/// busy.
const BACKLOG: usize = 50_000;

/// The subject of partition `p`.
pub fn in_subject(p: u32) -> String {
    format!("openpista.in.{p}")
}

/// Where calls for edge `node`'s channels go.
pub fn out_subject(node: &str) -> String {
    format!("openpista.out.{node}")
}

/// Where calls any edge serving `channel` can make go.
pub fn any_subject(channel: &str) -> String {
    format!("openpista.out.any.{channel}")
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
            duplicate_window: Duration::from_secs(120),
            max_age: Duration::from_secs(7 * 24 * 3600),
            ..Default::default()
        })
        .await
        .context("cluster: cannot make the inbound stream")
}

/// The gateway's [`Forward`] on an edge.
pub struct Forwarder {
    tx: mpsc::Sender<Envelope>,
    /// Events taken and not yet stored by the server.
    unstored: Arc<std::sync::atomic::AtomicUsize>,
    node: String,
    partitions: u32,
    task: tokio::task::JoinHandle<()>,
}

impl Forwarder {
    /// Starts publishing to the inbound stream (made if missing).
    pub async fn start(cluster: &Cluster, partitions: u32) -> Result<Arc<Forwarder>> {
        inbound_stream(cluster, partitions).await?;
        let (tx, rx) = mpsc::channel(BACKLOG);
        let unstored = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let task = tokio::spawn(publish(cluster.clone(), partitions, rx, unstored.clone()));
        Ok(Arc::new(Forwarder {
            tx,
            unstored,
            node: cluster.node.clone(),
            partitions,
            task,
        }))
    }

    /// The partition `session` goes to.
    pub fn partition(&self, session: &str) -> u32 {
        partition_of(session, self.partitions)
    }

    /// Waits (at most `limit`) until every event taken is stored: a
    /// stopping edge loses none it accepted while the server is there.
    pub async fn drain(&self, limit: Duration) {
        let until = tokio::time::Instant::now() + limit;
        while self.unstored.load(std::sync::atomic::Ordering::Acquire) > 0 {
            if tokio::time::Instant::now() >= until {
                tracing::warn!(
                    events = self.unstored.load(std::sync::atomic::Ordering::Acquire),
                    "cluster: stopping with events not stored"
                );
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Forward for Forwarder {
    fn forward(&self, origin: Origin, event: Incoming, limits: DeliveryLimits) -> Dispatched {
        let id = format!("{}-{:016x}", self.node, rand::random::<u64>());
        let envelope = Envelope::new(id, &self.node, &origin, &event, limits);
        self.unstored
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        match self.tx.try_send(envelope) {
            Ok(()) => Dispatched::Queued,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.unstored
                    .fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
                tracing::warn!(session = %event.session, "cluster: {BACKLOG} events wait to be published; event refused");
                Dispatched::Busy
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.unstored
                    .fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
                Dispatched::Closed
            }
        }
    }
}

/// Publishes envelopes in order, a batch at a time (all sent, then all
/// acknowledgements awaited); a batch that failed is sent again from its
/// first failure until the server stored it.
async fn publish(
    cluster: Cluster,
    partitions: u32,
    mut rx: mpsc::Receiver<Envelope>,
    unstored: Arc<std::sync::atomic::AtomicUsize>,
) {
    use std::sync::atomic::Ordering;
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

/// Carries out workers' calls on this edge's channels until aborted.
pub async fn serve_calls(
    cluster: &Cluster,
    gateway: &Arc<Gateway>,
    channels: &[String],
) -> Result<tokio::task::JoinHandle<()>> {
    let delivered = cluster
        .bucket_with_age(DELIVERED_BUCKET, DELIVERED_FOR)
        .await?;
    let mut subscriptions = vec![cluster.client.subscribe(out_subject(&cluster.node)).await?];
    for channel in channels {
        subscriptions.push(
            cluster
                .client
                .queue_subscribe(any_subject(channel), EDGES_QUEUE.into())
                .await?,
        );
    }
    let mut calls = futures::stream::select_all(subscriptions);
    let edge = Arc::new(Edge {
        client: cluster.client.clone(),
        gateway: Arc::downgrade(gateway),
        delivered,
        answered: Mutex::new(std::collections::HashSet::new()),
    });
    Ok(tokio::spawn(async move {
        while let Some(message) = calls.next().await {
            let edge = edge.clone();
            // A worker awaits each call's reply, so one turn's calls come
            // one at a time and in order; different turns run side by side.
            tokio::spawn(async move {
                let result = match serde_json::from_slice::<OutCall>(&message.payload) {
                    Ok(call) => edge.carry_out(call).await,
                    Err(e) => Err(format!("malformed call on {}: {e}", message.subject)),
                };
                if let Err(why) = &result {
                    tracing::warn!("cluster: call not carried out: {why}");
                }
                if let Some(reply) = message.reply {
                    let body = serde_json::to_vec(&OutReply { result }).expect("serialises");
                    let _ = edge.client.publish(reply, body.into()).await;
                }
            });
        }
    }))
}

struct Edge {
    client: async_nats::Client,
    gateway: Weak<Gateway>,
    delivered: Store,
    /// Events whose answer this edge delivered: their late deltas (a
    /// redone turn's) are dropped. Cleared when large.
    answered: Mutex<std::collections::HashSet<String>>,
}

/// The key under which a `send` of `event` with this content is marked
/// delivered.
fn delivered_key(event: &str, text: &str, is_error: bool) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::new()
        .chain_update(text.as_bytes())
        .chain_update([u8::from(is_error)])
        .finalize();
    format!(
        "{}.{}",
        event.replace(
            |c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '_',
            "_"
        ),
        hex::encode(&digest[..12])
    )
}

impl Edge {
    async fn carry_out(&self, call: OutCall) -> std::result::Result<bool, String> {
        let gateway = self.gateway.upgrade().ok_or("the edge is stopping")?;
        let d = gateway
            .local_delivery(&call.channel)
            .ok_or_else(|| format!("channel {} does not run on this edge", call.channel))?;
        let conversation = call.conversation.as_str();
        let failed = |e: crate::runtime::CallError| e.to_string();
        match call.op {
            Op::Send {
                text,
                attachments,
                is_error,
            } => {
                let key = call
                    .event
                    .as_deref()
                    .map(|event| delivered_key(event, &text, is_error));
                if let Some(key) = &key {
                    match self.delivered.create(key, bytes::Bytes::new()).await {
                        Ok(_) => {}
                        Err(e)
                            if e.kind()
                                == async_nats::jetstream::kv::CreateErrorKind::AlreadyExists =>
                        {
                            tracing::info!(event = ?call.event, "cluster: answer already delivered; not repeated");
                            return Ok(true);
                        }
                        Err(e) => return Err(format!("cannot mark the answer delivered: {e}")),
                    }
                }
                let sent = d
                    .send(wire::outbound(conversation, text, attachments, is_error))
                    .await;
                match sent {
                    Ok(()) => {
                        if let Some(event) = call.event {
                            let mut answered = self.answered.lock().unwrap();
                            if answered.len() > 100_000 {
                                answered.clear();
                            }
                            answered.insert(event);
                        }
                        Ok(true)
                    }
                    // The mark stays: a channel that failed may still have
                    // sent it (a deadline passed after the frame went out),
                    // and once is the promise. The answer is in memory.
                    Err(e) => Err(failed(e)),
                }
            }
            Op::Delta { text } => {
                if let Some(event) = &call.event
                    && self.answered.lock().unwrap().contains(event)
                {
                    return Ok(false);
                }
                d.delta(conversation, &text).await.map_err(failed)?;
                Ok(true)
            }
            Op::Status { kind } => {
                let kind = wire::status_kind(&kind).ok_or("unknown status kind")?;
                d.status(conversation, kind).await.map_err(failed)?;
                Ok(true)
            }
            Op::AskApproval {
                id,
                tool,
                arguments,
                folder,
                requester,
                timeout_secs,
            } => {
                let request =
                    wire::approval_request(id, tool, arguments, folder, requester, timeout_secs);
                d.ask_approval(conversation, &request).await.map_err(failed)
            }
            Op::Offer { text, buttons } => d
                .offer(conversation, &text, &wire::buttons(buttons))
                .await
                .map_err(failed),
            Op::ApprovalSettled { id, how } => {
                let how = wire::settlement(&how).ok_or("unknown settlement")?;
                d.approval_settled(conversation, &id, how).await;
                Ok(true)
            }
            Op::ShowSessions { entries } => d
                .show_sessions(conversation, &wire::session_entries(entries))
                .await
                .map_err(failed),
            Op::SessionOpened { title, history } => d
                .session_opened(conversation, &title, &wire::history(history))
                .await
                .map_err(failed),
        }
    }
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

    #[test]
    fn delivered_keys_are_valid_kv_keys_and_differ_by_content() {
        let a = delivered_key("edge-a-ABC", "hello", false);
        let b = delivered_key("edge-a-ABC", "hello", true);
        let c = delivered_key("edge-a-ABC", "hullo", false);
        assert!(a != b && a != c);
        let weird = delivered_key("e.v/e n*t", "x", false);
        assert!(
            weird
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)),
            "{weird}"
        );
    }
}
