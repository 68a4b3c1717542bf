//! The connections the component knows, and the heartbeat decisions.
//!
//! The host keeps one long-lived instance of a channel and calls it one call
//! at a time, so this lives in a `static` of the component between calls
//! (see `lib.rs`). It is lost when the instance is replaced (an upgrade, a
//! crash); the component then refuses frames of connections it does not
//! know so that their clients reconnect, and nothing worse happens: answers
//! for sessions with no known connection are kept in memory (`pending`).
//! Nothing here calls the host.

use std::collections::{BTreeMap, BTreeSet};

/// How long a connection may stay silent before `tick` closes it, unless
/// the configuration `heartbeat_timeout_secs` says otherwise. The client
/// pings every 15 s, so this allows two lost pings.
pub const DEFAULT_HEARTBEAT_TIMEOUT_MS: u64 = 45_000;
/// The close code for a silent connection.
pub const HEARTBEAT_CLOSE_CODE: u16 = 4408;
/// The close reason for a silent connection.
pub const HEARTBEAT_CLOSE_REASON: &str = "heartbeat timeout";
/// The close code for a connection the component does not know (its
/// instance was replaced since the handshake): the client reconnects.
pub const UNKNOWN_CLOSE_CODE: u16 = 4000;
/// The close reason for a connection the component does not know.
pub const UNKNOWN_CLOSE_REASON: &str = "unknown connection, reconnect";

/// The host's session of a client's conversation, `web:CLIENT_ID`: one
/// conversation per client id, so that a reload or another tab of the same
/// browser continues it. The channel names only the conversation (the
/// client id); this is what `ready` shows and what kept answers are stored
/// under, as before WIT 0.2, so answers kept by an earlier version are
/// still delivered.
pub fn session_of(client_id: &str) -> String {
    format!("web:{client_id}")
}

/// The heartbeat timeout from the configuration value
/// `heartbeat_timeout_secs` (whole seconds, at least 1);
/// [`DEFAULT_HEARTBEAT_TIMEOUT_MS`] when it is absent or not such a number.
pub fn heartbeat_timeout_ms(config: Option<&str>) -> u64 {
    config
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|&secs| secs > 0)
        .map_or(DEFAULT_HEARTBEAT_TIMEOUT_MS, |secs| {
            secs.saturating_mul(1000)
        })
}

/// One accepted WebSocket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connection {
    /// The client id it authenticated with.
    pub client_id: String,
    /// `web:CLIENT_ID`.
    pub session: String,
    /// When a frame last arrived (or the handshake, before any), in ms.
    pub last_seen_ms: u64,
    /// Whether `ready` has been sent: it is, at the first frame, because a
    /// component cannot send during the handshake. Until then the
    /// connection receives nothing else, so that `ready` comes first.
    pub ready_sent: bool,
    /// Frames received so far, to name a frame in an `error`.
    pub frames: u64,
}

/// What [`Registry::touch`] learnt about a frame's connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Touched {
    /// The connection's client id.
    pub client_id: String,
    /// The connection's session.
    pub session: String,
    /// Whether this is the connection's first frame: send `ready` and the
    /// session's pending messages before answering it.
    pub first: bool,
    /// This frame's number on the connection, from 1.
    pub frame: u64,
}

/// Connections by the host's connection id, and the ready ones by session:
/// every delivery asks for a session's connections, so that lookup must not
/// scan every open connection (it did, and at 1,000 connections it was most
/// of the channel's time).
#[derive(Debug, Default)]
pub struct Registry {
    connections: BTreeMap<u64, Connection>,
    ready_by_session: BTreeMap<String, BTreeSet<u64>>,
}

impl Registry {
    /// No connections.
    pub const fn new() -> Self {
        Registry {
            connections: BTreeMap::new(),
            ready_by_session: BTreeMap::new(),
        }
    }

    /// Remembers connection `id`, accepted at `now_ms` for `client_id`.
    pub fn accept(&mut self, id: u64, client_id: &str, now_ms: u64) {
        self.forget(id);
        self.connections.insert(
            id,
            Connection {
                client_id: client_id.to_string(),
                session: session_of(client_id),
                last_seen_ms: now_ms,
                ready_sent: false,
                frames: 0,
            },
        );
    }

    /// Records a frame on connection `id` at `now_ms`; `None` when the id is
    /// unknown. The first call for a connection marks `ready` as sent: the
    /// caller sends it.
    pub fn touch(&mut self, id: u64, now_ms: u64) -> Option<Touched> {
        let conn = self.connections.get_mut(&id)?;
        conn.last_seen_ms = conn.last_seen_ms.max(now_ms);
        conn.frames += 1;
        let first = !conn.ready_sent;
        conn.ready_sent = true;
        if first {
            self.ready_by_session
                .entry(conn.session.clone())
                .or_default()
                .insert(id);
        }
        Some(Touched {
            client_id: conn.client_id.clone(),
            session: conn.session.clone(),
            first,
            frame: conn.frames,
        })
    }

