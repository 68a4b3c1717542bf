//! What a test makes Slack do: scripted failures, known users and files,
//! envelopes pushed on Socket Mode, `disconnect`s, drops and closes.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::super::http1::Answer;
use super::state::Control;
use super::{SlackDouble, TEAM_ID};

impl SlackDouble {
    /// The next call of `method` gets `answer` instead of its result (the
    /// call is still recorded; nothing it asked for happens).
    pub fn fail_next(&self, method: &str, answer: Answer) {
        self.state
            .lock()
            .unwrap()
            .failures
            .entry(method.into())
            .or_default()
            .push_back(answer);
    }

    /// A user `users.info` knows.
    pub fn add_user(&self, id: &str, name: &str) {
        self.state.lock().unwrap().users.insert(
            id.into(),
            json!({"id": id, "team_id": TEAM_ID, "name": name, "real_name": name, "is_bot": false,
                   "tz": "Europe/Berlin", "profile": {"display_name": name, "real_name": name}}),
        );
    }

    /// A file downloadable at its `url_private` (bot token required);
    /// returns the file object as Slack puts it in a message's `files`.
    pub fn add_file(&self, id: &str, name: &str, mimetype: &str, bytes: Vec<u8>) -> Value {
        let path = format!("{TEAM_ID}-{id}/{name}");
        let size = bytes.len();
        self.state
            .lock()
            .unwrap()
            .files
            .insert(path.clone(), (mimetype.into(), bytes));
        let url = format!("http://{}/files/{path}", self.addr);
        let filetype = name.rsplit_once('.').map(|(_, e)| e).unwrap_or("binary");
        json!({
            "id": id, "created": 1_700_000_000, "timestamp": 1_700_000_000, "name": name,
            "title": name, "mimetype": mimetype, "filetype": filetype, "pretty_type": filetype,
            "user": "U0OWNER1", "mode": "hosted", "editable": false, "is_external": false,
            "size": size, "url_private": url,
            "url_private_download": format!("{url}?download=1"),
            "permalink": format!("https://pista-test.slack.com/files/U0OWNER1/{id}/{name}"),
        })
    }

    /// After a `disconnect`, the double closes the socket itself this long
    /// after (10 s unless changed).
    pub fn set_disconnect_grace(&self, grace: Duration) {
        self.state.lock().unwrap().socket.disconnect_grace = grace;
    }

    fn send_on(&self, conn: Option<u64>, control: Control) -> Option<u64> {
        let state = self.state.lock().unwrap();
        let conns = &state.socket.conns;
        let (id, tx) = match conn {
            Some(c) => conns.get_key_value(&c)?,
            None => conns.iter().next_back()?,
        };
        tx.send(control).ok().map(|_| *id)
    }

    /// Writes `envelope` as it is on the newest socket; `None` when no
    /// socket is open.
    pub fn push_raw(&self, envelope: Value) -> Option<u64> {
        if let Some(id) = envelope["envelope_id"].as_str() {
            // Marked now; the writer stamps it again when it is written.
            let mut state = self.state.lock().unwrap();
            let conn = *state.socket.conns.keys().next_back()?;
            state
                .socket
                .sent
                .insert(id.to_string(), (conn, Instant::now()));
            state.socket.counters.envelopes += 1;
        }
        self.send_on(None, Control::Send(envelope))
    }

    fn envelope_id(&self) -> String {
        let mut state = self.state.lock().unwrap();
        let n = state.socket.next_envelope;
        state.socket.next_envelope += 1;
        format!("{:08x}-5c1a-4d0b-8e2f-{:012x}", 0x5ac0_0000u64 + n, n)
    }

    /// Sends `payload` (an `event_callback`, see [`payloads`](super::payloads)) in an
    /// `events_api` envelope on the newest socket; returns the envelope id.
    /// Panics when no socket is open.
    pub fn push_event(&self, payload: Value) -> String {
        self.push_event_retry(payload, 0, "")
    }

    /// [`SlackDouble::push_event`] as a redelivery (`retry_attempt`,
    /// `retry_reason`: `timeout`...).
    pub fn push_event_retry(&self, payload: Value, attempt: u32, reason: &str) -> String {
        let id = self.envelope_id();
        let envelope = json!({
            "envelope_id": id, "type": "events_api", "accepts_response_payload": false,
            "retry_attempt": attempt, "retry_reason": reason, "payload": payload,
        });
        assert!(
            self.push_raw(envelope).is_some(),
            "no Socket Mode connection to push on\n{}",
            self.summary()
        );
        id
    }

    /// Sends an `interactive` envelope (a `block_actions` payload...).
    pub fn push_interactive(&self, payload: Value) -> String {
        let id = self.envelope_id();
        let envelope = json!({
            "envelope_id": id, "type": "interactive", "accepts_response_payload": false,
            "payload": payload,
        });
        assert!(
            self.push_raw(envelope).is_some(),
            "no Socket Mode connection to push on\n{}",
            self.summary()
        );
        id
    }

    /// Sends `{"type":"disconnect","reason":REASON}` on the newest socket
    /// (`refresh_requested`, `warning`, `link_disabled`); the double closes
    /// that socket itself after the grace unless the client does first.
    /// Returns the socket's id.
    pub fn send_disconnect(&self, reason: &str) -> Option<u64> {
        let frame = json!({
            "type": "disconnect", "reason": reason,
            "debug_info": {"host": "applink-double-1"},
        });
        let conn = self.send_on(None, Control::Send(frame))?;
        let grace = self.state.lock().unwrap().socket.disconnect_grace;
        let double = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(grace).await;
            double.send_on(Some(conn), Control::Close(1000, String::new()));
        });
        Some(conn)
    }

    /// Ends every socket without a close frame (a network drop); returns
    /// how many were open.
    pub fn drop_connections(&self) -> usize {
        let state = self.state.lock().unwrap();
        for tx in state.socket.conns.values() {
            let _ = tx.send(Control::Drop);
        }
        state.socket.conns.len()
    }

    /// Closes the newest socket with close frame `code`.
    pub fn close_connection(&self, code: u16, reason: &str) -> Option<u64> {
        self.send_on(None, Control::Close(code, reason.into()))
    }
}
