//! `container.run`: a command (or a whole task handed to a worker) in a
//! fresh Docker container, so the agent can run untrusted or heavy work
//! without touching the host.
//!
//! Each task gets its own container from a configured image (never
//! pulled), with no network unless the operator allows it and the call
//! asks, memory/CPU/process caps, the workspace mounted read-only at
//! `/workspace`, a writable `/openpista/out`, and a deadline at which the
//! container is killed. The container is removed afterwards on every path.
//!
//! Orchestrator/worker: a call may carry a `task` text. The worker reads
//! it (`/openpista/task.md`, or `GET /task` on the task API) and reports
//! back by writing `$OPENPISTA_REPORT` or `POST /report`; the report comes
//! back first in the result, into the session. The task API is reachable
//! only with the task's token, minted at start and revoked at exit.
//!
//! When no Docker daemon answers, the command runs as a plain subprocess
//! with a loud warning (or the call fails, with `fallback = "off"`).
//!
//! - [`docker`]: the daemon and the container lifecycle (bollard)
//! - [`tokens`]: task tokens
//! - [`task_api`]: the per-task HTTP server on a unix socket
//! - [`taskdir`]: the per-task host folder (output, socket, task text)
//! - [`reports`]: worker reports that outlive the task and the host
//! - [`fallback`]: subprocess mode
//! - [`tool`]: the `container.run` tool and its result text

pub mod docker;
pub mod fallback;
pub(crate) mod http;
pub mod reports;
pub mod task_api;
pub mod taskdir;
pub mod tokens;
pub mod tool;

use super::env::EnvScrub;
use super::process::Captured;
use super::settings::{ContainerFallback, ContainerSettings};
use crate::runtime::bindings::WitError;
use crate::tools::NativeTool;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
pub use taskdir::OutputFile;
use taskdir::TaskDir;
use tokens::TokenTable;

/// Where things are inside a task's container.
pub mod paths {
    /// The workspace, read-only; also the working directory.
    pub const WORKSPACE: &str = "/workspace";
    /// The writable output folder.
    pub const OUT: &str = "/openpista/out";
    /// The report file the worker may write.
    pub const REPORT: &str = "/openpista/out/report.md";
    /// The folder of the task API socket, read-only.
    pub const RUN: &str = "/openpista/run";
    /// The task API socket.
    pub const SOCKET: &str = "/openpista/run/task.sock";
    /// The task text, read-only, when there is one.
    pub const TASK_FILE: &str = "/openpista/task.md";
    /// The host's run folder, read-only: the reports socket.
    pub const HOST_RUN: &str = "/openpista/host";
    /// The reports socket.
    pub const REPORTS_SOCKET: &str = "/openpista/host/reports.sock";
    /// The task's report queue, writable.
    pub const QUEUE: &str = "/openpista/queue";
    /// The `openpista` program, for `openpista worker report`.
    pub const CLIENT: &str = "/openpista/bin/openpista";
}

/// The Docker endpoint when neither the configuration nor `$DOCKER_HOST`
/// names one.
pub const DEFAULT_ENDPOINT: &str = "unix:///var/run/docker.sock";

/// How often, at most, a task sweeps what dead hosts left.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// Output folder entries listed in an outcome.
const MAX_FILES: usize = 50;

/// A task to run, from the tool or from the host itself (a skill in
/// container mode).
#[derive(Debug, Clone, Default)]
pub struct TaskRequest {
    /// Run as `sh -c COMMAND` in the container (`bash -c` in subprocess mode).
    pub command: String,
    /// A short name from `[native.container] images`, or the full reference
    /// of a configured image; the default image when unset.
    pub image: Option<String>,
    /// The task text handed to a worker: `/openpista/task.md` and `GET /task`.
    pub task: Option<String>,
    /// Deadline; the configured default when unset, never above the maximum.
    pub timeout: Option<Duration>,
    /// Ask for network access (refused unless `allow_network`).
    pub network: bool,
    /// Memory cap, MiB: may lower the configured cap, never raise it.
    pub memory_mb: Option<u64>,
    /// Written to the command's stdin, which is then closed.
    pub stdin: Option<Vec<u8>>,
    /// A host folder to use as `/openpista/out` and keep afterwards (created
    /// if missing, its old `report.md` removed); a private temporary folder,
    /// removed after the task, when unset.
    pub out_dir: Option<PathBuf>,
    /// The conversation the task runs for, for labels and logs.
    pub session: Option<String>,
}