    /// Forgets connection `id`; `true` when it was known.
    pub fn forget(&mut self, id: u64) -> bool {
        let Some(conn) = self.connections.remove(&id) else {
            return false;
        };
        if let Some(ids) = self.ready_by_session.get_mut(&conn.session) {
            ids.remove(&id);
            if ids.is_empty() {
                self.ready_by_session.remove(&conn.session);
            }
        }
        true
    }

    /// The connection `id`, if known.
    pub fn get(&self, id: u64) -> Option<&Connection> {
        self.connections.get(&id)
    }

    /// The connections of `session` that may receive frames (those that
    /// have been sent `ready`), in id order.
    pub fn ready_of(&self, session: &str) -> Vec<u64> {
        self.ready_by_session
            .get(session)
            .map(|ids| ids.iter().copied().collect())
            .unwrap_or_default()
    }

    /// Connections heard nothing from for more than `timeout_ms` at
    /// `now_ms`: close and forget them.
    pub fn silent(&self, now_ms: u64, timeout_ms: u64) -> Vec<u64> {
        self.connections
            .iter()
            .filter(|(_, c)| now_ms.saturating_sub(c.last_seen_ms) > timeout_ms)
            .map(|(&id, _)| id)
            .collect()
    }

    /// Every known connection id.
    pub fn ids(&self) -> Vec<u64> {
        self.connections.keys().copied().collect()
    }

    /// Forgets every connection.
    pub fn clear(&mut self) {
        self.connections.clear();
        self.ready_by_session.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_frame_asks_for_ready_once() {
        let mut r = Registry::new();
        r.accept(7, "client-01", 1_000);
        assert!(
            r.ready_of("web:client-01").is_empty(),
            "nothing before ready"
        );
        let first = r.touch(7, 2_000).unwrap();
        assert_eq!(
            first,
            Touched {
                client_id: "client-01".into(),
                session: "web:client-01".into(),
                first: true,
                frame: 1,
            }
        );
        let second = r.touch(7, 3_000).unwrap();
        assert!(!second.first);
        assert_eq!(second.frame, 2);
        assert_eq!(r.ready_of("web:client-01"), vec![7]);
        assert_eq!(r.get(7).unwrap().last_seen_ms, 3_000);
    }

    #[test]
    fn unknown_connections_are_reported() {
        let mut r = Registry::new();
        assert_eq!(r.touch(1, 0), None);
        assert!(!r.forget(1));
    }

    #[test]
    fn sessions_gather_every_tab_of_a_client() {
        let mut r = Registry::new();
        for (id, client) in [(1, "aaaaaaaa"), (2, "bbbbbbbb"), (3, "aaaaaaaa")] {
            r.accept(id, client, 0);
            r.touch(id, 0);
        }
        assert_eq!(r.ready_of("web:aaaaaaaa"), vec![1, 3]);
        assert!(r.forget(1));
        assert_eq!(r.ready_of("web:aaaaaaaa"), vec![3]);
        assert_eq!(r.ids(), vec![2, 3]);
        r.clear();
        assert!(r.ids().is_empty());
    }

    #[test]
    fn silence_longer_than_the_timeout_expires_a_connection() {
        let mut r = Registry::new();
        r.accept(1, "aaaaaaaa", 0);
        r.accept(2, "bbbbbbbb", 0);
        r.touch(2, 30_000);
        assert!(
            r.silent(45_000, 45_000).is_empty(),
            "exactly 45 s is not yet more"
        );
        assert_eq!(r.silent(45_001, 45_000), vec![1]);
        assert_eq!(r.silent(75_001, 45_000), vec![1, 2]);
        // A clock that went backwards expires nothing.
        r.touch(1, 90_000);
        assert_eq!(r.silent(10, 45_000), Vec::<u64>::new());
    }

    #[test]
    fn reads_the_heartbeat_timeout_from_configuration() {
        assert_eq!(heartbeat_timeout_ms(None), DEFAULT_HEARTBEAT_TIMEOUT_MS);
        assert_eq!(heartbeat_timeout_ms(Some(" 90 ")), 90_000);
        assert_eq!(
            heartbeat_timeout_ms(Some("0")),
            DEFAULT_HEARTBEAT_TIMEOUT_MS
        );
        assert_eq!(
            heartbeat_timeout_ms(Some("soon")),
            DEFAULT_HEARTBEAT_TIMEOUT_MS
        );
    }

    #[test]
    fn the_session_index_always_agrees_with_the_connections() {
        // A random walk of accepts (some reusing ids), frames and closes;
        // after each step the index must give what a scan of every
        // connection gives.
        let mut r = Registry::new();
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for _ in 0..5_000 {
            let id = next(40);
            let client = format!("client-{}", next(6));
            match next(4) {
                0 => r.accept(id, &client, 0),
                1 | 2 => {
                    r.touch(id, 0);
                }
                _ => {
                    r.forget(id);
                }
            }
            for c in 0..6 {
                let session = session_of(&format!("client-{c}"));
                let scanned: Vec<u64> = r
                    .connections
                    .iter()
                    .filter(|(_, conn)| conn.ready_sent && conn.session == session)
                    .map(|(&id, _)| id)
                    .collect();
                assert_eq!(r.ready_of(&session), scanned, "{session}");
            }
        }
        assert!(r.ready_by_session.values().all(|ids| !ids.is_empty()));
    }
}
