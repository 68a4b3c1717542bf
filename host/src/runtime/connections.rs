//! Connections the host holds for channel components: the web page's
//! WebSockets, the WhatsApp bridge, and WebSockets a channel asked the host
//! to open (`connections.ws-open`, see [`super::ws_client`]). Each is
//! registered under an id and the component that owns it; the component's
//! `connections.ws-send` / `ws-close` calls land here and are passed to the
//! connection's writer task. A component can reach only its own
//! connections.
//!
//! What arrives on a connection a channel opened goes to that channel's
//! [`SocketEvent`] queue, which the gateway drains into `handle-ws` and
//! `ws-closed` calls ([`ConnectionHub::listen`]); a component with no such
//! queue (an instance the host made only to ask for a report) cannot open
//! one.

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
    /// Opened by the component (`ws-open`), counted against its limit.
    outbound: bool,
}

/// What a connection a channel opened reports to the channel.
#[derive(Debug)]
pub enum SocketEvent {
    /// A frame arrived on connection `id`.
    Frame(u64, Frame),
    /// Connection `id` ended; its status waits in the hub until the
    /// channel has been told ([`ConnectionHub::forget_closed`]).
    Closed(u64),
}

/// Events queued per channel before the socket readers wait: a channel
/// slower than its sockets slows their reading (TCP pushes back on the
/// server) instead of growing memory.
pub const EVENT_QUEUE: usize = 256;

