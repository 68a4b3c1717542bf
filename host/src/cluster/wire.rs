//! What edges and workers send each other, as JSON: an inbound event with
//! its origin ([`Envelope`]), and the calls a worker makes on an edge's
//! channel ([`OutCall`]). The WIT types have no serde, so their shapes are
//! mirrored here; bytes travel as base64.

use crate::gateway::delivery::DeliveryLimits;
use crate::gateway::remote::Via;
use crate::gateway::{Incoming, Origin};
use crate::runtime::bindings::channel::exports::openpista::plugin::messenger::{
    Command, Outbound, StatusKind,
};
use crate::runtime::bindings::{
    ApprovalRequest, Attachment, Button, HistoryEntry, SessionEntry, Settlement, Speaker,
};
use serde::{Deserialize, Serialize};

/// Bytes as base64 text.
mod b64 {
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WireAttachment {
    pub mime: String,
    pub name: Option<String>,
    #[serde(with = "b64")]
    pub data: Vec<u8>,
}

impl From<&Attachment> for WireAttachment {
    fn from(a: &Attachment) -> Self {
        WireAttachment {
            mime: a.mime.clone(),
            name: a.name.clone(),
            data: a.data.clone(),
        }
    }
}

impl From<WireAttachment> for Attachment {
    fn from(a: WireAttachment) -> Self {
        Attachment {
            mime: a.mime,
            name: a.name,
            data: a.data,
        }
    }
}

fn attachments_in(list: &[Attachment]) -> Vec<WireAttachment> {
    list.iter().map(WireAttachment::from).collect()
}

fn attachments_out(list: Vec<WireAttachment>) -> Vec<Attachment> {
    list.into_iter().map(Attachment::from).collect()
}

/// An inbound event on its way from an edge to the worker that owns its
/// session's partition.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Envelope {
    /// Unique in the cluster; also the stream's deduplication id.
    pub id: String,
    /// The edge it came through.
    pub edge: String,
    pub channel: String,
    pub operator: bool,
    pub session: String,
    pub sender: String,
    pub text: String,
    #[serde(default)]
    pub attachments: Vec<WireAttachment>,
    /// A host command: its name and arguments.
    #[serde(default)]
    pub command: Option<(String, String)>,
    /// The channel's limits on that edge.
    pub max_message_length: Option<u32>,
    pub typing: bool,
    pub files: bool,
    /// Published again after a failure that left unknown whether the
    /// server had stored it: the worker looks for an earlier attempt.
    #[serde(default)]
    pub retried: bool,
}

impl Envelope {
    pub fn new(
        id: String,
        edge: &str,
        origin: &Origin,
        event: &Incoming,
        limits: DeliveryLimits,
    ) -> Envelope {
        Envelope {
            id,
            edge: edge.to_string(),
            channel: origin.channel.clone(),
            operator: origin.operator,
            session: event.session.clone(),
            sender: event.sender.clone(),
            text: event.text.clone(),
            attachments: attachments_in(&event.attachments),
            command: event
                .command
                .as_ref()
                .map(|c| (c.name.clone(), c.args.clone())),
            max_message_length: limits.max_message_length,
            typing: limits.typing,
            files: limits.attachments,
            retried: false,
        }
    }

    /// The event and its origin, as the worker's gateway handles them.
    pub fn into_event(self) -> (Origin, Incoming) {
        let origin = Origin {
            channel: self.channel,
            operator: self.operator,
            via: Some(Via {
                edge: self.edge,
                event: self.id,
                limits: DeliveryLimits {
                    max_message_length: self.max_message_length,
                    typing: self.typing,
                    attachments: self.files,
                },
                redelivered: self.retried,
            }),
        };
        let event = Incoming {
            session: self.session,
            sender: self.sender,
            text: self.text,
            attachments: attachments_out(self.attachments),
            command: self.command.map(|(name, args)| Command { name, args }),
        };
        (origin, event)
    }
}

