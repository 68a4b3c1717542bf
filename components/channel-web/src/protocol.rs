//! The frames of the web protocol (`docs/WEB_PROTOCOL.md`, "Frames"):
//! parsing what the client sends, writing what the server sends.
//!
//! Every frame is one JSON object in a text frame whose `type` says what it
//! is. Parsing is done by hand over [`serde_json::Value`] rather than with a
//! derived enum so that each refusal names exactly what was wrong
//! (`missing field `text``, `attachment 2: ...`): the client shows these to
//! whoever is debugging it. Nothing here calls the host.

use openpista_sdk::serde_json::{self, Map, Value, json};
use openpista_sdk::{
    ApprovalRequest, Attachment, Button, InboundEvent, Settlement, StatusKind, base64, command,
};

/// The longest message text accepted, in characters.
pub const MAX_TEXT_CHARS: usize = 32_000;
/// The most attachments one message may carry.
pub const MAX_ATTACHMENTS: usize = 4;
/// The largest attachment accepted, in bytes after decoding (5 MiB).
pub const MAX_ATTACHMENT_BYTES: usize = 5 * 1024 * 1024;

/// A frame from the client.
#[derive(Clone, Debug, PartialEq)]
pub enum ClientFrame {
    /// A user message, already validated.
    Message(UserMessage),
    /// A heartbeat; `t` is echoed in the `pong` exactly as it came
    /// (`null` when absent).
    Ping {
        /// The client's timestamp.
        t: Value,
    },
}

/// A validated `message` frame.
#[derive(Clone, Debug, PartialEq)]
pub struct UserMessage {
    /// The client's own id of the message, echoed in the `ack`.
    pub id: Option<String>,
    /// The text; may be empty when there are attachments.
    pub text: String,
    /// Decoded attachments, at most [`MAX_ATTACHMENTS`].
    pub attachments: Vec<Attachment>,
}

/// Why a client frame was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameError {
    /// The id of the refused message, when it had a readable one, so the
    /// client can mark that message as failed.
    pub id: Option<String>,
    /// What was wrong, for a person.
    pub message: String,
}

impl FrameError {
    fn new(message: impl Into<String>) -> Self {
        FrameError {
            id: None,
            message: message.into(),
        }
    }
}

/// Parses and validates a text frame from the client.
pub fn parse_client_frame(text: &str) -> Result<ClientFrame, FrameError> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| FrameError::new(format!("not a JSON object: {e}")))?;
    let Value::Object(object) = value else {
        return Err(FrameError::new("a frame must be a JSON object"));
    };
    let kind = match object.get("type") {
        None => return Err(FrameError::new("missing field `type`")),
        Some(Value::String(kind)) => kind.as_str(),
        Some(_) => return Err(FrameError::new("field `type` must be a string")),
    };
    match kind {
        "ping" => Ok(ClientFrame::Ping {
            t: object.get("t").cloned().unwrap_or(Value::Null),
        }),
        "message" => {
            let id = match object.get("id") {
                None | Some(Value::Null) => None,
                Some(Value::String(id)) => Some(id.clone()),
                Some(_) => return Err(FrameError::new("field `id` must be a string")),
            };
            parse_message(&object, id.clone())
                .map(ClientFrame::Message)
                .map_err(|message| FrameError { id, message })
        }
        other => Err(FrameError::new(format!(
            "unknown frame type `{other}` (a client sends `message` or `ping`)"
        ))),
    }
}

/// The body of a `message` frame whose `id` has been read.
fn parse_message(object: &Map<String, Value>, id: Option<String>) -> Result<UserMessage, String> {
    let text = match object.get("text") {
        None => return Err("missing field `text`".into()),
        Some(Value::String(text)) => text.clone(),
        Some(_) => return Err("field `text` must be a string".into()),
    };
    let chars = text.chars().count();
    if chars > MAX_TEXT_CHARS {
        return Err(format!(
            "the text is {chars} characters long; at most {MAX_TEXT_CHARS} are accepted"
        ));
    }
    let attachments = match object.get("attachments") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => {
            if items.len() > MAX_ATTACHMENTS {
                return Err(format!(
                    "{} attachments; at most {MAX_ATTACHMENTS} are accepted",
                    items.len()
                ));
            }
            items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    parse_attachment(item).map_err(|e| format!("attachment {}: {e}", i + 1))
                })
                .collect::<Result<Vec<_>, _>>()?
        }
        Some(_) => return Err("field `attachments` must be an array".into()),
    };
    if text.trim().is_empty() && attachments.is_empty() {
        return Err("the message has no text and no attachments".into());
    }
    Ok(UserMessage {
        id,
        text,
        attachments,
    })
}

