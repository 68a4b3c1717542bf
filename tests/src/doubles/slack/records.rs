//! What a test reads back: Web API calls, the messages users see, promised
//! uploads, Socket Mode events, acknowledgements and counters.

use std::time::{Duration, Instant};

use serde_json::Value;

/// One Web API call as received.
#[derive(Clone, Debug)]
pub struct Call {
    /// `chat.postMessage`, `auth.test`...
    pub method: String,
    /// `POST` or `GET`.
    pub http_method: String,
    /// Headers in the order received; names lowercase.
    pub headers: Vec<(String, String)>,
    /// The JSON body, or the form fields and query string as one object
    /// (every value a string, as sent).
    pub params: Value,
    /// `json`, `form`, `multipart` or `none`: how the body came.
    pub encoding: &'static str,
    /// The token used (header, else form/query `token`).
    pub token: Option<String>,
    pub raw: Vec<u8>,
    pub at: Instant,
    /// The HTTP status the double answered.
    pub status: u16,
    /// The `error` of an `{"ok":false}` answer.
    pub error: Option<String>,
}

impl Call {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Answered `200` with `ok: true`.
    pub fn succeeded(&self) -> bool {
        self.status == 200 && self.error.is_none()
    }

    /// A parameter as a string, whether sent as a JSON string, a JSON
    /// number or a form field.
    pub fn param(&self, name: &str) -> Option<String> {
        match &self.params[name] {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            other => Some(other.to_string()),
        }
    }
}

/// How a message the user sees came to be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Via {
    PostMessage,
    Ephemeral,
    /// A file shared by `files.completeUploadExternal`.
    File,
}

/// A message the bot posted, as users see it now (edits applied).
#[derive(Clone, Debug)]
pub struct Posted {
    pub channel: String,
    pub ts: String,
    pub thread_ts: Option<String>,
    pub text: String,
    pub blocks: Value,
    pub via: Via,
    /// For an ephemeral message, who sees it.
    pub user: Option<String>,
    /// Shared files' names (`Via::File`).
    pub files: Vec<String>,
    pub edits: u32,
    pub at: Instant,
}

/// A file promised by `files.getUploadURLExternal`.
#[derive(Clone, Debug)]
pub struct Upload {
    pub file_id: String,
    pub filename: String,
    /// The `length` promised.
    pub length: u64,
    /// What arrived at the upload URL (`None`: nothing yet).
    pub bytes: Option<Vec<u8>>,
    pub completed: bool,
}

/// Something that happened in Socket Mode.
#[derive(Clone, Debug, PartialEq)]
pub enum SocketEvent {
    /// A socket was upgraded; `path` with its query.
    Connected { conn: u64, path: String },
    /// The client sent a text frame (parsed; `Value::Null` if not JSON).
    Received { conn: u64, frame: Value },
    /// The double wrote a frame.
    Sent { conn: u64, frame: Value },
    /// The client closed with a close frame.
    ClientClosed { conn: u64, code: Option<u16> },
    /// The double closed with a close frame.
    ServerClosed { conn: u64, code: u16 },
    /// The double dropped the socket without a close frame.
    Dropped { conn: u64 },
    /// The socket ended, however.
    Ended { conn: u64 },
}

/// An acknowledgement of an envelope.
#[derive(Clone, Debug)]
pub struct Ack {
    pub conn: u64,
    pub envelope_id: String,
    /// The ack's `payload`, if any.
    pub payload: Value,
    pub at: Instant,
    /// Since the envelope was written (`None`: an id never sent).
    pub after: Option<Duration>,
}

/// Counters of the Socket Mode side.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// `apps.connections.open` answered with a URL.
    pub opens: u32,
    /// Sockets upgraded.
    pub connections: u32,
    /// Upgrades refused (unknown or used ticket).
    pub refused: u32,
    pub envelopes: u32,
    pub acks: u32,
}
