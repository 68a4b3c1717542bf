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
//! recorded with its arrival [`Instant`], so a test can check what the
//! component sent, and when.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role};

use super::http1::{Answer, Recorded, read_request};

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

/// One REST call as received.
#[derive(Clone, Debug)]
pub struct Call {
    pub method: String,
    /// The path under `/api/v10`, query included: `/channels/5/messages`.
    pub path: String,
    /// The path with ids and tokens as placeholders, as scripted failures
    /// name it: `POST /channels/{id}/messages`,
    /// `POST /interactions/{id}/{token}/callback`,
    /// `PATCH /webhooks/{id}/{token}/messages/@original`.
    pub route: String,
    /// The JSON body, or a multipart body's `payload_json`.
    pub body: Value,
    /// Multipart files: (field, filename, content type, bytes).
    pub files: Vec<(String, String, String, Vec<u8>)>,
    pub headers: Vec<(String, String)>,
    pub at: Instant,
    /// The status the double answered.
    pub status: u16,
}

impl Call {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// How a message the user sees came to be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Via {
    /// `POST /channels/{id}/messages`.
    Message,
    /// An interaction callback of type 4 (or 5, then edited).
    InteractionResponse,
    /// `POST /webhooks/{app}/{token}`.
    Followup,
}

/// A message the bot posted, as the user sees it now (edits applied).
#[derive(Clone, Debug)]
pub struct Delivered {
    pub id: String,
    pub channel_id: String,
    pub content: String,
    pub components: Value,
    pub embeds: Value,
    /// Attached files' names.
    pub files: Vec<String>,
    /// `message_reference.message_id`, when it replies to a message.
    pub reference: Option<String>,
    pub via: Via,
    /// A deferred interaction response not edited yet ("thinking...").
    pub deferred: bool,
    /// How many times it was edited.
    pub edits: u32,
    pub at: Instant,
}

/// An interaction callback (`POST /interactions/{id}/{token}/callback`).
#[derive(Clone, Debug)]
pub struct Callback {
    pub interaction_id: String,
    pub token: String,
    /// 4 message, 5 deferred message, 6 deferred update, 7 update...
    pub kind: u64,
    pub data: Value,
    pub at: Instant,
    /// Since the interaction was dispatched.
    pub elapsed: Duration,
    /// Later than Discord allows (3 s): refused with 10062.
    pub late: bool,
    pub status: u16,
}

/// A call on an interaction's webhook: an edit of `@original` (or of a
/// follow-up), a follow-up, a read or a delete.
#[derive(Clone, Debug)]
pub struct WebhookCall {
    pub method: String,
    pub token: String,
    /// `@original`, a message id, or `""` for a follow-up (`POST`).
    pub target: String,
    pub body: Value,
    pub at: Instant,
    pub status: u16,
}

/// Something that happened on the Gateway.
#[derive(Clone, Debug, PartialEq)]
pub enum GatewayEvent {
    /// A socket was upgraded; `path` with its query.
    Connected { conn: u64, path: String },
    /// The client sent a frame (parsed; `Value::Null` if not JSON).
    Received { conn: u64, frame: Value },
    /// The double wrote a frame.
    Sent { conn: u64, frame: Value },
    /// The client closed with a close frame (`None`: no code in it).
    ClientClosed { conn: u64, code: Option<u16> },
    /// The double closed with a close frame.
    ServerClosed { conn: u64, code: u16 },
    /// The socket ended (after a close frame or not).
    Ended { conn: u64 },
}

/// Counters of the Gateway's life.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub connections: u32,
    pub identifies: u32,
    pub resumes: u32,
    /// Resumes refused with Invalid Session.
    pub refused_resumes: u32,
    pub heartbeats: u32,
    pub acks: u32,
}

/// A message a user sends, for [`DiscordDouble::dispatch_message`].
#[derive(Clone, Debug, Default)]
pub struct Incoming {
    pub channel_id: String,
    pub author_id: String,
    pub content: String,
    /// `None`: a DM.
    pub guild_id: Option<String>,
    /// User ids mentioned (the `mentions` array).
    pub mentions: Vec<String>,
    /// Replying to this message: looked up in what the bot delivered (the
    /// bot is then its author), else someone else's (user 999).
    pub reply_to: Option<String>,
    /// (filename, content type, bytes, declared size if not the bytes').
    pub attachments: Vec<(String, String, Vec<u8>, Option<u64>)>,
}

impl Incoming {
    /// A direct message in DM channel `channel_id`.
    pub fn dm(channel_id: &str, author_id: &str, content: &str) -> Incoming {
        Incoming {
            channel_id: channel_id.into(),
            author_id: author_id.into(),
            content: content.into(),
            ..Incoming::default()
        }
    }

    /// A message in a guild's text channel.
    pub fn guild(guild_id: &str, channel_id: &str, author_id: &str, content: &str) -> Incoming {
        Incoming {
            guild_id: Some(guild_id.into()),
            ..Incoming::dm(channel_id, author_id, content)
        }
    }

    /// Adds `user_id` to the `mentions` array (write `<@ID>` in the content
    /// yourself, as a client would).
    pub fn mentioning(mut self, user_id: &str) -> Incoming {
        self.mentions.push(user_id.into());
        self
    }

    /// A reply to message `message_id`.
    pub fn replying_to(mut self, message_id: &str) -> Incoming {
        self.reply_to = Some(message_id.into());
        self
    }