/// One `{"mime","name","data"}` object of a message's `attachments`.
fn parse_attachment(item: &Value) -> Result<Attachment, String> {
    let Value::Object(object) = item else {
        return Err("must be an object with `mime`, `name` and `data`".into());
    };
    let mime = match object.get("mime") {
        Some(Value::String(mime)) if !mime.trim().is_empty() => mime.trim().to_string(),
        Some(Value::String(_)) | None => return Err("missing field `mime`".into()),
        Some(_) => return Err("field `mime` must be a string".into()),
    };
    let name = match object.get("name") {
        None | Some(Value::Null) => None,
        Some(Value::String(name)) => Some(name.clone()),
        Some(_) => return Err("field `name` must be a string".into()),
    };
    let data = match object.get("data") {
        None => return Err("missing field `data`".into()),
        Some(Value::String(data)) => data,
        Some(_) => return Err("field `data` must be a base64 string".into()),
    };
    let size = base64::decoded_len(data);
    if size > MAX_ATTACHMENT_BYTES {
        return Err(format!(
            "{size} bytes; at most {MAX_ATTACHMENT_BYTES} (5 MiB) are accepted"
        ));
    }
    let data = base64::decode(data).map_err(|e| format!("`data` is not base64: {e}"))?;
    Ok(Attachment { mime, name, data })
}

/// The inbound event of a validated message from client `client_id`: its
/// conversation is the client id, and a slash command (`/model gpt-5`) is
/// marked as one for the host, which answers it (`/help`, an unknown
/// name...). Commands are never addressed to anyone here, so `/x@y` is text.
pub fn event(client_id: &str, message: UserMessage) -> InboundEvent {
    let command = command::parse(&message.text, None);
    InboundEvent {
        conversation: client_id.to_string(),
        sender: client_id.to_string(),
        text: message.text,
        attachments: message.attachments,
        command,
    }
}

/// `ready`: the connection is accepted; `session` is where its messages go.
pub fn ready(session: &str, client_id: &str, version: &str) -> String {
    json!({"type": "ready", "session": session, "client_id": client_id, "version": version})
        .to_string()
}

/// `ack`: message `id` was received and queued for the agent.
pub fn ack(id: Option<&str>) -> String {
    json!({"type": "ack", "id": id}).to_string()
}

/// `user`: a message the session's person sent from another connection,
/// with its attachments' names.
pub fn user(text: &str, attachments: &[String]) -> String {
    json!({"type": "user", "text": text, "attachments": attachments}).to_string()
}

/// `pong`, echoing the `t` of the `ping`.
pub fn pong(t: &Value) -> String {
    json!({"type": "pong", "t": t}).to_string()
}

/// `status`: what the agent is doing.
pub fn status(kind: StatusKind) -> String {
    let state = match kind {
        StatusKind::Thinking => "thinking",
        StatusKind::Typing => "typing",
        StatusKind::Idle => "idle",
    };
    json!({"type": "status", "state": state}).to_string()
}

/// `delta`: the next piece of the answer being generated.
pub fn delta(text: &str) -> String {
    json!({"type": "delta", "text": text}).to_string()
}

/// `message`: a whole answer (or, with `error`, an error report), its
/// attachments' bytes in base64.
pub fn message(text: &str, attachments: &[Attachment], error: bool) -> String {
    let attachments: Vec<Value> = attachments
        .iter()
        .map(|a| {
            let mut item = json!({
                "mime": a.mime,
                "data": base64::encode(&a.data),
            });
            if let Some(name) = &a.name {
                item["name"] = json!(name);
            }
            item
        })
        .collect();
    json!({"type": "message", "text": text, "attachments": attachments, "error": error}).to_string()
}

