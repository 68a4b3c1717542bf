//! What one task gets for reports: its record, its queue folder, and the
//! mounts and variables that let its worker reach the reports socket.

use super::Reports;
use crate::memory::workers::WorkerTask;
use crate::native::container::paths;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A task's reporting, from its start to its end. Dropped without
/// [`end`](Self::end) (the task could not run, or the call was cancelled),
/// it records the end itself, so no task stays `running` with a live
/// token.
pub struct TaskReporting {
    reports: Arc<Reports>,
    task_id: String,
    /// The host side of `/openpista/queue`.
    pub queue: PathBuf,
    ended: bool,
}

impl TaskReporting {
    /// Records `task` as started with `token`; `None` (after a warning)
    /// when it cannot be recorded: the task then runs without reports.
    pub async fn begin(
        reports: &Arc<Reports>,
        task: WorkerTask,
        token: &str,
    ) -> Option<TaskReporting> {
        let task_id = task.task_id.clone();
        let (owner, token) = (reports.clone(), token.to_string());
        // Recording commits to disk: off the async threads.
        let begun = tokio::task::spawn_blocking(move || owner.begin(task, &token)).await;
        match begun {
            Ok(Ok(queue)) => Some(TaskReporting {
                reports: reports.clone(),
                task_id,
                queue,
                ended: false,
            }),
            Ok(Err(e)) => {
                tracing::warn!("worker task {task_id} runs without reports: {e:#}");
                None
            }
            Err(e) => {
                tracing::warn!("worker task {task_id} runs without reports: {e}");
                None
            }
        }
    }

    /// Variables for a container.
    pub fn container_env(&self, client: Option<&Path>) -> Vec<String> {
        let mut env = vec![
            format!("OPENPISTA_REPORTS_SOCKET={}", paths::REPORTS_SOCKET),
            format!("OPENPISTA_REPORT_QUEUE={}", paths::QUEUE),
        ];
        if client.is_some() {
            env.push(format!("OPENPISTA_CLIENT={}", paths::CLIENT));
        }
        env
    }

    /// Mounts for a container: the host's run folder (read-only), the
    /// task's queue, and the client program when there is one.
    pub fn container_binds(&self, client: Option<&Path>) -> Vec<(PathBuf, String, bool)> {
        let mut binds = vec![
            (
                self.reports.paths().run_dir.clone(),
                paths::HOST_RUN.to_string(),
                true,
            ),
            (self.queue.clone(), paths::QUEUE.to_string(), false),
        ];
        if let Some(client) = client {
            binds.push((client.to_path_buf(), paths::CLIENT.to_string(), true));
        }
        binds
    }

    /// Variables for a subprocess, with the host's own paths.
    pub fn host_vars(&self) -> Vec<(String, String)> {
        let mut vars = vec![
            (
                "OPENPISTA_REPORTS_SOCKET".to_string(),
                self.reports.paths().socket().to_string_lossy().into_owned(),
            ),
            (
                "OPENPISTA_REPORT_QUEUE".to_string(),
                self.queue.to_string_lossy().into_owned(),
            ),
        ];
        if let Ok(me) = std::env::current_exe() {
            vars.push((
                "OPENPISTA_CLIENT".to_string(),
                me.to_string_lossy().into_owned(),
            ));
        }
        vars
    }

    /// The latest final report the worker sent through the endpoint.
    pub fn final_report(&self) -> Option<String> {
        self.reports.final_report(&self.task_id)
    }

    /// Records the end of the task.
    pub fn end(mut self, exit_code: Option<i64>) {
        self.ended = true;
        finish(self.reports.clone(), self.task_id.clone(), exit_code);
    }
}

impl Drop for TaskReporting {
    fn drop(&mut self) {
        if !self.ended {
            finish(self.reports.clone(), self.task_id.clone(), None);
        }
    }
}

/// Records the end of `task_id`, off the async threads when there are any.
fn finish(reports: Arc<Reports>, task_id: String, exit_code: Option<i64>) {
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => {
            runtime.spawn_blocking(move || reports.end(&task_id, exit_code));
        }
        Err(_) => reports.end(&task_id, exit_code),
    }
}

/// The program to mount as the worker's client, for `worker_client`:
/// `"off"`: none; `"auto"`: this program when it is statically linked (a
/// dynamically linked one would not start in most images); else the path,
/// which must exist.
pub fn worker_client(setting: &str) -> Result<Option<PathBuf>, String> {
    match setting.trim() {
        "off" | "" => Ok(None),
        "auto" => {
            let me = std::env::current_exe().map_err(|e| e.to_string())?;
            Ok(is_static_elf(&me).then_some(me))
        }
        path => {
            let path = crate::paths::expand(path);
            if path.is_file() {
                Ok(Some(path))
            } else {
                Err(format!(
                    "[native.container] worker_client {} is not a file",
                    path.display()
                ))
            }
        }
    }
}

/// Whether `path` is a 64-bit ELF executable without a program
/// interpreter, that is, one that needs no libc from the image.
pub fn is_static_elf(path: &Path) -> bool {
    use std::io::{Read, Seek, SeekFrom};
    const PT_INTERP: u32 = 3;
    let Ok(mut file) = std::fs::File::open(path) else {
        return false;
    };
    let mut header = [0u8; 64];
    if file.read_exact(&mut header).is_err() || &header[..4] != b"\x7fELF" || header[4] != 2 {
        return false;
    }
    let phoff = u64::from_le_bytes(header[0x20..0x28].try_into().unwrap());
    let phentsize = u16::from_le_bytes([header[0x36], header[0x37]]) as usize;
    let phnum = u16::from_le_bytes([header[0x38], header[0x39]]) as usize;
    if phentsize < 4 || phnum == 0 || file.seek(SeekFrom::Start(phoff)).is_err() {
        return false;
    }
    let mut table = vec![0u8; phentsize * phnum];
    if file.read_exact(&mut table).is_err() {
        return false;
    }
    !table
        .chunks(phentsize)
        .any(|h| u32::from_le_bytes(h[..4].try_into().unwrap()) == PT_INTERP)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dynamic_program_is_not_static_and_a_script_is_no_program() {
        // The test binary links libc dynamically.
        let me = std::env::current_exe().unwrap();
        assert!(!is_static_elf(&me));
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("s");
        std::fs::write(&script, "#!/bin/sh\n").unwrap();
        assert!(!is_static_elf(&script));
        assert_eq!(worker_client("off"), Ok(None));
        assert!(worker_client("/no/such/client").is_err());
        assert_eq!(
            worker_client(script.to_str().unwrap()),
            Ok(Some(script.clone()))
        );
    }
}
