//! The conversation store shared by the nodes of a cluster, on JetStream
//! ([`crate::memory::shared::SharedConversations`]):
//! - messages: stream `OPENPISTA_MESSAGES`, one subject per session
//!   (`openpista.msg.HEX(SESSION)`), in the order the server stored them;
//! - sessions: KV bucket `openpista_sessions` (HEX(SESSION) → JSON);
//! - the host's namespaces: KV bucket `openpista_host_kv`
//!   (HEX(NAMESPACE).HEX(KEY) → bytes).
//!
//! Hex keeps any session id or key a valid subject token, and keeps the
//! keys' byte order for listing. The store's calls are synchronous (the
//! memory store's callers are), so it runs its own NATS connection on a
//! thread and runtime of its own: a caller blocks only its own thread,
//! and never a runtime the connection needs to make progress. A call the
//! server does not answer within [`TIMEOUT`] fails with an error that
//! says so. An append that fails after the server stored the message (the
//! answer lost on the way back) leaves it stored: the caller sees an
//! error, the conversation has the message.

use super::{ClusterSettings, Credentials};
use crate::memory::now_ms;
use crate::memory::sessions::{Session, StoredMessage};
use crate::memory::shared::SharedConversations;
use anyhow::{Context, Result, anyhow};
use async_nats::jetstream::{self, kv, stream};
use futures::StreamExt;
use futures::future::BoxFuture;
use std::sync::Arc;
use std::time::Duration;

/// How long a call waits for the server.
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// How many tries a read gets within [`TIMEOUT`].
const READ_TRIES: u32 = 3;

const MESSAGES_STREAM: &str = "OPENPISTA_MESSAGES";
const SESSIONS_BUCKET: &str = "openpista_sessions";
const HOST_KV_BUCKET: &str = "openpista_host_kv";

/// What the store's thread works with.
struct Ctx {
    jetstream: jetstream::Context,
    messages: stream::Stream,
    sessions: kv::Store,
    host_kv: kv::Store,
}

type Job = Box<dyn FnOnce(Arc<Ctx>) -> BoxFuture<'static, ()> + Send>;

/// The JetStream conversation store.
pub struct JetStreamConversations {
    jobs: tokio::sync::mpsc::UnboundedSender<Job>,
    /// The server, for errors.
    nats: String,
}

impl JetStreamConversations {
    /// Connects (on the store's own thread) and makes the stream and
    /// buckets if they are missing.
    pub fn start(settings: &ClusterSettings, credentials: Credentials) -> Result<Self> {
        let nats = settings.nats.clone();
        let settings = settings.clone();
        let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel::<Result<()>>(1);
        let (jobs, mut queue) = tokio::sync::mpsc::unbounded_channel::<Job>();
        std::thread::Builder::new()
            .name("openpista-cluster-memory".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(r) => r,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.into()));
                        return;
                    }
                };
                runtime.block_on(async move {
                    let ctx = match open(&settings, credentials).await {
                        Ok(ctx) => ctx,
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                            return;
                        }
                    };
                    let _ = ready_tx.send(Ok(()));
                    // Calls run side by side: each caller waits for its
                    // own, so one caller's calls stay in its order.
                    let ctx = Arc::new(ctx);
                    while let Some(job) = queue.recv().await {
                        tokio::spawn(job(ctx.clone()));
                    }
                });
            })?;
        ready_rx
            .recv()
            .map_err(|_| anyhow!("cluster memory: the store's thread ended"))??;
        Ok(JetStreamConversations { jobs, nats })
    }

    /// [`call`](Self::call) for work that may be tried again (a read, or
    /// an append with its own deduplication id), within the same bound: a
    /// request in flight when the server went away gets no answer, and the
    /// client notices only at its timeout, while the next try, after the
    /// reconnection, is answered at once.
    fn retrying<T: Send + 'static>(
        &self,
        what: &str,
        work: impl Fn(Arc<Ctx>) -> BoxFuture<'static, Result<T>> + Send + Sync + 'static,
    ) -> Result<T> {
        let work = Arc::new(work);
        self.call(what, move |ctx| {
            Box::pin(async move {
                let each = TIMEOUT / READ_TRIES;
                let mut last = anyhow!("no answer from NATS");
                for attempt in 0..READ_TRIES {
                    if attempt > 0 {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    match tokio::time::timeout(each, work(ctx.clone())).await {
                        Ok(Ok(value)) => return Ok(value),
                        Ok(Err(e)) => last = e,
                        Err(_) => last = anyhow!("no answer from NATS within {each:?}"),
                    }
                }
                Err(last)
            })
        })
    }

    /// Runs `work` on the store's thread and waits for its answer.
    fn call<T: Send + 'static>(
        &self,
        what: &str,
        work: impl FnOnce(Arc<Ctx>) -> BoxFuture<'static, Result<T>> + Send + 'static,
    ) -> Result<T> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let job: Job = Box::new(move |ctx| {
            Box::pin(async move {
                let answer = tokio::time::timeout(TIMEOUT, work(ctx))
                    .await
                    .unwrap_or_else(|_| Err(anyhow!("no answer from NATS within {TIMEOUT:?}")));
                let _ = tx.send(answer);
            })
        });
        self.jobs
            .send(job)
            .map_err(|_| anyhow!("cluster memory: the store's thread ended"))?;
        // Called from a runtime's worker (the gateway, the agent), the wait
        // hands the worker's other tasks to another thread first, so a slow
        // server stalls only this caller, not the leases' keepers.
        let wait = || rx.recv();
        let answer = match tokio::runtime::Handle::try_current() {
            Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(wait)
            }
            _ => wait(),
        };
        answer
            .map_err(|_| anyhow!("cluster memory: the store's thread ended"))?
            .with_context(|| format!("cluster memory: {what} (NATS at {})", self.nats))
    }
}

