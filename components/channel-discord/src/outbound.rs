//! What the channel sends, as JSON bodies: messages (text prepared by
//! [`prepare`]), buttons, interaction callbacks. Nothing here calls the
//! host.
//!
//! Every message sets `allowed_mentions` to ping nobody: the model's text
//! may contain `@everyone` or `<@id>`, and an answer should not notify a
//! whole server.

use openpista_sdk::approval::{self, Choice};
use openpista_sdk::{ApprovalRequest, Button, Command, command};
use serde_json::{Value, json};

use crate::interaction::{
    CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE_MESSAGE, EPHEMERAL,
};
use crate::markdown;
use crate::split::{self, MAX_CHARS};

/// Discord's limit on a button's `custom_id`.
pub const CUSTOM_ID_MAX: usize = 100;

/// Button styles.
pub const SUCCESS: u64 = 3;
pub const DANGER: u64 = 4;
pub const SECONDARY: u64 = 2;
/// Buttons per action row, and rows per message.
pub const PER_ROW: usize = 5;
pub const MAX_ROWS: usize = 5;

/// An answer's text as messages: `⚠️ ` before an error, Markdown made
/// Discord's, split at [`MAX_CHARS`].
pub fn prepare(text: &str, is_error: bool) -> Vec<String> {
    let text = markdown::to_discord(text);
    let text = if is_error {
        format!("⚠️ {text}")
    } else {
        text
    };
    split::split(&text, MAX_CHARS)
}

/// A message body with `content` (and `components` when given).
pub fn message(content: &str, components: Option<Value>) -> Value {
    let mut body = json!({ "content": content, "allowed_mentions": { "parse": [] } });
    if let Some(c) = components {
        body["components"] = c;
    }
    body
}

/// A message body naming `count` uploaded files (`files[0]`…).
pub fn message_with_files(content: &str, names: &[&str]) -> Value {
    let mut body = message(content, None);
    body["attachments"] = names
        .iter()
        .enumerate()
        .map(|(i, name)| json!({ "id": i, "filename": name }))
        .collect();
    body
}

/// The interaction callback answering with a message.
pub fn callback_message(content: &str) -> Value {
    json!({ "type": CHANNEL_MESSAGE, "data": message(content, None) })
}

/// The interaction callback answering with a message only the user sees.
pub fn callback_ephemeral(content: &str) -> Value {
    let mut data = message(content, None);
    data["flags"] = json!(EPHEMERAL);
    json!({ "type": CHANNEL_MESSAGE, "data": data })
}

/// The callback deferring a slash command's answer ("thinking…").
pub fn callback_deferred() -> Value {
    json!({ "type": DEFERRED_CHANNEL_MESSAGE })
}

/// The callback acknowledging a button press without changing anything.
pub fn callback_deferred_update() -> Value {
    json!({ "type": DEFERRED_UPDATE_MESSAGE })
}

fn button(label: &str, style: u64, custom_id: String) -> Value {
    let label: String = label.chars().take(80).collect();
    json!({ "type": 2, "style": style, "label": label, "custom_id": custom_id })
}

/// The approval request's message: its text and one row of three buttons.
pub fn approval(request: &ApprovalRequest) -> Value {
    let styles = [SUCCESS, DANGER, SECONDARY];
    let buttons: Vec<Value> = Choice::ALL
        .iter()
        .zip(styles)
        .map(|(c, style)| button(c.label(), style, approval::button_data(&request.id, *c)))
        .collect();
    let text: String = approval::prompt_text(request, false)
        .chars()
        .take(MAX_CHARS)
        .collect();
    message(&text, Some(json!([{ "type": 1, "components": buttons }])))
}

/// The settled request's message: its text, how it ended, no buttons.
pub fn approval_settled(original: &str, how: openpista_sdk::Settlement) -> Value {
    let line = approval::settlement_line(how);
    let mut text: String = original.chars().take(MAX_CHARS - 80).collect();
    text.push_str(&format!("\n\n**{line}**"));
    json!({ "content": text, "components": [], "allowed_mentions": { "parse": [] } })
}

/// Action rows for buttons standing for host commands, [`PER_ROW`] a
/// row; buttons whose command does not fit a `custom_id` are left out,
/// and so are those past [`MAX_ROWS`] rows.
pub fn choice_rows(buttons: &[Button]) -> Value {
    let made: Vec<Value> = buttons
        .iter()
        .filter_map(|b| {
            let command = Command {
                name: b.name.clone(),
                args: b.args.clone(),
            };
            command::button_data_within(&command, CUSTOM_ID_MAX)
                .map(|id| button(&b.label, SECONDARY, id))
        })
        .take(PER_ROW * MAX_ROWS)
        .collect();
    made.chunks(PER_ROW)
        .map(|row| json!({ "type": 1, "components": row }))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use openpista_sdk::Settlement;

    #[test]
    fn errors_are_marked_and_long_texts_split() {
        assert_eq!(prepare("boom", true), vec!["⚠️ boom"]);
        let long = "word ".repeat(1000);
        let parts = prepare(&long, false);
        assert_eq!(parts.len(), 3);
        assert!(parts.iter().all(|p| p.chars().count() <= MAX_CHARS));
        assert_eq!(prepare("#### Hi", false), vec!["**Hi**"]);
    }

    #[test]
    fn messages_ping_nobody() {
        let m = message("hi @everyone", None);
        assert_eq!(
            m,
            json!({"content": "hi @everyone", "allowed_mentions": {"parse": []}})
        );
        let f = message_with_files("", &["a.png", "b.txt"]);
        assert_eq!(f["attachments"][1], json!({"id": 1, "filename": "b.txt"}));
    }

    #[test]
    fn callbacks_have_discords_types() {
        assert_eq!(callback_message("ok")["type"], 4);
        assert_eq!(callback_message("ok")["data"]["content"], "ok");
        assert_eq!(callback_ephemeral("no")["data"]["flags"], 64);
        assert_eq!(callback_deferred(), json!({"type": 5}));
        assert_eq!(callback_deferred_update(), json!({"type": 6}));
    }

    fn request() -> ApprovalRequest {
        ApprovalRequest {
            id: "abc".into(),
            tool: "system.run".into(),
            arguments: "ls".into(),
            folder: None,
            requester: None,
            timeout_secs: 60,
        }
    }

    #[test]
    fn approvals_have_three_styled_buttons() {
        let m = approval(&request());
        assert!(m["content"].as_str().unwrap().contains("system.run"));
        let row = &m["components"][0];
        assert_eq!(row["type"], 1);
        let ids: Vec<&str> = row["components"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["custom_id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, vec!["ap:abc:a", "ap:abc:r", "ap:abc:s"]);
        assert_eq!(row["components"][0]["style"], SUCCESS);
        assert_eq!(row["components"][1]["style"], DANGER);
        let settled = approval_settled("Approval needed", Settlement::Rejected);
        assert_eq!(settled["components"], json!([]));
        assert!(
            settled["content"]
                .as_str()
                .unwrap()
                .ends_with("**Rejected.**")
        );
    }

    #[test]
    fn choices_fill_rows_of_five() {
        let buttons: Vec<Button> = (0..7)
            .map(|i| Button {
                label: format!("Session {i}"),
                name: "sessions".into(),
                args: i.to_string(),
            })
            .collect();
        let rows = choice_rows(&buttons);
        assert_eq!(rows.as_array().unwrap().len(), 2);
        assert_eq!(rows[0]["components"].as_array().unwrap().len(), 5);
        assert_eq!(rows[1]["components"][1]["custom_id"], "c:/sessions 6");
    }
}
