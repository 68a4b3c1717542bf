//! Slash commands typed in a WhatsApp chat.
//!
//! `/help` is answered by the component; the gateway runs `/clear`,
//! `/session` and `/model`, so those travel on as events with `command`
//! and `args` metadata (channel-web's convention). Any other text starting
//! with `/` is an ordinary message, as in channel-telegram: people write
//! paths and smileys too. Nothing here calls the host.

/// The commands the gateway runs, as the names in the `command` metadata.
pub const FORWARDED: [&str; 3] = ["clear", "session", "model"];

/// A command of this channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command<'a> {
    /// Answer with [`help_text`].
    Help,
    /// For the gateway: `name` is one of [`FORWARDED`], lower case; `args`
    /// is the rest of the text, trimmed.
    Forward {
        /// The command's name.
        name: &'static str,
        /// What followed it.
        args: &'a str,
    },
}

/// The command in `text`, or `None` for ordinary text.
pub fn parse(text: &str) -> Option<Command<'_>> {
    let rest = text.trim_start().strip_prefix('/')?;
    let (name, args) = match rest.find(char::is_whitespace) {
        Some(i) => (&rest[..i], rest[i..].trim()),
        None => (rest, ""),
    };
    if name.eq_ignore_ascii_case("help") {
        return Some(Command::Help);
    }
    FORWARDED
        .iter()
        .find(|c| name.eq_ignore_ascii_case(c))
        .map(|name| Command::Forward { name, args })
}

/// The answer to `/help`.
pub fn help_text() -> String {
    "I am an AI assistant run by openpista. Send me a message, a photo, a \
     document or a voice note and I will answer here.\n\n\
     Commands:\n\
     /help: this text\n\
     /clear: forget this conversation and start afresh\n\
     /session: show this conversation's id and size\n\
     /model [NAME]: show the model, or use NAME for this conversation"
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_in_any_case() {
        assert_eq!(parse("/help"), Some(Command::Help));
        assert_eq!(parse("  /HELP me"), Some(Command::Help));
    }

    #[test]
    fn forwarded_commands_keep_their_arguments() {
        assert_eq!(
            parse("/clear"),
            Some(Command::Forward {
                name: "clear",
                args: ""
            })
        );
        assert_eq!(
            parse("/Session"),
            Some(Command::Forward {
                name: "session",
                args: ""
            })
        );
        assert_eq!(
            parse("/model   gpt-5 mini \n"),
            Some(Command::Forward {
                name: "model",
                args: "gpt-5 mini"
            })
        );
    }

    #[test]
    fn anything_else_is_text() {
        assert_eq!(parse("hello /help"), None);
        assert_eq!(parse("/etc/hosts is missing"), None);
        assert_eq!(parse("/models"), None);
        assert_eq!(parse("/"), None);
        assert_eq!(parse(""), None);
    }

    #[test]
    fn the_help_lists_every_command() {
        let help = help_text();
        assert!(help.contains("/help"));
        for name in FORWARDED {
            assert!(help.contains(&format!("/{name}")), "{name} is missing");
        }
    }
}
