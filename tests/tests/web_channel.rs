//! The web channel over real WebSockets against the host started
//! in-process (`serve::start`) with the embedded `channel-web` component:
//! the handshake (token by subprotocol or query, wrong token, bad client
//! id, foreign origin), a streamed conversation, malformed frames that
//! leave the connection open, two tabs of one client, answers kept for a
//! client that went away, the heartbeat timeout, the frame size limit,
//! ticks only while a connection is open, and WSS over rustls.

use futures::{SinkExt, StreamExt};
use openpista::cli::serve::{Running, start};
use openpista::config::Config;
use openpista_tests::until;
use serde_json::{Value, json};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{WebSocketStream, client_async};

const TOKEN: &str = "web-channel-test-token-0123456789";
const TOKEN_ENV: &str = "OPENPISTA_TEST_WEB_CHANNEL_TOKEN";
const WAIT: Duration = Duration::from_secs(20);

async fn host(root: &std::path::Path, server: &str, extra: &str) -> Running {
    // SAFETY: every test sets the same value before starting its host.
    unsafe { std::env::set_var(TOKEN_ENV, TOKEN) };
    let text = format!(
        r#"
[server]
listen = "127.0.0.1:0"
{server}
[channels.web]
token_env = "{TOKEN_ENV}"
[runtime]
plugin_dirs = []
cache_dir = "{root}/cache"
[memory]
path = "{root}/memory.redb"
{extra}
"#,
        root = root.display()
    );
    let config = Config::parse(&text, "test config").unwrap();
    let running = start(&config).await.unwrap();
    assert!(running.failures.is_empty(), "{:?}", running.failures);
    running
}

type Ws<S> = WebSocketStream<S>;

async fn connect_on<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    url: &str,
    protocols: Option<&str>,
    origin: Option<&str>,
) -> Result<(Ws<S>, http::Response<Option<Vec<u8>>>), WsError> {
    let mut request = url.into_client_request().unwrap();
    if let Some(p) = protocols {
        request
            .headers_mut()
            .insert("sec-websocket-protocol", p.parse().unwrap());
    }
    if let Some(o) = origin {
        request.headers_mut().insert("origin", o.parse().unwrap());
    }
    client_async(request, stream).await
}

async fn connect(
    running: &Running,
    query: &str,
    protocols: Option<&str>,
    origin: Option<&str>,
) -> Result<Ws<tokio::net::TcpStream>, WsError> {
    let addr = running.local_addr().unwrap();
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    connect_on(tcp, &format!("ws://{addr}/ws?{query}"), protocols, origin)
        .await
        .map(|(ws, _)| ws)
}

async fn open(running: &Running, client: &str) -> Ws<tokio::net::TcpStream> {
    connect(
        running,
        &format!("client={client}"),
        Some(&format!("openpista, token.{TOKEN}")),
        None,
    )
    .await
    .unwrap()
}

/// The next JSON frame other than a `status` indicator.
async fn next<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut Ws<S>) -> Value {
    loop {
        let f = next_raw(ws).await;
        if f["type"] != "status" {
            return f;
        }
    }
}

