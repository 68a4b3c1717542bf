//! WebSockets a channel asks the host to open (`connections.ws-open`),
//! end to end: the `ws-relay` fixture in a host started as `serve` starts
//! it, against a real WebSocket server on 127.0.0.1. The host fills the
//! secret in the handshake's header and in a text frame, carries frames
//! both ways, tells the channel why a socket ended (the server's close
//! code, or 1006 when the network failed) so it can reconnect, refuses an
//! ungranted host and a socket beyond the manifest's limit, and closes
//! the channel's sockets when the host stops.

use futures::{SinkExt, StreamExt};
use openpista::cli::serve::{Running, start};
use openpista::gateway::channels::{channel_component, with_fresh};
use openpista_tests::{config_in, install, manifest, wasm};
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

const SECRET: &str = "relay-secret-0f3a9c";

/// What the test server saw of one connection.
#[derive(Debug)]
enum Seen {
    Connected { authorization: Option<String> },
    Text(String),
    Closed,
}

/// What the test tells the server's current connection to do.
enum Act {
    Send(String),
    Close(u16, String),
    /// Drop the TCP connection without a close frame.
    Drop,
}

/// A WebSocket server on 127.0.0.1 that reports what it sees and does what
/// it is told, one connection at a time.
struct Server {
    addr: std::net::SocketAddr,
    seen: mpsc::UnboundedReceiver<Seen>,
    act: mpsc::UnboundedSender<Act>,
}

impl Server {
    // tungstenite's handshake callback returns its large error response type.
    #[allow(clippy::result_large_err)]
    async fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (seen_tx, seen) = mpsc::unbounded_channel();
        let (act, mut act_rx) = mpsc::unbounded_channel::<Act>();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let mut authorization = None;
                let callback = |req: &Request, resp: Response| {
                    authorization = req
                        .headers()
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string);
                    Ok(resp)
                };
                let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(tcp, callback).await else {
                    continue;
                };
                let _ = seen_tx.send(Seen::Connected { authorization });
                loop {
                    tokio::select! {
                        m = ws.next() => match m {
                            Some(Ok(Message::Text(t))) => { let _ = seen_tx.send(Seen::Text(t.to_string())); }
                            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => { let _ = seen_tx.send(Seen::Closed); break; }
                            Some(Ok(_)) => {}
                        },
                        a = act_rx.recv() => match a {
                            Some(Act::Send(t)) => { let _ = ws.send(Message::Text(t.into())).await; }
                            Some(Act::Close(code, reason)) => {
                                let _ = ws.send(Message::Close(Some(CloseFrame { code: CloseCode::from(code), reason: reason.into() }))).await;
                                // Read the client's answer to the close.
                                while let Some(Ok(m)) = ws.next().await {
                                    if matches!(m, Message::Close(_)) { break; }
                                }
                                let _ = seen_tx.send(Seen::Closed);
                                break;
                            }
                            Some(Act::Drop) | None => { let _ = seen_tx.send(Seen::Closed); break; }
                        },
                    }
                }
            }
        });
        Server { addr, seen, act }
    }

    async fn next(&mut self) -> Seen {
        tokio::time::timeout(Duration::from_secs(30), self.seen.recv())
            .await
            .expect("the server saw nothing in 30 s")
            .expect("server gone")
    }

    /// The next text frame (skipping nothing else: a connection or close
    /// in between fails the test).
    async fn text(&mut self) -> String {
        match self.next().await {
            Seen::Text(t) => t,
            other => panic!("expected a text frame, got {other:?}"),
        }
    }

    /// A new connection: its authorization header, then its first frame.
    async fn connection(&mut self) -> (Option<String>, String) {
        let authorization = match self.next().await {
            Seen::Connected { authorization } => authorization,
            other => panic!("expected a connection, got {other:?}"),
        };
        (authorization, self.text().await)
    }
}

fn relay(root: &Path, config: &[(&str, &str)]) {
    let mut text = manifest("ws-relay");
    for (key, value) in config {
        text = text.replace(&format!("{key} = \"\""), &format!("{key} = \"{value}\""));
    }
    install(
        &root.join("components"),
        "channel-relay",
        &std::fs::read(wasm("ws-relay")).unwrap(),
        &text,
    );
}

async fn host(root: &Path, grants: &[String]) -> Running {
    let hosts: Vec<String> = grants.iter().map(|g| format!("{g:?}")).collect();
    let extra = format!(
        "[channels.web]\nenabled = false\n[server]\nenabled = false\n[secrets]\nrelay_token = {{ value = \"{SECRET}\" }}\n[components.channel-relay]\nhosts = [{}]\n",
        hosts.join(", ")
    );
    let running = start(&config_in(root, &extra)).await.unwrap();
    assert!(running.failures.is_empty(), "{:?}", running.failures);
    running
}

