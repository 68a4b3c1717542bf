//! A messenger bridge the host supervises: a child process speaking JSON
//! lines (the WhatsApp bridge, `bridges/whatsapp`). The host owns the
//! process; the channel component owns the protocol. The bridge is one
//! host-held connection of the component's in the [`ConnectionHub`]:
//!
//! - every line the bridge prints is passed to the component's
//!   `handle-ws(id, text(line))`, and the events it returns are dispatched;
//! - whatever the component sends with `connections.ws-send(id, …)` is
//!   written to the bridge's stdin, one line each;
//! - when the bridge dies it is started again, with a backoff, under the
//!   same connection id. What was queued for the dead process is dropped:
//!   the component keeps every command it has not seen answered and sends
//!   it again when the new bridge says `connected`, so keeping the queue
//!   too would send those twice;
//! - the host tells the component of each start and exit with lines of its
//!   own: `{"type":"bridge_started","pid":N}` and
//!   `{"type":"bridge_exited","code":N,"signal":N,"restart_in_ms":N}`.

use super::channels::ChannelDriver;
use super::{Gateway, Origin};
use crate::runtime::bindings::channel::openpista::plugin::connections::Frame;
use crate::runtime::connections::{ConnectionHub, Outgoing};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

/// Longest line taken from a bridge; a longer one is dropped whole.
pub const MAX_LINE: usize = 64 * 1024 * 1024;
/// First wait before a restart; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// A process that ran this long resets the backoff.
const STABLE: Duration = Duration::from_secs(60);

/// How to start the bridge.
#[derive(Debug, Clone)]
pub struct BridgeSpec {
    /// The channel's name (`whatsapp`), for events and logs.
    pub channel: String,
    pub program: String,
    pub args: Vec<String>,
    pub cwd: Option<PathBuf>,
}

/// What the supervisor has seen, for status.
#[derive(Debug, Clone, Default)]
pub struct BridgeHealth {
    pub pid: Option<u32>,
    pub starts: u32,
    pub last_exit: Option<String>,
    pub lines_in: u64,
    pub lines_out: u64,
}

