//! A stand-in for Slack on 127.0.0.1, written from Slack's developer
//! documentation. One port serves
//!
//! - the Web API under `/api/METHOD` (`POST`, JSON or form bodies, `GET`
//!   with a query string; the token in `Authorization: Bearer ...`, or as a
//!   form/query `token`); every answer is `200` with `{"ok":true,...}` or
//!   `{"ok":false,"error":"..."}` unless a failure was scripted;
//! - file uploads at `/upload/FILE_ID` (what `files.getUploadURLExternal`
//!   hands out; raw bytes or `multipart/form-data`) and downloads at
//!   `/files/...` (a file's `url_private`, bot token required);
//! - Socket Mode: a WebSocket upgrade at `/socket?ticket=N` (the URL
//!   `apps.connections.open` answers, one use each), `hello` first, then
//!   the envelopes a test pushes; the client acknowledges each with
//!   `{"envelope_id": ...}`.
//!
//! It behaves like the real service where the channel depends on it:
//! - a missing token is `not_authed`, a wrong one `invalid_auth`; an app
//!   token (`xapp-`) is good only for `apps.connections.open`, a bot token
//!   (`xoxb-`) for everything else (`not_allowed_token_type`);
//! - `chat.postMessage` needs a channel id (`channel_not_found`) and text
//!   or blocks (`no_text`); text over 40 000 characters is `msg_too_long`;
//!   blocks are checked (at most 50, each with a `type`, a section's text
//!   at most 3000 characters: `invalid_blocks`); each message gets a new,
//!   increasing `ts`;
//! - `chat.update` needs the `ts` of a message the bot posted
//!   (`message_not_found`);
//! - a file's bytes must reach its upload URL, as long as the `length`
//!   promised, before `files.completeUploadExternal` shares it (an unknown
//!   id is `invalid_file_id`, nothing uploaded `file_upload_not_found`, a
//!   wrong length `file_upload_size_mismatch`: the double's names where
//!   Slack's documentation gives none); shared, it appears in the channel;
//! - a download without the bot token gets Slack's sign-in page (HTML,
//!   `200`), as the real file host does;
//! - failures can be scripted per method (`429` with `Retry-After`, 5xx,
//!   `{"ok":false,...}`, malformed JSON);
//! - the Socket Mode side can send `disconnect` (`refresh_requested`,
//!   `warning`...), drop the socket without a close frame, or close it.
//!
//! The other direction, Slack posting to the app, is [`events_api`]: it
//! signs requests as Slack does (`X-Slack-Signature: v0=HMAC-SHA256(secret,
//! "v0:{ts}:{body}")`) and posts them to the host's `/slack/events` and
//! `/slack/interactions`. [`payloads`] builds what Slack sends.
//!
//! Every Web API call, every upload, every Socket Mode frame and
//! connection is recorded with its arrival [`Instant`](std::time::Instant).
//!
//! The double is split by concern: `records` holds what a test reads
//! back, `state` what the double keeps between calls, `web_api` and its
//! helpers (`messages`, `files`, `form`, `answers`) the Web API and the
//! file host, `socket` the Socket Mode side, `config` the host's
//! configuration, `controls` what a test makes Slack do, `reading` and
//! `waiting` how a test looks at it; `payloads` and `events_api` are
//! Slack's own requests to the app.

mod answers;
mod config;
mod controls;
pub mod events_api;
mod files;
mod form;
mod messages;
pub mod payloads;
mod reading;
mod records;
mod socket;
mod state;
#[cfg(test)]
mod tests;
mod waiting;
mod web_api;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use tokio::net::{TcpListener, TcpStream};

use super::http1::{Answer, read_request, write_answer};
use state::{Socket, State};

pub use answers::{api_error, malformed, rate_limited, server_error};
pub use form::{percent_decode, percent_encode};
pub use messages::check_blocks;
pub use records::{Ack, Call, Counters, Posted, SocketEvent, Upload, Via};

