//! The lines the host passes to `handle_ws`: the bridge's events (its
//! stdout, `bridges/whatsapp/README.md`) and the two the host adds about
//! the bridge process (`bridge_started`, `bridge_exited`).
//!
//! [`parse`] turns a line into an [`Event`] or says, in a few words, what
//! is wrong with it; the glue logs and counts those and carries on. Fields
//! the README marks as possibly `null` may also be missing; the fields an
//! event is useless without are required, with their types checked.

use serde_json::{Map, Value};

/// A file in an incoming message, as the bridge describes it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Media {
    /// `image`, `audio`, `video`, `document` or `sticker`.
    pub kind: String,
    pub mime: String,
    pub file_name: Option<String>,
    /// Bytes, declared by the sender or counted by the bridge.
    pub size: Option<u64>,
    /// The whole file in base64, when the bridge downloaded it.
    pub data_b64: Option<String>,
    /// Why there is no data (`too large`, `download failed: ...`).
    pub note: Option<String>,
}

/// An incoming message (`type: "message"`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Incoming {
    /// WhatsApp's message id.
    pub id: Option<String>,
    /// The JID to reply to.
    pub chat: String,
    /// Who wrote it: a phone-number JID when known, else a LID.
    pub sender: String,
    pub sender_lid: Option<String>,
    pub push_name: Option<String>,
    /// Unix seconds.
    pub timestamp: Option<u64>,
    pub is_group: bool,
    /// The text, or the media caption; may be empty.
    pub text: String,
    pub media: Option<Media>,
}

/// Why the socket closed (`type: "disconnected"`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Disconnect {
    pub reason: String,
    pub code: Option<i64>,
    pub reconnect: bool,
    pub delay_ms: u64,
}

/// One line, understood.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The bridge loaded its auth state.
    Ready,
    /// A QR code to scan.
    Qr(String),
    /// The answer to `request_pairing_code`.
    PairingCode {
        code: String,
    },
    /// The socket is open, as `jid` (device part dropped).
    Connected {
        jid: Option<String>,
        name: Option<String>,
    },
    Disconnected(Disconnect),
    Message(Box<Incoming>),
    /// Command `reference` went out.
    Sent {
        reference: String,
    },
    /// The answer to `status` (and `logout`).
    Status {
        state: String,
        jid: Option<String>,
    },
    /// A bad line or a failed command; `reference` names the command.
    Error {
        reference: Option<String>,
        message: String,
    },
    /// Host: the bridge process started.
    BridgeStarted {
        pid: Option<u64>,
    },
    /// Host: the bridge process ended, with an exit code or a signal
    /// (a number, or a name); it is started again after `restart_in_ms`
    /// when that is set.
    BridgeExited {
        code: Option<i64>,
        signal: Option<String>,
        restart_in_ms: Option<u64>,
    },
}

/// `line` as an event, or what is wrong with it (for the log).
pub fn parse(line: &str) -> Result<Event, String> {
    let value: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let Value::Object(obj) = value else {
        return Err("not a JSON object".into());
    };
    let kind = match obj.get("type") {
        None | Some(Value::Null) => return Err("no `type`".into()),
        Some(Value::String(t)) => t.as_str(),
        Some(_) => return Err("`type` is not a string".into()),
    };
    let f = Fields(&obj);
    let event = match kind {
        "ready" => Event::Ready,
        "qr" => Event::Qr(f.text("qr")?),
        "pairing_code" => Event::PairingCode {
            code: f.text("code")?,
        },
        "connected" => Event::Connected {
            jid: f.opt_str("jid")?,
            name: f.opt_str("name")?,
        },
        "disconnected" => Event::Disconnected(Disconnect {
            reason: f.text("reason")?,
            code: f.opt_i64("code")?,
            reconnect: f.bool("reconnect")?,
            delay_ms: f.opt_u64("delay_ms")?.unwrap_or(0),
        }),
        "message" => Event::Message(Box::new(message(&f)?)),
        "sent" => Event::Sent {
            reference: f.text("ref")?,
        },
        "status" => Event::Status {
            state: f.text("state")?,
            jid: f.opt_str("jid")?,
        },
        "error" => Event::Error {
            reference: f.opt_str("ref")?.filter(|r| !r.is_empty()),
            message: f.str("message")?,
        },
        "bridge_started" => Event::BridgeStarted {
            pid: f.opt_u64("pid")?,
        },
        "bridge_exited" => Event::BridgeExited {
            code: f.opt_i64("code")?,
            signal: f.opt_text_or_number("signal")?,
            restart_in_ms: f.opt_u64("restart_in_ms")?,
        },
        other => return Err(format!("unknown type {}", Value::from(other))),
    };
    Ok(event)
}

