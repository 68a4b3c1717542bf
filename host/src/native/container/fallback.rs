//! Subprocess mode: the task's command as `bash -c` on the host, used only
//! when no Docker daemon answers and `[native.container] fallback` is
//! `"subprocess"` (the default). There is no isolation at all, which is
//! why the result carries a warning the model and the operator both see.
//! The task still gets its token, task API, output folder and deadline,
//! so a worker written for containers runs unchanged.

use super::super::env::EnvScrub;
use super::super::process::{self, ProcessOutput, ProcessSpec};
use super::taskdir::TaskDir;
use std::path::Path;
use std::time::Duration;

/// The warning put at the top of a subprocess-mode result.
pub fn warning(endpoint: &str, why: &str) -> String {
    format!(
        "warning: no Docker daemon answered at {endpoint} ({why}); ran as a subprocess on the host \
         WITHOUT container isolation (set [native.container] fallback = \"off\" to refuse)"
    )
}

/// Runs `command` in `workspace` with the host's scrubbed environment plus
/// the task's variables, pointing at the host-side paths of `dir`.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    scrub: &EnvScrub,
    workspace: &Path,
    dir: &TaskDir,
    task_id: &str,
    token: &str,
    command: &str,
    stdin: Option<Vec<u8>>,
    timeout: Duration,
    keep_chars: usize,
    more_vars: Vec<(String, String)>,
) -> std::io::Result<ProcessOutput> {
    let mut env = scrub.host_env();
    let path = |p: &Path| p.to_string_lossy().into_owned();
    let mut task_vars = vec![
        ("OPENPISTA_TASK_ID".to_string(), task_id.to_string()),
        ("OPENPISTA_TASK_TOKEN".to_string(), token.to_string()),
        ("OPENPISTA_TASK_SOCKET".to_string(), path(&dir.socket())),
        ("OPENPISTA_REPORT".to_string(), path(&dir.report_file())),
        ("OPENPISTA_OUT".to_string(), path(&dir.out)),
    ];
    if let Some(file) = &dir.task_file {
        task_vars.push(("OPENPISTA_TASK_FILE".to_string(), path(file)));
    }
    task_vars.extend(more_vars);
    env.retain(|(name, _)| !task_vars.iter().any(|(n, _)| n == name));
    env.extend(task_vars);
    let spec = ProcessSpec {
        program: "bash".into(),
        args: vec!["-c".into(), command.to_string()],
        cwd: Some(workspace.to_path_buf()),
        env,
        stdin,
        timeout,
        keep_chars,
    };
    process::run(&spec).await
}
