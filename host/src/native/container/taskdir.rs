//! A task's folder on the host: what the task gets mounted besides the
//! workspace, and where its results come back.
//!
//! ```text
//! <tmp>/openpista-task-<id>/       0700, removed when the task ends
//!     out/      -> /openpista/out       (writable; report.md lands here)
//!     run/      -> /openpista/run       (read-only; task.sock, the task API)
//!     task.md   -> /openpista/task.md   (read-only; when the task has text)
//! ```
//!
//! The task writes `out/` as it likes, so it is read back with care:
//! symbolic links are never followed (a worker must not be able to make
//! the host read `/etc/shadow` into the session) and only regular files
//! count.

use std::fs::{self, DirBuilder};
use std::io::Read;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Name of the report file in the output folder.
pub const REPORT_FILE: &str = "report.md";

/// A file the task left in its output folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputFile {
    /// Path relative to the output folder.
    pub path: String,
    pub bytes: u64,
}

/// The folder of one task.
#[derive(Debug)]
pub struct TaskDir {
    root: PathBuf,
    /// The host side of `/openpista/out`.
    pub out: PathBuf,
    /// The host side of `/openpista/run`.
    pub run: PathBuf,
    /// The host side of `/openpista/task.md`, when the task has text.
    pub task_file: Option<PathBuf>,
}

impl TaskDir {
    /// Creates the folder of task `task_id`. `out` is a folder of the
    /// caller's to use as the output folder (created if missing, kept
    /// afterwards); a private one is made otherwise.
    pub fn create(task_id: &str, task: Option<&str>, out: Option<&Path>) -> std::io::Result<Self> {
        let root = std::env::temp_dir().join(format!("openpista-task-{task_id}"));
        DirBuilder::new().mode(0o700).create(&root)?;
        let mut dir = TaskDir {
            out: root.join("out"),
            run: root.join("run"),
            root,
            task_file: None,
        };
        match out {
            Some(path) => {
                fs::create_dir_all(path)?;
                dir.out = path.canonicalize()?;
                // A report left by an earlier task must not pass for this one's.
                match fs::remove_file(dir.out.join(REPORT_FILE)) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                    _ => {}
                }
            }
            None => {
                fs::create_dir(&dir.out)?;
                // The task may run as any user inside the container.
                fs::set_permissions(&dir.out, fs::Permissions::from_mode(0o777))?;
            }
        }
        fs::create_dir(&dir.run)?;
        fs::set_permissions(&dir.run, fs::Permissions::from_mode(0o755))?;
        if let Some(text) = task {
            let file = dir.root.join("task.md");
            fs::write(&file, text)?;
            fs::set_permissions(&file, fs::Permissions::from_mode(0o644))?;
            dir.task_file = Some(file);
        }
        Ok(dir)
    }

    /// The task API's socket.
    pub fn socket(&self) -> PathBuf {
        self.run.join("task.sock")
    }

    /// The report file, host side.
    pub fn report_file(&self) -> PathBuf {
        self.out.join(REPORT_FILE)
    }

    /// The report file's text (at most `max_bytes`, invalid UTF-8
    /// replaced), when the task wrote one as a regular file.
    pub fn read_report(&self, max_bytes: usize) -> Option<String> {
        let file = fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(self.report_file())
            .ok()?;
        if !file.metadata().ok()?.is_file() {
            return None;
        }
        let mut bytes = Vec::new();
        file.take(max_bytes as u64).read_to_end(&mut bytes).ok()?;
        Some(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// Regular files under the output folder (at most `max`, sorted),
    /// without following links.
    pub fn files(&self, max: usize) -> Vec<OutputFile> {
        let mut found = Vec::new();
        let mut pending = vec![self.out.clone()];
        while let Some(dir) = pending.pop() {
            let Ok(entries) = fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let Ok(meta) = fs::symlink_metadata(entry.path()) else {
                    continue;
                };
                if meta.is_dir() {
                    pending.push(entry.path());
                } else if meta.is_file() {
                    let path = entry.path();
                    let relative = path.strip_prefix(&self.out).unwrap_or(&path);
                    found.push(OutputFile {
                        path: relative.to_string_lossy().into_owned(),
                        bytes: meta.len(),
                    });
                }
                if found.len() >= max * 4 {
                    break;
                }
            }
        }
        found.sort_by(|a, b| a.path.cmp(&b.path));
        found.truncate(max);
        found
    }
}

impl Drop for TaskDir {
    fn drop(&mut self) {
        // The private output folder is inside the root; a caller's is kept.
        if let Err(e) = fs::remove_dir_all(&self.root) {
            tracing::debug!("cannot remove task folder {}: {e}", self.root.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_is_read_without_following_links() {
        let dir = TaskDir::create("unit-test-links", Some("do it"), None).unwrap();
        assert_eq!(
            fs::read_to_string(dir.task_file.as_ref().unwrap()).unwrap(),
            "do it"
        );
        assert_eq!(dir.read_report(100), None);
        std::os::unix::fs::symlink("/etc/hostname", dir.report_file()).unwrap();
        assert_eq!(dir.read_report(100), None, "a link is not a report");
        fs::remove_file(dir.report_file()).unwrap();
        fs::write(dir.report_file(), "all done, and more").unwrap();
        assert_eq!(dir.read_report(8).as_deref(), Some("all done"));
        fs::create_dir(dir.out.join("sub")).unwrap();
        fs::write(dir.out.join("sub/a.txt"), "abc").unwrap();
        let files = dir.files(10);
        assert_eq!(
            files,
            vec![
                OutputFile {
                    path: REPORT_FILE.into(),
                    bytes: 18
                },
                OutputFile {
                    path: "sub/a.txt".into(),
                    bytes: 3
                },
            ]
        );
        let root = dir.root.clone();
        drop(dir);
        assert!(!root.exists());
    }
}
