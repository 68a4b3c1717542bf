//! The web channel under load, driven from a second process over loopback.
//!
//! The real `openpista serve` (a child process: echo provider, its own
//! home, memory and compile cache in a temporary folder, the web token from
//! `$OPENPISTA_BENCH_TOKEN`) is given N concurrent WebSocket clients, each
//! with its own client id and so its own session, each holding a
//! conversation of K turns as the web page would (`docs/WEB_PROTOCOL.md`):
//! send a `message`, wait for its `ack` and the final `message` frame, then
//! the next turn. A turn's latency is send → final `message`. The load is
//! closed-loop (a client's next message waits for its answer), so with N
//! clients the latency is about N / throughput: the server's rate is the
//! figure, the latency how it feels at that many connections.
//!
//! Reported for each server: connections held to the end (a final ping
//! must still be answered), turns answered and DROPPED (sent, never
//! answered), messages per second (turns / wall time of the turns), turn
//! latency p50/p95/p99, the server's CPU time and resident memory (VmRSS)
//! while it holds the connections.
//!
//! Why: every frame of every connection goes through the one long-lived
//! `channel-web` instance, and every answer through the gateway's session
//! workers and the memory store; this shows what that costs when many
//! browsers talk at once, and that nothing is lost on the way.
//!
//! Beside it, in the same run and with the same client load, a baseline: a
//! minimal tokio-tungstenite echo server (this binary re-executed with
//! `OPENPISTA_WEB_LOAD_BASELINE=1`, so it too is a separate process) that
//! answers each text frame with itself. The machine is noisy, so the ratios
//! are what to compare across runs. Only openpista writes to disk (two
//! durable commits per turn), and the echo server cannot stand for that
//! part; so the disk is measured too, in the same run: the median 4 KiB
//! write + `fdatasync` in the folder of the store, before and after the
//! openpista load. Report: BENCHMARKS.md.
//!
//! cargo bench -p openpista --bench web_load
//!
//! Under `cargo test` it runs one small load (20 clients, 3 turns)
//! as a smoke test. Either way it exits non-zero when a connection failed or
//! closed early, or a turn went unanswered or got a wrong answer: a
//! correctness check, never a timing one.

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::sync::{Barrier, Semaphore};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::http::header::SEC_WEBSOCKET_PROTOCOL;
use tokio_tungstenite::tungstenite::{Message, handshake};

const BIN: &str = env!("CARGO_BIN_EXE_openpista");
/// Set on the re-executed bench binary that serves as the baseline.
const BASELINE_ENV: &str = "OPENPISTA_WEB_LOAD_BASELINE";
const TOKEN_ENV: &str = "OPENPISTA_BENCH_TOKEN";
const TOKEN: &str = "web-load-bench-token";
/// The web page pings after this long without sending; the server closes
/// connections silent for 45 s.
const PING_EVERY: Duration = Duration::from_secs(15);
/// Handshakes in flight at once while the clients connect (the load is
/// the held connections and their turns, not a connect storm).
const CONNECTING_AT_ONCE: usize = 64;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

type Ws = WebSocketStream<TcpStream>;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Openpista,
    Baseline,
}

// ---------------------------------------------------------------- servers

/// A server child process; stopped (SIGTERM, then SIGKILL) when dropped.
struct ServerProcess {
    child: Child,
    addr: SocketAddr,
    /// Where its stderr goes (openpista only), for failure reports.
    log: Option<PathBuf>,
}

impl ServerProcess {
    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("server process status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .expect("VmRSS")
    }

    fn cpu(&self) -> Duration {
        cpu_time(&self.child.id().to_string())
    }

