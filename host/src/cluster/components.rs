//! Components through the cluster: a component installed or replaced on
//! one node (its files written to the first plugin folder, as `component
//! install` does) is published to the JetStream object store
//! `openpista_components`, and every other node writes the same files into
//! its own first plugin folder, where its watcher swaps it in. Each node
//! checks the signature against its own trust policy when it loads.
//!
//! An object is the component's manifest, signature and WebAssembly in one
//! bundle, described by its SHA-256. A node writes a bundle only when it
//! differs from what it has, and publishes only a bundle that differs
//! from the cluster's, so a swap that came from the cluster goes no
//! further. What a node has at start is not published (it may be older
//! than the cluster's); the cluster's versions are written on top of it.

use super::Cluster;
use crate::runtime::{Runtime, SlotState};
use anyhow::{Context, Result, bail};
use async_nats::jetstream::object_store::{self, ObjectStore};
use futures::StreamExt;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::io::AsyncReadExt;

/// The object store bucket of components.
pub const BUCKET: &str = "openpista_components";
const MAGIC: &[u8] = b"openpista-component-bundle-1\n";

/// A component's files.
#[derive(Debug, Clone, PartialEq)]
pub struct Bundle {
    pub manifest: Vec<u8>,
    pub signature: Option<Vec<u8>>,
    pub wasm: Vec<u8>,
}

impl Bundle {
    /// `dir/NAME.toml`, `.sig` (if any) and `.wasm`; `None` when the
    /// manifest or the WebAssembly is missing.
    pub fn read(dir: &Path, name: &str) -> Option<Bundle> {
        Some(Bundle {
            manifest: std::fs::read(dir.join(format!("{name}.toml"))).ok()?,
            signature: std::fs::read(dir.join(format!("{name}.sig"))).ok(),
            wasm: std::fs::read(dir.join(format!("{name}.wasm"))).ok()?,
        })
    }

