//! What to do with a message event, decided without the host.
//!
//! - Only `app_mention` (in channels) and `message` with `channel_type`
//!   `im` (direct messages) are read. A `message` in a channel is ignored
//!   even when it mentions the bot: Slack sends an `app_mention` for it as
//!   well, and one mention must give one answer.
//! - Messages by bots (`bot_id`), by the bot's own user, and with a
//!   `subtype` (`bot_message`, `message_changed`, `message_deleted`,
//!   `channel_join`…) are ignored; `file_share` is the one subtype read,
//!   since it is a person sending a file.
//! - Access: a sender passes when listed in `allowed_users` or approved by
//!   pairing (the glue looks that up and passes `approved`). An unknown
//!   sender of a direct message gets a pairing code when pairing is on.
//!   Unknown users who mention the bot in a channel get nothing (only a
//!   debug log): an answer there would tell the whole channel, and an
//!   ephemeral one costs a call per mention for no gain.
//! - `<@BOT>` is removed from the text. Commands: Slack's message box
//!   takes `/word` as one of Slack's own slash commands, so besides
//!   [`command::parse`] (which reads `/new` where Slack lets it through,
//!   as after a mention), `!new` is read as `/new`.

use openpista_sdk::{Command, command};

use crate::config::Settings;
use crate::conversation;
use crate::events::{Event, File};

/// An event to hand to the agent once its files are fetched.
#[derive(Clone, Debug, PartialEq)]
pub struct Draft {
    pub conversation: String,
    pub sender: String,
    pub text: String,
    pub command: Option<Command>,
    pub files: Vec<File>,
}

/// What the glue does with an event.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Nothing; the reason is logged at debug level.
    Ignore(String),
    /// Send this unknown user a pairing code in `channel` (their DM).
    Pair { channel: String, user: String },
    /// Hand an event to the agent.
    Forward(Draft),
}

/// `text` without mentions of `bot_user`, blanks tidied.
pub fn strip_mention(text: &str, bot_user: &str) -> String {
    let text = if bot_user.is_empty() {
        text.to_string()
    } else {
        // `<@U123>` and the older `<@U123|name>`.
        let mut out = String::new();
        let mut rest = text;
        let open = format!("<@{bot_user}");
        while let Some(at) = rest.find(&open) {
            let after = &rest[at + open.len()..];
            match after.find('>') {
                Some(end) if after.starts_with('>') || after.starts_with('|') => {
                    out.push_str(&rest[..at]);
                    out.push(' ');
                    rest = &after[end + 1..];
                }
                _ => {
                    out.push_str(&rest[..at + open.len()]);
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        out
    };
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

/// The command a text stands for: `/name args`, or `!name args`.
pub fn command_of(text: &str) -> Option<Command> {
    command::parse(text, None).or_else(|| {
        let rest = text.trim_start().strip_prefix('!')?;
        command::parse(&format!("/{rest}"), None)
    })
}

/// Whether `e` is a direct message.
pub fn is_dm(e: &Event) -> bool {
    e.channel_type.as_deref() == Some("im")
}

/// Decides about `e`; `bot_user` is the bot's user id, `approved` whether
/// the sender was approved by pairing.
pub fn decide(e: &Event, bot_user: &str, settings: &Settings, approved: bool) -> Action {
    let ignore = |why: &str| Action::Ignore(format!("{} {} in {}: {why}", e.kind, e.ts, e.channel));
    match e.kind.as_str() {
        "app_mention" => {}
        "message" if is_dm(e) => {}
        "message" => return ignore("a channel message (mentions come as app_mention)"),
        _ => return ignore("not a message"),
    }
    if e.bot_id.is_some() {
        return ignore("sent by a bot");
    }
    if let Some(sub) = e.subtype.as_deref().filter(|s| *s != "file_share") {
        return ignore(&format!("subtype {sub}"));
    }
    let Some(user) = e.user.as_deref().filter(|u| !u.is_empty()) else {
        return ignore("no user");
    };
    if user == bot_user {
        return ignore("the bot's own message");
    }
    if !(settings.is_allowed(user) || approved) {
        if !is_dm(e) {
            return ignore(&format!("unknown user {user} in a channel"));
        }
        if !settings.pairing {
            return ignore(&format!("unknown user {user} and pairing is off"));
        }
        return Action::Pair {
            channel: e.channel.clone(),
            user: user.to_string(),
        };
    }
    let text = strip_mention(&e.text, bot_user);
    if text.is_empty() && e.files.is_empty() {
        return ignore("nothing the agent can read");
    }
    let thread = match &e.thread_ts {
        Some(t) => Some(t.as_str()),
        None if is_dm(e) => None,
        None => Some(e.ts.as_str()),
    };
    Action::Forward(Draft {
        conversation: conversation::of(&e.channel, thread),
        sender: user.to_string(),
        command: command_of(&text),
        text,
        files: e.files.clone(),
    })
}

#[cfg(test)]
#[path = "inbound_tests.rs"]
mod tests;
