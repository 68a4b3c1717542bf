//! Socket Mode: the connection's state machine and its frames, without
//! the host. The glue carries out the [`Action`]s.
//!
//! - Connecting: `apps.connections.open` (with the app token) gives a
//!   `wss://` URL, which the host opens ([`Action::Open`]); Slack's first
//!   frame is `{"type":"hello"}`, which makes the connection live.
//! - Every frame with an `envelope_id` is acknowledged at once with
//!   `{"envelope_id":"…"}` ([`ack`]), before its payload is handled:
//!   Slack re-sends what is not acknowledged within 3 seconds.
//! - `{"type":"disconnect","reason":…}`: `link_disabled` (Socket Mode
//!   turned off for the app) stops the channel; any other reason
//!   (`refresh_requested`, `warning`, `too_many_websockets`…) opens a new
//!   connection first and closes the old one once the new one said hello.
//! - A connection that ends is reopened after a backoff (1 s doubling to
//!   [`MAX_BACKOFF_MS`]), driven by `tick`, unless the end is fatal (the
//!   token rejected, Socket Mode disabled): then the channel is stopped
//!   with the reason. A connection silent for [`HELLO_TIMEOUT_MS`] after
//!   opening is closed, which leads to the same reconnect.
//! - Frames on a connection this instance does not know (one left by a
//!   replaced instance) are answered by closing it (1000).

use serde_json::{Value, json};

/// The longest wait between reconnects.
pub const MAX_BACKOFF_MS: u64 = 60_000;
/// How long a new connection may stay without `hello`.
pub const HELLO_TIMEOUT_MS: u64 = 30_000;

/// Where the connection is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Phase {
    Idle,
    /// Opened (or opening), waiting for `hello`.
    Connecting {
        since_ms: u64,
    },
    Connected,
    /// Waiting to reconnect at `at_ms`.
    Waiting {
        at_ms: u64,
    },
    Stopped(String),
}

/// What the glue does.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Call `apps.connections.open` and open the URL; report with
    /// [`Socket::opened`] or [`Socket::open_failed`].
    Open,
    Send {
        id: u64,
        text: String,
    },
    Close {
        id: u64,
        code: u16,
        reason: String,
    },
    /// An envelope's payload: `events_api`, `interactive` or
    /// `slash_commands`.
    Dispatch {
        kind: String,
        payload: Value,
    },
    Log(String),
}

/// The acknowledgement of an envelope.
pub fn ack(envelope_id: &str) -> String {
    json!({ "envelope_id": envelope_id }).to_string()
}

/// Whether an error (of `apps.connections.open`, or a close reason) means
/// reconnecting cannot help.
pub fn is_fatal(reason: &str) -> bool {
    [
        "link_disabled",
        "invalid_auth",
        "not_authed",
        "not_allowed_token_type",
        "token_revoked",
        "account_inactive",
        "missing_scope",
    ]
    .iter()
    .any(|f| reason.contains(f))
}

/// The connection's state.
#[derive(Clone, Debug)]
pub struct Socket {
    pub phase: Phase,
    /// The connection in use (or being opened).
    pub current: Option<u64>,
    /// Connections being replaced, closed once the new one is live.
    pub retiring: Vec<u64>,
    /// Failed attempts since the last `hello`.
    pub failures: u32,
    pub reconnects: u32,
    pub last_close: Option<(u16, String)>,
}

impl Default for Socket {
    fn default() -> Self {
        Socket::new()
    }
}

impl Socket {
    pub fn new() -> Self {
        Socket {
            phase: Phase::Idle,
            current: None,
            retiring: Vec::new(),
            failures: 0,
            reconnects: 0,
            last_close: None,
        }
    }

    /// The first connection.
    pub fn start(&mut self, now_ms: u64) -> Vec<Action> {
        self.phase = Phase::Connecting { since_ms: now_ms };
        self.failures = 0;
        vec![Action::Open]
    }

    /// The host gave connection `id` for the URL.
    pub fn opened(&mut self, id: u64, now_ms: u64) {
        if let Some(old) = self.current.replace(id) {
            self.retiring.push(old);
        }
        self.phase = Phase::Connecting { since_ms: now_ms };
    }

    fn backoff_ms(&self) -> u64 {
        1000u64
            .saturating_mul(1 << self.failures.min(16))
            .min(MAX_BACKOFF_MS)
    }

    fn wait(&mut self, now_ms: u64, why: &str) -> Vec<Action> {
        let wait = self.backoff_ms();
        self.failures += 1;
        self.phase = Phase::Waiting {
            at_ms: now_ms + wait,
        };
        vec![Action::Log(format!(
            "slack: Socket Mode {why}; reconnecting in {wait} ms"
        ))]
    }