async fn open(settings: &ClusterSettings, credentials: Credentials) -> Result<Ctx> {
    let mut settings = settings.clone();
    // Its own connection, named apart from the node's.
    settings.node = Some(format!("{}-memory", settings.node_name()));
    let cluster = super::Cluster::connect(&settings, credentials, TIMEOUT).await?;
    let messages = cluster
        .jetstream
        .get_or_create_stream(stream::Config {
            name: MESSAGES_STREAM.into(),
            subjects: vec!["openpista.msg.*".into()],
            storage: stream::StorageType::File,
            num_replicas: 1,
            ..Default::default()
        })
        .await
        .map_err(|e| anyhow!("cannot open stream {MESSAGES_STREAM}: {e}"))?;
    Ok(Ctx {
        jetstream: cluster.jetstream.clone(),
        messages,
        sessions: cluster.bucket(SESSIONS_BUCKET).await?,
        host_kv: cluster.bucket(HOST_KV_BUCKET).await?,
    })
}

/// How many of a session's latest messages its record indexes by stream
/// sequence: a read of up to this many fetches them directly, one request
/// each and all at once, instead of scanning the session's subject.
const RECENT: usize = 256;

/// A session's record in the sessions bucket: the session, and the stream
/// sequences of its latest messages, oldest first.
#[derive(serde::Serialize, serde::Deserialize)]
struct Record {
    #[serde(flatten)]
    session: Session,
    #[serde(default)]
    recent: Vec<u64>,
}

fn subject(session: &str) -> String {
    format!("openpista.msg.{}", hex::encode(session))
}

fn kv_key(namespace: &str, key: &str) -> String {
    format!("{}.{}", hex::encode(namespace), hex::encode(key))
}

/// The session's record and its revision, if it exists.
async fn record_entry(ctx: &Ctx, id: &str) -> Result<Option<(Record, u64)>> {
    match ctx.sessions.entry(hex::encode(id)).await? {
        Some(entry) if entry.operation == kv::Operation::Put => {
            let record = serde_json::from_slice(&entry.value)
                .with_context(|| format!("the record of session {id} is unreadable"))?;
            Ok(Some((record, entry.revision)))
        }
        _ => Ok(None),
    }
}

/// The session and its record's revision, if it exists.
async fn session_entry(ctx: &Ctx, id: &str) -> Result<Option<(Session, u64)>> {
    Ok(record_entry(ctx, id)
        .await?
        .map(|(r, revision)| (r.session, revision)))
}

/// Applies `change` to the session's record (made when missing) with a
/// compare-and-set, retrying when another node changed it meanwhile.
async fn update_session(ctx: &Ctx, id: &str, change: impl Fn(&mut Record)) -> Result<Session> {
    let key = hex::encode(id);
    for _ in 0..32 {
        let current = record_entry(ctx, id).await?;
        let revision = current.as_ref().map(|(_, r)| *r);
        let mut record = match current {
            Some((record, _)) => record,
            None => {
                let now = now_ms();
                Record {
                    session: Session {
                        id: id.to_string(),
                        created_ms: now,
                        last_active_ms: now,
                        messages: 0,
                    },
                    recent: Vec::new(),
                }
            }
        };
        change(&mut record);
        let value = serde_json::to_vec(&record)?.into();
        let session = record.session;
        // Another node's change in between is retried; anything else is
        // the caller's error.
        let written = match revision {
            Some(revision) => match ctx.sessions.update(&key, value, revision).await {
                Ok(_) => true,
                Err(e) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => false,
                Err(e) => return Err(anyhow!("{e}")),
            },
            None => match ctx.sessions.create(&key, value).await {
                Ok(_) => true,
                Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => false,
                Err(e) => return Err(anyhow!("{e}")),
            },
        };
        if written {
            return Ok(session);
        }
    }
    Err(anyhow!("session {id}: too many concurrent changes"))
}

