//! What to do with a message (`MESSAGE_CREATE`): the access rules, the
//! guild filter and commands, decided without the host.
//!
//! - Bots (the bot itself among them) and webhooks are never answered.
//! - Direct messages (no `guild_id`) always reach the rules below; in a
//!   guild channel only messages that mention the bot (in `mentions`, or
//!   `<@ID>` / `<@!ID>` in the text) or reply to one of its messages do,
//!   and the mention is removed from the text.
//! - Access: a sender passes when listed in `allowed_users` or approved by
//!   pairing (the glue looks that up and passes `approved`). An unknown
//!   sender of a direct message gets a pairing code when pairing is on;
//!   unknown senders in guilds, and everyone when pairing is off, get
//!   nothing.
//! - A text that is a command (`/new`) carries it for the host.

use openpista_sdk::{Command, command};

use crate::config::Settings;
use crate::conversation::Threads;
use crate::message::{Attachment, Message};

/// What the decision needs besides the message.
pub struct Context<'a> {
    /// The bot's user id.
    pub bot_id: &'a str,
    pub settings: &'a Settings,
    pub threads: &'a Threads,
}

/// An event to hand to the agent once its files are fetched.
#[derive(Clone, Debug, PartialEq)]
pub struct Draft {
    pub conversation: String,
    pub sender: String,
    /// The text, mention removed.
    pub text: String,
    pub command: Option<Command>,
    /// Files to download or describe.
    pub attachments: Vec<Attachment>,
}

/// What the glue does with a message.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Nothing; the reason is logged at debug level.
    Ignore(String),
    /// Send this unknown user a pairing code in `channel` (a DM).
    Pair {
        channel: String,
        user: String,
        name: String,
    },
    /// Hand an event to the agent.
    Forward(Draft),
}

/// Whether `m` is addressed to the bot `bot_id`: it mentions the bot or
/// replies to one of its messages.
pub fn addressed(m: &Message, bot_id: &str) -> bool {
    let mentioned = m.mentions.iter().any(|u| u.id == bot_id)
        || m.content.contains(&format!("<@{bot_id}>"))
        || m.content.contains(&format!("<@!{bot_id}>"));
    let reply = m
        .referenced_message
        .as_ref()
        .and_then(|r| r.author.as_ref())
        .is_some_and(|a| a.id == bot_id);
    mentioned || reply
}

/// `text` without mentions of `bot_id`, blanks tidied.
pub fn strip_mention(text: &str, bot_id: &str) -> String {
    let text = text
        .replace(&format!("<@!{bot_id}>"), " ")
        .replace(&format!("<@{bot_id}>"), " ");
    let lines: Vec<String> = text
        .lines()
        .map(|l| {
            l.split(' ')
                .filter(|w| !w.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    lines.join("\n").trim().to_string()
}

/// Decides about `m`; `approved` says whether its author was approved by
/// pairing.
pub fn decide(m: &Message, ctx: &Context, approved: bool) -> Action {
    let ignore = |why: &str| Action::Ignore(format!("message {} in {}: {why}", m.id, m.channel_id));
    if m.author.bot || m.author.id == ctx.bot_id || m.webhook_id.is_some() {
        return ignore("sent by a bot");
    }
    let in_guild = m.guild_id.is_some();
    if in_guild && !addressed(m, ctx.bot_id) {
        return ignore("not addressed to the bot");
    }
    let allowed = ctx.settings.is_allowed(&m.author.id) || approved;
    if !allowed {
        if in_guild {
            return ignore(&format!("unknown sender {} in a guild", m.author.id));
        }
        if !ctx.settings.pairing {
            return ignore(&format!(
                "unknown sender {} and pairing is off",
                m.author.id
            ));
        }
        return Action::Pair {
            channel: m.channel_id.clone(),
            user: m.author.id.clone(),
            name: m.author.display().to_string(),
        };
    }
    let text = strip_mention(&m.content, ctx.bot_id);
    if text.is_empty() && m.attachments.is_empty() {
        return ignore("nothing the agent can read");
    }
    Action::Forward(Draft {
        conversation: ctx.threads.conversation_of(&m.channel_id),
        sender: m.author.id.clone(),
        command: command::parse(&text, None),
        text,
        attachments: m.attachments.clone(),
    })
}

#[cfg(test)]
#[path = "inbound_tests.rs"]
mod tests;