/// The relay's report: what it recorded under `key`, one line each.
async fn recorded(running: &Running, key: &str) -> Vec<String> {
    let component = channel_component(&running.runtime, "relay").await.unwrap();
    let report = with_fresh(&component, async |i| i.describe().await)
        .await
        .unwrap();
    let value = report
        .details
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    value
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// Waits until the relay has recorded `n` lines under `key`.
async fn wait_recorded(running: &Running, key: &str, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let lines = recorded(running, key).await;
        if lines.len() >= n {
            return lines;
        }
        assert!(
            Instant::now() < deadline,
            "expected {n} lines under {key}, got {lines:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_flow_both_ways_with_the_secret_filled_in_by_the_host() {
    let root = tempfile::tempdir().unwrap();
    let mut server = Server::start().await;
    let url = format!("ws://{}/socket", server.addr);
    relay(root.path(), &[("url", &url)]);
    let running = host(root.path(), &[server.addr.to_string()]).await;

    // The handshake's header and the first frame carry the secret, which
    // the component only ever wrote as a placeholder.
    let (authorization, first) = server.connection().await;
    assert_eq!(authorization.as_deref(), Some(&*format!("Bearer {SECRET}")));
    assert_eq!(first, format!("{{\"token\":\"{SECRET}\"}}"));

    // A frame from the server reaches the agent; its answer comes back.
    server
        .act
        .send(Act::Send("hello over the socket".into()))
        .unwrap();
    assert_eq!(server.text().await, "answer:echo: hello over the socket");
    let frames = recorded(&running, "frames").await;
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert!(frames[0].ends_with(" hello over the socket"), "{frames:?}");
    // The secret's value never reached the guest's memory.
    for key in ["opened", "errors", "frames", "closed"] {
        for line in recorded(&running, key).await {
            assert!(!line.contains(SECRET), "{key}: {line}");
        }
    }
    running.stop().await;
    // Stopping the host closes the channel's socket.
    assert!(matches!(server.next().await, Seen::Closed));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_channel_hears_why_a_socket_ended_and_reconnects() {
    let root = tempfile::tempdir().unwrap();
    let mut server = Server::start().await;
    let url = format!("ws://{}/socket", server.addr);
    relay(root.path(), &[("url", &url)]);
    let running = host(root.path(), &[server.addr.to_string()]).await;
    server.connection().await;

    // A close with the server's code and reason...
    server
        .act
        .send(Act::Close(4009, "session timed out".into()))
        .unwrap();
    assert!(matches!(server.next().await, Seen::Closed));
    let closed = wait_recorded(&running, "closed", 1).await;
    assert!(
        closed[0].ends_with("Some((4009, \"session timed out\"))"),
        "{closed:?}"
    );
    // ...after which the channel opened a new socket.
    let (authorization, _) = server.connection().await;
    assert!(authorization.is_some());

    // A dropped connection reads as 1006, with what happened.
    server.act.send(Act::Drop).unwrap();
    assert!(matches!(server.next().await, Seen::Closed));
    let closed = wait_recorded(&running, "closed", 2).await;
    assert!(closed[1].contains("Some((1006, "), "{closed:?}");
    server.connection().await;
    let opened = recorded(&running, "opened").await;
    assert_eq!(opened.len(), 3, "{opened:?}");
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ungranted_host_and_a_socket_beyond_the_limit_are_refused() {
    let root = tempfile::tempdir().unwrap();
    let mut granted = Server::start().await;
    let other = Server::start().await;
    relay(
        root.path(),
        &[
            ("url", &format!("ws://{}/socket", granted.addr)),
            ("second_url", &format!("ws://{}/socket", granted.addr)),
        ],
    );
    let running = host(root.path(), &[granted.addr.to_string()]).await;
    granted.connection().await;
    // The manifest allows one socket: the second is refused.
    let errors = wait_recorded(&running, "errors", 1).await;
    assert!(
        errors[0].contains("Unavailable") && errors[0].contains("already holds 1"),
        "{errors:?}"
    );
    running.stop().await;

    // A host the operator did not grant is refused at ws-open, before any
    // connection is made.
    let root = tempfile::tempdir().unwrap();
    relay(
        root.path(),
        &[("url", &format!("ws://{}/socket", other.addr))],
    );
    let running = host(root.path(), &[granted.addr.to_string()]).await;
    let errors = wait_recorded(&running, "errors", 1).await;
    assert!(
        errors[0].contains("Denied")
            && errors[0].contains("not among the component's granted hosts"),
        "{errors:?}"
    );
    assert!(recorded(&running, "opened").await.is_empty());
    running.stop().await;
    assert!(other.seen.is_empty(), "the ungranted server was reached");
}
