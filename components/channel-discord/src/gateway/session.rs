//! The Gateway connection as a pure state machine: events (a frame, a
//! tick, a close, an open that failed) and the time go in, [`Action`]s
//! for the glue come out. Nothing here calls the host, so every decision
//! (heartbeats, zombie connections, resume or identify, backoff, the send
//! budget) is tested natively.
//!
//! The life of a connection: the glue opens the URL of an [`Action::Open`]
//! and reports its id with [`Gateway::opened`]. Hello (op 10) sets the
//! heartbeat and is answered with Resume (op 6) when a session exists,
//! else Identify (op 2). [`Gateway::tick`] sends heartbeats (op 1 with the
//! last sequence): a heartbeat falling due while the previous one has no
//! ACK (op 11) means a zombie connection, closed with 4000 and resumed.
//! Reconnect (op 7) resumes at once; Invalid Session (op 9) resumes or
//! identifies afresh; a close is classified by [`close::classify`]. Waits
//! before reconnecting start at [`BACKOFF_MIN_MS`] and double up to
//! [`BACKOFF_MAX_MS`]; READY or RESUMED resets them.

use std::collections::VecDeque;

use serde_json::Value;

use super::budget::Budget;
use super::close::{self, AfterClose};
use super::frames::{self, Incoming};

/// The first wait before reconnecting.
pub const BACKOFF_MIN_MS: u64 = 1_000;
/// The longest wait before reconnecting.
pub const BACKOFF_MAX_MS: u64 = 60_000;
/// How long a new connection may take to say Hello.
pub const HELLO_TIMEOUT_MS: u64 = 30_000;
/// Close code for closes that keep the session resumable (anything but
/// 1000 and 1001, which end it).
pub const RESUMABLE_CLOSE: u16 = 4000;
/// Frames queued while the budget is spent; older ones are dropped.
const QUEUE_MAX: usize = 100;

/// What the glue does.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Open a WebSocket to this URL and report its id with
    /// [`Gateway::opened`] (or the failure with [`Gateway::open_failed`]).
    Open { url: String },
    /// Send this text frame on connection `id`.
    Send { id: u64, text: String },
    /// Close connection `id`.
    Close { id: u64, code: u16, reason: String },
    /// A dispatch for the component: READY and RESUMED are handled here
    /// but passed on too.
    Dispatch { name: String, data: Value },
    /// Something worth a log line (info level).
    Log(String),
    /// Something wrong worth a warning.
    Warn(String),
}

/// The state of the channel's connection, for the report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Not started.
    Idle,
    /// Opening, waiting for Hello, or identifying / resuming.
    Connecting,
    /// READY or RESUMED came: events flow.
    Connected,
    /// Waiting to reconnect.
    Waiting,
    /// Will not reconnect; why.
    Stopped(String),
}

/// The session a Resume continues.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    pub id: String,
    /// READY's `resume_gateway_url`, when it gave one.
    pub resume_url: Option<String>,
}

/// The current socket.
#[derive(Clone, Debug, PartialEq)]
struct Conn {
    id: u64,
    opened_ms: u64,
    /// Set after Hello.
    interval_ms: Option<u64>,
    next_heartbeat_ms: u64,
    awaiting_ack: bool,
    budget: Budget,
    queue: VecDeque<String>,
}

/// Everything the channel knows about its Gateway connection.
#[derive(Clone, Debug, PartialEq)]
pub struct Gateway {
    /// `GET /gateway/bot`'s URL.
    pub gateway_url: String,
    pub intents: u64,
    pub phase: Phase,
    pub session: Option<Session>,
    /// The last dispatch sequence.
    pub seq: Option<u64>,
    conn: Option<Conn>,
    /// When to open a new connection, when none is open.
    reconnect_at: Option<u64>,
    backoff_ms: u64,
    /// Sessions resumed since start.
    pub resumes: u32,
    /// The last close code and reason.
    pub last_close: Option<(u16, String)>,
}

impl Gateway {
    /// A gateway that has not started.
    pub fn new(gateway_url: &str, intents: u64) -> Self {
        Gateway {
            gateway_url: gateway_url.to_string(),
            intents,
            phase: Phase::Idle,
            session: None,
            seq: None,
            conn: None,
            reconnect_at: None,
            backoff_ms: BACKOFF_MIN_MS,
            resumes: 0,
            last_close: None,
        }
    }

    /// Starts connecting: the first [`Action::Open`].
    pub fn start(&mut self) -> Vec<Action> {
        self.phase = Phase::Connecting;
        self.reconnect_at = None;
        vec![self.open_action()]
    }

    /// The id of the open connection.
    pub fn connection(&self) -> Option<u64> {
        self.conn.as_ref().map(|c| c.id)
    }

    /// The URL to open next: the session's resume URL when resuming.
    fn open_action(&self) -> Action {
        let base = self
            .session
            .as_ref()
            .and_then(|s| s.resume_url.as_deref())
            .unwrap_or(&self.gateway_url);
        Action::Open {
            url: frames::connect_url(base),
        }
    }

