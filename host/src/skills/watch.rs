//! Hot reload of skills: each root, its direct subfolders and the folder
//! of every SKILL.md found are watched (not recursively: a workspace can
//! hold build output with tens of thousands of folders), and a change to a
//! SKILL.md, a skill's script or its component reloads the skill set. The
//! watched folders are brought up to date after every reload, so a skill
//! folder made directly below a root is followed; deeper new ones are
//! found on the next start. Replacing a wasm skill's `.wasm` also hot-swaps the
//! component itself (its folder is a plugin folder of the runtime).

use super::SkillSet;
use anyhow::Result;
use notify::{RecursiveMode, Watcher};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Quiet period after the last change before reloading. Longer than the
/// runtime's, so a swapped component has usually loaded by then.
pub const DEBOUNCE: Duration = Duration::from_millis(300);

/// Keeps the watcher alive; dropping it stops watching.
pub struct SkillWatch {
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

/// The folders to watch now: the roots, each root's direct subfolders
/// (where a new skill appears), and every skill's folder.
fn folders(set: &SkillSet) -> BTreeSet<PathBuf> {
    let mut folders: BTreeSet<PathBuf> = set.roots().iter().cloned().collect();
    for root in set.roots() {
        if let Ok(entries) = std::fs::read_dir(root) {
            folders.extend(
                entries
                    .flatten()
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                    .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                    .map(|e| e.path()),
            );
        }
    }
    folders.extend(
        set.skills()
            .iter()
            .filter_map(|s| s.path.parent().map(Path::to_path_buf)),
    );
    folders.retain(|d| d.is_dir());
    folders
}

/// Starts watching `set`'s skills. After each reload the watched folders
/// are brought up to date, so a skill folder made later is followed too.
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
    let mut watched = BTreeSet::new();
    let follow = move |set: &SkillSet,
                       watcher: &mut notify::RecommendedWatcher,
                       watched: &mut BTreeSet<PathBuf>| {
        for dir in folders(set) {
            if !watched.contains(&dir) {
                match watcher.watch(&dir, RecursiveMode::NonRecursive) {
                    Ok(()) => {
                        watched.insert(dir);
                    }
                    Err(e) => {
                        tracing::warn!("cannot watch {} for skill changes: {e}", dir.display())
                    }
                }
            }
        }
    };
    follow(&set, &mut watcher, &mut watched);
    let reload_set = set.clone();
    let task = tokio::spawn(async move {
        while rx.recv().await.is_some() {
            while let Ok(Some(())) = tokio::time::timeout(DEBOUNCE, rx.recv()).await {}
            let set = reload_set.clone();
            let _ = tokio::task::spawn_blocking(move || set.reload()).await;
            follow(&reload_set, &mut watcher, &mut watched);
            tracing::info!("skills reloaded");
        }
    });
    Ok(SkillWatch { task })
}
