//! The split into edges and workers, as separate `serve` processes on one
//! NATS server: web sessions answered once and in order through two
//! edges and three workers, across a restart of the server; a worker
//! killed with SIGKILL in the middle of turns, its partitions taken over
//! and its turns redone, every answer delivered once.

use super::{DEADLINE, Node, server_and_watcher};
use futures::{SinkExt, StreamExt};
use openpista::cluster::Cluster;
use openpista_tests::doubles::http1::{self, Answer, Recorded};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::http::header::SEC_WEBSOCKET_PROTOCOL;

const WEB_TOKEN: &str = "cluster-scale-web-token";
const PARTITIONS: usize = 16;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An edge: the web channel on `port` (its token stored in the node's
/// home), the echo provider it never calls.
fn edge_config(port: u16) -> impl Fn(&Path) -> String {
    move |dir| {
        std::fs::create_dir_all(dir.join("home")).unwrap();
        std::fs::write(dir.join("home/web-token"), WEB_TOKEN).unwrap();
        let d = dir.display();
        format!(
            "[agent]\nprovider = \"echo\"\n[runtime]\nplugin_dirs = []\ncache_dir = \"{d}/cache\"\n\
             [memory]\npath = \"{d}/memory.redb\"\n[server]\nlisten = \"127.0.0.1:{port}\"\n\
             [channels.web]\nenabled = true\n"
        )
    }
}

/// A worker: no listener, no channel; `agent` names its provider.
fn worker_config(agent: String) -> impl Fn(&Path) -> String {
    move |dir| {
        let d = dir.display();
        format!(
            "{agent}[runtime]\nplugin_dirs = []\ncache_dir = \"{d}/cache\"\n\
             [memory]\npath = \"{d}/memory.redb\"\n[server]\nenabled = false\n\
             [channels.web]\nenabled = false\n"
        )
    }
}

fn echo_agent() -> String {
    "[agent]\nprovider = \"echo\"\n".into()
}

/// Waits until every partition is owned by one of `workers` and none
/// owns more than its share; returns the owners.
async fn balanced(watcher: &Cluster, workers: &[&str]) -> BTreeMap<String, usize> {
    let share = PARTITIONS.div_ceil(workers.len());
    let deadline = Instant::now() + DEADLINE * 2;
    loop {
        let status = openpista::cluster::nodes::status(watcher).await.unwrap();
        let mut owners = BTreeMap::new();
        for p in &status.partitions {
            if let Some(owner) = &p.owner {
                *owners.entry(owner.clone()).or_insert(0) += 1;
            }
        }
        let all_owned = status.partitions.len() == PARTITIONS
            && owners.values().sum::<usize>() == PARTITIONS
            && owners.keys().all(|o| workers.contains(&o.as_str()));
        if all_owned && owners.len() == workers.len() && owners.values().all(|&n| n <= share) {
            return owners;
        }
        assert!(
            Instant::now() < deadline,
            "the partitions never spread over {workers:?}: {owners:?} ({} listed)",
            status.partitions.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

type Ws = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

/// One browser of the web channel, as `docs/WEB_PROTOCOL.md` has it.
struct Browser {
    id: String,
    ws: Ws,
}

impl Browser {
    async fn open(addr: SocketAddr, id: &str) -> Browser {
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut request = format!("ws://{addr}/ws?client={id}")
            .into_client_request()
            .unwrap();
        request.headers_mut().insert(
            SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_str(&format!("openpista, token.{WEB_TOKEN}")).unwrap(),
        );
        let (ws, _) = tokio_tungstenite::client_async(request, tcp).await.unwrap();
        let mut browser = Browser { id: id.into(), ws };
        browser.send(json!({"type": "ping", "t": 0})).await;
        let ready = browser.next_frame().await;
        assert_eq!(ready["type"], "ready", "{id}: {ready}");
        browser
    }

    async fn send(&mut self, frame: Value) {
        self.ws
            .send(Message::Text(frame.to_string().into()))
            .await
            .unwrap();
    }

    async fn say(&mut self, k: usize) {
        let text = self.text(k);
        self.send(json!({"type": "message", "id": format!("m{k}"), "text": text}))
            .await;
    }

    fn text(&self, k: usize) -> String {
        format!("turn {k} of {}", self.id)
    }

    async fn next_frame(&mut self) -> Value {
        let deadline = tokio::time::Instant::now() + DEADLINE * 2;
        loop {
            let message = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .unwrap_or_else(|_| panic!("{}: nothing came", self.id));
            match message {
                Some(Ok(Message::Text(t))) => return serde_json::from_str(&t).unwrap(),
                Some(Ok(_)) => continue,
                other => panic!("{}: connection ended: {other:?}", self.id),
            }
        }
    }

    /// The text of the next answer (`message` frame).
    async fn answer(&mut self) -> String {
        loop {
            let frame = self.next_frame().await;
            if frame["type"] == "message" {
                assert_ne!(frame["error"], json!(true), "{}: {frame}", self.id);
                return frame["text"].as_str().unwrap().to_string();
            }
        }
    }
}

/// `browsers` each say turns `from..to` at once, then read the answers:
/// every one must come once, in the order said.
async fn round(
    browsers: Vec<Browser>,
    from: usize,
    to: usize,
    expect: fn(&str) -> String,
) -> Vec<Browser> {
    round_with(browsers, from, to, expect, || {}).await
}

/// [`round`], calling `meanwhile` once everything is said and before the
/// answers are read.
async fn round_with(
    browsers: Vec<Browser>,
    from: usize,
    to: usize,
    expect: fn(&str) -> String,
    meanwhile: impl FnOnce(),
) -> Vec<Browser> {
    let said = Arc::new(tokio::sync::Barrier::new(browsers.len() + 1));
    let tasks: Vec<_> = browsers
        .into_iter()
        .map(|mut b| {
            let said = said.clone();
            tokio::spawn(async move {
                for k in from..to {
                    b.say(k).await;
                }
                said.wait().await;
                for k in from..to {
                    let got = b.answer().await;
                    assert_eq!(
                        got,
                        expect(&b.text(k)),
                        "{}: answer {k} of {from}..{to}",
                        b.id
                    );
                }
                b
            })
        })
        .collect();
    said.wait().await;
    meanwhile();
    let mut out = Vec::new();
    for task in tasks {
        out.push(task.await.unwrap());
    }
    out
}

fn echoed(text: &str) -> String {
    format!("echo: {text}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_edges_and_three_workers_answer_200_sessions_once_in_order_across_a_server_restart() {
    let root = tempfile::tempdir().unwrap();
    let Some((mut server, watcher)) = server_and_watcher(root.path()).await else {
        return;
    };
    let url = server.url();
    let workers: Vec<Node> = ["worker-1", "worker-2", "worker-3"]
        .iter()
        .map(|name| {
            Node::start_as(
                root.path(),
                name,
                &url,
                &["--role", "worker"],
                worker_config(echo_agent()),
            )
        })
        .collect();
    let ports = [free_port(), free_port()];
    let edges: Vec<Node> = ["edge-a", "edge-b"]
        .iter()
        .zip(ports)
        .map(|(name, port)| {
            Node::start_as(
                root.path(),
                name,
                &url,
                &["--role", "edge"],
                edge_config(port),
            )
        })
        .collect();
    let names: Vec<&str> = workers.iter().map(|w| w.name.as_str()).collect();
    let owners = balanced(&watcher, &names).await;
    assert_eq!(owners.len(), 3, "{owners:?}");

    // 200 browsers, half on each edge; each says three things at once.
    let mut browsers = Vec::new();
    for i in 0..200 {
        let addr: SocketAddr = format!("127.0.0.1:{}", ports[i % 2]).parse().unwrap();
        browsers.push(Browser::open(addr, &format!("browser-{i:03}")).await);
    }
    let browsers = round(browsers, 0, 3, echoed).await;

    // The status names the roles and shows nothing waiting.
    let status = edges[0].status();
    let roles: BTreeMap<&str, &str> = status["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["node"].as_str().unwrap(), n["role"].as_str().unwrap()))
        .collect();
    assert_eq!(roles["edge-a"], "edge");
    assert_eq!(roles["worker-2"], "worker");
    let partitions = status["partitions"].as_array().unwrap();
    assert_eq!(partitions.len(), PARTITIONS);
    assert!(
        partitions
            .iter()
            .all(|p| p["pending"] == 0 && p["in_flight"] == 0 && p["owner"].is_string()),
        "{partitions:?}"
    );

    // The server restarts (SIGKILL, its store kept) while the next round's
    // messages are on their way and being answered: every node
    // reconnects, and the round is answered the same way.
    let browsers = round_with(browsers, 3, 5, echoed, || server.restart()).await;

    // Every session's history holds each turn once.
    let store = super::shared_store(root.path(), &url, "test-reader", Some(super::NATS_TOKEN));
    for b in browsers.iter().step_by(37) {
        let said: Vec<String> = store
            .messages(&format!("web:{}", b.id), usize::MAX)
            .unwrap()
            .into_iter()
            .filter(|m| m.role == "user")
            .map(|m| m.content)
            .collect();
        let expected: Vec<String> = (0..5).map(|k| b.text(k)).collect();
        assert_eq!(said, expected, "{}", b.id);
    }
    drop(edges);
    drop(workers);
}

/// An OpenAI double that answers `echo: ` and the last user message,
/// streamed slowly (each request takes about `pause` × 4), and counts the
/// requests per text.
fn slow_echo(
    pause: Duration,
    seen: Arc<std::sync::Mutex<BTreeMap<String, usize>>>,
) -> http1::Handler {
    Arc::new(move |request: Recorded| {
        if request.method == "GET" {
            return Answer::Whole {
                status: 200,
                headers: vec![("content-type".into(), "application/json".into())],
                body: br#"{"object":"list","data":[]}"#.to_vec(),
            };
        }
        let last = request.body["messages"]
            .as_array()
            .and_then(|m| m.iter().rev().find(|m| m["role"] == "user"))
            .and_then(|m| m["content"].as_str().map(str::to_string))
            .unwrap_or_default();
        *seen.lock().unwrap().entry(last.clone()).or_insert(0) += 1;
        let answer = format!("echo: {last}");
        let chunk = |delta: Value, finish: Value| {
            json!({
                "id": "chatcmpl-slow", "object": "chat.completion.chunk", "created": 1_700_000_000,
                "model": "gpt-test",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            })
            .to_string()
        };
        let events = [
            chunk(json!({"role": "assistant", "content": ""}), Value::Null),
            chunk(json!({"content": answer}), Value::Null),
            chunk(json!({}), json!("stop")),
            "[DONE]".to_string(),
        ];
        Answer::Chunked {
            status: 200,
            headers: vec![("content-type".into(), "text/event-stream".into())],
            chunks: events
                .iter()
                .map(|e| format!("data: {e}\n\n").into_bytes())
                .collect(),
            pause,
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_worker_killed_mid_turn_loses_its_partitions_and_its_turns_are_redone_once() {
    let root = tempfile::tempdir().unwrap();
    let Some((server, watcher)) = server_and_watcher(root.path()).await else {
        return;
    };
    let url = server.url();
    let seen = Arc::new(std::sync::Mutex::new(BTreeMap::new()));
    let double = http1::serve(slow_echo(Duration::from_millis(150), seen.clone())).await;
    let agent = format!(
        "[agent]\nprovider = \"slow\"\n[providers.slow]\npreset = \"custom\"\n\
         base_url = \"http://{double}/v1\"\nmodel = \"gpt-test\"\napi_key_env = \"{}\"\n",
        super::PROVIDER_KEY_ENV
    );
    let mut workers: Vec<Node> = ["worker-1", "worker-2"]
        .iter()
        .map(|name| {
            Node::start_as(
                root.path(),
                name,
                &url,
                &["--role", "worker"],
                worker_config(agent.clone()),
            )
        })
        .collect();
    let port = free_port();
    let _edge = Node::start_as(
        root.path(),
        "edge-a",
        &url,
        &["--role", "edge"],
        edge_config(port),
    );
    balanced(&watcher, &["worker-1", "worker-2"]).await;

    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut browsers = Vec::new();
    for i in 0..40 {
        browsers.push(Browser::open(addr, &format!("killtest-{i:02}")).await);
    }
    // Everyone says two things; once a few answers are in, worker-1 dies
    // with turns under way.
    let answered = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = browsers
        .into_iter()
        .map(|mut b| {
            let answered = answered.clone();
            tokio::spawn(async move {
                b.say(0).await;
                b.say(1).await;
                for k in 0..2 {
                    let got = b.answer().await;
                    assert_eq!(got, echoed(&b.text(k)), "{}: answer {k}", b.id);
                    answered.fetch_add(1, Ordering::SeqCst);
                }
                b
            })
        })
        .collect();
    let deadline = Instant::now() + DEADLINE;
    while answered.load(Ordering::SeqCst) < 5 {
        assert!(Instant::now() < deadline, "no answers came");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let killed_at = Instant::now();
    workers[0].kill();
    let mut browsers = Vec::new();
    for task in tasks {
        browsers.push(task.await.unwrap());
    }
    eprintln!("all 80 answers in {:?} after the kill", killed_at.elapsed());
    // worker-2 owns everything now.
    let owners = balanced(&watcher, &["worker-2"]).await;
    assert_eq!(owners["worker-2"], PARTITIONS);
    // Some turns were under way on worker-1: the provider was asked twice
    // for them, and still each was answered once (checked above: a second
    // answer would have been read as the next one).
    let seen = seen.lock().unwrap().clone();
    let redone: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(!redone.is_empty(), "no turn was interrupted: {seen:?}");
    // Nothing more comes: one more turn each, and its answer is next.
    let mut last = Vec::new();
    for mut b in browsers {
        last.push(tokio::spawn(async move {
            b.say(2).await;
            let got = b.answer().await;
            assert_eq!(got, echoed(&b.text(2)), "{}: a late duplicate came", b.id);
            b
        }));
    }
    let mut browsers = Vec::new();
    for task in last {
        browsers.push(task.await.unwrap());
    }
    // A redone turn did not store its message twice: every history is
    // each message and its answer, once, in order.
    let store = super::shared_store(root.path(), &url, "test-reader", Some(super::NATS_TOKEN));
    for b in &browsers {
        let history: Vec<String> = store
            .messages(&format!("web:{}", b.id), usize::MAX)
            .unwrap()
            .into_iter()
            .map(|m| m.content)
            .collect();
        let expected: Vec<String> = (0..3)
            .flat_map(|k| [b.text(k), echoed(&b.text(k))])
            .collect();
        assert_eq!(history, expected, "{}", b.id);
    }
}

const BOT_TOKEN: &str = "424243:CLUSTER-scale-token";
const OWNER: i64 = 100;

/// An edge polling the Bot API double.
fn telegram_edge(api: String) -> impl Fn(&Path) -> String {
    move |dir| {
        let d = dir.display();
        format!(
            "[agent]\nprovider = \"echo\"\n[runtime]\nplugin_dirs = []\ncache_dir = \"{d}/cache\"\n\
             [memory]\npath = \"{d}/memory.redb\"\n[server]\nenabled = false\n\
             [channels.web]\nenabled = false\n[channels.telegram]\nenabled = true\n\
             token = \"{BOT_TOKEN}\"\napi_url = \"{api}\"\nallowed_users = [{OWNER}]\n"
        )
    }
}

/// Waits until `text` was sent to the owner; how often it was.
async fn sent_to_owner(
    double: &openpista_tests::doubles::telegram::TelegramDouble,
    text: &str,
) -> usize {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let n = double
            .delivered(OWNER)
            .iter()
            .filter(|d| d.text == text)
            .count();
        if n > 0 {
            return n;
        }
        assert!(Instant::now() < deadline, "{text:?} was never sent");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_polling_edge_killed_mid_turn_its_answer_goes_out_through_another_edge_once() {
    use openpista_tests::doubles::telegram::{TelegramDouble, updates};
    let root = tempfile::tempdir().unwrap();
    let Some((server, watcher)) = server_and_watcher(root.path()).await else {
        return;
    };
    let url = server.url();
    let telegram = TelegramDouble::start(BOT_TOKEN).await;
    let seen = Arc::new(std::sync::Mutex::new(BTreeMap::new()));
    let model = http1::serve(slow_echo(Duration::from_millis(250), seen.clone())).await;
    let agent = format!(
        "[agent]\nprovider = \"slow\"\n[providers.slow]\npreset = \"custom\"\n\
         base_url = \"http://{model}/v1\"\nmodel = \"gpt-test\"\napi_key_env = \"{}\"\n",
        super::PROVIDER_KEY_ENV
    );
    let _worker = Node::start_as(
        root.path(),
        "worker-1",
        &url,
        &["--role", "worker"],
        worker_config(agent),
    );
    let mut a = Node::start_as(
        root.path(),
        "edge-a",
        &url,
        &["--role", "edge"],
        telegram_edge(telegram.api_url()),
    );
    let deadline = Instant::now() + DEADLINE;
    while super::holder(&watcher, "poll.telegram").await.as_deref() != Some("edge-a") {
        assert!(Instant::now() < deadline, "edge-a never polled");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let b = Node::start_as(
        root.path(),
        "edge-b",
        &url,
        &["--role", "edge"],
        telegram_edge(telegram.api_url()),
    );
    balanced(&watcher, &["worker-1"]).await;

    telegram.push_update(updates::text(1, OWNER, "first"));
    assert_eq!(sent_to_owner(&telegram, "echo: first").await, 1);

    // The worker is answering "during" when the edge it came through dies:
    // the answer goes out through the other edge.
    telegram.push_update(updates::text(2, OWNER, "during"));
    let deadline = Instant::now() + DEADLINE;
    while !seen.lock().unwrap().contains_key("during") {
        assert!(
            Instant::now() < deadline,
            "the worker never asked the model"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    a.kill();
    let killed = Instant::now();
    assert_eq!(sent_to_owner(&telegram, "echo: during").await, 1);

    // edge-b takes the poll over; what is sent now is answered once.
    telegram.push_update(updates::text(3, OWNER, "after"));
    assert_eq!(sent_to_owner(&telegram, "echo: after").await, 1);
    eprintln!(
        "edge-a killed: edge-b polled and an update sent then was answered {:?} later",
        killed.elapsed()
    );
    assert_eq!(
        super::holder(&watcher, "poll.telegram").await.as_deref(),
        Some("edge-b")
    );
    telegram.push_update(updates::text(4, OWNER, "last"));
    assert_eq!(sent_to_owner(&telegram, "echo: last").await, 1);
    for text in ["echo: first", "echo: during", "echo: after"] {
        let n = telegram
            .delivered(OWNER)
            .iter()
            .filter(|d| d.text == text)
            .count();
        assert_eq!(n, 1, "{text} sent {n} times");
    }
    drop(b);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_that_disagree_on_partitions_or_a_role_without_a_cluster_are_refused() {
    let root = tempfile::tempdir().unwrap();
    let Some((_server, watcher)) = server_and_watcher(root.path()).await else {
        return;
    };
    openpista::cluster::inbound::inbound_stream(&watcher, 16)
        .await
        .unwrap();
    openpista::cluster::inbound::inbound_stream(&watcher, 16)
        .await
        .unwrap();
    let e = openpista::cluster::inbound::inbound_stream(&watcher, 8)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("partitions = 8") && e.contains("partitions=16"),
        "{e}"
    );

    // `--role worker` on a host with no [cluster] says so and exits.
    let dir = root.path().join("alone");
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("config.toml");
    std::fs::write(&config, "[server]\nenabled = false\n").unwrap();
    let out = std::process::Command::new(super::BIN)
        .arg("--config")
        .arg(&config)
        .args(["serve", "--role", "worker"])
        .env("OPENPISTA_HOME", dir.join("home"))
        .env_remove("OPENPISTA_CONFIG")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("--role worker") && stderr.contains("[cluster]"),
        "{stderr}"
    );
}
