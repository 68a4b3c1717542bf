//! A stand-in for Discord on 127.0.0.1, written from Discord's developer
//! documentation (API v10): one port serves
//!
//! - the REST API under `/api/v10/...` (`Authorization: Bot TOKEN`, JSON
//!   or `multipart/form-data` with `payload_json` and `files[n]`, errors
//!   as `{"message", "code", "errors"?}`, rate-limit headers);
//! - the Gateway: a WebSocket upgrade at `/gateway` (`?v=10&encoding=json`;
//!   READY's `resume_gateway_url` is `/gateway/resume`, a path rather than
//!   a query because clients rebuild that URL's query, so a resume is told
//!   apart from a first connection), JSON text frames `{op, d, s, t}`, no
//!   compression;
//! - attachment downloads under `/attachments/...` (the CDN's role).
//!
//! It behaves like the real service where the channel depends on it:
//! - a wrong token is `401` on REST and close code 4004 on the Gateway;
//! - Hello (op 10) first, Identify (op 2) answered by READY (s = 1),
//!   Heartbeat (op 1) by Heartbeat ACK (op 11), Resume (op 6) by a replay
//!   of every dispatch after the given `seq` then RESUMED, an unknown
//!   session by Invalid Session (op 9, `d: false`); each session keeps a
//!   log of its dispatches with increasing `s`;
//! - message content over 2000 characters is `400` 50035 "Invalid Form
//!   Body", an empty message 50006;
//! - an interaction must get its first callback within 3 s of its
//!   dispatch (a later one is `404` 10062 "Unknown interaction" and is
//!   flagged), only once (40060), and `@original` exists only once it was
//!   acknowledged;
//! - failures can be scripted per route (429 with `retry_after` and the
//!   `X-RateLimit-*` headers, 5xx, malformed bodies); the Gateway can be
//!   made to drop the socket, send Reconnect (op 7) or Invalid Session,
//!   stop acknowledging heartbeats (a zombie connection) or hold new
//!   connections before Hello.
//!
//! Every REST call, every Gateway frame and every connection's life is
//! recorded with its arrival [`Instant`](std::time::Instant), so a test
//! can check what the component sent, and when.
//!
//! The double is split by concern: `records` holds what a test reads
//! back, `state` what the double keeps between calls, `rest` and its
//! helpers (`messages`, `interactions`, `multipart`, `answers`) the REST
//! API, `gateway` the WebSocket side, `dispatch` and `controls` what a
//! test makes Discord do, `reading` and `waiting` how a test looks at it.

mod answers;
mod config;
mod controls;
mod dispatch;
mod errors;
mod gateway;
mod interactions;
mod messages;
mod multipart;
mod payloads;
mod reading;
mod records;
mod rest;
mod state;
#[cfg(test)]
mod tests;
mod waiting;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use super::http1::read_request;
use answers::write;
use state::{Gateway, State};

pub use dispatch::Incoming;
pub use errors::{api_error, invalid_form, malformed, rate_limited, server_error};
pub use payloads::bot_user;
pub use records::{Call, Callback, Counters, Delivered, GatewayEvent, Via, WebhookCall};

/// The bot user the double plays.
pub const BOT_ID: &str = "900000000000000001";
pub const BOT_USERNAME: &str = "pista";
/// The bot's application (slash commands, interactions' webhooks).
pub const APP_ID: &str = "900000000000000002";

/// Gateway intents (Identify's `intents` bit field).
pub const INTENT_GUILDS: u64 = 1 << 0;
pub const INTENT_GUILD_MESSAGES: u64 = 1 << 9;
pub const INTENT_DIRECT_MESSAGES: u64 = 1 << 12;
pub const INTENT_MESSAGE_CONTENT: u64 = 1 << 15;
/// What the channel cannot work without.
pub const REQUIRED_INTENTS: u64 =
    INTENT_GUILD_MESSAGES | INTENT_DIRECT_MESSAGES | INTENT_MESSAGE_CONTENT;

/// Discord's limit on a message's `content`, in characters.
pub const MAX_CONTENT: usize = 2000;
/// The time Discord gives for an interaction's first callback.
pub const INTERACTION_DEADLINE: Duration = Duration::from_secs(3);

/// The double. Cloning shares it.
#[derive(Clone)]
pub struct DiscordDouble {
    pub addr: SocketAddr,
    token: String,
    state: Arc<Mutex<State>>,
    /// `true` while new Gateway sockets wait before Hello.
    hold: Arc<watch::Sender<bool>>,
}

impl DiscordDouble {
    /// Serves bot `token`; the Gateway's Hello asks for a heartbeat every
    /// second.
    pub async fn start(token: &str) -> DiscordDouble {
        DiscordDouble::start_with(token, 1000).await
    }

    /// Serves bot `token` with Hello's `heartbeat_interval` in ms.
    pub async fn start_with(token: &str, heartbeat_interval_ms: u64) -> DiscordDouble {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let double = DiscordDouble {
            addr: listener.local_addr().unwrap(),
            token: token.to_string(),
            state: Arc::new(Mutex::new(State {
                calls: Vec::new(),
                failures: BTreeMap::new(),
                next_id: 1_240_000_000_000_000_000,
                delivered: Vec::new(),
                channels: BTreeMap::new(),
                files: BTreeMap::new(),
                commands: Vec::new(),
                interactions: BTreeMap::new(),
                callbacks: Vec::new(),
                webhook_calls: Vec::new(),
                gateway: Gateway {
                    heartbeat_interval: heartbeat_interval_ms,
                    sessions: BTreeMap::new(),
                    current: None,
                    conns: BTreeMap::new(),
                    zombies: BTreeSet::new(),
                    pending: Vec::new(),
                    next_conn: 1,
                    counters: Counters::default(),
                    events: Vec::new(),
                },
            })),
            hold: Arc::new(watch::channel(false).0),
        };
        let server = double.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let server = server.clone();
                tokio::spawn(async move { server.connection(stream).await });
            }
        });
        double
    }

    /// `http://127.0.0.1:PORT/api/v10`, for `[channels.discord] api_url`.
    pub fn api_url(&self) -> String {
        format!("http://{}/api/v10", self.addr)
    }

    /// `ws://127.0.0.1:PORT/gateway`, what `GET /gateway/bot` answers.
    pub fn gateway_url(&self) -> String {
        format!("ws://{}/gateway", self.addr)
    }

    async fn connection(&self, mut stream: TcpStream) {
        let Ok(Some(request)) = read_request(&mut stream).await else {
            return;
        };
        let path = request.path.split('?').next().unwrap_or("").to_string();
        if path.trim_end_matches('/') == "/gateway" || path.starts_with("/gateway/") {
            self.gateway(stream, request).await;
            return;
        }
        let answer = self.answer(request);
        let _ = write(&mut stream, answer).await;
    }
}