    /// Attaches a file, served under `/attachments/...`.
    pub fn with_attachment(
        mut self,
        filename: &str,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> Incoming {
        self.attachments
            .push((filename.into(), content_type.into(), bytes, None));
        self
    }

    /// Attaches a file whose declared `size` is `size` (for too-large files).
    pub fn with_declared_attachment(
        mut self,
        filename: &str,
        content_type: &str,
        bytes: Vec<u8>,
        size: u64,
    ) -> Incoming {
        self.attachments
            .push((filename.into(), content_type.into(), bytes, Some(size)));
        self
    }
}

/// What the double writes to one socket.
enum Control {
    Send(Value),
    /// Close with a close frame.
    Close(u16, String),
    /// End the TCP connection, no close frame.
    Drop,
}

struct Session {
    /// Every dispatch of the session (whole frames), `s` = index + 1.
    log: Vec<Value>,
    /// The connection it is bound to.
    conn: Option<u64>,
    resumable: bool,
}

struct Interaction {
    token: String,
    channel_id: String,
    dispatched: Instant,
    /// The first callback's type.
    acked: Option<u64>,
    /// The message `@original` names, once there is one.
    original: Option<String>,
}

struct Gateway {
    heartbeat_interval: u64,
    sessions: BTreeMap<String, Session>,
    /// The session dispatches go to.
    current: Option<String>,
    /// Open sockets.
    conns: BTreeMap<u64, mpsc::UnboundedSender<Control>>,
    /// Sockets whose heartbeats are not acknowledged.
    zombies: BTreeSet<u64>,
    /// Dispatches made before any session.
    pending: Vec<(String, Value)>,
    next_conn: u64,
    counters: Counters,
    events: Vec<(Instant, GatewayEvent)>,
}

struct State {
    calls: Vec<Call>,
    failures: BTreeMap<String, VecDeque<Answer>>,
    next_id: u64,
    delivered: Vec<Delivered>,
    channels: BTreeMap<String, Value>,
    files: BTreeMap<String, (String, Vec<u8>)>,
    commands: Vec<Value>,
    interactions: BTreeMap<String, Interaction>,
    callbacks: Vec<Callback>,
    webhook_calls: Vec<WebhookCall>,
    gateway: Gateway,
}

/// The double. Cloning shares it.
#[derive(Clone)]
pub struct DiscordDouble {
    pub addr: SocketAddr,
    token: String,
    state: Arc<Mutex<State>>,
    /// `true` while new Gateway sockets wait before Hello.
    hold: Arc<watch::Sender<bool>>,
}

// ---------------------------------------------------------------- answers

fn reason(status: u16) -> &'static str {
    match status {
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

fn bucket_of(route: &str) -> String {
    // A stable opaque hash, like Discord's bucket ids.
    let mut h: u64 = 0xcbf29ce484222325;
    for b in route.bytes() {
        h = (h ^ b as u64).wrapping_mul(0x100000001b3);
    }
    format!("{h:016x}")
}

fn json_answer(status: u16, body: Value) -> Answer {
    Answer::Whole {
        status,
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.to_string().into_bytes(),
    }
}

fn no_content() -> Answer {
    Answer::Whole {
        status: 204,
        headers: Vec::new(),
        body: Vec::new(),
    }
}

/// A REST error of Discord's shape: `{"message", "code"}`.
pub fn api_error(status: u16, code: u64, message: &str) -> Answer {
    json_answer(status, json!({"message": message, "code": code}))
}

/// `400 Invalid Form Body` (50035) with `errors` for `field`.
pub fn invalid_form(field: &str, error_code: &str, message: &str) -> Answer {
    json_answer(
        400,
        json!({
            "message": "Invalid Form Body",
            "code": 50035,
            "errors": {field: {"_errors": [{"code": error_code, "message": message}]}},
        }),
    )
}

/// `429 Too Many Requests` on bucket `bucket` asking to wait
/// `retry_after` seconds, with the headers Discord sends.
pub fn rate_limited(retry_after: f64, bucket: &str) -> Answer {
    let reset = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        + retry_after;
    Answer::Whole {
        status: 429,
        headers: vec![
            ("content-type".into(), "application/json".into()),
            (
                "retry-after".into(),
                format!("{}", retry_after.ceil() as u64),
            ),
            ("x-ratelimit-limit".into(), "5".into()),
            ("x-ratelimit-remaining".into(), "0".into()),
            ("x-ratelimit-reset".into(), format!("{reset:.3}")),
            (
                "x-ratelimit-reset-after".into(),
                format!("{retry_after:.3}"),
            ),
            ("x-ratelimit-bucket".into(), bucket.into()),
            ("x-ratelimit-scope".into(), "user".into()),
        ],
        body: json!({
            "message": "You are being rate limited.",
            "retry_after": retry_after,
            "global": false,
        })
        .to_string()
        .into_bytes(),
    }
}

/// A 5xx as Discord's edge sends it.
pub fn server_error(status: u16) -> Answer {
    json_answer(
        status,
        json!({"message": format!("{status}: {}", reason(status)), "code": 0}),
    )
}

/// A 200 whose body is not JSON.
pub fn malformed() -> Answer {
    Answer::Whole {
        status: 200,
        headers: vec![("content-type".into(), "application/json".into())],
        body: b"{\"id\":\"12".to_vec(),
    }
}

/// Writes an answer (`204` without a body or a length, as HTTP wants).
async fn write(stream: &mut TcpStream, answer: Answer) -> std::io::Result<()> {
    let Answer::Whole {
        status,
        headers,
        body,
    } = answer
    else {
        return super::http1::write_answer(stream, answer).await;
    };
    let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for (k, v) in &headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("via: 1.1 discord-double\r\n");
    if status != 204 {
        head.push_str(&format!("content-length: {}\r\n", body.len()));
    }
    head.push_str("connection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).await?;
    if status != 204 {
        stream.write_all(&body).await?;
    }
    stream.flush().await?;
    let _ = stream.shutdown().await;
    Ok(())
}

fn timestamp() -> String {
    "2024-05-01T12:00:00.000000+00:00".into()
}

fn user(id: &str) -> Value {
    json!({
        "id": id, "username": format!("user{id}"), "global_name": format!("User {id}"),
        "discriminator": "0", "avatar": null, "public_flags": 0,
    })
}

/// The bot user object (`GET /users/@me`, READY, its messages' author).
pub fn bot_user() -> Value {
    json!({
        "id": BOT_ID, "username": BOT_USERNAME, "global_name": null, "discriminator": "0",
        "avatar": null, "bot": true, "verified": true, "mfa_enabled": false, "flags": 0,
        "public_flags": 0,
    })
}

fn frame(op: u64, d: Value) -> Value {
    json!({"op": op, "d": d, "s": null, "t": null})
}

// ---------------------------------------------------------------- double

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

    /// The configuration of an in-process host in `root` whose only
    /// channel is Discord on this double (bot `token`, `allowed_users`),
    /// answered by the offline echo provider, plus `extra` (TOML, inside
    /// `[channels.discord]` until it opens another table).
    pub fn host_config(
        &self,
        root: &std::path::Path,
        token: &str,
        allowed_users: &[&str],
        extra: &str,
    ) -> openpista::config::Config {
        self.host_config_with_agent(root, token, allowed_users, "provider = \"echo\"", extra)
    }

    /// Like [`DiscordDouble::host_config`] with `agent` as the body of
    /// `[agent]` (a provider declared in `extra` as `[providers.NAME]`).
    pub fn host_config_with_agent(
        &self,
        root: &std::path::Path,
        token: &str,
        allowed_users: &[&str],
        agent: &str,
        extra: &str,
    ) -> openpista::config::Config {
        openpista::config::Config::parse(
            &self.host_config_text(root, token, allowed_users, agent, extra),
            "test config",
        )
        .unwrap()
    }

    /// The TOML [`DiscordDouble::host_config_with_agent`] parses.
    pub fn host_config_text(
        &self,
        root: &std::path::Path,
        token: &str,
        allowed_users: &[&str],
        agent: &str,
        extra: &str,
    ) -> String {
        let allowed: Vec<String> = allowed_users.iter().map(|u| format!("\"{u}\"")).collect();
        format!(
            "[agent]\n{agent}\n[runtime]\nplugin_dirs = []\ncache_dir = \"{root}/cache\"\n\
             [memory]\npath = \"{root}/memory.redb\"\n[server]\nenabled = false\n\
             [channels.web]\nenabled = false\n[channels.discord]\nenabled = true\n\
             token = \"{token}\"\napi_url = \"{api}\"\nallowed_users = [{allowed}]\n\
             pairing = true\nmax_attachment_bytes = 8388608\n{extra}\n",
            root = root.display(),
            api = self.api_url(),
            allowed = allowed.join(", "),
        )
    }

    fn next_id(state: &mut State) -> String {
        state.next_id += 1 + (state.next_id % 7);
        state.next_id.to_string()
    }

    // ------------------------------------------------------------ scripting

    /// The next call of `route` (`POST /channels/{id}/messages`...) gets
    /// `answer` instead of its result.
    pub fn fail_next(&self, route: &str, answer: Answer) {
        self.state
            .lock()
            .unwrap()
            .failures
            .entry(route.into())
            .or_default()
            .push_back(answer);
    }

    /// Makes `GET /channels/{id}` know a thread of `parent_id`.
    pub fn add_thread(&self, thread_id: &str, parent_id: &str, guild_id: &str) {
        self.state.lock().unwrap().channels.insert(
            thread_id.into(),
            json!({
                "id": thread_id, "type": 11, "guild_id": guild_id, "parent_id": parent_id,
                "name": "a thread", "owner_id": "100", "flags": 0, "message_count": 0,
                "member_count": 1, "rate_limit_per_user": 0,
                "thread_metadata": {"archived": false, "auto_archive_duration": 1440,
                    "archive_timestamp": timestamp(), "locked": false},
            }),
        );
    }

    /// Makes `GET /channels/{id}` know a guild text channel.
    pub fn add_text_channel(&self, channel_id: &str, guild_id: &str) {
        let mut state = self.state.lock().unwrap();
        Self::ensure_channel(&mut state, channel_id, Some(guild_id), None);
    }

    fn ensure_channel(state: &mut State, id: &str, guild: Option<&str>, author: Option<&str>) {
        if state.channels.contains_key(id) {
            return;
        }
        let channel = match guild {
            Some(g) => json!({
                "id": id, "type": 0, "guild_id": g, "name": "general", "position": 0,
                "permission_overwrites": [], "nsfw": false, "topic": null,
                "last_message_id": null, "rate_limit_per_user": 0, "parent_id": null,
            }),
            None => json!({
                "id": id, "type": 1, "last_message_id": null, "flags": 0,
                "recipients": [user(author.unwrap_or("0"))],
            }),
        };
        state.channels.insert(id.into(), channel);
    }

    // ------------------------------------------------------------ dispatches

    /// Sends a dispatch (op 0) `t` with `d` on the current session: logged
    /// with the next `s`, written if a socket is bound to it (else kept for
    /// a Resume). Before any session, kept until READY.
    pub fn dispatch(&self, t: &str, d: Value) {
        let mut state = self.state.lock().unwrap();
        Self::dispatch_locked(&mut state.gateway, t, d);
    }

    fn dispatch_locked(gateway: &mut Gateway, t: &str, d: Value) {
        let Some(sid) = gateway.current.clone() else {
            gateway.pending.push((t.into(), d));
            return;
        };
        let session = gateway.sessions.get_mut(&sid).unwrap();
        let s = session.log.len() as u64 + 1;
        let frame = json!({"op": 0, "d": d, "s": s, "t": t});
        session.log.push(frame.clone());
        if let Some(conn) = session.conn
            && let Some(tx) = gateway.conns.get(&conn)
        {
            let _ = tx.send(Control::Send(frame));
        }
    }

    /// A user's message (MESSAGE_CREATE); returns its id.
    pub fn dispatch_message(&self, m: Incoming) -> String {
        let mut state = self.state.lock().unwrap();
        let id = Self::next_id(&mut state);
        Self::ensure_channel(
            &mut state,
            &m.channel_id,
            m.guild_id.as_deref(),
            Some(&m.author_id),
        );
        let mut attachments = Vec::new();
        for (name, kind, bytes, size) in m.attachments {
            let aid = Self::next_id(&mut state);
            let path = format!("{}/{aid}/{name}", m.channel_id);
            let url = format!(
                "http://{}/attachments/{path}?ex=6650a1b2&is=664f5032&hm=0f1e2d3c4b5a69788796a5b4c3d2e1f0",
                self.addr
            );
            attachments.push(json!({
                "id": aid, "filename": name, "size": size.unwrap_or(bytes.len() as u64),
                "url": url, "proxy_url": url, "content_type": kind,
            }));
            state.files.insert(path, (kind, bytes));
        }
        let mentions: Vec<Value> = m
            .mentions
            .iter()
            .map(|u| if u == BOT_ID { bot_user() } else { user(u) })
            .collect();
        let mut d = json!({
            "id": id, "type": 0, "channel_id": m.channel_id, "author": user(&m.author_id),
            "content": m.content, "timestamp": timestamp(), "edited_timestamp": null,
            "tts": false, "mention_everyone": false, "mentions": mentions, "mention_roles": [],
            "attachments": attachments, "embeds": [], "pinned": false, "flags": 0,
            "components": [], "nonce": format!("n{id}"),
        });
        if let Some(g) = &m.guild_id {
            d["guild_id"] = json!(g);
            d["member"] = json!({"roles": [], "joined_at": timestamp(), "deaf": false,
                "mute": false, "flags": 0, "nick": null});
        }
        if let Some(reply) = &m.reply_to {
            let referenced = state.delivered.iter().find(|x| &x.id == reply).map(|x| {
                json!({
                    "id": x.id, "type": 0, "channel_id": x.channel_id, "author": bot_user(),
                    "content": x.content, "timestamp": timestamp(), "edited_timestamp": null,
                    "tts": false, "mention_everyone": false, "mentions": [], "mention_roles": [],
                    "attachments": [], "embeds": [], "pinned": false, "flags": 0,
                    "components": x.components,
                })
            });
            let referenced = referenced.unwrap_or_else(|| {
                json!({"id": reply, "type": 0, "channel_id": m.channel_id, "author": user("999"),
                    "content": "", "timestamp": timestamp(), "mentions": [], "attachments": [],
                    "embeds": []})
            });
            d["type"] = json!(19);
            d["message_reference"] = json!({
                "type": 0, "message_id": reply, "channel_id": m.channel_id, "guild_id": m.guild_id,
            });
            d["referenced_message"] = referenced;
        }
        Self::dispatch_locked(&mut state.gateway, "MESSAGE_CREATE", d);
        id
    }

    /// A slash command `name` with `options` (`[{name, type, value}]`) from
    /// `user_id` in `channel_id` (a guild's when `guild_id`); returns the
    /// interaction's (id, token).
    pub fn dispatch_command(
        &self,
        channel_id: &str,
        user_id: &str,
        guild_id: Option<&str>,
        name: &str,
        options: Value,
    ) -> (String, String) {
        let mut state = self.state.lock().unwrap();
        let command_id = state
            .commands
            .iter()
            .find(|c| c["name"] == name)
            .map(|c| c["id"].clone())
            .unwrap_or(json!("1"));
        let data = json!({"id": command_id, "name": name, "type": 1, "options": options});
        Self::interaction_locked(&mut state, channel_id, user_id, guild_id, 2, data, None)
    }

    /// A press of the button `custom_id` on the bot's message `message_id`
    /// (type 3); returns the interaction's (id, token).
    pub fn dispatch_button(
        &self,
        channel_id: &str,
        user_id: &str,
        guild_id: Option<&str>,
        message_id: &str,
        custom_id: &str,
    ) -> (String, String) {
        let mut state = self.state.lock().unwrap();
        let data = json!({"custom_id": custom_id, "component_type": 2});
        Self::interaction_locked(
            &mut state,
            channel_id,
            user_id,
            guild_id,
            3,
            data,
            Some(message_id.to_string()),
        )
    }

    fn interaction_locked(
        state: &mut State,
        channel_id: &str,
        user_id: &str,
        guild_id: Option<&str>,
        kind: u64,
        data: Value,
        message_id: Option<String>,
    ) -> (String, String) {
        Self::ensure_channel(state, channel_id, guild_id, Some(user_id));
        let id = Self::next_id(state);
        let token = format!("aW50ZXJhY3Rpb246{id}:dGhpcyBpcyBhIHRva2Vu");
        let channel = state.channels[channel_id].clone();
        let mut d = json!({
            "id": id, "application_id": APP_ID, "type": kind, "data": data,
            "channel_id": channel_id, "channel": channel, "token": token, "version": 1,
            "app_permissions": "2248473465835073", "locale": "en-US", "entitlements": [],
            "authorizing_integration_owners": {"0": "1"}, "context": if guild_id.is_some() { 0 } else { 1 },
        });
        match guild_id {
            Some(g) => {
                d["guild_id"] = json!(g);
                d["guild_locale"] = json!("en-US");
                d["member"] = json!({"user": user(user_id), "roles": [], "joined_at": timestamp(),
                    "deaf": false, "mute": false, "flags": 0, "nick": null,
                    "permissions": "2248473465835073"});
            }
            None => d["user"] = user(user_id),
        }
        if let Some(mid) = &message_id {
            let message = state
                .delivered
                .iter()
                .find(|x| &x.id == mid)
                .map(|x| {
                    json!({"id": x.id, "type": 0, "channel_id": x.channel_id, "author": bot_user(),
                        "content": x.content, "components": x.components, "timestamp": timestamp(),
                        "mentions": [], "attachments": [], "embeds": [], "flags": 0})
                })
                .unwrap_or_else(|| {
                    json!({"id": mid, "type": 0, "channel_id": channel_id, "author": bot_user(),
                        "content": "", "components": [], "timestamp": timestamp(),
                        "mentions": [], "attachments": [], "embeds": [], "flags": 0})
                });
            d["message"] = message;
        }
        state.interactions.insert(
            id.clone(),
            Interaction {
                token: token.clone(),
                channel_id: channel_id.into(),
                dispatched: Instant::now(),
                acked: None,
                original: message_id,
            },
        );
        Self::dispatch_locked(&mut state.gateway, "INTERACTION_CREATE", d);
        (id, token)
    }

    // ------------------------------------------------------------ gateway controls

    /// Ends every Gateway socket without a close frame (a network drop).
    /// The session stays resumable; dispatches from now on are kept for the
    /// Resume. Returns how many sockets were open.
    pub fn drop_connection(&self) -> usize {
        let mut state = self.state.lock().unwrap();
        let gateway = &mut state.gateway;
        for session in gateway.sessions.values_mut() {
            session.conn = None;
        }
        let n = gateway.conns.len();
        for tx in gateway.conns.values() {
            let _ = tx.send(Control::Drop);
        }
        n
    }

    /// Closes every Gateway socket with close frame `code` (4000 unknown
    /// error, 4009 session timed out...): the session stays resumable
    /// unless the code says otherwise (the client decides).
    pub fn close_connection(&self, code: u16, reason: &str) {
        let mut state = self.state.lock().unwrap();
        let gateway = &mut state.gateway;
        for session in gateway.sessions.values_mut() {
            session.conn = None;
        }
        for tx in gateway.conns.values() {
            let _ = tx.send(Control::Close(code, reason.into()));
        }
    }

    fn send_to_bound(&self, frame: Value) -> bool {
        let state = self.state.lock().unwrap();
        let gateway = &state.gateway;
        let conn = gateway
            .current
            .as_ref()
            .and_then(|s| gateway.sessions.get(s))
            .and_then(|s| s.conn);
        match conn.and_then(|c| gateway.conns.get(&c)) {
            Some(tx) => tx.send(Control::Send(frame)).is_ok(),
            None => false,
        }
    }

    /// Sends Reconnect (op 7) on the current session's socket.
    pub fn send_reconnect(&self) -> bool {
        self.send_to_bound(frame(7, Value::Null))
    }

    /// Sends Heartbeat (op 1): the client must heartbeat at once.
    pub fn request_heartbeat(&self) -> bool {
        self.send_to_bound(frame(1, Value::Null))
    }

    /// Sends Invalid Session (op 9, `d: resumable`) on the current
    /// session's socket. Not resumable: the session is gone (a Resume of it
    /// gets op 9 `d: false` again) and dispatches wait for the next READY.
    pub fn send_invalid_session(&self, resumable: bool) -> bool {
        let sent = self.send_to_bound(frame(9, json!(resumable)));
        if !resumable {
            let mut state = self.state.lock().unwrap();
            let gateway = &mut state.gateway;
            if let Some(sid) = gateway.current.take()
                && let Some(session) = gateway.sessions.get_mut(&sid)
            {
                session.resumable = false;
                session.conn = None;
            }
        }
        sent
    }

    /// Stops acknowledging heartbeats on the sockets open now (a zombie
    /// connection); sockets opened later are acknowledged.
    pub fn stop_acks(&self) {
        let mut state = self.state.lock().unwrap();
        let conns: Vec<u64> = state.gateway.conns.keys().copied().collect();
        state.gateway.zombies.extend(conns);
    }

    /// Acknowledges heartbeats on every socket again.
    pub fn resume_acks(&self) {
        self.state.lock().unwrap().gateway.zombies.clear();
    }

    /// New Gateway sockets are upgraded but wait before Hello until
    /// [`DiscordDouble::release_gateway`].
    pub fn hold_gateway(&self) {
        self.hold.send_replace(true);
    }

    pub fn release_gateway(&self) {
        self.hold.send_replace(false);
    }

    // ------------------------------------------------------------ reading

    pub fn counters(&self) -> Counters {
        self.state.lock().unwrap().gateway.counters
    }

    /// Everything that happened on the Gateway, in order.
    pub fn gateway_events(&self) -> Vec<(Instant, GatewayEvent)> {
        self.state.lock().unwrap().gateway.events.clone()
    }

    /// The frames the client sent, with their socket and arrival.
    pub fn received(&self) -> Vec<(u64, Instant, Value)> {
        self.gateway_events()
            .into_iter()
            .filter_map(|(at, e)| match e {
                GatewayEvent::Received { conn, frame } => Some((conn, at, frame)),
                _ => None,
            })
            .collect()
    }

    /// The frames of op `op` the client sent (their `d`).
    pub fn received_op(&self, op: u64) -> Vec<Value> {
        self.received()
            .into_iter()
            .filter(|(_, _, f)| f["op"] == op)
            .map(|(_, _, f)| f["d"].clone())
            .collect()
    }

    /// The dispatches (`s`, `t`) written on socket `conn`, in order.
    pub fn written_dispatches(&self, conn: u64) -> Vec<(u64, String)> {
        self.gateway_events()
            .into_iter()
            .filter_map(|(_, e)| match e {
                GatewayEvent::Sent { conn: c, frame } if c == conn && frame["op"] == 0 => Some((
                    frame["s"].as_u64().unwrap_or(0),
                    frame["t"].as_str().unwrap_or("").to_string(),
                )),
                _ => None,
            })
            .collect()
    }

    /// The current session's id.
    pub fn current_session(&self) -> Option<String> {
        self.state.lock().unwrap().gateway.current.clone()
    }

    /// The dispatch log of session `id` (whole frames, `s` = index + 1).
    pub fn session_log(&self, id: &str) -> Vec<Value> {
        self.state
            .lock()
            .unwrap()
            .gateway
            .sessions
            .get(id)
            .map(|s| s.log.clone())
            .unwrap_or_default()
    }

    /// The socket the current session is bound to.
    pub fn bound_connection(&self) -> Option<u64> {
        let state = self.state.lock().unwrap();
        let g = &state.gateway;
        g.current
            .as_ref()
            .and_then(|s| g.sessions.get(s))
            .and_then(|s| s.conn)
    }

    /// Every REST call so far.
    pub fn calls(&self) -> Vec<Call> {
        self.state.lock().unwrap().calls.clone()
    }

    /// The calls of `route` (`POST /channels/{id}/messages`...).
    pub fn calls_of(&self, route: &str) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.route == route)
            .collect()
    }