/// The next JSON frame, failing after 20 s.
async fn next_raw<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut Ws<S>) -> Value {
    loop {
        let m = tokio::time::timeout(Duration::from_secs(20), ws.next())
            .await
            .expect("a frame within 20 s")
            .expect("the connection is open")
            .expect("a frame, not an error");
        match m {
            Message::Text(t) => return serde_json::from_str(&t).unwrap(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// Frames up to and including the next `message` frame.
async fn until_message<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut Ws<S>) -> Vec<Value> {
    let mut seen = Vec::new();
    loop {
        let f = next_raw(ws).await;
        let done = f["type"] == "message";
        seen.push(f);
        if done {
            return seen;
        }
    }
}

async fn send<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut Ws<S>, frame: Value) {
    ws.send(Message::Text(frame.to_string().into()))
        .await
        .unwrap();
}

/// The close code the server sends within `secs`, skipping other frames.
async fn close_code<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut Ws<S>, secs: u64) -> Option<u16> {
    while let Ok(Some(m)) = tokio::time::timeout(Duration::from_secs(secs), ws.next()).await {
        match m {
            Ok(Message::Close(Some(f))) => return Some(u16::from(f.code)),
            Ok(_) => continue,
            Err(_) => return None,
        }
    }
    None
}

fn status_of(e: WsError) -> u16 {
    match e {
        WsError::Http(r) => r.status().as_u16(),
        other => panic!("expected an HTTP refusal, got {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_handshake_checks_token_client_and_origin() {
    let root = tempfile::tempdir().unwrap();
    let running = host(root.path(), "", "").await;
    let addr = running.local_addr().unwrap();
    // Token in the subprotocol list: accepted, "openpista" selected.
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (_ws, response) = connect_on(
        tcp,
        &format!("ws://{addr}/ws?client=abcdefgh1"),
        Some(&format!("openpista, token.{TOKEN}")),
        None,
    )
    .await
    .unwrap();
    assert_eq!(response.headers()["sec-websocket-protocol"], "openpista");
    // Token in the query.
    assert!(
        connect(
            &running,
            &format!("client=abcdefgh2&token={TOKEN}"),
            None,
            None
        )
        .await
        .is_ok()
    );
    // Same-origin pages are welcome.
    let same = format!("http://{addr}");
    assert!(
        connect(
            &running,
            &format!("client=abcdefgh3&token={TOKEN}"),
            None,
            Some(&same)
        )
        .await
        .is_ok()
    );
    // Refusals, each with its status.
    let wrong = connect(&running, "client=abcdefgh4&token=wrong", None, None).await;
    assert_eq!(status_of(wrong.unwrap_err()), 401);
    let none = connect(&running, "client=abcdefgh5", None, None).await;
    assert_eq!(status_of(none.unwrap_err()), 401);
    let bad_client = connect(&running, &format!("client=x&token={TOKEN}"), None, None).await;
    assert_eq!(status_of(bad_client.unwrap_err()), 400);
    let foreign = connect(
        &running,
        &format!("client=abcdefgh6&token={TOKEN}"),
        None,
        Some("https://evil.example"),
    )
    .await;
    assert_eq!(status_of(foreign.unwrap_err()), 403);
    // Nothing refused made a session.
    assert!(
        running
            .gateway
            .agent()
            .memory
            .sessions()
            .unwrap()
            .is_empty()
    );
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conversation_streams_and_bad_frames_leave_the_connection_open() {
    let root = tempfile::tempdir().unwrap();
    let running = host(root.path(), "", "").await;
    let mut ws = open(&running, "client-conv-1").await;
    send(&mut ws, json!({"type": "ping", "t": 7})).await;
    let ready = next(&mut ws).await;
    assert_eq!(ready["type"], "ready");
    assert_eq!(ready["session"], "web:client-conv-1");
    assert_eq!(next(&mut ws).await, json!({"type": "pong", "t": 7}));

    send(
        &mut ws,
        json!({"type": "message", "id": "m1", "text": "hello there friend"}),
    )
    .await;
    let frames = until_message(&mut ws).await;
    assert_eq!(frames[0], json!({"type": "ack", "id": "m1"}));
    let deltas: String = frames
        .iter()
        .filter(|f| f["type"] == "delta")
        .map(|f| f["text"].as_str().unwrap())
        .collect();
    let last = frames.last().unwrap();
    assert_eq!(last["text"], "echo: hello there friend");
    assert_eq!(last["error"], false);
    assert_eq!(deltas, "echo: hello there friend", "{frames:#?}");
    assert!(
        frames
            .iter()
            .any(|f| f == &json!({"type": "status", "state": "thinking"}))
    );

    // Malformed frames get an error frame; the connection keeps working.
    ws.send(Message::Text("{not json".into())).await.unwrap();
    let e = next(&mut ws).await;
    assert_eq!(e["type"], "error");
    send(&mut ws, json!({"type": "message", "id": "m2"})).await;
    let e = next(&mut ws).await;
    assert!(e["message"].as_str().unwrap().contains("text"), "{e}");
    ws.send(Message::Binary(vec![1, 2, 3].into()))
        .await
        .unwrap();
    assert_eq!(next(&mut ws).await["type"], "error");
    send(
        &mut ws,
        json!({"type": "message", "id": "m3", "text": "/help"}),
    )
    .await;
    let help = until_message(&mut ws).await;
    assert!(
        help.last().unwrap()["text"]
            .as_str()
            .unwrap()
            .contains("/clear")
    );
    send(
        &mut ws,
        json!({"type": "message", "id": "m4", "text": "still here"}),
    )
    .await;
    assert_eq!(
        until_message(&mut ws).await.last().unwrap()["text"],
        "echo: still here"
    );
    // An uploaded image reaches the agent as an attachment of the turn.
    send(
        &mut ws,
        json!({"type": "message", "id": "m5", "text": "look at this", "attachments": [
            {"mime": "image/png", "name": "dot.png", "data": "iVBORw0KGgo="}
        ]}),
    )
    .await;
    assert_eq!(
        until_message(&mut ws).await.last().unwrap()["text"],
        "echo: look at this"
    );
    // The conversation is stored under the client's session.
    let stored = running
        .gateway
        .agent()
        .memory
        .messages("web:client-conv-1", 50)
        .unwrap();
    assert_eq!(stored.len(), 6, "{stored:?}");
    assert_eq!(stored[4].attachments, vec!["dot.png (image/png)"]);

    // A frame many times one read (the host reads 8 KiB at a time)
    // arrives whole.
    let long = vec!["word"; 5_000].join(" ");
    send(
        &mut ws,
        json!({"type": "message", "id": "m6", "text": long}),
    )
    .await;
    assert_eq!(
        until_message(&mut ws).await.last().unwrap()["text"],
        format!("echo: {long}")
    );
    // A burst: the answers queue behind each other and go out together,
    // each whole and in order.
    for t in 0..50 {
        send(&mut ws, json!({"type": "ping", "t": t})).await;
    }
    for t in 0..50 {
        assert_eq!(next(&mut ws).await, json!({"type": "pong", "t": t}));
    }
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_tabs_both_hear_and_a_client_that_left_gets_its_answer_later() {
    let root = tempfile::tempdir().unwrap();
    let running = host(root.path(), "", "").await;
    let mut a = open(&running, "client-tabs-1").await;
    let mut b = open(&running, "client-tabs-1").await;
    for ws in [&mut a, &mut b] {
        send(ws, json!({"type": "ping", "t": 1})).await;
        assert_eq!(next(ws).await["type"], "ready");
        assert_eq!(next(ws).await["type"], "pong");
    }
    send(
        &mut a,
        json!({"type": "message", "id": "x", "text": "to both"}),
    )
    .await;
    let seen_a = until_message(&mut a).await;
    assert_eq!(seen_a.last().unwrap()["text"], "echo: to both");
    // The tab that sent it is not told its own message again; the other
    // tab sees it (a `user` frame) before the answer.
    assert!(seen_a.iter().all(|f| f["type"] != "user"), "{seen_a:?}");
    let seen_b = until_message(&mut b).await;
    assert_eq!(seen_b.last().unwrap()["text"], "echo: to both");
    let user: Vec<&Value> = seen_b.iter().filter(|f| f["type"] == "user").collect();
    assert_eq!(user.len(), 1, "{seen_b:?}");
    assert_eq!(user[0]["text"], "to both");
    // A command is the host's business, not shown to the other tab.
    send(
        &mut a,
        json!({"type": "message", "id": "y", "text": "/session"}),
    )
    .await;
    until_message(&mut a).await;
    let seen_b = until_message(&mut b).await;
    assert!(seen_b.iter().all(|f| f["type"] != "user"), "{seen_b:?}");

    // Both tabs leave; then something (a cron entry, say) talks in the
    // session. The answer is kept and comes with the next connection.
    drop(a);
    drop(b);
    tokio::time::sleep(Duration::from_millis(300)).await;
    running.gateway.dispatch(
        openpista::gateway::Origin::channel("web"),
        openpista::gateway::Incoming {
            session: "web:client-tabs-1".into(),
            sender: "cron".into(),
            text: "while you were away".into(),
            attachments: Vec::new(),
            command: None,
        },
    );
    until_kept(&running, true, "the answer to be kept").await;
    let mut again = open(&running, "client-tabs-1").await;
    send(&mut again, json!({"type": "ping", "t": 2})).await;
    assert_eq!(next(&mut again).await["type"], "ready");
    let frames = until_message(&mut again).await;
    let kept = frames.last().unwrap()["text"].as_str().unwrap().to_string();
    assert_eq!(kept, "echo: while you were away", "{frames:#?}");
    // Delivered once: nothing is kept any more. (The component deletes
    // the kept frame after the connection took it, so the page may see
    // the message a moment before the key is gone.)
    until_kept(&running, false, "the delivered answer to be dropped").await;
    // And it does not come a second time.
    send(&mut again, json!({"type": "ping", "t": 3})).await;
    let after = next(&mut again).await;
    assert_eq!(after["type"], "pong", "{after}");
    running.stop().await;
}

/// Waits until the web channel keeps an undelivered answer (`kept`) or
/// keeps none (`!kept`).
async fn until_kept(running: &Running, kept: bool, what: &str) {
    let memory = &running.gateway.agent().memory;
    until(what, WAIT, || {
        let listed = memory.kv_list("channel-web", "pending/", 10).unwrap();
        listed.is_empty() != kept
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_connections_time_out_and_oversized_frames_close() {
    let root = tempfile::tempdir().unwrap();
    let running = host(
        root.path(),
        "max_frame_bytes = 4096",
        "[components.channel-web.config]\nheartbeat_timeout_secs = 2\n",
    )
    .await;
    // Oversized: closed with 1009.
    let mut big = open(&running, "client-big-1").await;
    let huge = json!({"type": "message", "id": "b", "text": "x".repeat(10_000)});
    let _ = big.send(Message::Text(huge.to_string().into())).await;
    assert_eq!(close_code(&mut big, 10).await, Some(1009));

    // Silent: closed with 4408 after the configured heartbeat timeout.
    let mut quiet = open(&running, "client-quiet-1").await;
    send(&mut quiet, json!({"type": "ping", "t": 1})).await;
    assert_eq!(next(&mut quiet).await["type"], "ready");
    let started = std::time::Instant::now();
    let code = close_code(&mut quiet, 15).await;
    assert_eq!(code, Some(4408), "after {:?}", started.elapsed());
    assert!(started.elapsed() >= Duration::from_secs(1));
    running.stop().await;
}

/// `live.tick` is for the connections a channel holds: with none open the
/// host does not call it (an idle host runs no guest code), with one open
/// it does, and once that one has closed it stops again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_channel_is_ticked_only_while_it_holds_a_connection() {
    let root = tempfile::tempdir().unwrap();
    let running = host(root.path(), "", "").await;
    let driver = running.channel_driver("channel-web").expect("web serves");
    // A fast ticker besides the host's own (once a second): 30 chances
    // in the window below.
    let fast = driver.spawn_ticker_every(Duration::from_millis(10));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!driver.tick_wanted());
    assert_eq!(driver.ticks(), 0, "ticked with no connection open");

    let mut ws = open(&running, "client-ticked-1").await;
    send(&mut ws, json!({"type": "ping", "t": 1})).await;
    assert_eq!(next(&mut ws).await["type"], "ready");
    assert!(driver.tick_wanted());
    until("ticks while a connection is open", WAIT, || {
        driver.ticks() >= 3
    })
    .await;

    ws.close(None).await.unwrap();
    until("the connection to be let go", WAIT, || {
        !driver.tick_wanted()
    })
    .await;
    // At most a tick already under way follows.
    let settled = driver.ticks() + 1;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(driver.ticks() <= settled, "ticked on after the close");
    fast.abort();
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wss_and_https_with_a_configured_certificate() {
    let root = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert_path = root.path().join("cert.pem");
    let key_path = root.path().join("key.pem");
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    let running = host(
        root.path(),
        &format!(
            "tls_cert = \"{}\"\ntls_key = \"{}\"\n",
            cert_path.display(),
            key_path.display()
        ),
        "",
    )
    .await;
    let addr = running.local_addr().unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.cert.der().clone()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
    let tls = |connector: tokio_rustls::TlsConnector| async move {
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        connector
            .connect("localhost".try_into().unwrap(), tcp)
            .await
            .unwrap()
    };
    let (mut ws, _) = connect_on(
        tls(connector.clone()).await,
        &format!("wss://localhost:{}/ws?client=client-tls-1", addr.port()),
        Some(&format!("openpista, token.{TOKEN}")),
        None,
    )
    .await
    .unwrap();
    send(
        &mut ws,
        json!({"type": "message", "id": "t", "text": "over tls"}),
    )
    .await;
    let frames = until_message(&mut ws).await;
    assert_eq!(frames.last().unwrap()["text"], "echo: over tls");

    // Plain HTTP on the TLS port gets nowhere.
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let plain = connect_on(
        tcp,
        &format!("ws://{addr}/ws?client=client-tls-2"),
        None,
        None,
    )
    .await;
    assert!(plain.is_err());
    running.stop().await;
}
