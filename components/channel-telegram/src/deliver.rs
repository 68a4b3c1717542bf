//! Sending to a chat: answers (text chunks, buttons, files), the
//! component's own replies, and the typing indicator. Every message and
//! file waits for the per-chat limiter first.

use openpista_sdk::retry::sleep_ms;
use openpista_sdk::{ApprovalRequest, Attachment, Button, Error, Outbound, host};

use crate::api::Api;
use crate::api_error::ApiError;
use crate::config::Settings;
use crate::conversation::ChatRef;
use crate::outbound::{self, Chunk};
use crate::state;
use openpista_sdk::multipart::{self, Part};

/// Delivers an answer: its text (split, MarkdownV2, buttons when
/// `confirm_actions` is on), then its files.
pub fn answer(
    api: &Api,
    settings: &Settings,
    chat: ChatRef,
    message: &Outbound,
) -> Result<(), Error> {
    let chunks = outbound::plan(&message.text, message.is_error, settings.confirm_actions);
    for chunk in &chunks {
        send_chunk(api, chat, chunk)?;
    }
    for attachment in &message.attachments {
        send_file(api, chat, attachment)?;
    }
    Ok(())
}

/// Sends the component's own plain-text reply (greeting, help, status,
/// pairing code).
pub fn plain(api: &Api, chat: ChatRef, text: &str) -> Result<(), ApiError> {
    throttle(chat);
    let body = outbound::message_body(chat, text, false, None);
    api.call("sendMessage", &body).map(drop)
}

/// Shows an approval request with three buttons whose data the host's
/// answer commands are read from (`openpista_sdk::approval`).
pub fn approval(api: &Api, chat: ChatRef, request: &ApprovalRequest) -> Result<(), ApiError> {
    use openpista_sdk::approval::{Choice, button_data, prompt_text};
    let button = |c: Choice| crate::keyboard::Button {
        label: c.label().to_string(),
        data: button_data(&request.id, c),
    };
    let markup = crate::keyboard::reply_markup(&[
        vec![button(Choice::Approve), button(Choice::Reject)],
        vec![button(Choice::Allow)],
    ]);
    throttle(chat);
    let text = prompt_text(request, false);
    let body = outbound::message_body(chat, &text, false, Some(&markup));
    let sent = api.call("sendMessage", &body)?;
    if let Some(message_id) = sent["message_id"].as_i64() {
        crate::state::remember_approval(crate::state::ShownApproval {
            id: request.id.clone(),
            chat_id: chat.chat_id,
            message_id,
            text,
        });
    }
    Ok(())
}

/// Rewrites the message of a settled approval request with how it ended,
/// which takes its keyboard away (an edit without `reply_markup`).
/// Unknown requests (shown before a restart) are left as they are.
pub fn approval_settled(api: &Api, id: &str, how: openpista_sdk::Settlement) {
    let Some(shown) = crate::state::take_approval(id) else {
        return;
    };
    let text = format!(
        "{}\n\n{}",
        shown.text,
        openpista_sdk::approval::settlement_line(how)
    );
    let body = outbound::edit_body(shown.chat_id, shown.message_id, &text);
    throttle(ChatRef::chat(shown.chat_id));
    if let Err(e) = api.call("editMessageText", &body) {
        host::warn(&format!(
            "telegram: the approval message stays as it was: {e}"
        ));
    }
}

/// Shows a host command's answer with a button per offered command, two
/// to a row; a command too long for a button's 64 bytes stays in the text.
pub fn choices(api: &Api, chat: ChatRef, text: &str, buttons: &[Button]) -> Result<(), ApiError> {
    let made: Vec<crate::keyboard::Button> = buttons
        .iter()
        .filter_map(|b| {
            let command = openpista_sdk::Command {
                name: b.name.clone(),
                args: b.args.clone(),
            };
            Some(crate::keyboard::Button {
                label: b.label.clone(),
                data: openpista_sdk::command::button_data(&command)?,
            })
        })
        .collect();
    let rows: Vec<Vec<crate::keyboard::Button>> = made.chunks(2).map(|c| c.to_vec()).collect();
    let markup = (!rows.is_empty()).then(|| crate::keyboard::reply_markup(&rows));
    throttle(chat);
    let body = outbound::message_body(chat, text, false, markup.as_ref());
    api.call("sendMessage", &body).map(drop)
}

/// Shows "typing" in `chat`, once, without retries; failures are only
/// logged.
pub fn typing(api: &Api, chat: ChatRef) {
    let body = outbound::typing_body(chat);
    if let Err(e) = api.call_with("sendChatAction", &body, crate::api::TIMEOUT_MS, 1) {
        host::warn(&format!("{e}"));
    }
}

/// One chunk as MarkdownV2; as plain text when Telegram cannot parse it.
fn send_chunk(api: &Api, chat: ChatRef, chunk: &Chunk) -> Result<(), ApiError> {
    throttle(chat);
    let markup = chunk.reply_markup.as_ref();
    let body = outbound::message_body(chat, &chunk.markdown, true, markup);
    match api.call("sendMessage", &body) {
        Ok(_) => Ok(()),
        Err(e) if e.is_parse_error() => {
            host::warn(&format!("{e}; sending the message as plain text"));
            throttle(chat);
            let body = outbound::message_body(chat, &chunk.plain, false, markup);
            api.call("sendMessage", &body).map(drop)
        }
        Err(e) => Err(e),
    }
}

/// One file: `sendPhoto` for images, `sendDocument` for the rest.
fn send_file(api: &Api, chat: ChatRef, attachment: &Attachment) -> Result<(), ApiError> {
    throttle(chat);
    let (method, field) = outbound::file_method(&attachment.mime);
    let name = attachment
        .name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| outbound::default_file_name(&attachment.mime));
    let seed = u64::from_le_bytes(state::random_bytes::<8>());
    let fields = outbound::file_fields(chat);
    let mut parts: Vec<Part> = fields.iter().map(|(k, v)| Part::text(k, v)).collect();
    parts.push(Part::file(field, &name, &attachment.mime, &attachment.data));
    let boundary = multipart::boundary(seed, &parts);
    let form = multipart::build(&boundary, &parts);
    api.call_multipart(method, &form).map(drop)
}

/// Waits until the limiter lets a message go to `chat`.
fn throttle(chat: ChatRef) {
    let wait = state::send_wait_ms(chat.chat_id);
    if wait > 0 {
        host::debug(&format!(
            "telegram: holding a message to {} for {wait} ms (rate limit)",
            chat.chat_id
        ));
        sleep_ms(wait);
    }
}
