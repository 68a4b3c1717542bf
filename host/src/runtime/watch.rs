//! Hot swap: plugin folders are watched, and a component whose `.wasm`,
//! `.toml` or `.sig` changed is reloaded off the hot path and swapped in atomically.
//! Events are debounced so a file written in several steps loads once.

use super::registry::Runtime;
use anyhow::{Context, Result};
use notify::{RecursiveMode, Watcher};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

/// Quiet period after the last event before a reload starts.
pub const DEBOUNCE: Duration = Duration::from_millis(50);

/// Keeps the watcher alive; dropping it stops watching.
pub struct WatchHandle {
    _watcher: notify::RecommendedWatcher,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for WatchHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The component a changed path belongs to (`dir/NAME.wasm|toml|sig`).
fn component_of(path: &std::path::Path) -> Option<String> {
    let ext = path.extension()?.to_str()?;
    if ext != "wasm" && ext != "toml" && ext != "sig" {
        return None;
    }
    let stem = path.file_stem()?.to_str()?;
    super::manifest::validate_name(stem).ok()?;
    Some(stem.to_string())
}

/// Reloads component `name` and the aliases loaded from it, counting each
/// swap; errors are recorded in the slot and logged by `reload`.
pub async fn swap(runtime: &Arc<Runtime>, name: &str) {
    for name in std::iter::once(name.to_string()).chain(runtime.aliases_of(name)) {
        let swapped = runtime.reload(&name).await;
        crate::telemetry::metrics::hot_swap(&name, swapped.is_ok());
    }
}

/// Starts watching the runtime's plugin folders (creating missing ones).
pub fn watch(runtime: Arc<Runtime>) -> Result<WatchHandle> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let mut watcher =
        notify::recommended_watcher(move |event: notify::Result<notify::Event>| match event {
            // Reading a component's files (a backup, the cluster's
            // publisher) changes nothing: only writes, creations,
            // renames and removals reload.
            Ok(event) if matches!(event.kind, notify::EventKind::Access(_)) => {}
            Ok(event) => {
                for path in &event.paths {
                    if let Some(name) = component_of(path) {
                        let _ = tx.send(name);
                    }
                }
            }
            Err(e) => tracing::warn!("plugin folder watch error: {e}"),
        })?;
    for dir in &runtime.watched_dirs() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create plugin folder {}", dir.display()))?;
        watcher
            .watch(dir, RecursiveMode::NonRecursive)
            .with_context(|| format!("cannot watch {}", dir.display()))?;
    }
    let task = tokio::spawn(async move {
        while let Some(first) = rx.recv().await {
            let mut pending = BTreeSet::from([first]);
            // Gather everything that changes within the quiet period.
            while let Ok(Some(name)) = tokio::time::timeout(DEBOUNCE, rx.recv()).await {
                pending.insert(name);
            }
            for name in pending {
                swap(&runtime, &name).await;
            }
        }
    });
    Ok(WatchHandle {
        _watcher: watcher,
        task,
    })
}