    /// The slash commands registered (as echoed, with ids).
    pub fn commands(&self) -> Vec<Value> {
        self.state.lock().unwrap().commands.clone()
    }

    /// Messages the bot posted to `channel_id`, in order, as shown now.
    pub fn delivered(&self, channel_id: &str) -> Vec<Delivered> {
        self.state
            .lock()
            .unwrap()
            .delivered
            .iter()
            .filter(|d| d.channel_id == channel_id)
            .cloned()
            .collect()
    }

    /// Every interaction callback, in order.
    pub fn callbacks(&self) -> Vec<Callback> {
        self.state.lock().unwrap().callbacks.clone()
    }

    /// Whether any interaction callback came later than Discord allows.
    pub fn any_late_callback(&self) -> bool {
        self.callbacks().iter().any(|c| c.late)
    }

    /// Every call on an interaction's webhook, in order.
    pub fn webhook_calls(&self) -> Vec<WebhookCall> {
        self.state.lock().unwrap().webhook_calls.clone()
    }

    fn summary(&self) -> String {
        let calls: Vec<String> = self
            .calls()
            .iter()
            .map(|c| format!("{} {} -> {} {}", c.method, c.path, c.status, c.body))
            .collect();
        let events: Vec<String> = self
            .gateway_events()
            .iter()
            .map(|(_, e)| format!("{e:?}"))
            .collect();
        format!(
            "counters: {:?}\nREST calls: {calls:#?}\ngateway: {events:#?}",
            self.counters()
        )
    }

