//! Carrying out what [`inbound::decide`] says about a `message` event:
//! the approval look-up, pairing codes, the component's own replies, and
//! the agent's event.

use openpista_sdk::{Error, InboundEvent, host, memory};

use crate::config::Settings;
use crate::event::Incoming;
use crate::inbound::{self, Action};
use crate::link;
use crate::outbound;
use crate::pairing::{self, Pending};

/// Attempts at drawing a pairing code not already in use.
const CODE_TRIES: usize = 5;

/// The event `m` gives the agent, if any. Only configuration and memory
/// failures are errors; a reply that cannot be written is logged.
pub fn message(m: &Incoming) -> Result<Option<InboundEvent>, Error> {
    let settings = Settings::from_lookup(host::config)?;
    let listed = settings
        .allowed_users
        .allows(&m.sender, m.sender_lid.as_deref());
    let approved = !m.is_group && !listed && approved(m)?;
    match inbound::decide(m, &settings, approved) {
        Action::Ignore(why) => {
            host::debug(&format!("whatsapp: ignored {why}"));
            Ok(None)
        }
        Action::Reply { chat, text } => {
            reply(&chat, &text);
            Ok(None)
        }
        Action::Pair {
            chat,
            user_id,
            username,
        } => {
            let code = pairing_code(&user_id, username)?;
            host::info(&format!(
                "whatsapp: {user_id} asked for access; pairing code {code}"
            ));
            reply(&chat, &pairing::reply_text(&code));
            Ok(None)
        }
        Action::Forward(draft) => Ok(Some(inbound::event(draft, settings.max_media_bytes))),
    }
}

/// Whether the owner approved the sender, by its JID or its LID.
fn approved(m: &Incoming) -> Result<bool, Error> {
    if memory::get(&pairing::approved_key(&m.sender))?.is_some() {
        return Ok(true);
    }
    match m.sender_lid.as_deref() {
        Some(lid) if lid != m.sender => Ok(memory::get(&pairing::approved_key(lid))?.is_some()),
        _ => Ok(false),
    }
}

/// Sends the component's own text to `chat`, through the outbox.
fn reply(chat: &str, text: &str) {
    let commands = outbound::texts(chat, text, link::next_ref);
    if let Err(e) = link::deliver(&commands) {
        host::warn(&format!("whatsapp: no reply to {chat}: {e}"));
    }
}

/// This sender's pairing code: the existing one while it is pending, else
/// a new one, stored with its reverse key.
fn pairing_code(user_id: &str, username: Option<String>) -> Result<String, Error> {
    let user_key = pairing::user_key(user_id);
    let existing = memory::get(&user_key)?.and_then(|b| String::from_utf8(b).ok());
    if let Some(code) = existing.as_deref() {
        let pending =
            memory::get_json::<Pending>(&pairing::pending_key(code.trim())).unwrap_or(None);
        if let Some(code) = pairing::reusable(Some(code), pending.as_ref(), user_id) {
            return Ok(code);
        }
    }
    let mut code = pairing::code_from_bytes(&random_bytes());
    for _ in 1..CODE_TRIES {
        if memory::get(&pairing::pending_key(&code))?.is_none() {
            break;
        }
        code = pairing::code_from_bytes(&random_bytes());
    }
    let record = Pending {
        user_id: user_id.to_string(),
        chat_id: None,
        username,
        created_ms: host::now_ms(),
    };
    memory::set_json(&pairing::pending_key(&code), &record)?;
    memory::set(&user_key, code.as_bytes())?;
    Ok(code)
}

/// `N` random bytes from the host (`wasi:random`).
fn random_bytes<const N: usize>() -> [u8; N] {
    let bytes = wasip2::random::random::get_random_bytes(N as u64);
    let mut out = [0u8; N];
    for (o, b) in out.iter_mut().zip(bytes) {
        *o = b;
    }
    out
}