/// A supervised bridge; stopped (stdin closed, then killed) when dropped
/// or by [`Bridge::stop`].
pub struct Bridge {
    pub id: u64,
    hub: Arc<ConnectionHub>,
    health: Arc<Mutex<BridgeHealth>>,
    stop: tokio::sync::watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Bridge {
    /// Registers the bridge's connection for `driver`'s component and
    /// starts supervising it.
    pub fn spawn(
        spec: BridgeSpec,
        driver: Arc<ChannelDriver>,
        gateway: Arc<Gateway>,
        hub: Arc<ConnectionHub>,
    ) -> Bridge {
        let id = hub.next_id();
        let queue = hub.register(id, driver.component());
        let health = Arc::new(Mutex::new(BridgeHealth::default()));
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let supervisor = Supervisor {
            spec,
            id,
            driver,
            gateway,
            queue: Some(queue),
            health: health.clone(),
            stopped,
        };
        Bridge {
            id,
            hub,
            health,
            stop,
            task: Some(tokio::spawn(supervisor.run())),
        }
    }

    pub fn health(&self) -> BridgeHealth {
        self.health.lock().unwrap().clone()
    }

    /// Closes the bridge's stdin (it exits cleanly), kills it after 5 s,
    /// and waits for that.
    pub async fn stop(mut self) {
        self.stop.send_replace(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        self.hub.remove(self.id);
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        self.stop.send_replace(true);
        self.hub.remove(self.id);
    }
}

struct Supervisor {
    spec: BridgeSpec,
    id: u64,
    driver: Arc<ChannelDriver>,
    gateway: Arc<Gateway>,
    /// The connection's queue; lent to each process's writer task while
    /// it runs.
    queue: Option<tokio::sync::mpsc::Receiver<Outgoing>>,
    health: Arc<Mutex<BridgeHealth>>,
    stopped: tokio::sync::watch::Receiver<bool>,
}

/// Why one process's run ended.
enum Ended {
    Exited(std::process::ExitStatus),
    Stopping,
}

impl Supervisor {
    async fn run(mut self) {
        let mut backoff = FIRST_BACKOFF;
        loop {
            if *self.stopped.borrow() {
                return;
            }
            let started = Instant::now();
            self.drop_stale();
            let exit = match self.start() {
                Ok(child) => match self.serve(child).await {
                    Ended::Stopping => return,
                    Ended::Exited(status) => describe(&status),
                },
                Err(e) => format!("could not start: {e}"),
            };
            if started.elapsed() >= STABLE {
                backoff = FIRST_BACKOFF;
            }
            tracing::warn!(channel = %self.spec.channel, "bridge ended ({exit}); restarting in {backoff:?}");
            self.health.lock().unwrap().last_exit = Some(exit.clone());
            self.tell(serde_json::json!({
                "type": "bridge_exited",
                "code": exit_code(&exit),
                "signal": exit_signal(&exit),
                "restart_in_ms": backoff.as_millis() as u64,
            }))
            .await;
            let mut stopped = self.stopped.clone();
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = stopped.wait_for(|s| *s) => return,
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// Forgets lines queued for a process that is gone (see the module
    /// docs: the component resends what it still needs).
    fn drop_stale(&mut self) {
        let mut dropped = 0;
        if let Some(queue) = &mut self.queue {
            while queue.try_recv().is_ok() {
                dropped += 1;
            }
        }
        if dropped > 0 {
            tracing::info!(
                channel = %self.spec.channel,
                "dropped {dropped} line(s) queued for the previous bridge; the channel sends again what it has not seen delivered"
            );
        }
    }

    fn start(&self) -> std::io::Result<Child> {
        let mut cmd = Command::new(&self.spec.program);
        cmd.args(&self.spec.args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        if let Some(dir) = &self.spec.cwd {
            cmd.current_dir(dir);
        }
        cmd.spawn()
    }

    /// Passes a line the host made to the component.
    async fn tell(&self, event: serde_json::Value) {
        self.deliver(event.to_string()).await;
    }

    /// Passes one line to the component and dispatches what it returns.
    async fn deliver(&self, line: String) {
        match self.driver.handle_ws(self.id, Frame::Text(line)).await {
            Ok(events) => {
                for event in events {
                    self.gateway.dispatch(
                        Origin::channel(&self.spec.channel),
                        super::Incoming::from_channel(&self.spec.channel, event),
                    );
                }
            }
            Err(e) => tracing::warn!(channel = %self.spec.channel, "bridge line not handled: {e}"),
        }
    }

    /// Runs one process until it exits or the host stops.
    ///
    /// Writing is a task of its own, so a bridge that stops reading its
    /// stdin never keeps this loop from reading its stdout (each would wait
    /// for the other otherwise) or from seeing the host stop.
    async fn serve(&mut self, mut child: Child) -> Ended {
        let pid = child.id();
        {
            let mut h = self.health.lock().unwrap();
            h.pid = pid;
            h.starts += 1;
        }
        let stdin = child.stdin.take().expect("piped stdin");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let stderr = child.stderr.take().expect("piped stderr");
        let channel = self.spec.channel.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                tracing::debug!(%channel, "bridge: {line}");
            }
        });
        tracing::info!(channel = %self.spec.channel, pid, "bridge started");
        self.tell(serde_json::json!({"type": "bridge_started", "pid": pid}))
            .await;
        let queue = self.queue.take().expect("the queue is home between runs");
        let (writer_stop, writer_stopped) = tokio::sync::oneshot::channel::<()>();
        let mut writer_stop = Some(writer_stop);
        let writer = tokio::spawn(write_lines(
            stdin,
            queue,
            writer_stopped,
            self.health.clone(),
        ));
        let mut buf = Vec::new();
        let mut stopped = self.stopped.clone();
        let ended = loop {
            tokio::select! {
                read = read_line(&mut stdout, &mut buf) => match read {
                    Ok(Some(line)) => {
                        self.health.lock().unwrap().lines_in += 1;
                        self.deliver(line).await;
                    }
                    Ok(None) => {
                        // Stdout closed: the process is ending (or must).
                        let status = match tokio::time::timeout(Duration::from_secs(5), child.wait()).await {
                            Ok(s) => s.unwrap_or_default(),
                            Err(_) => {
                                let _ = child.kill().await;
                                child.wait().await.unwrap_or_default()
                            }
                        };
                        break Ended::Exited(status);
                    }
                    Err(e) => tracing::warn!(channel = %self.spec.channel, "bridge line dropped: {e}"),
                },
                status = child.wait() => {
                    // What it printed before exiting is still in the pipe:
                    // its last words say why.
                    let status = status.unwrap_or_default();
                    let drain = async {
                        while let Ok(Some(line)) = read_line(&mut stdout, &mut buf).await {
                            self.deliver(line).await;
                        }
                    };
                    let _ = tokio::time::timeout(Duration::from_secs(2), drain).await;
                    break Ended::Exited(status);
                }
                () = async { let _ = stopped.wait_for(|s| *s).await; } => {
                    // Closing stdin asks it to exit cleanly.
                    if let Some(stop) = writer_stop.take() {
                        let _ = stop.send(());
                    }
                    if tokio::time::timeout(Duration::from_secs(5), child.wait()).await.is_err() {
                        let _ = child.kill().await;
                    }
                    break Ended::Stopping;
                }
            }
        };
        // The process is gone (or killed): the writer stops at once, or its
        // write fails on the closed pipe. Either way the queue comes back.
        if let Some(stop) = writer_stop.take() {
            let _ = stop.send(());
        }
        match writer.await {
            Ok(queue) => self.queue = Some(queue),
            Err(e) => {
                tracing::error!(channel = %self.spec.channel, "bridge writer failed ({e}); supervision ends");
                return Ended::Stopping;
            }
        }
        ended
    }
}

/// Writes the connection's lines to one process's stdin until it closes
/// or `stop` fires; gives the queue back.
async fn write_lines(
    mut stdin: tokio::process::ChildStdin,
    mut queue: tokio::sync::mpsc::Receiver<Outgoing>,
    mut stop: tokio::sync::oneshot::Receiver<()>,
    health: Arc<Mutex<BridgeHealth>>,
) -> tokio::sync::mpsc::Receiver<Outgoing> {
    loop {
        let line = tokio::select! {
            _ = &mut stop => break,
            out = queue.recv() => match out {
                Some(Outgoing::Frame(Frame::Text(text))) => text,
                Some(other) => {
                    tracing::warn!("bridge: ignored {other:?}");
                    continue;
                }
                None => break,
            },
        };
        tokio::select! {
            _ = &mut stop => break,
            written = write_line(&mut stdin, &line) => match written {
                Ok(()) => health.lock().unwrap().lines_out += 1,
                Err(e) => {
                    tracing::debug!("bridge stdin closed: {e}");
                    break;
                }
            },
        }
    }
    queue
}

/// One line without its newline; `Ok(None)` at the end of the stream. A
/// line longer than [`MAX_LINE`] is an error (the rest of it is skipped).
///
/// Cancel-safe: a line half read when the future is dropped stays in `buf`
/// and the next call goes on with it.
async fn read_line(
    reader: &mut BufReader<tokio::process::ChildStdout>,
    buf: &mut Vec<u8>,
) -> std::io::Result<Option<String>> {
    let take = |buf: &mut Vec<u8>| {
        let line = String::from_utf8_lossy(buf).into_owned();
        buf.clear();
        line
    };
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            if buf.len() > MAX_LINE {
                buf.clear();
                return Err(std::io::Error::other(format!(
                    "a last line longer than {MAX_LINE} bytes"
                )));
            }
            return Ok((!buf.is_empty()).then(|| take(buf)));
        }
        let newline = available.iter().position(|b| *b == b'\n');
        let chunk = &available[..newline.unwrap_or(available.len())];
        if buf.len() + chunk.len() <= MAX_LINE {
            buf.extend_from_slice(chunk);
        } else {
            // Remember only that it is too long.
            buf.resize(MAX_LINE + 1, 0);
        }
        let used = newline.map(|i| i + 1).unwrap_or(available.len());
        reader.consume(used);
        if newline.is_some() {
            if buf.len() > MAX_LINE {
                buf.clear();
                return Err(std::io::Error::other(format!(
                    "a line longer than {MAX_LINE} bytes"
                )));
            }
            return Ok(Some(take(buf)));
        }
    }
}

async fn write_line(stdin: &mut tokio::process::ChildStdin, line: &str) -> std::io::Result<()> {
    stdin
        .write_all(line.trim_end_matches('\n').as_bytes())
        .await?;
    stdin.write_all(b"\n").await?;
    stdin.flush().await
}

fn describe(status: &std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(signal)) => format!("signal {signal}"),
        _ => "ended".into(),
    }
}

fn exit_code(text: &str) -> Option<i64> {
    text.strip_prefix("exit code ").and_then(|c| c.parse().ok())
}

fn exit_signal(text: &str) -> Option<i64> {
    text.strip_prefix("signal ").and_then(|c| c.parse().ok())
}