/// `approval`: a tool call waits for this session's answer
/// (`approvals.ask`); the page shows it with approve, reject and allow.
pub fn approval(request: &ApprovalRequest) -> String {
    json!({
        "type": "approval",
        "id": request.id,
        "tool": request.tool,
        "arguments": request.arguments,
        "folder": request.folder,
        "requester": request.requester,
        "timeout_secs": request.timeout_secs,
    })
    .to_string()
}

/// `settled`: approval request `id` ended, `how` in the WIT's words.
pub fn settled(id: &str, how: Settlement) -> String {
    json!({"type": "settled", "id": id, "how": settlement_word(how)}).to_string()
}

/// The protocol's word for a settlement.
pub fn settlement_word(how: Settlement) -> &'static str {
    match how {
        Settlement::Approved => "approved",
        Settlement::Allowed => "allowed",
        Settlement::Rejected => "rejected",
        Settlement::Expired => "expired",
        Settlement::Cancelled => "cancelled",
    }
}

/// `choices`: `text` with buttons that each stand for a host command; a
/// press comes back as a `message` whose text is the button's `command`.
pub fn choices(text: &str, buttons: &[Button]) -> String {
    let buttons: Vec<Value> = buttons
        .iter()
        .map(|b| {
            let command = if b.args.trim().is_empty() {
                format!("/{}", b.name)
            } else {
                format!("/{} {}", b.name, b.args.trim())
            };
            json!({"label": b.label, "command": command})
        })
        .collect();
    json!({"type": "choices", "text": text, "buttons": buttons}).to_string()
}

