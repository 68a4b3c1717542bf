//! The frames of the web channel (docs/WEB_PROTOCOL.md) and the URLs of the
//! handshake.
//!
//! Pure Rust, no browser APIs, so the framing is unit-tested natively. Every
//! frame is one JSON object whose `type` names it.

use crate::approval::{ChoiceButton, Settlement, deserialize_approval_id};
use crate::sessions::{HistoryMessage, SessionItem};
use serde::{Deserialize, Serialize};

/// At most this many attachments go with one message.
pub const MAX_ATTACHMENTS: usize = 4;
/// Each attachment may be at most this large after base64 decoding (5 MiB).
pub const MAX_ATTACHMENT_BYTES: usize = 5 * 1024 * 1024;
/// Longer messages get an `error` frame from the server; the client refuses
/// them up front.
pub const MAX_MESSAGE_CHARS: usize = 32_000;
/// The host closes the connection (1009) on a larger frame, so the client
/// does not send one: four 5 MiB images do not fit in one message.
pub const MAX_FRAME_BYTES: usize = 8 * 1024 * 1024;
/// The client sends a `ping` this often.
pub const PING_INTERVAL_MS: u32 = 15_000;
/// The server closes a connection it has not heard from for this long; the
/// client gives up on a socket it has heard nothing from for as long.
pub const SILENCE_TIMEOUT_MS: f64 = 45_000.0;
/// The subprotocol every connection offers.
pub const SUBPROTOCOL: &str = "openpista";

/// A file sent with a message, base64-encoded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// Its MIME type, such as `image/png`.
    pub mime: String,
    /// Its file name; may be empty.
    #[serde(default)]
    pub name: String,
    /// Its content, standard base64.
    pub data: String,
}

/// A frame the client sends.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ClientFrame {
    /// A user message; `id` comes back in an `ack`.
    Message {
        id: String,
        text: String,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        attachments: Vec<Attachment>,
    },
    /// The heartbeat; `t` (ms since the epoch) comes back in a `pong`.
    Ping { t: u64 },
}

impl ClientFrame {
    /// The frame as the JSON text sent on the socket.
    pub fn to_json(&self) -> String {
        // A struct of strings and numbers always serializes.
        serde_json::to_string(self).expect("client frames serialize")
    }
}

/// What the agent is doing, from a `status` frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AgentState {
    Thinking,
    Typing,
    Idle,
    /// A state this client does not know yet; shown as idle.
    #[serde(other)]
    Unknown,
}

/// A frame the server sends.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ServerFrame {
    /// The connection is accepted and bound to `session`.
    Ready {
        #[serde(default)]
        session: String,
        #[serde(default)]
        client_id: String,
        #[serde(default)]
        version: String,
    },
    /// The message with this `id` was queued for the agent.
    Ack { id: String },
    /// The agent is thinking, typing or idle.
    Status { state: AgentState },
    /// The next piece of the answer being generated.
    Delta { text: String },
    /// A message the session's person sent from another connection (a
    /// second tab, the terminal UI), with its attachments' names.
    User {
        text: String,
        #[serde(default)]
        attachments: Vec<String>,
    },
    /// A whole answer; replaces what was streamed.
    Message {
        #[serde(default)]
        text: String,
        #[serde(default)]
        attachments: Vec<Attachment>,
        #[serde(default)]
        error: bool,
    },
    /// The answer to a `ping`.
    Pong {
        #[serde(default)]
        t: u64,
    },
    /// A protocol error; the connection stays open.
    Error { message: String },
    /// A tool call waits for this session's approval; answered with
    /// [`crate::approval::Answer::command`].
    Approval {
        /// 1 to 12 characters of `[a-z0-9]` (checked).
        #[serde(deserialize_with = "deserialize_approval_id")]
        id: String,
        tool: String,
        /// Already redacted and cut by the host.
        arguments: String,
        #[serde(default)]
        folder: Option<String>,
        #[serde(default)]
        requester: Option<String>,
        timeout_secs: u64,
    },
    /// The approval request `id` ended.
    Settled {
        #[serde(deserialize_with = "deserialize_approval_id")]
        id: String,
        how: Settlement,
    },
    /// Text with buttons that send host commands.
    Choices {
        text: String,
        buttons: Vec<ChoiceButton>,
    },
    /// The conversation's sessions (crate::sessions).
    Sessions { items: Vec<SessionItem> },
    /// The conversation moved to another session: its messages, oldest
    /// first, replace the transcript.
    History {
        title: String,
        messages: Vec<HistoryMessage>,
    },
    /// A frame type newer than this client; ignored.
    #[serde(other)]
    Unknown,
}