/// How a task was run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskMode {
    /// In a fresh container.
    Docker,
    /// As a subprocess on the host, without isolation (no daemon answered).
    Subprocess,
}

/// Where the report came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportSource {
    /// `POST /report` on the task API.
    TaskApi,
    /// The report file, `$OPENPISTA_REPORT`.
    File,
    /// A final report to the reports endpoint (`openpista worker report`).
    Reports,
}

/// How a task ended.
#[derive(Debug, Clone)]
pub struct TaskOutcome {
    pub task_id: String,
    pub mode: TaskMode,
    /// The container's id (Docker mode; the container no longer exists).
    pub container_id: Option<String>,
    /// The image run (Docker mode).
    pub image: Option<String>,
    /// The exit code, when the command exited (a killed container reports
    /// 137).
    pub exit_code: Option<i64>,
    /// The signal that ended the process (subprocess mode).
    pub signal: Option<i32>,
    pub stdout: Captured,
    pub stderr: Captured,
    /// The deadline passed and the task was killed.
    pub timed_out: bool,
    /// The kernel killed a process of the container for exceeding its
    /// memory cap.
    pub oom_killed: bool,
    /// What the worker reported, cut at 1 MiB.
    pub report: Option<String>,
    pub report_source: Option<ReportSource>,
    /// Regular files left in the output folder.
    pub files: Vec<OutputFile>,
    /// Shown first when set: the subprocess-mode warning.
    pub warning: Option<String>,
    /// The caps applied.
    pub memory_mb: u64,
    pub network: bool,
    pub timeout: Duration,
    pub elapsed: Duration,
}

impl TaskOutcome {
    /// Exited by itself with code 0.
    pub fn succeeded(&self) -> bool {
        self.exit_code == Some(0) && !self.timed_out && !self.oom_killed
    }
}

/// A task running now.
#[derive(Debug, Clone)]
pub struct RunningTask {
    pub task_id: String,
    pub mode: TaskMode,
    /// The task API's socket, host side.
    pub socket: PathBuf,
    pub session: Option<String>,
    pub started: Instant,
}

/// The Docker connection and the tasks running.
pub struct Containers {
    settings: ContainerSettings,
    scrub: EnvScrub,
    workspace: PathBuf,
    engine: docker::Engine,
    tokens: Arc<TokenTable>,
    /// Labels this host's containers, so shutdown finds its own.
    host_id: String,
    running: Mutex<BTreeMap<String, RunningTask>>,
    /// Worker reports, when the host keeps them.
    reports: std::sync::OnceLock<Arc<reports::Reports>>,
    /// When containers that dead hosts left were last swept.
    swept: Mutex<Option<Instant>>,
}

/// The Docker daemon's address: `[native.container] docker_host`, else
/// `DOCKER_HOST`, else the local socket.
pub fn endpoint(settings: &ContainerSettings) -> String {
    settings
        .docker_host
        .clone()
        .filter(|h| !h.trim().is_empty())
        .or_else(|| std::env::var("DOCKER_HOST").ok().filter(|h| !h.is_empty()))
        .unwrap_or_else(|| DEFAULT_ENDPOINT.to_string())
}

impl Containers {
    /// Nothing is contacted here: the daemon is first asked on the first task.
    pub fn new(
        settings: ContainerSettings,
        scrub: EnvScrub,
        workspace: PathBuf,
    ) -> Arc<Containers> {
        let endpoint = endpoint(&settings);
        let engine = docker::Engine::new(endpoint, Duration::from_secs(settings.max_timeout_secs));
        Arc::new(Containers {
            host_id: format!(
                "{}-{}",
                std::process::id(),
                hex::encode(rand::random::<[u8; 4]>())
            ),
            settings,
            scrub,
            workspace,
            engine,
            tokens: TokenTable::new(),
            running: Mutex::new(BTreeMap::new()),
            reports: std::sync::OnceLock::new(),
            swept: Mutex::new(None),
        })
    }

    /// Records tasks in `reports` and lets their workers report there.
    pub fn attach_reports(&self, reports: Arc<reports::Reports>) {
        let _ = self.reports.set(reports);
    }

