//! The double's private state behind its mutex: the Gateway's sessions
//! and sockets, the known channels, files, commands and interactions, and
//! the scripted failures; plus the helpers that allocate snowflake ids
//! and channels. Shared by the REST and Gateway halves.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Instant;

use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::super::http1::Answer;
use super::payloads::user;
use super::{Call, Callback, Counters, Delivered, DiscordDouble, GatewayEvent, WebhookCall};

/// What the double writes to one socket.
pub(super) enum Control {
    Send(Value),
    /// Close with a close frame.
    Close(u16, String),
    /// End the TCP connection, no close frame.
    Drop,
}

pub(super) struct Session {
    /// Every dispatch of the session (whole frames), `s` = index + 1.
    pub(super) log: Vec<Value>,
    /// The connection it is bound to.
    pub(super) conn: Option<u64>,
    pub(super) resumable: bool,
}

pub(super) struct Interaction {
    pub(super) token: String,
    pub(super) channel_id: String,
    pub(super) dispatched: Instant,
    /// The first callback's type.
    pub(super) acked: Option<u64>,
    /// The message `@original` names, once there is one.
    pub(super) original: Option<String>,
}

pub(super) struct Gateway {
    pub(super) heartbeat_interval: u64,
    pub(super) sessions: BTreeMap<String, Session>,
    /// The session dispatches go to.
    pub(super) current: Option<String>,
    /// Open sockets.
    pub(super) conns: BTreeMap<u64, mpsc::UnboundedSender<Control>>,
    /// Sockets whose heartbeats are not acknowledged.
    pub(super) zombies: BTreeSet<u64>,
    /// Dispatches made before any session.
    pub(super) pending: Vec<(String, Value)>,
    pub(super) next_conn: u64,
    pub(super) counters: Counters,
    pub(super) events: Vec<(Instant, GatewayEvent)>,
}

pub(super) struct State {
    pub(super) calls: Vec<Call>,
    pub(super) failures: BTreeMap<String, VecDeque<Answer>>,
    pub(super) next_id: u64,
    pub(super) delivered: Vec<Delivered>,
    pub(super) channels: BTreeMap<String, Value>,
    pub(super) files: BTreeMap<String, (String, Vec<u8>)>,
    pub(super) commands: Vec<Value>,
    pub(super) interactions: BTreeMap<String, Interaction>,
    pub(super) callbacks: Vec<Callback>,
    pub(super) webhook_calls: Vec<WebhookCall>,
    pub(super) gateway: Gateway,
}

impl DiscordDouble {
    pub(super) fn next_id(state: &mut State) -> String {
        state.next_id += 1 + (state.next_id % 7);
        state.next_id.to_string()
    }

    pub(super) fn ensure_channel(
        state: &mut State,
        id: &str,
        guild: Option<&str>,
        author: Option<&str>,
    ) {
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
}
