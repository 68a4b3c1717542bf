//! The gateway: every channel's inbound events go through here to the
//! agent, and every answer goes back to the channel the event came from.
//!
//! Events of one session are handled one after another, in arrival order
//! (a worker task per active session, fed by a queue); different sessions
//! run concurrently. A session's worker ends after a minute without
//! events. Answers stream back as `live.send-delta` pieces, then the whole
//! answer through `messenger.send`; errors go back as error answers, so a
//! user always hears something.
//!
//! - [`channels`]: driving a channel component's long-lived instance
//! - [`sockets`]: what the WebSockets a channel opened deliver to it
//! - [`commands`]: `/clear`, `/session`, `/model`, for every channel
//! - `control`: approval requests and answers, `/stop`
//! - [`sessions`]: several sessions per conversation (`/new`, `/sessions`)
//! - [`cron`]: scheduled messages
//! - [`remote`]: the seams a cluster splits the gateway at (edges forward
//!   events, workers answer through the edge an event came from)

mod answer;
pub mod bridge;
pub mod channels;
pub mod commands;
mod control;
pub mod cron;
pub mod delivery;
pub mod identity;
mod model_command;
pub mod remote;
pub mod sessions;
pub mod sockets;

use crate::agent::{Agent, TurnControl, TurnEvent, TurnInput};
use crate::runtime::bindings::Attachment;
use crate::runtime::bindings::channel::exports::openpista::plugin::messenger::{
    Command, InboundEvent, StatusKind,
};
use crate::telemetry::metrics;
use channels::Delivery;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::sync::mpsc;

/// `[gateway]`: how sessions are queued.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GatewaySettings {
    /// Events one session may have waiting behind the one being handled.
    /// A sender past it is told the agent is busy; nothing already
    /// accepted is dropped.
    pub session_queue: usize,
    /// Seconds a session's worker waits for another event before it ends.
    pub idle_secs: u64,
}

impl Default for GatewaySettings {
    fn default() -> Self {
        GatewaySettings {
            session_queue: 32,
            idle_secs: 60,
        }
    }
}

/// What became of a dispatched event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dispatched {
    /// Queued behind the session's earlier events.
    Queued,
    /// The session's queue was full: the sender was told so, the event
    /// was not taken.
    Busy,
    /// The gateway is closed (the host is stopping).
    Closed,
    /// The event named a session that is not its channel's: refused.
    Foreign,
}

pub(crate) use crate::memory::now_ms;

/// Where an event came from: the channel its answer goes back to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The channel id the host gave the channel ([`identity::channel_id`]).
    pub channel: String,
    /// True for events the operator configured (`[[cron]]`): their session
    /// is the operator's choice, not a channel's claim.
    pub operator: bool,
    /// In a cluster, the edge the event came through (set on the worker
    /// that answers it).
    pub via: Option<remote::Via>,
}

impl Origin {
    /// An event a channel component produced: it may name only its own
    /// sessions.
    pub fn channel(id: &str) -> Origin {
        Origin {
            channel: id.to_string(),
            operator: false,
            via: None,
        }
    }

    /// An event the operator's configuration made, answered on `id`.
    pub fn operator(id: &str) -> Origin {
        Origin {
            channel: id.to_string(),
            operator: true,
            via: None,
        }
    }
}

/// An event as the gateway handles it: in a session the host named.
#[derive(Debug, Clone)]
pub struct Incoming {
    /// `ID:CONVERSATION` for a channel's event.
    pub session: String,
    pub sender: String,
    pub text: String,
    pub attachments: Vec<Attachment>,
    pub command: Option<Command>,
}

impl Incoming {
    /// A channel's event: its session is the channel's id, `:`, and the
    /// conversation the channel named, so a channel cannot reach another
    /// channel's sessions. An empty conversation stays invalid.
    pub fn from_channel(id: &str, event: InboundEvent) -> Incoming {
        Incoming {
            session: format!("{id}:{}", event.conversation),
            sender: event.sender,
            text: event.text,
            attachments: event.attachments,
            command: event.command,
        }
    }
}