impl SharedConversations for JetStreamConversations {
    fn create_session(&self, id: &str) -> Result<Session> {
        let id = id.to_string();
        self.call("create a session", move |ctx| {
            Box::pin(async move {
                if let Some((session, _)) = session_entry(&ctx, &id).await? {
                    return Ok(session);
                }
                update_session(&ctx, &id, |_| {}).await
            })
        })
    }

    fn session(&self, id: &str) -> Result<Option<Session>> {
        let id = id.to_string();
        self.retrying("read a session", move |ctx| {
            let id = id.clone();
            Box::pin(async move { Ok(session_entry(&ctx, &id).await?.map(|(s, _)| s)) })
        })
    }

    fn sessions(&self) -> Result<Vec<Session>> {
        self.call("list the sessions", move |ctx| {
            Box::pin(async move {
                let mut all = Vec::new();
                for key in super::nodes::keys_of(&ctx.sessions).await? {
                    let Ok(id) = hex::decode(&key).map(String::from_utf8) else {
                        continue;
                    };
                    if let Some((session, _)) = session_entry(&ctx, &id?).await? {
                        all.push(session);
                    }
                }
                all.sort_by_key(|s: &Session| std::cmp::Reverse(s.last_active_ms));
                Ok(all)
            })
        })
    }

    fn append(&self, id: &str, message_json: Vec<u8>) -> Result<u64> {
        let id = id.to_string();
        let body = bytes::Bytes::from(message_json);
        // The same id on every try: the stream stores the message once.
        let msg_id = format!(
            "{:016x}{:016x}",
            rand::random::<u64>(),
            rand::random::<u64>()
        );
        self.retrying("store a message", move |ctx| {
            let (id, body, msg_id) = (id.clone(), body.clone(), msg_id.clone());
            Box::pin(async move {
                // Stored (the server's ack) before the session's count
                // moves: a count behind by one after a crash is harmless,
                // a count ahead of a lost message would not be.
                let mut headers = async_nats::HeaderMap::new();
                headers.insert(async_nats::header::NATS_MESSAGE_ID, msg_id.as_str());
                let stored = ctx
                    .jetstream
                    .publish_with_headers(subject(&id), headers, body)
                    .await?
                    .await?;
                let session = update_session(&ctx, &id, |r| {
                    // A try whose answer was lost may have counted it.
                    if stored.duplicate && r.recent.contains(&stored.sequence) {
                        return;
                    }
                    r.session.messages += 1;
                    r.session.last_active_ms = now_ms();
                    r.recent.push(stored.sequence);
                    let over = r.recent.len().saturating_sub(RECENT);
                    r.recent.drain(..over);
                })
                .await?;
                Ok(session.messages - 1)
            })
        })
    }

    fn messages(&self, id: &str, limit: usize) -> Result<Vec<StoredMessage>> {
        let id = id.to_string();
        self.retrying("read messages", move |ctx| {
            let id = id.clone();
            Box::pin(async move { read_messages(&ctx, &id, limit).await })
        })
    }

    fn delete_session(&self, id: &str) -> Result<bool> {
        let id = id.to_string();
        self.call("delete a session", move |ctx| {
            Box::pin(async move {
                let existed = session_entry(&ctx, &id).await?.is_some();
                ctx.messages.purge().filter(subject(&id)).await?;
                if existed {
                    ctx.sessions.delete(hex::encode(&id)).await?;
                }
                Ok(existed)
            })
        })
    }

    fn kv_get(&self, namespace: &str, key: &str) -> Result<Option<Vec<u8>>> {
        let key = kv_key(namespace, key);
        self.retrying("read a value", move |ctx| {
            let key = key.clone();
            Box::pin(async move { Ok(ctx.host_kv.get(key).await?.map(|v| v.to_vec())) })
        })
    }

    fn kv_set(&self, namespace: &str, key: &str, value: &[u8]) -> Result<()> {
        let (key, value) = (kv_key(namespace, key), value.to_vec());
        self.call("store a value", move |ctx| {
            Box::pin(async move {
                ctx.host_kv.put(key, value.into()).await?;
                Ok(())
            })
        })
    }

