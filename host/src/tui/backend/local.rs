//! The agent in this process, as `chat` runs it: turns on tasks, stop by
//! dropping the turn, approvals asked in the TUI, sessions in the memory
//! database (`tui:default`, `tui:2`, …), their titles and model picks
//! kept under the host's own `@tui` records.

use super::super::action::{
    Action, ApprovalRequest, Choice, Effect, Event, Role, SessionRow, StoredLine,
};
use super::{Backend, BoxFuture, Services};
use crate::agent::{Agent, TurnControl, TurnEvent, TurnInput};
use crate::approvals::{Approvals, Asker, Outcome, Request};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc::UnboundedSender, oneshot};
use tokio::task::JoinHandle;

/// The host's records of the TUI in the key-value table (no component can
/// be named `@tui`).
const RECORDS: &str = "@tui";
/// Messages of a session shown when it opens.
const SHOWN: usize = 500;

type Waiters = Arc<Mutex<HashMap<String, oneshot::Sender<Outcome>>>>;

pub struct Local {
    agent: Arc<Agent>,
    services: Arc<dyn Services>,
    tx: UnboundedSender<Action>,
    /// The session on screen; events of turns in others are not shown.
    current: Arc<Mutex<String>>,
    running: Option<(String, JoinHandle<()>)>,
    waiters: Waiters,
    /// Where files that turns produce are saved.
    files: PathBuf,
    next_number: u64,
}

impl Local {
    pub fn new(
        agent: Arc<Agent>,
        services: Arc<dyn Services>,
        tx: UnboundedSender<Action>,
        files: PathBuf,
    ) -> Local {
        Local {
            agent,
            services,
            tx,
            current: Arc::new(Mutex::new(String::new())),
            running: None,
            waiters: Arc::default(),
            files,
            next_number: 2,
        }
    }

    fn send(&self, event: Event) {
        let _ = self.tx.send(Action::Backend(event));
    }

    fn error(&self, text: impl Into<String>) {
        self.send(Event::Message {
            text: text.into(),
            error: true,
        });
    }

    fn record(&self, key: &str) -> Option<String> {
        self.agent
            .memory
            .kv_get(RECORDS, key)
            .ok()
            .flatten()
            .and_then(|v| String::from_utf8(v).ok())
    }

    fn set_record(&self, key: &str, value: &str) {
        if let Err(e) = self.agent.memory.kv_set(RECORDS, key, value.as_bytes()) {
            self.error(format!("could not keep {key}: {e:#}"));
        }
    }

    fn sessions(&self) -> Vec<SessionRow> {
        let current = self.current.lock().expect("current").clone();
        let mut rows: Vec<SessionRow> = match self.agent.memory.sessions() {
            Ok(s) => s
                .into_iter()
                .map(|s| SessionRow {
                    title: self.record(&format!("title/{}", s.id)),
                    active: s.id == current,
                    id: s.id,
                    messages: s.messages,
                    last_active_ms: s.last_active_ms,
                })
                .collect(),
            Err(e) => {
                self.error(format!("could not list the sessions: {e:#}"));
                Vec::new()
            }
        };
        rows.sort_by_key(|r| std::cmp::Reverse(r.last_active_ms));
        rows
    }

    fn open(&mut self, session: &str) {
        *self.current.lock().expect("current") = session.to_string();
        let messages = match self.agent.memory.messages(session, SHOWN) {
            Ok(m) => m,
            Err(e) => {
                self.error(format!("could not read {session}: {e:#}"));
                return;
            }
        };
        let messages = messages
            .into_iter()
            .filter(|m| !m.content.trim().is_empty())
            .filter_map(|m| {
                let role = match m.role.as_str() {
                    "user" => Role::User,
                    "assistant" => Role::Assistant,
                    _ => return None,
                };
                Some(StoredLine {
                    role,
                    text: m.content,
                })
            })
            .collect();
        self.send(Event::Opened {
            session: session.to_string(),
            title: self.record(&format!("title/{session}")),
            messages,
        });
        if let Some(model) = self.record(&format!("model/{session}")) {
            self.send(Event::ModelChanged(model));
        }
    }

    /// The next `tui:N` no stored session has.
    fn new_session(&mut self) -> String {
        let taken: Vec<String> = self.sessions().into_iter().map(|s| s.id).collect();
        loop {
            let id = format!("tui:{}", self.next_number);
            self.next_number += 1;
            if !taken.contains(&id) {
                return id;
            }
        }
    }