    fn log_tail(&self) -> String {
        let Some(log) = &self.log else {
            return String::new();
        };
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
            let until = Instant::now() + Duration::from_secs(10);
            while Instant::now() < until {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// User plus system CPU time of process `pid` (or `self`) so far.
fn cpu_time(pid: &str) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("process stat");
    // The fields after the command name, which is in parentheses: utime and
    // stime are the 14th and 15th fields of the whole line.
    let rest = &stat[stat.rfind(')').expect("stat format") + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    Duration::from_secs_f64(ticks as f64 / per_second as f64)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `GET /health` answers 200 and lists the web channel.
fn healthy(addr: SocketAddr) -> bool {
    let Ok(mut tcp) = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else {
        return false;
    };
    let _ = tcp.set_read_timeout(Some(Duration::from_secs(5)));
    let request = format!("GET /health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if tcp.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut response = String::new();
    let _ = tcp.read_to_string(&mut response);
    response.starts_with("HTTP/1.1 200") && response.contains("\"web\"")
}

/// `openpista serve` with a home of its own under `dir` and the shared
/// compile cache `cache`; returns once `/health` answers.
fn start_openpista(dir: &Path, cache: &Path) -> ServerProcess {
    std::fs::create_dir_all(dir).unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[agent]\nprovider = \"echo\"\n\n\
             [memory]\npath = {:?}\n\n\
             [runtime]\ncache_dir = {:?}\n\n\
             [channels.web]\ntoken_env = \"{TOKEN_ENV}\"\n{}",
            dir.join("memory.redb").display().to_string(),
            cache.display().to_string(),
            // `OPENPISTA_WEB_LOAD_CONFIG='[metrics]\nenabled = false'`
            // measures the server with other settings (BENCHMARKS.md).
            std::env::var("OPENPISTA_WEB_LOAD_CONFIG").unwrap_or_default(),
        ),
    )
    .unwrap();
    let log = dir.join("serve.log");
    let serve = |extra: &[&str]| {
        Command::new(BIN)
            .arg("--config")
            .arg(&config)
            .arg("serve")
            .args(extra)
            .env("OPENPISTA_HOME", dir)
            .env("OPENPISTA_LISTEN", addr.to_string())
            .env(TOKEN_ENV, TOKEN)
            .env("OPENPISTA_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("spawn openpista serve")
    };
    // Fill the compile cache first, so that the measured server's memory
    // is not that of compiling the components.
    let warm = serve(&["--exit-when-ready"]).wait().unwrap();
    assert!(
        warm.success(),
        "openpista serve --exit-when-ready failed:\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    let child = serve(&[]);
    let mut server = ServerProcess {
        child,
        addr,
        log: Some(log),
    };
    let until = Instant::now() + Duration::from_secs(120);
    while !healthy(addr) {
        if let Ok(Some(status)) = server.child.try_wait() {
            panic!("openpista serve exited ({status}):\n{}", server.log_tail());
        }
        assert!(
            Instant::now() < until,
            "openpista serve not healthy after 120 s:\n{}",
            server.log_tail()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    server
}

/// This binary again, as the baseline echo server.
fn start_baseline() -> ServerProcess {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .env(BASELINE_ENV, "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn the baseline server");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening ")
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("baseline server said {line:?}"));
    ServerProcess {
        child,
        addr,
        log: None,
    }
}

/// The baseline's handshake callback: answer an offered subprotocol list
/// with `openpista`. (The signature is tungstenite's.)
#[allow(clippy::result_large_err)]
fn subprotocol(
    request: &handshake::server::Request,
    mut response: handshake::server::Response,
) -> Result<handshake::server::Response, handshake::server::ErrorResponse> {
    if request.headers().contains_key(SEC_WEBSOCKET_PROTOCOL) {
        response.headers_mut().insert(
            SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static("openpista"),
        );
    }
    Ok(response)
}

/// The baseline: accept WebSockets on loopback (answering the offered
/// subprotocol with `openpista`, as the real server does) and send every
/// text frame straight back. Same runtime flavour as `openpista serve`.
fn baseline_server() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("listening {}", listener.local_addr().unwrap());
        std::io::stdout().flush().unwrap();
        loop {
            let tcp = match listener.accept().await {
                Ok((tcp, _)) => tcp,
                Err(e) => {
                    eprintln!("baseline: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            };
            let _ = tcp.set_nodelay(true);
            tokio::spawn(async move {
                let Ok(ws) = tokio_tungstenite::accept_hdr_async(tcp, subprotocol).await else {
                    return;
                };
                let (mut sink, mut stream) = ws.split();
                while let Some(Ok(message)) = stream.next().await {
                    let echoed = match message {
                        Message::Text(t) => sink.send(Message::Text(t)).await,
                        Message::Close(_) => break,
                        _ => Ok(()),
                    };
                    if echoed.is_err() {
                        break;
                    }
                }
            });
        }
    });
}

// ---------------------------------------------------------------- clients

/// What one client saw.
#[derive(Default)]
struct ClientReport {
    connected: bool,
    /// Still open, and answering a ping, after every client's last turn.
    held: bool,
    sent: usize,
    answered: usize,
    latencies: Vec<Duration>,
    /// Frames received between sending a message and its answer.
    turn_frames: u64,
    errors: Vec<String>,
}

enum RecvError {
    Timeout,
    Closed(String),
}

/// The next text frame, pinging whenever the client has sent nothing for
/// [`PING_EVERY`], as the web page does.
async fn next_text(
    ws: &mut Ws,
    last_sent: &mut Instant,
    deadline: Instant,
) -> Result<String, RecvError> {
    loop {
        let wake = (*last_sent + PING_EVERY).min(deadline);
        tokio::select! {
            message = ws.next() => match message {
                Some(Ok(Message::Text(t))) => return Ok(t.to_string()),
                Some(Ok(Message::Close(frame))) => {
                    return Err(RecvError::Closed(format!("closed by the server: {frame:?}")));
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(RecvError::Closed(format!("read failed: {e}"))),
                None => return Err(RecvError::Closed("connection ended".into())),
            },
            _ = tokio::time::sleep_until(wake.into()) => {
                if Instant::now() >= deadline {
                    return Err(RecvError::Timeout);
                }
                let ping = json!({"type": "ping", "t": 1}).to_string();
                if let Err(e) = ws.send(Message::Text(ping.into())).await {
                    return Err(RecvError::Closed(format!("ping failed: {e}")));
                }
                *last_sent = Instant::now();
            }
        }
    }
}

fn frame_type(frame: &Value) -> &str {
    frame.get("type").and_then(Value::as_str).unwrap_or("")
}

async fn connect(addr: SocketAddr, client_id: &str) -> Result<Ws, String> {
    let tcp = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    tcp.set_nodelay(true).map_err(|e| e.to_string())?;
    let mut request = format!("ws://{addr}/ws?client={client_id}")
        .into_client_request()
        .map_err(|e| e.to_string())?;
    request.headers_mut().insert(
        SEC_WEBSOCKET_PROTOCOL,
        HeaderValue::from_str(&format!("openpista, token.{TOKEN}")).unwrap(),
    );
    let (ws, _) = tokio_tungstenite::client_async(request, tcp)
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    Ok(ws)
}

/// Connects and sends the first frame (a `ping`); openpista answers it
/// with `ready`, the baseline with the ping itself.
async fn open(kind: Kind, addr: SocketAddr, client_id: &str) -> Result<Ws, String> {
    let mut ws = connect(addr, client_id).await?;
    let ping = json!({"type": "ping", "t": 0}).to_string();
    ws.send(Message::Text(ping.into()))
        .await
        .map_err(|e| format!("first frame: {e}"))?;
    let mut last_sent = Instant::now();
    let text = match next_text(&mut ws, &mut last_sent, Instant::now() + CONNECT_TIMEOUT).await {
        Ok(text) => text,
        Err(RecvError::Timeout) => return Err("no answer to the first frame".into()),
        Err(RecvError::Closed(e)) => return Err(e),
    };
    let frame: Value = serde_json::from_str(&text).map_err(|e| format!("{e}: {text}"))?;
    let expected = match kind {
        Kind::Openpista => "ready",
        Kind::Baseline => "ping",
    };
    if frame_type(&frame) != expected {
        return Err(format!("first frame back was {text}, not {expected:?}"));
    }
    Ok(ws)
}

/// Keeps `ws` alive (reading, pinging) until every client reaches
/// `barrier`. Whatever arrives meanwhile (a late `status`) is ignored.
async fn hold(
    ws: &mut Option<Ws>,
    last_sent: &mut Instant,
    barrier: &Barrier,
    report: &mut ClientReport,
) {
    let wait = barrier.wait();
    tokio::pin!(wait);
    while let Some(socket) = ws.as_mut() {
        let far = Instant::now() + Duration::from_secs(3600);
        tokio::select! {
            _ = &mut wait => return,
            next = next_text(socket, last_sent, far) => match next {
                Ok(_) => {}
                Err(RecvError::Timeout) => {}
                Err(RecvError::Closed(e)) => {
                    report.errors.push(format!("while holding: {e}"));
                    *ws = None;
                }
            },
        }
    }
    wait.await;
}

struct ClientPlan {
    kind: Kind,
    addr: SocketAddr,
    client_id: String,
    turns: usize,
    turn_timeout: Duration,
    connecting: Arc<Semaphore>,
    /// Connected; turns done; RSS measured.
    barriers: Arc<[Barrier; 3]>,
}

/// One client: connect, K turns, hold until everyone is done, check the
/// connection still answers, close. Always passes all three barriers.
async fn client(plan: ClientPlan) -> ClientReport {
    let mut report = ClientReport::default();
    let mut ws = {
        let _permit = plan.connecting.acquire().await.unwrap();
        match tokio::time::timeout(CONNECT_TIMEOUT, open(plan.kind, plan.addr, &plan.client_id))
            .await
        {
            Ok(Ok(ws)) => Some(ws),
            Ok(Err(e)) => {
                report.errors.push(format!("connecting: {e}"));
                None
            }
            Err(_) => {
                report.errors.push("connecting: timed out".into());
                None
            }
        }
    };
    report.connected = ws.is_some();
    let mut last_sent = Instant::now();
    hold(&mut ws, &mut last_sent, &plan.barriers[0], &mut report).await;

    'turns: for k in 0..plan.turns {
        let Some(socket) = ws.as_mut() else { break };
        let id = format!("m{k}");
        let text = format!("turn {k} from {}", plan.client_id);
        let expected = match plan.kind {
            Kind::Openpista => format!("echo: {text}"),
            Kind::Baseline => text.clone(),
        };
        let frame = json!({"type": "message", "id": id, "text": text}).to_string();
        let started = Instant::now();
        if let Err(e) = socket.send(Message::Text(frame.into())).await {
            report.errors.push(format!("turn {k}: send failed: {e}"));
            ws = None;
            break;
        }
        last_sent = started;
        report.sent += 1;
        let deadline = started + plan.turn_timeout;
        let mut acked = false;
        loop {
            let text = match next_text(socket, &mut last_sent, deadline).await {
                Ok(text) => text,
                Err(RecvError::Timeout) => {
                    report.errors.push(format!(
                        "turn {k}: no answer within {:?}",
                        plan.turn_timeout
                    ));
                    break 'turns;
                }
                Err(RecvError::Closed(e)) => {
                    report.errors.push(format!("turn {k}: {e}"));
                    ws = None;
                    break 'turns;
                }
            };
            report.turn_frames += 1;
            let Ok(frame) = serde_json::from_str::<Value>(&text) else {
                report.errors.push(format!("turn {k}: not JSON: {text}"));
                continue;
            };
            match frame_type(&frame) {
                "ack" if frame.get("id").and_then(Value::as_str) == Some(&id) => acked = true,
                "message" => {
                    let latency = started.elapsed();
                    report.answered += 1;
                    report.latencies.push(latency);
                    let error = frame.get("error").and_then(Value::as_bool) == Some(true);
                    if error || frame.get("text").and_then(Value::as_str) != Some(&expected) {
                        report.errors.push(format!("turn {k}: wrong answer {text}"));
                    }
                    if plan.kind == Kind::Openpista && !acked {
                        report.errors.push(format!("turn {k}: answer before ack"));
                    }
                    break;
                }
                "error" => report.errors.push(format!("turn {k}: {text}")),
                _ => {} // status, delta, pong
            }
        }
    }
    hold(&mut ws, &mut last_sent, &plan.barriers[1], &mut report).await;
    hold(&mut ws, &mut last_sent, &plan.barriers[2], &mut report).await;

    // Still open and answering: a ping with a mark of its own comes back
    // (as `pong` from openpista, as itself from the baseline).
    if let Some(mut socket) = ws {
        let ping = json!({"type": "ping", "t": 4242}).to_string();
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut answered = socket.send(Message::Text(ping.into())).await.is_ok();
        last_sent = Instant::now();
        while answered {
            match next_text(&mut socket, &mut last_sent, deadline).await {
                Ok(text) => {
                    let frame: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                    if frame.get("t") == Some(&json!(4242)) {
                        break;
                    }
                }
                Err(RecvError::Timeout) => {
                    report.errors.push("final ping: no answer".into());
                    answered = false;
                }
                Err(RecvError::Closed(e)) => {
                    report.errors.push(format!("final ping: {e}"));
                    answered = false;
                }
            }
        }
        report.held = answered;
        let _ = socket.close(None).await;
        let _ = tokio::time::timeout(Duration::from_secs(5), async {
            while socket.next().await.is_some() {}
        })
        .await;
    }
    report
}

// ---------------------------------------------------------------- a load

struct LoadReport {
    clients: usize,
    connected: usize,
    held: usize,
    sent: usize,
    answered: usize,
    planned: usize,
    turn_frames: u64,
    latencies: Vec<Duration>,
    wall: Duration,
    connect_all: Duration,
    rss_idle_kib: u64,
    rss_connected_kib: u64,
    rss_held_kib: u64,
    /// CPU time during the turns: the server's, and this process's (the
    /// clients').
    server_cpu: Duration,
    client_cpu: Duration,
    errors: Vec<String>,
}

impl LoadReport {
    fn dropped(&self) -> usize {
        self.sent - self.answered
    }

    fn msgs_per_sec(&self) -> f64 {
        self.answered as f64 / self.wall.as_secs_f64()
    }

    fn percentile(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let i = ((self.latencies.len() as f64 * p).ceil() as usize).clamp(1, self.latencies.len());
        self.latencies[i - 1]
    }

    fn ok(&self) -> bool {
        self.connected == self.clients
            && self.held == self.clients
            && self.answered == self.planned
            && self.errors.is_empty()
    }
}

async fn run_load(
    kind: Kind,
    server: &ServerProcess,
    clients: usize,
    turns: usize,
    turn_timeout: Duration,
) -> LoadReport {
    let rss_idle_kib = server.rss_kib();
    let barriers = Arc::new([
        Barrier::new(clients + 1),
        Barrier::new(clients + 1),
        Barrier::new(clients + 1),
    ]);
    let connecting = Arc::new(Semaphore::new(CONNECTING_AT_ONCE));
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|i| {
            tokio::spawn(client(ClientPlan {
                kind,
                addr: server.addr,
                client_id: format!("load-client-{i:05}"),
                turns,
                turn_timeout,
                connecting: connecting.clone(),
                barriers: barriers.clone(),
            }))
        })
        .collect();
    barriers[0].wait().await;
    let connect_all = started.elapsed();
    let rss_connected_kib = server.rss_kib();
    let (server_cpu, client_cpu) = (server.cpu(), cpu_time("self"));
    let started = Instant::now();
    barriers[1].wait().await;
    let wall = started.elapsed();
    let server_cpu = server.cpu() - server_cpu;
    let client_cpu = cpu_time("self") - client_cpu;
    let rss_held_kib = server.rss_kib();
    barriers[2].wait().await;

    let mut report = LoadReport {
        clients,
        connected: 0,
        held: 0,
        sent: 0,
        answered: 0,
        planned: clients * turns,
        turn_frames: 0,
        latencies: Vec::with_capacity(clients * turns),
        wall,
        connect_all,
        rss_idle_kib,
        rss_connected_kib,
        rss_held_kib,
        server_cpu,
        client_cpu,
        errors: Vec::new(),
    };
    for (i, task) in tasks.into_iter().enumerate() {
        let c = task.await.expect("client task");
        report.connected += c.connected as usize;
        report.held += c.held as usize;
        report.sent += c.sent;
        report.answered += c.answered;
        report.turn_frames += c.turn_frames;
        report.latencies.extend(c.latencies);
        report
            .errors
            .extend(c.errors.into_iter().map(|e| format!("client {i}: {e}")));
    }
    report.latencies.sort();
    report
}

// ---------------------------------------------------------------- report

fn us(d: Duration) -> String {
    format!("{:.0} us", d.as_secs_f64() * 1e6)
}

fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms >= 1000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else {
        format!("{ms:.2} ms")
    }
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn print_pair(clients: usize, turns: usize, open: &LoadReport, base: &LoadReport) {
    println!("\nweb_load: {clients} connections x {turns} turns");
    println!(
        "  {:<36} {:>18} {:>18} {:>8}",
        "", "openpista", "baseline", "ratio"
    );
    let row = |what: &str, a: String, b: String, ratio: Option<f64>| {
        let ratio = match ratio {
            Some(r) if r < 0.1 => format!("{r:.4}x"),
            Some(r) => format!("{r:.2}x"),
            None => String::new(),
        };
        println!("  {what:<36} {a:>18} {b:>18} {ratio:>8}");
    };
    let count = |r: &LoadReport, n: usize| format!("{n}/{}", r.clients);
    row(
        "connections held (opened)",
        format!("{} ({})", count(open, open.held), open.connected),
        format!("{} ({})", count(base, base.held), base.connected),
        None,
    );
    row(
        "turns answered",
        format!("{}/{}", open.answered, open.planned),
        format!("{}/{}", base.answered, base.planned),
        None,
    );
    row(
        "DROPPED (sent, no final answer)",
        open.dropped().to_string(),
        base.dropped().to_string(),
        None,
    );
    row(
        "messages/s (turns / wall time)",
        format!("{:.0}", open.msgs_per_sec()),
        format!("{:.0}", base.msgs_per_sec()),
        Some(open.msgs_per_sec() / base.msgs_per_sec()),
    );
    row(
        "wall time of the turns",
        ms(open.wall),
        ms(base.wall),
        Some(open.wall.as_secs_f64() / base.wall.as_secs_f64()),
    );
    for (name, p) in [("p50", 0.50), ("p95", 0.95), ("p99", 0.99), ("max", 1.0)] {
        let (a, b) = (open.percentile(p), base.percentile(p));
        row(
            &format!("turn latency {name}"),
            ms(a),
            ms(b),
            Some(a.as_secs_f64() / b.as_secs_f64().max(1e-9)),
        );
    }
    let cores = |cpu: Duration, r: &LoadReport| cpu.as_secs_f64() / r.wall.as_secs_f64();
    row(
        "server CPU during the turns, cores",
        format!("{:.2}", cores(open.server_cpu, open)),
        format!("{:.2}", cores(base.server_cpu, base)),
        None,
    );
    row(
        "server CPU per turn",
        format!(
            "{:.0} us",
            open.server_cpu.as_secs_f64() * 1e6 / open.answered.max(1) as f64
        ),
        format!(
            "{:.0} us",
            base.server_cpu.as_secs_f64() * 1e6 / base.answered.max(1) as f64
        ),
        None,
    );
    row(
        "clients' CPU during the turns, cores",
        format!("{:.2}", cores(open.client_cpu, open)),
        format!("{:.2}", cores(base.client_cpu, base)),
        None,
    );
    row(
        "frames received per turn",
        format!("{:.1}", open.turn_frames as f64 / open.sent.max(1) as f64),
        format!("{:.1}", base.turn_frames as f64 / base.sent.max(1) as f64),
        None,
    );
    row(
        "opening all connections",
        ms(open.connect_all),
        ms(base.connect_all),
        None,
    );
    row(
        "server RSS before connections",
        mib(open.rss_idle_kib),
        mib(base.rss_idle_kib),
        None,
    );
    row(
        "server RSS, all connected",
        mib(open.rss_connected_kib),
        mib(base.rss_connected_kib),
        None,
    );
    row(
        "server RSS, held after the turns",
        mib(open.rss_held_kib),
        mib(base.rss_held_kib),
        Some(open.rss_held_kib as f64 / base.rss_held_kib as f64),
    );
    let per_conn = |r: &LoadReport| {
        (r.rss_held_kib.saturating_sub(r.rss_idle_kib)) as f64 / r.clients.max(1) as f64
    };
    row(
        "RSS growth per connection",
        format!("{:.1} KiB", per_conn(open)),
        format!("{:.1} KiB", per_conn(base)),
        None,
    );
}

/// The median time to write 4 KiB and `fdatasync` it in `dir`: the least
/// one durable commit of the memory store there waits for. Only openpista
/// writes to disk, so this is the baseline for the part of its turns the
/// echo server's baseline cannot stand for.
fn fsync_median(dir: &Path, rounds: usize) -> Duration {
    use std::os::unix::fs::FileExt;
    let path = dir.join("fsync-probe");
    let file = std::fs::File::create(&path).unwrap();
    let block = [7u8; 4096];
    let mut times: Vec<Duration> = (0..rounds)
        .map(|i| {
            let started = Instant::now();
            file.write_all_at(&block, (i % 16 * 4096) as u64).unwrap();
            file.sync_data().unwrap();
            started.elapsed()
        })
        .collect();
    drop(file);
    let _ = std::fs::remove_file(&path);
    times.sort();
    times[times.len() / 2]
}

/// Room for every client socket and the server's end of it, in this
/// process and (inherited) in the servers.
fn raise_fd_limit(needed: u64) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    if limit.rlim_cur >= needed {
        return;
    }
    let wanted = needed.min(limit.rlim_max);
    limit.rlim_cur = wanted;
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 || wanted < needed {
        eprintln!(
            "web_load: could only raise the open-file limit to {wanted} (need {needed}); \
             connections may fail"
        );
    }
}

fn main() {
    if std::env::var_os(BASELINE_ENV).is_some() {
        baseline_server();
        return;
    }
    let full = std::env::args().any(|a| a == "--bench");
    let (mut loads, mut turns, turn_timeout): (Vec<usize>, usize, Duration) = if full {
        (vec![200, 1000], 20, Duration::from_secs(120))
    } else {
        (vec![20], 3, Duration::from_secs(30))
    };
    // `OPENPISTA_WEB_LOAD_SIZES=1000` runs only that load (for profiling
    // one size under `perf record`).
    if let Ok(sizes) = std::env::var("OPENPISTA_WEB_LOAD_SIZES") {
        loads = sizes
            .split(',')
            .map(|n| {
                n.trim()
                    .parse()
                    .expect("OPENPISTA_WEB_LOAD_SIZES: numbers, comma-separated")
            })
            .collect();
    }
    // `OPENPISTA_WEB_LOAD_TURNS=10`: turns per connection (cluster_scale.sh).
    if let Ok(n) = std::env::var("OPENPISTA_WEB_LOAD_TURNS") {
        turns = n
            .trim()
            .parse()
            .expect("OPENPISTA_WEB_LOAD_TURNS: a number");
    }
    let most = loads.iter().copied().max().unwrap() as u64;
    raise_fd_limit(2 * most + 512);

    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let mut failed = false;
    for (round, &clients) in loads.iter().enumerate() {
        let home = dir.path().join(format!("home-{round}"));
        let openpista = start_openpista(&home, &cache);
        let fsync_before = fsync_median(&home, 100);
        let open = tokio.block_on(run_load(
            Kind::Openpista,
            &openpista,
            clients,
            turns,
            turn_timeout,
        ));
        let open_log = openpista.log_tail();
        drop(openpista);
        let fsync_after = fsync_median(&home, 100);

        let baseline = start_baseline();
        let base = tokio.block_on(run_load(
            Kind::Baseline,
            &baseline,
            clients,
            turns,
            turn_timeout,
        ));
        drop(baseline);

        print_pair(clients, turns, &open, &base);
        println!(
            "  disk where the store is: 4 KiB write + fdatasync, median {} before the \
             openpista load, {} after\n  (each openpista turn waits for two durable \
             appends; concurrent sessions' appends share one commit and one fsync)",
            us(fsync_before),
            us(fsync_after),
        );
        for (name, report) in [("openpista", &open), ("baseline", &base)] {
            if !report.ok() {
                failed = true;
                println!(
                    "  FAILED ({name}): {} error(s); the first ones:",
                    report.errors.len()
                );
                for e in report.errors.iter().take(10) {
                    println!("    {e}");
                }
                if name == "openpista" && !open_log.is_empty() {
                    println!("  openpista serve's log, last lines:\n{open_log}");
                }
            }
        }
    }
    if failed {
        drop(dir);
        std::process::exit(1);
    }
}
