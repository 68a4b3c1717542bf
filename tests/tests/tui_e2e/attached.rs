//! The TUI attached to a running `openpista serve`: one conversation,
//! typed into from a web page and from the terminal, seen on both.
//!
//! `openpista serve` runs as its own process for the test's home, with the
//! web channel on a port of its own (`[server] listen`) and its token in
//! `OPENPISTA_HOME/web-token` (made by serve on its first start). The "web
//! page" is a WebSocket client of the test's (docs/WEB_PROTOCOL.md) with
//! client id [`CLIENT`], so its session is `web:CLIENT`. The TUI is started
//! with `-s web:CLIENT` once serve's control socket answers, so it must
//! attach (status `attached`) instead of running an agent of its own: it
//! could not anyway, since serve holds the memory database.
//!
//! What the test proves:
//! - a message from the page appears on the terminal as `› TEXT`, once,
//!   followed by the answer; the page itself gets no `user` frame for its
//!   own message;
//! - a message typed in the terminal reaches the page as
//!   `{"type":"user","text":…}` before the answer's `delta` frames and its
//!   `message` frame, and shows once on the terminal;
//! - both messages went into one session: the model's second request
//!   carries the page's message and its answer before the terminal's;
//! - `/quit` leaves the terminal clean and serve running.
//!
//! The page pings every 10 s from a task of its own, so the channel's
//! 45 s heartbeat does not close it while the TUI starts.

use super::*;
use futures::stream::SplitStream;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// The web page's client id.
const CLIENT: &str = "tui-e2e-page-1";

/// `openpista serve` for the terminal's home, as a process of its own.
pub(super) struct Serve {
    child: Child,
    output: Arc<Mutex<String>>,
}

impl Serve {
    /// Starts serve with the terminal's config and home and waits until
    /// its control socket answers (it is made last, after the listener
    /// and the channels).
    pub(super) async fn start(t: &Terminal) -> Serve {
        let mut child = Command::new(BIN)
            .arg("--config")
            .arg(&t.config)
            .arg("serve")
            .env("OPENPISTA_HOME", t.home())
            .env("HOME", t.dir())
            .env("OPENPISTA_LOG", "warn")
            .env(KEY_ENV, KEY)
            .env_remove("OPENPISTA_CONFIG")
            .env_remove("OPENPISTA_LISTEN")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("serve starts");
        let output = Arc::new(Mutex::new(String::new()));
        let out = child.stdout.take().unwrap();
        let err = child.stderr.take().unwrap();
        for reader in [
            Box::new(out) as Box<dyn tokio::io::AsyncRead + Send + Unpin>,
            Box::new(err),
        ] {
            let output = output.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(reader).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    output.lock().unwrap().push_str(&format!("{line}\n"));
                }
            });
        }
        let mut serve = Serve { child, output };
        let socket = t.home().join("control.sock");
        let started = std::time::Instant::now();
        loop {
            if let Some(status) = serve.child.try_wait().unwrap() {
                panic!("serve ended with {status}:\n{}", serve.output());
            }
            if std::os::unix::net::UnixStream::connect(&socket).is_ok() {
                return serve;
            }
            assert!(
                started.elapsed() < STARTUP,
                "serve's control socket did not answer within {STARTUP:?}:\n{}",
                serve.output()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub(super) fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// SIGTERM, and a few seconds to wind down (then the kill on drop).
    pub(super) async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            // SAFETY: a plain kill(2) of our own child.
            unsafe { libc::kill(pid as i32, libc::SIGTERM) };
        }
        let _ = tokio::time::timeout(Duration::from_secs(20), self.child.wait()).await;
    }
}

type Ws = WebSocketStream<TcpStream>;

/// The web page: a WebSocket client of the web channel.
struct WebPage {
    out: tokio::sync::mpsc::UnboundedSender<Message>,
    frames: SplitStream<Ws>,
    pinger: tokio::task::JoinHandle<()>,
}

impl WebPage {
    /// Connects to `/ws` as `client`, the token by subprotocol, as the
    /// page does; pings at once (the server's `ready` waits for a first
    /// frame) and every 10 s.
    async fn open(addr: SocketAddr, token: &str, client: &str) -> WebPage {
        let mut request = format!("ws://{addr}/ws?client={client}")
            .into_client_request()
            .unwrap();
        request.headers_mut().insert(
            "sec-websocket-protocol",
            format!("openpista, token.{token}").parse().unwrap(),
        );
        let tcp = TcpStream::connect(addr).await.unwrap();
        let (ws, _) = tokio_tungstenite::client_async(request, tcp)
            .await
            .expect("the web channel accepts the page");
        let (mut sink, frames) = ws.split();
        let (out, mut queue) = tokio::sync::mpsc::unbounded_channel::<Message>();
        let pinger = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(10));
            let mut t = 0u64;
            loop {
                let message = tokio::select! {
                    m = queue.recv() => match m {
                        Some(m) => m,
                        None => return,
                    },
                    _ = tick.tick() => {
                        t += 1;
                        Message::Text(json!({"type": "ping", "t": t}).to_string().into())
                    }
                };
                if sink.send(message).await.is_err() {
                    return;
                }
            }
        });
        WebPage {
            out,
            frames,
            pinger,
        }
    }

    fn send(&self, frame: Value) {
        self.out
            .send(Message::Text(frame.to_string().into()))
            .expect("the page's sender runs");
    }

    /// The next JSON frame other than a `pong`, within [`WAIT`].
    async fn next(&mut self) -> Value {
        loop {
            let m = tokio::time::timeout(WAIT, self.frames.next())
                .await
                .unwrap_or_else(|_| panic!("the page got no frame within {WAIT:?}"))
                .expect("the page's connection is open")
                .expect("a frame, not an error");
            match m {
                Message::Text(t) => {
                    let v: Value = serde_json::from_str(&t).unwrap();
                    if v["type"] != "pong" {
                        return v;
                    }
                }
                Message::Ping(_) | Message::Pong(_) => {}
                other => panic!("the page got {other:?}"),
            }
        }
    }

    /// Frames up to and including the next `message` frame.
    async fn until_message(&mut self) -> Vec<Value> {
        let mut seen = Vec::new();
        loop {
            let f = self.next().await;
            let done = f["type"] == "message";
            seen.push(f);
            if done {
                return seen;
            }
        }
    }
}

