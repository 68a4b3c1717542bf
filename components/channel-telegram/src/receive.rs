//! Carrying out what [`inbound::decide`] says about an update: the
//! approval look-up, button answers, the component's own replies, pairing
//! codes, and fetching files into attachments. Shared by polling and the
//! webhook.

use openpista_sdk::{Attachment, Error, InboundEvent, host, memory};
use serde_json::json;

use crate::api::Api;
use crate::bot::BotIdentity;
use crate::config::Settings;
use crate::deliver;
use crate::inbound::{self, Action, Context, Draft};
use crate::media::{self, Media, Skipped};
use crate::pairing::{self, Pending};
use crate::session::ChatRef;
use crate::state;
use crate::update::{TgFile, Update};

/// Attempts at drawing a pairing code not already in use.
const CODE_TRIES: usize = 5;

/// The event `update` gives the agent, if any. Failures to answer
/// Telegram are logged; only memory failures are errors.
pub fn process(
    api: &Api,
    settings: &Settings,
    bot: &BotIdentity,
    update: &Update,
) -> Result<Option<InboundEvent>, Error> {
    let approved = match inbound::sender_id(update) {
        Some(id) if !settings.is_allowed(id) => memory::get(&pairing::approved_key(id))?.is_some(),
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
            let code = pairing_code(user_id, chat.chat_id, username)?;
            host::info(&format!(
                "telegram: user {user_id} asked for access; pairing code {code}"
            ));
            reply(api, chat, &pairing::reply_text(&code));
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

/// This user's pairing code: the existing one while it is pending, else
/// a new one, stored with its reverse key.
fn pairing_code(user_id: i64, chat_id: i64, username: Option<String>) -> Result<String, Error> {
    let user_key = pairing::user_key(user_id);
    let existing = memory::get(&user_key)?.and_then(|b| String::from_utf8(b).ok());
    if let Some(code) = existing.as_deref() {
        let pending =
            memory::get_json::<Pending>(&pairing::pending_key(code.trim())).unwrap_or(None);
        if let Some(code) = pairing::reusable(Some(code), pending.as_ref(), user_id) {
            return Ok(code);
        }
    }
    let mut code = pairing::code_from_bytes(&state::random_bytes());
    for _ in 1..CODE_TRIES {
        if memory::get(&pairing::pending_key(&code))?.is_none() {
            break;
        }
        code = pairing::code_from_bytes(&state::random_bytes());
    }
    let record = Pending {
        user_id,
        chat_id,
        username,
        created_ms: host::now_ms(),
    };
    memory::set_json(&pairing::pending_key(&code), &record)?;
    memory::set(&user_key, code.as_bytes())?;
    Ok(code)
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
        session: draft.session,
        sender: draft.sender,
        text: media::compose(description.as_deref(), &draft.text),
        attachments,
        metadata: draft.metadata,
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
