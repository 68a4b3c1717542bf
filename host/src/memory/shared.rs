//! Conversations kept somewhere other nodes see them too (cluster mode):
//! the trait the memory store hands its conversation calls to once a
//! shared back end is set ([`super::MemoryStore::share`]). The callers —
//! the agent, the gateway, the commands — do not know which one runs.
//!
//! What is shared: sessions, their messages, and the host's own key-value
//! namespaces (those starting with `@`, such as the gateway's active
//! session per chat). The components' key-value memory stays with the
//! node: a channel keeps per-node state there (a poll offset, a socket's
//! resume point) that is right only for the node that wrote it.

use super::sessions::{Session, StoredMessage};
use anyhow::Result;

/// A conversation store other nodes share. Calls block the calling
/// thread until the store answered (async callers go through
/// `spawn_blocking`); an append is acknowledged once stored.
pub trait SharedConversations: Send + Sync {
    /// The session, created if new.
    fn create_session(&self, id: &str) -> Result<Session>;
    /// The session, if it exists.
    fn session(&self, id: &str) -> Result<Option<Session>>;
    /// Every session, most recently active first.
    fn sessions(&self) -> Result<Vec<Session>>;
    /// Appends a message (already checked and serialised) to session
    /// `id`, creating it; returns its sequence number in the session.
    fn append(&self, id: &str, message_json: Vec<u8>) -> Result<u64>;
    /// The last `limit` messages of the session, oldest first.
    fn messages(&self, id: &str, limit: usize) -> Result<Vec<StoredMessage>>;
    /// Deletes the session and its messages; true when it existed.
    fn delete_session(&self, id: &str) -> Result<bool>;
    /// A host namespace's value (`namespace` starts with `@`).
    fn kv_get(&self, namespace: &str, key: &str) -> Result<Option<Vec<u8>>>;
    fn kv_set(&self, namespace: &str, key: &str, value: &[u8]) -> Result<()>;
    fn kv_delete(&self, namespace: &str, key: &str) -> Result<bool>;
    /// Up to `limit` keys of `namespace` starting with `prefix`, in order.
    fn kv_list(&self, namespace: &str, prefix: &str, limit: usize) -> Result<Vec<String>>;
}

/// Whether `namespace` is one of the host's own (shared in a cluster)
/// rather than a component's (kept per node).
pub fn is_host_namespace(namespace: &str) -> bool {
    namespace.starts_with('@')
}
