//! Durable storage on redb. This module owns the database file; the WIT
//! `memory` interface (per-component key-value) is one view of it, the
//! conversation store ([`sessions`]) another.
//!
//! The schema is versioned in the `meta` table; [`MemoryStore::open`]
//! upgrades older files in place and refuses newer ones with a clear error.

use anyhow::{Context, Result, bail};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use std::path::{Path, PathBuf};
use std::sync::Arc;

mod commit;
pub mod sessions;
pub mod shared;
pub mod workers;

pub use commit::CommitStats;

/// Current schema version of the database file. 1: component key-value;
/// 2: adds sessions and messages; 3: adds worker tasks and their reports.
pub const SCHEMA_VERSION: u64 = 3;

const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// (component name, key) → value.
const COMPONENT_KV: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("component_kv");

/// Largest value a component may store under one key.
pub const MAX_VALUE_BYTES: usize = 1 << 20;
/// Longest key.
pub const MAX_KEY_BYTES: usize = 1024;

/// Milliseconds since the epoch: the clock of stored records, and of the
/// modules above that stamp what they keep.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The database behind `memory`.
pub struct MemoryStore {
    pub(crate) db: Arc<Database>,
    path: PathBuf,
    /// Conversation appends go through one queue and share commits.
    committer: commit::Committer,
    /// Set in cluster mode: conversations and the host's namespaces live
    /// there instead of in the file ([`shared`]).
    shared: std::sync::OnceLock<Arc<dyn shared::SharedConversations>>,
    /// Which components' key-value memory is shared too (the wiring says:
    /// tools and providers, not channels); none until set.
    shared_components: std::sync::OnceLock<ComponentFilter>,
}

/// Selects components by name ([`MemoryStore::share_components`]).
pub type ComponentFilter = Arc<dyn Fn(&str) -> bool + Send + Sync>;

