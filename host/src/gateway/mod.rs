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
//! - [`commands`]: `/clear`, `/session`, `/model`, for every channel
//! - [`cron`]: scheduled messages

pub mod bridge;
pub mod channels;
pub mod commands;
pub mod cron;
pub mod pairing;

use crate::agent::{Agent, TurnEvent, TurnInput};
use crate::runtime::bindings::channel::exports::openpista::plugin::messenger::{
    InboundEvent, Outbound, StatusKind,
};
use channels::Delivery;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::sync::mpsc;

pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Where an event came from: the channel its answer goes back to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub channel: String,
}

impl Origin {
    pub fn channel(name: &str) -> Origin {
        Origin {
            channel: name.to_string(),
        }
    }
}

struct Job {
    origin: Origin,
    event: InboundEvent,
}

/// Counters for status pages and tests.
#[derive(Debug, Default)]
pub struct GatewayStats {
    pub events: AtomicU64,
    pub turns: AtomicU64,
    pub failed_turns: AtomicU64,
    pub undelivered: AtomicU64,
}

/// Routes inbound events to sessions and answers back to channels.
pub struct Gateway {
    agent: Arc<Agent>,
    channels: RwLock<BTreeMap<String, Arc<dyn Delivery>>>,
    sessions: Mutex<HashMap<String, mpsc::UnboundedSender<Job>>>,
    /// `/model NAME` choices, per session.
    models: Mutex<HashMap<String, String>>,
    idle: Duration,
    closed: std::sync::atomic::AtomicBool,
    pub stats: GatewayStats,
}

impl Gateway {
    pub fn new(agent: Arc<Agent>) -> Arc<Gateway> {
        Arc::new(Gateway {
            agent,
            channels: RwLock::new(BTreeMap::new()),
            sessions: Mutex::new(HashMap::new()),
            models: Mutex::new(HashMap::new()),
            idle: Duration::from_secs(60),
            closed: std::sync::atomic::AtomicBool::new(false),
            stats: GatewayStats::default(),
        })
    }

    pub fn agent(&self) -> &Arc<Agent> {
        &self.agent
    }

    /// Registers where answers for channel `name` go.
    pub fn add_channel(&self, name: &str, delivery: Arc<dyn Delivery>) {
        self.channels
            .write()
            .unwrap()
            .insert(name.to_string(), delivery);
    }

    fn delivery(&self, channel: &str) -> Option<Arc<dyn Delivery>> {
        self.channels.read().unwrap().get(channel).cloned()
    }

    /// Stops taking events and lets every session worker end after the
    /// event it is handling (called when the host stops).
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.sessions.lock().unwrap().clear();
    }

    /// Sessions with a worker right now.
    pub fn active_sessions(&self) -> usize {
        self.sessions.lock().unwrap().len()
    }

    /// Queues `event` behind the session's earlier events.
    pub fn dispatch(self: &Arc<Self>, origin: Origin, event: InboundEvent) {
        if self.closed.load(Ordering::Acquire) {
            tracing::warn!(session = %event.session, "the gateway is closed; event dropped");
            return;
        }
        self.stats.events.fetch_add(1, Ordering::Relaxed);
        let session = event.session.clone();
        let mut sessions = self.sessions.lock().unwrap();
        let job = Job { origin, event };
        let job = match sessions.get(&session) {
            Some(tx) => match tx.send(job) {
                Ok(()) => return,
                Err(mpsc::error::SendError(job)) => job,
            },
            None => job,
        };
        let (tx, rx) = mpsc::unbounded_channel();
        tx.send(job).expect("receiver is alive");
        sessions.insert(session.clone(), tx);
        tokio::spawn(self.clone().worker(session, rx));
    }

    /// Handles one session's events in order; ends when idle.
    async fn worker(self: Arc<Self>, session: String, mut rx: mpsc::UnboundedReceiver<Job>) {
        loop {
            match tokio::time::timeout(self.idle, rx.recv()).await {
                Ok(Some(job)) => self.handle(job).await,
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

    async fn deliver(&self, origin: &Origin, message: Outbound) {
        match self.delivery(&origin.channel) {
            Some(d) => {
                if let Err(e) = d.send(message).await {
                    self.stats.undelivered.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(channel = %origin.channel, "answer not delivered: {e}");
                }
            }
            None => {
                self.stats.undelivered.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    channel = %origin.channel,
                    session = %message.session,
                    "no channel {:?} is running; the answer is only in memory",
                    origin.channel
                );
            }
        }
    }

    async fn status(&self, origin: &Origin, session: &str, kind: StatusKind) {
        if let Some(d) = self.delivery(&origin.channel)
            && let Err(e) = d.status(session, kind).await
        {
            tracing::debug!(channel = %origin.channel, "status not shown: {e}");
        }
    }

    fn metadata<'a>(event: &'a InboundEvent, key: &str) -> Option<&'a str> {
        event
            .metadata
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// One event: a command, or a turn of the agent.
    async fn handle(&self, job: Job) {
        let Job { origin, event } = job;
        let session = event.session.clone();
        if let Some(command) = Self::metadata(&event, "command") {
            let args = Self::metadata(&event, "args").unwrap_or("");
            let (text, is_error) = commands::run(self, &session, command, args).await;
            self.deliver(&origin, outbound(&session, text, Vec::new(), is_error))
                .await;
            return;
        }
        self.status(&origin, &session, StatusKind::Thinking).await;
        let input = TurnInput {
            text: event.text,
            attachments: event.attachments,
            model: self.models.lock().unwrap().get(&session).cloned(),
        };
        // Pieces of the answer go out as they come, coalesced while the
        // channel is busy with the previous one.
        let (tx, mut rx) = mpsc::unbounded_channel::<String>();
        let delivery = self.delivery(&origin.channel);
        let forward = async {
            while let Some(first) = rx.recv().await {
                let mut piece = first;
                while let Ok(more) = rx.try_recv() {
                    piece.push_str(&more);
                }
                if let Some(d) = &delivery
                    && let Err(e) = d.delta(&session, &piece).await
                {
                    tracing::debug!("delta not delivered: {e}");
                }
            }
        };
        let session_ref = session.as_str();
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
        let (outcome, ()) = tokio::join!(turn, forward);
        self.stats.turns.fetch_add(1, Ordering::Relaxed);
        let message = match outcome {
            Ok(o) => outbound(&session, o.answer, o.attachments, false),
            Err(e) => {
                self.stats.failed_turns.fetch_add(1, Ordering::Relaxed);
                outbound(&session, e.to_string(), Vec::new(), true)
            }
        };
        self.deliver(&origin, message).await;
        self.status(&origin, &session, StatusKind::Idle).await;
    }
}

fn outbound(
    session: &str,
    text: String,
    attachments: Vec<crate::runtime::bindings::Attachment>,
    is_error: bool,
) -> Outbound {
    Outbound {
        session: session.to_string(),
        text,
        attachments,
        is_error,
    }
}