    /// The worker reports attached.
    pub fn reports(&self) -> Option<&Arc<reports::Reports>> {
        self.reports.get()
    }

    pub fn settings(&self) -> &ContainerSettings {
        &self.settings
    }

    /// `text` with every configured secret's value redacted.
    pub fn scrub_secrets(&self, text: &str) -> String {
        self.scrub.secrets.redact(text).into_owned()
    }

    /// The Docker endpoint used.
    pub fn endpoint(&self) -> &str {
        self.engine.endpoint()
    }

    /// The value of the `openpista.host` label on this host's containers.
    pub fn host_id(&self) -> &str {
        &self.host_id
    }

    /// Whether `token` is the token of a task running now.
    pub fn token_valid(&self, token: &str) -> bool {
        self.tokens.is_valid(token)
    }

    /// The tasks running now.
    pub fn running(&self) -> Vec<RunningTask> {
        self.running.lock().unwrap().values().cloned().collect()
    }

    /// Removes every container of this host still present (tasks running
    /// now end with an error).
    pub async fn shutdown(&self) {
        self.engine.remove_all(&self.host_id).await;
    }

    /// The image reference for `asked`: a short name, or a configured
    /// reference; `Denied` naming the allowed images otherwise.
    pub fn resolve_image(&self, asked: Option<&str>) -> Result<String, WitError> {
        let s = &self.settings;
        let Some(asked) = asked.map(str::trim).filter(|a| !a.is_empty()) else {
            return Ok(s.image.clone());
        };
        if let Some(image) = s.images.get(asked) {
            return Ok(image.clone());
        }
        if asked == s.image || s.images.values().any(|v| v == asked) {
            return Ok(asked.to_string());
        }
        let mut allowed = vec![format!("{} (default)", s.image)];
        allowed.extend(s.images.iter().map(|(k, v)| format!("{k} ({v})")));
        Err(WitError::Denied(format!(
            "{}: image {asked} is not configured; allowed: {} (see [native.container] images)",
            tool::NAME,
            allowed.join(", ")
        )))
    }

