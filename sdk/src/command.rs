//! Slash commands in what a person typed, as every channel reads them.
//!
//! The host owns the commands (`/clear`, `/session`, `/model`, `/help`...),
//! their help text and the answer to an unknown one; a channel only says
//! that a message *is* a command, by setting
//! [`InboundEvent::command`](crate::InboundEvent), and answers itself just
//! the few that are its messenger's own (Telegram's `/start`). [`parse`] is
//! the one reading of "is a command" all channels share:
//!
//! - the text starts with `/` (leading whitespace aside), followed at once
//!   by a name: an ASCII letter, then ASCII letters, digits, `_` or `-`;
//! - the name may be followed by `@addressee` (Telegram's `/model@my_bot`).
//!   It is a command only when that addressee is the channel's own
//!   (compared without regard to ASCII case); addressed to anyone else (a
//!   second bot in a group), or in a channel without names, it is text;
//! - the name ends at whitespace or at the end of the text. Anything else
//!   right after it makes the whole text ordinary: `/etc/hosts is missing`,
//!   `/home/ann`, `/:-)` and `/` alone are a person writing, not a command;
//! - the name is given lower case, and the arguments are the rest of the
//!   text, trimmed (`/Model  gpt-5 mini ` → `model`, `gpt-5 mini`).
//!
//! Whether the host knows the name is not checked here: an unknown
//! command still travels as a command, so that the host can answer it with
//! the list.

use crate::Command;

/// The command in `text`, or `None` for ordinary text. `addressee` is the
/// name commands may be addressed to with `@` in this channel (a Telegram
/// bot's username, without `@`), or `None` where commands are never
/// addressed.
pub fn parse(text: &str, addressee: Option<&str>) -> Option<Command> {
    let rest = text.trim_start().strip_prefix('/')?;
    let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
    let (word, args) = rest.split_at(end);
    let name = match word.split_once('@') {
        None => word,
        Some((name, to)) => match addressee {
            Some(me) if !me.is_empty() && to.eq_ignore_ascii_case(me) => name,
            _ => return None,
        },
    };
    if !is_name(name) {
        return None;
    }
    Some(Command {
        name: name.to_ascii_lowercase(),
        args: args.trim().to_string(),
    })
}

/// A button's payload for `command`: `c:/NAME ARGS`, or `None` when it
/// would not fit the 64 bytes Telegram allows (a button whose payload is
/// cut would come back as a command nobody offered).
pub fn button_data(command: &Command) -> Option<String> {
    button_data_within(command, 64)
}

/// [`button_data`] for a messenger with another limit, in bytes (Discord's
/// `custom_id` takes 100 characters, Slack's `value` 2,000). `None` too
/// when the payload would not read back as the same command.
pub fn button_data_within(command: &Command, max_bytes: usize) -> Option<String> {
    let data = if command.args.is_empty() {
        format!("c:/{}", command.name)
    } else {
        format!("c:/{} {}", command.name, command.args)
    };
    let reads_back = parse_button(&data).as_ref() == Some(command);
    (data.len() <= max_bytes && is_name(&command.name) && reads_back).then_some(data)
}

/// The command a button's payload (from [`button_data`]) stands for.
pub fn parse_button(data: &str) -> Option<Command> {
    parse(data.strip_prefix("c:")?, None)
}

/// Whether `name` can be a command's name: an ASCII letter, then ASCII
/// letters, digits, `_` or `-`.
fn is_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_buttons_round_trip_within_64_bytes() {
        let c = Command {
            name: "model".into(),
            args: "gpt-4o-mini".into(),
        };
        let data = button_data(&c).unwrap();
        assert_eq!(data, "c:/model gpt-4o-mini");
        assert_eq!(parse_button(&data), Some(c));
        let long = Command {
            name: "model".into(),
            args: "x".repeat(60),
        };
        assert_eq!(button_data(&long), None);
        assert_eq!(
            button_data_within(&long, 100).as_deref(),
            Some(&*format!("c:/model {}", "x".repeat(60)))
        );
        // What would not read back as the same command is no button.
        let odd = Command {
            name: "model".into(),
            args: " padded ".into(),
        };
        assert_eq!(button_data_within(&odd, 100), None);
        assert_eq!(parse_button("/model x"), None, "not a command button");
        assert_eq!(parse_button("c:hello"), None);
    }

    fn command(name: &str, args: &str) -> Option<Command> {
        Some(Command {
            name: name.into(),
            args: args.into(),
        })
    }

    #[test]
    fn names_are_lower_case_and_arguments_trimmed() {
        assert_eq!(parse("/help", None), command("help", ""));
        assert_eq!(parse("  /HELP me ", None), command("help", "me"));
        assert_eq!(
            parse("/Model   gpt-5 mini \n", None),
            command("model", "gpt-5 mini")
        );
        assert_eq!(
            parse("/model\ngpt-5\nplease", None),
            command("model", "gpt-5\nplease")
        );
        assert_eq!(
            parse("/set_tz Europe/Paris", None),
            command("set_tz", "Europe/Paris")
        );
        assert_eq!(parse("/x-1", None), command("x-1", ""));
    }

    #[test]
    fn unknown_names_are_still_commands_for_the_host() {
        assert_eq!(parse("/models", None), command("models", ""));
        assert_eq!(parse("/frobnicate now", None), command("frobnicate", "now"));
    }

    #[test]
    fn paths_smileys_and_other_text_are_not_commands() {
        for text in [
            "hello /help",
            "",
            "/",
            "/ help",
            "/etc/hosts is missing",
            "/home/ann",
            "/:-)",
            "/2fa",
            "/_x",
            "/héllo",
            "//comment",
        ] {
            assert_eq!(parse(text, None), None, "{text:?}");
        }
    }

    #[test]
    fn an_addressee_must_be_this_channel() {
        let me = Some("pista_bot");
        assert_eq!(parse("/start@pista_bot", me), command("start", ""));
        assert_eq!(
            parse("/Model@Pista_Bot  gpt-5 ", me),
            command("model", "gpt-5")
        );
        assert_eq!(parse("/start@other_bot", me), None);
        assert_eq!(parse("/start@pista_bot2", me), None);
        assert_eq!(parse("/start@", me), None);
        assert_eq!(parse("/@pista_bot", me), None);
        assert_eq!(parse("/start@pista_bot", None), None, "no names here");
        assert_eq!(parse("/start@", Some("")), None);
        // Without an addressee the name alone is enough, in every channel.
        assert_eq!(parse("/start", me), command("start", ""));
    }
}