    /// The connection the last [`Action::Open`] asked for has id `id`.
    pub fn opened(&mut self, id: u64, now_ms: u64) {
        self.conn = Some(Conn {
            id,
            opened_ms: now_ms,
            interval_ms: None,
            next_heartbeat_ms: 0,
            awaiting_ack: false,
            budget: Budget::new(),
            queue: VecDeque::new(),
        });
        self.phase = Phase::Connecting;
        self.reconnect_at = None;
    }

    /// Opening failed at once (the host refused): wait and try again.
    pub fn open_failed(&mut self, why: &str, now_ms: u64) -> Vec<Action> {
        let wait = self.schedule_reconnect(now_ms);
        vec![Action::Warn(format!(
            "discord: cannot open the Gateway: {why}; trying again in {wait} ms"
        ))]
    }

    /// Schedules the next connection after the current backoff, doubles
    /// the backoff, and returns the wait.
    fn schedule_reconnect(&mut self, now_ms: u64) -> u64 {
        let wait = self.backoff_ms;
        self.backoff_ms = (self.backoff_ms * 2).min(BACKOFF_MAX_MS);
        self.reconnect_at = Some(now_ms + wait);
        self.phase = Phase::Waiting;
        wait
    }

    /// Drops the current connection with a close the session survives,
    /// and reconnects at `at` (at once when that is not later than
    /// `now_ms`).
    fn drop_connection(&mut self, reason: &str, at: u64, now_ms: u64) -> Vec<Action> {
        let mut actions = Vec::new();
        if let Some(conn) = self.conn.take() {
            actions.push(Action::Close {
                id: conn.id,
                code: RESUMABLE_CLOSE,
                reason: reason.to_string(),
            });
        }
        if at <= now_ms {
            self.reconnect_at = None;
            self.phase = Phase::Connecting;
            actions.push(self.open_action());
        } else {
            self.reconnect_at = Some(at);
            self.phase = Phase::Waiting;
        }
        actions
    }

    /// A text frame on connection `id`. `jitter` is a random number in
    /// [0, 1) for the first heartbeat.
    pub fn on_frame(&mut self, id: u64, text: &str, now_ms: u64, jitter: f64) -> Vec<Action> {
        if self.connection() != Some(id) {
            return vec![Action::Close {
                id,
                code: 1000,
                reason: "not this channel's current connection".into(),
            }];
        }
        let incoming = match frames::parse(text) {
            Ok(incoming) => incoming,
            Err(why) => return vec![Action::Warn(format!("discord: ignoring a frame: {why}"))],
        };
        match incoming {
            Incoming::Hello { heartbeat_interval } => {
                self.on_hello(heartbeat_interval, now_ms, jitter)
            }
            Incoming::HeartbeatAck => {
                if let Some(conn) = self.conn.as_mut() {
                    conn.awaiting_ack = false;
                }
                Vec::new()
            }
            Incoming::HeartbeatRequest => {
                let beat = frames::heartbeat(self.seq);
                self.send(beat, now_ms, true)
            }
            Incoming::Reconnect => {
                let mut actions = vec![Action::Log(
                    "discord: the Gateway asked to reconnect".into(),
                )];
                actions.extend(self.drop_connection("reconnect requested", now_ms, now_ms));
                actions
            }
            Incoming::InvalidSession { resumable } => {
                // Discord asks for a wait of 1 to 5 s before trying again.
                let at = now_ms + 1_000 + (jitter * 4_000.0) as u64;
                let mut actions = Vec::new();
                if !resumable {
                    self.session = None;
                    self.seq = None;
                    actions.push(Action::Warn(
                        "discord: the session was invalidated; identifying afresh".into(),
                    ));
                } else {
                    actions.push(Action::Log("discord: invalid session; resuming".into()));
                }
                actions.extend(self.drop_connection("invalid session", at, now_ms));
                actions
            }
            Incoming::Dispatch { name, seq, data } => self.on_dispatch(name, seq, data),
            Incoming::Other(_) => Vec::new(),
        }
    }

    fn on_hello(&mut self, interval: u64, now_ms: u64, jitter: f64) -> Vec<Action> {
        let Some(conn) = self.conn.as_mut() else {
            return Vec::new();
        };
        conn.interval_ms = Some(interval);
        conn.next_heartbeat_ms = now_ms + (interval as f64 * jitter.clamp(0.0, 1.0)) as u64;
        conn.awaiting_ack = false;
        let frame = match &self.session {
            Some(s) => frames::resume(&s.id, self.seq),
            None => frames::identify(self.intents),
        };
        self.send(frame, now_ms, false)
    }