    /// Runs `task` in a fresh container (or, when no daemon answers and the
    /// fallback allows, as a subprocess). A task that ran and failed is an
    /// `Ok` outcome; `Err` means it was refused or could not run.
    pub async fn run_task(&self, task: TaskRequest) -> Result<TaskOutcome, WitError> {
        let name = tool::NAME;
        let s = &self.settings;
        if task.command.trim().is_empty() {
            return Err(WitError::InvalidInput(format!("{name}: command is empty")));
        }
        let image = self.resolve_image(task.image.as_deref())?;
        if task.network && !s.allow_network {
            return Err(WitError::Denied(format!(
                "{name}: network access is not allowed for containers (set [native.container] allow_network = true)"
            )));
        }
        let memory_mb = match task.memory_mb {
            Some(m) if m < 6 => {
                return Err(WitError::InvalidInput(format!(
                    "{name}: memory_mb must be at least 6"
                )));
            }
            Some(m) => m.min(s.memory_mb),
            None => s.memory_mb,
        };
        let max = Duration::from_secs(s.max_timeout_secs).max(Duration::from_millis(1));
        let timeout = task
            .timeout
            .unwrap_or(Duration::from_secs(s.timeout_secs))
            .clamp(Duration::from_millis(1), max);
        let workspace = self.workspace.canonicalize().map_err(|e| {
            WitError::Unavailable(format!(
                "{name}: workspace {}: {e}",
                self.workspace.display()
            ))
        })?;

        let (docker, warning) = match self.engine.client().await {
            Ok(docker) => (Some(docker), None),
            Err(why) if s.fallback == ContainerFallback::Off => {
                return Err(WitError::Unavailable(format!(
                    "{name}: no Docker daemon answered at {} ({why}); [native.container] fallback is \"off\"",
                    self.endpoint()
                )));
            }
            Err(why) => {
                let warning = fallback::warning(self.endpoint(), &why);
                tracing::warn!("{warning}");
                (None, Some(warning))
            }
        };
        if let Some(docker) = &docker {
            docker::image_present(docker, &image)
                .await
                .map_err(|e| WitError::Unavailable(format!("{name}: {e}")))?;
            self.sweep().await;
        }

        let task_id = hex::encode(rand::random::<[u8; 8]>());
        let dir = TaskDir::create(&task_id, task.task.as_deref(), task.out_dir.as_deref())
            .map_err(|e| WitError::Internal(format!("{name}: cannot make the task folder: {e}")))?;
        let lease = self.tokens.mint(&task_id);
        let api = task_api::TaskApi::start(
            &dir.socket(),
            &task_id,
            task.task.as_deref(),
            &task.command,
            self.tokens.clone(),
        )
        .map_err(|e| WitError::Internal(format!("{name}: cannot start the task API: {e}")))?;
        let mode = if docker.is_some() {
            TaskMode::Docker
        } else {
            TaskMode::Subprocess
        };
        let reporting = match self.reports.get() {
            None => None,
            Some(reports) => {
                let mode = match mode {
                    TaskMode::Docker => "docker",
                    TaskMode::Subprocess => "subprocess",
                };
                let record = crate::memory::workers::WorkerTask {
                    session: task.session.clone(),
                    task: task.task.clone(),
                    image: docker.is_some().then(|| image.clone()),
                    ..crate::memory::workers::WorkerTask::new(
                        &task_id,
                        &task.command,
                        mode,
                        reports::now_ms(),
                    )
                };
                reports::task::TaskReporting::begin(reports, record, lease.token()).await
            }
        };
        let _running = self.track(RunningTask {
            task_id: task_id.clone(),
            mode,
            socket: dir.socket(),
            session: task.session.clone(),
            started: Instant::now(),
        });
        tracing::info!(
            "{name}: task {task_id} starting ({mode:?}, image {image}, network {}, {memory_mb} MiB, {:.1} s)",
            task.network,
            timeout.as_secs_f64()
        );

        let mut outcome = TaskOutcome {
            task_id: task_id.clone(),
            mode,
            container_id: None,
            image: None,
            exit_code: None,
            signal: None,
            stdout: Captured::default(),
            stderr: Captured::default(),
            timed_out: false,
            oom_killed: false,
            report: None,
            report_source: None,
            files: Vec::new(),
            warning,
            memory_mb,
            network: task.network,
            timeout,
            elapsed: Duration::ZERO,
        };
        match docker {
            Some(docker) => {
                let mut spec = self.container_spec(
                    &task,
                    &task_id,
                    image.clone(),
                    &workspace,
                    &dir,
                    &lease,
                    memory_mb,
                    timeout,
                );
                if let Some(reporting) = &reporting {
                    let client = match reports::task::worker_client(&s.worker_client) {
                        Ok(client) => client,
                        Err(why) => {
                            tracing::warn!("{name}: {why}; tasks get no worker client");
                            None
                        }
                    };
                    spec.env.extend(reporting.container_env(client.as_deref()));
                    spec.binds
                        .extend(reporting.container_binds(client.as_deref()));
                }
                let end = docker::run(&docker, spec)
                    .await
                    .map_err(|e| WitError::Unavailable(format!("{name}: {e}")))?;
                outcome.container_id = Some(end.id);
                outcome.image = Some(image);
                outcome.exit_code = end.exit_code;
                outcome.oom_killed = end.oom_killed;
                outcome.timed_out = end.timed_out;
                outcome.stdout = end.stdout;
                outcome.stderr = end.stderr;
                outcome.elapsed = end.elapsed;
            }
            None => {
                let output = fallback::run(
                    &self.scrub,
                    &workspace,
                    &dir,
                    &task_id,
                    lease.token(),
                    &task.command,
                    task.stdin.clone(),
                    timeout,
                    s.output_limit,
                    reporting
                        .as_ref()
                        .map(|r| r.host_vars())
                        .unwrap_or_default(),
                )
                .await
                .map_err(|e| WitError::Unavailable(format!("{name}: cannot start bash: {e}")))?;
                outcome.exit_code = output.exit_code.map(i64::from);
                outcome.signal = output.signal;
                outcome.timed_out = output.timed_out;
                outcome.stdout = output.stdout;
                outcome.stderr = output.stderr;
                outcome.elapsed = output.elapsed;
            }
        }
        // The task has ended: its token dies now, then its API.
        lease.revoke();
        match api.stop() {
            Some(report) => {
                outcome.report = Some(report);
                outcome.report_source = Some(ReportSource::TaskApi);
            }
            None => {
                outcome.report = dir.read_report(task_api::MAX_REPORT_BYTES);
                outcome.report_source = outcome.report.as_ref().map(|_| ReportSource::File);
            }
        }
        if let Some(reporting) = reporting {
            if outcome.report.is_none() {
                outcome.report = reporting.final_report();
                outcome.report_source = outcome.report.as_ref().map(|_| ReportSource::Reports);
            }
            reporting.end(outcome.exit_code);
        }
        outcome.files = dir.files(MAX_FILES);
        tracing::info!(
            "{name}: task {task_id} ended: exit {:?}, timed out {}, OOM {}, {:.1} s",
            outcome.exit_code,
            outcome.timed_out,
            outcome.oom_killed,
            outcome.elapsed.as_secs_f64()
        );
        Ok(outcome)
    }

