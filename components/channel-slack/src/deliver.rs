//! Delivering to Slack: answers (converted to mrkdwn, split, files
//! uploaded), approval requests and their settlement, and choices.

use openpista_sdk::{ApprovalRequest, Attachment, Button, Error, Outbound, Settlement, host};
use serde_json::{Value, json};

use crate::api::{Api, Body};
use crate::blocks;
use crate::conversation;
use crate::mrkdwn;
use crate::split;
use crate::state::{self, Shown};

/// The prefix of error reports.
pub const ERROR_PREFIX: &str = ":warning: ";

/// The `chat.postMessage` bodies of an answer's text.
pub fn message_bodies(conversation: &str, text: &str, is_error: bool) -> Vec<Value> {
    let (channel, thread) = conversation::split(conversation);
    let mut converted = mrkdwn::convert(text);
    if is_error {
        converted.insert_str(0, ERROR_PREFIX);
    }
    split::split(&converted, split::MAX_CHARS)
        .into_iter()
        .map(|chunk| {
            let body = json!({"text": chunk, "mrkdwn": true, "unfurl_links": false});
            blocks::addressed(body, channel, thread)
        })
        .collect()
}

/// Sends an answer.
pub fn answer(api: &Api, message: &Outbound) -> Result<(), Error> {
    for body in message_bodies(&message.conversation, &message.text, message.is_error) {
        api.call("chat.postMessage", Body::Json(&body))?;
    }
    for file in &message.attachments {
        upload(api, &message.conversation, file)?;
    }
    Ok(())
}

/// Uploads a file into the conversation: `files.getUploadURLExternal`,
/// the bytes to its `upload_url`, then `files.completeUploadExternal`.
fn upload(api: &Api, conversation: &str, file: &Attachment) -> Result<(), Error> {
    let (channel, thread) = conversation::split(conversation);
    let name = file.name.clone().unwrap_or_else(|| "file".to_string());
    let length = file.data.len().to_string();
    let got = api.call(
        "files.getUploadURLExternal",
        Body::Form(&[("filename", &name), ("length", &length)]),
    )?;
    let (Some(url), Some(id)) = (
        got.get("upload_url").and_then(Value::as_str),
        got.get("file_id").and_then(Value::as_str),
    ) else {
        return Err(Error::upstream(
            None,
            "slack: files.getUploadURLExternal gave no upload_url or file_id",
        ));
    };
    api.upload(url, &file.data)?;
    let mut body = json!({"files": [{"id": id, "title": name}], "channel_id": channel});
    if let Some(ts) = thread {
        body["thread_ts"] = json!(ts);
    }
    api.call("files.completeUploadExternal", Body::Json(&body))?;
    Ok(())
}

/// Shows an approval request with its buttons, remembering its message.
pub fn approval(api: &Api, conversation: &str, request: &ApprovalRequest) -> Result<(), Error> {
    let (channel, thread) = conversation::split(conversation);
    let body = blocks::addressed(blocks::approval(request), channel, thread);
    let answer = api.call("chat.postMessage", Body::Json(&body))?;
    let ts = answer.get("ts").and_then(Value::as_str).unwrap_or_default();
    let channel = answer
        .get("channel")
        .and_then(Value::as_str)
        .unwrap_or(channel);
    state::remember_approval(Shown {
        id: request.id.clone(),
        channel: channel.to_string(),
        ts: ts.to_string(),
        text: blocks::approval_text(request),
    });
    Ok(())
}

/// Replaces a settled request's buttons with how it ended.
pub fn approval_settled(api: &Api, id: &str, how: Settlement) {
    let Some(shown) = state::take_approval(id) else {
        host::debug(&format!(
            "slack: approval {id} settled; its message is not known"
        ));
        return;
    };
    let mut body = blocks::settled(&shown.text, how);
    body["channel"] = json!(shown.channel);
    body["ts"] = json!(shown.ts);
    if let Err(e) = api.call("chat.update", Body::Json(&body)) {
        host::warn(&format!("{e}"));
    }
}

/// Shows `text` with buttons standing for commands.
pub fn choices(api: &Api, conversation: &str, text: &str, buttons: &[Button]) -> Result<(), Error> {
    let (channel, thread) = conversation::split(conversation);
    let converted = mrkdwn::convert(text);
    let body = blocks::choices(&converted, buttons)
        .ok_or_else(|| Error::unavailable("slack: none of these buttons fits"))?;
    api.call(
        "chat.postMessage",
        Body::Json(&blocks::addressed(body, channel, thread)),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_go_in_their_thread_as_mrkdwn() {
        let bodies = message_bodies("C1:1.2", "**hi** & bye", false);
        assert_eq!(bodies.len(), 1);
        assert_eq!(bodies[0]["channel"], "C1");
        assert_eq!(bodies[0]["thread_ts"], "1.2");
        assert_eq!(bodies[0]["text"], "*hi* &amp; bye");
        assert_eq!(bodies[0]["mrkdwn"], true);
        assert_eq!(bodies[0]["unfurl_links"], false);
        let dm = message_bodies("D1", "oops", true);
        assert!(dm[0].get("thread_ts").is_none());
        assert_eq!(dm[0]["text"], ":warning: oops");
        // 18 000 characters once escaped: five messages under the limit.
        let long = message_bodies("D1", &"a&".repeat(3000), false);
        assert_eq!(long.len(), 5);
        for b in &long {
            assert!(b["text"].as_str().unwrap().chars().count() <= split::MAX_CHARS);
        }
    }
}