struct Job {
    origin: Origin,
    event: Incoming,
    /// Told once the event is handled (answered, or refused with a word
    /// to its sender); dropped unsent when it was not.
    done: Option<tokio::sync::oneshot::Sender<()>>,
}

/// Counters for status pages and tests.
#[derive(Debug, Default)]
pub struct GatewayStats {
    pub events: AtomicU64,
    pub turns: AtomicU64,
    pub failed_turns: AtomicU64,
    pub undelivered: AtomicU64,
    /// Events refused because their session's queue was full.
    pub busy: AtomicU64,
    /// Events refused because their channel named another's session.
    pub foreign: AtomicU64,
}

/// A turn being answered: its stop signal and whose message started it.
struct RunningTurn {
    stop: Arc<tokio::sync::Notify>,
    /// The sender (in the channel's terms) of the message being answered.
    sender: String,
}

/// A session's worker task: its queue, and a handle to drop it with
/// everything queued ([`Gateway::abandon`]).
struct SessionWorker {
    queue: mpsc::Sender<Job>,
    task: tokio::task::AbortHandle,
}

/// Routes inbound events to sessions and answers back to channels.
pub struct Gateway {
    agent: Arc<Agent>,
    channels: RwLock<BTreeMap<String, Arc<dyn Delivery>>>,
    sessions: Mutex<HashMap<String, SessionWorker>>,
    /// Each session's running turn, which `/stop` ends.
    running: Mutex<HashMap<String, RunningTurn>>,
    idle: Duration,
    queue: usize,
    closed: std::sync::atomic::AtomicBool,
    pub stats: GatewayStats,
    /// The MCP servers whose prompts `/prompt` offers.
    mcp: std::sync::OnceLock<Arc<crate::mcp::McpClients>>,
    /// On an edge: where events go instead of the session workers.
    forward: std::sync::OnceLock<Arc<dyn remote::Forward>>,
    /// On a worker: how answers reach channels of other nodes.
    routes: std::sync::OnceLock<Arc<dyn remote::Routes>>,
}

impl Gateway {
    pub fn new(agent: Arc<Agent>) -> Arc<Gateway> {
        Self::with_settings(agent, &GatewaySettings::default())
    }

    pub fn with_settings(agent: Arc<Agent>, settings: &GatewaySettings) -> Arc<Gateway> {
        Arc::new(Gateway {
            agent,
            channels: RwLock::new(BTreeMap::new()),
            sessions: Mutex::new(HashMap::new()),
            running: Mutex::new(HashMap::new()),
            idle: Duration::from_secs(settings.idle_secs.max(1)),
            queue: settings.session_queue.max(1),
            closed: std::sync::atomic::AtomicBool::new(false),
            stats: GatewayStats::default(),
            mcp: std::sync::OnceLock::new(),
            forward: std::sync::OnceLock::new(),
            routes: std::sync::OnceLock::new(),
        })
    }

    /// The MCP servers whose prompts `/prompt` offers (set once, at start).
    pub fn set_mcp(&self, mcp: Arc<crate::mcp::McpClients>) {
        let _ = self.mcp.set(mcp);
    }

    pub(crate) fn mcp(&self) -> Option<&Arc<crate::mcp::McpClients>> {
        self.mcp.get()
    }

    pub fn agent(&self) -> &Arc<Agent> {
        &self.agent
    }

    /// Registers where answers for channel `id` go. A channel id already
    /// taken is refused: the first channel keeps it.
    pub fn add_channel(&self, id: &str, delivery: Arc<dyn Delivery>) -> Result<(), String> {
        let mut channels = self.channels.write().unwrap();
        if channels.contains_key(id) {
            return Err(format!("channel id {id} is already served"));
        }
        channels.insert(id.to_string(), delivery);
        Ok(())
    }

