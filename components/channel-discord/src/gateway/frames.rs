//! Gateway payloads (JSON text frames, `encoding=json`): reading what
//! Discord sends and writing what the component sends.
//!
//! Every payload is `{"op": N, "d": …, "s": N|null, "t": "NAME"|null}`;
//! `s` and `t` are set on dispatches (op 0) only. The bot token is never
//! here: Identify and Resume carry the placeholder [`TOKEN`], which the
//! host fills in on sockets the component opened.

use serde::Deserialize;
use serde_json::{Value, json};

/// The placeholder the host replaces with the bot token.
pub const TOKEN: &str = "{{secret:discord_bot_token}}";
/// The query every Gateway URL gets: API version 10, JSON payloads.
pub const QUERY: &str = "/?v=10&encoding=json";

/// Opcodes this component knows.
pub mod op {
    pub const DISPATCH: u64 = 0;
    pub const HEARTBEAT: u64 = 1;
    pub const IDENTIFY: u64 = 2;
    pub const RESUME: u64 = 6;
    pub const RECONNECT: u64 = 7;
    pub const INVALID_SESSION: u64 = 9;
    pub const HELLO: u64 = 10;
    pub const HEARTBEAT_ACK: u64 = 11;
}

/// One payload as it arrives.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Payload {
    pub op: u64,
    #[serde(default)]
    pub d: Value,
    #[serde(default)]
    pub s: Option<u64>,
    #[serde(default)]
    pub t: Option<String>,
}

/// What a payload means to the connection.
#[derive(Clone, Debug, PartialEq)]
pub enum Incoming {
    /// op 10: heartbeat every this many milliseconds.
    Hello { heartbeat_interval: u64 },
    /// op 11.
    HeartbeatAck,
    /// op 1: the server wants a heartbeat now.
    HeartbeatRequest,
    /// op 7: reconnect and resume.
    Reconnect,
    /// op 9: the session is gone; `resumable` is its `d`.
    InvalidSession { resumable: bool },
    /// op 0: an event named `name` with sequence `seq`.
    Dispatch {
        name: String,
        seq: Option<u64>,
        data: Value,
    },
    /// Any other opcode, ignored.
    Other(u64),
}

/// Reads one text frame; the error says what is wrong with it.
pub fn parse(text: &str) -> Result<Incoming, String> {
    let p: Payload =
        serde_json::from_str(text).map_err(|e| format!("not a Gateway payload: {e}"))?;
    Ok(match p.op {
        op::HELLO => {
            let interval =
                p.d.get("heartbeat_interval")
                    .and_then(Value::as_u64)
                    .filter(|i| *i > 0)
                    .ok_or("Hello without a heartbeat_interval")?;
            Incoming::Hello {
                heartbeat_interval: interval,
            }
        }
        op::HEARTBEAT_ACK => Incoming::HeartbeatAck,
        op::HEARTBEAT => Incoming::HeartbeatRequest,
        op::RECONNECT => Incoming::Reconnect,
        op::INVALID_SESSION => Incoming::InvalidSession {
            resumable: p.d.as_bool().unwrap_or(false),
        },
        op::DISPATCH => Incoming::Dispatch {
            name: p.t.ok_or("a dispatch without an event name")?,
            seq: p.s,
            data: p.d,
        },
        other => Incoming::Other(other),
    })
}

/// op 1: a heartbeat carrying the last sequence seen (or null).
pub fn heartbeat(seq: Option<u64>) -> String {
    json!({ "op": op::HEARTBEAT, "d": seq }).to_string()
}

/// op 2: Identify with the token placeholder and `intents`.
pub fn identify(intents: u64) -> String {
    json!({
        "op": op::IDENTIFY,
        "d": {
            "token": TOKEN,
            "intents": intents,
            "properties": { "os": "linux", "browser": "openpista", "device": "openpista" },
        }
    })
    .to_string()
}

/// op 6: Resume session `session_id` after sequence `seq`.
pub fn resume(session_id: &str, seq: Option<u64>) -> String {
    json!({
        "op": op::RESUME,
        "d": { "token": TOKEN, "session_id": session_id, "seq": seq }
    })
    .to_string()
}

/// The URL to open for a Gateway base URL (`wss://gateway.discord.gg`):
/// the base without a trailing slash, then [`QUERY`].
pub fn connect_url(base: &str) -> String {
    let base = base.split('?').next().unwrap_or(base);
    format!("{}{QUERY}", base.trim_end_matches('/'))
}

/// What READY says about the session.
#[derive(Clone, Debug, PartialEq)]
pub struct Ready {
    pub session_id: String,
    pub resume_gateway_url: Option<String>,
    pub user_id: String,
    pub username: String,
    pub application_id: Option<String>,
}

