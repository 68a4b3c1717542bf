//! Carrying out what [`inbound::decide`] says about a `message` event:
//! the approval look-up and pairing codes (kept by
//! `openpista_sdk::pairing`, users as JIDs), the reply with the code, and
//! the agent's event.

use openpista_sdk::{Error, InboundEvent, host, pairing};

use crate::config::Settings;
use crate::event::Incoming;
use crate::inbound::{self, Action};
use crate::link;
use crate::outbound;

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
        Action::Pair {
            chat,
            user_id,
            username,
        } => {
            let code = pairing::code_for(&user_id, username.as_deref())?;
            host::info(&format!(
                "whatsapp: {user_id} asked for access; pairing code {code}"
            ));
            reply(&chat, &inbound::pairing_text(&code));
            Ok(None)
        }
        Action::Forward(draft) => Ok(Some(inbound::event(draft, settings.max_media_bytes))),
    }
}

/// Whether the owner approved the sender, by its JID or its LID.
fn approved(m: &Incoming) -> Result<bool, Error> {
    if pairing::is_approved(&m.sender)? {
        return Ok(true);
    }
    match m.sender_lid.as_deref() {
        Some(lid) if lid != m.sender => pairing::is_approved(lid),
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
