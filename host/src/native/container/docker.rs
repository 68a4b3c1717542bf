//! The Docker side: finding the daemon (lazily, with the answer cached)
//! and running one task in a fresh container through the Engine API
//! (bollard), never the `docker` CLI.
//!
//! A run is create → attach → start → wait (under the deadline; kill at
//! it) → inspect (exit code, OOM) → remove. Removal is forced and happens
//! on every path: when the call's future is dropped half-way, a guard
//! spawns the removal, and [`Engine::remove_all`] sweeps whatever still
//! carries this host's label at shutdown.

use super::super::process::Captured;
use bollard::Docker;
use bollard::models::{ContainerCreateBody, HostConfig, Mount, MountType};
use bollard::query_parameters::{
    AttachContainerOptionsBuilder, CreateContainerOptionsBuilder, KillContainerOptions,
    ListContainersOptionsBuilder, RemoveContainerOptionsBuilder, WaitContainerOptionsBuilder,
};
use futures::StreamExt;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

/// How long a ping may take before the daemon counts as absent.
const PING_TIMEOUT: Duration = Duration::from_secs(2);
/// How long an answer about the daemon is trusted.
const RECHECK_AFTER: Duration = Duration::from_secs(30);
/// Label naming the task a container runs.
pub const TASK_LABEL: &str = "openpista.task";
/// Label naming the host process that made a container.
pub const HOST_LABEL: &str = "openpista.host";
/// Label naming the conversation a container runs for.
pub const SESSION_LABEL: &str = "openpista.session";
/// Label naming the machine of the host process (its hostname), so a
/// sweep judges only processes it can see.
pub const MACHINE_LABEL: &str = "openpista.machine";
/// Label with the task's deadline, seconds since the epoch.
pub const DEADLINE_LABEL: &str = "openpista.deadline";

/// This machine's name, for [`MACHINE_LABEL`].
pub fn machine() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// Whether the process `pid` of this machine still runs.
fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// What is known of the daemon.
enum State {
    Unchecked,
    Up { docker: Docker, at: Instant },
    Down { error: String, at: Instant },
}

/// The Docker daemon at one endpoint.
pub struct Engine {
    endpoint: String,
    /// Client request timeout, seconds: long enough for the longest task,
    /// since waiting for a container is one request.
    request_timeout: u64,
    state: tokio::sync::Mutex<State>,
}

impl Engine {
    /// `endpoint` is `unix:///path`, `/path`, `tcp://host:port` or
    /// `http://host:port`. Nothing is contacted yet.
    pub fn new(endpoint: String, max_task: Duration) -> Engine {
        Engine {
            endpoint,
            request_timeout: max_task.as_secs() + 120,
            state: tokio::sync::Mutex::new(State::Unchecked),
        }
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// A client of a daemon that answered a ping, or why there is none.
    /// The answer is cached for 30 s either way.
    pub async fn client(&self) -> Result<Docker, String> {
        let mut state = self.state.lock().await;
        match &*state {
            State::Up { docker, at } if at.elapsed() < RECHECK_AFTER => return Ok(docker.clone()),
            State::Down { error, at } if at.elapsed() < RECHECK_AFTER => return Err(error.clone()),
            _ => {}
        }
        let at = Instant::now();
        match self.probe().await {
            Ok(docker) => {
                *state = State::Up {
                    docker: docker.clone(),
                    at,
                };
                Ok(docker)
            }
            Err(error) => {
                *state = State::Down {
                    error: error.clone(),
                    at,
                };
                Err(error)
            }
        }
    }

    /// The client when the daemon was found up, without asking it.
    async fn known_client(&self) -> Option<Docker> {
        match &*self.state.lock().await {
            State::Up { docker, .. } => Some(docker.clone()),
            _ => None,
        }
    }

    async fn probe(&self) -> Result<Docker, String> {
        let endpoint = if self.endpoint.starts_with('/') {
            format!("unix://{}", self.endpoint)
        } else {
            self.endpoint.clone()
        };
        let docker = Docker::connect_with_host(&endpoint)
            .map_err(|e| e.to_string())?
            .with_timeout(Duration::from_secs(self.request_timeout));
        match tokio::time::timeout(PING_TIMEOUT, docker.ping()).await {
            Err(_) => return Err(format!("no answer within {} s", PING_TIMEOUT.as_secs())),
            Ok(Err(e)) => return Err(e.to_string()),
            Ok(Ok(_)) => {}
        }
        // Speak the daemon's API version when it is older than ours.
        match tokio::time::timeout(PING_TIMEOUT, docker.negotiate_version()).await {
            Err(_) => Err(format!(
                "no version answer within {} s",
                PING_TIMEOUT.as_secs()
            )),
            Ok(Err(e)) => Err(e.to_string()),
            Ok(Ok(docker)) => Ok(docker),
        }
    }

    /// Every container (running or not) labelled `label=value`, when the
    /// daemon is known to answer and does within 10 s.
    async fn labelled(
        &self,
        label: &str,
        value: &str,
    ) -> Option<(Docker, Vec<bollard::models::ContainerSummary>)> {
        let docker = self.known_client().await?;
        let filters = HashMap::from([("label", vec![format!("{label}={value}")])]);
        let options = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&filters)
            .build();
        let found = tokio::time::timeout(
            Duration::from_secs(10),
            docker.list_containers(Some(options)),
        )
        .await
        .ok()?
        .ok()?;
        Some((docker, found))
    }