    /// Waits until `pred` holds (at most `secs`), polling every 20 ms;
    /// panics naming `what` with everything the double saw.
    pub async fn wait_until(&self, what: &str, secs: u64, pred: impl Fn(&DiscordDouble) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if pred(self) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}\n{}",
                self.summary()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until a session is READY and bound to a socket.
    pub async fn wait_ready(&self, secs: u64) {
        self.wait_until("a READY session", secs, |d| d.bound_connection().is_some())
            .await
    }

    /// Waits until `route` has calls satisfying `pred`.
    pub async fn wait_for(
        &self,
        route: &str,
        secs: u64,
        pred: impl Fn(&[Call]) -> bool,
    ) -> Vec<Call> {
        self.wait_until(route, secs, |d| pred(&d.calls_of(route)))
            .await;
        self.calls_of(route)
    }

    /// Waits until at least `n` messages were delivered to `channel_id`.
    pub async fn wait_delivered(&self, channel_id: &str, n: usize, secs: u64) -> Vec<Delivered> {
        self.wait_until(&format!("{n} messages to {channel_id}"), secs, |d| {
            d.delivered(channel_id).len() >= n
        })
        .await;
        self.delivered(channel_id)
    }

    // ------------------------------------------------------------ serving

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

    async fn gateway(&self, mut stream: TcpStream, request: Recorded) {
        let upgrade = request
            .header("upgrade")
            .is_some_and(|u| u.eq_ignore_ascii_case("websocket"));
        let key = request.header("sec-websocket-key").map(str::to_string);
        let (true, Some(key), Some("13")) = (upgrade, key, request.header("sec-websocket-version"))
        else {
            let _ = write(&mut stream, api_error(400, 0, "400: Bad Request")).await;
            return;
        };
        let response = format!(
            "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\
             sec-websocket-accept: {}\r\n\r\n",
            derive_accept_key(key.as_bytes())
        );
        if stream.write_all(response.as_bytes()).await.is_err() {
            return;
        }
        let mut ws = WebSocketStream::from_raw_socket(stream, Role::Server, None).await;
        let (tx, mut rx) = mpsc::unbounded_channel();
        let conn = {
            let mut state = self.state.lock().unwrap();
            let g = &mut state.gateway;
            let conn = g.next_conn;
            g.next_conn += 1;
            g.conns.insert(conn, tx.clone());
            g.counters.connections += 1;
            g.events.push((
                Instant::now(),
                GatewayEvent::Connected {
                    conn,
                    path: request.path.clone(),
                },
            ));
            conn
        };
        // A held socket waits (its frames queue) before Hello.
        let mut hold = self.hold.subscribe();
        let _ = hold.wait_for(|held| !held).await;
        let query = request.path.split_once('?').map(|(_, q)| q).unwrap_or("");
        let version = query
            .split('&')
            .find_map(|p| p.strip_prefix("v="))
            .unwrap_or("10");
        if version != "10" {
            let _ = tx.send(Control::Close(4012, "Invalid API version.".into()));
        } else {
            let interval = self.state.lock().unwrap().gateway.heartbeat_interval;
            let _ = tx.send(Control::Send(frame(
                10,
                json!({"heartbeat_interval": interval, "_trace": ["[\"discord-double\"]"]}),
            )));
        }
        loop {
            tokio::select! {
                control = rx.recv() => match control {
                    Some(Control::Send(f)) => {
                        let text = f.to_string();
                        self.event(GatewayEvent::Sent { conn, frame: f });
                        if ws.send(Message::text(text)).await.is_err() {
                            break;
                        }
                    }
                    Some(Control::Close(code, reason)) => {
                        self.event(GatewayEvent::ServerClosed { conn, code });
                        let _ = ws
                            .send(Message::Close(Some(CloseFrame {
                                code: CloseCode::from(code),
                                reason: reason.into(),
                            })))
                            .await;
                        // Give the client a moment to answer the close.
                        let _ = tokio::time::timeout(Duration::from_secs(1), async {
                            while let Some(Ok(m)) = ws.next().await {
                                if m.is_close() {
                                    break;
                                }
                            }
                        })
                        .await;
                        break;
                    }
                    Some(Control::Drop) | None => break,
                },
                message = ws.next() => match message {
                    Some(Ok(Message::Text(text))) => {
                        let parsed: Value = serde_json::from_str(text.as_str()).unwrap_or(Value::Null);
                        self.event(GatewayEvent::Received { conn, frame: parsed.clone() });
                        self.on_frame(conn, &tx, parsed);
                    }
                    Some(Ok(Message::Binary(_))) => {
                        self.event(GatewayEvent::Received { conn, frame: Value::Null });
                        let _ = tx.send(Control::Close(4002, "Error while decoding payload.".into()));
                    }
                    Some(Ok(Message::Close(close))) => {
                        let code = close.map(|c| u16::from(c.code));
                        self.event(GatewayEvent::ClientClosed { conn, code });
                        let _ = ws.close(None).await;
                        break;
                    }
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => break,
                },
            }
        }
        drop(ws);
        let mut state = self.state.lock().unwrap();
        let g = &mut state.gateway;
        g.conns.remove(&conn);
        g.zombies.remove(&conn);
        for session in g.sessions.values_mut() {
            if session.conn == Some(conn) {
                session.conn = None;
            }
        }
        g.events
            .push((Instant::now(), GatewayEvent::Ended { conn }));
    }

