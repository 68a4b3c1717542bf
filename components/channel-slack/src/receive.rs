//! Carrying out what Slack sends, over either transport: event callbacks
//! ([`inbound::decide`], pairing codes, file downloads), button presses
//! and slash commands. Failures to answer Slack are logged; only what the
//! host must know becomes an error.

use openpista_sdk::{Attachment, InboundEvent, host, pairing};
use serde_json::{Value, json};

use crate::api::{Api, Body};
use crate::config::Settings;
use crate::events::{self, Callback};
use crate::files::{self, Plan, Skip};
use crate::inbound::{self, Action, Draft};
use crate::interactive::{self, Slash};
use crate::state;

/// The channel's id for the host, in pairing instructions.
const CHANNEL_ID: &str = "slack";

fn approved(settings: &Settings, user: &str) -> bool {
    settings.is_allowed(user)
        || pairing::is_approved(user).unwrap_or_else(|e| {
            host::warn(&format!("slack: cannot read pairing approvals: {e}"));
            false
        })
}

/// The events of an `event_callback` (already verified); a repeat of an
/// event seen gives none.
pub fn callback(api: &Api, settings: &Settings, cb: Callback) -> Vec<InboundEvent> {
    let Callback::Event { event_id, event } = cb else {
        return Vec::new();
    };
    if !state::first_time(&event_id, host::now_ms()) {
        host::debug(&format!("slack: event {event_id} again (a retry); skipped"));
        return Vec::new();
    }
    let bot_user = state::bot().map(|b| b.user_id).unwrap_or_default();
    let user = event.user.clone().unwrap_or_default();
    let ok = !user.is_empty() && approved(settings, &user);
    match inbound::decide(&event, &bot_user, settings, ok) {
        Action::Ignore(why) => {
            host::debug(&format!("slack: ignored {why}"));
            Vec::new()
        }
        Action::Pair { channel, user } => {
            match pairing::code_for(&user, None) {
                Ok(code) => {
                    host::info(&format!(
                        "slack: user {user} asked for access; pairing code {code}"
                    ));
                    let text = pairing::ask_owner(CHANNEL_ID, &code);
                    let body = json!({"channel": channel, "text": text});
                    if let Err(e) = api.call("chat.postMessage", Body::Json(&body)) {
                        host::warn(&format!("{e}"));
                    }
                }
                Err(e) => host::warn(&format!("slack: no pairing code: {e}")),
            }
            Vec::new()
        }
        Action::Forward(draft) => vec![event_of(api, settings, draft)],
    }
}

/// The event of a draft, its files attached or described.
fn event_of(api: &Api, settings: &Settings, draft: Draft) -> InboundEvent {
    let mut attachments = Vec::new();
    let mut notes = Vec::new();
    let max = settings.max_file_bytes;
    for plan in files::plan(&draft.files, max, settings.max_total_file_bytes()) {
        match plan {
            Plan::Describe(f, why) => notes.push(files::describe(&f, why)),
            Plan::Fetch(f) => match api.download(f.url().unwrap_or_default()) {
                Ok(data) if data.len() as u64 <= max => attachments.push(
                    Attachment::new(files::mime(&f), data).with_name(f.display_name().to_string()),
                ),
                Ok(_) => notes.push(files::describe(&f, Skip::TooLarge)),
                Err(e) => {
                    host::warn(&format!("slack: cannot download {}: {e}", f.display_name()));
                    notes.push(files::describe(&f, Skip::Failed));
                }
            },
        }
    }
    InboundEvent {
        conversation: draft.conversation,
        sender: draft.sender,
        text: files::compose(&notes, &draft.text),
        attachments,
        command: draft.command,
    }
}

/// The events of a `block_actions` payload from allowed users.
pub fn presses(settings: &Settings, payload: &Value) -> Vec<InboundEvent> {
    interactive::presses(payload)
        .into_iter()
        .filter(|p| {
            let ok = approved(settings, &p.user);
            if !ok {
                host::info(&format!(
                    "slack: ignored a button press by unknown user {}",
                    p.user
                ));
            }
            ok
        })
        .map(|p| {
            let text = format!("/{} {}", p.command.name, p.command.args)
                .trim_end()
                .to_string();
            InboundEvent::new(p.conversation, p.user, text).with_command(Some(p.command))
        })
        .collect()
}

/// The event of a slash command from an allowed user. A slash command
/// belongs to no message, so it has no thread: its conversation is the
/// channel (`CHANNEL`), and the answer goes to the channel itself.
pub fn slash(settings: &Settings, s: &Slash) -> Vec<InboundEvent> {
    if !approved(settings, &s.user) {
        host::info(&format!(
            "slack: ignored {} by unknown user {}",
            s.name, s.user
        ));
        return Vec::new();
    }
    let Some(command) = s.command() else {
        return Vec::new();
    };
    let text = format!("/{} {}", command.name, command.args)
        .trim_end()
        .to_string();
    vec![InboundEvent::new(s.channel.clone(), s.user.clone(), text).with_command(Some(command))]
}

/// A Socket Mode envelope's payload.
pub fn envelope(api: &Api, settings: &Settings, kind: &str, payload: &Value) -> Vec<InboundEvent> {
    match kind {
        "events_api" => match events::parse_value(payload) {
            Ok(cb) => callback(api, settings, cb),
            Err(why) => {
                host::warn(&format!("slack: skipping an event: {why}"));
                Vec::new()
            }
        },
        "interactive" => presses(settings, payload),
        "slash_commands" => {
            let get = |k: &str| payload.get(k).and_then(Value::as_str).map(str::to_string);
            interactive::slash(get)
                .map(|s| slash(settings, &s))
                .unwrap_or_default()
        }
        _ => Vec::new(),
    }
}
