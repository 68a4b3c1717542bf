//! Keeping `bridge/state` and `bridge/rejected` in memory for the CLI
//! (the records are [`bridge_state`]'s). Failures here are logged, never
//! returned: bookkeeping must not cost a message.

use openpista_sdk::{host, memory};

use crate::bridge_state::{self, BridgeState, Rejected};
use crate::event::{self, Event};

/// Applies `event` to `bridge/state`.
pub fn state(event: &Event) {
    if !BridgeState::concerns(event) {
        return;
    }
    if let Err(e) = update(event) {
        host::warn(&format!("whatsapp: {} not updated: {e}", bridge_state::KEY));
    }
}

fn update(event: &Event) -> Result<(), openpista_sdk::Error> {
    let restart_pending = match event {
        Event::BridgeStarted { .. } => memory::delete(bridge_state::RESTART_PENDING_KEY)?,
        Event::BridgeExited {
            restart_in_ms: Some(ms),
            ..
        } => {
            memory::set(bridge_state::RESTART_PENDING_KEY, ms.to_string().as_bytes())?;
            false
        }
        Event::BridgeExited { .. } => {
            memory::delete(bridge_state::RESTART_PENDING_KEY)?;
            false
        }
        _ => false,
    };
    let mut state = memory::get_json::<BridgeState>(bridge_state::KEY)
        .unwrap_or_else(|e| {
            host::warn(&format!("whatsapp: starting a new bridge state: {e}"));
            None
        })
        .unwrap_or_default();
    if state.apply(event, restart_pending, host::now_ms()) {
        memory::set_json(bridge_state::KEY, &state)?;
    }
    Ok(())
}

/// Logs a line that could not be used and counts it in `bridge/rejected`.
pub fn reject(why: &str, line: &str) {
    host::warn(&format!(
        "whatsapp: rejected a bridge line ({why}): {}",
        event::excerpt(line)
    ));
    let mut rejected = memory::get_json::<Rejected>(bridge_state::REJECTED_KEY)
        .ok()
        .flatten()
        .unwrap_or_default();
    rejected.record(why, host::now_ms());
    if let Err(e) = memory::set_json(bridge_state::REJECTED_KEY, &rejected) {
        host::warn(&format!(
            "whatsapp: {} not updated: {e}",
            bridge_state::REJECTED_KEY
        ));
    }
}
