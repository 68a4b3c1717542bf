//! The host's side of worker reports: the task records, the reports
//! socket, the check of each report, and the feed of what happened.

use super::client::Queue;
use super::{Answer, MAX_BODY_BYTES, ROUTE, ReportBody, SOCKET_NAME, now_ms};
use crate::memory::MemoryStore;
use crate::memory::workers::{Added, ReportKind, TaskState, WorkerReport, WorkerTask};
use crate::native::container::http::{self, bearer, reply};
use anyhow::{Context, Result, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

/// Events kept for a slow subscriber, and for `events_after`, before the
/// oldest are dropped. An event carries a report's first line only, so
/// this stays small.
const FEED_CAPACITY: usize = 256;
/// Reports one task may store; a worker past it is refused for good.
pub const MAX_REPORTS_PER_TASK: u64 = 1000;

/// Where the reports socket and the queues live.
#[derive(Debug, Clone)]
pub struct ReportPaths {
    /// Holds the socket; mounted read-only at `/openpista/host/`.
    pub run_dir: PathBuf,
    /// One queue folder per task.
    pub queue_root: PathBuf,
}

impl ReportPaths {
    /// `HOME/worker-reports/` and `HOME/report-queue/`.
    pub fn under(home: &Path) -> ReportPaths {
        ReportPaths {
            run_dir: home.join("worker-reports"),
            queue_root: home.join("report-queue"),
        }
    }

    pub fn socket(&self) -> PathBuf {
        self.run_dir.join(SOCKET_NAME)
    }

    /// Task `task_id`'s queue folder.
    pub fn queue(&self, task_id: &str) -> PathBuf {
        self.queue_root.join(task_id)
    }
}

/// What the feed tells the web page, the TUI and `/workers/events`.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "lowercase")]
pub enum WorkerEvent {
    /// A task started, ended or was found interrupted.
    Task { task: WorkerTask },
    /// A report was stored.
    Report {
        task: WorkerTask,
        report: WorkerReport,
    },
}

/// Worker reports on this host.
pub struct Reports {
    store: Arc<MemoryStore>,
    paths: ReportPaths,
    /// How long after its end a task's reports are still taken.
    grace: Duration,
    /// Tasks kept in the history.
    keep: usize,
    feed: broadcast::Sender<WorkerEvent>,
    /// The latest events, numbered, for pollers (`/workers/events`).
    log: Mutex<std::collections::VecDeque<(u64, WorkerEvent)>>,
    /// The number of the latest event.
    latest: tokio::sync::watch::Sender<u64>,
    /// Names this run of the host: event numbers start again with each.
    epoch: String,
    server: Mutex<Option<JoinHandle<()>>>,
}

/// What [`Reports::events_after`] found.
#[derive(Debug, Clone, Serialize)]
pub struct Events {
    /// The host run the numbers belong to; send it back with `after`.
    pub epoch: String,
    /// Ask for events after this one next time.
    pub next: u64,
    /// Events between the one asked for and the oldest kept were dropped:
    /// read the list again.
    pub missed: bool,
    pub events: Vec<Shown>,
}

/// An event with its task's line ([`WorkerTask::line`]), so every front
/// end says the same.
#[derive(Debug, Clone, Serialize)]
pub struct Shown {
    #[serde(flatten)]
    pub event: WorkerEvent,
    pub line: String,
}

impl WorkerEvent {
    /// The task the event is about.
    pub fn task(&self) -> &WorkerTask {
        match self {
            WorkerEvent::Task { task } | WorkerEvent::Report { task, .. } => task,
        }
    }
}

impl Reports {
    pub fn new(
        store: Arc<MemoryStore>,
        paths: ReportPaths,
        grace: Duration,
        keep: usize,
    ) -> Arc<Reports> {
        Arc::new(Reports {
            store,
            paths,
            grace,
            keep,
            feed: broadcast::channel(FEED_CAPACITY).0,
            log: Mutex::new(std::collections::VecDeque::with_capacity(FEED_CAPACITY)),
            latest: tokio::sync::watch::Sender::new(0),
            epoch: hex::encode(rand::random::<[u8; 6]>()),
            server: Mutex::new(None),
        })
    }

    pub fn paths(&self) -> &ReportPaths {
        &self.paths
    }

    pub fn store(&self) -> &Arc<MemoryStore> {
        &self.store
    }

    /// What happens from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<WorkerEvent> {
        self.feed.subscribe()
    }

    /// Tells subscribers and pollers: the report's first line only.
    fn publish(&self, mut event: WorkerEvent) {
        if let WorkerEvent::Report { report, .. } = &mut event {
            report.text = crate::memory::workers::summary(&report.text);
        }
        let mut log = self.log.lock().unwrap();
        let number = *self.latest.borrow() + 1;
        if log.len() == FEED_CAPACITY {
            log.pop_front();
        }
        log.push_back((number, event.clone()));
        self.latest.send_replace(number);
        drop(log);
        let _ = self.feed.send(event);
    }

    /// The events after number `after` of run `epoch` (this run when
    /// `None`), waiting up to `wait` for one when there is none yet. A
    /// number of another run, or beyond the latest, is answered at once:
    /// everything kept, and `missed`.
    pub async fn events_after(&self, epoch: Option<&str>, after: u64, wait: Duration) -> Events {
        let restarted = epoch.is_some_and(|e| e != self.epoch) || after > *self.latest.borrow();
        if !restarted {
            let mut latest = self.latest.subscribe();
            let _ = tokio::time::timeout(wait, latest.wait_for(|n| *n > after)).await;
        }
        let log = self.log.lock().unwrap();
        let next = log.back().map_or(0, |(n, _)| *n);
        let oldest = log.front().map_or(next + 1, |(n, _)| *n);
        let from = if restarted { 0 } else { after };
        Events {
            epoch: self.epoch.clone(),
            next,
            missed: restarted || from + 1 < oldest.min(next + 1),
            events: log
                .iter()
                .filter(|(n, _)| *n > from)
                .map(|(_, e)| Shown {
                    line: e.task().line(),
                    event: e.clone(),
                })
                .collect(),
        }
    }

    /// Stops answering on the socket and removes it.
    pub fn stop(&self) {
        if let Some(server) = self.server.lock().unwrap().take() {
            server.abort();
            let _ = std::fs::remove_file(self.paths.socket());
        }
    }

    /// Binds the reports socket, then settles what the last host left:
    /// tasks it left running are marked interrupted, queued reports are
    /// delivered, and the history is cut to its length.
    pub async fn start(self: &Arc<Self>) -> Result<()> {
        let listener = bind(&self.paths)?;
        let server = tokio::spawn(http::serve(listener, self.clone(), answer));
        *self.server.lock().unwrap() = Some(server);
        let me = self.clone();
        tokio::task::spawn_blocking(move || me.recover())
            .await
            .context("recovering worker reports")?
    }

    fn recover(&self) -> Result<()> {
        for task in self.store.workers_interrupted()? {
            tracing::warn!(
                "worker task {} was running when the host stopped; its reports are taken for {} s more",
                task.task_id,
                self.grace.as_secs()
            );
            self.publish(WorkerEvent::Task { task });
        }
        let delivered = self.drain();
        if delivered > 0 {
            tracing::info!("delivered {delivered} queued worker report(s)");
        }
        let pruned = self.store.prune_workers(self.keep)?;
        if pruned > 0 {
            tracing::debug!("forgot {pruned} old worker task(s)");
        }
        Ok(())
    }

    /// Delivers every report queued on disk through the same check as the
    /// socket; how many were stored.
    pub fn drain(&self) -> usize {
        let Ok(dirs) = std::fs::read_dir(&self.paths.queue_root) else {
            return 0;
        };
        let mut stored = 0;
        for dir in dirs.flatten() {
            let queue = Queue::at(dir.path());
            for entry in queue.entries() {
                let Some(spooled) = queue.read(&entry) else {
                    continue;
                };
                let (_, answer) = self.accept_report(Some(&spooled.token), spooled.report);
                if answer.ack {
                    stored += usize::from(!answer.duplicate);
                    queue.remove(&entry);
                } else if !answer.retry {
                    queue.reject(&entry, answer.error.as_deref().unwrap_or("refused"));
                }
            }
        }
        stored
    }

    /// Records a task that starts now with `token`; returns its queue
    /// folder (created, private).
    pub fn begin(&self, task: WorkerTask, token: &str) -> Result<PathBuf> {
        let queue = self.paths.queue(&task.task_id);
        crate::paths::private_dir(&self.paths.queue_root)?;
        Queue::at(queue.clone())
            .create_shared()
            .with_context(|| format!("cannot make {}", queue.display()))?;
        self.store.worker_started(&task, &sha256(token))?;
        // The history is kept to its length as it grows, not only at start.
        if let Err(e) = self.store.prune_workers(self.keep) {
            tracing::warn!("cannot forget old worker tasks: {e:#}");
        }
        self.publish(WorkerEvent::Task { task });
        Ok(queue)
    }

    /// Records that task `task_id` ended; its queue folder goes when empty.
    pub fn end(&self, task_id: &str, exit_code: Option<i64>) {
        match self
            .store
            .worker_ended(task_id, TaskState::Ended, exit_code)
        {
            Ok(Some(task)) => {
                self.publish(WorkerEvent::Task { task });
            }
            Ok(None) => {}
            Err(e) => tracing::warn!("cannot record the end of worker task {task_id}: {e:#}"),
        }
        // Fails while reports wait in it, as it should.
        let _ = std::fs::remove_dir(self.paths.queue(task_id));
    }

    /// The text of task `task_id`'s latest final report.
    pub fn final_report(&self, task_id: &str) -> Option<String> {
        let reports = self.store.worker_reports(task_id).ok()?;
        reports
            .into_iter()
            .rev()
            .find(|r| r.kind == ReportKind::Final)
            .map(|r| r.text)
    }

    /// Checks and stores one report body as it came over the socket.
    pub fn accept(&self, token: Option<&str>, body: &[u8]) -> (StatusCode, Answer) {
        match serde_json::from_slice::<ReportBody>(body) {
            Ok(report) => self.accept_report(token, report),
            Err(e) => (
                StatusCode::BAD_REQUEST,
                Answer::nack(
                    false,
                    format!("the report is not valid JSON of the report shape: {e}"),
                ),
            ),
        }
    }

    /// Checks and stores `report`, sent with `token`.
    pub fn accept_report(&self, token: Option<&str>, report: ReportBody) -> (StatusCode, Answer) {
        let refused = |status, error: String| (status, Answer::nack(false, error));
        let Some(token) = token else {
            return refused(
                StatusCode::UNAUTHORIZED,
                "send Authorization: Bearer $OPENPISTA_TASK_TOKEN".into(),
            );
        };
        // An unknown task and a wrong token get the same answer, after
        // the same work.
        let sent = sha256(token);
        let known = match self.store.worker_token_sha256(&report.task_id) {
            Ok(known) => known,
            Err(e) => return storage_failed(e),
        };
        let matches = known.is_some_and(|k| crate::runtime::secrets::constant_time_eq(&k, &sent));
        if !matches {
            return refused(
                StatusCode::UNAUTHORIZED,
                "the token does not match the task".into(),
            );
        }
        // A report stored before is acknowledged again whatever else holds
        // now (the grace may have passed since).
        match self.store.worker_report_seq(&report.task_id, &report.id) {
            Ok(Some(seq)) => return (StatusCode::OK, Answer::ack(report.id, seq, true)),
            Ok(None) => {}
            Err(e) => return storage_failed(e),
        }
        if report.text.len() > crate::native::container::task_api::MAX_REPORT_BYTES {
            return refused(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "a report's text may have at most {} bytes",
                    crate::native::container::task_api::MAX_REPORT_BYTES
                ),
            );
        }
        if report.percent.is_some_and(|p| p > 100) {
            return refused(StatusCode::BAD_REQUEST, "percent must be 0-100".into());
        }
        if !crate::memory::workers::valid_report_id(&report.id) {
            return refused(
                StatusCode::BAD_REQUEST,
                "a report id is 1-128 of A-Z a-z 0-9 - _ .".into(),
            );
        }
        let task = match self.store.worker_task(&report.task_id) {
            Ok(Some(task)) => task,
            Ok(None) => {
                return refused(StatusCode::UNAUTHORIZED, "unknown task".into());
            }
            Err(e) => return storage_failed(e),
        };
        if task.reports >= MAX_REPORTS_PER_TASK {
            return refused(
                StatusCode::CONFLICT,
                format!("a task may store at most {MAX_REPORTS_PER_TASK} reports"),
            );
        }
        if let Some(ended) = task.ended_ms
            && task.state != TaskState::Running
            && now_ms().saturating_sub(ended) > self.grace.as_millis() as u64
        {
            return refused(
                StatusCode::GONE,
                format!(
                    "task {} ended more than {} s ago; its reports are no longer taken",
                    task.task_id,
                    self.grace.as_secs()
                ),
            );
        }
        let stored = WorkerReport {
            seq: 0,
            id: report.id.clone(),
            kind: report.kind,
            text: report.text,
            percent: report.percent,
            sent_ms: report.sent_ms,
            received_ms: 0,
        };
        match self.store.add_worker_report(&report.task_id, stored) {
            Ok(Added::New {
                report: stored,
                task,
            }) => {
                crate::telemetry::metrics::worker_report(stored.kind == ReportKind::Final);
                tracing::info!(
                    "worker task {}: {:?} report {} stored",
                    task.task_id,
                    stored.kind,
                    stored.seq
                );
                let answer = Answer::ack(stored.id.clone(), stored.seq, false);
                self.publish(WorkerEvent::Report {
                    task: *task,
                    report: stored,
                });
                (StatusCode::OK, answer)
            }
            Ok(Added::Duplicate { seq }) => (StatusCode::OK, Answer::ack(report.id, seq, true)),
            Err(e) => storage_failed(e),
        }
    }
}

