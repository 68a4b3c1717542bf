//! Buttons' `custom_id`s (at most [`MAX_LEN`] characters) and what a press
//! stands for:
//!
//! - approval buttons: `op:ID:approve`, `op:ID:reject`, `op:ID:allow`,
//!   answered with the host commands `approve ID`, `reject ID`,
//!   `allow ID` (the SDK's `ap:ID:a` form is read too);
//! - choice buttons: the SDK's `c:/NAME ARGS`, the command itself.

use openpista_sdk::approval::{self, Choice};
use openpista_sdk::{Command, command};

/// Discord's limit on a `custom_id`.
pub const MAX_LEN: usize = 100;

/// The `custom_id` of approval request `id`'s `choice` button.
pub fn approval(id: &str, choice: Choice) -> String {
    format!("op:{id}:{}", choice.command_name())
}

/// The `custom_id` of a button standing for `command`, when it fits.
pub fn choice(command: &Command) -> Option<String> {
    let data = if command.args.is_empty() {
        format!("c:/{}", command.name)
    } else {
        format!("c:/{} {}", command.name, command.args)
    };
    let reads_back = command::parse(&data[2..], None).as_ref() == Some(command);
    (data.chars().count() <= MAX_LEN && reads_back).then_some(data)
}

/// The command a press of the button `custom_id` stands for.
pub fn parse(custom_id: &str) -> Option<Command> {
    if let Some(rest) = custom_id.strip_prefix("op:") {
        let (id, what) = rest.rsplit_once(':')?;
        if !approval::valid_id(id) {
            return None;
        }
        let choice = Choice::ALL.into_iter().find(|c| c.command_name() == what)?;
        return Some(choice.command(id));
    }
    approval::parse_button(custom_id).or_else(|| command::parse_button(custom_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(name: &str, args: &str) -> Command {
        Command {
            name: name.into(),
            args: args.into(),
        }
    }

    #[test]
    fn approval_buttons_round_trip() {
        for c in Choice::ALL {
            let id = approval("abc123", c);
            assert!(id.starts_with("op:abc123:"));
            assert_eq!(parse(&id), Some(c.command("abc123")));
        }
        assert_eq!(parse("op:abc:approve"), Some(cmd("approve", "abc")));
        assert_eq!(parse("ap:abc:r"), Some(cmd("reject", "abc")));
    }

    #[test]
    fn malformed_approval_ids_are_refused() {
        for bad in [
            "op:ABC:approve",
            "op::approve",
            "op:abc:maybe",
            "op:abc",
            "zz",
            "",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn choice_buttons_carry_their_command_within_100_chars() {
        let id = choice(&cmd("model", "gpt-5 mini")).unwrap();
        assert_eq!(id, "c:/model gpt-5 mini");
        assert_eq!(parse(&id), Some(cmd("model", "gpt-5 mini")));
        assert_eq!(choice(&cmd("sessions", "")).unwrap(), "c:/sessions");
        assert_eq!(choice(&cmd("model", &"x".repeat(95))), None);
        assert_eq!(choice(&cmd("bad name", "")), None);
    }
}
