//! Worker reports: progress and results a worker sends to the host while
//! its task runs, and after (the host may have been away).
//!
//! Unlike the task API, which lives and dies with its task, the reports
//! endpoint belongs to the host: one unix socket beside the memory
//! database that records the tasks (`~/.openpista/worker-reports/reports.sock` by
//! default), whose folder every task container gets read-only at
//! `/openpista/host/`. A host that restarts binds the socket
//! again at the same place, so a worker that outlived the host reaches the
//! new one through the same mount.
//!
//! ```text
//! POST /reports   Authorization: Bearer $OPENPISTA_TASK_TOKEN
//! {"id": "…", "task_id": "…", "kind": "progress"|"final",
//!  "text": "…", "percent": 40, "sent_ms": 1765000000000}
//!
//! 200 {"ack": true, "id": "…", "seq": 3, "duplicate": false}      ACK
//! 4xx {"ack": false, "retry": false, "error": "…"}                NACK
//! 503 {"ack": false, "retry": true, "error": "…"}                 try later
//! ```
//!
//! The token is checked against the SHA-256 the host stored when the task
//! started, so it holds across restarts; it opens the endpoint while the
//! task runs and for `report_grace_secs` after it ended. The report id is
//! the worker's: the host stores a report once per id, so a worker that
//! never heard the answer sends it again and gets an ACK for the first.
//!
//! The worker's side is [`client`] (`openpista worker report`): each
//! report is written to the task's queue folder first
//! (`~/.openpista/report-queue/<task>/`, `/openpista/queue/` in the
//! container), then sent; an ACK or a NACK takes it out of the queue (a
//! NACK into `rejected/`), anything else leaves it there and the client
//! tries again with backoff. A host that starts delivers what queues it
//! finds itself, so nothing queued is lost when the worker is gone too.
//!
//! - [`service`]: checking, storing and announcing reports; task records
//! - [`client`]: the worker's queue and its deliveries
//! - [`task`]: what one task gets: its record, queue, mounts, variables

pub mod client;
pub mod service;
pub mod task;
#[cfg(test)]
mod tests;

use crate::memory::workers::ReportKind;
use serde::{Deserialize, Serialize};

pub use service::{ReportPaths, Reports, WorkerEvent};

/// The route on the reports socket.
pub const ROUTE: &str = "/reports";
/// The socket's file name in the host's run folder.
pub const SOCKET_NAME: &str = "reports.sock";
/// Largest report body accepted, bytes (the text is at most 1 MiB).
pub const MAX_BODY_BYTES: usize = (1 << 20) + (16 << 10);

/// A report on the wire, and in the queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportBody {
    /// Chosen by the worker before the first attempt; the same on every
    /// retry.
    pub id: String,
    pub task_id: String,
    pub kind: ReportKind,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_ms: Option<u64>,
}

/// The host's answer: an ACK, or a NACK that says whether to try again.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Answer {
    pub ack: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The report's place among its task's reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// This id was stored before; nothing changed.
    #[serde(default)]
    pub duplicate: bool,
    /// Sending the same report later may succeed.
    #[serde(default)]
    pub retry: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Answer {
    /// Report `id` is stored as arrival `seq` (now, or before: `duplicate`).
    fn ack(id: String, seq: u64, duplicate: bool) -> Answer {
        Answer {
            ack: true,
            id: Some(id),
            seq: Some(seq),
            duplicate,
            ..Answer::default()
        }
    }

    fn nack(retry: bool, error: impl Into<String>) -> Answer {
        Answer {
            ack: false,
            retry,
            error: Some(error.into()),
            ..Answer::default()
        }
    }
}

/// The history as `worker list|show`, the control socket and `/workers`
/// give it: every task (no `task`), or one task with its reports (`null`
/// when unknown).
pub fn history(
    store: &crate::memory::MemoryStore,
    task: Option<&str>,
) -> anyhow::Result<serde_json::Value> {
    Ok(match task {
        None => serde_json::Value::Array(
            store
                .worker_tasks()?
                .into_iter()
                .map(|task| {
                    let line = task.line();
                    let mut value = serde_json::to_value(task)?;
                    value["line"] = line.into();
                    Ok(value)
                })
                .collect::<anyhow::Result<_>>()?,
        ),
        Some(id) => match store.worker_task(id)? {
            Some(task) => {
                serde_json::json!({ "task": task, "reports": store.worker_reports(id)? })
            }
            None => serde_json::Value::Null,
        },
    })
}

/// A fresh report id: the time and 64 random bits, so ids sort roughly by
/// creation and never collide.
pub fn new_report_id() -> String {
    format!("{:x}-{}", now_ms(), hex::encode(rand::random::<[u8; 8]>()))
}

pub(crate) use crate::memory::now_ms;
