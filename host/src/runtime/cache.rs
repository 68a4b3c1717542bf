//! On-disk cache of compiled components.
//!
//! Compiling a component takes milliseconds to seconds; deserialising a
//! compiled artifact takes microseconds. The cache key is the component's
//! SHA-256 together with the engine's compatibility hash (wasmtime version,
//! target, settings), so a restart with an unchanged component never
//! compiles, and a changed engine never loads an artifact built for
//! another.
//!
//! `Component::deserialize` runs whatever native code it is given, so an
//! entry is loaded only when it is provably the host's own:
//! - the folder is 0700 and ours, and the entry is ours and writable by
//!   nobody else;
//! - every entry carries an HMAC-SHA256 over the engine key, the
//!   component's hash and the artifact, keyed by a per-install secret
//!   (`key`, 0600, beside the entries).
//!
//! A planted, altered or foreign entry is rejected with a warning and the
//! component is compiled afresh (and the entry rewritten).

use super::mac::{hmac_sha256, verify};
use crate::paths;
use crate::telemetry::metrics::CompiledFrom;
use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use wasmtime::Engine;
use wasmtime::component::Component;

/// First bytes of every entry: the format, so an old unauthenticated entry
/// is recognised as such.
const MAGIC: &[u8; 8] = b"OPCWASM2";
const MAC_LEN: usize = 32;

/// Counts of what the cache did, for `component list` and tests.
#[derive(Debug, Default)]
pub struct CacheStats {
    /// Built into the binary and deserialised (no disk, no compiling).
    pub precompiled: AtomicU64,
    pub compiled: AtomicU64,
    pub loaded_from_disk: AtomicU64,
    /// Entries refused: planted, altered, foreign or unreadable.
    pub rejected: AtomicU64,
    /// What was refused and why, newest last (kept short).
    pub warnings: Mutex<Vec<String>>,
}

impl CacheStats {
    fn warn(&self, message: String) {
        tracing::warn!("{message}");
        self.rejected.fetch_add(1, Ordering::Relaxed);
        let mut w = self.warnings.lock().unwrap();
        if w.len() >= 32 {
            w.remove(0);
        }
        w.push(message);
    }
}

/// Compiles components, consulting and filling an optional disk cache.
pub struct CompileCache {
    /// The folder and the install's key; `None` compiles every time.
    disk: Option<(PathBuf, [u8; 32])>,
    engine_key: String,
    pub stats: CacheStats,
}