/// The workspace, the app and the bot the double plays.
pub const TEAM_ID: &str = "T0TEAM001";
pub const TEAM: &str = "Pista Test";
pub const APP_ID: &str = "A1";
pub const BOT_USER_ID: &str = "UBOT";
pub const BOT_ID: &str = "B0BOT001";
pub const BOT_NAME: &str = "pista";

/// Tokens and secret the tests use unless they choose others.
pub const BOT_TOKEN: &str = "xoxb-1111-2222-testbottoken";
pub const APP_TOKEN: &str = "xapp-1-A1-3333-testapptoken";
pub const SIGNING_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";

/// Slack's limit on a message's `text`, in characters.
pub const MAX_TEXT: usize = 40_000;
/// Slack's limits on blocks.
pub const MAX_BLOCKS: usize = 50;
pub const MAX_SECTION_TEXT: usize = 3000;
/// How long Slack waits for an envelope's acknowledgement (and for an
/// Events API request's answer) before it retries.
pub const ACK_DEADLINE: Duration = Duration::from_secs(3);

/// The double. Cloning shares it.
#[derive(Clone)]
pub struct SlackDouble {
    pub addr: SocketAddr,
    bot_token: String,
    app_token: String,
    state: Arc<Mutex<State>>,
}

impl SlackDouble {
    /// Serves the app with [`BOT_TOKEN`] and [`APP_TOKEN`].
    pub async fn start() -> SlackDouble {
        SlackDouble::start_with(BOT_TOKEN, APP_TOKEN).await
    }

    /// Serves the app whose bot token is `bot_token` and app-level token
    /// `app_token`.
    pub async fn start_with(bot_token: &str, app_token: &str) -> SlackDouble {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut users = BTreeMap::new();
        users.insert(
            BOT_USER_ID.to_string(),
            json!({"id": BOT_USER_ID, "team_id": TEAM_ID, "name": BOT_NAME, "real_name": "Pista",
                   "is_bot": true, "profile": {"display_name": "pista", "real_name": "Pista", "bot_id": BOT_ID}}),
        );
        let double = SlackDouble {
            addr: listener.local_addr().unwrap(),
            bot_token: bot_token.to_string(),
            app_token: app_token.to_string(),
            state: Arc::new(Mutex::new(State {
                calls: Vec::new(),
                failures: BTreeMap::new(),
                next_ts: 100,
                posted: Vec::new(),
                uploads: BTreeMap::new(),
                next_file: 1,
                files: BTreeMap::new(),
                users,
                socket: Socket {
                    conns: BTreeMap::new(),
                    tickets: Vec::new(),
                    next_ticket: 1,
                    next_conn: 1,
                    next_envelope: 1,
                    sent: BTreeMap::new(),
                    acks: Vec::new(),
                    counters: Counters::default(),
                    events: Vec::new(),
                    disconnect_grace: Duration::from_secs(10),
                },
            })),
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

    /// `http://127.0.0.1:PORT/api`, for `[channels.slack] api_url`.
    pub fn api_url(&self) -> String {
        format!("http://{}/api", self.addr)
    }

    async fn connection(&self, mut stream: TcpStream) {
        let Ok(Some(request)) = read_request(&mut stream).await else {
            return;
        };
        let path = request.path.split('?').next().unwrap_or("").to_string();
        if path == "/socket" {
            self.socket(stream, request).await;
            return;
        }
        let answer = if let Some(method) = path.strip_prefix("/api/") {
            self.web_api(method, request)
        } else if let Some(file_id) = path.strip_prefix("/upload/") {
            self.upload(file_id, &request)
        } else if let Some(file) = path.strip_prefix("/files/") {
            self.download(file, &request)
        } else {
            Answer::Whole {
                status: 404,
                headers: vec![("content-type".into(), "text/plain".into())],
                body: b"Not Found".to_vec(),
            }
        };
        let _ = write_answer(&mut stream, answer).await;
    }
}
