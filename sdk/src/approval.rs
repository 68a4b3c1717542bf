//! Approval requests as every channel shows and answers them (WIT
//! `approvals`, since 0.2.1).
//!
//! The host pauses a tool call that its policy says needs a person and
//! calls [`Channel::ask_approval`](crate::Channel::ask_approval). The
//! person's answer travels back as one of three host commands naming the
//! request: `approve ID`, `reject ID`, `allow ID`. This module is the one
//! reading of those answers channels share:
//!
//! - [`button_data`] / [`parse_button`]: the payload of a button
//!   (`ap:ID:a`), short enough for Telegram's 64-byte `callback_data`;
//! - [`numbered_reply`]: `1`, `2` or `3` typed as a reply (WhatsApp, SMS);
//! - [`Pending`]: which request a numbered reply in a conversation answers,
//!   kept in the component's memory so it survives an instance swap;
//! - [`prompt_text`]: the request written out for a person.

use crate::memory::Store;
use crate::{ApprovalRequest, Command, Error};

/// A person's answer to an approval request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Choice {
    /// Run the call once.
    Approve,
    /// Do not run it.
    Reject,
    /// Run it, and this same call again in this session without asking.
    Allow,
}

/// One line saying how a request ended, for a channel that rewrites its
/// request message once it is settled (the buttons taken away).
pub fn settlement_line(how: crate::Settlement) -> &'static str {
    use crate::Settlement;
    match how {
        Settlement::Approved => "Approved.",
        Settlement::Allowed => "Allowed for this session.",
        Settlement::Rejected => "Rejected.",
        Settlement::Expired => "Nobody answered in time: rejected.",
        Settlement::Cancelled => "Withdrawn: the turn was stopped.",
    }
}

impl Choice {
    /// All three, in the order channels show them.
    pub const ALL: [Choice; 3] = [Choice::Approve, Choice::Reject, Choice::Allow];

    /// The host command that carries this answer.
    pub fn command_name(self) -> &'static str {
        match self {
            Choice::Approve => "approve",
            Choice::Reject => "reject",
            Choice::Allow => "allow",
        }
    }

    /// A button's label.
    pub fn label(self) -> &'static str {
        match self {
            Choice::Approve => "Approve",
            Choice::Reject => "Reject",
            Choice::Allow => "Allow for this session",
        }
    }

    /// The number a person types to choose it in a numbered reply.
    pub fn number(self) -> u8 {
        match self {
            Choice::Approve => 1,
            Choice::Reject => 2,
            Choice::Allow => 3,
        }
    }

    fn letter(self) -> char {
        match self {
            Choice::Approve => 'a',
            Choice::Reject => 'r',
            Choice::Allow => 's',
        }
    }

    /// The command answering request `id` with this choice.
    pub fn command(self, id: &str) -> Command {
        Command {
            name: self.command_name().into(),
            args: id.into(),
        }
    }
}

/// Whether `id` looks like a request id the host makes: 1 to 12
/// characters of `[a-z0-9]`.
pub fn valid_id(id: &str) -> bool {
    (1..=12).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// A button's payload for `choice` on request `id`: `ap:ID:a` (at most 17
/// bytes).
pub fn button_data(id: &str, choice: Choice) -> String {
    format!("ap:{id}:{}", choice.letter())
}

/// The command a button's payload stands for, or `None` when it is not an
/// approval button (or is malformed).
pub fn parse_button(data: &str) -> Option<Command> {
    let rest = data.strip_prefix("ap:")?;
    let (id, letter) = rest.rsplit_once(':')?;
    if !valid_id(id) {
        return None;
    }
    let choice = Choice::ALL
        .into_iter()
        .find(|c| letter.len() == 1 && letter.starts_with(c.letter()))?;
    Some(choice.command(id))
}

/// The command a button's payload stands for, whichever kind it is: an
/// approval button ([`button_data`]) or a host command's
/// ([`command::button_data`](crate::command::button_data)).
pub fn parse_press(data: &str) -> Option<Command> {
    parse_button(data).or_else(|| crate::command::parse_button(data))
}

/// The choice a numbered reply (`1`, `2`, `3`, surrounding blanks and a
/// trailing `.` aside) stands for; anything else is `None`.
pub fn numbered_reply(text: &str) -> Option<Choice> {
    let text = text.trim().trim_end_matches('.').trim();
    Choice::ALL
        .into_iter()
        .find(|c| text == c.number().to_string())
}

/// The request written out for a person, with the numbered choices when
/// `numbered` (for messengers without buttons).
pub fn prompt_text(request: &ApprovalRequest, numbered: bool) -> String {
    let mut text = format!(
        "Approval needed: the agent wants to run {}\n{}",
        request.tool, request.arguments
    );
    if let Some(folder) = &request.folder {
        text.push_str(&format!("\nin {folder}"));
    }
    if numbered {
        text.push_str("\n\nReply ");
        let options: Vec<String> = Choice::ALL
            .iter()
            .map(|c| format!("{} to {}", c.number(), c.label().to_lowercase()))
            .collect();
        text.push_str(&options.join(", "));
        text.push('.');
    }
    text.push_str(&format!(
        "\n(Rejected unless answered within {} s.)",
        request.timeout_secs
    ));
    text
}

/// Which request a numbered reply answers, per conversation: the newest
/// one asked there and not yet settled. Kept under `approval/pending/` in
/// the store it is given.
pub struct Pending<'a, S: Store> {
    store: &'a S,
}