    #[allow(clippy::too_many_arguments)]
    fn container_spec(
        &self,
        task: &TaskRequest,
        task_id: &str,
        image: String,
        workspace: &Path,
        dir: &TaskDir,
        lease: &tokens::TokenLease,
        memory_mb: u64,
        timeout: Duration,
    ) -> docker::ContainerSpec {
        let mut env = vec![
            format!("OPENPISTA_TASK_ID={task_id}"),
            format!("OPENPISTA_TASK_TOKEN={}", lease.token()),
            format!("OPENPISTA_TASK_SOCKET={}", paths::SOCKET),
            format!("OPENPISTA_REPORT={}", paths::REPORT),
            format!("OPENPISTA_OUT={}", paths::OUT),
        ];
        let mut binds = vec![
            (workspace.to_path_buf(), paths::WORKSPACE.to_string(), true),
            (dir.out.clone(), paths::OUT.to_string(), false),
            (dir.run.clone(), paths::RUN.to_string(), true),
        ];
        if let Some(file) = &dir.task_file {
            env.push(format!("OPENPISTA_TASK_FILE={}", paths::TASK_FILE));
            binds.push((file.clone(), paths::TASK_FILE.to_string(), true));
        }
        let mut labels = HashMap::from([
            (docker::TASK_LABEL.to_string(), task_id.to_string()),
            (docker::HOST_LABEL.to_string(), self.host_id.clone()),
            (docker::MACHINE_LABEL.to_string(), docker::machine()),
            (
                docker::DEADLINE_LABEL.to_string(),
                (reports::now_ms() / 1000 + timeout.as_secs() + 1).to_string(),
            ),
        ]);
        if let Some(session) = &task.session {
            labels.insert(docker::SESSION_LABEL.to_string(), session.clone());
        }
        docker::ContainerSpec {
            name: format!("openpista-{task_id}"),
            image,
            command: task.command.clone(),
            env,
            labels,
            binds,
            working_dir: paths::WORKSPACE.to_string(),
            network: task.network,
            memory_mb,
            cpus: self.settings.cpus,
            pids_limit: self.settings.pids_limit,
            stdin: task.stdin.clone(),
            timeout,
            keep_chars: self.settings.output_limit,
        }
    }

    /// Sweeps what dead hosts left ([`docker::Engine::sweep_orphans`]):
    /// on the first task, then at most once a minute, so a busy host does
    /// not list the daemon's containers for every task.
    async fn sweep(&self) {
        {
            let mut swept = self.swept.lock().unwrap();
            if swept.is_some_and(|at| at.elapsed() < SWEEP_EVERY) {
                return;
            }
            *swept = Some(Instant::now());
        }
        self.engine.sweep_orphans(&self.host_id).await;
    }

    /// Lists `task` as running until the guard is dropped.
    fn track(&self, task: RunningTask) -> Tracked<'_> {
        let id = task.task_id.clone();
        self.running.lock().unwrap().insert(id.clone(), task);
        Tracked { owner: self, id }
    }
}

/// Takes a task off the running list when dropped.
struct Tracked<'a> {
    owner: &'a Containers,
    id: String,
}

impl Drop for Tracked<'_> {
    fn drop(&mut self) {
        self.owner.running.lock().unwrap().remove(&self.id);
    }
}

/// The container tools sharing `containers`.
pub fn tools(containers: &Arc<Containers>) -> Vec<Arc<dyn NativeTool>> {
    vec![Arc::new(tool::ContainerRun::new(containers.clone()))]
}