    fn event(&self, e: GatewayEvent) {
        self.state
            .lock()
            .unwrap()
            .gateway
            .events
            .push((Instant::now(), e));
    }

    /// One frame from the client on socket `conn`.
    fn on_frame(&self, conn: u64, tx: &mpsc::UnboundedSender<Control>, f: Value) {
        let close = |code: u16, reason: &str| {
            let _ = tx.send(Control::Close(code, reason.into()));
        };
        let Some(op) = f["op"].as_u64() else {
            return close(4002, "Error while decoding payload.");
        };
        let mut state = self.state.lock().unwrap();
        let g = &mut state.gateway;
        let authenticated = g.sessions.values().any(|s| s.conn == Some(conn));
        match op {
            1 => {
                g.counters.heartbeats += 1;
                if !g.zombies.contains(&conn) {
                    g.counters.acks += 1;
                    let _ = tx.send(Control::Send(frame(11, Value::Null)));
                }
            }
            2 => {
                if authenticated {
                    return close(4005, "Already authenticated.");
                }
                let d = &f["d"];
                if d["token"].as_str() != Some(self.token.as_str()) {
                    return close(4004, "Authentication failed.");
                }
                let Some(intents) = d["intents"].as_u64() else {
                    return close(4013, "Invalid intent(s).");
                };
                if intents & REQUIRED_INTENTS != REQUIRED_INTENTS {
                    // Discord would deliver events without content, or
                    // none at all; the double refuses loudly instead.
                    return close(4013, "Invalid intent(s).");
                }
                if !d["properties"].is_object() {
                    return close(4002, "Error while decoding payload.");
                }
                g.counters.identifies += 1;
                let sid = format!("{:032x}", 0x5e55_0000_u64 + g.counters.identifies as u64);
                g.sessions.insert(
                    sid.clone(),
                    Session {
                        log: Vec::new(),
                        conn: Some(conn),
                        resumable: true,
                    },
                );
                g.current = Some(sid.clone());
                let ready = json!({
                    "v": 10, "user": bot_user(), "guilds": [], "session_id": sid,
                    "resume_gateway_url": format!("ws://{}/gateway/resume", self.addr),
                    "session_type": "normal", "private_channels": [], "relationships": [],
                    "presences": [], "guild_join_requests": [], "geo_ordered_rtc_regions": [],
                    "shard": d["shard"].as_array().map(|_| d["shard"].clone()).unwrap_or(json!([0, 1])),
                    "application": {"id": APP_ID, "flags": 0},
                    "_trace": ["[\"discord-double\"]"],
                });
                Self::dispatch_locked(g, "READY", ready);
                for (t, d) in std::mem::take(&mut g.pending) {
                    Self::dispatch_locked(g, &t, d);
                }
            }
            6 => {
                let d = &f["d"];
                if d["token"].as_str() != Some(self.token.as_str()) {
                    return close(4004, "Authentication failed.");
                }
                let sid = d["session_id"].as_str().unwrap_or("").to_string();
                let seq = d["seq"].as_u64().unwrap_or(0);
                let known = g.sessions.get(&sid).is_some_and(|s| s.resumable);
                if !known {
                    g.counters.refused_resumes += 1;
                    let _ = tx.send(Control::Send(frame(9, json!(false))));
                    return;
                }
                let session = g.sessions.get_mut(&sid).unwrap();
                if seq > session.log.len() as u64 {
                    return close(4007, "Invalid seq.");
                }
                g.counters.resumes += 1;
                // Another socket of the session is let go.
                if let Some(old) = session.conn.replace(conn)
                    && old != conn
                    && let Some(old_tx) = g.conns.get(&old)
                {
                    let _ = old_tx.send(Control::Close(4000, "Session resumed elsewhere.".into()));
                }
                for missed in &session.log[seq as usize..] {
                    let _ = tx.send(Control::Send(missed.clone()));
                }
                g.current = Some(sid);
                Self::dispatch_locked(g, "RESUMED", json!({"_trace": ["[\"discord-double\"]"]}));
            }
            3 | 4 | 8 | 31 => {
                if !authenticated {
                    close(4003, "Not authenticated.");
                }
            }
            _ => close(4001, "Unknown opcode."),
        }
    }