    fn on_dispatch(&mut self, name: String, seq: Option<u64>, data: Value) -> Vec<Action> {
        if let Some(s) = seq {
            self.seq = Some(s);
        }
        let mut actions = Vec::new();
        match name.as_str() {
            "READY" => match frames::ready(&data) {
                Ok(ready) => {
                    self.session = Some(Session {
                        id: ready.session_id,
                        resume_url: ready.resume_gateway_url,
                    });
                    self.connected();
                }
                Err(why) => actions.push(Action::Warn(format!("discord: {why}"))),
            },
            "RESUMED" => {
                self.resumes += 1;
                self.connected();
                actions.push(Action::Log("discord: session resumed".into()));
            }
            _ => {}
        }
        actions.push(Action::Dispatch { name, data });
        actions
    }

    fn connected(&mut self) {
        self.phase = Phase::Connected;
        self.backoff_ms = BACKOFF_MIN_MS;
    }

    /// Sends `text` now if the budget allows, else queues it (heartbeats
    /// always go within the reserve).
    pub fn send(&mut self, text: String, now_ms: u64, heartbeat: bool) -> Vec<Action> {
        let Some(conn) = self.conn.as_mut() else {
            return Vec::new();
        };
        if conn.queue.is_empty() || heartbeat {
            if conn.budget.try_take(now_ms, heartbeat) {
                return vec![Action::Send { id: conn.id, text }];
            }
            if heartbeat {
                return vec![Action::Warn("discord: no budget for a heartbeat".into())];
            }
        }
        if conn.queue.len() >= QUEUE_MAX {
            conn.queue.pop_front();
        }
        conn.queue.push_back(text);
        Vec::new()
    }

    /// Called about once a second: heartbeats, zombie detection, queued
    /// frames, and reconnecting when the wait is over.
    pub fn tick(&mut self, now_ms: u64) -> Vec<Action> {
        let Some(conn) = self.conn.as_mut() else {
            return match self.reconnect_at {
                Some(at) if at <= now_ms && !matches!(self.phase, Phase::Stopped(_)) => {
                    self.reconnect_at = None;
                    self.phase = Phase::Connecting;
                    vec![self.open_action()]
                }
                _ => Vec::new(),
            };
        };
        let Some(interval) = conn.interval_ms else {
            if now_ms.saturating_sub(conn.opened_ms) >= HELLO_TIMEOUT_MS {
                let wait = self.backoff_ms;
                self.backoff_ms = (self.backoff_ms * 2).min(BACKOFF_MAX_MS);
                let mut actions = vec![Action::Warn("discord: no Hello from the Gateway".into())];
                actions.extend(self.drop_connection("no hello", now_ms + wait, now_ms));
                return actions;
            }
            return Vec::new();
        };
        let mut actions = Vec::new();
        if now_ms >= conn.next_heartbeat_ms {
            if conn.awaiting_ack {
                actions.push(Action::Warn(
                    "discord: no heartbeat ACK; the connection is a zombie, resuming".into(),
                ));
                actions.extend(self.drop_connection("no heartbeat ack", now_ms, now_ms));
                return actions;
            }
            conn.awaiting_ack = true;
            conn.next_heartbeat_ms = now_ms + interval;
            let beat = frames::heartbeat(self.seq);
            actions.extend(self.send(beat, now_ms, true));
        }
        if let Some(conn) = self.conn.as_mut() {
            while let Some(front) = conn.queue.front() {
                if !conn.budget.try_take(now_ms, false) {
                    break;
                }
                let text = front.clone();
                conn.queue.pop_front();
                actions.push(Action::Send { id: conn.id, text });
            }
        }
        actions
    }

    /// Connection `id` ended with `status` (code and reason; `None` when
    /// the host could not say, taken as 1006).
    pub fn on_closed(
        &mut self,
        id: u64,
        status: Option<(u16, String)>,
        now_ms: u64,
    ) -> Vec<Action> {
        if self.connection() != Some(id) {
            return Vec::new();
        }
        self.conn = None;
        let (code, reason) = status.unwrap_or((1006, "no close status".into()));
        self.last_close = Some((code, reason.clone()));
        match close::classify(code) {
            AfterClose::Fatal(why) => {
                let why = if reason.is_empty() {
                    why
                } else {
                    format!("{why} ({reason})")
                };
                self.phase = Phase::Stopped(why.clone());
                self.reconnect_at = None;
                vec![Action::Warn(format!("discord: stopped: {why}"))]
            }
            after => {
                if after == AfterClose::Identify {
                    self.session = None;
                    self.seq = None;
                }
                let wait = self.schedule_reconnect(now_ms);
                let how = if self.session.is_some() {
                    "resuming"
                } else {
                    "identifying"
                };
                vec![Action::Log(format!(
                    "discord: Gateway closed ({code} {reason}); {how} in {wait} ms"
                ))]
            }
        }
    }

    /// Stops for good (shutdown): closes the connection with 1000.
    pub fn stop(&mut self, why: &str) -> Vec<Action> {
        self.phase = Phase::Stopped(why.to_string());
        self.reconnect_at = None;
        self.conn
            .take()
            .map(|c| Action::Close {
                id: c.id,
                code: 1000,
                reason: why.to_string(),
            })
            .into_iter()
            .collect()
    }
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
