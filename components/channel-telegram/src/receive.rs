//! Carrying out what [`inbound::decide`] says about an update: the
//! approval look-up, button answers, the component's own replies, pairing
//! codes (kept by `openpista_sdk::pairing`, user ids as decimal text), and
//! fetching files into attachments. Shared by polling and the webhook.

use openpista_sdk::{Attachment, Error, InboundEvent, host, pairing};
use serde_json::json;

use crate::api::Api;
use crate::bot::BotIdentity;
use crate::commands;
use crate::config::Settings;
use crate::conversation::ChatRef;
use crate::deliver;
use crate::inbound::{self, Action, Context, Draft};
use crate::media::{self, Media, Skipped};
use crate::update::{TgFile, Update};

/// The event `update` gives the agent, if any. Failures to answer
/// Telegram are logged; only memory failures are errors.
pub fn process(
    api: &Api,
    settings: &Settings,
    bot: &BotIdentity,
    update: &Update,
) -> Result<Option<InboundEvent>, Error> {
    let approved = match inbound::sender_id(update) {
        Some(id) if !settings.is_allowed(id) => pairing::is_approved(&id.to_string())?,
        _ => false,
    };
    let ctx = Context { bot, settings };
    let decision = inbound::decide(update, &ctx, approved);
    if let Some(id) = decision.answer_callback
        && let Err(e) = api.call("answerCallbackQuery", &json!({ "callback_query_id": id }))
    {
        host::warn(&format!("{e}"));
    }
    match decision.action {
        Action::Ignore(why) => {
            host::debug(&format!("telegram: ignored {why}"));
            Ok(None)
        }
        Action::Reply { chat, text } => {
            reply(api, chat, &text);
            Ok(None)
        }
        Action::Pair {
            chat,
            user_id,
            username,
        } => {
            let code = pairing::code_for(&user_id.to_string(), username.as_deref())?;
            host::info(&format!(
                "telegram: user {user_id} asked for access; pairing code {code}"
            ));
            reply(api, chat, &commands::pairing_text(&code));
            Ok(None)
        }
        Action::Forward(draft) => Ok(Some(event(api, settings, draft))),
    }
}

fn reply(api: &Api, chat: ChatRef, text: &str) {
    if let Err(e) = deliver::plain(api, chat, text) {
        host::warn(&format!("{e}"));
    }
}

/// The event of a draft, with its file attached or described.
fn event(api: &Api, settings: &Settings, draft: Draft) -> InboundEvent {
    let mut attachments = Vec::new();
    let description = match &draft.media {
        None => None,
        Some(m) => match m.skip_reason(settings.max_file_bytes) {
            Some(why) => Some(m.describe(why)),
            None => match fetch(api, settings, m) {
                Ok(a) => {
                    attachments.push(a);
                    None
                }
                Err(why) => Some(why),
            },
        },
    };
    InboundEvent {
        conversation: draft.conversation,
        sender: draft.sender,
        text: media::compose(description.as_deref(), &draft.text),
        attachments,
        command: draft.command,
    }
}

/// Downloads a file (`getFile`, then the file URL) into an attachment;
/// the error is the description to use instead.
fn fetch(api: &Api, settings: &Settings, m: &Media) -> Result<Attachment, String> {
    let failed = |e: &dyn std::fmt::Display| {
        host::warn(&format!(
            "telegram: cannot download a {}: {e}",
            m.kind.word()
        ));
        m.describe(Skipped::DownloadFailed)
    };
    let result = api
        .call("getFile", &json!({ "file_id": m.file_id }))
        .map_err(|e| failed(&e))?;
    let file: TgFile = serde_json::from_value(result).map_err(|e| failed(&e))?;
    if file.file_size.is_some_and(|s| s >= settings.max_file_bytes) {
        return Err(m.describe(Skipped::TooLarge));
    }
    let path = file
        .file_path
        .ok_or_else(|| failed(&"getFile returned no file_path"))?;
    let data = api.download(&path).map_err(|e| failed(&e))?;
    if data.len() as u64 >= settings.max_file_bytes {
        return Err(m.describe(Skipped::TooLarge));
    }
    Ok(Attachment::new(m.mime.clone(), data).with_name(m.name.clone()))
}
