//! Connections the host holds for channel components: the web page's
//! WebSockets today. The listener registers each accepted connection under
//! an id and the component that owns it; the component's
//! `connections.ws-send` / `ws-close` calls land here and are passed to the
//! connection's writer task. A component can reach only its own
//! connections.

use super::bindings::WitError;
use super::bindings::channel::openpista::plugin::connections::Frame;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::mpsc;

/// Frames queued per connection before sends fail: a client that stops
/// reading cannot make the host hold unbounded memory.
pub const QUEUE: usize = 1024;

/// What the writer of one connection is asked to do.
#[derive(Debug, Clone)]
pub enum Outgoing {
    Frame(Frame),
    Close { code: u16, reason: String },
}

struct Conn {
    owner: String,
    tx: mpsc::Sender<Outgoing>,
}

/// Every open connection, by id.
#[derive(Default)]
pub struct ConnectionHub {
    next: AtomicU64,
    conns: Mutex<HashMap<u64, Conn>>,
}

impl std::fmt::Debug for ConnectionHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionHub")
            .field("open", &self.conns.lock().unwrap().len())
            .finish()
    }
}

impl ConnectionHub {
    /// A fresh id for a connection about to be offered to a component.
    pub fn next_id(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Registers connection `id`, owned by component `owner`; returns what
    /// its writer task must send.
    pub fn register(&self, id: u64, owner: &str) -> mpsc::Receiver<Outgoing> {
        let (tx, rx) = mpsc::channel(QUEUE);
        self.conns.lock().unwrap().insert(
            id,
            Conn {
                owner: owner.to_string(),
                tx,
            },
        );
        rx
    }

    /// Forgets connection `id` (it closed).
    pub fn remove(&self, id: u64) {
        self.conns.lock().unwrap().remove(&id);
    }

    /// The open connections component `owner` holds (a WhatsApp bridge's).
    pub fn owned_by(&self, owner: &str) -> Vec<u64> {
        let mut ids: Vec<u64> = self
            .conns
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, c)| c.owner == owner)
            .map(|(id, _)| *id)
            .collect();
        ids.sort();
        ids
    }

    /// Open connections.
    pub fn len(&self) -> usize {
        self.conns.lock().unwrap().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Queues `what` on connection `id` for component `caller`.
    pub fn send(&self, caller: &str, id: u64, what: Outgoing) -> Result<(), WitError> {
        let conns = self.conns.lock().unwrap();
        let conn = conns
            .get(&id)
            .filter(|c| c.owner == caller)
            .ok_or_else(|| WitError::NotFound(format!("no open connection {id}")))?;
        conn.tx.try_send(what).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => WitError::Unavailable(format!(
                "connection {id} is not reading: {QUEUE} frames are already queued"
            )),
            mpsc::error::TrySendError::Closed(_) => {
                WitError::NotFound(format!("connection {id} has closed"))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_owner_reaches_a_connection() {
        let hub = ConnectionHub::default();
        let id = hub.next_id();
        let mut rx = hub.register(id, "channel-web");
        hub.send("channel-web", id, Outgoing::Frame(Frame::Text("hi".into())))
            .unwrap();
        assert!(matches!(rx.try_recv(), Ok(Outgoing::Frame(Frame::Text(t))) if t == "hi"));
        let e = hub
            .send("other", id, Outgoing::Frame(Frame::Text("x".into())))
            .unwrap_err();
        assert!(matches!(e, WitError::NotFound(_)));
        hub.remove(id);
        assert!(
            hub.send(
                "channel-web",
                id,
                Outgoing::Close {
                    code: 1000,
                    reason: String::new()
                }
            )
            .is_err()
        );
        assert!(hub.is_empty());
    }

    #[test]
    fn a_connection_that_stops_reading_is_bounded() {
        let hub = ConnectionHub::default();
        let id = hub.next_id();
        let _rx = hub.register(id, "c");
        for _ in 0..QUEUE {
            hub.send("c", id, Outgoing::Frame(Frame::Text("x".into())))
                .unwrap();
        }
        let e = hub
            .send("c", id, Outgoing::Frame(Frame::Text("x".into())))
            .unwrap_err();
        assert!(matches!(e, WitError::Unavailable(_)), "{e:?}");
    }
}
