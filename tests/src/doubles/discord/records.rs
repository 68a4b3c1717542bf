//! What the double records and a test reads back: REST calls, the
//! messages the bot delivered, interaction callbacks, webhook calls,
//! Gateway events and counters. Plain data, kept apart from the serving
//! code so a test's view of the double is in one place.

use std::time::{Duration, Instant};

use serde_json::Value;

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