/// An approval request, as [`ApprovalRequest`].
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WireApproval {
    pub id: String,
    pub tool: String,
    pub arguments: String,
    pub folder: Option<String>,
    pub requester: Option<String>,
    pub timeout_secs: u32,
}

impl From<WireApproval> for ApprovalRequest {
    fn from(a: WireApproval) -> Self {
        ApprovalRequest {
            id: a.id,
            tool: a.tool,
            arguments: a.arguments,
            folder: a.folder,
            requester: a.requester,
            timeout_secs: a.timeout_secs,
        }
    }
}

/// A call a worker makes on a channel that runs on an edge.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OutCall {
    pub channel: String,
    /// The event being answered, when known: an edge delivers a `send`
    /// of the same event and content once.
    pub event: Option<String>,
    pub conversation: String,
    pub op: Op,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    Send {
        text: String,
        attachments: Vec<WireAttachment>,
        is_error: bool,
    },
    Delta {
        text: String,
    },
    /// `typing`, `thinking` or `idle`.
    Status {
        kind: String,
    },
    AskApproval(WireApproval),
    /// Buttons: (label, command name, arguments).
    Offer {
        text: String,
        buttons: Vec<(String, String, String)>,
    },
    /// `approved`, `allowed`, `rejected`, `expired` or `cancelled`.
    ApprovalSettled {
        id: String,
        how: String,
    },
    /// (number, title, messages, active).
    ShowSessions {
        entries: Vec<(u32, String, u32, bool)>,
    },
    /// (true for the user, text).
    SessionOpened {
        title: String,
        history: Vec<(bool, String)>,
    },
}

/// What an edge answers an [`OutCall`] with.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OutReply {
    /// The call's boolean result (shown or not), or why it failed.
    pub result: Result<bool, String>,
}

pub fn status_kind_name(kind: StatusKind) -> &'static str {
    match kind {
        StatusKind::Typing => "typing",
        StatusKind::Thinking => "thinking",
        StatusKind::Idle => "idle",
    }
}

pub fn status_kind(name: &str) -> Option<StatusKind> {
    Some(match name {
        "typing" => StatusKind::Typing,
        "thinking" => StatusKind::Thinking,
        "idle" => StatusKind::Idle,
        _ => return None,
    })
}

pub fn settlement_name(how: Settlement) -> &'static str {
    match how {
        Settlement::Approved => "approved",
        Settlement::Allowed => "allowed",
        Settlement::Rejected => "rejected",
        Settlement::Expired => "expired",
        Settlement::Cancelled => "cancelled",
    }
}

pub fn settlement(name: &str) -> Option<Settlement> {
    Some(match name {
        "approved" => Settlement::Approved,
        "allowed" => Settlement::Allowed,
        "rejected" => Settlement::Rejected,
        "expired" => Settlement::Expired,
        "cancelled" => Settlement::Cancelled,
        _ => return None,
    })
}

impl Op {
    pub fn send(message: &Outbound) -> Op {
        Op::Send {
            text: message.text.clone(),
            attachments: attachments_in(&message.attachments),
            is_error: message.is_error,
        }
    }

    pub fn ask(request: &ApprovalRequest) -> Op {
        let r = request.clone();
        Op::AskApproval(WireApproval {
            id: r.id,
            tool: r.tool,
            arguments: r.arguments,
            folder: r.folder,
            requester: r.requester,
            timeout_secs: r.timeout_secs,
        })
    }

    pub fn offer(text: &str, buttons: &[Button]) -> Op {
        Op::Offer {
            text: text.to_string(),
            buttons: buttons
                .iter()
                .map(|b| (b.label.clone(), b.name.clone(), b.args.clone()))
                .collect(),
        }
    }

    pub fn show_sessions(entries: &[SessionEntry]) -> Op {
        Op::ShowSessions {
            entries: entries
                .iter()
                .map(|e| (e.number, e.title.clone(), e.messages, e.active))
                .collect(),
        }
    }

