//! A client of the running server's web channel (docs/WEB_PROTOCOL.md):
//! the TUI joins the web session `web:CLIENT`, so a conversation is the
//! same on the page and in the terminal. Commands travel as the page's
//! do (`/new`, `/sessions N`, `/model X`, `/stop`, `/approve ID`); the
//! host answers them for every front end alike.

use super::super::action::{
    Action, ApprovalRequest, Choice, Effect, Event, ModelRow, Role, SessionRow, StoredLine,
};
use super::{Backend, BoxFuture, Services};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::mpsc::{self, UnboundedSender};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// Where the server is and who the TUI is to it.
#[derive(Debug, Clone)]
pub struct Target {
    /// `127.0.0.1:8480`: the listener (`[server] listen`).
    pub address: String,
    pub token: String,
    /// The web client id; the session is `web:CLIENT`.
    pub client: String,
}

pub struct Attached {
    services: Arc<dyn Services>,
    tx: UnboundedSender<Action>,
    out: mpsc::UnboundedSender<String>,
    /// A turn of this session runs (its `message` ends it).
    running: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
    /// The worker feed's poll.
    workers: tokio::task::JoinHandle<()>,
}

impl Attached {
    pub fn new(
        target: Target,
        services: Arc<dyn Services>,
        tx: UnboundedSender<Action>,
    ) -> Attached {
        let (out, rx) = mpsc::unbounded_channel();
        let running = Arc::new(AtomicBool::new(false));
        let workers = super::workers::follow_attached(target.clone(), tx.clone());
        let task = tokio::spawn(connection(target, tx.clone(), rx, running.clone()));
        Attached {
            workers,
            services,
            tx,
            out,
            running,
            task,
        }
    }

    fn text(&self, text: impl Into<String>) {
        let frame = json!({"type": "message", "id": next_id(), "text": text.into()});
        let _ = self.out.send(frame.to_string());
    }
}

fn next_id() -> String {
    use std::sync::atomic::AtomicU64;
    static N: AtomicU64 = AtomicU64::new(1);
    format!("tui-{}", N.fetch_add(1, Ordering::Relaxed))
}

/// Keeps the WebSocket open: connects, reads frames into events, writes
/// what the TUI sends, reconnects with backoff.
async fn connection(
    target: Target,
    tx: UnboundedSender<Action>,
    mut out: mpsc::UnboundedReceiver<String>,
    running: Arc<AtomicBool>,
) {
    let session = format!("web:{}", target.client);
    let mut backoff = Duration::from_millis(500);
    let mut first = true;
    loop {
        let socket = match connect(&target).await {
            Ok(s) => s,
            Err(e) => {
                let _ = tx.send(Action::Backend(Event::Connection(format!(
                    "cannot reach the server at {}: {e}; retrying",
                    target.address
                ))));
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(15));
                continue;
            }
        };
        backoff = Duration::from_millis(500);
        let _ = tx.send(Action::Backend(Event::Connection("attached".into())));
        let (mut write, mut read) = socket.split();
        // The first frame makes the channel say `ready`; then the session
        // list. The active session is not switched to for its history:
        // the switch's answer would go to every page of the session too.
        let hello = [
            json!({"type": "ping", "t": 0}).to_string(),
            json!({"type": "message", "id": next_id(), "text": "/sessions"}).to_string(),
        ];
        for frame in hello {
            let _ = write.send(Message::text(frame)).await;
        }
        if first {
            let _ = tx.send(Action::Backend(Event::Message {
                text: format!(
                    "Attached to the server as the web session {session}. New messages from every \
                     front end of it show here; /session opens a conversation with its history."
                ),
                error: false,
            }));
        }
        first = false;
        let mut heartbeat = tokio::time::interval(Duration::from_secs(15));
        loop {
            tokio::select! {
                frame = read.next() => {
                    let Some(Ok(frame)) = frame else { break };
                    let Message::Text(text) = frame else { continue };
                    let Ok(value) = serde_json::from_str::<Value>(text.as_str()) else { continue };
                    for event in events(&value, &session, &running) {
                        let _ = tx.send(Action::Backend(event));
                    }
                }
                frame = out.recv() => {
                    let Some(frame) = frame else { return };
                    if write.send(Message::text(frame)).await.is_err() {
                        break;
                    }
                }
                _ = heartbeat.tick() => {
                    let ping = json!({"type": "ping", "t": 0}).to_string();
                    if write.send(Message::text(ping)).await.is_err() {
                        break;
                    }
                }
            }
        }
        let _ = tx.send(Action::Backend(Event::Connection(
            "the server closed the connection; reconnecting".into(),
        )));
        tokio::time::sleep(backoff).await;
    }
}

type Socket = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

async fn connect(target: &Target) -> anyhow::Result<Socket> {
    let url = format!("ws://{}/ws?client={}", target.address, target.client);
    let mut request = url.as_str().into_client_request()?;
    request.headers_mut().insert(
        "sec-websocket-protocol",
        format!("openpista, token.{}", target.token).parse()?,
    );
    let stream = tokio::net::TcpStream::connect(&target.address).await?;
    let (socket, _) = tokio_tungstenite::client_async(request, stream).await?;
    Ok(socket)
}