fn storage_failed(e: anyhow::Error) -> (StatusCode, Answer) {
    tracing::warn!("worker report not stored: {e:#}");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Answer::nack(true, "the host cannot store reports just now"),
    )
}

fn sha256(token: &str) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(token.as_bytes()).to_vec()
}

/// Binds the socket, replacing one a stopped host left, refusing to take
/// one a running host answers on.
fn bind(paths: &ReportPaths) -> Result<tokio::net::UnixListener> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let dir = &paths.run_dir;
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o711)
            .create(dir)
            .with_context(|| format!("cannot make {}", dir.display()))?;
    }
    // Workers may run as any user: they need to pass through, not list.
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o711))?;
    let socket = paths.socket();
    if socket.exists() {
        if std::os::unix::net::UnixStream::connect(&socket).is_ok() {
            bail!(
                "another openpista serve answers worker reports at {}",
                socket.display()
            );
        }
        std::fs::remove_file(&socket)
            .with_context(|| format!("cannot remove the stale {}", socket.display()))?;
    }
    let listener = tokio::net::UnixListener::bind(&socket)
        .with_context(|| format!("cannot listen on {}", socket.display()))?;
    // The token is the lock.
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o666))?;
    Ok(listener)
}

async fn answer(reports: Arc<Reports>, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let send =
        |status, answer: Answer| reply(status, serde_json::to_value(answer).unwrap_or_default());
    if request.uri().path() != ROUTE {
        return send(
            StatusCode::NOT_FOUND,
            Answer::nack(false, format!("POST {ROUTE}")),
        );
    }
    if request.method() != Method::POST {
        return send(
            StatusCode::METHOD_NOT_ALLOWED,
            Answer::nack(false, format!("POST {ROUTE}")),
        );
    }
    let token = bearer(request.headers()).map(str::to_string);
    let body = match Limited::new(request.into_body(), MAX_BODY_BYTES)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            return send(
                StatusCode::PAYLOAD_TOO_LARGE,
                Answer::nack(
                    false,
                    format!("a report may have at most {MAX_BODY_BYTES} bytes"),
                ),
            );
        }
        Err(_) => {
            return send(
                StatusCode::BAD_REQUEST,
                Answer::nack(true, "the body could not be read"),
            );
        }
    };
    // Storing commits to disk: off the async threads.
    let stored = tokio::task::spawn_blocking(move || reports.accept(token.as_deref(), &body)).await;
    match stored {
        Ok((status, answer)) => send(status, answer),
        Err(_) => send(
            StatusCode::SERVICE_UNAVAILABLE,
            Answer::nack(true, "the host failed while storing the report"),
        ),
    }
}
