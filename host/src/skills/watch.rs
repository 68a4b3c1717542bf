//! Hot reload of skills: the folder of every SKILL.md found, and each
//! root itself, are watched (not recursively: a workspace can hold build
//! output with tens of thousands of folders), and a change to a SKILL.md,
//! a skill's script or its component reloads the skill set. A new skill
//! folder directly below a root is picked up too; deeper new ones on the
//! next start. Replacing a wasm skill's `.wasm` also hot-swaps the
//! component itself (its folder is a plugin folder of the runtime).

use super::SkillSet;
use anyhow::Result;
use notify::{RecursiveMode, Watcher};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Quiet period after the last change before reloading. Longer than the
/// runtime's, so a swapped component has usually loaded by then.
pub const DEBOUNCE: Duration = Duration::from_millis(300);

/// Keeps the watcher alive; dropping it stops watching.
pub struct SkillWatch {
    _watcher: notify::RecommendedWatcher,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SkillWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Whether a change to `path` can change a skill.
fn relevant(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name == "SKILL.md"
        || name == "run.sh"
        || name == "main.py"
        || name.ends_with(".wasm")
        || name.ends_with(".toml")
        || path.is_dir()
}

/// Starts watching `set`'s skills.
pub fn watch(set: Arc<SkillSet>) -> Result<SkillWatch> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let mut watcher =
        notify::recommended_watcher(move |event: notify::Result<notify::Event>| match event {
            Ok(event) if event.paths.iter().any(|p| relevant(p)) => {
                let _ = tx.send(());
            }
            Ok(_) => {}
            Err(e) => tracing::warn!("skill folder watch error: {e}"),
        })?;
    let mut folders: Vec<std::path::PathBuf> = set.roots().to_vec();
    folders.extend(
        set.skills()
            .iter()
            .filter_map(|s| s.path.parent().map(Path::to_path_buf)),
    );
    folders.sort();
    folders.dedup();
    for dir in folders.iter().filter(|d| d.is_dir()) {
        if let Err(e) = watcher.watch(dir, RecursiveMode::NonRecursive) {
            tracing::warn!("cannot watch {} for skill changes: {e}", dir.display());
        }
    }
    let task = tokio::spawn(async move {
        while rx.recv().await.is_some() {
            while let Ok(Some(())) = tokio::time::timeout(DEBOUNCE, rx.recv()).await {}
            let set = set.clone();
            let _ = tokio::task::spawn_blocking(move || set.reload()).await;
            tracing::info!("skills reloaded");
        }
    });
    Ok(SkillWatch {
        _watcher: watcher,
        task,
    })
}
