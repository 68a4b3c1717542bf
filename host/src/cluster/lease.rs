//! Leases: work that must run once in the cluster runs on the node that
//! holds its lease.
//!
//! A lease is a key in the [`LEASES_BUCKET`](super::LEASES_BUCKET) KV
//! bucket whose value is the holder's node name and a nonce new for each
//! acquisition (`NODE/NONCE`). The holder renews it
//! (a compare-and-set on the key's revision) several times per time to
//! live. Nobody compares clocks across machines:
//! - a **contender** takes the key over (compare-and-set on the revision
//!   it saw) only after seeing the same revision for a whole time to live
//!   on its own monotonic clock;
//! - a **holder** gives up the work when a time to live has passed, on its
//!   own clock, since it *sent* its last successful renewal.
//!
//! The renewal was written after it was sent, and the contender first saw
//! it after it was written, so the holder always stops before a contender
//! starts. A holder that stops cleanly deletes the key, and the next one
//! takes it at once. A killed holder's lease passes after one to about one
//! and a quarter times to live (the contender looks four times per time to
//! live).

use super::Cluster;
use anyhow::Result;
use async_nats::jetstream::kv::{Operation, Store};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// A lease this node wants: whether it holds it now, in [`Lease::held`].
/// Dropping it stops wanting it (and lets it go, when held, without
/// waiting for the deletion).
pub struct Lease {
    name: String,
    held: watch::Receiver<bool>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Lease {
    /// Starts contending for lease `name` (letters, digits, `-`, `_`, `.`).
    pub async fn want(cluster: &Cluster, name: &str) -> Result<Lease> {
        Self::want_with(cluster, name, None).await
    }

    /// [`want`](Self::want), taking a free lease (never taken, or let go)
    /// only while `take_free` is true; one whose holder stopped renewing
    /// is taken over regardless, so work never waits on a dead node. The
    /// partitions of the inbound stream spread over workers this way.
    pub async fn want_with(
        cluster: &Cluster,
        name: &str,
        take_free: Option<Arc<AtomicBool>>,
    ) -> Result<Lease> {
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            anyhow::bail!("lease name {name:?}: letters, digits, '-', '_' and '.' only");
        }
        let store = cluster.bucket(super::LEASES_BUCKET).await?;
        let (tx, held) = watch::channel(false);
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let keeper = Keeper {
            store,
            key: name.to_string(),
            node: cluster.node.clone(),
            ttl: cluster.lease_ttl,
            held: tx,
            take_free,
        };
        let task = tokio::spawn(keeper.run(stopped));
        Ok(Lease {
            name: name.to_string(),
            held,
            stop: Some(stop),
            task,
        })
    }

    /// The lease's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// True while this node holds the lease; changes are awaitable
    /// (`wait_for`). Work under the lease stops when it turns false.
    pub fn held(&self) -> watch::Receiver<bool> {
        self.held.clone()
    }

    /// Stops wanting the lease and, when held, deletes it so the next
    /// node takes it at once. Waits for the deletion (bounded).
    pub async fn release(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let task = std::mem::replace(&mut self.task, tokio::spawn(async {}));
        let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            // The keeper deletes the key on its own; nobody waits for it.
            let _ = stop.send(());
        }
    }
}

/// The task behind a [`Lease`].
struct Keeper {
    store: Store,
    key: String,
    node: String,
    ttl: Duration,
    held: watch::Sender<bool>,
    take_free: Option<Arc<AtomicBool>>,
}

impl Keeper {
    async fn run(self, mut stopped: tokio::sync::oneshot::Receiver<()>) {
        loop {
            let (value, revision, sent) = tokio::select! {
                taken = self.acquire() => taken,
                _ = &mut stopped => return,
            };
            tracing::info!(lease = %self.key, node = %self.node, "cluster: lease taken");
            self.held.send_replace(true);
            let (revision, clean) = tokio::select! {
                revision = self.keep(&value, revision, sent) => (revision, false),
                _ = &mut stopped => (None, true),
            };
            self.held.send_replace(false);
            if clean {
                // Let the next holder start at once; only this node's own
                // value is deleted.
                if let Some(revision) = self.current_revision(&value).await {
                    let _ = tokio::time::timeout(
                        self.ttl,
                        self.store.delete_expect_revision(&self.key, Some(revision)),
                    )
                    .await;
                }
                tracing::info!(lease = %self.key, "cluster: lease released");
                return;
            }
            tracing::warn!(lease = %self.key, ?revision, "cluster: lease lost");
        }
    }

