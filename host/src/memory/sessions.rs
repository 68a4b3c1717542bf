//! Conversations: sessions (one per chat, such as `telegram:42` or
//! `cli:default`) and their messages, in order. A durable append returns
//! only after the redb commit holding it reached the disk, so whatever a
//! caller saw acknowledged survives a crash; concurrent appends share that
//! commit ([`super::commit`]). Messages are stored as JSON with tool-call
//! arguments kept as the exact text the model wrote.

use super::MemoryStore;
use super::commit::{Append, Reply};
use super::now_ms;
use anyhow::{Context, Result, bail};
use redb::{ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize};

/// session id → JSON [`Session`].
pub(super) const SESSIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("sessions");
/// (session id, sequence number) → JSON [`StoredMessage`].
pub(super) const MESSAGES: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("messages");

pub(super) fn create_tables(txn: &WriteTransaction) -> Result<()> {
    txn.open_table(SESSIONS)?;
    txn.open_table(MESSAGES)?;
    Ok(())
}

/// One conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub id: String,
    pub created_ms: u64,
    pub last_active_ms: u64,
    /// Messages stored so far (also the next sequence number).
    pub messages: u64,
}

/// A tool call as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredToolCall {
    pub id: String,
    pub name: String,
    /// The arguments exactly as the model wrote them.
    pub arguments: String,
}

/// One message as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredMessage {
    /// `system`, `user`, `assistant` or `tool`.
    pub role: String,
    pub content: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<StoredToolCall>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    /// Names and types of attachments (their bytes are not kept here).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<String>,
    pub at_ms: u64,
    /// On a user message: the cluster event it came as (its id), so a
    /// redelivered event finds its earlier attempt instead of being
    /// stored again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
}

fn check_id(id: &str) -> Result<()> {
    if id.is_empty() || id.len() > 256 || id.chars().any(|c| c.is_control()) {
        bail!("session id {id:?} must be 1-256 printable characters");
    }
    Ok(())
}

impl MemoryStore {
    /// The session, created if new.
    pub fn create_session(&self, id: &str) -> Result<Session> {
        check_id(id)?;
        if let Some(shared) = self.shared() {
            return shared.create_session(id);
        }
        let txn = self.db.begin_write()?;
        let session = {
            let mut table = txn.open_table(SESSIONS)?;
            let existing = table
                .get(id)?
                .map(|v| serde_json::from_slice::<Session>(v.value()))
                .transpose()?;
            match existing {
                Some(s) => s,
                None => {
                    let now = now_ms();
                    let s = Session {
                        id: id.to_string(),
                        created_ms: now,
                        last_active_ms: now,
                        messages: 0,
                    };
                    table.insert(id, serde_json::to_vec(&s)?.as_slice())?;
                    s
                }
            }
        };
        txn.commit()?;
        Ok(session)
    }

    /// The session, if it exists.
    pub fn session(&self, id: &str) -> Result<Option<Session>> {
        if let Some(shared) = self.shared() {
            return shared.session(id);
        }
        let txn = self.db.begin_read()?;
        let table = txn.open_table(SESSIONS)?;
        Ok(table
            .get(id)?
            .map(|v| serde_json::from_slice(v.value()))
            .transpose()?)
    }

    /// Every session, most recently active first.
    pub fn sessions(&self) -> Result<Vec<Session>> {
        if let Some(shared) = self.shared() {
            return shared.sessions();
        }
        let txn = self.db.begin_read()?;
        let table = txn.open_table(SESSIONS)?;
        let mut all = Vec::new();
        for entry in table.iter()? {
            let (_, v) = entry?;
            all.push(serde_json::from_slice::<Session>(v.value())?);
        }
        all.sort_by_key(|s| std::cmp::Reverse(s.last_active_ms));
        Ok(all)
    }

    /// Appends `message` to session `id` (creating it); durable on return.
    /// Returns the message's sequence number.
    pub fn append(&self, id: &str, message: &StoredMessage) -> Result<u64> {
        self.append_with(id, message, true)
    }

    /// [`append`](Self::append), optionally without waiting for the disk:
    /// a non-durable append becomes durable with the next durable one and
    /// is lost only if the process dies before that. The agent uses it for
    /// the steps inside a turn, whose user message and final answer are
    /// durable. Blocks the calling thread until the commit; async callers
    /// use [`append_async`](Self::append_async).
    pub fn append_with(&self, id: &str, message: &StoredMessage, durable: bool) -> Result<u64> {
        if let Some(shared) = self.shared() {
            check_id(id)?;
            return shared.append(id, serde_json::to_vec(message)?);
        }
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.committer
            .submit(prepare(id, message, durable, Reply::Blocking(tx))?);
        rx.recv()
            .map_err(|_| anyhow::anyhow!("the memory store closed"))?
            .map_err(|e| anyhow::anyhow!("cannot store the message: {e}"))
    }

