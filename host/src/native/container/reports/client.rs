//! The worker's side of reports (`openpista worker report`): write the
//! report to the queue, then send what the queue holds, oldest first,
//! until the host has answered each or the wait is over.
//!
//! A report leaves the queue only on an answer: an ACK removes it, a NACK
//! that says not to retry moves it to `rejected/` with the reason beside
//! it. A refused connection, a timeout, a 5xx or a malformed answer leave
//! it queued, and the client waits (100 ms, doubling to 5 s, with jitter)
//! before it tries again.

use super::{Answer, ROUTE, ReportBody, new_report_id, now_ms};
use crate::memory::workers::ReportKind;
use anyhow::{Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The first pause after a failed attempt.
pub const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// The longest pause between attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How long one attempt may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// The folder refused reports are moved to.
pub const REJECTED: &str = "rejected";

/// A queued report: what to send and the token to send it with, so that
/// whoever finds the queue (the worker again, or a host starting) can
/// deliver it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spooled {
    pub token: String,
    pub report: ReportBody,
}

/// One task's queue folder.
///
/// The host reads queues a container could write, so nothing in them is
/// trusted: symbolic links are never followed (a link is no entry, a
/// `rejected/` that is a link is not used, a reason is written only into a
/// file created new), and a file larger than a report can be is not read.
#[derive(Debug, Clone)]
pub struct Queue {
    dir: PathBuf,
}

/// Largest queue file read: a report's body and its token.
const MAX_QUEUED_BYTES: u64 = (super::MAX_BODY_BYTES as u64) + 4096;
/// Modes of what the worker writes: the host (another user than a root
/// worker) must read and remove it; the host's 0700 `report-queue/` keeps
/// everyone else out.
const SHARED_FILE_MODE: u32 = 0o644;
const SHARED_DIR_MODE: u32 = 0o777;

impl Queue {
    pub fn at(dir: PathBuf) -> Queue {
        Queue { dir }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes `spooled` whole (a temporary file renamed into place), so a
    /// reader never sees half a report; the name sorts by creation.
    pub fn push(&self, spooled: &Spooled) -> std::io::Result<PathBuf> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::create_dir_all(&self.dir)?;
        let name = format!(
            "{:016x}-{}.json",
            spooled.report.sent_ms.unwrap_or_else(now_ms),
            spooled.report.id
        );
        let tmp = self.dir.join(format!(".{name}.tmp"));
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(SHARED_FILE_MODE)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&tmp)?;
        file.write_all(&serde_json::to_vec(spooled)?)?;
        file.sync_all()?;
        let path = self.dir.join(name);
        std::fs::rename(&tmp, &path)?;
        if let Ok(dir) = std::fs::File::open(&self.dir) {
            let _ = dir.sync_all();
        }
        Ok(path)
    }

    /// The queued reports, oldest first: regular files only.
    pub fn entries(&self) -> Vec<PathBuf> {
        let Ok(dir) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut entries: Vec<PathBuf> = dir
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .map(|e| e.path())
            .filter(|p| {
                p.extension().is_some_and(|x| x == "json")
                    && !p
                        .file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            })
            .collect();
        entries.sort();
        entries
    }

    /// The report in `entry`; one that does not parse, or is too large to
    /// be one, is moved to `rejected/` (and `None` returned), so it never
    /// blocks the queue.
    pub fn read(&self, entry: &Path) -> Option<Spooled> {
        use std::io::Read;
        use std::os::unix::fs::OpenOptionsExt;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(entry);
        let mut file = match file {
            Ok(f) if f.metadata().is_ok_and(|m| m.is_file()) => f,
            Ok(_) => return None,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => {
                tracing::warn!("queued report {} cannot be read: {e}", entry.display());
                return None;
            }
        };
        let mut bytes = Vec::new();
        if let Err(e) = (&mut file)
            .take(MAX_QUEUED_BYTES + 1)
            .read_to_end(&mut bytes)
        {
            tracing::warn!("queued report {} cannot be read: {e}", entry.display());
            return None;
        }
        if bytes.len() as u64 > MAX_QUEUED_BYTES {
            self.reject(entry, "larger than a report can be");
            return None;
        }
        match serde_json::from_slice(&bytes) {
            Ok(spooled) => Some(spooled),
            Err(e) => {
                self.reject(entry, &format!("not a queued report: {e}"));
                None
            }
        }
    }

    /// Takes `entry` out of the queue (gone already is fine: another
    /// deliverer got there first).
    pub fn remove(&self, entry: &Path) {
        let _ = std::fs::remove_file(entry);
    }

    /// Moves `entry` to `rejected/`, with `reason` in a `.reason` file
    /// made new (a link planted under its name is removed, not followed).
    pub fn reject(&self, entry: &Path, reason: &str) {
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
        let rejected = self.dir.join(REJECTED);
        let Some(name) = entry.file_name() else {
            return;
        };
        match std::fs::symlink_metadata(&rejected) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                tracing::warn!(
                    "{} is not a folder; report {} stays queued",
                    rejected.display(),
                    entry.display()
                );
                return;
            }
            Err(_) => {
                if std::fs::DirBuilder::new()
                    .mode(SHARED_DIR_MODE)
                    .create(&rejected)
                    .is_err()
                {
                    return;
                }
                let _ = std::fs::set_permissions(
                    &rejected,
                    std::fs::Permissions::from_mode(SHARED_DIR_MODE),
                );
            }
        }
        if let Err(e) = std::fs::rename(entry, rejected.join(name)) {
            tracing::warn!("cannot set {} aside: {e}", entry.display());
            return;
        }
        let reason_file = rejected.join(format!("{}.reason", name.to_string_lossy()));
        let _ = std::fs::remove_file(&reason_file);
        if let Ok(mut file) = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(SHARED_FILE_MODE)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&reason_file)
        {
            use std::io::Write;
            let _ = writeln!(file, "{reason}");
        }
    }

    /// Makes the folder (and its parents) for a worker of any user to
    /// write; the caller's private parent keeps others out.
    pub fn create_shared(&self) -> std::io::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir_all(&self.dir)?;
        std::fs::set_permissions(&self.dir, std::fs::Permissions::from_mode(SHARED_DIR_MODE))
    }
}