impl<'a, S: Store> Pending<'a, S> {
    pub fn new(store: &'a S) -> Self {
        Pending { store }
    }

    fn key(conversation: &str) -> String {
        format!("approval/pending/{conversation}")
    }

    /// Remembers that `id` waits for an answer in `conversation`.
    pub fn remember(&self, conversation: &str, id: &str) -> Result<(), Error> {
        self.store.set(&Self::key(conversation), id.as_bytes())
    }

    /// The request waiting in `conversation`, if any.
    pub fn waiting(&self, conversation: &str) -> Result<Option<String>, Error> {
        Ok(self
            .store
            .get(&Self::key(conversation))?
            .map(|b| String::from_utf8_lossy(&b).into_owned()))
    }

    /// Forgets `id` in `conversation` (it was answered, or expired); a
    /// newer request there is kept.
    pub fn settle(&self, conversation: &str, id: &str) -> Result<(), Error> {
        if self.waiting(conversation)?.as_deref() == Some(id) {
            self.store.delete(&Self::key(conversation))?;
        }
        Ok(())
    }

    /// The command a reply in `conversation` stands for: a numbered
    /// choice while a request waits there. The request is forgotten once
    /// answered.
    pub fn answer(&self, conversation: &str, text: &str) -> Result<Option<Command>, Error> {
        let Some(choice) = numbered_reply(text) else {
            return Ok(None);
        };
        let Some(id) = self.waiting(conversation)? else {
            return Ok(None);
        };
        self.store.delete(&Self::key(conversation))?;
        Ok(Some(choice.command(&id)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MapStore;

    fn request() -> ApprovalRequest {
        ApprovalRequest {
            id: "k3x9q2".into(),
            tool: "system.run".into(),
            arguments: "command: rm -rf build".into(),
            folder: Some("/home/ann".into()),
            requester: None,
            timeout_secs: 120,
        }
    }

    #[test]
    fn buttons_round_trip_and_fit_telegram() {
        for choice in Choice::ALL {
            let data = button_data("abcdefghij12", choice);
            assert!(data.len() <= 64, "{data}");
            let command = parse_button(&data).unwrap();
            assert_eq!(command.name, choice.command_name());
            assert_eq!(command.args, "abcdefghij12");
        }
        for bad in [
            "ap:ABC:a",
            "ap::a",
            "ap:abc:x",
            "ap:abc:aa",
            "xx:abc:a",
            "ap:abc",
            "ap:abcdefghij123:a",
        ] {
            assert_eq!(parse_button(bad), None, "{bad}");
        }
    }

    #[test]
    fn numbered_replies() {
        assert_eq!(numbered_reply(" 1 "), Some(Choice::Approve));
        assert_eq!(numbered_reply("2."), Some(Choice::Reject));
        assert_eq!(numbered_reply("3"), Some(Choice::Allow));
        for no in ["4", "12", "one", "", "1 please"] {
            assert_eq!(numbered_reply(no), None, "{no}");
        }
    }

    #[test]
    fn a_reply_answers_only_the_waiting_request_once() {
        let store = MapStore::new();
        let pending = Pending::new(&store);
        assert_eq!(pending.answer("42", "1").unwrap(), None, "nothing waits");
        pending.remember("42", "old").unwrap();
        pending.remember("42", "new").unwrap();
        pending.settle("42", "old").unwrap();
        assert_eq!(pending.waiting("42").unwrap().as_deref(), Some("new"));
        assert_eq!(pending.answer("42", "hello").unwrap(), None);
        let answer = pending.answer("42", "3").unwrap().unwrap();
        assert_eq!(
            (answer.name.as_str(), answer.args.as_str()),
            ("allow", "new")
        );
        assert_eq!(pending.answer("42", "3").unwrap(), None, "answered once");
        assert!(store.keys().is_empty());
    }

    #[test]
    fn the_prompt_names_tool_arguments_folder_and_choices() {
        let text = prompt_text(&request(), true);
        for needle in [
            "system.run",
            "rm -rf build",
            "in /home/ann",
            "1 to approve",
            "2 to reject",
            "3 to allow for this session",
            "120 s",
        ] {
            assert!(text.contains(needle), "{needle:?} in {text}");
        }
        assert!(!prompt_text(&request(), false).contains("Reply"));
    }
}
