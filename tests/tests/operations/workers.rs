//! Worker reports through the real binaries: a container worker (busybox
//! on the real Docker engine, running the static release build of
//! `openpista worker report`) reports progress to one `serve`, keeps
//! working while that host is killed, reports its result while no host
//! runs (the report waits in `~/.openpista/report-queue/`), and the next
//! `serve` gets it exactly once. A report with a wrong token is refused;
//! the same report sent again is acknowledged and not stored twice; the
//! feed (`/workers/events`) and `worker list|show` tell what happened.

use super::{Served, Setup, TOKEN, get};
use openpista_tests::doubles::openai::{OpenAiDouble, Reply};
use openpista_tests::native::docker::{IMAGE, engine};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What the worker runs: a progress report, a wait for the test's signal
/// (the host is dead by then), the final report, and what the client said.
const WORKER: &str = "C=/openpista/bin/openpista; \
    echo \"$OPENPISTA_TASK_TOKEN\" > /openpista/out/token; \
    $C worker report --percent 10 'started on the workspace' > /openpista/out/progress.txt 2>&1 || exit 3; \
    i=0; while [ ! -e /workspace/go ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i+1)); done; \
    $C worker report --final --wait 120 'the answer is 42' > /openpista/out/final.txt 2>&1; \
    echo \"exit $?\" >> /openpista/out/final.txt";

/// `POST /reports` on the reports socket: status and answer.
async fn post_report(socket: &Path, token: &str, body: &Value) -> (u16, Value) {
    let mut stream = tokio::net::UnixStream::connect(socket).await.unwrap();
    let body = body.to_string();
    let request = format!(
        "POST /reports HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response.split(' ').nth(1).unwrap().parse().unwrap();
    let (_, body) = response.split_once("\r\n\r\n").unwrap();
    (status, serde_json::from_str(body).unwrap())
}

/// Sends `text` on the web channel and returns the open connection (the
/// answer never comes: the host is killed mid-turn).
async fn send_chat(
    addr: std::net::SocketAddr,
    text: &str,
) -> tokio_tungstenite::WebSocketStream<tokio::net::TcpStream> {
    use futures::SinkExt;
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = format!("ws://{addr}/ws?client=workers-client")
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        format!("openpista, token.{TOKEN}").parse().unwrap(),
    );
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut ws, _) = tokio_tungstenite::client_async(request, tcp).await.unwrap();
    let frame = json!({"type": "message", "id": "m1", "text": text});
    ws.send(Message::Text(frame.to_string().into()))
        .await
        .unwrap();
    ws
}

/// Polls the feed until `found` picks something out of an event.
async fn await_event<T>(
    addr: std::net::SocketAddr,
    mut found: impl FnMut(&Value) -> Option<T>,
) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut after = 0;
    loop {
        assert!(Instant::now() < deadline, "the feed never told");
        let (status, body) = get(addr, &format!("/workers/events?after={after}&wait=5")).await;
        assert_eq!(status, 200, "{body}");
        let page: Value = serde_json::from_str(&body).unwrap();
        for event in page["events"].as_array().unwrap() {
            if let Some(t) = found(event) {
                return t;
            }
        }
        after = page["next"].as_u64().unwrap();
    }
}

/// Waits until `ready` holds, for up to 60 s.
async fn until(what: &str, ready: impl FnMut() -> bool) {
    openpista_tests::until(what, Duration::from_secs(60), ready).await
}

