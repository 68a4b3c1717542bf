//! How a test reads the double: the calls, the messages posted, the
//! uploads, and Socket Mode's events, acks, counters and open sockets.

use std::collections::BTreeMap;
use std::time::Instant;

use super::{Ack, Call, Counters, Posted, SlackDouble, SocketEvent, Upload};

impl SlackDouble {
    /// Every Web API call so far.
    pub fn calls(&self) -> Vec<Call> {
        self.state.lock().unwrap().calls.clone()
    }

    /// The calls of `method` (`chat.postMessage`...).
    pub fn calls_of(&self, method: &str) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.method == method)
            .collect()
    }

    /// Messages the bot posted to `channel`, in order.
    pub fn posted(&self, channel: &str) -> Vec<Posted> {
        self.state
            .lock()
            .unwrap()
            .posted
            .iter()
            .filter(|p| p.channel == channel)
            .cloned()
            .collect()
    }

    /// Every message the bot posted anywhere.
    pub fn all_posted(&self) -> Vec<Posted> {
        self.state.lock().unwrap().posted.clone()
    }

    /// The uploads promised, by file id.
    pub fn uploads(&self) -> BTreeMap<String, Upload> {
        self.state.lock().unwrap().uploads.clone()
    }

    pub fn counters(&self) -> Counters {
        self.state.lock().unwrap().socket.counters
    }

    /// Socket Mode's events, in order.
    pub fn socket_events(&self) -> Vec<(Instant, SocketEvent)> {
        self.state.lock().unwrap().socket.events.clone()
    }

    /// Acknowledgements received, in order.
    pub fn acks(&self) -> Vec<Ack> {
        self.state.lock().unwrap().socket.acks.clone()
    }

    /// Sockets open now, oldest first.
    pub fn open_connections(&self) -> Vec<u64> {
        self.state
            .lock()
            .unwrap()
            .socket
            .conns
            .keys()
            .copied()
            .collect()
    }
}