impl ServerFrame {
    /// Parses one text frame; the error names the frame's type when it has
    /// one (such as "approval frame: missing field \`tool\`").
    pub fn parse(text: &str) -> Result<ServerFrame, String> {
        serde_json::from_str(text).map_err(|e| match frame_type(text) {
            Some(kind) => format!("{kind} frame: {e}"),
            None => e.to_string(),
        })
    }
}

/// The `type` of a frame that did not parse, if it is a JSON object with a
/// string `type`.
fn frame_type(text: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Tagged {
        #[serde(rename = "type")]
        kind: String,
    }
    serde_json::from_str::<Tagged>(text).ok().map(|t| t.kind)
}

/// Why an attachment cannot be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttachmentError {
    /// Already [`MAX_ATTACHMENTS`] attached.
    TooMany,
    /// Larger than [`MAX_ATTACHMENT_BYTES`].
    TooLarge,
    /// Not an image.
    NotAnImage,
}

impl std::fmt::Display for AttachmentError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AttachmentError::TooMany => "at most 4 images per message",
            AttachmentError::TooLarge => "images may be at most 5 MiB",
            AttachmentError::NotAnImage => "only images can be attached",
        })
    }
}

/// Checks a message frame's size against [`MAX_FRAME_BYTES`]; the error
/// says what to do.
pub fn check_frame_size(frame: &str) -> Result<(), String> {
    if frame.len() <= MAX_FRAME_BYTES {
        Ok(())
    } else {
        Err(format!(
            "the images are too large together ({} MiB of at most 8 MiB once encoded): send fewer at a time",
            frame.len().div_ceil(1024 * 1024)
        ))
    }
}

/// Checks whether a file of `mime` and `size` bytes may join `already`
/// attachments.
pub fn check_attachment(already: usize, mime: &str, size: usize) -> Result<(), AttachmentError> {
    if already >= MAX_ATTACHMENTS {
        Err(AttachmentError::TooMany)
    } else if !mime.starts_with("image/") {
        Err(AttachmentError::NotAnImage)
    } else if size > MAX_ATTACHMENT_BYTES {
        Err(AttachmentError::TooLarge)
    } else {
        Ok(())
    }
}

/// Splits a `data:MIME;base64,DATA` URL (what `FileReader.readAsDataURL`
/// gives) into its MIME type and base64 data.
pub fn split_data_url(url: &str) -> Option<(&str, &str)> {
    let rest = url.strip_prefix("data:")?;
    let (meta, data) = rest.split_once(',')?;
    let mime = meta.strip_suffix(";base64")?;
    Some((mime, data))
}

/// The number of bytes `data` (standard base64) decodes to.
pub fn decoded_len(data: &str) -> usize {
    let len = data.trim_end_matches('=').len();
    len / 4 * 3 + (len % 4 * 3) / 4
}

/// True for a MIME type safe to put in a `data:` URL: `type/subtype` of
/// letters, digits and `.+-`.
pub fn is_safe_mime(mime: &str) -> bool {
    let ok = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'+' | b'-'))
    };
    matches!(mime.split_once('/'), Some((a, b)) if ok(a) && ok(b))
}

/// True for standard base64 text (what may follow `base64,` in a data URL).
pub fn is_base64(data: &str) -> bool {
    data.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
}