/// The events one server frame means.
fn events(frame: &Value, session: &str, running: &AtomicBool) -> Vec<Event> {
    let text = |k: &str| frame[k].as_str().unwrap_or_default().to_string();
    match frame["type"].as_str().unwrap_or_default() {
        "delta" => {
            running.store(true, Ordering::Release);
            vec![Event::Delta(text("text"))]
        }
        "user" => {
            running.store(true, Ordering::Release);
            vec![Event::UserEcho(text("text"))]
        }
        "message" => {
            let error = frame["error"].as_bool().unwrap_or(false);
            let files: Vec<(String, String)> = frame["attachments"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|a| {
                    let name = a["name"].as_str().unwrap_or("file").to_string();
                    (name, "(on the server; see the web page)".to_string())
                })
                .collect();
            if running.swap(false, Ordering::AcqRel) {
                let (answer, error) = if error {
                    (None, Some(text("text")))
                } else {
                    (Some(text("text")), None)
                };
                vec![Event::TurnDone {
                    answer,
                    error,
                    files,
                }]
            } else {
                vec![Event::Message {
                    text: text("text"),
                    error,
                }]
            }
        }
        "error" => vec![Event::Message {
            text: text("message"),
            error: true,
        }],
        "approval" => vec![Event::Approval(ApprovalRequest {
            id: text("id"),
            tool: text("tool"),
            arguments: text("arguments"),
            folder: frame["folder"].as_str().map(str::to_string),
            timeout_secs: frame["timeout_secs"].as_u64().unwrap_or(0),
        })],
        "settled" => vec![Event::Settled {
            id: text("id"),
            how: text("how"),
        }],
        "sessions" => {
            let rows = frame["items"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|item| SessionRow {
                    id: item["number"].as_u64().unwrap_or(0).to_string(),
                    title: item["title"].as_str().map(str::to_string),
                    messages: item["messages"].as_u64().unwrap_or(0),
                    last_active_ms: 0,
                    active: item["active"].as_bool().unwrap_or(false),
                })
                .rev()
                .collect();
            vec![Event::Sessions(rows)]
        }
        "history" => {
            let messages = frame["messages"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|m| StoredLine {
                    role: if m["role"] == "user" {
                        Role::User
                    } else {
                        Role::Assistant
                    },
                    text: m["text"].as_str().unwrap_or_default().to_string(),
                })
                .collect();
            vec![Event::Opened {
                session: session.to_string(),
                title: frame["title"].as_str().map(str::to_string),
                messages,
            }]
        }
        "choices" => {
            // `/model` answers with buttons; they are the model list.
            let rows: Vec<ModelRow> = frame["buttons"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|b| {
                    let command = b["command"].as_str()?;
                    let model = command.strip_prefix("/model ")?;
                    Some(ModelRow {
                        id: model.to_string(),
                        note: b["label"].as_str().unwrap_or_default().to_string(),
                        current: false,
                    })
                })
                .collect();
            if rows.is_empty() {
                vec![Event::Message {
                    text: text("text"),
                    error: false,
                }]
            } else {
                vec![Event::Models(rows)]
            }
        }
        _ => Vec::new(),
    }
}

impl Backend for Attached {
    fn handle(&mut self, effect: Effect) {
        match effect {
            Effect::Send { text, .. } => {
                self.running.store(true, Ordering::Release);
                self.text(text);
            }
            Effect::Stop => self.text("/stop"),
            Effect::Answer { id, choice } => {
                let verb = match choice {
                    Choice::Approve => "approve",
                    Choice::Allow => "allow",
                    Choice::Reject => "reject",
                };
                self.text(format!("/{verb} {id}"));
            }
            // Sessions are numbered by the host within the conversation.
            Effect::OpenSession(n) => {
                if n.chars().all(|c| c.is_ascii_digit()) && !n.is_empty() {
                    self.text(format!("/sessions {n}"));
                }
            }
            Effect::NewSession => self.text("/new"),
            Effect::RenameSession { id, title } => {
                self.text(format!("/sessions rename {id} {title}"))
            }
            Effect::DeleteSession(id) => self.text(format!("/sessions delete {id}")),
            Effect::ListSessions => self.text("/sessions"),
            Effect::ListModels => self.text("/model"),
            Effect::UseModel { model, .. } => self.text(format!("/model {model}")),
            Effect::Clear(_) => self.text("/clear"),
            Effect::ListLogins => super::logins(&self.services, &self.tx),
            Effect::Query(query) => super::ask(&self.services, &self.tx, query),
            Effect::Login(_) | Effect::Copy(_) | Effect::Quit => {}
        }
    }

    fn shutdown(self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            self.task.abort();
            self.workers.abort();
        })
    }
}
