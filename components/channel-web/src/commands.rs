//! Slash commands typed in the web page (`docs/WEB_PROTOCOL.md`, "Client →
//! server").
//!
//! `/help` is answered by the component itself; the gateway runs `/clear`,
//! `/session` and `/model`, so those travel on as inbound events marked with
//! metadata; anything else starting with `/` is answered with an error and
//! the list. Nothing here calls the host.

/// The commands the gateway runs, as the names it receives in the
/// `command` metadata.
pub const FORWARDED: [&str; 3] = ["clear", "session", "model"];

/// What a message's text means.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command<'a> {
    /// `/help`: answer with [`help_text`].
    Help,
    /// A command for the gateway: `name` is one of [`FORWARDED`] (lower
    /// case, whatever case was typed); `args` is the rest, trimmed.
    Forward {
        /// The command's name.
        name: &'static str,
        /// What followed the name.
        args: &'a str,
    },
    /// `/name` that is no command: answer with [`unknown_text`].
    Unknown(&'a str),
}

/// The command in `text`, or `None` for an ordinary message (one that does
/// not start with `/`, leading whitespace aside).
pub fn parse(text: &str) -> Option<Command<'_>> {
    let rest = text.trim_start().strip_prefix('/')?;
    let (name, args) = match rest.find(char::is_whitespace) {
        Some(i) => (&rest[..i], rest[i..].trim()),
        None => (rest, ""),
    };
    if name.eq_ignore_ascii_case("help") {
        return Some(Command::Help);
    }
    Some(
        match FORWARDED.iter().find(|c| name.eq_ignore_ascii_case(c)) {
            Some(name) => Command::Forward { name, args },
            None => Command::Unknown(name),
        },
    )
}

/// The list of commands, sent for `/help`.
pub fn help_text() -> String {
    "Commands:\n\
     /help: this list\n\
     /clear: forget this conversation and start afresh\n\
     /session: show this conversation's session and model\n\
     /model [NAME]: show the model, or switch to NAME"
        .to_string()
}

/// The answer to an unknown `/name`: what was wrong, then the list.
pub fn unknown_text(name: &str) -> String {
    if name.is_empty() {
        format!("`/` alone is no command.\n{}", help_text())
    } else {
        format!("Unknown command `/{name}`.\n{}", help_text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_text_is_no_command() {
        assert_eq!(parse("hello /help"), None);
        assert_eq!(parse(""), None);
    }

    #[test]
    fn recognises_the_commands_in_any_case() {
        assert_eq!(parse("/help"), Some(Command::Help));
        assert_eq!(parse("  /HELP me"), Some(Command::Help));
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
    fn anything_else_after_a_slash_is_unknown() {
        assert_eq!(parse("/foo bar"), Some(Command::Unknown("foo")));
        assert_eq!(parse("/models"), Some(Command::Unknown("models")));
        assert_eq!(parse("/"), Some(Command::Unknown("")));
        let text = unknown_text("foo");
        assert!(text.starts_with("Unknown command `/foo`."), "{text}");
        assert!(text.contains(&help_text()));
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
