//! What a test scripts: failures per REST route, known channels and
//! threads, and the Gateway's misbehaviours (dropped or closed sockets,
//! Reconnect, Invalid Session, missing heartbeat ACKs, held connections).

use serde_json::{Value, json};

use super::super::http1::Answer;
use super::DiscordDouble;
use super::payloads::{frame, timestamp};
use super::state::Control;

impl DiscordDouble {
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
}
