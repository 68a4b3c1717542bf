//! Group commit for conversation appends.
//!
//! redb has one writer, and a durable commit waits for `fdatasync`. With
//! one commit per append, concurrent sessions queue behind each other's
//! fsyncs, and throughput is bounded by the disk's sync latency. Here every
//! append goes into one queue; a single committer thread takes everything
//! queued, applies it in one write transaction and commits once, durably if
//! any append in the batch asked for it, then answers every caller. An
//! append is acknowledged only after the commit that holds it returned, so
//! "acknowledged" still means "on disk" for a durable append.
//!
//! The committer prepares nothing: callers validate and serialise before
//! queueing, so a batch fails only when storage fails, and then every
//! append in it gets the error and none of it is kept (the transaction is
//! dropped uncommitted).

use super::now_ms;
use super::sessions::{MESSAGES, SESSIONS, Session};
use anyhow::{Result, anyhow};
use redb::{Database, ReadableTable};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};

/// Most appends one transaction takes; more wait for the next one, so a
/// long queue cannot make one commit arbitrarily large.
const MAX_BATCH: usize = 1024;

/// One queued append: already validated and serialised. An empty
/// `session` is a barrier: it writes nothing and is answered once
/// everything queued before it is committed.
pub(super) struct Append {
    pub session: String,
    pub message_json: Vec<u8>,
    pub durable: bool,
    pub reply: Reply,
}

/// Where the sequence number (or the error) goes.
pub(super) enum Reply {
    Blocking(std::sync::mpsc::SyncSender<Result<u64, String>>),
    Async(tokio::sync::oneshot::Sender<Result<u64, String>>),
}

impl Reply {
    fn send(self, result: Result<u64, String>) {
        // A caller that gave up waiting is not an error of the store.
        match self {
            Reply::Blocking(tx) => {
                let _ = tx.send(result);
            }
            Reply::Async(tx) => {
                let _ = tx.send(result);
            }
        }
    }
}

/// Counters for tests and benches: how many transactions carried how many
/// appends.
#[derive(Debug, Default)]
pub struct CommitStats {
    pub commits: AtomicU64,
    pub durable_commits: AtomicU64,
    pub appends: AtomicU64,
}

struct Queue {
    pending: VecDeque<Append>,
    closed: bool,
}

/// The sending side, owned by the store; dropping it lets the committer
/// finish what is queued and exit.
pub(super) struct Committer {
    shared: Arc<(Mutex<Queue>, Condvar)>,
    thread: Option<std::thread::JoinHandle<()>>,
    pub stats: Arc<CommitStats>,
}

impl Committer {
    pub fn start(db: Arc<Database>) -> Committer {
        let shared = Arc::new((
            Mutex::new(Queue {
                pending: VecDeque::new(),
                closed: false,
            }),
            Condvar::new(),
        ));
        let stats = Arc::new(CommitStats::default());
        let thread = {
            let shared = shared.clone();
            let stats = stats.clone();
            std::thread::Builder::new()
                .name("memory-commit".into())
                .spawn(move || run(&db, &shared, &stats))
                .expect("cannot start the memory commit thread")
        };
        Committer {
            shared,
            thread: Some(thread),
            stats,
        }
    }

    pub fn submit(&self, append: Append) {
        let (lock, ready) = &*self.shared;
        let mut queue = lock.lock().unwrap_or_else(|p| p.into_inner());
        queue.pending.push_back(append);
        ready.notify_one();
    }

    /// Appends waiting for the committer (not yet in a transaction).
    pub fn queued(&self) -> usize {
        let queue = self.shared.0.lock().unwrap_or_else(|p| p.into_inner());
        queue.pending.len()
    }
}

impl Drop for Committer {
    fn drop(&mut self) {
        {
            let (lock, ready) = &*self.shared;
            lock.lock().unwrap_or_else(|p| p.into_inner()).closed = true;
            ready.notify_one();
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run(db: &Database, shared: &(Mutex<Queue>, Condvar), stats: &CommitStats) {
    let (lock, ready) = shared;
    loop {
        // Wait for the first append, then open the transaction: whatever
        // queues while the previous commit or this one's wait for the
        // writer lock ran joins this batch.
        {
            let mut queue = lock.lock().unwrap_or_else(|p| p.into_inner());
            while queue.pending.is_empty() {
                if queue.closed {
                    return;
                }
                queue = ready.wait(queue).unwrap_or_else(|p| p.into_inner());
            }
        }
        let txn = db.begin_write();
        let batch: Vec<Append> = {
            let mut queue = lock.lock().unwrap_or_else(|p| p.into_inner());
            let n = queue.pending.len().min(MAX_BATCH);
            queue.pending.drain(..n).collect()
        };
        let durable = batch.iter().any(|a| a.durable);
        let outcome = txn
            .map_err(anyhow::Error::from)
            .and_then(|txn| apply(txn, &batch, durable));
        stats.commits.fetch_add(1, Ordering::Relaxed);
        if durable {
            stats.durable_commits.fetch_add(1, Ordering::Relaxed);
        }
        stats
            .appends
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        match outcome {
            Ok(seqs) => {
                for (append, seq) in batch.into_iter().zip(seqs) {
                    append.reply.send(Ok(seq));
                }
            }
            Err(e) => {
                let text = format!("{e:#}");
                for append in batch {
                    append.reply.send(Err(text.clone()));
                }
            }
        }
    }
}

/// Writes the batch in one transaction; the sequence number of each append,
/// in batch order.
fn apply(mut txn: redb::WriteTransaction, batch: &[Append], durable: bool) -> Result<Vec<u64>> {
    if !durable {
        // Made durable by the next durable commit (see `append_with`).
        txn.set_durability(redb::Durability::None)?;
    }
    let mut seqs = Vec::with_capacity(batch.len());
    {
        let mut sessions = txn.open_table(SESSIONS)?;
        let mut messages = txn.open_table(MESSAGES)?;
        // Each session's record is read once and written once per batch.
        let mut touched: HashMap<&str, Session> = HashMap::new();
        let now = now_ms();
        for append in batch {
            let id = append.session.as_str();
            if id.is_empty() {
                seqs.push(0);
                continue;
            }
            if !touched.contains_key(id) {
                let session = match sessions.get(id)? {
                    Some(v) => serde_json::from_slice::<Session>(v.value())
                        .map_err(|e| anyhow!("session {id} is unreadable: {e}"))?,
                    None => Session {
                        id: id.to_string(),
                        created_ms: now,
                        last_active_ms: 0,
                        messages: 0,
                    },
                };
                touched.insert(id, session);
            }
            let session = touched.get_mut(id).expect("inserted above");
            let seq = session.messages;
            session.messages += 1;
            session.last_active_ms = now;
            messages.insert((id, seq), append.message_json.as_slice())?;
            seqs.push(seq);
        }
        for (id, session) in &touched {
            sessions.insert(*id, serde_json::to_vec(session)?.as_slice())?;
        }
    }
    txn.commit()?;
    Ok(seqs)
}
