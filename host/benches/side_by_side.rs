//! openpista beside a native-Rust peer agent without a sandbox, in the
//! same run, on the same machine, as a table of ratios (openpista /
//! baseline):
//!
//! 1. `serve` start to ready with a warm compile cache (median of N
//!    rounds): spawn to the ready line on stdout;
//! 2. idle resident memory (VmRSS) 300 ms after ready, with the default
//!    configuration (echo provider, the web channel on, on 127.0.0.1:0);
//! 3. one `openpista run -e PROMPT` turn against a fake OpenAI-compatible
//!    model server in this process (POST /v1/chat/completions, streamed
//!    SSE or whole JSON, answered by simple rules on the last user
//!    message): the whole process's CPU time (user + sys) and peak memory
//!    (ru_maxrss), from `wait4`, and its wall time. openpista talks to it
//!    through `[providers.main]` preset "custom", `base_url` the server's
//!    `http://127.0.0.1:PORT/v1`, the key from `api_key_env`.
//!
//! The baseline is this binary re-executed with
//! `OPENPISTA_SIDE_BASELINE=serve|run`: in `serve` a tokio multi-thread
//! runtime opens a redb file, binds a hyper HTTP listener on 127.0.0.1:0,
//! says ready and idles; in `run` it opens the redb store, appends the user
//! message durably, streams the same kind of request (system prompt, the
//! history, two tool specs) to the same fake server over hyper's HTTP/1.1
//! client, parses the SSE, stores the answer durably and prints it: the
//! same job with no WebAssembly in between. Everything lives in a temporary
//! folder; every port is chosen by the kernel. Report: BENCHMARKS.md.
//!
//! cargo bench -p openpista --bench side_by_side
//!
//! Under `cargo test` it runs one round of each as a smoke test.
//! Either way it exits non-zero when an answer is not the fake server's, a
//! process fails, or a web listener does not answer: a correctness check,
//! never a timing one.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use redb::{Database, ReadableTable, TableDefinition};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_openpista");
/// Set on the re-executed bench binary: `serve` or `run`.
const BASELINE_ENV: &str = "OPENPISTA_SIDE_BASELINE";
/// The baseline's data folder and the fake model server's address.
const DIR_ENV: &str = "OPENPISTA_SIDE_DIR";
const ADDR_ENV: &str = "OPENPISTA_SIDE_ADDR";
const KEY_ENV: &str = "OPENPISTA_SIDE_KEY";
const KEY: &str = "sk-side-by-side-0123456789";
const MODEL: &str = "gpt-side";
const PROMPT: &str = "What is the capital of France?";
const ANSWER: &str = "The capital of France is Paris.";
/// How long a server idles after ready before its RSS is read.
const IDLE: Duration = Duration::from_millis(300);
const SYSTEM: &str = "You are a helpful assistant on the user's computer. \
                      Use the tools when they help; answer briefly.";
const MESSAGES: TableDefinition<(&str, u64), &str> = TableDefinition::new("messages");

// ------------------------------------------------------ the fake model server

/// What the fake server saw: requests it refused, and the size of the
/// last chat request (body bytes, tool specs) for the report.
#[derive(Default)]
struct FakeState {
    errors: Mutex<Vec<String>>,
    last_request: Mutex<(usize, usize)>,
}

/// Starts the fake OpenAI-compatible server on 127.0.0.1:0 (a thread per
/// connection, keep-alive honoured).
fn start_fake_model() -> (SocketAddr, Arc<FakeState>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let state = Arc::new(FakeState::default());
    let shared = state.clone();
    std::thread::spawn(move || {
        for tcp in listener.incoming().map_while(Result::ok) {
            let state = shared.clone();
            std::thread::spawn(move || {
                let _ = serve_connection(tcp, &state);
            });
        }
    });
    (addr, state)
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn serve_connection(tcp: TcpStream, state: &FakeState) -> std::io::Result<()> {
    tcp.set_read_timeout(Some(Duration::from_secs(120)))?;
    let mut reader = BufReader::new(tcp.try_clone()?);
    let mut out = tcp;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            reader.read_line(&mut h)?;
            let Some((k, v)) = h.trim_end().split_once(':') else {
                break; // the empty line
            };
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
        // Requests from openpista's SDK and from the baseline carry a length.
        let n = header(&headers, "content-length").map_or(0, |v| v.parse().unwrap_or(0));
        let mut body = vec![0; n];
        reader.read_exact(&mut body)?;
        answer(&mut out, state, &line, &headers, &body)?;
        if header(&headers, "connection").is_some_and(|v| v.eq_ignore_ascii_case("close")) {
            return Ok(());
        }
    }
}