/// The `data:` URL that shows an attachment, or `None` when its MIME type or
/// data is malformed (then it is not shown as an image).
pub fn data_url(attachment: &Attachment) -> Option<String> {
    (is_safe_mime(&attachment.mime) && is_base64(&attachment.data))
        .then(|| format!("data:{};base64,{}", attachment.mime, attachment.data))
}

/// True when `token` can travel as the subprotocol `token.TOKEN`: a
/// subprotocol must be an HTTP token (RFC 7230 `tchar`s), or the browser
/// refuses to open the socket. Other tokens go in the query instead.
pub fn token_fits_subprotocol(token: &str) -> bool {
    !token.is_empty()
        && token.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'!' | b'#'
                        | b'$'
                        | b'%'
                        | b'&'
                        | b'\''
                        | b'*'
                        | b'+'
                        | b'-'
                        | b'.'
                        | b'^'
                        | b'_'
                        | b'`'
                        | b'|'
                        | b'~'
                )
        })
}

/// Where and how to open the WebSocket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsTarget {
    /// `ws(s)://HOST/ws?client=ID`, plus `&token=…` when the token cannot be
    /// a subprotocol.
    pub url: String,
    /// `["openpista"]`, plus `"token.TOKEN"` when there is a token.
    pub protocols: Vec<String>,
}

/// The WebSocket target for a page served over `page_protocol` (`https:` or
/// `http:`) from `host` (`example.com:8480`).
pub fn ws_target(
    page_protocol: &str,
    host: &str,
    client_id: &str,
    token: Option<&str>,
) -> WsTarget {
    let scheme = if page_protocol == "https:" {
        "wss"
    } else {
        "ws"
    };
    let mut url = format!("{scheme}://{host}/ws?client={}", percent_encode(client_id));
    let mut protocols = vec![SUBPROTOCOL.to_string()];
    match token {
        Some(t) if token_fits_subprotocol(t) => protocols.push(format!("token.{t}")),
        Some(t) if !t.is_empty() => {
            url.push_str("&token=");
            url.push_str(&percent_encode(t));
        }
        _ => {}
    }
    WsTarget { url, protocols }
}