    /// Removes what hosts of this machine that are gone left behind (killed
    /// hosts never ran their removal): containers that have ended, and
    /// running ones past their deadline, which no one enforces any more.
    /// A running container within its deadline is left: its worker may
    /// still report. Returns how many were removed.
    pub async fn sweep_orphans(&self, own_host_id: &str) -> usize {
        let Some((docker, found)) = self.labelled(MACHINE_LABEL, &machine()).await else {
            return 0;
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut removed = 0;
        for container in found {
            let labels = container.labels.unwrap_or_default();
            let Some(host) = labels.get(HOST_LABEL) else {
                continue;
            };
            let pid = host.split('-').next().and_then(|p| p.parse::<i32>().ok());
            if host == own_host_id || pid.is_none_or(alive) {
                continue;
            }
            let running = container
                .state
                .is_some_and(|s| s == bollard::models::ContainerSummaryStateEnum::RUNNING);
            let overdue = labels
                .get(DEADLINE_LABEL)
                .and_then(|d| d.parse::<u64>().ok())
                .is_none_or(|deadline| now > deadline);
            if running && !overdue {
                continue;
            }
            if let Some(id) = container.id {
                tracing::info!(
                    "container.run: removing container {id} of a host that is gone ({host})"
                );
                remove(&docker, &id).await;
                removed += 1;
            }
        }
        removed
    }

    /// Removes every container this host (`host_id`) made that still exists.
    pub async fn remove_all(&self, host_id: &str) {
        let Some((docker, found)) = self.labelled(HOST_LABEL, host_id).await else {
            return;
        };
        for container in found {
            if let Some(id) = container.id {
                tracing::info!("container.run: removing container {id} at shutdown");
                remove(&docker, &id).await;
            }
        }
    }
}

async fn remove(docker: &Docker, name: &str) {
    let options = RemoveContainerOptionsBuilder::default()
        .force(true)
        .v(true)
        .build();
    let removal = docker.remove_container(name, Some(options));
    match tokio::time::timeout(Duration::from_secs(30), removal).await {
        Ok(Ok(())) => {}
        Ok(Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        })) => {}
        Ok(Err(e)) => tracing::warn!("container.run: cannot remove container {name}: {e}"),
        Err(_) => tracing::warn!("container.run: removing container {name} took over 30 s"),
    }
}

/// Removes the container when dropped before [`Removal::now`] ran: a call
/// dropped half-way leaves nothing behind. The removal runs on a thread of
/// its own, since the drop may come from a runtime that is shutting down
/// and would never run a task spawned on it.
struct Removal {
    docker: Docker,
    name: Option<String>,
}

impl Removal {
    async fn now(mut self) {
        if let Some(name) = self.name.take() {
            remove(&self.docker, &name).await;
        }
    }
}

