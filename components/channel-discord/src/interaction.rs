//! Interactions (`INTERACTION_CREATE`): slash commands (type 2) and
//! button presses (type 3), read into what the glue needs, and the way an
//! answer reaches a slash command's conversation.
//!
//! Discord wants every interaction answered within 3 s. A button press is
//! answered at once with a deferred update (callback type 6). A slash
//! command is [`Pending`] for its conversation: the first `send` within
//! [`FRESH_MS`] answers it with a message (callback type 4); one that is
//! still unanswered after [`DEFER_AFTER_MS`] is deferred (callback type 5),
//! and the first `send` after that edits the deferred message (`PATCH
//! …/messages/@original`), later ones follow up (`POST /webhooks/…`).
//! Interaction tokens last [`TOKEN_LIFE_MS`]; after that, answers go to the
//! channel as ordinary messages.

use openpista_sdk::Command;
use serde_json::Value;

use crate::message::User;

/// A slash command may still be answered directly this long after it came.
pub const FRESH_MS: u64 = 2_000;
/// An unanswered slash command is deferred this long after it came.
pub const DEFER_AFTER_MS: u64 = 1_500;
/// How long an interaction token can be used.
pub const TOKEN_LIFE_MS: u64 = 15 * 60 * 1000;

/// Interaction types.
pub const APPLICATION_COMMAND: u64 = 2;
pub const MESSAGE_COMPONENT: u64 = 3;

/// Callback types.
pub const CHANNEL_MESSAGE: u64 = 4;
pub const DEFERRED_CHANNEL_MESSAGE: u64 = 5;
pub const DEFERRED_UPDATE_MESSAGE: u64 = 6;
/// Message flag: only the user who acted sees it.
pub const EPHEMERAL: u64 = 1 << 6;

/// What this channel reads of an interaction.
#[derive(Clone, Debug, PartialEq)]
pub struct Interaction {
    pub id: String,
    pub token: String,
    pub application_id: String,
    pub kind: u64,
    pub channel_id: String,
    pub guild_id: Option<String>,
    /// Who acted (`member.user` in guilds, `user` in DMs).
    pub user: User,
    /// A slash command's name.
    pub name: Option<String>,
    /// A slash command's option values, in order.
    pub options: Vec<(String, String)>,
    /// A button's `custom_id`.
    pub custom_id: Option<String>,
    /// The id of the message a button is on.
    pub message_id: Option<String>,
}

/// Reads `INTERACTION_CREATE`'s `d`.
pub fn parse(d: &Value) -> Result<Interaction, String> {
    let text = |p: &str| d.pointer(p).and_then(Value::as_str).map(str::to_string);
    let user = d
        .pointer("/member/user")
        .or_else(|| d.get("user"))
        .cloned()
        .ok_or("an interaction without a user")?;
    let user: User = serde_json::from_value(user).map_err(|e| format!("interaction user: {e}"))?;
    let options = d
        .pointer("/data/options")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|o| {
                    let name = o.get("name")?.as_str()?.to_string();
                    let value = match o.get("value")? {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    Some((name, value))
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Interaction {
        id: text("/id").ok_or("an interaction without an id")?,
        token: text("/token").ok_or("an interaction without a token")?,
        application_id: text("/application_id").unwrap_or_default(),
        kind: d.get("type").and_then(Value::as_u64).unwrap_or(0),
        channel_id: text("/channel_id")
            .or_else(|| text("/channel/id"))
            .ok_or("an interaction without a channel")?,
        guild_id: text("/guild_id"),
        user,
        name: text("/data/name"),
        options,
        custom_id: text("/data/custom_id"),
        message_id: text("/message/id"),
    })
}

/// What a slash command becomes: the text of the event and the host
/// command it carries. `ask` is a question for the agent, not a command.
pub fn slash_event(name: &str, options: &[(String, String)]) -> (String, Option<Command>) {
    let args: Vec<&str> = options
        .iter()
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
        .collect();
    let args = args.join(" ");
    if name == "ask" {
        return (args, None);
    }
    let text = if args.is_empty() {
        format!("/{name}")
    } else {
        format!("/{name} {args}")
    };
    let command = Command {
        name: name.to_ascii_lowercase(),
        args,
    };
    (text, Some(command))
}

/// A slash command waiting for its answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pending {
    pub id: String,
    pub token: String,
    pub application_id: String,
    pub received_ms: u64,
    /// Answered with callback type 5.
    pub deferred: bool,
    /// The first answer went (callback type 4, or the `@original` edit).
    pub answered: bool,
}

impl Pending {
    pub fn new(i: &Interaction, now_ms: u64) -> Self {
        Pending {
            id: i.id.clone(),
            token: i.token.clone(),
            application_id: i.application_id.clone(),
            received_ms: now_ms,
            deferred: false,
            answered: false,
        }
    }

    /// Whether the token can no longer be used.
    pub fn expired(&self, now_ms: u64) -> bool {
        now_ms.saturating_sub(self.received_ms) >= TOKEN_LIFE_MS
    }

    /// Whether tick should defer it now.
    pub fn needs_deferral(&self, now_ms: u64) -> bool {
        !self.deferred
            && !self.answered
            && now_ms.saturating_sub(self.received_ms) >= DEFER_AFTER_MS
    }
}