/// The URL of the plain `GET` that tells a refused handshake (`401`) from a
/// network problem (`426`); relative to the page's origin.
pub fn probe_url(client_id: &str, token: Option<&str>) -> String {
    let mut url = format!("/ws?client={}", percent_encode(client_id));
    if let Some(t) = token.filter(|t| !t.is_empty()) {
        url.push_str("&token=");
        url.push_str(&percent_encode(t));
    }
    url
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes `%XX` escapes; invalid escapes stay as they are. A `+` stays a
/// `+` (fragments are not form-encoded, and base64 tokens contain `+`).
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The token in a URL fragment such as `#token=abc` (also among other
/// `&`-separated pairs), for the one-time link a host prints.
pub fn token_from_fragment(hash: &str) -> Option<String> {
    hash.trim_start_matches('#')
        .split('&')
        .find_map(|pair| pair.strip_prefix("token="))
        .map(percent_decode)
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_frame_matches_the_spec() {
        let frame = ClientFrame::Message {
            id: "m-17".into(),
            text: "hi".into(),
            attachments: vec![Attachment {
                mime: "image/png".into(),
                name: "a.png".into(),
                data: "AAAA".into(),
            }],
        };
        assert_eq!(
            frame.to_json(),
            r#"{"type":"message","id":"m-17","text":"hi","attachments":[{"mime":"image/png","name":"a.png","data":"AAAA"}]}"#
        );
        let plain = ClientFrame::Message {
            id: "m-1".into(),
            text: "/help".into(),
            attachments: vec![],
        };
        assert_eq!(
            plain.to_json(),
            r#"{"type":"message","id":"m-1","text":"/help"}"#
        );
    }

    #[test]
    fn ping_frame_matches_the_spec() {
        let ping = ClientFrame::Ping { t: 1732480000000 };
        assert_eq!(ping.to_json(), r#"{"type":"ping","t":1732480000000}"#);
    }

    #[test]
    fn parses_every_server_frame() {
        let cases = [
            (
                r#"{"type":"ready","session":"web:abc","client_id":"abc","version":"0.1.0"}"#,
                ServerFrame::Ready {
                    session: "web:abc".into(),
                    client_id: "abc".into(),
                    version: "0.1.0".into(),
                },
            ),
            (
                r#"{"type":"ack","id":"m-17"}"#,
                ServerFrame::Ack { id: "m-17".into() },
            ),
            (
                r#"{"type":"status","state":"thinking"}"#,
                ServerFrame::Status {
                    state: AgentState::Thinking,
                },
            ),
            (
                r#"{"type":"status","state":"dreaming"}"#,
                ServerFrame::Status {
                    state: AgentState::Unknown,
                },
            ),
            (
                r#"{"type":"delta","text":"Hel"}"#,
                ServerFrame::Delta { text: "Hel".into() },
            ),
            (
                r#"{"type":"user","text":"from the terminal"}"#,
                ServerFrame::User {
                    text: "from the terminal".into(),
                    attachments: vec![],
                },
            ),
            (
                r#"{"type":"user","text":"look","attachments":["a.png"]}"#,
                ServerFrame::User {
                    text: "look".into(),
                    attachments: vec!["a.png".into()],
                },
            ),
            (
                r#"{"type":"message","text":"Hello!","attachments":[],"error":false}"#,
                ServerFrame::Message {
                    text: "Hello!".into(),
                    attachments: vec![],
                    error: false,
                },
            ),
            (
                r#"{"type":"message","text":"no","error":true}"#,
                ServerFrame::Message {
                    text: "no".into(),
                    attachments: vec![],
                    error: true,
                },
            ),
            (
                r#"{"type":"pong","t":1732480000000}"#,
                ServerFrame::Pong { t: 1732480000000 },
            ),
            (
                r#"{"type":"error","message":"frame 3: missing field `text`"}"#,
                ServerFrame::Error {
                    message: "frame 3: missing field `text`".into(),
                },
            ),
            (r#"{"type":"typing-v2","x":1}"#, ServerFrame::Unknown),
        ];
        for (json, want) in cases {
            assert_eq!(ServerFrame::parse(json).unwrap(), want, "{json}");
        }
    }

    #[test]
    fn message_attachments_parse() {
        let f = ServerFrame::parse(
            r#"{"type":"message","text":"","attachments":[{"mime":"image/png","data":"iVBO"}]}"#,
        )
        .unwrap();
        let ServerFrame::Message { attachments, .. } = f else {
            panic!("{f:?}")
        };
        assert_eq!(attachments[0].mime, "image/png");
        assert_eq!(attachments[0].name, "");
    }

    #[test]
    fn malformed_frames_are_errors() {
        assert!(ServerFrame::parse("not json").is_err());
        assert!(ServerFrame::parse(r#"{"text":"no type"}"#).is_err());
        assert!(ServerFrame::parse(r#"{"type":"delta"}"#).is_err());
    }

    #[test]
    fn attachment_limits() {
        assert_eq!(check_attachment(0, "image/png", 10), Ok(()));
        assert_eq!(
            check_attachment(4, "image/png", 10),
            Err(AttachmentError::TooMany)
        );
        assert_eq!(
            check_attachment(0, "text/html", 10),
            Err(AttachmentError::NotAnImage)
        );
        assert_eq!(
            check_attachment(0, "image/jpeg", MAX_ATTACHMENT_BYTES + 1),
            Err(AttachmentError::TooLarge)
        );
        assert_eq!(
            check_attachment(3, "image/jpeg", MAX_ATTACHMENT_BYTES),
            Ok(())
        );
    }

    #[test]
    fn frames_over_8_mib_are_refused() {
        let small = ClientFrame::Message {
            id: "m".into(),
            text: "hi".into(),
            attachments: vec![],
        };
        assert!(check_frame_size(&small.to_json()).is_ok());
        let image = Attachment {
            mime: "image/jpeg".into(),
            name: "a.jpg".into(),
            data: "A".repeat(5 * 1024 * 1024),
        };
        let two = ClientFrame::Message {
            id: "m".into(),
            text: String::new(),
            attachments: vec![image.clone(), image],
        };
        let err = check_frame_size(&two.to_json()).unwrap_err();
        assert!(err.contains("11 MiB"), "{err}");
    }

    #[test]
    fn data_urls_split_and_build() {
        assert_eq!(
            split_data_url("data:image/png;base64,iVBORw=="),
            Some(("image/png", "iVBORw=="))
        );
        assert_eq!(split_data_url("data:text/plain,hello"), None);
        assert_eq!(split_data_url("http://x"), None);
        let a = Attachment {
            mime: "image/png".into(),
            name: String::new(),
            data: "iVBO+/==".into(),
        };
        assert_eq!(
            data_url(&a).as_deref(),
            Some("data:image/png;base64,iVBO+/==")
        );
        let evil = Attachment {
            mime: "image/png\"><script>".into(),
            ..a.clone()
        };
        assert_eq!(data_url(&evil), None);
        let evil = Attachment {
            data: "AA\" onerror=\"x".into(),
            ..a
        };
        assert_eq!(data_url(&evil), None);
    }

    #[test]
    fn decoded_length() {
        assert_eq!(decoded_len(""), 0);
        assert_eq!(decoded_len("QQ=="), 1);
        assert_eq!(decoded_len("QUI="), 2);
        assert_eq!(decoded_len("QUJD"), 3);
        assert_eq!(decoded_len("QUJDRA=="), 4);
    }

    #[test]
    fn token_goes_in_the_subprotocol_when_it_can() {
        let t = ws_target("https:", "example.com", "abcdefgh", Some("s3cret-._~"));
        assert_eq!(t.url, "wss://example.com/ws?client=abcdefgh");
        assert_eq!(t.protocols, vec!["openpista", "token.s3cret-._~"]);

        let t = ws_target("http:", "127.0.0.1:8480", "abcdefgh", Some("a b/c"));
        assert_eq!(
            t.url,
            "ws://127.0.0.1:8480/ws?client=abcdefgh&token=a%20b%2Fc"
        );
        assert_eq!(t.protocols, vec!["openpista"]);

        let t = ws_target("http:", "h", "abcdefgh", None);
        assert_eq!(t.url, "ws://h/ws?client=abcdefgh");
        assert_eq!(t.protocols, vec!["openpista"]);
    }

    #[test]
    fn probe_url_carries_the_token() {
        assert_eq!(probe_url("abc", Some("t=1")), "/ws?client=abc&token=t%3D1");
        assert_eq!(probe_url("abc", None), "/ws?client=abc");
        assert_eq!(probe_url("abc", Some("")), "/ws?client=abc");
    }

    #[test]
    fn fragment_token() {
        assert_eq!(token_from_fragment("#token=abc").as_deref(), Some("abc"));
        assert_eq!(
            token_from_fragment("#x=1&token=a%2Bb").as_deref(),
            Some("a+b")
        );
        assert_eq!(
            token_from_fragment("#token=a+b/c=").as_deref(),
            Some("a+b/c=")
        );
        assert_eq!(token_from_fragment("#token="), None);
        assert_eq!(token_from_fragment(""), None);
        assert_eq!(token_from_fragment("#other=1"), None);
    }

    #[test]
    fn percent_round_trip() {
        for s in ["plain", "a b+c/d?e&f=g", "ümlaut", "100%", "%zz", "%4"] {
            assert_eq!(percent_decode(&percent_encode(s)), s);
        }
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }
}

#[cfg(test)]
#[path = "protocol_fuzz.rs"]
mod fuzz;