    fn kv_delete(&self, namespace: &str, key: &str) -> Result<bool> {
        let key = kv_key(namespace, key);
        self.call("delete a value", move |ctx| {
            Box::pin(async move {
                let existed = ctx.host_kv.get(key.clone()).await?.is_some();
                if existed {
                    ctx.host_kv.delete(key).await?;
                }
                Ok(existed)
            })
        })
    }

    fn kv_list(&self, namespace: &str, prefix: &str, limit: usize) -> Result<Vec<String>> {
        let (namespace, prefix) = (namespace.to_string(), prefix.to_string());
        self.call("list keys", move |ctx| {
            Box::pin(async move {
                let start = format!("{}.", hex::encode(&namespace));
                let mut found = Vec::new();
                for key in super::nodes::keys_of(&ctx.host_kv).await? {
                    if let Some(hexed) = key.strip_prefix(&start)
                        && let Ok(Ok(name)) = hex::decode(hexed).map(String::from_utf8)
                        && name.starts_with(&prefix)
                        // Deleted keys are listed too (their tombstones).
                        && ctx.host_kv.get(key.clone()).await?.is_some()
                    {
                        found.push(name);
                    }
                }
                found.sort();
                found.truncate(limit);
                Ok(found)
            })
        })
    }
}

/// The last `limit` messages of session `id`, oldest first.
async fn read_messages(ctx: &Ctx, id: &str, limit: usize) -> Result<Vec<StoredMessage>> {
    let Some((record, _)) = record_entry(ctx, id).await? else {
        return Ok(Vec::new());
    };
    let wanted = limit.min(record.session.messages as usize);
    if wanted <= record.recent.len() {
        // The common case (a turn's history): each by its sequence, at once.
        let sequences = &record.recent[record.recent.len() - wanted..];
        let fetched = futures::future::join_all(
            sequences
                .iter()
                .map(|seq| ctx.messages.get_raw_message(*seq)),
        )
        .await;
        let mut out = Vec::with_capacity(wanted);
        for (seq, message) in sequences.iter().zip(fetched) {
            let message = match message {
                Ok(message) => message,
                // Purged meanwhile (the session deleted): not there.
                Err(e) if e.kind() == stream::RawMessageErrorKind::NoMessageFound => continue,
                Err(e) => return Err(anyhow!("{e}")),
            };
            out.push(
                serde_json::from_slice(&message.payload)
                    .with_context(|| format!("message {seq} of session {id} is unreadable"))?,
            );
        }
        return Ok(out);
    }
    scan_messages(ctx, id, limit).await
}

/// [`read_messages`] past the record's index: through a consumer of the
/// session's subject, up to the last message stored when the read began.
async fn scan_messages(ctx: &Ctx, id: &str, limit: usize) -> Result<Vec<StoredMessage>> {
    use jetstream::consumer::{AckPolicy, DeliverPolicy, pull};
    let subject = subject(id);
    let last = match ctx.messages.get_last_raw_message_by_subject(&subject).await {
        Ok(message) => message.sequence,
        Err(e) if e.kind() == stream::LastRawMessageErrorKind::NoMessageFound => {
            return Ok(Vec::new());
        }
        Err(e) => return Err(anyhow!("{e}")),
    };
    let consumer = ctx
        .messages
        .create_consumer(pull::Config {
            filter_subject: subject,
            deliver_policy: DeliverPolicy::All,
            ack_policy: AckPolicy::None,
            inactive_threshold: Duration::from_secs(30),
            ..Default::default()
        })
        .await
        .map_err(|e| anyhow!("{e}"))?;
    let mut kept = std::collections::VecDeque::new();
    let mut seen = 0u64;
    'read: while seen < last {
        let mut batch = consumer
            .fetch()
            .max_messages(512)
            .expires(Duration::from_secs(1))
            .messages()
            .await
            .map_err(|e| anyhow!("{e}"))?;
        let mut got = false;
        while let Some(message) = batch.next().await {
            let message = message.map_err(|e| anyhow!("{e}"))?;
            got = true;
            seen = message.info().map_err(|e| anyhow!("{e}"))?.stream_sequence;
            let stored: StoredMessage = serde_json::from_slice(&message.payload)
                .with_context(|| format!("message {seen} of session {id} is unreadable"))?;
            kept.push_back(stored);
            if kept.len() > limit {
                kept.pop_front();
            }
            if seen >= last {
                break 'read;
            }
        }
        if !got {
            // Purged meanwhile: what there was has been read.
            break;
        }
    }
    let name = consumer.cached_info().name.clone();
    let _ = ctx.messages.delete_consumer(&name).await;
    Ok(kept.into())
}