fn write_whole(out: &mut TcpStream, status: &str, body: &Value) -> std::io::Result<()> {
    let body = body.to_string();
    let length = body.len();
    let head = format!("HTTP/1.1 {status}\r\ncontent-type: application/json\r\n");
    write!(out, "{head}content-length: {length}\r\n\r\n{body}")?;
    out.flush()
}

fn answer(
    out: &mut TcpStream,
    state: &FakeState,
    request_line: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> std::io::Result<()> {
    let mut refuse = |status: &str, why: &str| {
        let error = format!("fake model: {}: {why}", request_line.trim());
        state.errors.lock().unwrap().push(error);
        let body = json!({"error": {"message": why, "type": "invalid_request_error"}});
        write_whole(out, status, &body)
    };
    if !request_line.starts_with("POST /v1/chat/completions ") {
        return refuse("404 Not Found", "no such route");
    }
    if header(headers, "authorization") != Some(format!("Bearer {KEY}").as_str()) {
        return refuse("401 Unauthorized", "Incorrect API key provided");
    }
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return refuse("400 Bad Request", "the body is not JSON");
    };
    let tools = request["tools"].as_array().map_or(0, Vec::len);
    *state.last_request.lock().unwrap() = (body.len(), tools);
    let text = rule_answer(&last_user_text(&request));
    let head = |object: &str| {
        let model = request["model"].as_str().unwrap_or(MODEL);
        json!({"id": "chatcmpl-side", "object": object, "created": 1_700_000_000, "model": model})
    };
    let usage = json!({"prompt_tokens": 20, "completion_tokens": 7, "total_tokens": 27});
    if request["stream"].as_bool() != Some(true) {
        let mut whole = head("chat.completion");
        let message = json!({"role": "assistant", "content": text});
        whole["choices"] = json!([{"index": 0, "message": message, "finish_reason": "stop"}]);
        whole["usage"] = usage;
        return write_whole(out, "200 OK", &whole);
    }
    let chunk = |delta: Value, finish: Option<&str>| {
        let mut chunk = head("chat.completion.chunk");
        chunk["choices"] = json!([{"index": 0, "delta": delta, "finish_reason": finish}]);
        chunk.to_string()
    };
    let mut events = vec![chunk(json!({"role": "assistant", "content": ""}), None)];
    for piece in text.split_inclusive(' ') {
        events.push(chunk(json!({"content": piece}), None));
    }
    events.push(chunk(json!({}), Some("stop")));
    if request["stream_options"]["include_usage"].as_bool() == Some(true) {
        let mut last = head("chat.completion.chunk");
        last["choices"] = json!([]);
        last["usage"] = usage;
        events.push(last.to_string());
    }
    events.push("[DONE]".into());
    out.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n")?;
    out.write_all(b"cache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n")?;
    for event in events {
        let data = format!("data: {event}\n\n");
        write!(out, "{:x}\r\n{data}\r\n", data.len())?;
        out.flush()?;
    }
    out.write_all(b"0\r\n\r\n")?;
    out.flush()
}

/// The text of the last user message (a string, or text parts).
fn last_user_text(request: &Value) -> String {
    let (empty, messages) = (Vec::new(), &request["messages"]);
    let messages = messages.as_array().unwrap_or(&empty);
    let Some(last) = messages.iter().rev().find(|m| m["role"] == "user") else {
        return String::new();
    };
    match &last["content"] {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts.iter().filter_map(|p| p["text"].as_str()).collect(),
        _ => String::new(),
    }
}

fn rule_answer(text: &str) -> String {
    let lower = text.to_lowercase();
    if lower.contains("capital of france") {
        ANSWER.into()
    } else if lower.contains("2+2") || lower.contains("2 + 2") {
        "2 + 2 = 4.".into()
    } else {
        format!("You said: {}", text.trim())
    }
}

// ------------------------------------------------------------- the baseline