    /// The route of a path under `/api/v10`: ids as `{id}`, interaction
    /// and webhook tokens as `{token}`.
    fn route(method: &str, segments: &[&str]) -> String {
        let mut out = String::new();
        for (i, s) in segments.iter().enumerate() {
            out.push('/');
            let token = i == 2 && matches!(segments[0], "interactions" | "webhooks");
            if token {
                out.push_str("{token}");
            } else if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
                out.push_str("{id}");
            } else {
                out.push_str(s);
            }
        }
        format!("{method} {out}")
    }

    fn answer(&self, request: Recorded) -> Answer {
        let full = request.path.clone();
        let path = full.split('?').next().unwrap_or("").to_string();
        if let Some(rest) = path.strip_prefix("/attachments/") {
            let state = self.state.lock().unwrap();
            return match state.files.get(rest) {
                Some((kind, bytes)) if request.method == "GET" => Answer::Whole {
                    status: 200,
                    headers: vec![("content-type".into(), kind.clone())],
                    body: bytes.clone(),
                },
                _ => Answer::Whole {
                    status: 404,
                    headers: vec![("content-type".into(), "text/plain".into())],
                    body: b"404: Not Found".to_vec(),
                },
            };
        }
        let Some(api) = path.strip_prefix("/api/v10") else {
            return api_error(404, 0, "404: Not Found");
        };
        let segments: Vec<&str> = api.trim_start_matches('/').split('/').collect();
        let route = Self::route(&request.method, &segments);
        let (body, files) = body_of(&request);
        let index = {
            let mut state = self.state.lock().unwrap();
            state.calls.push(Call {
                method: request.method.clone(),
                path: full.strip_prefix("/api/v10").unwrap_or(&full).to_string(),
                route: route.clone(),
                body: body.clone(),
                files: files.clone(),
                headers: request.headers.clone(),
                at: request.at,
                status: 0,
            });
            state.calls.len() - 1
        };
        let answer = self.route_answer(&request, &route, &segments, body, files);
        let status = match &answer {
            Answer::Whole { status, .. } | Answer::Chunked { status, .. } => *status,
        };
        self.state.lock().unwrap().calls[index].status = status;
        answer
    }

    fn route_answer(
        &self,
        request: &Recorded,
        route: &str,
        segments: &[&str],
        body: Value,
        files: Vec<(String, String, String, Vec<u8>)>,
    ) -> Answer {
        let tokened = matches!(segments.first(), Some(&"interactions" | &"webhooks"));
        if !tokened && request.header("authorization") != Some(&format!("Bot {}", self.token)) {
            return api_error(401, 0, "401: Unauthorized");
        }
        if let Some(answer) = self
            .state
            .lock()
            .unwrap()
            .failures
            .get_mut(route)
            .and_then(VecDeque::pop_front)
        {
            return answer;
        }
        let answer = match (request.method.as_str(), segments) {
            ("GET", ["users", "@me"]) => json_answer(200, bot_user()),
            ("GET", ["gateway"]) => json_answer(200, json!({"url": self.gateway_url()})),
            ("GET", ["gateway", "bot"]) => json_answer(
                200,
                json!({
                    "url": self.gateway_url(), "shards": 1,
                    "session_start_limit": {"total": 1000, "remaining": 999,
                        "reset_after": 14_400_000, "max_concurrency": 1},
                }),
            ),
            ("GET", ["channels", id]) => match self.state.lock().unwrap().channels.get(*id) {
                Some(c) => json_answer(200, c.clone()),
                None => api_error(404, 10003, "Unknown Channel"),
            },
            ("POST", ["channels", id, "typing"]) => {
                if self.state.lock().unwrap().channels.contains_key(*id) {
                    no_content()
                } else {
                    api_error(404, 10003, "Unknown Channel")
                }
            }
            ("POST", ["channels", id, "messages"]) => {
                if !self.state.lock().unwrap().channels.contains_key(*id) {
                    return api_error(404, 10003, "Unknown Channel");
                }
                match self.check_message(&body, &files, true) {
                    Err(a) => a,
                    Ok(()) => {
                        let m = self.deliver(id, &body, &files, Via::Message, false);
                        json_answer(200, m)
                    }
                }
            }
            ("PATCH", ["channels", id, "messages", mid]) => {
                if let Err(a) = self.check_message(&body, &files, false) {
                    return a;
                }
                match self.edit(Some(id), mid, &body) {
                    Some(m) => json_answer(200, m),
                    None => api_error(404, 10008, "Unknown Message"),
                }
            }
            ("PUT", ["applications", app, "commands"])
            | ("PUT", ["applications", app, "guilds", _, "commands"]) => {
                if *app != APP_ID {
                    return api_error(403, 50001, "Missing Access");
                }
                self.put_commands(body)
            }
            ("GET", ["applications", app, "commands"]) if *app == APP_ID => {
                json_answer(200, Value::Array(self.commands()))
            }
            ("POST", ["interactions", id, token, "callback"]) => {
                self.callback(request, id, token, body, &files)
            }
            (method, ["webhooks", app, token, rest @ ..]) => {
                if *app != APP_ID {
                    return api_error(404, 10015, "Unknown Webhook");
                }
                self.webhook(request, method, token, rest, body, &files)
            }
            _ => api_error(404, 0, "404: Not Found"),
        };
        add_rate_headers(answer, route)
    }

    /// Discord's checks of a message body (create, or edit when `!create`).
    fn check_message(
        &self,
        body: &Value,
        files: &[(String, String, String, Vec<u8>)],
        create: bool,
    ) -> Result<(), Answer> {
        if !body.is_object() {
            return Err(api_error(
                400,
                50109,
                "The request body contains invalid JSON.",
            ));
        }
        if let Some(content) = body.get("content").and_then(Value::as_str)
            && content.chars().count() > MAX_CONTENT
        {
            return Err(invalid_form(
                "content",
                "BASE_TYPE_MAX_LENGTH",
                "Must be 2000 or fewer in length.",
            ));
        }
        if let Some(rows) = body.get("components").and_then(Value::as_array) {
            if rows.len() > 5 {
                return Err(invalid_form(
                    "components",
                    "BASE_TYPE_MAX_LENGTH",
                    "Must be 5 or fewer in length.",
                ));
            }
            for row in rows {
                let buttons = row["components"].as_array().map(Vec::len).unwrap_or(0);
                if row["type"] != 1 || buttons == 0 || buttons > 5 {
                    return Err(invalid_form(
                        "components",
                        "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                        "An action row needs 1 to 5 components.",
                    ));
                }
                for b in row["components"].as_array().unwrap() {
                    let id_len = b["custom_id"].as_str().map(|s| s.chars().count());
                    if b["type"] == 2 && b["style"] != 5 && !matches!(id_len, Some(1..=100)) {
                        return Err(invalid_form(
                            "components",
                            "BASE_TYPE_BAD_LENGTH",
                            "custom_id must be between 1 and 100 in length.",
                        ));
                    }
                }
            }
        }
        let empty = body["content"].as_str().unwrap_or("").is_empty()
            && body["embeds"].as_array().is_none_or(Vec::is_empty)
            && body["components"].as_array().is_none_or(Vec::is_empty)
            && body["sticker_ids"].as_array().is_none_or(Vec::is_empty)
            && body["poll"].is_null()
            && files.is_empty();
        if create && empty {
            return Err(api_error(400, 50006, "Cannot send an empty message"));
        }
        Ok(())
    }

    /// Records a message of the bot and answers it as a message object.
    fn deliver(
        &self,
        channel: &str,
        body: &Value,
        files: &[(String, String, String, Vec<u8>)],
        via: Via,
        deferred: bool,
    ) -> Value {
        let mut state = self.state.lock().unwrap();
        let id = Self::next_id(&mut state);
        let guild = state
            .channels
            .get(channel)
            .and_then(|c| c["guild_id"].as_str().map(str::to_string));
        let reference = body["message_reference"]["message_id"]
            .as_str()
            .map(str::to_string);
        let delivered = Delivered {
            id: id.clone(),
            channel_id: channel.into(),
            content: body["content"].as_str().unwrap_or("").to_string(),
            components: body.get("components").cloned().unwrap_or(json!([])),
            embeds: body.get("embeds").cloned().unwrap_or(json!([])),
            files: files.iter().map(|f| f.1.clone()).collect(),
            reference: reference.clone(),
            via,
            deferred,
            edits: 0,
            at: Instant::now(),
        };
        state.delivered.push(delivered.clone());
        let attachments: Vec<Value> = files
            .iter()
            .enumerate()
            .map(|(i, (_, name, kind, bytes))| {
                let url = format!("http://{}/attachments/{channel}/{id}{i}/{name}", self.addr);
                json!({"id": format!("{id}{i}"), "filename": name, "size": bytes.len(),
                    "url": url, "proxy_url": url, "content_type": kind})
            })
            .collect();
        for (i, (_, name, kind, bytes)) in files.iter().enumerate() {
            state.files.insert(
                format!("{channel}/{id}{i}/{name}"),
                (kind.clone(), bytes.clone()),
            );
        }
        let mut m = message_object(&delivered, guild.as_deref());
        m["attachments"] = Value::Array(attachments);
        if deferred {
            m["flags"] = json!(128);
        }
        m
    }

    /// Applies an edit to a message the bot sent; its new object.
    fn edit(&self, channel: Option<&str>, id: &str, body: &Value) -> Option<Value> {
        let mut state = self.state.lock().unwrap();
        let guilds: BTreeMap<String, Option<String>> = state
            .channels
            .iter()
            .map(|(k, c)| (k.clone(), c["guild_id"].as_str().map(str::to_string)))
            .collect();
        let m = state
            .delivered
            .iter_mut()
            .find(|m| m.id == id && channel.is_none_or(|c| c == m.channel_id))?;
        if let Some(c) = body.get("content") {
            m.content = c.as_str().unwrap_or("").to_string();
        }
        if let Some(c) = body.get("components") {
            m.components = c.clone();
        }
        if let Some(e) = body.get("embeds") {
            m.embeds = e.clone();
        }
        m.deferred = false;
        m.edits += 1;
        let guild = guilds.get(&m.channel_id).cloned().flatten();
        let mut object = message_object(m, guild.as_deref());
        object["edited_timestamp"] = json!(timestamp());
        Some(object)
    }

    fn put_commands(&self, body: Value) -> Answer {
        let Some(list) = body.as_array() else {
            return invalid_form(
                "_errors",
                "ARRAY_TYPE_CONVERT",
                "Only iterables may be used in a ListType",
            );
        };
        let mut echoed = Vec::new();
        let mut state = self.state.lock().unwrap();
        for (i, c) in list.iter().enumerate() {
            let name = c["name"].as_str().unwrap_or("");
            let kind = c["type"].as_u64().unwrap_or(1);
            let name_ok = (1..=32).contains(&name.chars().count())
                && name
                    .chars()
                    .all(|ch| ch == '-' || ch == '_' || ch.is_alphanumeric())
                && (kind != 1 || name.chars().all(|ch| !ch.is_uppercase()));
            if !name_ok {
                return invalid_form(
                    &format!("{i}.name"),
                    "APPLICATION_COMMAND_INVALID_NAME",
                    "Command name is invalid",
                );
            }
            let description = c["description"].as_str().unwrap_or("");
            if kind == 1 && !(1..=100).contains(&description.chars().count()) {
                return invalid_form(
                    &format!("{i}.description"),
                    "BASE_TYPE_BAD_LENGTH",
                    "Must be between 1 and 100 in length.",
                );
            }
            let mut command = c.clone();
            let id = Self::next_id(&mut state);
            let fill = json!({
                "id": id, "application_id": APP_ID, "version": id, "type": kind,
                "default_member_permissions": null, "nsfw": false, "options": [],
                "integration_types": [0], "contexts": null,
            });
            for (k, v) in fill.as_object().unwrap() {
                if command.get(k).is_none() || k == "id" || k == "version" || k == "application_id"
                {
                    command[k] = v.clone();
                }
            }
            echoed.push(command);
        }
        state.commands = echoed.clone();
        json_answer(200, Value::Array(echoed))
    }

    fn callback(
        &self,
        request: &Recorded,
        id: &str,
        token: &str,
        body: Value,
        files: &[(String, String, String, Vec<u8>)],
    ) -> Answer {
        let kind = body["type"].as_u64().unwrap_or(0);
        let data = body["data"].clone();
        let (elapsed, known, already, channel, interaction_kind, original) = {
            let state = self.state.lock().unwrap();
            match state.interactions.get(id).filter(|i| i.token == token) {
                Some(i) => (
                    request.at.saturating_duration_since(i.dispatched),
                    true,
                    i.acked.is_some(),
                    i.channel_id.clone(),
                    i.original.is_some(),
                    i.original.clone(),
                ),
                None => (Duration::ZERO, false, false, String::new(), false, None),
            }
        };
        let late = known && elapsed > INTERACTION_DEADLINE;
        let is_component = interaction_kind;
        let answer = if !known || late {
            api_error(404, 10062, "Unknown interaction")
        } else if already {
            api_error(400, 40060, "Interaction has already been acknowledged.")
        } else {
            match kind {
                4..=7 => {
                    if (kind == 6 || kind == 7) && !is_component {
                        invalid_form(
                            "type",
                            "INTERACTION_RESPONSE_TYPE_INVALID",
                            "Interaction response type is not valid for this interaction",
                        )
                    } else if let (4 | 7, Err(a)) =
                        (kind, self.check_message(&data, files, kind == 4))
                    {
                        a
                    } else {
                        let original = match kind {
                            4 | 5 => {
                                let m = self.deliver(
                                    &channel,
                                    &data,
                                    files,
                                    Via::InteractionResponse,
                                    kind == 5,
                                );
                                m["id"].as_str().map(str::to_string)
                            }
                            7 => {
                                if let Some(o) = &original {
                                    self.edit(None, o, &data);
                                }
                                original
                            }
                            _ => original,
                        };
                        let mut state = self.state.lock().unwrap();
                        if let Some(i) = state.interactions.get_mut(id) {
                            i.acked = Some(kind);
                            i.original = original;
                        }
                        no_content()
                    }
                }
                1 => invalid_form(
                    "type",
                    "INTERACTION_RESPONSE_TYPE_INVALID",
                    "PONG is only for HTTP interactions",
                ),
                _ => invalid_form(
                    "type",
                    "BASE_TYPE_CHOICES",
                    "Value must be one of {1, 4, 5, 6, 7, 8, 9, 10, 12}.",
                ),
            }
        };
        let status = match &answer {
            Answer::Whole { status, .. } | Answer::Chunked { status, .. } => *status,
        };
        self.state.lock().unwrap().callbacks.push(Callback {
            interaction_id: id.into(),
            token: token.into(),
            kind,
            data,
            at: request.at,
            elapsed,
            late,
            status,
        });
        answer
    }

    fn webhook(
        &self,
        request: &Recorded,
        method: &str,
        token: &str,
        rest: &[&str],
        body: Value,
        files: &[(String, String, String, Vec<u8>)],
    ) -> Answer {
        let interaction = {
            let state = self.state.lock().unwrap();
            state
                .interactions
                .values()
                .find(|i| i.token == token)
                .map(|i| (i.channel_id.clone(), i.acked.is_some(), i.original.clone()))
        };
        let target = rest.get(1).copied().unwrap_or("").to_string();
        let answer = match (interaction, method, rest) {
            (None, ..) => api_error(404, 10015, "Unknown Webhook"),
            (Some((_, false, _)), ..) => api_error(404, 10015, "Unknown Webhook"),
            (Some((channel, true, _)), "POST", []) => {
                match self.check_message(&body, files, true) {
                    Err(a) => a,
                    Ok(()) => json_answer(
                        200,
                        self.deliver(&channel, &body, files, Via::Followup, false),
                    ),
                }
            }
            (Some((_, true, original)), "PATCH" | "GET" | "DELETE", ["messages", which]) => {
                let id = if *which == "@original" {
                    original
                } else {
                    Some(which.to_string())
                };
                match (method, id) {
                    (_, None) => api_error(404, 10008, "Unknown Message"),
                    ("PATCH", Some(id)) => match self.check_message(&body, files, false) {
                        Err(a) => a,
                        Ok(()) => match self.edit(None, &id, &body) {
                            Some(m) => json_answer(200, m),
                            None => api_error(404, 10008, "Unknown Message"),
                        },
                    },
                    ("GET", Some(id)) => {
                        let state = self.state.lock().unwrap();
                        match state.delivered.iter().find(|m| m.id == id) {
                            Some(m) => json_answer(200, message_object(m, None)),
                            None => api_error(404, 10008, "Unknown Message"),
                        }
                    }
                    (_, Some(id)) => {
                        let mut state = self.state.lock().unwrap();
                        state.delivered.retain(|m| m.id != id);
                        no_content()
                    }
                }
            }
            _ => api_error(405, 0, "405: Method Not Allowed"),
        };
        let status = match &answer {
            Answer::Whole { status, .. } | Answer::Chunked { status, .. } => *status,
        };
        self.state.lock().unwrap().webhook_calls.push(WebhookCall {
            method: method.into(),
            token: token.into(),
            target,
            body,
            at: request.at,
            status,
        });
        answer
    }
}