impl Drop for Removal {
    fn drop(&mut self) {
        let Some(name) = self.name.take() else {
            return;
        };
        let docker = self.docker.clone();
        let cleanup = std::thread::Builder::new()
            .name("container-cleanup".into())
            .spawn(move || {
                match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime.block_on(remove(&docker, &name)),
                    Err(e) => tracing::warn!("container.run: cannot remove container {name}: {e}"),
                }
            });
        if let Err(e) = cleanup {
            tracing::warn!("container.run: cannot start the container cleanup: {e}");
        }
    }
}

/// Whether `image` is present on the daemon. No pull is ever attempted:
/// what runs is what the operator put there.
pub async fn image_present(docker: &Docker, image: &str) -> Result<(), String> {
    match docker.inspect_image(image).await {
        Ok(_) => Ok(()),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Err(format!(
            "image {image} is not present on the Docker host; openpista never pulls images, \
             so pull or build it there first (docker pull {image})"
        )),
        Err(e) => Err(format!("cannot inspect image {image}: {e}")),
    }
}

/// One container to run.
pub struct ContainerSpec {
    /// Container name (`openpista-<task id>`).
    pub name: String,
    pub image: String,
    /// Run as `sh -c COMMAND`.
    pub command: String,
    /// `NAME=value` pairs added to the image's environment.
    pub env: Vec<String>,
    pub labels: HashMap<String, String>,
    /// (host path, container path, read-only) bind mounts.
    pub binds: Vec<(PathBuf, String, bool)>,
    pub working_dir: String,
    pub network: bool,
    pub memory_mb: u64,
    pub cpus: f64,
    pub pids_limit: i64,
    pub stdin: Option<Vec<u8>>,
    pub timeout: Duration,
    /// Characters of each stream kept.
    pub keep_chars: usize,
}

/// How a container ended.
#[derive(Debug)]
pub struct ContainerEnd {
    pub id: String,
    pub exit_code: Option<i64>,
    pub oom_killed: bool,
    pub timed_out: bool,
    pub stdout: Captured,
    pub stderr: Captured,
    pub elapsed: Duration,
}

/// One stream being captured: the first bytes kept, characters counted.
#[derive(Default)]
struct Capture {
    kept: Vec<u8>,
    total_chars: usize,
}

impl Capture {
    fn push(&mut self, chunk: &[u8], keep_chars: usize) {
        let keep_bytes = keep_chars.saturating_mul(4).saturating_add(4);
        // A character starts at every byte that is not a UTF-8 continuation.
        self.total_chars += chunk.iter().filter(|b| (**b & 0xC0) != 0x80).count();
        if self.kept.len() < keep_bytes {
            let room = keep_bytes - self.kept.len();
            self.kept.extend_from_slice(&chunk[..room.min(chunk.len())]);
        }
    }

    fn finish(&self, keep_chars: usize) -> Captured {
        Captured {
            text: String::from_utf8_lossy(&self.kept)
                .chars()
                .take(keep_chars)
                .collect(),
            total_chars: self.total_chars,
        }
    }
}

/// Aborts a spawned task when dropped.
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn api_error(what: &str, e: bollard::errors::Error) -> String {
    format!("{what}: {e}")
}

/// Runs `spec` in a fresh container and removes it afterwards, whatever
/// happens. An `Err` means Docker failed us (the task may not have run).
pub async fn run(docker: &Docker, spec: ContainerSpec) -> Result<ContainerEnd, String> {
    let removal = Removal {
        docker: docker.clone(),
        name: Some(spec.name.clone()),
    };
    let result = run_inner(docker, &spec).await;
    removal.now().await;
    result
}