    pub fn session_opened(title: &str, history: &[HistoryEntry]) -> Op {
        Op::SessionOpened {
            title: title.to_string(),
            history: history
                .iter()
                .map(|h| (matches!(h.speaker, Speaker::User), h.text.clone()))
                .collect(),
        }
    }
}

/// The WIT values of a call, for the edge's channel.
pub fn outbound(
    conversation: &str,
    text: String,
    attachments: Vec<WireAttachment>,
    is_error: bool,
) -> Outbound {
    Outbound {
        conversation: conversation.to_string(),
        text,
        attachments: attachments_out(attachments),
        is_error,
    }
}

pub fn buttons(list: Vec<(String, String, String)>) -> Vec<Button> {
    list.into_iter()
        .map(|(label, name, args)| Button { label, name, args })
        .collect()
}

pub fn session_entries(list: Vec<(u32, String, u32, bool)>) -> Vec<SessionEntry> {
    list.into_iter()
        .map(|(number, title, messages, active)| SessionEntry {
            number,
            title,
            messages,
            active,
        })
        .collect()
}

pub fn history(list: Vec<(bool, String)>) -> Vec<HistoryEntry> {
    list.into_iter()
        .map(|(user, text)| HistoryEntry {
            speaker: if user {
                Speaker::User
            } else {
                Speaker::Assistant
            },
            text,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_envelope_carries_the_event_and_its_origin_whole() {
        let origin = Origin::channel("web");
        let event = Incoming {
            session: "web:c1".into(),
            sender: "c1".into(),
            text: "hello ✓".into(),
            attachments: vec![Attachment {
                mime: "image/png".into(),
                name: Some("a.png".into()),
                data: vec![0, 255, 7],
            }],
            command: Some(Command {
                name: "model".into(),
                args: "gpt".into(),
            }),
        };
        let limits = DeliveryLimits {
            max_message_length: Some(4096),
            typing: false,
            attachments: true,
        };
        let envelope = Envelope::new("e1".into(), "edge-a", &origin, &event, limits);
        let json = serde_json::to_vec(&envelope).unwrap();
        let back: Envelope = serde_json::from_slice(&json).unwrap();
        let (o, e) = back.into_event();
        assert_eq!(o.channel, "web");
        let via = o.via.unwrap();
        assert_eq!((via.edge.as_str(), via.event.as_str()), ("edge-a", "e1"));
        assert_eq!(via.limits, limits);
        assert_eq!((e.session.as_str(), e.text.as_str()), ("web:c1", "hello ✓"));
        assert_eq!(e.attachments[0].data, vec![0, 255, 7]);
        assert_eq!(e.command.unwrap().args, "gpt");
    }

    #[test]
    fn calls_round_trip_and_names_map_both_ways() {
        let call = OutCall {
            channel: "web".into(),
            event: Some("e1".into()),
            conversation: "c1".into(),
            op: Op::offer(
                "pick",
                &buttons(vec![("A".into(), "model".into(), "a".into())]),
            ),
        };
        let json = serde_json::to_string(&call).unwrap();
        assert!(json.contains("\"op\":\"offer\""), "{json}");
        assert_eq!(serde_json::from_str::<OutCall>(&json).unwrap(), call);
        for kind in [StatusKind::Typing, StatusKind::Thinking, StatusKind::Idle] {
            assert_eq!(status_kind(status_kind_name(kind)), Some(kind));
        }
        for how in [
            Settlement::Approved,
            Settlement::Allowed,
            Settlement::Rejected,
            Settlement::Expired,
            Settlement::Cancelled,
        ] {
            assert_eq!(settlement(settlement_name(how)), Some(how));
        }
        assert!(serde_json::from_str::<OutCall>("{\"channel\":\"web\"}").is_err());
    }
}