/// `serve`: what a minimal native agent does at start, then idle.
fn baseline_serve(dir: &Path) {
    runtime().block_on(async {
        let db = Database::create(dir.join("baseline-serve.redb")).expect("open the redb store");
        let txn = db.begin_write().unwrap();
        txn.open_table(MESSAGES).unwrap();
        txn.commit().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        println!("baseline ready: web on http://{addr}/");
        std::io::stdout().flush().unwrap();
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let service = hyper::service::service_fn(|_: hyper::Request<Incoming>| async {
                let ok = Full::new(Bytes::from_static(b"ok\n"));
                Ok::<_, std::convert::Infallible>(hyper::Response::new(ok))
            });
            let http = hyper::server::conn::http1::Builder::new();
            tokio::spawn(http.serve_connection(TokioIo::new(tcp), service));
        }
    });
}

fn runtime() -> tokio::runtime::Runtime {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all().build().unwrap()
}

/// Appends `message` to `session` in one durable commit; returns the
/// session's messages, this one last.
fn append(db: &Database, session: &str, message: &Value) -> Vec<Value> {
    let txn = db.begin_write().unwrap();
    let history = {
        let mut table = txn.open_table(MESSAGES).unwrap();
        let mut history: Vec<Value> = table
            .range((session, 0)..=(session, u64::MAX))
            .unwrap()
            .map(|entry| serde_json::from_str(entry.unwrap().1.value()).unwrap())
            .collect();
        let (seq, text) = (history.len() as u64, message.to_string());
        table.insert((session, seq), text.as_str()).unwrap();
        history.push(message.clone());
        history
    };
    txn.commit().unwrap();
    history
}

fn tool_specs() -> Value {
    json!([
        {"type": "function", "function": {"name": "time_now", "description": "The current time.",
            "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}}}},
        {"type": "function", "function": {"name": "text_stats", "description": "Counts words.",
            "parameters": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}}},
    ])
}

/// Streams one chat completion from `addr` and returns its text.
async fn stream_chat(addr: &str, body: Value) -> String {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let _ = tcp.set_nodelay(true);
    let handshake = hyper::client::conn::http1::handshake(TokioIo::new(tcp));
    let (mut sender, connection) = handshake.await.unwrap();
    tokio::spawn(connection);
    let key = std::env::var(KEY_ENV).unwrap();
    let request = hyper::Request::builder()
        .method("POST")
        .uri("/v1/chat/completions")
        .header("host", addr)
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json")
        .header("accept", "text/event-stream")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap();
    let mut response = sender.send_request(request).await.unwrap();
    let status = response.status();
    assert!(status.is_success(), "the model server answered {status}");
    let (mut pending, mut answer) = (Vec::<u8>::new(), String::new());
    'read: while let Some(frame) = response.body_mut().frame().await {
        let frame = frame.expect("the answer's stream");
        let Some(data) = frame.data_ref() else {
            continue;
        };
        pending.extend_from_slice(data);
        while let Some(end) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line);
            let Some(data) = line.trim().strip_prefix("data:") else {
                continue;
            };
            if data.trim() == "[DONE]" {
                break 'read;
            }
            let event: Value = serde_json::from_str(data.trim()).expect("an SSE event in JSON");
            if let Some(text) = event["choices"][0]["delta"]["content"].as_str() {
                answer.push_str(text);
            }
        }
    }
    answer
}

/// `run PROMPT SESSION`: one turn, the way a native agent would do it.
fn baseline_run(dir: &Path, prompt: &str, session: &str) {
    let addr = std::env::var(ADDR_ENV).expect("the model server's address");
    let answer = runtime().block_on(async {
        let db = Database::create(dir.join("baseline.redb")).expect("open the redb store");
        let history = append(&db, session, &json!({"role": "user", "content": prompt}));
        let mut messages = vec![json!({"role": "system", "content": SYSTEM})];
        messages.extend(history);
        let body = json!({
            "model": MODEL, "stream": true, "stream_options": {"include_usage": true},
            "messages": messages, "tools": tool_specs(),
        });
        let answer = stream_chat(&addr, body).await;
        let reply = json!({"role": "assistant", "content": answer});
        append(&db, session, &reply);
        answer
    });
    println!("{answer}");
}

// ------------------------------------------------------------ measuring

struct Setup {
    home: PathBuf,
    workspace: PathBuf,
    baseline_dir: PathBuf,
    run_config: PathBuf,
    logs: PathBuf,
    model: SocketAddr,
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Openpista,
    Baseline,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Openpista => "openpista",
            Kind::Baseline => "baseline",
        }
    }
}