fn message_object(d: &Delivered, guild: Option<&str>) -> Value {
    let mut m = json!({
        "id": d.id, "type": if d.reference.is_some() { 19 } else { 0 }, "channel_id": d.channel_id,
        "author": bot_user(), "content": d.content, "timestamp": timestamp(),
        "edited_timestamp": null, "tts": false, "mention_everyone": false, "mentions": [],
        "mention_roles": [], "attachments": [], "embeds": d.embeds, "pinned": false,
        "flags": 0, "components": d.components,
    });
    if let Some(g) = guild {
        m["guild_id"] = json!(g);
    }
    if let Some(r) = &d.reference {
        m["message_reference"] = json!({"type": 0, "message_id": r, "channel_id": d.channel_id});
    }
    m
}

/// Adds the `X-RateLimit-*` headers of a generous bucket to a success.
fn add_rate_headers(answer: Answer, route: &str) -> Answer {
    match answer {
        Answer::Whole {
            status,
            mut headers,
            body,
        } if status < 300 => {
            headers.extend([
                ("x-ratelimit-limit".to_string(), "50".to_string()),
                ("x-ratelimit-remaining".to_string(), "49".to_string()),
                ("x-ratelimit-reset-after".to_string(), "1.000".to_string()),
                ("x-ratelimit-bucket".to_string(), bucket_of(route)),
            ]);
            Answer::Whole {
                status,
                headers,
                body,
            }
        }
        other => other,
    }
}

/// A file of a multipart body: field, file name, content type, bytes.
type FormFile = (String, String, String, Vec<u8>);

/// The body as JSON (a multipart body's `payload_json`) and the files.
fn body_of(request: &Recorded) -> (Value, Vec<FormFile>) {
    let content_type = request.header("content-type").unwrap_or_default();
    if content_type.starts_with("multipart/form-data")
        && let Some(boundary) = content_type.split("boundary=").nth(1)
    {
        let mut body = Value::Null;
        let mut files = Vec::new();
        for (name, filename, kind, bytes) in multipart(&request.raw, boundary.trim_matches('"')) {
            match filename {
                Some(f) => files.push((
                    name,
                    f,
                    kind.unwrap_or_else(|| "application/octet-stream".into()),
                    bytes,
                )),
                None if name == "payload_json" => {
                    body = serde_json::from_slice(&bytes).unwrap_or(Value::Null)
                }
                None => {}
            }
        }
        return (body, files);
    }
    if request.raw.is_empty() {
        return (json!({}), Vec::new());
    }
    (request.body.clone(), Vec::new())
}

type Part = (String, Option<String>, Option<String>, Vec<u8>);