async fn run_inner(docker: &Docker, spec: &ContainerSpec) -> Result<ContainerEnd, String> {
    let memory = (spec.memory_mb * 1024 * 1024) as i64;
    let mounts = spec
        .binds
        .iter()
        .map(|(source, target, read_only)| Mount {
            source: Some(source.to_string_lossy().into_owned()),
            target: Some(target.clone()),
            typ: Some(MountType::BIND),
            read_only: Some(*read_only),
            ..Default::default()
        })
        .collect();
    let host_config = HostConfig {
        mounts: Some(mounts),
        network_mode: (!spec.network).then(|| "none".to_string()),
        memory: Some(memory),
        // Swap equal to memory: no swap, so the cap is the cap.
        memory_swap: Some(memory),
        nano_cpus: Some((spec.cpus * 1e9) as i64),
        pids_limit: Some(spec.pids_limit),
        // Docker's default capabilities minus those a task has no use
        // for (raw sockets, device nodes, chroot, file capabilities...).
        cap_drop: Some(vec!["ALL".into()]),
        cap_add: Some(
            [
                "CHOWN",
                "DAC_OVERRIDE",
                "FOWNER",
                "SETUID",
                "SETGID",
                "KILL",
            ]
            .map(String::from)
            .to_vec(),
        ),
        security_opt: Some(vec!["no-new-privileges".into()]),
        auto_remove: Some(false),
        ..Default::default()
    };
    let with_stdin = spec.stdin.is_some();
    let body = ContainerCreateBody {
        image: Some(spec.image.clone()),
        entrypoint: Some(vec!["sh".into(), "-c".into()]),
        cmd: Some(vec![spec.command.clone()]),
        env: Some(spec.env.clone()),
        labels: Some(spec.labels.clone()),
        working_dir: Some(spec.working_dir.clone()),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        attach_stdin: Some(with_stdin),
        open_stdin: Some(with_stdin),
        stdin_once: Some(with_stdin),
        tty: Some(false),
        host_config: Some(host_config),
        ..Default::default()
    };
    let options = CreateContainerOptionsBuilder::default()
        .name(&spec.name)
        .build();
    let created = docker
        .create_container(Some(options), body)
        .await
        .map_err(|e| api_error("cannot create the container", e))?;
    for warning in &created.warnings {
        tracing::debug!("container.run: {}: {warning}", spec.name);
    }
    let id = created.id;

    // Attach before starting so no output is missed.
    let attach = AttachContainerOptionsBuilder::default()
        .stdout(true)
        .stderr(true)
        .stdin(with_stdin)
        .stream(true)
        .logs(false)
        .build();
    let attached = docker
        .attach_container(&id, Some(attach))
        .await
        .map_err(|e| api_error("cannot attach to the container", e))?;
    let streams = Arc::new(Mutex::new((Capture::default(), Capture::default())));
    let keep = spec.keep_chars;
    let mut output = attached.output;
    let sink = streams.clone();
    let reader = tokio::spawn(async move {
        while let Some(Ok(chunk)) = output.next().await {
            let mut s = sink.lock().unwrap();
            match chunk {
                bollard::container::LogOutput::StdErr { message } => s.1.push(&message, keep),
                other => s.0.push(&other.into_bytes(), keep),
            }
        }
    });
    let _reader_guard = AbortOnDrop(reader.abort_handle());
    let mut input = attached.input;
    let _writer_guard = spec.stdin.clone().map(|bytes| {
        // A task that never reads stdin must not block us.
        AbortOnDrop(
            tokio::spawn(async move {
                let _ = input.write_all(&bytes).await;
                let _ = input.shutdown().await;
            })
            .abort_handle(),
        )
    });

    docker
        .start_container(&id, None)
        .await
        .map_err(|e| api_error("cannot start the container", e))?;
    let started = Instant::now();

    let wait = |docker: &Docker| {
        let options = WaitContainerOptionsBuilder::default()
            .condition("not-running")
            .build();
        let mut stream = docker.wait_container(&id, Some(options));
        async move { stream.next().await }
    };
    let timed_out = match tokio::time::timeout(spec.timeout, wait(docker)).await {
        Ok(_) => false,
        Err(_) => {
            let _ = docker
                .kill_container(&id, Some(KillContainerOptions::default()))
                .await;
            let _ = tokio::time::timeout(Duration::from_secs(10), wait(docker)).await;
            true
        }
    };
    let elapsed = started.elapsed();
    // The stream ends when the container does; give it a moment to drain.
    let _ = tokio::time::timeout(Duration::from_secs(2), reader).await;

    let inspected = docker
        .inspect_container(&id, None)
        .await
        .map_err(|e| api_error("cannot inspect the container", e))?;
    let state = inspected.state.unwrap_or_default();
    let (stdout, stderr) = {
        let s = streams.lock().unwrap();
        (s.0.finish(keep), s.1.finish(keep))
    };
    Ok(ContainerEnd {
        id,
        exit_code: state.exit_code,
        oom_killed: state.oom_killed.unwrap_or(false),
        timed_out,
        stdout,
        stderr,
        elapsed,
    })
}
