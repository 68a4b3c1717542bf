//! Delivering answers: text through the conversation's waiting slash
//! command when there is one ([`interaction::route`]), else as channel
//! messages; files as `multipart/form-data`; approval requests and choices
//! with buttons; the typing indicator.

use openpista_sdk::{ApprovalRequest, Button, Error, Outbound, Settlement, host};
use serde_json::Value;

use crate::api::Api;
use crate::conversation::Target;
use crate::interaction::{self, Route};
use crate::outbound;
use crate::state::{self, ShownApproval};
use openpista_sdk::multipart::{self, Part};

/// Files per message Discord accepts.
const FILES_PER_MESSAGE: usize = 10;

/// Posts message `body` to the conversation: through its waiting slash
/// command when there is one, else to the channel (or thread). A failed
/// interaction answer (the token expired, say) falls back to the channel.
pub fn post(api: &Api, target: &Target, body: &Value) -> Result<Value, Error> {
    let conversation = target.conversation();
    let now = host::now_ms();
    let route = state::with(|l| {
        let (route, next) = interaction::route(l.pending.get(&conversation), now);
        match next {
            Some(p) => l.pending.insert(conversation.clone(), p),
            None => l.pending.remove(&conversation),
        };
        route
    });
    let sent = match &route {
        Route::Callback { id, token } => {
            let wrapped = serde_json::json!({ "type": interaction::CHANNEL_MESSAGE, "data": body });
            api.call(
                "POST",
                &format!("/interactions/{id}/{token}/callback"),
                Some(&wrapped),
            )
        }
        Route::EditOriginal { app, token } => api.call(
            "PATCH",
            &format!("/webhooks/{app}/{token}/messages/@original"),
            Some(body),
        ),
        Route::Followup { app, token } => {
            api.call("POST", &format!("/webhooks/{app}/{token}"), Some(body))
        }
        Route::Channel => return channel_post(api, target, body),
    };
    sent.or_else(|e| {
        host::warn(&format!("{e}; posting to the channel instead"));
        state::with(|l| l.pending.remove(&conversation));
        channel_post(api, target, body)
    })
}

fn channel_post(api: &Api, target: &Target, body: &Value) -> Result<Value, Error> {
    let path = format!("/channels/{}/messages", target.post_to());
    api.call("POST", &path, Some(body))
}

/// Delivers an answer: its text in pieces, then its files.
pub fn answer(api: &Api, message: &Outbound) -> Result<(), Error> {
    let target = Target::parse(&message.conversation)?;
    for piece in outbound::prepare(&message.text, message.is_error) {
        post(api, &target, &outbound::message(&piece, None))?;
    }
    for group in message.attachments.chunks(FILES_PER_MESSAGE) {
        let names: Vec<&str> = group
            .iter()
            .map(|a| a.name.as_deref().unwrap_or("file"))
            .collect();
        let payload = outbound::message_with_files("", &names).to_string();
        let fields: Vec<String> = (0..group.len()).map(|i| format!("files[{i}]")).collect();
        let mut parts = vec![Part::json("payload_json", &payload)];
        for ((a, name), field) in group.iter().zip(&names).zip(&fields) {
            parts.push(Part::file(field, name, &a.mime, &a.data));
        }
        let boundary = multipart::boundary(state::random_u64(), &parts);
        let form = multipart::build(&boundary, &parts);
        let path = format!("/channels/{}/messages", target.post_to());
        api.call_multipart("POST", &path, &form)?;
    }
    Ok(())
}

/// Shows the typing indicator.
pub fn typing(api: &Api, conversation: &str) -> Result<(), Error> {
    let target = Target::parse(conversation)?;
    api.call(
        "POST",
        &format!("/channels/{}/typing", target.post_to()),
        None,
    )
    .map(|_| ())
}

/// Posts an approval request with its buttons and remembers the message.
pub fn approval(api: &Api, conversation: &str, request: &ApprovalRequest) -> Result<(), Error> {
    let target = Target::parse(conversation)?;
    let body = outbound::approval(request);
    let sent = channel_post(api, &target, &body)?;
    if let Some(message_id) = sent.get("id").and_then(Value::as_str) {
        state::remember_approval(ShownApproval {
            id: request.id.clone(),
            channel: target.post_to().to_string(),
            message_id: message_id.to_string(),
            text: body["content"].as_str().unwrap_or("").to_string(),
        });
    }
    Ok(())
}

/// Takes an approval request's buttons away and says how it ended.
pub fn approval_settled(api: &Api, id: &str, how: Settlement) {
    let Some(shown) = state::take_approval(id) else {
        return;
    };
    let body = outbound::approval_settled(&shown.text, how);
    let path = format!("/channels/{}/messages/{}", shown.channel, shown.message_id);
    if let Err(e) = api.call("PATCH", &path, Some(&body)) {
        host::warn(&format!("{e}"));
    }
}

/// Shows `text` with buttons standing for host commands.
pub fn choices(api: &Api, conversation: &str, text: &str, buttons: &[Button]) -> Result<(), Error> {
    let target = Target::parse(conversation)?;
    let rows = outbound::choice_rows(buttons);
    if rows.as_array().is_none_or(Vec::is_empty) {
        return Err(Error::unavailable("discord: none of these buttons fits"));
    }
    let mut pieces = outbound::prepare(text, false);
    let last = pieces.pop().unwrap_or_default();
    for piece in pieces {
        post(api, &target, &outbound::message(&piece, None))?;
    }
    post(api, &target, &outbound::message(&last, Some(rows)))?;
    Ok(())
}
