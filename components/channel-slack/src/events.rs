//! The Events API's bodies: the outer callback (`url_verification`,
//! `event_callback`) and the inner event (`app_mention`, `message`), read
//! without the host. Socket Mode's `events_api` envelopes carry the same
//! callback as their `payload`.

use serde::Deserialize;
use serde_json::Value;

/// What Slack posted to the `events` route.
#[derive(Clone, Debug, PartialEq)]
pub enum Callback {
    /// The Request URL check: answer with the challenge.
    UrlVerification { challenge: String },
    /// An event; `event_id` names it across retries.
    Event { event_id: String, event: Box<Event> },
    /// Anything else (`app_rate_limited`…), by its type.
    Other(String),
}

/// A file shared with a message.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct File {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub mimetype: Option<String>,
    #[serde(default)]
    pub size: u64,
    #[serde(default)]
    pub url_private: Option<String>,
    #[serde(default)]
    pub url_private_download: Option<String>,
}

impl File {
    /// The name to show.
    pub fn display_name(&self) -> &str {
        self.name
            .as_deref()
            .or(self.title.as_deref())
            .filter(|n| !n.is_empty())
            .unwrap_or("file")
    }

    /// Where its bytes are (with the bot token).
    pub fn url(&self) -> Option<&str> {
        self.url_private_download
            .as_deref()
            .or(self.url_private.as_deref())
    }
}

/// The fields of an inner event the channel reads.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct Event {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub subtype: Option<String>,
    #[serde(default)]
    pub channel: String,
    /// `im`, `channel`, `group`, `mpim` (messages only).
    #[serde(default)]
    pub channel_type: Option<String>,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub bot_id: Option<String>,
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub ts: String,
    #[serde(default)]
    pub thread_ts: Option<String>,
    #[serde(default)]
    pub files: Vec<File>,
}

/// Reads a callback body (JSON).
pub fn parse(body: &[u8]) -> Result<Callback, String> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    parse_value(&v)
}

/// Reads a callback already parsed.
pub fn parse_value(v: &Value) -> Result<Callback, String> {
    let kind = v.get("type").and_then(Value::as_str).unwrap_or("");
    match kind {
        "url_verification" => {
            let challenge = v
                .get("challenge")
                .and_then(Value::as_str)
                .ok_or("url_verification without a challenge")?;
            Ok(Callback::UrlVerification {
                challenge: challenge.to_string(),
            })
        }
        "event_callback" => {
            let event_id = v
                .get("event_id")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let inner = v.get("event").ok_or("event_callback without an event")?;
            let event = serde_json::from_value::<Event>(inner.clone())
                .map_err(|e| format!("unreadable event: {e}"))?;
            Ok(Callback::Event {
                event_id,
                event: Box::new(event),
            })
        }
        other => Ok(Callback::Other(other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_verification_gives_the_challenge() {
        let body = br#"{"token":"x","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;
        assert_eq!(
            parse(body).unwrap(),
            Callback::UrlVerification {
                challenge: "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P".into()
            }
        );
        assert!(parse(br#"{"type":"url_verification"}"#).is_err());
    }

    #[test]
    fn event_callbacks_carry_their_event() {
        let body = br#"{"type":"event_callback","team_id":"T1","event_id":"Ev08","event_time":1,
            "event":{"type":"app_mention","user":"U1","text":"<@UBOT> hi","ts":"1.000200",
            "channel":"C1","thread_ts":"0.5","files":[{"id":"F1","name":"a.png",
            "mimetype":"image/png","size":10,"url_private":"https://files.slack.com/a.png"}]}}"#;
        let Callback::Event { event_id, event } = parse(body).unwrap() else {
            panic!()
        };
        assert_eq!(event_id, "Ev08");
        assert_eq!(event.kind, "app_mention");
        assert_eq!(event.user.as_deref(), Some("U1"));
        assert_eq!(
            (event.channel.as_str(), event.ts.as_str()),
            ("C1", "1.000200")
        );
        assert_eq!(event.thread_ts.as_deref(), Some("0.5"));
        assert_eq!(event.files[0].url(), Some("https://files.slack.com/a.png"));
        assert_eq!(event.files[0].display_name(), "a.png");
        assert_eq!(
            parse(br#"{"type":"app_rate_limited"}"#).unwrap(),
            Callback::Other("app_rate_limited".into())
        );
        assert!(parse(b"nope").is_err());
    }
}