/// The command for `kind`, isolated in the temporary folder.
fn command(s: &Setup, kind: Kind) -> Command {
    let mut c = Command::new(match kind {
        // `OPENPISTA_SIDE_BIN` measures another build (an earlier
        // commit's, for a before/after in one run).
        Kind::Openpista => {
            std::env::var_os("OPENPISTA_SIDE_BIN").map_or_else(|| PathBuf::from(BIN), PathBuf::from)
        }
        Kind::Baseline => std::env::current_exe().unwrap(),
    });
    c.env_remove("OPENPISTA_CONFIG")
        .env("OPENPISTA_HOME", &s.home)
        .env("OPENPISTA_WORKSPACE", &s.workspace)
        .env("OPENPISTA_LISTEN", "127.0.0.1:0")
        .env("OPENPISTA_LOG", "error")
        .env(DIR_ENV, &s.baseline_dir)
        .env(ADDR_ENV, s.model.to_string())
        .env(KEY_ENV, KEY)
        .current_dir(&s.workspace)
        .stdin(Stdio::null());
    c
}

fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// A `/proc/PID/status` memory figure (`VmRSS`, `RssAnon`) in KiB.
fn status_kib(pid: u32, field: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

/// SIGTERM, then SIGKILL after 10 s.
fn stop(child: &mut Child) {
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < until {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// `GET path` on `addr`: the whole response.
fn http_get(addr: SocketAddr, path: &str) -> std::io::Result<String> {
    let mut tcp = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    tcp.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(tcp, "GET {path} HTTP/1.1\r\nHost: {addr}\r\n")?;
    write!(tcp, "Connection: close\r\n\r\n")?;
    let mut response = String::new();
    tcp.read_to_string(&mut response)?;
    Ok(response)
}

/// One round's figures: seconds and KiB. A serve round fills `ready` and
/// `idle_rss`, a run round the rest.
#[derive(Default, Clone, Copy)]
struct Figures {
    ready: f64,
    idle_rss: f64,
    /// The private part of `idle_rss` (`RssAnon`): the rest is the
    /// binary's and libraries' pages, shared with the page cache.
    idle_anon: f64,
    wall: f64,
    user: f64,
    sys: f64,
    peak_rss: f64,
}

/// Starts a server, times it to its ready line, reads its RSS after
/// [`IDLE`], checks that its web listener answers, stops it.
fn serve_once(s: &Setup, kind: Kind, errors: &mut Vec<String>) -> Option<Figures> {
    let (name, log) = (kind.name(), s.logs.join("serve.log"));
    let mut cmd = command(s, kind);
    match kind {
        Kind::Openpista => cmd.arg("serve"),
        Kind::Baseline => cmd.env(BASELINE_ENV, "serve"),
    };
    cmd.stdout(Stdio::piped());
    cmd.stderr(std::fs::File::create(&log).unwrap());
    let started = Instant::now();
    let mut child = cmd.spawn().expect("spawn the server");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().and_then(Result::ok).unwrap_or_default();
    let ready = started.elapsed().as_secs_f64();
    let (tx, rx) = mpsc::channel();
    let drain = std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut result = None;
    if first.starts_with(&format!("{name} ready")) {
        std::thread::sleep(IDLE);
        let (idle_rss, idle_anon) = (
            status_kib(child.id(), "VmRSS"),
            status_kib(child.id(), "RssAnon"),
        );
        // openpista says where the web page is on a later line.
        let mut url_line = (kind == Kind::Baseline).then(|| first.clone());
        let until = Instant::now() + Duration::from_secs(10);
        while url_line.is_none() && Instant::now() < until {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(l) if l.starts_with("web chat: ") => url_line = Some(l),
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
                _ => {}
            }
        }
        let addr = url_line.as_deref().and_then(|l| {
            let after = l.split("http://").nth(1)?;
            after.split('/').next()?.parse::<SocketAddr>().ok()
        });
        let (path, needle) = match kind {
            Kind::Openpista => ("/health", "\"web\""),
            Kind::Baseline => ("/", "ok"),
        };
        match addr.map(|a| http_get(a, path)) {
            Some(Ok(r)) if r.starts_with("HTTP/1.1 200") && r.contains(needle) => {
                result = Some(Figures {
                    ready,
                    idle_rss,
                    idle_anon,
                    ..Figures::default()
                });
            }
            Some(r) => errors.push(format!("{name} serve: GET {path} answered {r:?}")),
            None => errors.push(format!("{name} serve: no web listener announced")),
        }
    } else {
        errors.push(format!("{name} serve said {first:?}:\n{}", log_tail(&log)));
    }
    stop(&mut child);
    let _ = drain.join();
    result
}

fn seconds(t: libc::timeval) -> f64 {
    t.tv_sec as f64 + t.tv_usec as f64 / 1e6
}

/// One turn; its resource use from `wait4`, its answer checked.
// The child is reaped by `libc::wait4`, which clippy does not see.
#[allow(clippy::zombie_processes)]
fn run_once(s: &Setup, kind: Kind, session: &str, errors: &mut Vec<String>) -> Option<Figures> {
    let (name, log) = (kind.name(), s.logs.join("run.log"));
    let mut cmd = command(s, kind);
    match kind {
        Kind::Openpista => cmd.arg("--config").arg(&s.run_config),
        Kind::Baseline => cmd.env(BASELINE_ENV, "run"),
    };
    match kind {
        Kind::Openpista => cmd.args(["run", "-e", PROMPT, "-s", session]),
        Kind::Baseline => cmd.args([PROMPT, session]),
    };
    cmd.stdout(Stdio::piped());
    cmd.stderr(std::fs::File::create(&log).unwrap());
    let started = Instant::now();
    let mut child = cmd.spawn().expect("spawn the turn");
    let mut out = String::new();
    let _ = child.stdout.take().unwrap().read_to_string(&mut out);
    let (mut status, mut usage) = (0, unsafe { std::mem::zeroed::<libc::rusage>() });
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    let wall = started.elapsed().as_secs_f64();
    assert_eq!(pid, child.id() as i32, "wait4");
    if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        let tail = log_tail(&log);
        errors.push(format!("{name} run failed (wait status {status}):\n{tail}"));
        return None;
    }
    if out.trim() != ANSWER {
        let tail = log_tail(&log);
        errors.push(format!(
            "{name} run printed {out:?}, not {ANSWER:?}:\n{tail}"
        ));
        return None;
    }
    Some(Figures {
        wall,
        user: seconds(usage.ru_utime),
        sys: seconds(usage.ru_stime),
        peak_rss: usage.ru_maxrss as f64,
        ..Figures::default()
    })
}

// ---------------------------------------------------------------- report

fn median(rounds: &[Figures], field: fn(&Figures) -> f64) -> f64 {
    let mut v: Vec<f64> = rounds.iter().map(field).collect();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Seconds as milliseconds, or KiB as MiB.
fn show(x: f64, memory: bool) -> String {
    match memory {
        true => format!("{:.1} MiB", x / 1024.0),
        false => format!("{:.1} ms", x * 1000.0),
    }
}

fn row(what: &str, a: String, b: String, ratio: String) {
    println!("  {what:<40} {a:>18} {b:>18} {ratio:>9}");
}

type Line = (&'static str, bool, fn(&Figures) -> f64, bool);

/// The table: label, from the serve rounds (else the run rounds), the
/// figure, whether it is memory.
const TABLE: [Line; 8] = [
    ("serve: start to ready", true, |f| f.ready, false),
    ("serve: idle RSS, web on", true, |f| f.idle_rss, true),
    (
        "serve:   of which private (RssAnon)",
        true,
        |f| f.idle_anon,
        true,
    ),
    ("run: one turn, wall time", false, |f| f.wall, false),
    ("run: CPU, user + sys", false, |f| f.user + f.sys, false),
    ("run:   of which user", false, |f| f.user, false),
    ("run:   of which sys", false, |f| f.sys, false),
    ("run: peak RSS (ru_maxrss)", false, |f| f.peak_rss, true),
];

fn main() {
    if let Ok(mode) = std::env::var(BASELINE_ENV) {
        let dir = PathBuf::from(std::env::var_os(DIR_ENV).expect("OPENPISTA_SIDE_DIR"));
        let args: Vec<String> = std::env::args().collect();
        match mode.as_str() {
            "serve" => baseline_serve(&dir),
            "run" => baseline_run(&dir, &args[1], &args[2]),
            other => panic!("{BASELINE_ENV}={other}: serve or run"),
        }
        return;
    }
    let full = std::env::args().any(|a| a == "--bench");
    let (serve_rounds, run_rounds) = if full { (20, 10) } else { (1, 1) };
    let dir = tempfile::tempdir().unwrap();
    let (model, fake) = start_fake_model();
    let s = Setup {
        home: dir.path().join("home"),
        workspace: dir.path().join("workspace"),
        baseline_dir: dir.path().join("baseline"),
        run_config: dir.path().join("run.toml"),
        logs: dir.path().join("logs"),
        model,
    };
    for d in [&s.home, &s.workspace, &s.baseline_dir, &s.logs] {
        std::fs::create_dir_all(d).unwrap();
    }
    // `serve` runs on the default configuration (no file in the home);
    // `run` reads this one, which only points a provider at the fake.
    let provider = format!(
        "[providers.main]\npreset = \"custom\"\nbase_url = \"http://{model}/v1\"\n\
         model = \"{MODEL}\"\napi_key_env = \"{KEY_ENV}\"\n"
    );
    let config = format!("[agent]\nprovider = \"main\"\n\n{provider}");
    std::fs::write(&s.run_config, config).unwrap();
    // Private from the start, as openpista would make them on first use.
    use std::os::unix::fs::PermissionsExt;
    for (path, mode) in [(&s.run_config, 0o600), (&s.home, 0o700)] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let mut errors = Vec::new();

    // The first start, on an empty compile cache: it compiles only what the
    // binary does not carry precompiled (all of it when built with
    // OPENPISTA_PRECOMPILE=0), and fills the cache for the rounds below.
    let log = s.logs.join("warm.log");
    let started = Instant::now();
    let warm = command(&s, Kind::Openpista)
        .args(["serve", "--exit-when-ready"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .status()
        .unwrap();
    let cold = started.elapsed().as_secs_f64();
    let tail = log_tail(&log);
    assert!(warm.success(), "serve --exit-when-ready failed:\n{tail}");

    // Rounds alternate, so that a noisy spell falls on both sides.
    let (mut serve, mut run) = ([Vec::new(), Vec::new()], [Vec::new(), Vec::new()]);
    let kinds = [Kind::Openpista, Kind::Baseline];
    for _ in 0..serve_rounds {
        for (i, kind) in kinds.into_iter().enumerate() {
            serve[i].extend(serve_once(&s, kind, &mut errors));
        }
    }
    // One turn each, unmeasured, first.
    let mut sent = [(0, 0); 2];
    for round in 0..=run_rounds {
        let session = format!("bench:round-{round}");
        for (i, kind) in kinds.into_iter().enumerate() {
            let figures = run_once(&s, kind, &session, &mut errors);
            if round > 0 {
                run[i].extend(figures);
            }
            sent[i] = *fake.last_request.lock().unwrap();
        }
    }
    errors.extend(fake.errors.lock().unwrap().drain(..));

    println!(
        "\nside_by_side: openpista vs a native-Rust agent without a sandbox \
         ({serve_rounds} serve rounds, {run_rounds} run rounds; medians)"
    );
    let cold = show(cold, false);
    println!("  serve: warm cache; idle RSS read {IDLE:?} after ready");
    println!("  first `serve` start, empty compile cache: {cold}");
    row("", "openpista".into(), "baseline".into(), "ratio".into());
    for (what, from_serve, field, memory) in TABLE {
        let [open, base] = if from_serve { &serve } else { &run };
        if open.is_empty() || base.is_empty() {
            continue;
        }
        let (a, b) = (median(open, field), median(base, field));
        // No ratio to a figure below the clock's resolution (sys time).
        let ratio = match b > 0.0 {
            true => format!("{:.2}x", a / b),
            false => String::new(),
        };
        row(what, show(a, memory), show(b, memory), ratio);
    }
    let request = |(bytes, tools): (usize, usize)| format!("{bytes} B, {tools} tools");
    let (a, b) = (request(sent[0]), request(sent[1]));
    row("run: request sent to the model", a, b, String::new());

    if !errors.is_empty() {
        println!("  FAILED: {} error(s):", errors.len());
        for e in &errors {
            println!("    {e}");
        }
        drop(dir);
        std::process::exit(1);
    }
}