    /// Writes the files as `component install` does: each through a
    /// temporary file and a rename, signature and manifest before the
    /// WebAssembly (whose arrival the watcher reloads on); a signature
    /// the bundle lacks is removed.
    pub fn write(&self, dir: &Path, name: &str) -> Result<()> {
        std::fs::create_dir_all(dir)?;
        let put = |file: PathBuf, data: &[u8]| -> Result<()> {
            let tmp = dir.join(format!(".{name}.cluster.tmp"));
            std::fs::write(&tmp, data)
                .with_context(|| format!("cannot write {}", tmp.display()))?;
            std::fs::rename(&tmp, &file).with_context(|| format!("cannot write {}", file.display()))
        };
        match &self.signature {
            Some(sig) => put(dir.join(format!("{name}.sig")), sig)?,
            None => {
                let _ = std::fs::remove_file(dir.join(format!("{name}.sig")));
            }
        }
        put(dir.join(format!("{name}.toml")), &self.manifest)?;
        put(dir.join(format!("{name}.wasm")), &self.wasm)
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        let none = Vec::new();
        for part in [
            &self.manifest,
            self.signature.as_ref().unwrap_or(&none),
            &self.wasm,
        ] {
            out.extend_from_slice(&(part.len() as u64).to_le_bytes());
            out.extend_from_slice(part);
        }
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Bundle> {
        let Some(mut rest) = bytes.strip_prefix(MAGIC) else {
            bail!("not a component bundle");
        };
        let mut parts = Vec::new();
        for _ in 0..3 {
            if rest.len() < 8 {
                bail!("component bundle cut short");
            }
            let len = u64::from_le_bytes(rest[..8].try_into().unwrap()) as usize;
            rest = &rest[8..];
            if rest.len() < len {
                bail!("component bundle cut short");
            }
            parts.push(rest[..len].to_vec());
            rest = &rest[len..];
        }
        if !rest.is_empty() {
            bail!("component bundle has trailing bytes");
        }
        let wasm = parts.pop().unwrap();
        let signature = Some(parts.pop().unwrap()).filter(|s| !s.is_empty());
        Ok(Bundle {
            manifest: parts.pop().unwrap(),
            signature,
            wasm,
        })
    }

    /// SHA-256 of the encoded bundle, hex.
    pub fn digest(&self) -> String {
        hex::encode(Sha256::digest(self.encode()))
    }
}

/// Keeps the components in step with the cluster while it lives.
pub struct ComponentSync {
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for ComponentSync {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

async fn bucket(cluster: &Cluster) -> Result<ObjectStore> {
    if let Ok(store) = cluster.jetstream.get_object_store(BUCKET).await {
        return Ok(store);
    }
    cluster
        .jetstream
        .create_object_store(object_store::Config {
            bucket: BUCKET.into(),
            storage: async_nats::jetstream::stream::StorageType::File,
            ..Default::default()
        })
        .await
        .map_err(|e| anyhow::anyhow!("cluster: cannot open object store {BUCKET}: {e}"))
}

/// Starts publishing this node's installs and writing the cluster's into
/// `runtime`'s first plugin folder (nothing without one).
pub async fn start(cluster: &Cluster, runtime: Arc<Runtime>) -> Result<Option<ComponentSync>> {
    let Some(dir) = runtime.plugin_dirs().first().cloned() else {
        return Ok(None);
    };
    let store = bucket(cluster).await?;
    // What is here at start: the baseline, not published.
    let mut known: BTreeMap<String, String> = local_bundles(&runtime, &dir)
        .into_iter()
        .map(|(name, bundle)| (name, bundle.digest()))
        .collect();
    let publisher = {
        let (store, dir, runtime) = (store.clone(), dir.clone(), runtime.clone());
        let mut changes = runtime.changes();
        tokio::spawn(async move {
            while changes.changed().await.is_ok() {
                for (name, bundle) in local_bundles(&runtime, &dir) {
                    let digest = bundle.digest();
                    if known.get(&name) == Some(&digest) {
                        continue;
                    }
                    match publish(&store, &name, &bundle, &digest).await {
                        Ok(true) => {
                            tracing::info!(component = %name, "cluster: component published")
                        }
                        Ok(false) => {}
                        Err(e) => {
                            tracing::warn!(component = %name, "cluster: cannot publish: {e:#}");
                            continue;
                        }
                    }
                    known.insert(name, digest);
                }
            }
        })
    };
    let subscriber = {
        let runtime = runtime.clone();
        let mut watch = store
            .watch_with_history()
            .await
            .map_err(|e| anyhow::anyhow!("cluster: cannot watch {BUCKET}: {e}"))?;
        tokio::spawn(async move {
            while let Some(info) = watch.next().await {
                let info = match info {
                    Ok(info) => info,
                    Err(e) => {
                        tracing::warn!("cluster: component watch: {e}");
                        continue;
                    }
                };
                if info.deleted {
                    continue;
                }
                if let Err(e) = fetch(&store, &info, &dir, &runtime).await {
                    tracing::warn!(component = %info.name, "cluster: cannot install from the cluster: {e:#}");
                }
            }
            tracing::warn!(
                "cluster: the watch of {BUCKET} ended; components installed elsewhere no longer arrive"
            );
        })
    };
    Ok(Some(ComponentSync {
        tasks: vec![publisher, subscriber],
    }))
}

/// The loaded components whose files are in `dir`, with those files,
/// when the WebAssembly on disk is the one the runtime runs (files caught
/// mid-write, or written but not yet loaded, wait for their own swap).
fn local_bundles(runtime: &Runtime, dir: &Path) -> Vec<(String, Bundle)> {
    runtime
        .status()
        .into_iter()
        .filter(|s| s.state == SlotState::Active)
        .filter(|s| {
            s.source
                .as_deref()
                .map(Path::new)
                .and_then(Path::parent)
                .is_some_and(|p| p == dir)
        })
        .filter_map(|s| {
            let bundle = Bundle::read(dir, &s.name)?;
            let running = s.hash.as_deref()?;
            (crate::runtime::cache::content_hash(&bundle.wasm) == running)
                .then_some((s.name, bundle))
        })
        .collect()
}

/// Puts `bundle` in the store unless the store holds the same; true when
/// it did.
async fn publish(store: &ObjectStore, name: &str, bundle: &Bundle, digest: &str) -> Result<bool> {
    if let Ok(info) = store.info(name).await
        && !info.deleted
        && info.description.as_deref() == Some(digest)
    {
        return Ok(false);
    }
    let meta = object_store::ObjectMetadata {
        name: name.to_string(),
        description: Some(digest.to_string()),
        ..Default::default()
    };
    let bytes = bundle.encode();
    store
        .put(meta, &mut bytes.as_slice())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(true)
}

/// Writes the cluster's version of `info` into `dir` unless it is there,
/// and swaps it in (the folder's watcher may not run yet: `serve` starts
/// it after start-up, when the cluster's versions are already arriving).
async fn fetch(
    store: &ObjectStore,
    info: &object_store::ObjectInfo,
    dir: &Path,
    runtime: &Arc<Runtime>,
) -> Result<()> {
    let name = &info.name;
    crate::runtime::manifest::validate_name(name)
        .with_context(|| format!("object {name:?} is not a component name"))?;
    let local = Bundle::read(dir, name).map(|b| b.digest());
    if local.is_some() && local.as_deref() == info.description.as_deref() {
        return Ok(());
    }
    let mut object = store.get(name).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut bytes = Vec::new();
    object.read_to_end(&mut bytes).await?;
    let bundle = Bundle::decode(&bytes)?;
    if info.description.as_deref() != Some(bundle.digest().as_str()) {
        bail!("the bundle's content does not match its digest");
    }
    bundle.write(dir, name)?;
    tracing::info!(component = %name, "cluster: component written from the cluster");
    crate::runtime::watch::swap(runtime, name).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bundle_round_trips_and_a_damaged_one_is_refused() {
        let bundle = Bundle {
            manifest: b"name = \"x\"".to_vec(),
            signature: Some(b"sig".to_vec()),
            wasm: vec![0, 97, 115, 109, 1],
        };
        assert_eq!(Bundle::decode(&bundle.encode()).unwrap(), bundle);
        let unsigned = Bundle {
            signature: None,
            ..bundle.clone()
        };
        assert_eq!(Bundle::decode(&unsigned.encode()).unwrap(), unsigned);
        assert_ne!(unsigned.digest(), bundle.digest());
        let encoded = bundle.encode();
        for bad in [&encoded[..encoded.len() - 1], &b"junk"[..]] {
            assert!(Bundle::decode(bad).is_err());
        }
        let mut long = encoded.clone();
        long.push(0);
        assert!(Bundle::decode(&long).is_err());

        let dir = tempfile::tempdir().unwrap();
        bundle.write(dir.path(), "x").unwrap();
        assert_eq!(Bundle::read(dir.path(), "x").unwrap(), bundle);
        unsigned.write(dir.path(), "x").unwrap();
        assert_eq!(Bundle::read(dir.path(), "x").unwrap(), unsigned);
    }
}
