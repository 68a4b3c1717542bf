//! Interactivity: button presses (`block_actions`) and slash commands,
//! read without the host.
//!
//! Over the Events API they arrive form-encoded
//! (`application/x-www-form-urlencoded`): a press as `payload=<JSON>`, a
//! slash command as `command=/pista&text=new&user_id=…&channel_id=…`. In
//! Socket Mode the same payloads arrive as JSON in `interactive` and
//! `slash_commands` envelopes.
//!
//! A press answers in the conversation of the message holding the button:
//! `CHANNEL:THREAD_TS` when that message is in a thread (every message the
//! channel posts in a channel is), else `CHANNEL` (a direct message
//! outside threads); see [`crate::conversation`].

use openpista_sdk::{Command, approval};
use serde_json::Value;

use crate::conversation;

/// A button press that stands for a command.
#[derive(Clone, Debug, PartialEq)]
pub struct Press {
    pub conversation: String,
    pub user: String,
    pub command: Command,
}

/// A slash command (`/pista new`): its text is read as the host command.
#[derive(Clone, Debug, PartialEq)]
pub struct Slash {
    pub channel: String,
    pub user: String,
    /// The Slack command, such as `/pista`.
    pub name: String,
    pub text: String,
}

/// Decodes `application/x-www-form-urlencoded` into pairs (`+` is a blank,
/// `%XX` a byte; invalid escapes are kept as they are).
pub fn form_decode(body: &str) -> Vec<(String, String)> {
    body.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len()
                && bytes[i + 1].is_ascii_hexdigit()
                && bytes[i + 2].is_ascii_hexdigit() =>
            {
                let hex = |b: u8| (b as char).to_digit(16).unwrap_or(0) as u8;
                out.push(hex(bytes[i + 1]) * 16 + hex(bytes[i + 2]));
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The value of `key` in decoded form pairs.
pub fn form_value<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut at = v;
    for key in path {
        at = at.get(key)?;
    }
    at.as_str()
}

/// The presses of a `block_actions` payload that stand for commands
/// (other payload types and unknown buttons give none).
pub fn presses(payload: &Value) -> Vec<Press> {
    if payload.get("type").and_then(Value::as_str) != Some("block_actions") {
        return Vec::new();
    }
    let user = str_at(payload, &["user", "id"]).unwrap_or("").to_string();
    let channel = str_at(payload, &["channel", "id"])
        .or_else(|| str_at(payload, &["container", "channel_id"]))
        .unwrap_or("");
    let thread = str_at(payload, &["message", "thread_ts"])
        .or_else(|| str_at(payload, &["container", "thread_ts"]));
    if user.is_empty() || channel.is_empty() {
        return Vec::new();
    }
    let conversation = conversation::of(channel, thread);
    payload
        .get("actions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|a| a.get("value").and_then(Value::as_str))
        .filter_map(approval::parse_press)
        .map(|command| Press {
            conversation: conversation.clone(),
            user: user.clone(),
            command,
        })
        .collect()
}

/// The message holding the pressed button: `(channel, ts)`.
pub fn pressed_message(payload: &Value) -> Option<(String, String)> {
    let channel = str_at(payload, &["channel", "id"])
        .or_else(|| str_at(payload, &["container", "channel_id"]))?;
    let ts = str_at(payload, &["message", "ts"])
        .or_else(|| str_at(payload, &["container", "message_ts"]))?;
    Some((channel.to_string(), ts.to_string()))
}

/// A slash command from its fields (`get` reads a form or a JSON object).
pub fn slash(get: impl Fn(&str) -> Option<String>) -> Option<Slash> {
    Some(Slash {
        name: get("command")?,
        channel: get("channel_id")?,
        user: get("user_id")?,
        text: get("text").unwrap_or_default(),
    })
}

impl Slash {
    /// The host command: `/pista new` is `/new`; an empty text is `/help`.
    pub fn command(&self) -> Option<Command> {
        let text = self.text.trim();
        let text = text.strip_prefix(['/', '!']).unwrap_or(text);
        let text = if text.is_empty() { "help" } else { text };
        openpista_sdk::command::parse(&format!("/{text}"), None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn forms_decode_plus_and_percent() {
        let pairs = form_decode("payload=%7B%22a%22%3A+1%7D&x=a%2Bb&bad=%zz&end=%4");
        assert_eq!(form_value(&pairs, "payload"), Some(r#"{"a": 1}"#));
        assert_eq!(form_value(&pairs, "x"), Some("a+b"));
        assert_eq!(form_value(&pairs, "bad"), Some("%zz"));
        assert_eq!(form_value(&pairs, "end"), Some("%4"));
        assert_eq!(form_value(&pairs, "nope"), None);
    }

    fn press_payload(thread: Option<&str>, value: &str) -> Value {
        let mut message = json!({"ts": "200.2", "text": "Approval needed"});
        if let Some(t) = thread {
            message["thread_ts"] = json!(t);
        }
        json!({
            "type": "block_actions",
            "user": {"id": "U1", "username": "ann"},
            "channel": {"id": "C1"},
            "container": {"type": "message", "message_ts": "200.2", "channel_id": "C1"},
            "message": message,
            "actions": [{"action_id": "approve", "block_id": "b", "type": "button", "value": value}]
        })
    }

    #[test]
    fn an_approval_press_is_its_command_in_the_thread() {
        let p = presses(&press_payload(Some("100.1"), "ap:k3x9:a"));
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].conversation, "C1:100.1");
        assert_eq!(p[0].user, "U1");
        assert_eq!(
            (p[0].command.name.as_str(), p[0].command.args.as_str()),
            ("approve", "k3x9")
        );
        let dm = presses(&press_payload(None, "c:/model gpt-5"));
        assert_eq!(dm[0].conversation, "C1");
        assert_eq!(dm[0].command.name, "model");
        assert!(presses(&press_payload(None, "something else")).is_empty());
        assert!(presses(&json!({"type": "view_submission"})).is_empty());
        assert_eq!(
            pressed_message(&press_payload(None, "x")),
            Some(("C1".into(), "200.2".into()))
        );
    }

    #[test]
    fn a_press_from_a_form_body() {
        let payload = press_payload(Some("1.1"), "ap:ab:r").to_string();
        let body: String = format!(
            "payload={}",
            payload
                .replace('%', "%25")
                .replace(' ', "+")
                .replace('&', "%26")
        );
        let pairs = form_decode(&body);
        let v: Value = serde_json::from_str(form_value(&pairs, "payload").unwrap()).unwrap();
        assert_eq!(presses(&v)[0].command.name, "reject");
    }

    #[test]
    fn slash_commands_become_host_commands() {
        let pairs = form_decode("command=%2Fpista&text=model+gpt-5&user_id=U1&channel_id=C1");
        let s = slash(|k| form_value(&pairs, k).map(str::to_string)).unwrap();
        assert_eq!((s.name.as_str(), s.channel.as_str()), ("/pista", "C1"));
        let c = s.command().unwrap();
        assert_eq!((c.name.as_str(), c.args.as_str()), ("model", "gpt-5"));
        let empty = Slash {
            text: " ".into(),
            ..s.clone()
        };
        assert_eq!(empty.command().unwrap().name, "help");
        let bang = Slash {
            text: "!new".into(),
            ..s
        };
        assert_eq!(bang.command().unwrap().name, "new");
    }
}