/// Reads READY's `d`.
pub fn ready(d: &Value) -> Result<Ready, String> {
    let text = |p: &str| d.pointer(p).and_then(Value::as_str).map(str::to_string);
    Ok(Ready {
        session_id: text("/session_id").ok_or("READY without a session_id")?,
        resume_gateway_url: text("/resume_gateway_url"),
        user_id: text("/user/id").ok_or("READY without user.id")?,
        username: text("/user/username").unwrap_or_default(),
        application_id: text("/application/id"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hello_ack_reconnect_and_heartbeat_requests() {
        assert_eq!(
            parse(r#"{"op":10,"d":{"heartbeat_interval":41250},"s":null,"t":null}"#),
            Ok(Incoming::Hello {
                heartbeat_interval: 41250
            })
        );
        assert_eq!(parse(r#"{"op":11}"#), Ok(Incoming::HeartbeatAck));
        assert_eq!(
            parse(r#"{"op":1,"d":null}"#),
            Ok(Incoming::HeartbeatRequest)
        );
        assert_eq!(parse(r#"{"op":7,"d":null}"#), Ok(Incoming::Reconnect));
        assert_eq!(parse(r#"{"op":3,"d":{}}"#), Ok(Incoming::Other(3)));
        assert!(parse(r#"{"op":10,"d":{}}"#).is_err());
        assert!(parse("not json").is_err());
    }

    #[test]
    fn invalid_session_reads_its_flag() {
        assert_eq!(
            parse(r#"{"op":9,"d":true}"#),
            Ok(Incoming::InvalidSession { resumable: true })
        );
        assert_eq!(
            parse(r#"{"op":9,"d":false}"#),
            Ok(Incoming::InvalidSession { resumable: false })
        );
    }

    #[test]
    fn dispatches_carry_name_sequence_and_data() {
        let frame = r#"{"op":0,"s":42,"t":"MESSAGE_CREATE","d":{"id":"1","content":"hi"}}"#;
        let Ok(Incoming::Dispatch { name, seq, data }) = parse(frame) else {
            panic!("not a dispatch");
        };
        assert_eq!((name.as_str(), seq), ("MESSAGE_CREATE", Some(42)));
        assert_eq!(data["content"], "hi");
        assert!(parse(r#"{"op":0,"s":1,"d":{}}"#).is_err());
    }

    #[test]
    fn ready_gives_the_session_and_identity() {
        let d = json!({
            "v": 10, "session_id": "abc", "resume_gateway_url": "wss://r.discord.gg",
            "user": {"id": "99", "username": "pista", "bot": true},
            "application": {"id": "555", "flags": 0}, "guilds": []
        });
        let r = ready(&d).unwrap();
        assert_eq!(r.session_id, "abc");
        assert_eq!(r.resume_gateway_url.as_deref(), Some("wss://r.discord.gg"));
        assert_eq!((r.user_id.as_str(), r.username.as_str()), ("99", "pista"));
        assert_eq!(r.application_id.as_deref(), Some("555"));
        assert!(ready(&json!({"user": {"id": "1"}})).is_err());
    }

    #[test]
    fn outgoing_payloads_have_discords_shape() {
        let hb: Value = serde_json::from_str(&heartbeat(Some(7))).unwrap();
        assert_eq!(hb, json!({"op": 1, "d": 7}));
        let hb: Value = serde_json::from_str(&heartbeat(None)).unwrap();
        assert_eq!(hb, json!({"op": 1, "d": null}));
        let id: Value = serde_json::from_str(&identify(37377)).unwrap();
        assert_eq!(id["op"], 2);
        assert_eq!(id["d"]["token"], "{{secret:discord_bot_token}}");
        assert_eq!(id["d"]["intents"], 37377);
        assert_eq!(id["d"]["properties"]["browser"], "openpista");
        let r: Value = serde_json::from_str(&resume("sess", Some(12))).unwrap();
        assert_eq!(
            r,
            json!({"op": 6, "d": {"token": TOKEN, "session_id": "sess", "seq": 12}})
        );
    }

    #[test]
    fn connect_urls_get_version_and_encoding_once() {
        assert_eq!(
            connect_url("wss://gateway.discord.gg"),
            "wss://gateway.discord.gg/?v=10&encoding=json"
        );
        assert_eq!(
            connect_url("wss://r.discord.gg/"),
            "wss://r.discord.gg/?v=10&encoding=json"
        );
        assert_eq!(
            connect_url("ws://127.0.0.1:9/?v=9"),
            "ws://127.0.0.1:9/?v=10&encoding=json"
        );
    }
}
