//! Tool-call approvals, stop and command buttons as the page reads and
//! answers them (docs/WEB_PROTOCOL.md, "Frames": `approval`, `settled`,
//! `choices`).
//!
//! The server asks with an `approval` frame and says how the request ended
//! with `settled`; `choices` is text with buttons standing for host
//! commands. The page answers all of them, and stops a turn, with ordinary
//! `message` frames whose text is a command (`/approve ID`, `/reject ID`,
//! `/allow ID`, `/stop`, or a button's command), built here so that nothing
//! unchecked is sent on the person's behalf: buttons send without showing a
//! user bubble, so an approval id must be one the host could have made and
//! a choice must be a slash command.
//!
//! Pure Rust, tested natively; `browser/cards.rs` puts it on the page.

use crate::protocol::ClientFrame;
use serde::{Deserialize, Deserializer};

/// The command that stops the running turn (and withdraws its approval
/// requests).
pub const STOP_COMMAND: &str = "/stop";

/// A card whose request was neither answered nor settled is shown as timed
/// out this long after its own timeout: the `settled` frame may have been
/// lost with the connection, and a card left waiting would keep the stop
/// button up forever.
pub const LOCAL_EXPIRY_GRACE_SECS: u64 = 10;

/// True for an approval id the host makes: 1 to 12 characters of
/// `[a-z0-9]` (the same check as `openpista_sdk::approval::valid_id`).
pub fn is_valid_approval_id(id: &str) -> bool {
    (1..=12).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// True for text the host reads as a slash command: `/`, then a name of
/// ASCII letters, digits, `_` and `-` that starts with a letter, then
/// whitespace or the end (docs/WEB_PROTOCOL.md, "Client → server").
pub fn is_command(text: &str) -> bool {
    let Some(rest) = text.strip_prefix('/') else {
        return false;
    };
    let name = rest.split(char::is_whitespace).next().unwrap_or_default();
    name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
}

/// Reads an approval id, refusing one the host could not have made (it
/// would end up in a command and in a CSS selector).
pub(crate) fn deserialize_approval_id<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let id = String::deserialize(d)?;
    if is_valid_approval_id(&id) {
        Ok(id)
    } else {
        Err(serde::de::Error::custom(format!(
            "approval id {id:?} is not 1 to 12 characters of a-z and 0-9"
        )))
    }
}

/// How an approval request ended, from a `settled` frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Settlement {
    /// Run once.
    Approved,
    /// Run, and the same call again in this session without asking.
    Allowed,
    /// Not run.
    Rejected,
    /// Nobody answered in time.
    Expired,
    /// The turn was stopped.
    Cancelled,
}

impl Settlement {
    /// All five, in the order of the protocol's table.
    pub const ALL: [Settlement; 5] = [
        Settlement::Approved,
        Settlement::Allowed,
        Settlement::Rejected,
        Settlement::Expired,
        Settlement::Cancelled,
    ];

    /// The name in the frame, also the card's `data-state`.
    pub fn name(self) -> &'static str {
        match self {
            Settlement::Approved => "approved",
            Settlement::Allowed => "allowed",
            Settlement::Rejected => "rejected",
            Settlement::Expired => "expired",
            Settlement::Cancelled => "cancelled",
        }
    }

    /// The card's `.outcome` line.
    pub fn outcome(self) -> &'static str {
        match self {
            Settlement::Approved => "Approved",
            Settlement::Allowed => "Allowed for this session",
            Settlement::Rejected => "Rejected",
            Settlement::Expired => "Timed out",
            Settlement::Cancelled => "Cancelled",
        }
    }
}

/// A person's answer to an approval request: one button of the card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Run the call once.
    Approve,
    /// Do not run it.
    Reject,
    /// Run it, and the same call again in this session without asking.
    Allow,
}

impl Answer {
    /// All three, in the order the card shows them.
    pub const ALL: [Answer; 3] = [Answer::Approve, Answer::Reject, Answer::Allow];

    /// The button's class (`button.approve` …).
    pub fn class(self) -> &'static str {
        match self {
            Answer::Approve => "approve",
            Answer::Reject => "reject",
            Answer::Allow => "allow",
        }
    }

    /// The button's label (the same words as the other channels').
    pub fn label(self) -> &'static str {
        match self {
            Answer::Approve => "Approve",
            Answer::Reject => "Reject",
            Answer::Allow => "Allow for this session",
        }
    }

    /// The answer a button of class `class` stands for.
    pub fn from_class(class: &str) -> Option<Answer> {
        Answer::ALL.into_iter().find(|a| a.class() == class)
    }

    /// The command answering request `id`: `/approve ID`, `/reject ID` or
    /// `/allow ID`; an error when `id` is not one the host makes.
    pub fn command(self, id: &str) -> Result<String, String> {
        if is_valid_approval_id(id) {
            Ok(format!("/{} {id}", self.class()))
        } else {
            Err(format!(
                "cannot answer approval {id:?}: not 1 to 12 characters of a-z and 0-9"
            ))
        }
    }
}

/// One button of a `choices` frame.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RawButton")]
pub struct ChoiceButton {
    /// What the button says.
    pub label: String,
    /// The host command a press sends, such as `/model gpt-5`.
    pub command: String,
}

/// A button as it arrives, before [`ChoiceButton`]'s checks.
#[derive(Deserialize)]
struct RawButton {
    label: String,
    command: String,
}

impl TryFrom<RawButton> for ChoiceButton {
    type Error = String;

    /// A press sends the command as the person without showing it, so it
    /// must be a host command, not text for the agent.
    fn try_from(raw: RawButton) -> Result<ChoiceButton, String> {
        if !is_command(&raw.command) {
            return Err(format!(
                "button {:?}: command {:?} is not a slash command",
                raw.label, raw.command
            ));
        }
        Ok(ChoiceButton {
            label: raw.label,
            command: raw.command,
        })
    }
}

/// The `message` frame that sends `command` (an answer, `/stop` or a
/// choice) under message id `id`, without attachments.
pub fn command_frame(id: String, command: &str) -> String {
    ClientFrame::Message {
        id,
        text: command.to_string(),
        attachments: Vec::new(),
    }
    .to_json()
}

/// The card's line about the deadline, such as `Rejected unless answered
/// within 2 min.`; `None` without one (`timeout_secs` 0).
pub fn deadline_text(timeout_secs: u64) -> Option<String> {
    let within = match timeout_secs {
        0 => return None,
        s if s < 120 || s % 60 != 0 => format!("{s} s"),
        s => format!("{} min", s / 60),
    };
    Some(format!("Rejected unless answered within {within}."))
}

/// After how many ms a card still waiting is shown as timed out (its
/// timeout plus [`LOCAL_EXPIRY_GRACE_SECS`], at most what a browser timer
/// takes); `None` without a timeout.
pub fn local_expiry_ms(timeout_secs: u64) -> Option<i32> {
    (timeout_secs > 0).then(|| {
        let ms = timeout_secs
            .saturating_add(LOCAL_EXPIRY_GRACE_SECS)
            .saturating_mul(1000);
        i32::try_from(ms).unwrap_or(i32::MAX)
    })
}

#[cfg(test)]
#[path = "approval_tests.rs"]
mod tests;