/// What became of one attempt to send.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivery {
    /// The host stored it (now, or before: `duplicate`).
    Acked { seq: u64, duplicate: bool },
    /// The host refused it for good.
    Refused(String),
    /// No answer to act on; try again later.
    Unreachable(String),
}

/// What a flush did.
#[derive(Debug, Default)]
pub struct Flushed {
    /// (report id, its place among the task's reports, whether the host
    /// had it already).
    pub delivered: Vec<(String, u64, bool)>,
    /// (report id, why).
    pub refused: Vec<(String, String)>,
    /// Reports still queued.
    pub pending: usize,
    /// Why the last attempt failed, when reports are still queued.
    pub last_error: Option<String>,
    pub attempts: u32,
}

/// A worker's connection to the reports endpoint.
#[derive(Debug, Clone)]
pub struct Client {
    pub socket: PathBuf,
    pub token: String,
    pub task_id: String,
    pub queue: Queue,
}

impl Client {
    /// From the task's environment: `OPENPISTA_TASK_ID`,
    /// `OPENPISTA_TASK_TOKEN`, `OPENPISTA_REPORTS_SOCKET` and
    /// `OPENPISTA_REPORT_QUEUE` (else `~/.openpista/report-queue/<task>`).
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> Result<Client> {
        let need = |name: &str| {
            env(name).filter(|v| !v.is_empty()).with_context(|| {
                format!("${name} is not set: `openpista worker report` runs inside a task started by container.run")
            })
        };
        let task_id = need("OPENPISTA_TASK_ID")?;
        let queue = env("OPENPISTA_REPORT_QUEUE")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| crate::paths::home_dir().join("report-queue").join(&task_id));
        Ok(Client {
            socket: PathBuf::from(need("OPENPISTA_REPORTS_SOCKET")?),
            token: need("OPENPISTA_TASK_TOKEN")?,
            task_id,
            queue: Queue::at(queue),
        })
    }

    /// A new report of this task, with a fresh id.
    pub fn report(&self, kind: ReportKind, text: String, percent: Option<u8>) -> ReportBody {
        ReportBody {
            id: new_report_id(),
            task_id: self.task_id.clone(),
            kind,
            text,
            percent,
            sent_ms: Some(now_ms()),
        }
    }

    /// Queues `report` on disk; durable on return.
    pub fn enqueue(&self, report: ReportBody) -> Result<PathBuf> {
        self.queue
            .push(&Spooled {
                token: self.token.clone(),
                report,
            })
            .with_context(|| format!("cannot queue the report in {}", self.queue.dir().display()))
    }

    /// Sends what the queue holds until it is empty or `wait` is over.
    /// `mine`, a report this client queued, is sent from memory should
    /// its file be gone (a host starting collects queues too), so the
    /// caller still hears how it ended.
    pub async fn flush(&self, wait: Duration, mine: Option<&ReportBody>) -> Flushed {
        let deadline = Instant::now() + wait;
        let mut backoff = FIRST_BACKOFF;
        let mut flushed = Flushed::default();
        let mut mine = mine.map(|report| Spooled {
            token: self.token.clone(),
            report: report.clone(),
        });
        loop {
            let mut work: Vec<(Option<PathBuf>, Spooled)> = self
                .queue
                .entries()
                .into_iter()
                .filter_map(|entry| Some((Some(entry.clone()), self.queue.read(&entry)?)))
                .collect();
            if let Some(own) = &mine
                && !work.iter().any(|(_, s)| s.report.id == own.report.id)
            {
                work.push((None, own.clone()));
            }
            let mut blocked = None;
            for (entry, spooled) in work {
                flushed.attempts += 1;
                let delivery = send(&self.socket, &spooled).await;
                if !matches!(delivery, Delivery::Unreachable(_))
                    && mine
                        .as_ref()
                        .is_some_and(|m| m.report.id == spooled.report.id)
                {
                    mine = None;
                }
                match delivery {
                    Delivery::Acked { seq, duplicate } => {
                        if let Some(entry) = &entry {
                            self.queue.remove(entry);
                        }
                        flushed.delivered.push((spooled.report.id, seq, duplicate));
                    }
                    Delivery::Refused(why) => {
                        if let Some(entry) = &entry {
                            self.queue.reject(entry, &why);
                        }
                        flushed.refused.push((spooled.report.id, why));
                    }
                    Delivery::Unreachable(why) => {
                        blocked = Some(why);
                        break;
                    }
                }
            }
            flushed.pending = self.queue.entries().len() + usize::from(mine.is_some());
            flushed.last_error = blocked;
            if flushed.pending == 0 || flushed.last_error.is_none() {
                return flushed;
            }
            let pause = jitter(backoff);
            if Instant::now() + pause > deadline {
                return flushed;
            }
            tokio::time::sleep(pause).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }
}

