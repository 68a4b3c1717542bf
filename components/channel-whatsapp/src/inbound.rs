//! What to do with an incoming `message` event: ignore it, answer it
//! here (a pairing code, `/help`), or hand it to the agent. Decided from
//! the event, the settings and whether the sender was approved, without
//! calling the host; [`event`] then builds the agent's event, attaching
//! or describing the file.

use openpista_sdk::InboundEvent;

use crate::commands::{self, Command};
use crate::config::Settings;
use crate::event::{Incoming, Media};
use crate::jid;
use crate::media::{self, Outcome};

/// The decision about one message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Nothing reaches the agent; the reason is for the debug log.
    Ignore(String),
    /// An unknown sender and pairing is on: give `user_id` a code, sent
    /// to `chat`.
    Pair {
        chat: String,
        user_id: String,
        username: Option<String>,
    },
    /// Answer in `chat` with `text`, and pass nothing on.
    Reply { chat: String, text: String },
    /// Pass it to the agent.
    Forward(Draft),
}

/// An event for the agent, before its file is attached or described.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Draft {
    pub session: String,
    pub sender: String,
    pub text: String,
    pub metadata: Vec<(String, String)>,
    pub media: Option<Media>,
}

/// Decides about `m`; `approved` says whether memory holds
/// `pairing/approved/` for its sender or sender LID.
pub fn decide(m: &Incoming, settings: &Settings, approved: bool) -> Action {
    if m.is_group {
        return Action::Ignore(format!(
            "a group message in {} from {} (groups are not served)",
            m.chat, m.sender
        ));
    }
    let allowed = approved
        || settings
            .allowed_users
            .allows(&m.sender, m.sender_lid.as_deref());
    if !allowed {
        if !settings.pairing {
            return Action::Ignore(format!("a message from unknown sender {}", m.sender));
        }
        return Action::Pair {
            chat: m.chat.clone(),
            user_id: m.sender.clone(),
            username: m.push_name.clone(),
        };
    }
    let mut metadata = metadata(m);
    match commands::parse(&m.text) {
        Some(Command::Help) => {
            return Action::Reply {
                chat: m.chat.clone(),
                text: commands::help_text(),
            };
        }
        Some(Command::Forward { name, args }) => {
            metadata.push(("command".into(), name.into()));
            metadata.push(("args".into(), args.into()));
        }
        None => {}
    }
    if m.text.trim().is_empty() && m.media.is_none() {
        return Action::Ignore(format!(
            "a message from {} with neither text nor file",
            m.sender
        ));
    }
    Action::Forward(Draft {
        session: jid::session(&m.sender),
        sender: m.sender.clone(),
        text: m.text.clone(),
        metadata,
        media: m.media.clone(),
    })
}

/// The metadata every forwarded event carries.
fn metadata(m: &Incoming) -> Vec<(String, String)> {
    let mut out = vec![("chat".to_string(), m.chat.clone())];
    if let Some(id) = &m.id {
        out.push(("message_id".into(), id.clone()));
    }
    out.push(("sender".into(), m.sender.clone()));
    if let Some(name) = &m.push_name {
        out.push(("push_name".into(), name.clone()));
    }
    out
}

/// The agent's event for `draft`, its file attached when it fits in
/// `max_media_bytes`, else described before the text.
pub fn event(draft: Draft, max_media_bytes: u64) -> InboundEvent {
    let mut attachments = Vec::new();
    let description = match draft
        .media
        .as_ref()
        .map(|m| media::decide(m, max_media_bytes))
    {
        None => None,
        Some(Outcome::Attach(a)) => {
            attachments.push(a);
            None
        }
        Some(Outcome::Describe(d)) => Some(d),
    };
    InboundEvent {
        session: draft.session,
        sender: draft.sender,
        text: media::compose(description.as_deref(), &draft.text),
        attachments,
        metadata: draft.metadata,
    }
}

#[cfg(test)]
#[path = "inbound_tests.rs"]
mod tests;
