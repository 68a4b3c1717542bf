//! Block Kit bodies of the Web API calls that carry buttons: approval
//! requests, their settled form, and choices. Pure, so the shapes are
//! tested natively.
//!
//! Limits respected: a section's text at most [`MAX_SECTION`] characters,
//! a button's label at most [`MAX_LABEL`], at most [`MAX_ACTIONS`]
//! elements per actions block, and unique `action_id`s in a message.

use openpista_sdk::approval::{self, Choice};
use openpista_sdk::{ApprovalRequest, Button, Command, Settlement, command};
use serde_json::{Value, json};

use crate::mrkdwn;

/// Slack's limit on a button's `value`.
pub const MAX_VALUE: usize = 2000;

/// Characters of a section's text.
pub const MAX_SECTION: usize = 3000;
/// Characters of a button's label.
pub const MAX_LABEL: usize = 75;
/// Elements of one actions block.
pub const MAX_ACTIONS: usize = 25;

fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut s: String = text.chars().take(max.saturating_sub(1)).collect();
    s.push('…');
    s
}

/// A section with mrkdwn `text` (already converted).
pub fn section(text: &str) -> Value {
    json!({"type": "section", "text": {"type": "mrkdwn", "text": cut(text, MAX_SECTION)}})
}

fn button(label: &str, action_id: &str, value: &str, style: Option<&str>) -> Value {
    let mut b = json!({
        "type": "button",
        "text": {"type": "plain_text", "text": cut(label, MAX_LABEL), "emoji": true},
        "action_id": action_id,
        "value": value,
    });
    if let Some(style) = style {
        b["style"] = json!(style);
    }
    b
}

/// Adds `channel` and `thread_ts` to a body.
pub fn addressed(mut body: Value, channel: &str, thread_ts: Option<&str>) -> Value {
    body["channel"] = json!(channel);
    if let Some(ts) = thread_ts {
        body["thread_ts"] = json!(ts);
    }
    body
}

/// The request's text, as mrkdwn.
pub fn approval_text(request: &ApprovalRequest) -> String {
    mrkdwn::escape(&approval::prompt_text(request, false))
}

/// `chat.postMessage` blocks of an approval request: its text and three
/// buttons (`approve` primary, `reject` danger, `allow`).
pub fn approval(request: &ApprovalRequest) -> Value {
    let text = approval_text(request);
    let elements: Vec<Value> = Choice::ALL
        .into_iter()
        .map(|c| {
            let style = match c {
                Choice::Approve => Some("primary"),
                Choice::Reject => Some("danger"),
                Choice::Allow => None,
            };
            button(
                c.label(),
                c.command_name(),
                &approval::button_data(&request.id, c),
                style,
            )
        })
        .collect();
    json!({
        "text": cut(&text, MAX_SECTION),
        "blocks": [
            section(&text),
            {"type": "actions", "block_id": format!("approval:{}", request.id), "elements": elements},
        ],
    })
}

/// `chat.update` of a settled request: its text, and a context line
/// saying how it ended in place of the buttons.
pub fn settled(text: &str, how: Settlement) -> Value {
    let line = approval::settlement_line(how);
    json!({
        "text": format!("{}\n{line}", cut(text, MAX_SECTION - 100)),
        "blocks": [
            section(text),
            {"type": "context", "elements": [{"type": "mrkdwn", "text": line}]},
        ],
    })
}

/// `chat.postMessage` blocks of `text` (mrkdwn) with `choices`: buttons
/// whose values carry their commands. `None` when no button fits.
pub fn choices(text: &str, choices: &[Button]) -> Option<Value> {
    let elements: Vec<Value> = choices
        .iter()
        .filter_map(|b| {
            let value = command::button_data_within(
                &Command {
                    name: b.name.clone(),
                    args: b.args.clone(),
                },
                MAX_VALUE,
            )?;
            Some((b.label.as_str(), value))
        })
        .enumerate()
        .map(|(i, (label, value))| button(label, &format!("choice_{i}"), &value, None))
        .collect();
    if elements.is_empty() {
        return None;
    }
    let mut blocks = vec![section(text)];
    for chunk in elements.chunks(MAX_ACTIONS) {
        blocks.push(json!({"type": "actions", "elements": chunk}));
    }
    Some(json!({"text": cut(text, MAX_SECTION), "blocks": blocks}))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> ApprovalRequest {
        ApprovalRequest {
            id: "k3x9".into(),
            tool: "system.run".into(),
            arguments: "command: ls <dir>".into(),
            folder: None,
            requester: None,
            timeout_secs: 60,
        }
    }

    #[test]
    fn an_approval_has_a_section_and_three_styled_buttons() {
        let body = addressed(approval(&request()), "C1", Some("1.2"));
        assert_eq!(
            (body["channel"].as_str(), body["thread_ts"].as_str()),
            (Some("C1"), Some("1.2"))
        );
        let blocks = body["blocks"].as_array().unwrap();
        assert_eq!(blocks[0]["type"], "section");
        let text = blocks[0]["text"]["text"].as_str().unwrap();
        assert!(
            text.contains("system.run") && text.contains("&lt;dir&gt;"),
            "{text}"
        );
        let buttons = blocks[1]["elements"].as_array().unwrap();
        let ids: Vec<&str> = buttons
            .iter()
            .map(|b| b["action_id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["approve", "reject", "allow"]);
        assert_eq!(buttons[0]["value"], "ap:k3x9:a");
        assert_eq!(buttons[0]["style"], "primary");
        assert_eq!(buttons[1]["style"], "danger");
        assert!(buttons[2].get("style").is_none());
        assert_eq!(buttons[2]["value"], "ap:k3x9:s");
    }

    #[test]
    fn a_settled_request_loses_its_buttons() {
        let body = settled("Approval needed", Settlement::Rejected);
        let blocks = body["blocks"].as_array().unwrap();
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[1]["type"], "context");
        assert_eq!(blocks[1]["elements"][0]["text"], "Rejected.");
        assert!(!body.to_string().contains("\"actions\""));
    }

    #[test]
    fn choices_carry_commands_and_skip_what_does_not_fit() {
        let b = |label: &str, name: &str, args: &str| Button {
            label: label.into(),
            name: name.into(),
            args: args.into(),
        };
        let body = choices(
            "Pick a model",
            &[
                b("GPT-5", "model", "gpt-5"),
                b("bad", "not a name", ""),
                b(&"L".repeat(100), "new", ""),
            ],
        )
        .unwrap();
        let elements = body["blocks"][1]["elements"].as_array().unwrap();
        assert_eq!(elements.len(), 2);
        assert_eq!(elements[0]["value"], "c:/model gpt-5");
        assert_eq!(elements[1]["action_id"], "choice_1");
        assert_eq!(
            elements[1]["text"]["text"]
                .as_str()
                .unwrap()
                .chars()
                .count(),
            MAX_LABEL
        );
        assert_eq!(choices("x", &[b("bad", "", "")]), None);
        let many: Vec<Button> = (0..30).map(|i| b("n", "new", &i.to_string())).collect();
        assert_eq!(
            choices("x", &many).unwrap()["blocks"]
                .as_array()
                .unwrap()
                .len(),
            3
        );
    }
}
