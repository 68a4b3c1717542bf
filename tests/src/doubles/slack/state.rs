//! The double's private state behind its mutex: the Socket Mode side's
//! sockets, tickets and envelopes, the posted messages, uploads, files and
//! users, and the scripted failures; plus the allocation of message `ts`.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::mpsc;

use super::super::http1::Answer;
use super::{Ack, Call, Counters, Posted, SlackDouble, SocketEvent, Upload};

pub(super) enum Control {
    Send(Value),
    Close(u16, String),
    Drop,
}

pub(super) struct Socket {
    /// Open sockets, oldest first.
    pub(super) conns: BTreeMap<u64, mpsc::UnboundedSender<Control>>,
    /// Tickets handed out and not used yet.
    pub(super) tickets: Vec<u64>,
    pub(super) next_ticket: u64,
    pub(super) next_conn: u64,
    pub(super) next_envelope: u64,
    /// When each envelope was written, by id.
    pub(super) sent: BTreeMap<String, (u64, Instant)>,
    pub(super) acks: Vec<Ack>,
    pub(super) counters: Counters,
    pub(super) events: Vec<(Instant, SocketEvent)>,
    /// After `disconnect`, the double closes the socket itself this much
    /// later unless the client did (Slack: about 10 s).
    pub(super) disconnect_grace: Duration,
}

pub(super) struct State {
    pub(super) calls: Vec<Call>,
    pub(super) failures: BTreeMap<String, VecDeque<Answer>>,
    pub(super) next_ts: u64,
    pub(super) posted: Vec<Posted>,
    pub(super) uploads: BTreeMap<String, Upload>,
    pub(super) next_file: u64,
    /// Downloadable files: path under `/files/` → (mimetype, bytes).
    pub(super) files: BTreeMap<String, (String, Vec<u8>)>,
    pub(super) users: BTreeMap<String, Value>,
    pub(super) socket: Socket,
}

impl SlackDouble {
    pub(super) fn next_ts(state: &mut State) -> String {
        state.next_ts += 100;
        format!(
            "{}.{:06}",
            1_700_000_000 + state.next_ts / 1_000_000,
            state.next_ts % 1_000_000
        )
    }
}
