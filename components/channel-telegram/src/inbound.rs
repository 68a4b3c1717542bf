//! What to do with an update: the access rules, the group filter and the
//! commands, decided without the host.
//!
//! - Access: a sender passes when listed in `allowed_users` or approved
//!   by pairing (the glue looks that up and passes `approved`). Nothing
//!   from anyone else reaches the agent: an unknown private sender gets a
//!   pairing code when pairing is on; unknown senders in groups, and
//!   everyone when pairing is off, are ignored. This holds for media and
//!   button presses too.
//! - Groups: only replies to the bot's messages and messages mentioning
//!   `@bot_username` pass; the mention is removed from the text.
//! - `/start` and `/status` are answered here; every other command
//!   (`/help`, `/clear`, `/model`...) becomes an event with its `command`
//!   set, for the host.
//! - A button press is always answered (so the client stops its spinner)
//!   and, for a permitted sender, becomes `[callback:DATA]`.

use crate::bot::BotIdentity;
use crate::commands::{self, Command};
use crate::config::Settings;
use crate::conversation::ChatRef;
use crate::media::Media;
use crate::mention;
use crate::update::{CallbackQuery, Message, Update};

/// What the decision needs besides the update.
pub struct Context<'a> {
    pub bot: &'a BotIdentity,
    pub settings: &'a Settings,
}

/// An event to hand to the agent, once its file (if any) is fetched.
#[derive(Clone, Debug, PartialEq)]
pub struct Draft {
    pub conversation: String,
    pub sender: String,
    /// The text or caption, mention removed.
    pub text: String,
    /// The command the text is, for the host.
    pub command: Option<openpista_sdk::Command>,
    /// The message's file, to download or describe.
    pub media: Option<Media>,
}

/// What the glue does with an update.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Nothing; the reason is logged at debug level.
    Ignore(String),
    /// Answer in `chat` with plain `text`; no event.
    Reply { chat: ChatRef, text: String },
    /// Give this unknown private user a pairing code, sent to `chat`; no
    /// event.
    Pair {
        chat: ChatRef,
        user_id: i64,
        username: Option<String>,
    },
    /// Hand an event to the agent.
    Forward(Draft),
}

/// The decision about one update.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// `answerCallbackQuery` this id first (button presses only).
    pub answer_callback: Option<String>,
    pub action: Action,
}

/// The user an update comes from, for the glue's approval look-up.
pub fn sender_id(update: &Update) -> Option<i64> {
    if let Some(m) = &update.message {
        return m.from.as_ref().map(|u| u.id);
    }
    update.callback_query.as_ref().map(|q| q.from.id)
}

/// Decides about `update`; `approved` says whether its sender was
/// approved by pairing.
pub fn decide(update: &Update, ctx: &Context, approved: bool) -> Decision {
    if let Some(message) = &update.message {
        return Decision {
            answer_callback: None,
            action: on_message(message, ctx, approved),
        };
    }
    if let Some(query) = &update.callback_query {
        return Decision {
            answer_callback: Some(query.id.clone()),
            action: on_callback(query, ctx, approved),
        };
    }
    Decision {
        answer_callback: None,
        action: Action::Ignore(format!("update {}: not a kind handled", update.update_id)),
    }
}

fn on_message(m: &Message, ctx: &Context, approved: bool) -> Action {
    let ignore =
        |why: &str| Action::Ignore(format!("message {} in {}: {why}", m.message_id, m.chat.id));
    let Some(from) = &m.from else {
        return ignore("no sender");
    };
    if from.is_bot {
        return ignore("sent by a bot");
    }
    if !m.chat.is_private() && !m.chat.is_group() {
        return ignore("not a private chat or a group");
    }
    let allowed = ctx.settings.is_allowed(from.id) || approved;
    let username = ctx.bot.username.as_str();
    let raw = m.text.as_deref().or(m.caption.as_deref()).unwrap_or("");
    if m.chat.is_group() {
        if !allowed {
            return ignore(&format!("unknown sender {} in a group", from.id));
        }
        let reply_to_bot = m
            .reply_to_message
            .as_ref()
            .and_then(|r| r.from.as_ref())
            .is_some_and(|u| u.id == ctx.bot.id);
        if !reply_to_bot && !mention::mentions(raw, username) {
            return ignore("not addressed to the bot");
        }
    }
    let text = mention::strip(raw, username);
    let command = if m.text.is_some() {
        commands::parse(&text, username)
    } else {
        None
    };
    let chat = m.chat_ref();
    if !allowed {
        if !ctx.settings.pairing {
            return ignore(&format!("unknown sender {} and pairing is off", from.id));
        }
        if command == Some(Command::Status) {
            let text = commands::status_text(ctx.bot, from.id, false);
            return Action::Reply { chat, text };
        }
        return Action::Pair {
            chat,
            user_id: from.id,
            username: from.username.clone(),
        };
    }
    let command = match command {
        Some(Command::Start) => {
            let text = commands::start_text(ctx.bot);
            return Action::Reply { chat, text };
        }
        Some(Command::Status) => {
            let text = commands::status_text(ctx.bot, from.id, true);
            return Action::Reply { chat, text };
        }
        Some(Command::Host(command)) => Some(command),
        None => None,
    };
    let media = Media::of(m);
    if text.is_empty() && media.is_none() {
        return ignore("nothing the agent can read (no text, caption or file)");
    }
    Action::Forward(Draft {
        conversation: chat.conversation(),
        sender: from.id.to_string(),
        text,
        command,
        media,
    })
}

fn on_callback(q: &CallbackQuery, ctx: &Context, approved: bool) -> Action {
    let ignore = |why: &str| Action::Ignore(format!("button press {}: {why}", q.id));
    if !(ctx.settings.is_allowed(q.from.id) || approved) {
        return ignore(&format!("unknown sender {}", q.from.id));
    }
    let Some(message) = &q.message else {
        return ignore("no message (inline mode)");
    };
    let Some(data) = &q.data else {
        return ignore("no callback data");
    };
    // An approval button answers the host's request with its command (the
    // host checks that the presser may answer it); a command button (from
    // `choices.offer`) is that command.
    let command = openpista_sdk::approval::parse_button(data)
        .or_else(|| openpista_sdk::command::parse_button(data));
    if let Some(command) = command {
        return Action::Forward(Draft {
            conversation: message.chat_ref().conversation(),
            sender: q.from.id.to_string(),
            text: format!("/{} {}", command.name, command.args),
            command: Some(command),
            media: None,
        });
    }
    Action::Forward(Draft {
        conversation: message.chat_ref().conversation(),
        sender: q.from.id.to_string(),
        text: format!("[callback:{data}]"),
        command: None,
        media: None,
    })
}

#[cfg(test)]
#[path = "inbound_tests.rs"]
mod tests;