/// Every open connection, by id.
#[derive(Default)]
pub struct ConnectionHub {
    next: AtomicU64,
    conns: Mutex<HashMap<u64, Conn>>,
    /// Each serving channel's event queue, by component.
    listeners: Mutex<HashMap<String, mpsc::Sender<SocketEvent>>>,
    /// Why outbound connections ended, until their owner has been told.
    closed: Mutex<HashMap<u64, (String, u16, String)>>,
    /// Components that may not open connections now: in a cluster, a
    /// channel whose connection another node holds (its lease).
    held_elsewhere: Mutex<std::collections::HashSet<String>>,
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
                outbound: false,
            },
        );
        rx
    }

    /// Makes `owner`'s event queue: from now on it may open connections,
    /// and what arrives on them comes out of the returned receiver. A
    /// second call replaces the first queue.
    pub fn listen(&self, owner: &str) -> mpsc::Receiver<SocketEvent> {
        let (tx, rx) = mpsc::channel(EVENT_QUEUE);
        self.listeners.lock().unwrap().insert(owner.to_string(), tx);
        rx
    }

    /// Registers a connection `owner` opens, if its queue exists and it
    /// holds fewer than `limit` already: the id, what its writer must send,
    /// and where its reader reports.
    pub fn open_outbound(
        &self,
        owner: &str,
        limit: u32,
    ) -> Result<(u64, mpsc::Receiver<Outgoing>, mpsc::Sender<SocketEvent>), WitError> {
        if limit == 0 {
            return Err(WitError::Denied(
                "the manifest allows no WebSockets: declare [capabilities] websockets = N".into(),
            ));
        }
        let events = self
            .listeners
            .lock()
            .unwrap()
            .get(owner)
            .filter(|tx| !tx.is_closed())
            .cloned()
            .ok_or_else(|| {
                WitError::Unavailable(
                    "this instance is not the running channel: connections open only while the channel serves".into(),
                )
            })?;
        let mut conns = self.conns.lock().unwrap();
        // Checked under the lock `set_outbound_allowed` takes first, so a
        // connection is never registered after its owner lost the right.
        if !self.outbound_allowed(owner) {
            return Err(WitError::Unavailable(
                "another node of the cluster holds this channel's connection".into(),
            ));
        }
        let held = conns
            .values()
            .filter(|c| c.outbound && c.owner == owner)
            .count();
        if held >= limit as usize {
            return Err(WitError::Unavailable(format!(
                "the channel already holds {held} WebSocket(s), all its manifest allows: close one first"
            )));
        }
        let id = self.next_id();
        let (tx, rx) = mpsc::channel(QUEUE);
        conns.insert(
            id,
            Conn {
                owner: owner.to_string(),
                tx,
                outbound: true,
            },
        );
        Ok((id, rx, events))
    }

    /// Connection `id` ended with `code` and `reason`: forgets it, and
    /// keeps why for its owner's `ws-close-status`.
    pub fn ended(&self, id: u64, code: u16, reason: String) {
        if let Some(conn) = self.conns.lock().unwrap().remove(&id) {
            self.closed
                .lock()
                .unwrap()
                .insert(id, (conn.owner, code, reason));
        }
    }

    /// Whether `caller`'s connection `id` is one it opened (`ws-open`).
    pub fn is_outbound(&self, caller: &str, id: u64) -> bool {
        self.conns
            .lock()
            .unwrap()
            .get(&id)
            .is_some_and(|c| c.outbound && c.owner == caller)
    }

    /// Why `caller`'s connection `id` ended, until [`Self::forget_closed`].
    pub fn close_status(&self, caller: &str, id: u64) -> Option<(u16, String)> {
        self.closed
            .lock()
            .unwrap()
            .get(&id)
            .filter(|(owner, _, _)| owner == caller)
            .map(|(_, code, reason)| (*code, reason.clone()))
    }

    /// The owner has been told that `id` ended.
    pub fn forget_closed(&self, id: u64) {
        self.closed.lock().unwrap().remove(&id);
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

    /// Lets component `owner` open connections, or not; forbidding closes
    /// the ones it opened (code 1000), so it is told through `ws-closed`.
    /// In a cluster a channel with a connection of its own (Discord's
    /// Gateway, Slack's Socket Mode) may hold it only on the node that
    /// holds its lease.
    pub fn set_outbound_allowed(&self, owner: &str, allowed: bool) {
        // Lock order: `conns`, then `held_elsewhere` (as `open_outbound`).
        let mut conns = self.conns.lock().unwrap();
        if allowed {
            self.held_elsewhere.lock().unwrap().remove(owner);
            return;
        }
        self.held_elsewhere
            .lock()
            .unwrap()
            .insert(owner.to_string());
        let mut dropped = Vec::new();
        for (id, conn) in conns.iter() {
            if conn.outbound && conn.owner == owner {
                let close = Outgoing::Close {
                    code: 1000,
                    reason: "another node took this connection over".into(),
                };
                if conn.tx.try_send(close).is_err() {
                    // A full queue: dropping the writer's sender closes
                    // the socket all the same.
                    dropped.push(*id);
                }
            }
        }
        for id in dropped {
            conns.remove(&id);
        }
    }

    /// Whether component `owner` may open connections now.
    pub fn outbound_allowed(&self, owner: &str) -> bool {
        !self.held_elsewhere.lock().unwrap().contains(owner)
    }

    /// Whether component `owner` holds any open connection.
    pub fn holds_any(&self, owner: &str) -> bool {
        self.conns
            .lock()
            .unwrap()
            .values()
            .any(|c| c.owner == owner)
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
    fn outbound_connections_need_a_queue_and_fit_the_limit() {
        let hub = ConnectionHub::default();
        let e = hub.open_outbound("channel-discord", 1).unwrap_err();
        assert!(matches!(e, WitError::Unavailable(_)), "{e:?}");
        let _events = hub.listen("channel-discord");
        let e = hub.open_outbound("channel-discord", 0).unwrap_err();
        assert!(matches!(e, WitError::Denied(_)), "{e:?}");
        let (id, _rx, _tx) = hub.open_outbound("channel-discord", 1).unwrap();
        let e = hub.open_outbound("channel-discord", 1).unwrap_err();
        assert!(format!("{e:?}").contains("holds 1"), "{e:?}");
        // Another component's limit is its own.
        let _other = hub.listen("channel-slack");
        assert!(hub.open_outbound("channel-slack", 1).is_ok());
        // An inbound connection does not count.
        let _in = hub.register(hub.next_id(), "channel-discord");
        hub.ended(id, 4000, "unknown error".into());
        assert_eq!(hub.close_status("channel-slack", id), None);
        assert_eq!(
            hub.close_status("channel-discord", id),
            Some((4000, "unknown error".into()))
        );
        hub.forget_closed(id);
        assert_eq!(hub.close_status("channel-discord", id), None);
        assert!(hub.open_outbound("channel-discord", 1).is_ok());
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
