//! Slash commands.
//!
//! `/start`, `/help` and `/status` are answered by the component; the
//! gateway runs `/clear`, `/session` and `/model`, so those travel on as
//! events with `command` and `args` metadata (channel-web's convention).
//! `/cmd@bot_username` is the same command; a command addressed to another
//! bot, or a name that is no command here (`/etc/hosts`...), is ordinary
//! text. Nothing here calls the host.

use serde_json::{Value, json};

use crate::bot::BotIdentity;

/// The commands the gateway runs, as the names in the `command` metadata.
pub const FORWARDED: [&str; 3] = ["clear", "session", "model"];

/// The menu registered with `setMyCommands`: (command, description).
pub const MENU: [(&str, &str); 3] = [
    ("start", "Start talking to the assistant"),
    ("help", "What this bot does and its commands"),
    ("status", "The bot's identity and whether you may use it"),
];

/// The `setMyCommands` body for [`MENU`].
pub fn menu_body() -> Value {
    let commands: Vec<Value> = MENU
        .iter()
        .map(|(command, description)| json!({ "command": command, "description": description }))
        .collect();
    json!({ "commands": commands })
}

/// A command of this channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command<'a> {
    /// Answer with [`start_text`].
    Start,
    /// Answer with [`help_text`].
    Help,
    /// Answer with [`status_text`].
    Status,
    /// For the gateway: `name` is one of [`FORWARDED`], lower case;
    /// `args` is the rest of the text, trimmed.
    Forward {
        /// The command's name.
        name: &'static str,
        /// What followed it.
        args: &'a str,
    },
}

/// The command in `text`, or `None` for ordinary text.
pub fn parse<'a>(text: &'a str, bot_username: &str) -> Option<Command<'a>> {
    let rest = text.trim_start().strip_prefix('/')?;
    let (word, args) = match rest.find(char::is_whitespace) {
        Some(i) => (&rest[..i], rest[i..].trim()),
        None => (rest, ""),
    };
    let name = match word.split_once('@') {
        Some((name, to)) if to.eq_ignore_ascii_case(bot_username) => name,
        Some(_) => return None,
        None => word,
    };
    let name = name.to_ascii_lowercase();
    match name.as_str() {
        "start" => Some(Command::Start),
        "help" => Some(Command::Help),
        "status" => Some(Command::Status),
        _ => FORWARDED
            .iter()
            .find(|c| **c == name)
            .map(|name| Command::Forward { name, args }),
    }
}

/// The greeting for `/start`.
pub fn start_text(bot: &BotIdentity) -> String {
    format!(
        "Hello! I am {}, an openpista assistant. Write to me and I will answer; \
         send /help to see what I can do.",
        display_name(bot)
    )
}

/// What the bot does and its commands, for `/help`.
pub fn help_text() -> String {
    "I am an AI assistant run by openpista. Send me a message, a photo, a \
     document or a voice note and I will answer here.\n\n\
     Commands:\n\
     /start: greeting\n\
     /help: this text\n\
     /status: who I am and whether you may use me\n\
     /clear: forget this conversation and start afresh\n\
     /session: show this conversation's id and size\n\
     /model [NAME]: show the model, or use NAME for this conversation\n\n\
     In groups, mention me or reply to my messages."
        .to_string()
}

/// The answer to `/status`: the bot from the cached `getMe`, and whether
/// `user_id` may talk to it.
pub fn status_text(bot: &BotIdentity, user_id: i64, allowed: bool) -> String {
    let access = if allowed {
        "You are allowed to talk to me."
    } else {
        "You are not allowed to talk to me yet; send me a message to get a pairing code."
    };
    format!(
        "I am @{} (id {}).\nYour user id is {user_id}. {access}",
        bot.username, bot.id
    )
}

fn display_name(bot: &BotIdentity) -> &str {
    if bot.first_name.is_empty() {
        &bot.username
    } else {
        &bot.first_name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOT: &str = "pista_bot";

    #[test]
    fn local_commands() {
        assert_eq!(parse("/start", BOT), Some(Command::Start));
        assert_eq!(parse("  /HELP please", BOT), Some(Command::Help));
        assert_eq!(parse("/status", BOT), Some(Command::Status));
        assert_eq!(parse("/start@Pista_Bot", BOT), Some(Command::Start));
    }

    #[test]
    fn forwarded_commands_keep_their_arguments() {
        assert_eq!(
            parse("/clear", BOT),
            Some(Command::Forward {
                name: "clear",
                args: ""
            })
        );
        assert_eq!(
            parse("/Model@pista_bot  gpt-5 mini ", BOT),
            Some(Command::Forward {
                name: "model",
                args: "gpt-5 mini"
            })
        );
        assert_eq!(
            parse("/session", BOT),
            Some(Command::Forward {
                name: "session",
                args: ""
            })
        );
    }

    #[test]
    fn other_bots_and_unknown_names_are_text() {
        assert_eq!(parse("/start@other_bot", BOT), None);
        assert_eq!(parse("/etc/hosts is missing", BOT), None);
        assert_eq!(parse("/models", BOT), None);
        assert_eq!(parse("hello /help", BOT), None);
        assert_eq!(parse("/", BOT), None);
    }

    #[test]
    fn texts_say_what_they_must() {
        let bot = BotIdentity {
            id: 123,
            username: BOT.into(),
            first_name: "Pista".into(),
        };
        assert!(start_text(&bot).contains("Pista"));
        let help = help_text();
        for c in ["/start", "/help", "/status", "/clear", "/session", "/model"] {
            assert!(help.contains(c), "{c} missing");
        }
        let yes = status_text(&bot, 42, true);
        assert!(yes.contains("@pista_bot") && yes.contains("123") && yes.contains("42"));
        assert!(yes.contains("are allowed"));
        assert!(status_text(&bot, 42, false).contains("not allowed"));
        for (name, _) in MENU {
            assert!(parse(&format!("/{name}"), BOT).is_some());
        }
        let menu = menu_body();
        assert_eq!(menu["commands"].as_array().unwrap().len(), 3);
        assert_eq!(menu["commands"][2]["command"], "status");
    }
}
