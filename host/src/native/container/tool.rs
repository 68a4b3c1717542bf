//! The `container.run` tool: the model's way into [`Containers::run_task`],
//! and the result text it reads back (warning, report, how it ended,
//! output, files).

use super::super::args;
use super::super::process::{self, ProcessOutput};
use super::{Containers, ReportSource, TaskMode, TaskOutcome, TaskRequest, paths};
use crate::runtime::CallContext;
use crate::runtime::bindings::{ToolResult, ToolSpec, WitError};
use crate::tools::NativeTool;
use serde::Deserialize;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub const NAME: &str = "container.run";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {
    command: String,
    #[serde(default)]
    image: Option<String>,
    #[serde(default)]
    task: Option<String>,
    #[serde(default)]
    timeout_secs: Option<f64>,
    #[serde(default)]
    network: Option<bool>,
    #[serde(default)]
    memory_mb: Option<f64>,
}

/// The `container.run` tool.
pub struct ContainerRun {
    containers: Arc<Containers>,
}

impl ContainerRun {
    pub fn new(containers: Arc<Containers>) -> ContainerRun {
        ContainerRun { containers }
    }
}

impl NativeTool for ContainerRun {
    fn spec(&self) -> ToolSpec {
        let s = self.containers.settings();
        let mut images = format!("default {}", s.image);
        for (short, full) in &s.images {
            images.push_str(&format!(", {short} ({full})"));
        }
        let network = if s.allow_network {
            "No network unless you pass network: true."
        } else {
            "There is no network."
        };
        ToolSpec {
            name: NAME.into(),
            description: format!(
                "Run a shell command (sh -c) in a fresh, isolated container that is destroyed afterwards. \
                 The workspace is mounted read-only at {ws} (the working directory); write results to {out}. \
                 {network} Caps: {mem} MiB of memory, {cpus} CPU, killed after timeout_secs (default {t}, at most {tmax}). \
                 Images: {images}. For a heavy task, pass `task` with instructions: the worker reads them at \
                 {task_file} and writes its report to $OPENPISTA_REPORT ({report}), and the report comes back to you \
                 first in the result, then the exit code and output (cut at {limit} characters).",
                ws = paths::WORKSPACE,
                out = paths::OUT,
                mem = s.memory_mb,
                cpus = s.cpus,
                t = s.timeout_secs,
                tmax = s.max_timeout_secs,
                task_file = paths::TASK_FILE,
                report = paths::REPORT,
                limit = s.output_limit,
            ),
            parameters: serde_json::json!({
                "type": "object",
                "properties": {
                    "command": {"type": "string", "description": "The shell command line, run with sh -c in /workspace."},
                    "image": {"type": "string", "description": "A configured image, by short name; the default image when omitted."},
                    "task": {"type": "string", "description": "Instructions for a worker: given at /openpista/task.md; its report at $OPENPISTA_REPORT comes back."},
                    "timeout_secs": {"type": "number", "description": "Deadline in seconds; the container is killed at it."},
                    "network": {"type": "boolean", "description": "Ask for network access (only if the operator allows it)."},
                    "memory_mb": {"type": "number", "description": "A lower memory cap in MiB (cannot raise the configured cap)."}
                },
                "required": ["command"],
                "additionalProperties": false
            })
            .to_string(),
        }
    }

    fn invoke<'a>(
        &'a self,
        arguments: &'a str,
        context: &'a CallContext,
    ) -> Pin<Box<dyn Future<Output = Result<ToolResult, WitError>> + Send + 'a>> {
        Box::pin(async move {
            let a: Args = args::parse(NAME, arguments)?;
            let s = self.containers.settings();
            let memory_mb = match a.memory_mb {
                Some(m) if !(m.is_finite() && m >= 1.0) => {
                    return Err(WitError::InvalidInput(format!(
                        "{NAME}: memory_mb must be a positive number of MiB"
                    )));
                }
                Some(m) => Some(m as u64),
                None => None,
            };
            let request = TaskRequest {
                command: a.command,
                image: a.image,
                task: a.task,
                timeout: Some(args::deadline(
                    a.timeout_secs,
                    s.timeout_secs,
                    s.max_timeout_secs,
                )),
                network: a.network.unwrap_or(false),
                memory_mb,
                stdin: None,
                out_dir: None,
                session: context.session.clone(),
            };
            let outcome = self.containers.run_task(request).await?;
            let text = render(&outcome, s.output_limit);
            let text = self.containers.scrub.secrets.redact(&text).into_owned();
            Ok(if outcome.succeeded() {
                args::text(text)
            } else {
                args::failure(text)
            })
        })
    }
}

/// The result text: the warning (if any), the report, how the task ended,
/// its output and the files it left. Output and report are each cut at
/// `limit` characters with a marker.
pub fn render(outcome: &TaskOutcome, limit: usize) -> String {
    let mut text = String::new();
    if let Some(warning) = &outcome.warning {
        text.push_str(warning);
        text.push_str("\n\n");
    }
    match (&outcome.mode, &outcome.container_id, &outcome.image) {
        (TaskMode::Docker, Some(id), Some(image)) => text.push_str(&format!(
            "task {} ran in container {} (image {image}, {}, memory cap {} MiB)\n",
            outcome.task_id,
            &id[..id.len().min(12)],
            if outcome.network {
                "network on"
            } else {
                "no network"
            },
            outcome.memory_mb
        )),
        _ => text.push_str(&format!(
            "task {} ran as a subprocess on the host\n",
            outcome.task_id
        )),
    }
    if let Some(report) = &outcome.report {
        let from = match outcome.report_source {
            Some(ReportSource::TaskApi) => "POST /report",
            Some(ReportSource::Reports) => "openpista worker report",
            _ => "report.md",
        };
        text.push_str(&format!("--- report (from {from}) ---\n"));
        text.push_str(&process::with_marker(report, report.chars().count(), limit));
        if !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str("--- end of report ---\n");
    }
    if outcome.timed_out {
        let what = match outcome.mode {
            TaskMode::Docker => "the container was killed",
            TaskMode::Subprocess => "the process group was killed",
        };
        text.push_str(&format!(
            "timed out after {:.1} s: {what}\n",
            outcome.timeout.as_secs_f64()
        ));
    }
    match (outcome.exit_code, outcome.signal) {
        (Some(code), _) if outcome.oom_killed && code == 137 => text.push_str(&format!(
            "exit code: 137 (killed: out of memory, cap {} MiB)\n",
            outcome.memory_mb
        )),
        (Some(code), _) if outcome.oom_killed => text.push_str(&format!(
            "exit code: {code} (a process was killed: out of memory, cap {} MiB)\n",
            outcome.memory_mb
        )),
        (Some(code), _) => text.push_str(&format!("exit code: {code}\n")),
        (None, Some(signal)) => text.push_str(&format!("killed by signal {signal}\n")),
        (None, None) => {}
    }
    // The streams, sharing the room as system.run does.
    text.push_str(&process::render(
        &ProcessOutput {
            stdout: outcome.stdout.clone(),
            stderr: outcome.stderr.clone(),
            exit_code: None,
            signal: None,
            timed_out: false,
            elapsed: outcome.elapsed,
        },
        limit,
    ));
    if !outcome.files.is_empty() {
        let listed: Vec<String> = outcome
            .files
            .iter()
            .map(|f| format!("{} ({} bytes)", f.path, f.bytes))
            .collect();
        text.push_str(&format!(
            "files left in {}: {}\n",
            paths::OUT,
            listed.join(", ")
        ));
    }
    text
}