impl Drop for WebPage {
    fn drop(&mut self) {
        self.pinger.abort();
    }
}

/// The concatenated text of the `delta` frames of `frames`.
fn deltas(frames: &[Value]) -> String {
    frames
        .iter()
        .filter(|f| f["type"] == "delta")
        .filter_map(|f| f["text"].as_str())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_terminal_and_a_web_page_share_a_session_through_serve() {
    let provider = Provider::start().await;
    let port = free_port();
    let config = format!(
        "{}\n[server]\nlisten = \"127.0.0.1:{port}\"\n[runtime]\nplugin_dirs = []\n",
        provider.config()
    );
    let Some(t) = Terminal::open(&config).await else {
        return;
    };
    let tmux = &t.tmux;
    let mut serve = Serve::start(&t).await;
    let token = std::fs::read_to_string(t.home().join("web-token"))
        .unwrap_or_else(|e| panic!("serve stored no web token: {e}\n{}", serve.output()));
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let session = format!("web:{CLIENT}");

    // The page connects first.
    let mut page = WebPage::open(addr, token.trim(), CLIENT).await;
    let ready = page.next().await;
    assert_eq!(ready["type"], "ready", "{ready}");
    assert_eq!(ready["session"], session.as_str(), "{ready}");

    // The TUI joins the page's session through serve.
    let tui = t.start(&format!("-s {session}"));
    t.wait("the TUI attached to serve", STARTUP, |s| {
        status_shows(s, &session, &["attached", "idle"])
    })
    .await;
    assert!(tmux.alternate_on(), "the TUI runs in the alternate screen");

    // The page speaks: the terminal shows it and the answer.
    provider.push(Reply::stream_text(&["Answer ", "for the ", "web page."]));
    page.send(json!({"type": "message", "id": "page-1", "text": "from the web page"}));
    let frames = page.until_message().await;
    let answer = frames.last().unwrap();
    assert_eq!(answer["text"], "Answer for the web page.", "{frames:#?}");
    assert_eq!(answer["error"], false, "{frames:#?}");
    assert!(
        !frames.iter().any(|f| f["type"] == "user"),
        "the page is not sent its own message back: {frames:#?}"
    );
    let screen = t
        .wait(
            "the page's message and its answer on the terminal",
            WAIT,
            |s| {
                user_lines(s, "from the web page") >= 1
                    && s.contains("Answer for the web page.")
                    && status_shows(s, &session, &["idle"])
            },
        )
        .await;
    assert_eq!(
        user_lines(&screen, "from the web page"),
        1,
        "the page's message is shown once:\n{}",
        framed(&screen)
    );

    // The terminal speaks: the page gets it as a `user` frame, then the
    // answer, streamed.
    provider.push(Reply::stream_text(&["Answer ", "for the ", "terminal."]));
    tmux.type_line("from the terminal");
    let frames = page.until_message().await;
    let user = frames
        .iter()
        .position(|f| f["type"] == "user")
        .unwrap_or_else(|| panic!("no `user` frame before the answer: {frames:#?}"));
    assert_eq!(frames[user]["text"], "from the terminal", "{frames:#?}");
    let first_delta = frames
        .iter()
        .position(|f| f["type"] == "delta")
        .unwrap_or_else(|| panic!("the answer was not streamed: {frames:#?}"));
    assert!(
        user < first_delta,
        "the user frame comes before the answer: {frames:#?}"
    );
    assert_eq!(deltas(&frames), "Answer for the terminal.", "{frames:#?}");
    let answer = frames.last().unwrap();
    assert_eq!(answer["text"], "Answer for the terminal.", "{frames:#?}");
    assert_eq!(answer["error"], false, "{frames:#?}");
    let screen = t
        .wait("the terminal's message and its answer", WAIT, |s| {
            user_lines(s, "from the terminal") >= 1
                && s.contains("Answer for the terminal.")
                && status_shows(s, &session, &["idle"])
        })
        .await;
    assert_eq!(
        user_lines(&screen, "from the terminal"),
        1,
        "the terminal's message is shown once (not again when the channel \
         repeats it):\n{}",
        framed(&screen)
    );
    assert_eq!(
        user_lines(&screen, "from the web page"),
        1,
        "{}",
        framed(&screen)
    );

    // One session: the second request carries the first exchange.
    let chats = provider.chats();
    assert_eq!(chats.len(), 2, "two requests to the model");
    let said: Vec<(String, String)> = chats[1].body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "user" || m["role"] == "assistant")
        .map(|m| {
            (
                m["role"].as_str().unwrap().to_string(),
                m["content"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = [
        ("user", "from the web page"),
        ("assistant", "Answer for the web page."),
        ("user", "from the terminal"),
    ]
    .iter()
    .map(|(r, c)| (r.to_string(), c.to_string()))
    .collect();
    assert_eq!(said, expected, "both sides spoke in one session");

    // /quit: the terminal is clean, serve goes on.
    tmux.type_line("/quit");
    t.assert_exited_cleanly(tui).await;
    assert!(
        serve.running(),
        "serve runs on after the TUI quit:\n{}",
        serve.output()
    );
    drop(page);
    serve.stop().await;
}