    /// The provider and model a session's pick names (`provider/model`
    /// when the provider is configured, else a model of the default).
    fn pick(&self, session: &str) -> (Option<String>, Option<String>) {
        let Some(pick) = self.record(&format!("model/{session}")) else {
            return (None, None);
        };
        match pick.split_once('/') {
            Some((provider, model)) if self.agent.settings.providers.contains_key(provider) => {
                (Some(provider.to_string()), Some(model.to_string()))
            }
            _ => (None, Some(pick)),
        }
    }

    fn start_turn(&mut self, session: String, text: String) {
        if let Some((_, handle)) = &self.running
            && !handle.is_finished()
        {
            self.error("a turn is running; stop it first (Esc)");
            return;
        }
        let (provider, model) = self.pick(&session);
        let asker: Arc<dyn Asker> = Arc::new(TuiAsker {
            session: session.clone(),
            tx: self.tx.clone(),
            waiters: self.waiters.clone(),
        });
        let input = TurnInput {
            provider,
            model,
            control: TurnControl {
                channel: None,
                asker: Some(asker),
            },
            ..TurnInput::text(text)
        };
        let agent = self.agent.clone();
        let tx = self.tx.clone();
        let current = self.current.clone();
        let files = self.files.clone();
        let on = session.clone();
        let handle = tokio::spawn(async move {
            let shown = |s: &str| *current.lock().expect("current") == s;
            let sink = tx.clone();
            let here = on.clone();
            let current2 = current.clone();
            let result = agent
                .turn_with(&on, input, move |event| {
                    if *current2.lock().expect("current") != here {
                        return;
                    }
                    let event = match event {
                        TurnEvent::Text(t) => Event::Delta(t),
                        TurnEvent::ToolStarted { name, arguments } => {
                            Event::ToolStarted { name, arguments }
                        }
                        TurnEvent::ToolFinished { name, ok } => Event::ToolFinished { name, ok },
                    };
                    let _ = sink.send(Action::Backend(event));
                })
                .await;
            let done = match result {
                Ok(outcome) if shown(&on) => Event::TurnDone {
                    answer: Some(outcome.answer),
                    error: None,
                    files: save(&files, &outcome.attachments),
                },
                Err(e) if shown(&on) => Event::TurnDone {
                    answer: None,
                    error: Some(e.to_string()),
                    files: Vec::new(),
                },
                _ => Event::TurnDone {
                    answer: None,
                    error: None,
                    files: Vec::new(),
                },
            };
            let _ = tx.send(Action::Backend(done));
        });
        self.running = Some((session, handle));
    }

    fn stop(&mut self) {
        let Some((session, handle)) = self.running.take() else {
            return;
        };
        if handle.is_finished() {
            return;
        }
        handle.abort();
        let agent = self.agent.clone();
        let tx = self.tx.clone();
        tokio::spawn(async move {
            // The dropped turn's guards end its process, container and
            // request; then its history is closed so it stays valid.
            let _ = handle.await;
            let closed = tokio::task::spawn_blocking(move || agent.close_interrupted(&session))
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| r.map_err(|e| e.to_string()));
            let error = match closed {
                Ok(_) => "stopped by the user".to_string(),
                Err(e) => format!("stopped; the history could not be closed: {e}"),
            };
            let _ = tx.send(Action::Backend(Event::TurnDone {
                answer: None,
                error: Some(error),
                files: Vec::new(),
            }));
        });
    }
}

/// Saves the files a turn produced; `(name, path)` of each saved.
fn save(
    folder: &std::path::Path,
    files: &[crate::runtime::bindings::Attachment],
) -> Vec<(String, String)> {
    let mut saved = Vec::new();
    if files.is_empty() || std::fs::create_dir_all(folder).is_err() {
        return saved;
    }
    for (i, file) in files.iter().enumerate() {
        let name = file
            .name
            .clone()
            .filter(|n| !n.contains('/') && !n.starts_with('.') && !n.is_empty())
            .unwrap_or_else(|| format!("file-{i}"));
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        let path = folder.join(format!("{stamp}-{name}"));
        if std::fs::write(&path, &file.data).is_ok() {
            saved.push((name, path.display().to_string()));
        }
    }
    saved
}