    fn stop_with(&mut self, why: &str) -> Vec<Action> {
        self.phase = Phase::Stopped(why.to_string());
        let mut actions: Vec<Action> = self
            .current
            .take()
            .into_iter()
            .chain(self.retiring.drain(..))
            .map(|id| Action::Close {
                id,
                code: 1000,
                reason: why.to_string(),
            })
            .collect();
        actions.push(Action::Log(format!("slack: Socket Mode stopped: {why}")));
        actions
    }

    /// `apps.connections.open` or `ws_open` failed with `why`.
    pub fn open_failed(&mut self, why: &str, now_ms: u64) -> Vec<Action> {
        if is_fatal(why) {
            return self.stop_with(why);
        }
        self.wait(now_ms, &format!("could not connect ({why})"))
    }

    /// Stops on purpose (shutdown).
    pub fn stop(&mut self, why: &str) -> Vec<Action> {
        self.stop_with(why)
    }

    /// A text frame on connection `id`.
    pub fn on_frame(&mut self, id: u64, text: &str, now_ms: u64) -> Vec<Action> {
        let _ = now_ms;
        let known = self.current == Some(id) || self.retiring.contains(&id);
        if !known {
            return vec![Action::Close {
                id,
                code: 1000,
                reason: "unknown connection".into(),
            }];
        }
        let Ok(frame) = serde_json::from_str::<Value>(text) else {
            return vec![Action::Log(format!("slack: an unreadable frame on {id}"))];
        };
        let mut actions = Vec::new();
        if let Some(envelope) = frame.get("envelope_id").and_then(Value::as_str) {
            actions.push(Action::Send {
                id,
                text: ack(envelope),
            });
        }
        let kind = frame.get("type").and_then(Value::as_str).unwrap_or("");
        match kind {
            "hello" if self.current == Some(id) => {
                self.phase = Phase::Connected;
                self.failures = 0;
                actions.extend(self.retiring.drain(..).map(|old| Action::Close {
                    id: old,
                    code: 1000,
                    reason: "replaced".into(),
                }));
                actions.push(Action::Log("slack: Socket Mode connected".into()));
            }
            "disconnect" => {
                let reason = frame
                    .get("reason")
                    .and_then(Value::as_str)
                    .unwrap_or("unknown");
                if is_fatal(reason) {
                    actions.extend(self.stop_with(reason));
                } else if self.current == Some(id) {
                    // Replace it: the old one is closed after the new hello.
                    self.current = None;
                    self.retiring.push(id);
                    self.reconnects += 1;
                    self.phase = Phase::Connecting { since_ms: now_ms };
                    actions.push(Action::Log(format!(
                        "slack: Socket Mode asked to reconnect ({reason})"
                    )));
                    actions.push(Action::Open);
                }
            }
            "events_api" | "interactive" | "slash_commands" => {
                if let Some(payload) = frame.get("payload") {
                    actions.push(Action::Dispatch {
                        kind: kind.to_string(),
                        payload: payload.clone(),
                    });
                }
            }
            _ => {}
        }
        actions
    }

    /// Connection `id` ended with `status` (code and reason).
    pub fn on_closed(
        &mut self,
        id: u64,
        status: Option<(u16, String)>,
        now_ms: u64,
    ) -> Vec<Action> {
        self.retiring.retain(|r| *r != id);
        if self.current != Some(id) {
            return Vec::new();
        }
        self.current = None;
        self.last_close = status.clone();
        if matches!(self.phase, Phase::Stopped(_)) {
            return Vec::new();
        }
        let (code, reason) = status.unwrap_or((1006, "no close status".into()));
        if is_fatal(&reason) {
            return self.stop_with(&reason);
        }
        self.reconnects += 1;
        self.wait(now_ms, &format!("closed ({code} {reason})"))
    }

    /// About once a second.
    pub fn tick(&mut self, now_ms: u64) -> Vec<Action> {
        match self.phase {
            Phase::Waiting { at_ms } if now_ms >= at_ms => {
                self.phase = Phase::Connecting { since_ms: now_ms };
                vec![Action::Open]
            }
            Phase::Connecting { since_ms }
                if now_ms.saturating_sub(since_ms) > HELLO_TIMEOUT_MS =>
            {
                match self.current {
                    // Its close leads to a reconnect.
                    Some(id) => {
                        self.phase = Phase::Connecting { since_ms: now_ms };
                        vec![Action::Close {
                            id,
                            code: 1000,
                            reason: "no hello".into(),
                        }]
                    }
                    None => self.wait(now_ms, "did not open"),
                }
            }
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
#[path = "socket_tests.rs"]
mod tests;
