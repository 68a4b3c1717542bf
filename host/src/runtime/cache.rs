//! On-disk cache of compiled components.
//!
//! Compiling a component takes milliseconds to seconds; deserialising a
//! compiled artifact takes microseconds (it is mapped, not parsed). The
//! cache key is the component's SHA-256 together with the engine's
//! compatibility hash (wasmtime version, target, settings), so a restart
//! with an unchanged component never compiles, and a changed engine never
//! loads an artifact built for another. `Component::deserialize` trusts its
//! input, so only the host writes this folder, and it writes atomically.

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Counts of what the cache did, for `component list` and tests.
#[derive(Debug, Default)]
pub struct CacheStats {
    pub compiled: AtomicU64,
    pub loaded_from_disk: AtomicU64,
}

/// Compiles components, consulting and filling an optional disk cache.
pub struct CompileCache {
    dir: Option<PathBuf>,
    engine_key: String,
    pub stats: CacheStats,
}

/// SHA-256 of a component's bytes, as hex.
pub fn content_hash(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl CompileCache {
    /// `dir = None` disables the disk cache (every load compiles).
    pub fn new(engine: &Engine, dir: Option<PathBuf>) -> Result<CompileCache> {
        if let Some(dir) = &dir {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create cache folder {}", dir.display()))?;
        }
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Ok(CompileCache {
            dir,
            engine_key: format!("{:016x}", hasher.finish()),
            stats: CacheStats::default(),
        })
    }

    fn path_for(&self, hash: &str) -> Option<PathBuf> {
        self.dir
            .as_ref()
            .map(|d| d.join(format!("{hash}-{}.cwasm", self.engine_key)))
    }

    /// The compiled form of `bytes` (whose SHA-256 is `hash`).
    pub fn load(&self, engine: &Engine, bytes: &[u8], hash: &str) -> Result<Component> {
        if let Some(path) = self.path_for(hash)
            && path.is_file()
        {
            // SAFETY: the file was written by `store` below from
            // `Component::serialize` of this engine configuration (the name
            // carries the compatibility hash), and the cache folder belongs
            // to the host.
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(component) => {
                    self.stats.loaded_from_disk.fetch_add(1, Ordering::Relaxed);
                    return Ok(component);
                }
                Err(e) => tracing::warn!(
                    "discarding unreadable cache entry {}: {e:#}",
                    path.display()
                ),
            }
        }
        let component = Component::new(engine, bytes)?;
        self.stats.compiled.fetch_add(1, Ordering::Relaxed);
        if let Some(path) = self.path_for(hash)
            && let Err(e) = store(&component, &path)
        {
            tracing::warn!("cannot write cache entry {}: {e:#}", path.display());
        }
        Ok(component)
    }

    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }
}

fn store(component: &Component, path: &Path) -> Result<()> {
    let bytes = component.serialize()?;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}
