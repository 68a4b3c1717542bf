//! What to do with an incoming `message` event: ignore it, answer it
//! here with a pairing code, or hand it to the agent. Decided from the
//! event, the settings and whether the sender was approved, without
//! calling the host; [`event`] then builds the agent's event, attaching
//! or describing the file. Slash commands are all the host's (`/help`
//! included): they go on with the event's `command` set.

use openpista_sdk::{InboundEvent, command, pairing};

use crate::config::Settings;
use crate::event::{Incoming, Media};
use crate::jid;
use crate::media::{self, Outcome};

/// The decision about one message.
#[derive(Clone, Debug, PartialEq)]
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
    /// Pass it to the agent.
    Forward(Draft),
}

/// An event for the agent, before its file is attached or described.
#[derive(Clone, Debug, PartialEq)]
pub struct Draft {
    /// The sender's JID, which answers go back to.
    pub conversation: String,
    pub sender: String,
    pub text: String,
    /// The command the text is, for the host.
    pub command: Option<openpista_sdk::Command>,
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
    if m.text.trim().is_empty() && m.media.is_none() {
        return Action::Ignore(format!(
            "a message from {} with neither text nor file",
            m.sender
        ));
    }
    Action::Forward(Draft {
        conversation: m.sender.clone(),
        sender: m.sender.clone(),
        text: m.text.clone(),
        command: command::parse(&m.text, None),
        media: m.media.clone(),
    })
}

/// The reply to an unknown sender who was given `code`.
pub fn pairing_text(code: &str) -> String {
    format!(
        "This assistant is private. {}",
        pairing::ask_owner(jid::CHANNEL, code)
    )
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
        conversation: draft.conversation,
        sender: draft.sender,
        text: media::compose(description.as_deref(), &draft.text),
        attachments,
        command: draft.command,
    }
}

#[cfg(test)]
#[path = "inbound_tests.rs"]
mod tests;
