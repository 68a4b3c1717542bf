//! Each node's heartbeat in the [`NODES_BUCKET`](super::NODES_BUCKET) KV
//! bucket, and what `openpista cluster status` reads back: nodes, what
//! they serve, and who holds each lease.

use super::{Cluster, LEASES_BUCKET, NODES_BUCKET};
use crate::memory::now_ms;
use anyhow::Result;
use async_nats::jetstream::kv::Operation;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// What a node says of itself in its heartbeat.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NodeInfo {
    pub node: String,
    /// `all`, `edge` or `worker` ([`super::Role`]).
    #[serde(default = "all")]
    pub role: String,
    /// The host's version.
    pub version: String,
    /// The channels it serves, by id.
    pub channels: Vec<String>,
    /// The HTTP listener's address, when it has one.
    pub listen: Option<String>,
    /// When it started and when it last beat, in ms since the Unix epoch
    /// (its own clock: shown, never compared).
    pub started_ms: u64,
    pub beat_ms: u64,
    /// The components it serves, as of its last beat.
    #[serde(default)]
    pub components: Vec<ComponentVersion>,
}

fn all() -> String {
    super::Role::All.as_str().to_string()
}

/// One component a node serves.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ComponentVersion {
    pub name: String,
    pub version: Option<String>,
    /// The content hash the runtime reports.
    pub hash: String,
}

/// The components `runtime` serves now.
pub fn components_of(runtime: &crate::runtime::Runtime) -> Vec<ComponentVersion> {
    runtime
        .status()
        .into_iter()
        .filter(|s| s.state == crate::runtime::SlotState::Active)
        .filter_map(|s| {
            Some(ComponentVersion {
                hash: s.hash?,
                version: s.version,
                name: s.name,
            })
        })
        .collect()
}

/// One lease and its holder.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LeaseInfo {
    pub name: String,
    pub holder: String,
    pub revision: u64,
}

/// One partition of the inbound stream: its owner and its lag.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PartitionInfo {
    pub partition: u32,
    /// The worker holding its lease.
    pub owner: Option<String>,
    /// Events not yet delivered to the owner.
    pub pending: u64,
    /// Events delivered and not yet acknowledged (being answered).
    pub in_flight: u64,
}

/// `openpista cluster status`.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub nodes: Vec<NodeInfo>,
    pub leases: Vec<LeaseInfo>,
    /// Empty until an edge or worker made the inbound stream.
    pub partitions: Vec<PartitionInfo>,
}

/// Writes `info` every third of a lease time until the task is aborted;
/// the key is deleted when [`Heartbeat::stop`] is called.
pub struct Heartbeat {
    task: tokio::task::JoinHandle<()>,
    cluster: Cluster,
}

impl Heartbeat {
    /// Beats `info`, with the components `runtime` serves at each beat
    /// (a beat comes at once after a component changed).
    pub async fn start(
        cluster: &Cluster,
        mut info: NodeInfo,
        runtime: Option<std::sync::Arc<crate::runtime::Runtime>>,
    ) -> Result<Heartbeat> {
        let store = cluster.bucket(NODES_BUCKET).await?;
        info.node = cluster.node.clone();
        info.started_ms = now_ms();
        let every = cluster.lease_ttl / 3;
        let task = tokio::spawn(async move {
            let mut changes = runtime.as_ref().map(|r| r.changes());
            loop {
                info.beat_ms = now_ms();
                if let Some(runtime) = &runtime {
                    info.components = components_of(runtime);
                }
                if let Ok(value) = serde_json::to_vec(&info)
                    && let Err(e) = store.put(&info.node, value.into()).await
                {
                    tracing::warn!("cluster: heartbeat not written: {e}");
                }
                match &mut changes {
                    Some(changes) => {
                        let _ = tokio::time::timeout(every, changes.changed()).await;
                    }
                    None => tokio::time::sleep(every).await,
                }
            }
        });
        Ok(Heartbeat {
            task,
            cluster: cluster.clone(),
        })
    }