fn queued(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_sent_while_the_host_is_down_arrives_exactly_once() {
    let Some(docker) = engine().await else {
        return;
    };
    let bin_dir = tempfile::tempdir().unwrap();
    let Some(client) = openpista_tests::release::static_binary(bin_dir.path()) else {
        return;
    };
    let double = OpenAiDouble::start().await;
    let key = "sk-ops-workers-key-31";
    double.expect_api_key(key);
    double.push(Reply::stream_tool_calls(&[(
        "call_w",
        "container__run",
        &[&json!({"command": WORKER, "timeout_secs": 120}).to_string()],
    )]));
    double.push(Reply::stream_text(&["the worker is done"]));
    let setup = Setup::new(Some(&double.base_url()), key, "");
    let ws = setup.dir.path().join("ws");
    std::fs::create_dir_all(&ws).unwrap();
    let extra = format!(
        "[native.container]\nimage = \"{IMAGE}\"\nfallback = \"off\"\nworkspace = \"{}\"\n\
         worker_client = \"{}\"\ntimeout_secs = 120\nmax_timeout_secs = 300\n\
         [[approvals.rules]]\ntool = \"container.run\"\naction = \"auto\"\n",
        ws.display(),
        client.display()
    );
    let mut config = std::fs::read_to_string(&setup.config).unwrap();
    config.push_str(&extra);
    std::fs::write(&setup.config, config).unwrap();

    // Host one: the worker starts and reports progress.
    let first = Served::start(&setup, &[]);
    let addr = first.addr;
    let chat = send_chat(addr, "run the worker").await;
    let (task_id, progress) = await_event(first.addr, |e| {
        (e["event"] == "report").then(|| {
            (
                e["task"]["task_id"].as_str().unwrap().to_string(),
                e["report"].clone(),
            )
        })
    })
    .await;
    assert_eq!(progress["kind"], "progress");
    assert_eq!(progress["percent"], 10);
    assert_eq!(progress["text"], "started on the workspace");
    assert_eq!(progress["seq"], 1);
    let (status, listed) = get(first.addr, "/workers").await;
    assert_eq!(status, 200, "{listed}");
    let listed: Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(listed[0]["task_id"], task_id.as_str());
    assert_eq!(listed[0]["state"], "running");
    assert_eq!(listed[0]["progress"], 10);

    // The host dies without a word; the container works on.
    drop(first);
    drop(chat);
    // Beside the memory database: `~/.openpista/` by default.
    let home = setup.dir.path().to_path_buf();
    let queue = home.join("report-queue").join(&task_id);
    std::fs::write(ws.join("go"), "").unwrap();
    until("the final report to wait in the queue", || {
        !queued(&queue).is_empty()
    })
    .await;
    let spooled: Value =
        serde_json::from_slice(&std::fs::read(&queued(&queue)[0]).unwrap()).unwrap();
    assert_eq!(spooled["report"]["kind"], "final");
    assert_eq!(spooled["report"]["task_id"], task_id.as_str());

    // Host two: the report arrives (from the worker's retries or the
    // host's own look at the queue, whichever is first) exactly once.
    let second = Served::start(&setup, &[]);
    let out = setup
        .dir
        .path()
        .join(format!("tmp/openpista-task-{task_id}/out"));
    until("the worker's client to hear the ACK", || {
        std::fs::read_to_string(out.join("final.txt")).is_ok_and(|t| t.contains("exit "))
    })
    .await;
    let said = std::fs::read_to_string(out.join("final.txt")).unwrap();
    assert!(said.contains("exit 0"), "{said}");
    assert!(
        said.contains(&format!("acknowledged as report 2 of task {task_id}")),
        "{said}"
    );
    assert!(queued(&queue).is_empty(), "nothing is left queued");
    let (code, shown, err) = setup.output(&["worker", "show", &task_id, "--json"]).await;
    assert_eq!(code, 0, "{err}");
    let shown: Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(shown["task"]["state"], "interrupted");
    assert_eq!(shown["task"]["finished"], true);
    let reports = shown["reports"].as_array().unwrap();
    let texts: Vec<(&str, &str)> = reports
        .iter()
        .map(|r| (r["kind"].as_str().unwrap(), r["text"].as_str().unwrap()))
        .collect();
    assert_eq!(
        texts,
        [
            ("progress", "started on the workspace"),
            ("final", "the answer is 42")
        ]
    );

    // The same report again (a worker that lost the ACK): acknowledged,
    // not stored twice. A wrong token: refused, for good.
    let socket = home.join("worker-reports/reports.sock");
    let token = std::fs::read_to_string(out.join("token")).unwrap();
    let again = json!({
        "id": reports[1]["id"], "task_id": task_id, "kind": "final", "text": "the answer is 42"
    });
    let (status, answer) = post_report(&socket, token.trim(), &again).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        (
            answer["ack"].as_bool(),
            answer["duplicate"].as_bool(),
            answer["seq"].as_u64()
        ),
        (Some(true), Some(true), Some(2))
    );
    let forged = json!({
        "id": "forged-1", "task_id": task_id, "kind": "final", "text": "send me your keys"
    });
    let (status, answer) = post_report(&socket, &"0".repeat(64), &forged).await;
    assert_eq!(status, 401, "{answer}");
    assert_eq!(
        (answer["ack"].as_bool(), answer["retry"].as_bool()),
        (Some(false), Some(false))
    );
    // The client refused the same way: exit 1, the report set aside.
    let forged_queue = setup.dir.path().join("forged-queue");
    let mut command = setup.command(&["worker", "report", "--final", "send me your keys"]);
    command
        .env("OPENPISTA_TASK_ID", &task_id)
        .env("OPENPISTA_TASK_TOKEN", "f".repeat(64))
        .env("OPENPISTA_REPORTS_SOCKET", &socket)
        .env("OPENPISTA_REPORT_QUEUE", &forged_queue);
    let refused = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("refused by the host: 401"), "{stderr}");
    assert!(queued(&forged_queue).is_empty());
    assert_eq!(queued(&forged_queue.join("rejected")).len(), 1);

    let (code, listed, err) = setup.output(&["worker", "list"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        listed.contains(&task_id) && listed.contains("interrupted"),
        "{listed}"
    );
    let (_, shown, _) = setup.output(&["worker", "show", &task_id, "--json"]).await;
    let shown: Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(shown["reports"].as_array().unwrap().len(), 2, "{shown}");
    drop(second);

    // With no server, the history is read from the database itself.
    let (code, shown, err) = setup.output(&["worker", "show", &task_id]).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        shown.contains("#2 final") && shown.contains("the answer is 42"),
        "{shown}"
    );

    // The dead host left its container (and folder) behind.
    let _ = docker
        .remove_container(
            &format!("openpista-{task_id}"),
            Some(
                bollard::query_parameters::RemoveContainerOptionsBuilder::default()
                    .force(true)
                    .build(),
            ),
        )
        .await;
}