/// `error`: a protocol error; the connection stays open. `id` names the
/// refused message when there was one.
pub fn error(message: &str, id: Option<&str>) -> String {
    let mut frame = json!({"type": "error", "message": message});
    if let Some(id) = id {
        frame["id"] = json!(id);
    }
    frame.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use openpista_sdk::base64::encode;

    fn refused(text: &str) -> FrameError {
        parse_client_frame(text).expect_err(text)
    }

    #[test]
    fn approval_settled_and_choices_frames_carry_what_the_page_shows() {
        let request = ApprovalRequest {
            id: "k3x9q2".into(),
            tool: "system.run".into(),
            arguments: r#"{"command":"touch a"}"#.into(),
            folder: Some("/home/me".into()),
            requester: None,
            timeout_secs: 120,
        };
        let frame: Value = serde_json::from_str(&approval(&request)).unwrap();
        assert_eq!(
            frame,
            json!({"type": "approval", "id": "k3x9q2", "tool": "system.run",
                   "arguments": "{\"command\":\"touch a\"}", "folder": "/home/me",
                   "requester": null, "timeout_secs": 120})
        );
        let frame: Value = serde_json::from_str(&settled("k3x9q2", Settlement::Allowed)).unwrap();
        assert_eq!(
            frame,
            json!({"type": "settled", "id": "k3x9q2", "how": "allowed"})
        );
        let buttons = [
            Button {
                label: "gpt-5 ✓".into(),
                name: "model".into(),
                args: "gpt-5".into(),
            },
            Button {
                label: "New".into(),
                name: "new".into(),
                args: String::new(),
            },
        ];
        let frame: Value = serde_json::from_str(&choices("Models:", &buttons)).unwrap();
        assert_eq!(frame["buttons"][0]["command"], "/model gpt-5");
        assert_eq!(frame["buttons"][1]["command"], "/new");
        assert_eq!(frame["buttons"][0]["label"], "gpt-5 ✓");
        // What a press sends back is a command the host reads as one.
        let press = UserMessage {
            id: None,
            text: frame["buttons"][0]["command"].as_str().unwrap().into(),
            attachments: Vec::new(),
        };
        let command = event("c1", press).command.expect("a command");
        assert_eq!(
            (command.name.as_str(), command.args.as_str()),
            ("model", "gpt-5")
        );
    }

    #[test]
    fn parses_a_ping_and_echoes_its_t() {
        let frame = parse_client_frame(r#"{"type":"ping","t":1732480000000}"#).unwrap();
        let ClientFrame::Ping { t } = frame else {
            panic!("{frame:?}")
        };
        let pong: Value = serde_json::from_str(&pong(&t)).unwrap();
        assert_eq!(pong, json!({"type": "pong", "t": 1732480000000u64}));
        let bare = parse_client_frame(r#"{"type":"ping"}"#).unwrap();
        assert_eq!(bare, ClientFrame::Ping { t: Value::Null });
    }

    #[test]
    fn a_large_t_is_echoed_as_the_same_number() {
        // Found by fuzz_web_client_frame: without correctly rounded float
        // parsing, the pong's `t` read back as another number.
        let ping = r#"{"type":"ping","t":17429496729632480000000}"#;
        let ClientFrame::Ping { t } = parse_client_frame(ping).unwrap() else {
            panic!("a ping")
        };
        let pong: Value = serde_json::from_str(&pong(&t)).unwrap();
        assert_eq!(pong["t"], t);
        let sent: Value = serde_json::from_str(ping).unwrap();
        assert_eq!(pong["t"], sent["t"]);
    }

    #[test]
    fn parses_a_message_with_attachments() {
        let text = json!({
            "type": "message", "id": "m-17", "text": "look",
            "attachments": [
                {"mime": "image/png", "name": "a.png", "data": encode(b"\x89PNG")},
                {"mime": "text/plain", "data": encode(b"hi")},
            ],
        })
        .to_string();
        let ClientFrame::Message(m) = parse_client_frame(&text).unwrap() else {
            panic!()
        };
        assert_eq!(m.id.as_deref(), Some("m-17"));
        assert_eq!(m.text, "look");
        assert_eq!(m.attachments.len(), 2);
        assert_eq!(m.attachments[0].data, b"\x89PNG");
        assert_eq!(m.attachments[0].name.as_deref(), Some("a.png"));
        assert_eq!(m.attachments[1].mime, "text/plain");
        assert_eq!(m.attachments[1].name, None);
    }

    #[test]
    fn malformed_frames_name_what_is_wrong() {
        assert!(refused("{nope").message.starts_with("not a JSON object"));
        assert_eq!(refused("[1]").message, "a frame must be a JSON object");
        assert_eq!(refused(r#"{"t":1}"#).message, "missing field `type`");
        assert!(refused(r#"{"type":"hello"}"#).message.contains("`hello`"));
        let e = refused(r#"{"type":"message","id":"m-3"}"#);
        assert_eq!(e.message, "missing field `text`");
        assert_eq!(
            e.id.as_deref(),
            Some("m-3"),
            "the id is kept for the client"
        );
        assert!(
            refused(r#"{"type":"message","id":4,"text":"x"}"#)
                .message
                .contains("`id`")
        );
        assert!(
            refused(r#"{"type":"message","text":"  "}"#)
                .message
                .contains("no text")
        );
    }

    #[test]
    fn enforces_the_text_limit_in_characters() {
        let at_limit = "é".repeat(MAX_TEXT_CHARS);
        let frame = json!({"type": "message", "text": at_limit}).to_string();
        assert!(
            parse_client_frame(&frame).is_ok(),
            "bytes are not characters"
        );
        let over = json!({"type": "message", "text": "x".repeat(MAX_TEXT_CHARS + 1)});
        assert!(
            refused(&over.to_string())
                .message
                .contains("32001 characters")
        );
    }

    #[test]
    fn enforces_the_attachment_limits() {
        let one = json!({"mime": "text/plain", "data": encode(b"x")});
        let five = json!({"type": "message", "text": "", "attachments": vec![one.clone(); 5]});
        assert!(refused(&five.to_string()).message.contains("5 attachments"));

        let big = encode(&vec![0u8; MAX_ATTACHMENT_BYTES + 1]);
        let frame = json!({"type": "message", "text": "", "attachments": [
            one, {"mime": "application/octet-stream", "data": big},
        ]});
        let e = refused(&frame.to_string());
        assert!(
            e.message.starts_with("attachment 2: 5242881 bytes"),
            "{e:?}"
        );

        let exact = encode(&vec![7u8; MAX_ATTACHMENT_BYTES]);
        let frame = json!({"type": "message", "text": "", "attachments": [
            {"mime": "application/octet-stream", "data": exact},
        ]});
        assert!(parse_client_frame(&frame.to_string()).is_ok());
    }

    #[test]
    fn attachments_need_a_mime_and_base64_data() {
        for (attachment, expected) in [
            (
                json!({"data": "aGk="}),
                "attachment 1: missing field `mime`",
            ),
            (
                json!({"mime": " ", "data": "aGk="}),
                "attachment 1: missing field `mime`",
            ),
            (json!({"mime": "a/b"}), "attachment 1: missing field `data`"),
            (
                json!({"mime": "a/b", "data": "a*b="}),
                "attachment 1: `data` is not base64",
            ),
            (json!("aGk="), "attachment 1: must be an object"),
        ] {
            let frame = json!({"type": "message", "text": "x", "attachments": [attachment]});
            let e = refused(&frame.to_string());
            assert!(e.message.starts_with(expected), "{e:?} vs {expected}");
        }
    }

    #[test]
    fn messages_become_events_of_the_clients_conversation() {
        let message = |text: &str| UserMessage {
            id: None,
            text: text.into(),
            attachments: vec![Attachment::new("text/plain", b"x".to_vec())],
        };
        let event = event("client-01", message("hello /help"));
        assert_eq!(
            (event.conversation.as_str(), event.sender.as_str()),
            ("client-01", "client-01")
        );
        assert_eq!(
            (event.text.as_str(), event.attachments.len()),
            ("hello /help", 1)
        );
        assert_eq!(event.command, None);
        for (text, name, args) in [
            ("/model  gpt-5 mini ", "model", "gpt-5 mini"),
            ("/HELP", "help", ""),
            ("/frobnicate", "frobnicate", ""),
        ] {
            let event = super::event("client-01", message(text));
            let command = event.command.expect(text);
            assert_eq!((command.name.as_str(), command.args.as_str()), (name, args));
            assert_eq!(event.text, text, "the text travels as typed");
        }
        assert_eq!(event_command("/etc/hosts"), None);
        assert_eq!(event_command("/help@someone"), None);
    }

    fn event_command(text: &str) -> Option<String> {
        let message = UserMessage {
            id: None,
            text: text.into(),
            attachments: Vec::new(),
        };
        event("client-01", message).command.map(|c| c.name)
    }

    #[test]
    fn server_frames_have_the_documented_shape() {
        let parse = |s: String| serde_json::from_str::<Value>(&s).unwrap();
        assert_eq!(
            parse(ready("web:abc", "abc", "0.1.0")),
            json!({"type": "ready", "session": "web:abc", "client_id": "abc", "version": "0.1.0"})
        );
        assert_eq!(
            parse(ack(Some("m-17"))),
            json!({"type": "ack", "id": "m-17"})
        );
        assert_eq!(parse(status(StatusKind::Thinking))["state"], "thinking");
        assert_eq!(parse(status(StatusKind::Typing))["state"], "typing");
        assert_eq!(parse(status(StatusKind::Idle))["state"], "idle");
        assert_eq!(parse(delta("Hel")), json!({"type": "delta", "text": "Hel"}));
        assert_eq!(
            parse(error("bad", None)),
            json!({"type": "error", "message": "bad"})
        );
        assert_eq!(parse(error("bad", Some("m-1")))["id"], "m-1");

        let file = Attachment::new("image/png", b"hi".to_vec()).with_name("a.png");
        let bare = Attachment::new("text/plain", b"x".to_vec());
        assert_eq!(
            parse(message("Hello!", &[file, bare], true)),
            json!({"type": "message", "text": "Hello!", "error": true, "attachments": [
                {"mime": "image/png", "name": "a.png", "data": "aGk="},
                {"mime": "text/plain", "data": "eA=="},
            ]})
        );
    }
}

#[cfg(test)]
#[path = "protocol_fuzz.rs"]
mod fuzz;