    /// Stops beating and removes this node from the status.
    pub async fn stop(self) {
        self.task.abort();
        if let Ok(store) = self.cluster.bucket(NODES_BUCKET).await {
            let _ = tokio::time::timeout(Duration::from_secs(2), store.delete(&self.cluster.node))
                .await;
        }
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads the cluster's status.
pub async fn status(cluster: &Cluster) -> Result<Status> {
    let nodes = nodes(cluster).await?;
    let leases = leases(cluster).await?;
    let partitions = partitions(cluster, &leases).await?;
    Ok(Status {
        nodes,
        leases,
        partitions,
    })
}

/// The nodes alive, by name. A node whose last beat is older than three
/// lease times is left out: it has stopped.
pub async fn nodes(cluster: &Cluster) -> Result<Vec<NodeInfo>> {
    let nodes_store = cluster.bucket(NODES_BUCKET).await?;
    let stale = cluster.lease_ttl * 3;
    let mut nodes = Vec::new();
    for key in keys_of(&nodes_store).await? {
        let Some(entry) = nodes_store.entry(&key).await? else {
            continue;
        };
        if entry.operation != Operation::Put {
            continue;
        }
        // The server stamped the entry; machines in a cluster keep their
        // clocks in step to well under three lease times.
        let written_ms = (entry.created.unix_timestamp_nanos() / 1_000_000).max(0) as u64;
        if now_ms().saturating_sub(written_ms) > stale.as_millis() as u64 {
            continue;
        }
        match serde_json::from_slice::<NodeInfo>(&entry.value) {
            Ok(info) => nodes.push(info),
            Err(e) => tracing::warn!(node = %key, "cluster: unreadable heartbeat: {e}"),
        }
    }
    nodes.sort_by(|a, b| a.node.cmp(&b.node));
    Ok(nodes)
}

/// Every lease held, by name.
pub async fn leases(cluster: &Cluster) -> Result<Vec<LeaseInfo>> {
    let leases_store = cluster.bucket(LEASES_BUCKET).await?;
    let mut leases = Vec::new();
    for key in keys_of(&leases_store).await? {
        if let Some(entry) = leases_store.entry(&key).await?
            && entry.operation == Operation::Put
        {
            leases.push(LeaseInfo {
                name: key,
                holder: super::lease::holder_of(&entry.value),
                revision: entry.revision,
            });
        }
    }
    leases.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(leases)
}

/// The inbound stream's partitions, with owners from `leases`.
async fn partitions(cluster: &Cluster, leases: &[LeaseInfo]) -> Result<Vec<PartitionInfo>> {
    let Ok(mut stream) = cluster
        .jetstream
        .get_stream(super::inbound::IN_STREAM)
        .await
    else {
        return Ok(Vec::new());
    };
    let count = stream
        .info()
        .await?
        .config
        .description
        .as_deref()
        .and_then(|d| d.rsplit("partitions=").next())
        .and_then(|n| n.parse::<u32>().ok())
        .unwrap_or(0);
    let mut out = Vec::new();
    for p in 0..count {
        let owner = leases
            .iter()
            .find(|l| l.name == super::inbound::lease_name(p))
            .map(|l| l.holder.clone());
        let (pending, in_flight) =
            match stream.consumer_info(super::inbound::consumer_name(p)).await {
                Ok(info) => (info.num_pending, info.num_ack_pending as u64),
                // No owner yet: everything on its subject waits.
                Err(_) => (waiting_on(&stream, &super::inbound::in_subject(p)).await, 0),
            };
        out.push(PartitionInfo {
            partition: p,
            owner,
            pending,
            in_flight,
        });
    }
    Ok(out)
}

/// Messages stored on `subject` of `stream`.
async fn waiting_on(stream: &async_nats::jetstream::stream::Stream, subject: &str) -> u64 {
    let Ok(mut subjects) = stream.info_with_subjects(subject).await else {
        return 0;
    };
    match subjects.next().await {
        Some(Ok((_, count))) => count as u64,
        _ => 0,
    }
}

/// The bucket's keys (deleted ones too: their tombstones), from the
/// stream's per-subject counts. The client's `keys()` listing runs a
/// consumer until it has seen everything, which under steady writes (the
/// heartbeats, the leases' renewals) was seen never to end.
pub(crate) async fn keys_of(
    store: &async_nats::jetstream::kv::Store,
) -> Result<std::collections::BTreeSet<String>> {
    let mut subjects = store
        .stream
        .info_with_subjects(format!("{}>", store.prefix))
        .await?;
    let mut all = std::collections::BTreeSet::new();
    while let Some(subject) = subjects.next().await {
        let (subject, _) = subject?;
        if let Some(key) = subject.strip_prefix(store.prefix.as_str()) {
            all.insert(key.to_string());
        }
    }
    Ok(all)
}