fn message(f: &Fields) -> Result<Incoming, String> {
    let media = match f.0.get("media") {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) => {
            let m = Fields(m);
            let inner = |e: String| format!("media: {e}");
            Some(Media {
                kind: m.text("kind").map_err(inner)?,
                mime: m.text("mime").map_err(inner)?,
                file_name: m.opt_str("file_name").map_err(inner)?,
                size: m.opt_u64("size").map_err(inner)?,
                data_b64: m.opt_str("data_b64").map_err(inner)?,
                note: m.opt_str("note").map_err(inner)?,
            })
        }
        Some(_) => return Err("`media` is neither an object nor null".into()),
    };
    let on = |e: String| format!("message: {e}");
    Ok(Incoming {
        id: f.opt_str("id").map_err(on)?,
        chat: f.text("chat").map_err(on)?,
        sender: f.text("sender").map_err(on)?,
        sender_lid: f.opt_str("sender_lid").map_err(on)?,
        push_name: f.opt_str("push_name").map_err(on)?,
        timestamp: f.opt_u64("timestamp").map_err(on)?,
        is_group: f.bool("is_group").map_err(on)?,
        text: f.str("text").map_err(on)?,
        media,
    })
}

/// Typed access to an object's fields, with errors naming the field.
struct Fields<'a>(&'a Map<String, Value>);

impl Fields<'_> {
    fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key).filter(|v| !v.is_null())
    }

    /// A required string, possibly empty.
    fn str(&self, key: &str) -> Result<String, String> {
        self.opt_str(key)?
            .ok_or_else(|| format!("missing field `{key}`"))
    }

    /// A required string that is not empty.
    fn text(&self, key: &str) -> Result<String, String> {
        let s = self.str(key)?;
        if s.is_empty() {
            return Err(format!("field `{key}` is empty"));
        }
        Ok(s)
    }

    fn opt_str(&self, key: &str) -> Result<Option<String>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(format!("field `{key}` is not a string")),
        }
    }

    /// A string or a number (the host writes signals as numbers), as text.
    fn opt_text_or_number(&self, key: &str) -> Result<Option<String>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(_) => Err(format!("field `{key}` is neither a string nor a number")),
        }
    }

    fn bool(&self, key: &str) -> Result<bool, String> {
        match self.get(key) {
            None => Err(format!("missing field `{key}`")),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(format!("field `{key}` is not true or false")),
        }
    }

    fn opt_u64(&self, key: &str) -> Result<Option<u64>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .map(Some)
                .ok_or_else(|| format!("field `{key}` is not a whole number")),
        }
    }

    fn opt_i64(&self, key: &str) -> Result<Option<i64>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| format!("field `{key}` is not a whole number")),
        }
    }
}

/// The first 120 characters of `line`, for logs.
pub fn excerpt(line: &str) -> String {
    const MAX: usize = 120;
    match line.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &line[..i]),
        None => line.to_string(),
    }
}

#[cfg(test)]
#[path = "event_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "event_fuzz.rs"]
mod fuzz;
