//! How a test reads what the double saw: Gateway events and frames,
//! sessions, REST calls, registered commands, delivered messages,
//! interaction callbacks and webhook calls.

use std::time::Instant;

use serde_json::Value;

use super::{Call, Callback, Counters, Delivered, DiscordDouble, GatewayEvent, WebhookCall};

impl DiscordDouble {
    pub fn counters(&self) -> Counters {
        self.state.lock().unwrap().gateway.counters
    }

    /// Everything that happened on the Gateway, in order.
    pub fn gateway_events(&self) -> Vec<(Instant, GatewayEvent)> {
        self.state.lock().unwrap().gateway.events.clone()
    }

    /// The frames the client sent, with their socket and arrival.
    pub fn received(&self) -> Vec<(u64, Instant, Value)> {
        self.gateway_events()
            .into_iter()
            .filter_map(|(at, e)| match e {
                GatewayEvent::Received { conn, frame } => Some((conn, at, frame)),
                _ => None,
            })
            .collect()
    }

    /// The frames of op `op` the client sent (their `d`).
    pub fn received_op(&self, op: u64) -> Vec<Value> {
        self.received()
            .into_iter()
            .filter(|(_, _, f)| f["op"] == op)
            .map(|(_, _, f)| f["d"].clone())
            .collect()
    }

    /// The dispatches (`s`, `t`) written on socket `conn`, in order.
    pub fn written_dispatches(&self, conn: u64) -> Vec<(u64, String)> {
        self.gateway_events()
            .into_iter()
            .filter_map(|(_, e)| match e {
                GatewayEvent::Sent { conn: c, frame } if c == conn && frame["op"] == 0 => Some((
                    frame["s"].as_u64().unwrap_or(0),
                    frame["t"].as_str().unwrap_or("").to_string(),
                )),
                _ => None,
            })
            .collect()
    }

    /// The current session's id.
    pub fn current_session(&self) -> Option<String> {
        self.state.lock().unwrap().gateway.current.clone()
    }

    /// The dispatch log of session `id` (whole frames, `s` = index + 1).
    pub fn session_log(&self, id: &str) -> Vec<Value> {
        self.state
            .lock()
            .unwrap()
            .gateway
            .sessions
            .get(id)
            .map(|s| s.log.clone())
            .unwrap_or_default()
    }

    /// The socket the current session is bound to.
    pub fn bound_connection(&self) -> Option<u64> {
        let state = self.state.lock().unwrap();
        let g = &state.gateway;
        g.current
            .as_ref()
            .and_then(|s| g.sessions.get(s))
            .and_then(|s| s.conn)
    }

    /// Every REST call so far.
    pub fn calls(&self) -> Vec<Call> {
        self.state.lock().unwrap().calls.clone()
    }

    /// The calls of `route` (`POST /channels/{id}/messages`...).
    pub fn calls_of(&self, route: &str) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.route == route)
            .collect()
    }

    /// The slash commands registered (as echoed, with ids).
    pub fn commands(&self) -> Vec<Value> {
        self.state.lock().unwrap().commands.clone()
    }

    /// Messages the bot posted to `channel_id`, in order, as shown now.
    pub fn delivered(&self, channel_id: &str) -> Vec<Delivered> {
        self.state
            .lock()
            .unwrap()
            .delivered
            .iter()
            .filter(|d| d.channel_id == channel_id)
            .cloned()
            .collect()
    }

    /// Every interaction callback, in order.
    pub fn callbacks(&self) -> Vec<Callback> {
        self.state.lock().unwrap().callbacks.clone()
    }

    /// Whether any interaction callback came later than Discord allows.
    pub fn any_late_callback(&self) -> bool {
        self.callbacks().iter().any(|c| c.late)
    }

    /// Every call on an interaction's webhook, in order.
    pub fn webhook_calls(&self) -> Vec<WebhookCall> {
        self.state.lock().unwrap().webhook_calls.clone()
    }
}