impl Backend for Local {
    fn handle(&mut self, effect: Effect) {
        match effect {
            Effect::Send { session, text } => self.start_turn(session, text),
            Effect::Stop => self.stop(),
            Effect::Answer { id, choice } => {
                let outcome = match choice {
                    Choice::Approve => Outcome::Approved,
                    Choice::Allow => Outcome::Allowed,
                    Choice::Reject => Outcome::Rejected,
                };
                match self.waiters.lock().expect("waiters").remove(&id) {
                    Some(waiter) => {
                        let _ = waiter.send(outcome);
                    }
                    None => self.error(format!("no request {id} is waiting")),
                }
            }
            Effect::OpenSession(id) => {
                self.open(&id);
                self.send(Event::Sessions(self.sessions()));
            }
            Effect::NewSession => {
                let id = self.new_session();
                self.open(&id);
            }
            Effect::RenameSession { id, title } => {
                self.set_record(&format!("title/{id}"), &title);
                self.send(Event::Sessions(self.sessions()));
            }
            Effect::DeleteSession(id) => {
                if let Err(e) = self.agent.forget_session(&id) {
                    self.error(format!("could not delete {id}: {e:#}"));
                }
                for key in [format!("title/{id}"), format!("model/{id}")] {
                    let _ = self.agent.memory.kv_delete(RECORDS, &key);
                }
                if *self.current.lock().expect("current") == id {
                    self.open(&id);
                }
                self.send(Event::Sessions(self.sessions()));
            }
            Effect::ListSessions => self.send(Event::Sessions(self.sessions())),
            Effect::ListModels => {
                let services = self.services.clone();
                let tx = self.tx.clone();
                let current = self.current.lock().expect("current").clone();
                let pick = self.record(&format!("model/{current}"));
                tokio::spawn(async move {
                    let rows = services.models(pick).await;
                    let _ = tx.send(Action::Backend(Event::Models(rows)));
                });
            }
            Effect::UseModel { session, model } => {
                self.set_record(&format!("model/{session}"), &model);
                self.send(Event::ModelChanged(model));
            }
            Effect::ListLogins => super::logins(&self.services, &self.tx),
            Effect::Clear(session) => {
                if let Err(e) = self.agent.forget_session(&session) {
                    self.error(format!("could not clear {session}: {e:#}"));
                }
            }
            Effect::Query(query) => super::ask(&self.services, &self.tx, query),
            // The loop handles these itself.
            Effect::Login(_) | Effect::Copy(_) | Effect::Quit => {}
        }
    }

    fn shutdown(mut self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            if let Some((session, handle)) = self.running.take()
                && !handle.is_finished()
            {
                handle.abort();
                let _ = handle.await;
                let _ = self.agent.close_interrupted(&session);
            }
        })
    }
}

/// Asks for approval in the TUI: the request becomes a dialog, and the
/// answer comes back as [`Effect::Answer`].
struct TuiAsker {
    session: String,
    tx: UnboundedSender<Action>,
    waiters: Waiters,
}

impl Asker for TuiAsker {
    fn ask<'a>(
        &'a self,
        approvals: &'a Approvals,
        request: &'a Request,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Outcome> + Send + 'a>> {
        Box::pin(async move {
            let (answer, wait) = oneshot::channel();
            self.waiters
                .lock()
                .expect("waiters")
                .insert(request.id.clone(), answer);
            let _ = self
                .tx
                .send(Action::Backend(Event::Approval(ApprovalRequest {
                    id: request.id.clone(),
                    tool: request.tool.clone(),
                    arguments: request.arguments.clone(),
                    folder: request.folder.clone(),
                    timeout_secs: request.timeout.as_secs(),
                })));
            let outcome = match tokio::time::timeout(request.timeout, wait).await {
                Ok(Ok(outcome)) => outcome,
                Ok(Err(_)) => Outcome::Rejected,
                Err(_) => {
                    self.waiters.lock().expect("waiters").remove(&request.id);
                    let _ = self.tx.send(Action::Backend(Event::Settled {
                        id: request.id.clone(),
                        how: "expired".into(),
                    }));
                    Outcome::Expired
                }
            };
            if outcome == Outcome::Allowed {
                approvals.allow(&self.session, request);
            }
            outcome
        })
    }
}
