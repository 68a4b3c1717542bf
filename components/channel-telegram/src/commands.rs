//! Slash commands: the few Telegram's own, and the texts the channel
//! answers with itself.
//!
//! A text is a command as `openpista_sdk::command` reads it, addressed to
//! this bot or to nobody (`/cmd@other_bot` is text). `/start` (Telegram's
//! greeting when a chat opens) and `/status` (who the bot is, and whether
//! the sender may use it) are answered here; every other command, `/help`
//! included, goes to the host, which owns the commands and their help.
//! Nothing here calls the host.

use openpista_sdk::pairing;
use serde_json::{Value, json};

use crate::bot::BotIdentity;
use crate::conversation::CHANNEL;

/// The menu registered with `setMyCommands`: (command, description).
/// `/help`, `/stop`, `/new`, `/sessions` and `/model` are the host's;
/// they are in the menu so that people find them.
pub const MENU: [(&str, &str); 7] = [
    ("start", "Start talking to the assistant"),
    ("help", "The assistant's commands"),
    ("stop", "Stop what the assistant is doing"),
    ("new", "Start a new conversation"),
    ("sessions", "List and switch conversations"),
    ("model", "Show or choose the model"),
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

/// What a text means to the channel.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// Answer with [`start_text`].
    Start,
    /// Answer with [`status_text`].
    Status,
    /// A command for the host.
    Host(openpista_sdk::Command),
}

/// The command in `text` (a message's text, mention removed), or `None`
/// for ordinary text; `bot_username` is this bot's, without `@`.
pub fn parse(text: &str, bot_username: &str) -> Option<Command> {
    let command = openpista_sdk::command::parse(text, Some(bot_username))?;
    Some(match command.name.as_str() {
        "start" => Command::Start,
        "status" => Command::Status,
        _ => Command::Host(command),
    })
}

/// The greeting for `/start`.
pub fn start_text(bot: &BotIdentity) -> String {
    format!(
        "Hello! I am {}, an openpista assistant. Write to me and I will answer; \
         send /help to see what I can do.",
        display_name(bot)
    )
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

/// The reply to an unknown private user who was given `code`.
pub fn pairing_text(code: &str) -> String {
    format!("This bot is private. {}", pairing::ask_owner(CHANNEL, code))
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

    fn host(name: &str, args: &str) -> Option<Command> {
        Some(Command::Host(openpista_sdk::Command {
            name: name.into(),
            args: args.into(),
        }))
    }

    #[test]
    fn telegrams_own_commands() {
        assert_eq!(parse("/start", BOT), Some(Command::Start));
        assert_eq!(parse("  /STATUS please", BOT), Some(Command::Status));
        assert_eq!(parse("/start@Pista_Bot", BOT), Some(Command::Start));
    }

    #[test]
    fn every_other_command_is_the_hosts() {
        assert_eq!(parse("/help", BOT), host("help", ""));
        assert_eq!(parse("/clear", BOT), host("clear", ""));
        assert_eq!(
            parse("/Model@pista_bot  gpt-5 mini ", BOT),
            host("model", "gpt-5 mini")
        );
        assert_eq!(parse("/models", BOT), host("models", ""));
    }

    #[test]
    fn other_bots_and_paths_are_text() {
        assert_eq!(parse("/start@other_bot", BOT), None);
        assert_eq!(parse("/etc/hosts is missing", BOT), None);
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
        let yes = status_text(&bot, 42, true);
        assert!(yes.contains("@pista_bot") && yes.contains("123") && yes.contains("42"));
        assert!(yes.contains("are allowed"));
        assert!(status_text(&bot, 42, false).contains("not allowed"));
        assert_eq!(
            pairing_text("ABCD2345"),
            "This bot is private. Your pairing code is ABCD2345. Ask the owner to run: \
             openpista pairing approve telegram ABCD2345"
        );
        for (name, _) in MENU {
            assert!(parse(&format!("/{name}"), BOT).is_some());
        }
        let menu = menu_body();
        let names: Vec<&str> = menu["commands"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["command"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "start", "help", "stop", "new", "sessions", "model", "status"
            ]
        );
        assert!(
            menu["commands"]
                .as_array()
                .unwrap()
                .iter()
                .all(|c| !c["description"].as_str().unwrap().is_empty())
        );
    }
}