/// The parts of a `multipart/form-data` body: (name, filename, content
/// type, bytes).
fn multipart(body: &[u8], boundary: &str) -> Vec<Part> {
    let delimiter = format!("--{boundary}");
    let mut parts = Vec::new();
    let mut rest = body;
    while let Some(start) = find(rest, delimiter.as_bytes()) {
        rest = &rest[start + delimiter.len()..];
        if rest.starts_with(b"--") {
            break;
        }
        let Some(head_end) = find(rest, b"\r\n\r\n") else {
            break;
        };
        let head = String::from_utf8_lossy(&rest[..head_end]).into_owned();
        let content = &rest[head_end + 4..];
        let end = find(content, format!("\r\n{delimiter}").as_bytes()).unwrap_or(content.len());
        let attr = |name: &str| {
            head.split(['\r', '\n', ';'])
                .map(str::trim)
                .find_map(|p| p.strip_prefix(&format!("{name}=")))
                .map(|v| v.trim_matches('"').to_string())
        };
        let kind = head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("content-type")
                .then(|| v.trim().to_string())
        });
        if let Some(name) = attr("name") {
            parts.push((name, attr("filename"), kind, content[..end].to_vec()));
        }
        rest = &content[end..];
    }
    parts
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    type Client = WebSocketStream<TcpStream>;

    async fn connect(double: &DiscordDouble, path: &str) -> Client {
        let tcp = TcpStream::connect(double.addr).await.unwrap();
        let request = format!("ws://{}{path}", double.addr)
            .into_client_request()
            .unwrap();
        tokio_tungstenite::client_async(request, tcp)
            .await
            .unwrap()
            .0
    }

    async fn next(ws: &mut Client) -> Value {
        loop {
            let m = tokio::time::timeout(Duration::from_secs(5), ws.next())
                .await
                .expect("a frame within 5 s")
                .expect("the socket is open")
                .unwrap();
            if let Message::Text(t) = m {
                return serde_json::from_str(t.as_str()).unwrap();
            }
            if let Message::Close(c) = m {
                return json!({"close": c.map(|c| u16::from(c.code))});
            }
        }
    }

    async fn send(ws: &mut Client, v: Value) {
        ws.send(Message::text(v.to_string())).await.unwrap();
    }

    fn identify(token: &str) -> Value {
        json!({"op": 2, "d": {"token": token, "intents": REQUIRED_INTENTS,
            "properties": {"os": "linux", "browser": "t", "device": "t"}}})
    }

    #[tokio::test]
    async fn hello_identify_heartbeat_and_resume_replay() {
        let double = DiscordDouble::start_with("T0K", 500).await;
        let mut ws = connect(&double, "/gateway?v=10&encoding=json").await;
        let hello = next(&mut ws).await;
        assert_eq!(hello["op"], 10);
        assert_eq!(hello["d"]["heartbeat_interval"], 500);
        send(&mut ws, identify("T0K")).await;
        let ready = next(&mut ws).await;
        assert_eq!(
            (ready["op"].clone(), ready["t"].clone(), ready["s"].clone()),
            (json!(0), json!("READY"), json!(1))
        );
        let sid = ready["d"]["session_id"].as_str().unwrap().to_string();
        assert!(
            ready["d"]["resume_gateway_url"]
                .as_str()
                .unwrap()
                .ends_with("/gateway/resume")
        );
        send(&mut ws, json!({"op": 1, "d": 1})).await;
        assert_eq!(next(&mut ws).await["op"], 11);

        double.dispatch_message(Incoming::dm("5", "100", "one"));
        let one = next(&mut ws).await;
        assert_eq!(
            (one["s"].clone(), one["d"]["content"].clone()),
            (json!(2), json!("one"))
        );
        assert!(one["d"].get("guild_id").is_none());

        // Dropped: what comes meanwhile is replayed after the Resume.
        assert_eq!(double.drop_connection(), 1);
        double.dispatch_message(Incoming::dm("5", "100", "two"));
        double.dispatch_message(Incoming::dm("5", "100", "three"));
        double
            .wait_until("the socket ended", 5, |d| {
                d.bound_connection().is_none() && d.state.lock().unwrap().gateway.conns.is_empty()
            })
            .await;
        let mut ws = connect(&double, "/gateway/resume/?v=10&encoding=json").await;
        assert_eq!(next(&mut ws).await["op"], 10);
        send(
            &mut ws,
            json!({"op": 6, "d": {"token": "T0K", "session_id": sid, "seq": 2}}),
        )
        .await;
        let mut got = Vec::new();
        for _ in 0..3 {
            let f = next(&mut ws).await;
            got.push((
                f["s"].as_u64().unwrap(),
                f["t"].as_str().unwrap().to_string(),
                f["d"]["content"].clone(),
            ));
        }
        assert_eq!(
            got,
            [
                (3, "MESSAGE_CREATE".to_string(), json!("two")),
                (4, "MESSAGE_CREATE".to_string(), json!("three")),
                (5, "RESUMED".to_string(), Value::Null),
            ]
        );
        let c = double.counters();
        assert_eq!(
            (c.connections, c.identifies, c.resumes, c.heartbeats),
            (2, 1, 1, 1)
        );

        // A zombie: no ACK.
        double.stop_acks();
        send(&mut ws, json!({"op": 1, "d": 5})).await;
        double.dispatch("TYPING_START", json!({"channel_id": "5"}));
        assert_eq!(
            next(&mut ws).await["t"],
            "TYPING_START",
            "no ACK came first"
        );
        double.resume_acks();
        send(&mut ws, json!({"op": 1, "d": 6})).await;
        assert_eq!(next(&mut ws).await["op"], 11);

        // Unknown session; a wrong token.
        let mut other = connect(&double, "/gateway").await;
        next(&mut other).await;
        send(
            &mut other,
            json!({"op": 6, "d": {"token": "T0K", "session_id": "nope", "seq": 1}}),
        )
        .await;
        assert_eq!(
            next(&mut other).await,
            json!({"op": 9, "d": false, "s": null, "t": null})
        );
        send(&mut other, identify("wrong")).await;
        assert_eq!(next(&mut other).await, json!({"close": 4004}));
    }

    #[tokio::test]
    async fn rest_checks_auth_length_and_interaction_deadline() {
        let double = DiscordDouble::start("T0K").await;
        let base = double.addr;
        let get = |path: &str, auth: Option<&str>| {
            let auth = auth
                .map(|a| format!("authorization: {a}\r\n"))
                .unwrap_or_default();
            format!(
                "GET /api/v10{path} HTTP/1.1\r\nhost: {base}\r\n{auth}connection: close\r\n\r\n"
            )
        };
        let post = |path: &str, body: &Value| {
            let body = body.to_string();
            format!(
                "POST /api/v10{path} HTTP/1.1\r\nhost: {base}\r\nauthorization: Bot T0K\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            )
        };
        async fn raw(addr: SocketAddr, request: String) -> (u16, String) {
            use tokio::io::AsyncReadExt;
            let mut s = TcpStream::connect(addr).await.unwrap();
            s.write_all(request.as_bytes()).await.unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).await.unwrap();
            let status = out[9..12].parse().unwrap();
            (status, out.split_once("\r\n\r\n").unwrap().1.to_string())
        }
        assert_eq!(raw(base, get("/users/@me", None)).await.0, 401);
        let (status, me) = raw(base, get("/users/@me", Some("Bot T0K"))).await;
        assert_eq!(status, 200);
        assert!(me.contains(BOT_ID));
        let (_, gw) = raw(base, get("/gateway/bot", Some("Bot T0K"))).await;
        assert!(gw.contains(&double.gateway_url()));

        double.dispatch_message(Incoming::dm("5", "100", "hi"));
        let (status, body) = raw(
            base,
            post(
                "/channels/5/messages",
                &json!({"content": "x".repeat(2001)}),
            ),
        )
        .await;
        assert_eq!(status, 400);
        assert!(body.contains("50035"));
        double.fail_next("POST /channels/{id}/messages", rate_limited(0.5, "b1"));
        let (status, body) =
            raw(base, post("/channels/5/messages", &json!({"content": "a"}))).await;
        assert_eq!(status, 429);
        assert!(body.contains("retry_after"));
        let (status, _) = raw(base, post("/channels/5/messages", &json!({"content": "a"}))).await;
        assert_eq!(status, 200);
        assert_eq!(double.delivered("5").len(), 1);

        let (id, token) = double.dispatch_command("5", "100", None, "ask", json!([]));
        let path = format!("/interactions/{id}/{token}/callback");
        let (status, _) = raw(base, post(&path, &json!({"type": 5}))).await;
        assert_eq!(status, 204);
        let (status, _) = raw(
            base,
            post(&path, &json!({"type": 4, "data": {"content": "again"}})),
        )
        .await;
        assert_eq!(status, 400);
        let cb = double.callbacks();
        assert_eq!(cb[0].kind, 5);
        assert!(!cb[0].late);
        assert!(double.delivered("5")[1].deferred);
        assert_eq!(
            double
                .calls_of("POST /interactions/{id}/{token}/callback")
                .len(),
            2
        );
    }
}