/// SHA-256 of a component's bytes, as hex.
pub fn content_hash(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The install's cache key in `dir/key`: read when it is ours and private,
/// made anew otherwise (which invalidates every entry, as it should). Two
/// runtimes starting at once agree on one key: it is created only if
/// absent, and whoever loses the race reads the winner's.
fn install_key(dir: &Path) -> Result<[u8; 32]> {
    let path = dir.join("key");
    for _ in 0..3 {
        if let Ok(meta) = std::fs::symlink_metadata(&path) {
            use std::os::unix::fs::MetadataExt;
            let private = meta.is_file()
                && paths::untrusted(&path, &meta).is_none()
                && meta.mode() & 0o077 == 0;
            if private
                && let Ok(bytes) = std::fs::read(&path)
                && let Ok(key) = <[u8; 32]>::try_from(bytes.as_slice())
            {
                return Ok(key);
            }
            tracing::warn!(
                "cache key {} is not private to this user or is damaged; making a new one (every cached component will be compiled again)",
                path.display()
            );
            let _ = std::fs::remove_file(&path);
        }
        let key: [u8; 32] = rand::random();
        if paths::create_private(&path, &key)
            .with_context(|| format!("cannot write cache key {}", path.display()))?
        {
            return Ok(key);
        }
    }
    anyhow::bail!("cannot settle on a cache key in {}", dir.display())
}

impl CompileCache {
    /// `dir = None` disables the disk cache (every load compiles). The
    /// folder is made 0700; one that belongs to someone else disables the
    /// disk cache, with a warning.
    pub fn new(engine: &Engine, dir: Option<PathBuf>) -> Result<CompileCache> {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let stats = CacheStats::default();
        let disk = match dir {
            None => None,
            Some(dir) => {
                if let Some(note) = paths::private_dir(&dir)
                    .with_context(|| format!("cannot create cache folder {}", dir.display()))?
                {
                    tracing::warn!("repaired the component cache: {note}");
                }
                let meta = std::fs::metadata(&dir)?;
                match paths::untrusted(&dir, &meta) {
                    Some(why) => {
                        stats.warn(format!(
                            "not using the component cache: {why}; components are compiled at every start"
                        ));
                        None
                    }
                    None => Some((dir.clone(), install_key(&dir)?)),
                }
            }
        };
        Ok(CompileCache {
            disk,
            engine_key: format!("{:016x}", hasher.finish()),
            stats,
        })
    }

    /// The entry file for the component whose hash is `hash`.
    pub fn path_for(&self, hash: &str) -> Option<PathBuf> {
        self.disk
            .as_ref()
            .map(|(d, _)| d.join(format!("{hash}-{}.cwasm", self.engine_key)))
    }

    fn mac(&self, key: &[u8; 32], hash: &str, body: &[u8]) -> [u8; 32] {
        hmac_sha256(
            key,
            &[
                self.engine_key.as_bytes(),
                b"\n",
                hash.as_bytes(),
                b"\n",
                body,
            ],
        )
    }

    /// The artifact of `path` when it is ours, private and authentic.
    fn read_entry(&self, key: &[u8; 32], path: &Path, hash: &str) -> Result<Vec<u8>, String> {
        let meta = std::fs::symlink_metadata(path).map_err(|e| e.to_string())?;
        if !meta.is_file() {
            return Err(format!("{} is not a regular file", path.display()));
        }
        if let Some(why) = paths::untrusted(path, &meta) {
            return Err(why);
        }
        let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
        let Some(rest) = bytes.strip_prefix(MAGIC.as_slice()) else {
            return Err(format!(
                "{} was not written by this version of openpista (no authentication header)",
                path.display()
            ));
        };
        if rest.len() < MAC_LEN {
            return Err(format!("{} is truncated", path.display()));
        }
        let (mac, body) = rest.split_at(MAC_LEN);
        if !verify(&self.mac(key, hash, body), mac) {
            return Err(format!(
                "{} does not carry this install's authentication code (planted or altered)",
                path.display()
            ));
        }
        Ok(body.to_vec())
    }

    /// The compiled form of `bytes` (whose SHA-256 is `hash`): the build's
    /// own artifact when there is one that fits this engine, else the disk
    /// cache's, else compiled now (and written to the disk cache).
    pub fn load(
        &self,
        engine: &Engine,
        bytes: &[u8],
        hash: &str,
        precompiled: Option<&'static [u8]>,
    ) -> Result<Component> {
        if let Some(packed) = precompiled {
            match Self::load_precompiled(engine, packed) {
                Ok(component) => {
                    self.stats.precompiled.fetch_add(1, Ordering::Relaxed);
                    crate::telemetry::metrics::compile_cache(CompiledFrom::BuiltIn);
                    return Ok(component);
                }
                // Expected after `[runtime]` changes or on a CPU without
                // the features it was built for: not a fault.
                Err(e) => tracing::info!(
                    "the built-in compiled form does not fit this engine ({e:#}); compiling"
                ),
            }
        }
        if let (Some((_, key)), Some(path)) = (&self.disk, self.path_for(hash))
            && path.exists()
        {
            match self.read_entry(key, &path, hash) {
                Ok(body) => {
                    // SAFETY: `body` is exactly what `store` below wrote from
                    // `Component::serialize` under this engine configuration:
                    // its HMAC, keyed by this install's private key, covers
                    // the engine key, the component hash and every byte.
                    match unsafe { Component::deserialize(engine, &body) } {
                        Ok(component) => {
                            self.stats.loaded_from_disk.fetch_add(1, Ordering::Relaxed);
                            crate::telemetry::metrics::compile_cache(CompiledFrom::Cache);
                            return Ok(component);
                        }
                        Err(e) => self.stats.warn(format!(
                            "discarding unreadable cache entry {}: {e:#}",
                            path.display()
                        )),
                    }
                }
                Err(why) => self.stats.warn(format!(
                    "refusing cache entry, compiling the component again: {why}"
                )),
            }
            // Whatever lies there is not loaded; it is replaced below.
            let _ = std::fs::remove_file(&path);
        }
        let component = Component::new(engine, bytes)?;
        self.stats.compiled.fetch_add(1, Ordering::Relaxed);
        crate::telemetry::metrics::compile_cache(CompiledFrom::Compiler);
        if let (Some((_, key)), Some(path)) = (&self.disk, self.path_for(hash))
            && let Err(e) = self.store(key, &component, &path, hash)
        {
            tracing::warn!("cannot write cache entry {}: {e:#}", path.display());
        }
        Ok(component)
    }

    /// Unpacks and deserialises an artifact built into the binary.
    fn load_precompiled(engine: &Engine, packed: &[u8]) -> Result<Component> {
        let body = lz4_flex::decompress_size_prepended(packed)
            .context("unpacking the built-in compiled form")?;
        // SAFETY: the bytes are part of this binary, written by its build
        // script with `Engine::precompile_component`; wasmtime checks at
        // load that they were compiled for a compatible engine (version,
        // target, settings, CPU features) and refuses them otherwise.
        Ok(unsafe { Component::deserialize(engine, &body) }?)
    }

    pub fn dir(&self) -> Option<&Path> {
        self.disk.as_ref().map(|(d, _)| d.as_path())
    }

    fn store(&self, key: &[u8; 32], component: &Component, path: &Path, hash: &str) -> Result<()> {
        let body = component.serialize()?;
        let mut out = Vec::with_capacity(MAGIC.len() + MAC_LEN + body.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.mac(key, hash, &body));
        out.extend_from_slice(&body);
        paths::write_private(path, &out)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtimes_starting_at_once_agree_on_one_key() {
        let dir = tempfile::tempdir().unwrap();
        let keys: Vec<[u8; 32]> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| s.spawn(|| install_key(dir.path()).unwrap()))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(keys.iter().all(|k| *k == keys[0]), "{keys:?}");
        assert_eq!(std::fs::read(dir.path().join("key")).unwrap(), keys[0]);
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|n| n != "key")
            .collect();
        assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    }

    #[test]
    fn a_key_readable_by_others_is_replaced() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let first = install_key(dir.path()).unwrap();
        let path = dir.path().join("key");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let second = install_key(dir.path()).unwrap();
        assert_ne!(first, second);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}