    /// Whether channel `id` is registered.
    pub fn has_channel(&self, id: &str) -> bool {
        self.channels.read().unwrap().contains_key(id)
    }

    /// The driver of channel `channel` on this node.
    pub fn local_delivery(&self, channel: &str) -> Option<Arc<dyn Delivery>> {
        self.channels.read().unwrap().get(channel).cloned()
    }

    /// Stops taking events and lets every session worker end after the
    /// event it is handling (called when the host stops).
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.sessions.lock().unwrap().clear();
    }

    /// Drops, silently, what the sessions `which` selects are doing and
    /// have queued: the turn under way ends where it is (as with `/stop`),
    /// and no event of theirs is reported handled. A cluster worker does
    /// this on losing a partition: its new owner handles those events, and
    /// two nodes must not answer one session at once. Returns how many
    /// sessions were dropped.
    pub fn abandon(&self, which: impl Fn(&str) -> bool) -> usize {
        let mut sessions = self.sessions.lock().unwrap();
        let dropped: Vec<String> = sessions.keys().filter(|s| which(s)).cloned().collect();
        for session in &dropped {
            if let Some(worker) = sessions.remove(session) {
                worker.task.abort();
            }
            self.running.lock().unwrap().remove(session);
        }
        dropped.len()
    }

    /// Sessions with a worker right now.
    pub fn active_sessions(&self) -> usize {
        self.sessions.lock().unwrap().len()
    }

    /// Queues `event` behind the session's earlier events. When the
    /// session already has `[gateway] session_queue` events waiting, the
    /// event is refused and its sender told the agent is busy: memory stays
    /// bounded whatever a sender does, and nothing accepted is lost.
    /// On an edge ([`Gateway::set_forward`]) the event goes to the
    /// cluster instead.
    pub fn dispatch(self: &Arc<Self>, origin: Origin, event: Incoming) -> Dispatched {
        self.dispatch_with(origin, event, None, true)
    }

    /// [`dispatch`](Self::dispatch) here whatever the node's role, telling
    /// `done` once the event is handled: a worker acknowledges the event
    /// to the cluster then, and not before.
    pub fn dispatch_tracked(
        self: &Arc<Self>,
        origin: Origin,
        event: Incoming,
        done: tokio::sync::oneshot::Sender<()>,
    ) -> Dispatched {
        self.dispatch_with(origin, event, Some(done), false)
    }

    fn dispatch_with(
        self: &Arc<Self>,
        origin: Origin,
        event: Incoming,
        done: Option<tokio::sync::oneshot::Sender<()>>,
        may_forward: bool,
    ) -> Dispatched {
        if self.closed.load(Ordering::Acquire) {
            tracing::warn!(session = %event.session, "the gateway is closed; event dropped");
            return Dispatched::Closed;
        }
        if !origin.operator
            && let Err(why) = identity::check_session(&origin.channel, &event.session)
        {
            self.stats.foreign.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(channel = %origin.channel, "event refused: {why}");
            return Dispatched::Foreign;
        }
        self.stats.events.fetch_add(1, Ordering::Relaxed);
        if may_forward && let Some(forward) = self.forward.get() {
            metrics::channel_message(&origin.channel, metrics::Direction::In);
            let limits = self
                .local_delivery(&origin.channel)
                .map(|d| d.limits())
                .unwrap_or_default();
            return match forward.forward(origin.clone(), event.clone(), limits) {
                Ok(dispatched) => dispatched,
                Err(why) => {
                    self.refuse(
                        Job {
                            origin,
                            event,
                            done,
                        },
                        why,
                    );
                    Dispatched::Busy
                }
            };
        }
        if origin.via.is_none() {
            metrics::channel_message(&origin.channel, metrics::Direction::In);
        }
        if self.control_now(&origin, &event) {
            if let Some(done) = done {
                let _ = done.send(());
            }
            return Dispatched::Queued;
        }
        let session = event.session.clone();
        let mut sessions = self.sessions.lock().unwrap();
        let job = Job {
            origin,
            event,
            done,
        };
        let job = match sessions.get(&session) {
            Some(worker) => match worker.queue.try_send(job) {
                Ok(()) => return Dispatched::Queued,
                Err(mpsc::error::TrySendError::Full(job)) => {
                    drop(sessions);
                    self.refuse_busy(job);
                    return Dispatched::Busy;
                }
                Err(mpsc::error::TrySendError::Closed(job)) => job,
            },
            None => job,
        };
        let (tx, rx) = mpsc::channel(self.queue);
        tx.try_send(job).expect("a new queue has room");
        let task = tokio::spawn(self.clone().worker(session.clone(), rx)).abort_handle();
        sessions.insert(session, SessionWorker { queue: tx, task });
        Dispatched::Queued
    }

    /// Tells the sender of `job` that their session is busy; the answer
    /// goes straight to the channel, past the full queue.
    fn refuse_busy(self: &Arc<Self>, job: Job) {
        tracing::warn!(session = %job.event.session, queue = self.queue, "session queue full; event refused");
        let text = format!(
            "Busy: {} earlier messages of this conversation are still waiting, so this one was not taken. Send it again once I have answered.",
            self.queue
        );
        self.refuse(job, text);
    }

    /// Tells the sender of `job` why it was not taken.
    fn refuse(self: &Arc<Self>, mut job: Job, text: String) {
        self.stats.busy.fetch_add(1, Ordering::Relaxed);
        let gateway = self.clone();
        tokio::spawn(async move {
            gateway
                .deliver(&job.origin, &job.event.session, text, Vec::new(), true)
                .await;
            if let Some(done) = job.done.take() {
                let _ = done.send(());
            }
        });
    }

    /// Handles one session's events in order; ends when idle.
    async fn worker(self: Arc<Self>, session: String, mut rx: mpsc::Receiver<Job>) {
        loop {
            match tokio::time::timeout(self.idle, rx.recv()).await {
                Ok(Some(mut job)) => {
                    let done = job.done.take();
                    self.handle(job).await;
                    if let Some(done) = done {
                        let _ = done.send(());
                    }
                }
                Ok(None) => return,
                Err(_) => {
                    // Dispatch sends under this lock, so nothing can slip
                    // in between the check and the removal.
                    let mut sessions = self.sessions.lock().unwrap();
                    if rx.is_empty() {
                        sessions.remove(&session);
                        return;
                    }
                }
            }
        }
    }

    /// One event: a command, or a turn of the agent.
    async fn handle(self: &Arc<Self>, job: Job) {
        let Job {
            origin, mut event, ..
        } = job;
        // `session` is the conversation's (where answers go); `stored` the
        // session of it that is active (where the turn is kept).
        let session = event.session.clone();
        let stored = self.active_session(&session);
        if let Some(command) = event.command.take() {
            // `/prompt NAME ARGS` becomes the turn's message: an MCP
            // server's prompt, filled in.
            if command.name != "prompt" {
                let reply =
                    commands::run(self, &session, &stored, &command.name, &command.args).await;
                self.reply(&origin, &session, reply).await;
                return;
            }
            match commands::prompt(self, &command.args).await {
                Ok(text) => event.text = text,
                Err(reply) => {
                    self.reply(&origin, &session, reply).await;
                    return;
                }
            }
        }
        // A cluster event may come again (its worker died before
        // acknowledging it): its earlier attempt decides what is left to do.
        let (event_id, redo) = match &origin.via {
            Some(via) if !via.redelivered => (Some(via.event.clone()), false),
            Some(via) => match self.agent.attempt(&stored, &via.event) {
                Ok(crate::agent::control::Attempt::New) => (Some(via.event.clone()), false),
                Ok(crate::agent::control::Attempt::Interrupted) => {
                    tracing::info!(%session, event = %via.event, "cluster: redoing an interrupted turn");
                    (Some(via.event.clone()), true)
                }
                Ok(crate::agent::control::Attempt::Answered(answer)) => {
                    tracing::info!(%session, event = %via.event, "cluster: event answered before; its answer goes out again, once");
                    self.deliver(&origin, &session, answer, Vec::new(), false)
                        .await;
                    return;
                }
                Err(e) => {
                    tracing::warn!(%session, "cluster: earlier attempts unknown: {e}");
                    (Some(via.event.clone()), false)
                }
            },
            None => (None, false),
        };
        self.status(&origin, &session, StatusKind::Thinking).await;
        let asker = control::ChannelAsker {
            gateway: self.clone(),
            origin: origin.clone(),
            session: session.clone(),
            stored: stored.clone(),
            sender: event.sender.clone(),
        };
        let chosen = self.session_model(&stored);
        let input = TurnInput {
            text: event.text,
            attachments: event.attachments,
            model: chosen.model,
            provider: chosen.provider,
            control: TurnControl {
                channel: Some(origin.channel.clone()),
                asker: Some(Arc::new(asker)),
            },
            event: event_id,
            redo,
        };
        let stop = Arc::new(tokio::sync::Notify::new());
        self.running.lock().unwrap().insert(
            session.clone(),
            RunningTurn {
                stop: stop.clone(),
                sender: event.sender.clone(),
            },
        );
        // Pieces of the answer go out as they come, coalesced while the
        // channel is busy with the previous one.
        let (tx, mut rx) = mpsc::unbounded_channel::<String>();
        let delivery = self.route(&origin, &origin.channel);
        let forward = async {
            while let Some(first) = rx.recv().await {
                let mut piece = first;
                while let Ok(more) = rx.try_recv() {
                    piece.push_str(&more);
                }
                if let Some(d) = &delivery
                    && let Err(e) = d
                        .delta(conversation_of(&origin.channel, &session), &piece)
                        .await
                {
                    tracing::debug!("delta not delivered: {e}");
                }
            }
        };
        let session_ref = stored.as_str();
        let turn = async move {
            let outcome = self
                .agent
                .turn_with(session_ref, input, |e| {
                    if let TurnEvent::Text(t) = e {
                        let _ = tx.send(t);
                    }
                })
                .await;
            drop(tx);
            outcome
        };
        // `/stop` drops the turn: the provider stream, running tool calls
        // (process groups killed, containers removed) and any approval
        // wait end with it; the session is then closed validly.
        let outcome = tokio::select! {
            (outcome, ()) = async { tokio::join!(turn, forward) } => Some(outcome),
            () = stop.notified() => None,
        };
        self.running.lock().unwrap().remove(&session);
        let Some(outcome) = outcome else {
            let text = match self.agent.close_interrupted(&stored) {
                Ok(0) => "Stopped.".to_string(),
                Ok(n) => format!("Stopped. {n} tool call(s) did not finish."),
                Err(e) => format!("Stopped, but the conversation could not be closed: {e}"),
            };
            tracing::info!(%session, "turn stopped");
            self.deliver(&origin, &session, text, Vec::new(), false)
                .await;
            self.status(&origin, &session, StatusKind::Idle).await;
            return;
        };
        self.stats.turns.fetch_add(1, Ordering::Relaxed);
        let (text, attachments, is_error) = match outcome {
            Ok(o) => (o.answer, o.attachments, false),
            Err(e) => {
                self.stats.failed_turns.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(%session, channel = %origin.channel, "turn failed: {e}");
                (e.to_string(), Vec::new(), true)
            }
        };
        self.deliver(&origin, &session, text, attachments, is_error)
            .await;
        self.status(&origin, &session, StatusKind::Idle).await;
    }
}

/// The conversation a channel knows `session` by: what follows its id.
/// A session the operator chose outside the channel's names (a `[[cron]]`
/// entry with its own `channel`) is passed whole.
fn conversation_of<'a>(channel: &str, session: &'a str) -> &'a str {
    session
        .strip_prefix(channel)
        .and_then(|r| r.strip_prefix(':'))
        .unwrap_or(session)
}