    /// [`append_with`](Self::append_with) without blocking a runtime
    /// thread while the commit waits for the disk.
    pub async fn append_async(
        &self,
        id: &str,
        message: &StoredMessage,
        durable: bool,
    ) -> Result<u64> {
        if let Some(shared) = self.shared() {
            check_id(id)?;
            let (shared, id, json) = (shared.clone(), id.to_string(), serde_json::to_vec(message)?);
            return tokio::task::spawn_blocking(move || shared.append(&id, json))
                .await
                .map_err(|e| anyhow::anyhow!("cannot store the message: {e}"))?;
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.committer
            .submit(prepare(id, message, durable, Reply::Async(tx))?);
        rx.await
            .map_err(|_| anyhow::anyhow!("the memory store closed"))?
            .map_err(|e| anyhow::anyhow!("cannot store the message: {e}"))
    }

    /// Returns once every append queued before the call is committed (a
    /// turn dropped mid-append leaves its append queued; whoever reads the
    /// conversation next to repair it must see it).
    pub fn flush(&self) -> Result<()> {
        // A shared store's appends are stored before they return.
        if self.shared().is_some() {
            return Ok(());
        }
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.committer.submit(Append {
            session: String::new(),
            message_json: Vec::new(),
            durable: false,
            reply: Reply::Blocking(tx),
        });
        rx.recv()
            .map_err(|_| anyhow::anyhow!("the memory store closed"))?
            .map(|_| ())
            .map_err(|e| anyhow::anyhow!("cannot store the message: {e}"))
    }

    /// Appends waiting for the committer; for tests of the group commit.
    pub fn queued_appends(&self) -> usize {
        self.committer.queued()
    }

    /// The last `limit` messages of a session (all with `usize::MAX`),
    /// oldest first.
    pub fn messages(&self, id: &str, limit: usize) -> Result<Vec<StoredMessage>> {
        if let Some(shared) = self.shared() {
            return shared.messages(id, limit);
        }
        let txn = self.db.begin_read()?;
        let table = txn.open_table(MESSAGES)?;
        let mut out = Vec::new();
        for entry in table.range((id, 0)..=(id, u64::MAX))?.rev() {
            let (k, v) = entry?;
            if out.len() >= limit {
                break;
            }
            let msg = serde_json::from_slice::<StoredMessage>(v.value()).with_context(|| {
                format!("message {} of session {id} is unreadable", k.value().1)
            })?;
            out.push(msg);
        }
        out.reverse();
        Ok(out)
    }

    /// Deletes a session and its messages; true when it existed.
    pub fn delete_session(&self, id: &str) -> Result<bool> {
        if let Some(shared) = self.shared() {
            return shared.delete_session(id);
        }
        let txn = self.db.begin_write()?;
        let existed = {
            let existed = txn.open_table(SESSIONS)?.remove(id)?.is_some();
            let mut messages = txn.open_table(MESSAGES)?;
            let keys: Vec<u64> = messages
                .range((id, 0)..=(id, u64::MAX))?
                .map(|e| e.map(|(k, _)| k.value().1))
                .collect::<Result<_, _>>()?;
            for seq in keys {
                messages.remove((id, seq))?;
            }
            existed
        };
        txn.commit()?;
        Ok(existed)
    }
}

/// Checks and serialises an append before it is queued, so the committer
/// only writes.
fn prepare(id: &str, message: &StoredMessage, durable: bool, reply: Reply) -> Result<Append> {
    check_id(id)?;
    Ok(Append {
        session: id.to_string(),
        message_json: serde_json::to_vec(message)?,
        durable,
        reply,
    })
}

impl StoredMessage {
    /// A plain text message (no tool calls, no files) stamped `at_ms`.
    pub fn text(role: &str, content: &str, at_ms: u64) -> StoredMessage {
        StoredMessage {
            role: role.into(),
            content: content.into(),
            tool_calls: Vec::new(),
            tool_call_id: None,
            attachments: Vec::new(),
            at_ms,
            event: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;

    fn msg(role: &str, content: &str) -> StoredMessage {
        StoredMessage::text(role, content, 1)
    }

    #[test]
    fn sessions_and_messages_round_trip_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.redb");
        let args = "{\"b\": 1,   \"a\": [1.50, \"x\"]}";
        {
            let store = MemoryStore::open(&path).unwrap();
            store.append("cli:a", &msg("user", "hi")).unwrap();
            let mut call = msg("assistant", "");
            call.tool_calls.push(StoredToolCall {
                id: "c1".into(),
                name: "time.now".into(),
                arguments: args.into(),
            });
            store.append("cli:a", &call).unwrap();
            let mut result = msg("tool", "12:00");
            result.tool_call_id = Some("c1".into());
            store.append("cli:a", &result).unwrap();
            store.append("cli:b", &msg("user", "other")).unwrap();
        }
        let store = MemoryStore::open(&path).unwrap();
        let all = store.messages("cli:a", usize::MAX).unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(all[1].tool_calls[0].arguments, args);
        assert_eq!(all[2].tool_call_id.as_deref(), Some("c1"));
        assert_eq!(store.messages("cli:a", 2).unwrap()[0].role, "assistant");
        assert_eq!(store.session("cli:a").unwrap().unwrap().messages, 3);
        let ids: Vec<String> = store
            .sessions()
            .unwrap()
            .into_iter()
            .map(|s| s.id)
            .collect();
        assert_eq!(ids.len(), 2);
        assert!(store.delete_session("cli:a").unwrap());
        assert!(store.messages("cli:a", usize::MAX).unwrap().is_empty());
        assert_eq!(store.messages("cli:b", usize::MAX).unwrap().len(), 1);
        assert!(store.create_session("").is_err());
    }

    #[test]
    fn concurrent_appends_share_one_commit() {
        let dir = tempfile::tempdir().unwrap();
        let store = std::sync::Arc::new(MemoryStore::open(&dir.path().join("m.redb")).unwrap());
        // Hold the writer so the committer waits and everything queues.
        let blocker = store.db.begin_write().unwrap();
        let writers: Vec<_> = (0..50)
            .map(|i| {
                let store = store.clone();
                std::thread::spawn(move || {
                    store
                        .append(&format!("web:{i}"), &msg("user", &format!("m{i}")))
                        .unwrap()
                })
            })
            .collect();
        while store.queued_appends() < 50 {
            std::thread::yield_now();
        }
        let before = store.commit_stats().commits.load(Ordering::Relaxed);
        drop(blocker);
        for w in writers {
            assert_eq!(w.join().unwrap(), 0, "each session's first message");
        }
        let stats = store.commit_stats();
        assert_eq!(stats.commits.load(Ordering::Relaxed) - before, 1);
        assert_eq!(stats.durable_commits.load(Ordering::Relaxed), 1);
        for i in 0..50 {
            let stored = store.messages(&format!("web:{i}"), usize::MAX).unwrap();
            assert_eq!(stored, [msg("user", &format!("m{i}"))]);
            assert_eq!(
                store
                    .session(&format!("web:{i}"))
                    .unwrap()
                    .unwrap()
                    .messages,
                1
            );
        }
    }

    #[test]
    fn one_session_keeps_its_order_within_and_across_batches() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.redb");
        {
            let store = std::sync::Arc::new(MemoryStore::open(&path).unwrap());
            let rt = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            // Several appends to one session in one batch, interleaved with
            // another session's, then more in later batches.
            let blocker = store.db.begin_write().unwrap();
            let queued: Vec<_> = (0..6)
                .map(|i| {
                    let store = store.clone();
                    let session = if i % 2 == 0 { "a" } else { "b" };
                    std::thread::spawn(move || {
                        store.append_with(session, &msg("user", &format!("{i}")), i == 5)
                    })
                })
                .collect();
            while store.queued_appends() < 6 {
                std::thread::yield_now();
            }
            drop(blocker);
            for q in queued {
                q.join().unwrap().unwrap();
            }
            for i in 6..9 {
                let seq = rt
                    .block_on(store.append_async("a", &msg("user", &format!("{i}")), true))
                    .unwrap();
                assert_eq!(seq, 3 + (i - 6) as u64);
            }
            store.flush().unwrap();
        }
        let store = MemoryStore::open(&path).unwrap();
        let mut a: Vec<String> = store
            .messages("a", usize::MAX)
            .unwrap()
            .into_iter()
            .map(|m| m.content)
            .collect();
        // The first three were queued by racing threads: their relative
        // order is the queue's; the seq numbers are contiguous either way.
        a[..3].sort();
        assert_eq!(a, ["0", "2", "4", "6", "7", "8"]);
        assert_eq!(store.session("a").unwrap().unwrap().messages, 6);
        assert_eq!(store.session("b").unwrap().unwrap().messages, 3);
    }

    #[test]
    fn invalid_ids_are_refused_before_queueing() {
        let dir = tempfile::tempdir().unwrap();
        let store = MemoryStore::open(&dir.path().join("m.redb")).unwrap();
        let err = store.append("", &msg("user", "x")).unwrap_err().to_string();
        assert!(err.contains("1-256 printable"), "{err}");
        assert!(store.append("a\nb", &msg("user", "x")).is_err());
        assert_eq!(store.commit_stats().commits.load(Ordering::Relaxed), 0);
    }
}