/// `pause` ± 20 %, so workers that lost the host together do not all
/// come back in the same instant.
fn jitter(pause: Duration) -> Duration {
    let factor = 0.8 + rand::random::<f64>() * 0.4;
    pause.mul_f64(factor)
}

/// One attempt to send `spooled` to the socket at `socket`.
pub async fn send(socket: &Path, spooled: &Spooled) -> Delivery {
    match tokio::time::timeout(ATTEMPT_TIMEOUT, attempt(socket, spooled)).await {
        Ok(Ok(delivery)) => delivery,
        Ok(Err(e)) => Delivery::Unreachable(format!("{e:#}")),
        Err(_) => {
            Delivery::Unreachable(format!("no answer within {} s", ATTEMPT_TIMEOUT.as_secs()))
        }
    }
}

async fn attempt(socket: &Path, spooled: &Spooled) -> Result<Delivery> {
    let stream = tokio::net::UnixStream::connect(socket)
        .await
        .with_context(|| format!("cannot reach the host at {}", socket.display()))?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let request = http::Request::post(ROUTE)
        .header(http::header::HOST, "openpista")
        .header(
            http::header::AUTHORIZATION,
            format!("Bearer {}", spooled.token),
        )
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(serde_json::to_vec(&spooled.report)?)))?;
    let response = sender.send_request(request).await?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    let Ok(answer) = serde_json::from_slice::<Answer>(&body) else {
        return Ok(Delivery::Unreachable(format!(
            "the host answered {status} with no report answer"
        )));
    };
    let why = || answer.error.clone().unwrap_or_else(|| status.to_string());
    Ok(if answer.ack {
        Delivery::Acked {
            seq: answer.seq.unwrap_or(0),
            duplicate: answer.duplicate,
        }
    } else if answer.retry || status.is_server_error() || status.as_u16() == 429 {
        Delivery::Unreachable(why())
    } else {
        Delivery::Refused(format!("{status}: {}", why()))
    })
}