impl MemoryStore {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> Result<MemoryStore> {
        if let Some(parent) = path.parent()
            && !parent.as_os_str().is_empty()
            && !parent.exists()
        {
            crate::paths::private_dir(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        // The conversations are the owner's alone: the file is created 0600
        // (before redb opens it), and an older, looser one is narrowed.
        if !path.exists() {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(crate::paths::FILE_MODE)
                .open(path)
                .with_context(|| format!("cannot create memory database {}", path.display()))?;
        }
        if let Some(note) = crate::paths::private_file(path)? {
            tracing::warn!("memory database made private: {note}");
        }
        let db = Database::create(path)
            .with_context(|| format!("cannot open memory database {}", path.display()))?;
        let db = Arc::new(db);
        let store = MemoryStore {
            committer: commit::Committer::start(db.clone()),
            db,
            path: path.to_path_buf(),
            shared: std::sync::OnceLock::new(),
            shared_components: std::sync::OnceLock::new(),
        };
        store.migrate()?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// From now on, conversations and the host's own namespaces go to
    /// `store` (cluster mode); the components' key-value memory and the
    /// worker records stay in the file. Set once, before the first turn.
    pub fn share(&self, store: Arc<dyn shared::SharedConversations>) -> Result<()> {
        self.shared
            .set(store)
            .map_err(|_| anyhow::anyhow!("the memory store is already shared"))
    }

    /// The shared store, in cluster mode.
    pub(crate) fn shared(&self) -> Option<&Arc<dyn shared::SharedConversations>> {
        self.shared.get()
    }

    /// Once shared, the key-value memory of the components `which`
    /// selects goes to the shared store too: a tool's stored values are
    /// then the same whichever worker runs it. A channel's stay in the
    /// file: what it keeps there (a poll offset, a socket's resume point)
    /// is right only for the node that wrote it.
    pub fn share_components(&self, which: ComponentFilter) {
        let _ = self.shared_components.set(which);
    }

    /// The shared store when `namespace` is shared and one is set.
    fn shared_for(&self, namespace: &str) -> Option<&Arc<dyn shared::SharedConversations>> {
        self.shared().filter(|_| {
            shared::is_host_namespace(namespace)
                || self
                    .shared_components
                    .get()
                    .is_some_and(|which| which(namespace))
        })
    }

    /// How many transactions the appends have taken so far.
    pub fn commit_stats(&self) -> &CommitStats {
        &self.committer.stats
    }

    fn migrate(&self) -> Result<()> {
        let txn = self.db.begin_write()?;
        {
            let mut meta = txn.open_table(META)?;
            let found = meta.get("schema_version")?.map(|v| v.value());
            match found {
                None => {
                    meta.insert("schema_version", SCHEMA_VERSION)?;
                }
                Some(v) if v == SCHEMA_VERSION => {}
                // 1 → 2 → 3 only add tables; they are created below.
                Some(v @ (1 | 2)) => {
                    tracing::info!(
                        "upgrading memory database {} from schema {v} to {SCHEMA_VERSION}",
                        self.path.display()
                    );
                    meta.insert("schema_version", SCHEMA_VERSION)?;
                }
                Some(v) if v > SCHEMA_VERSION => bail!(
                    "memory database {} has schema version {v}, newer than this openpista understands ({SCHEMA_VERSION}); upgrade openpista",
                    self.path.display()
                ),
                Some(v) => bail!(
                    "memory database {} has unknown older schema version {v}",
                    self.path.display()
                ),
            }
            txn.open_table(COMPONENT_KV)?;
            sessions::create_tables(&txn)?;
            workers::create_tables(&txn)?;
        }
        txn.commit()?;
        Ok(())
    }

    /// The value of `component`'s `key`.
    pub fn kv_get(&self, component: &str, key: &str) -> Result<Option<Vec<u8>>> {
        if let Some(shared) = self.shared_for(component) {
            return shared.kv_get(component, key);
        }
        let txn = self.db.begin_read()?;
        let table = txn.open_table(COMPONENT_KV)?;
        Ok(table.get((component, key))?.map(|v| v.value().to_vec()))
    }

    /// Stores `value` under `component`'s `key`; durable on return.
    pub fn kv_set(&self, component: &str, key: &str, value: &[u8]) -> Result<()> {
        check_key(key)?;
        if value.len() > MAX_VALUE_BYTES {
            bail!(
                "value of {} bytes is larger than the limit of {MAX_VALUE_BYTES}",
                value.len()
            );
        }
        if let Some(shared) = self.shared_for(component) {
            return shared.kv_set(component, key, value);
        }
        let txn = self.db.begin_write()?;
        txn.open_table(COMPONENT_KV)?
            .insert((component, key), value)?;
        txn.commit()?;
        Ok(())
    }

    /// Removes `component`'s `key`; true when it existed.
    pub fn kv_delete(&self, component: &str, key: &str) -> Result<bool> {
        if let Some(shared) = self.shared_for(component) {
            return shared.kv_delete(component, key);
        }
        let txn = self.db.begin_write()?;
        let existed = txn
            .open_table(COMPONENT_KV)?
            .remove((component, key))?
            .is_some();
        txn.commit()?;
        Ok(existed)
    }

    /// Up to `limit` of `component`'s keys starting with `prefix`, in order.
    pub fn kv_list(&self, component: &str, prefix: &str, limit: usize) -> Result<Vec<String>> {
        if let Some(shared) = self.shared_for(component) {
            return shared.kv_list(component, prefix, limit);
        }
        let txn = self.db.begin_read()?;
        let table = txn.open_table(COMPONENT_KV)?;
        let mut keys = Vec::new();
        for entry in table.range((component, prefix)..)? {
            let (k, _) = entry?;
            let (owner, key) = k.value();
            if owner != component || !key.starts_with(prefix) || keys.len() >= limit {
                break;
            }
            keys.push(key.to_string());
        }
        Ok(keys)
    }
}

fn check_key(key: &str) -> Result<()> {
    if key.is_empty() || key.len() > MAX_KEY_BYTES {
        bail!("keys must be 1 to {MAX_KEY_BYTES} bytes long");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kv_is_scoped_per_component_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/memory.redb");
        {
            let store = MemoryStore::open(&path).unwrap();
            store.kv_set("a", "note/1", b"one").unwrap();
            store.kv_set("a", "note/2", b"two").unwrap();
            store.kv_set("a", "other", b"x").unwrap();
            store.kv_set("b", "note/1", b"b-one").unwrap();
            assert!(store.kv_delete("a", "other").unwrap());
            assert!(!store.kv_delete("a", "other").unwrap());
        }
        let store = MemoryStore::open(&path).unwrap();
        assert_eq!(store.kv_get("a", "note/1").unwrap().unwrap(), b"one");
        assert_eq!(store.kv_get("b", "note/1").unwrap().unwrap(), b"b-one");
        assert_eq!(store.kv_get("b", "note/2").unwrap(), None);
        assert_eq!(
            store.kv_list("a", "note/", 10).unwrap(),
            ["note/1", "note/2"]
        );
        assert_eq!(store.kv_list("a", "note/", 1).unwrap(), ["note/1"]);
        assert_eq!(store.kv_list("b", "", 10).unwrap(), ["note/1"]);
    }

    #[test]
    fn rejects_oversized_values_and_empty_keys() {
        let dir = tempfile::tempdir().unwrap();
        let store = MemoryStore::open(&dir.path().join("m.redb")).unwrap();
        assert!(store.kv_set("a", "", b"x").is_err());
        let big = vec![0u8; MAX_VALUE_BYTES + 1];
        let err = store.kv_set("a", "k", &big).unwrap_err().to_string();
        assert!(err.contains("larger than the limit"), "{err}");
    }

    #[test]
    fn upgrades_a_version_1_file_keeping_its_data() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.redb");
        {
            // What the first release wrote: meta = 1 and component data.
            let db = Database::create(&path).unwrap();
            let txn = db.begin_write().unwrap();
            txn.open_table(META)
                .unwrap()
                .insert("schema_version", 1)
                .unwrap();
            txn.open_table(COMPONENT_KV)
                .unwrap()
                .insert(("notes", "k"), b"kept".as_slice())
                .unwrap();
            txn.commit().unwrap();
        }
        let store = MemoryStore::open(&path).unwrap();
        assert_eq!(store.kv_get("notes", "k").unwrap().unwrap(), b"kept");
        store.create_session("web:1").unwrap();
        let txn = store.db.begin_read().unwrap();
        let v = txn
            .open_table(META)
            .unwrap()
            .get("schema_version")
            .unwrap()
            .unwrap()
            .value();
        assert_eq!(v, SCHEMA_VERSION);
    }

    #[test]
    fn refuses_a_newer_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.redb");
        {
            let db = Database::create(&path).unwrap();
            let txn = db.begin_write().unwrap();
            txn.open_table(META)
                .unwrap()
                .insert("schema_version", SCHEMA_VERSION + 1)
                .unwrap();
            txn.commit().unwrap();
        }
        let err = MemoryStore::open(&path).err().unwrap().to_string();
        assert!(err.contains("newer than this openpista"), "{err}");
    }
}