    /// The revision of the key now, when this node holds it with `value`.
    async fn current_revision(&self, value: &str) -> Option<u64> {
        match self.store.entry(&self.key).await {
            Ok(Some(entry)) if entry.operation == Operation::Put && entry.value == value => {
                Some(entry.revision)
            }
            _ => None,
        }
    }

    /// Waits until this node holds the key; returns the value written
    /// (`NODE/NONCE`, new for each acquisition), its revision and when the
    /// write was sent.
    async fn acquire(&self) -> (String, u64, Instant) {
        let look = self.ttl / 4;
        // The entry seen (revision and value: a server whose store was
        // wiped counts revisions again), and since when (this node's clock).
        let mut seen: Option<(u64, bytes::Bytes, Instant)> = None;
        loop {
            let value = format!("{}/{:016x}", self.node, rand::random::<u64>());
            let sent = Instant::now();
            let may_take_free = self
                .take_free
                .as_ref()
                .is_none_or(|flag| flag.load(Ordering::Acquire));
            match self.store.entry(&self.key).await {
                Ok(None) if !may_take_free => seen = None,
                Ok(Some(entry)) if entry.operation != Operation::Put && !may_take_free => {
                    seen = None;
                }
                Ok(None) => {
                    if let Ok(revision) = self.store.create(&self.key, value.clone().into()).await {
                        return (value, revision, sent);
                    }
                }
                Ok(Some(entry)) if entry.operation != Operation::Put => {
                    // Deleted by a holder that stopped: free now.
                    if let Ok(revision) = self
                        .store
                        .update(&self.key, value.clone().into(), entry.revision)
                        .await
                    {
                        return (value, revision, sent);
                    }
                }
                Ok(Some(entry)) => match &seen {
                    Some((revision, held_as, since))
                        if *revision == entry.revision
                            && *held_as == entry.value
                            && since.elapsed() >= self.ttl =>
                    {
                        tracing::info!(
                            lease = %self.key,
                            holder = %holder_of(&entry.value),
                            "cluster: the lease's holder stopped renewing; taking it over"
                        );
                        if let Ok(revision) = self
                            .store
                            .update(&self.key, value.clone().into(), entry.revision)
                            .await
                        {
                            return (value, revision, sent);
                        }
                        seen = None;
                    }
                    Some((revision, held_as, _))
                        if *revision == entry.revision && *held_as == entry.value => {}
                    _ => seen = Some((entry.revision, entry.value, Instant::now())),
                },
                Err(e) => {
                    // Unreachable server: whatever was seen may be stale.
                    tracing::warn!(lease = %self.key, "cluster: cannot read lease: {e}");
                    seen = None;
                }
            }
            tokio::time::sleep(look).await;
        }
    }

    /// Renews the key until that fails for good; returns the last revision
    /// written (None when the key was taken by another node). `sent_ok` is
    /// when the write that took it was sent.
    async fn keep(&self, value: &str, mut revision: u64, mut sent_ok: Instant) -> Option<u64> {
        let every = self.ttl / 4;
        loop {
            // Stop before a contender could start (see the module's doc),
            // with a margin for this task's own scheduling: the deadline is
            // checked on waking, however the last renewals went.
            let deadline = sent_ok + self.ttl - self.ttl / 8;
            tokio::time::sleep_until(deadline.min(Instant::now() + every)).await;
            let sent = Instant::now();
            if sent >= deadline {
                return Some(revision);
            }
            let renewal = self
                .store
                .update(&self.key, value.to_string().into(), revision);
            match tokio::time::timeout_at(deadline, renewal).await {
                Ok(Ok(next)) => {
                    revision = next;
                    sent_ok = sent;
                }
                Ok(Err(e))
                    if e.kind()
                        == async_nats::jetstream::kv::UpdateErrorKind::WrongLastRevision =>
                {
                    return None;
                }
                Ok(Err(e)) => {
                    tracing::warn!(lease = %self.key, "cluster: renewal failed: {e}");
                }
                Err(_) => return Some(revision),
            }
        }
    }
}

/// The node named in a lease's value (`NODE/NONCE`).
pub fn holder_of(value: &[u8]) -> String {
    let text = String::from_utf8_lossy(value);
    text.split('/').next().unwrap_or_default().to_string()
}