/// How one answer reaches the conversation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// `POST /interactions/{id}/{token}/callback` with type 4.
    Callback { id: String, token: String },
    /// `PATCH /webhooks/{app}/{token}/messages/@original`.
    EditOriginal { app: String, token: String },
    /// `POST /webhooks/{app}/{token}`.
    Followup { app: String, token: String },
    /// `POST /channels/{id}/messages`.
    Channel,
}

/// The route of the next answer, and the pending interaction as it will
/// be after it (`None`: forget it).
pub fn route(pending: Option<&Pending>, now_ms: u64) -> (Route, Option<Pending>) {
    let Some(p) = pending.filter(|p| !p.expired(now_ms)) else {
        return (Route::Channel, None);
    };
    let mut next = p.clone();
    next.answered = true;
    let age = now_ms.saturating_sub(p.received_ms);
    let route = match (p.deferred, p.answered) {
        (false, false) if age < FRESH_MS => Route::Callback {
            id: p.id.clone(),
            token: p.token.clone(),
        },
        // Too late to answer, never deferred: the token is of no use.
        (false, false) => return (Route::Channel, None),
        (true, false) => Route::EditOriginal {
            app: p.application_id.clone(),
            token: p.token.clone(),
        },
        (_, true) => Route::Followup {
            app: p.application_id.clone(),
            token: p.token.clone(),
        },
    };
    (route, Some(next))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn slash() -> Value {
        json!({
            "id": "111", "token": "tok", "application_id": "555", "type": 2,
            "channel_id": "500", "guild_id": "1",
            "member": {"user": {"id": "7", "username": "ann"}},
            "data": {"id": "c1", "name": "model", "type": 1,
                     "options": [{"name": "name", "type": 3, "value": "gpt-5"}]}
        })
    }

    #[test]
    fn slash_commands_read_in_guilds_and_dms() {
        let i = parse(&slash()).unwrap();
        assert_eq!((i.id.as_str(), i.token.as_str(), i.kind), ("111", "tok", 2));
        assert_eq!(
            (i.user.id.as_str(), i.name.as_deref()),
            ("7", Some("model"))
        );
        assert_eq!(i.options, vec![("name".to_string(), "gpt-5".to_string())]);
        let mut dm = slash();
        dm.as_object_mut().unwrap().remove("member");
        dm["user"] = json!({"id": "8", "username": "bob"});
        assert_eq!(parse(&dm).unwrap().user.id, "8");
        dm.as_object_mut().unwrap().remove("user");
        assert!(parse(&dm).is_err());
    }

    #[test]
    fn button_presses_carry_their_custom_id() {
        let d = json!({
            "id": "2", "token": "t", "application_id": "555", "type": 3, "channel_id": "500",
            "user": {"id": "7", "username": "ann"}, "message": {"id": "900"},
            "data": {"custom_id": "ap:abc:a", "component_type": 2}
        });
        let i = parse(&d).unwrap();
        assert_eq!(i.kind, MESSAGE_COMPONENT);
        assert_eq!(i.custom_id.as_deref(), Some("ap:abc:a"));
        assert_eq!(i.message_id.as_deref(), Some("900"));
    }

    #[test]
    fn slash_commands_become_host_commands_but_ask_is_text() {
        let (text, c) = slash_event("model", &[("name".into(), "gpt-5".into())]);
        assert_eq!(text, "/model gpt-5");
        let c = c.unwrap();
        assert_eq!((c.name.as_str(), c.args.as_str()), ("model", "gpt-5"));
        let (text, c) = slash_event("new", &[]);
        assert_eq!((text.as_str(), c.unwrap().args.as_str()), ("/new", ""));
        let (text, c) = slash_event("ask", &[("text".into(), " why is the sky blue? ".into())]);
        assert_eq!((text.as_str(), c), ("why is the sky blue?", None));
    }

    fn pending(received: u64) -> Pending {
        Pending::new(&parse(&slash()).unwrap(), received)
    }

    #[test]
    fn a_fresh_command_is_answered_with_a_message_then_followups() {
        let p = pending(1_000);
        let (r, next) = route(Some(&p), 2_500);
        assert_eq!(
            r,
            Route::Callback {
                id: "111".into(),
                token: "tok".into()
            }
        );
        let next = next.unwrap();
        assert!(next.answered);
        let (r, _) = route(Some(&next), 3_000);
        assert_eq!(
            r,
            Route::Followup {
                app: "555".into(),
                token: "tok".into()
            }
        );
    }

    #[test]
    fn a_slow_answer_is_deferred_then_edits_the_original() {
        let mut p = pending(1_000);
        assert!(!p.needs_deferral(2_499));
        assert!(p.needs_deferral(2_500));
        p.deferred = true;
        assert!(!p.needs_deferral(3_000));
        let (r, next) = route(Some(&p), 30_000);
        assert_eq!(
            r,
            Route::EditOriginal {
                app: "555".into(),
                token: "tok".into()
            }
        );
        let (r, _) = route(next.as_ref(), 31_000);
        assert!(matches!(r, Route::Followup { .. }));
    }

    #[test]
    fn stale_or_missing_interactions_go_to_the_channel() {
        assert_eq!(route(None, 0), (Route::Channel, None));
        // Never deferred and too old to answer.
        assert_eq!(route(Some(&pending(0)), FRESH_MS), (Route::Channel, None));
        // Deferred but the token has expired.
        let mut p = pending(0);
        p.deferred = true;
        assert!(p.expired(TOKEN_LIFE_MS));
        assert_eq!(route(Some(&p), TOKEN_LIFE_MS), (Route::Channel, None));
    }
}
