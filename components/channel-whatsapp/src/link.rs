//! The link to the bridge: the host-held connection its lines arrive on,
//! writing commands to it, and the outbox in memory that makes every
//! command go out at least once (the bookkeeping is [`outbox`]'s).
//!
//! The connection id stays the same for the life of the host, across
//! bridge restarts. It is kept in a `static` (the host calls one instance
//! one call at a time, so the lock is never contended) and in memory
//! under [`ID_KEY`], so that a replaced instance can send before the next
//! line arrives.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use openpista_sdk::channel::connections;
use openpista_sdk::{Error, host, memory};

use crate::outbound::{self, Command};
use crate::outbox::{self, AfterError, Entry};

/// Memory key of the connection id, as decimal text.
pub const ID_KEY: &str = "bridge/id";

static ID: Mutex<Option<u64>> = Mutex::new(None);
static COUNTER: AtomicU64 = AtomicU64::new(0);

fn known_id() -> Option<u64> {
    *ID.lock().unwrap_or_else(PoisonError::into_inner)
}

fn set_known_id(id: u64) {
    *ID.lock().unwrap_or_else(PoisonError::into_inner) = Some(id);
}

/// Remembers that the bridge's lines arrive on connection `id`.
pub fn remember(id: u64) -> Result<(), Error> {
    if known_id() == Some(id) {
        return Ok(());
    }
    memory::set(ID_KEY, id.to_string().as_bytes())?;
    set_known_id(id);
    Ok(())
}

/// The bridge's connection: this instance's, else the one in memory.
fn id() -> Result<Option<u64>, Error> {
    if let Some(id) = known_id() {
        return Ok(Some(id));
    }
    let stored = memory::get(ID_KEY)?
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.trim().parse::<u64>().ok());
    if let Some(id) = stored {
        set_known_id(id);
    }
    Ok(stored)
}

/// A fresh command ref.
pub fn next_ref() -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed) + 1;
    outbound::reference(host::now_ms(), n)
}

/// Whether a line reached the host's queue for the bridge.
enum Written {
    Yes,
    /// There is no bridge connection now (why): the line waits.
    NoBridge(String),
}

/// Writes one line to the bridge. An unknown or closed connection is
/// [`Written::NoBridge`]; any other failure (a full queue) is an error.
fn write(line: &str) -> Result<Written, Error> {
    let Some(id) = id()? else {
        return Ok(Written::NoBridge(
            "no line has come from the bridge yet".into(),
        ));
    };
    match connections::ws_send_text(id, line) {
        Ok(()) => Ok(Written::Yes),
        Err(Error::NotFound(why)) => Ok(Written::NoBridge(why)),
        Err(e) => Err(e),
    }
}

/// Stores each command in the outbox, then writes it. When there is no
/// bridge the rest are only stored: they go out on the next `connected`.
/// When writing fails otherwise, the failed command leaves the outbox, the
/// later ones are not attempted, and the error is returned.
pub fn deliver(commands: &[Command]) -> Result<(), Error> {
    let mut waiting = 0;
    let mut down = None;
    for command in commands {
        put(command)?;
        if down.is_some() {
            waiting += 1;
            continue;
        }
        match write(&command.line()) {
            Ok(Written::Yes) => {}
            Ok(Written::NoBridge(why)) => {
                waiting += 1;
                down = Some(why);
            }
            Err(e) => {
                forget(command.reference())?;
                return Err(e);
            }
        }
    }
    if let Some(why) = down {
        host::warn(&format!(
            "whatsapp: the bridge is not reachable ({why}); {waiting} command(s) wait in \
             the outbox for its next connection"
        ));
    }
    Ok(())
}

/// `sent{ref}`: the command went out.
pub fn on_sent(reference: &str) -> Result<(), Error> {
    if !forget(reference)? {
        host::debug(&format!("whatsapp: {reference} sent (not in the outbox)"));
    }
    Ok(())
}

/// `error{ref, message}`: count the attempt, keep the command for the next
/// connection, or drop it after [`outbox::MAX_ATTEMPTS`].
pub fn on_error(reference: &str, message: &str) -> Result<(), Error> {
    let Some(bytes) = memory::get(&outbox::key(reference))? else {
        host::warn(&format!(
            "whatsapp: the bridge failed command {reference}: {message}"
        ));
        return Ok(());
    };
    let entry = match Entry::decode(&bytes) {
        Ok(entry) => entry,
        Err(why) => {
            host::warn(&format!("whatsapp: dropping outbox/{reference}: {why}"));
            forget(reference)?;
            return Ok(());
        }
    };
    match outbox::after_error(entry) {
        AfterError::Keep(entry) => {
            memory::set(&outbox::key(reference), &entry.encode())?;
            host::warn(&format!(
                "whatsapp: sending {reference} to {} failed (attempt {} of {}): {message}; \
                 it is sent again when the bridge connects",
                entry.command.to(),
                entry.attempts,
                outbox::MAX_ATTEMPTS
            ));
        }
        AfterError::Drop(entry) => {
            forget(reference)?;
            host::error(&format!(
                "whatsapp: dropped {reference} to {} after {} failed attempts; last error: \
                 {message}",
                entry.command.to(),
                entry.attempts
            ));
        }
    }
    Ok(())
}

/// `connected`: writes every command of the outbox again, oldest first.
pub fn resend_all() -> Result<(), Error> {
    let keys = memory::list_keys(outbox::PREFIX, outbox::LIST_LIMIT)?;
    let refs = outbox::resend_order(&keys);
    let mut sent = 0;
    for reference in &refs {
        let Some(command) = load(reference)? else {
            continue;
        };
        match write(&command.line()) {
            Ok(Written::Yes) => sent += 1,
            Ok(Written::NoBridge(why)) => {
                host::warn(&format!("whatsapp: resending stopped: {why}"));
                break;
            }
            Err(e) => {
                host::warn(&format!("whatsapp: resending stopped: {e}"));
                break;
            }
        }
    }
    if sent > 0 {
        host::info(&format!(
            "whatsapp: resent {sent} of {} waiting command(s)",
            refs.len()
        ));
    }
    Ok(())
}

/// Stores `command` in the outbox, its file in parts when large.
fn put(command: &Command) -> Result<(), Error> {
    let (record, parts) = outbox::store(command);
    for (key, text) in &parts {
        memory::set(key, text.as_bytes())?;
    }
    memory::set(&outbox::key(command.reference()), &record)
}

/// The command stored under `reference`; a record that cannot be read is
/// dropped with a warning.
fn load(reference: &str) -> Result<Option<Command>, Error> {
    let Some(bytes) = memory::get(&outbox::key(reference))? else {
        return Ok(None);
    };
    let entry = match Entry::decode(&bytes) {
        Ok(entry) => entry,
        Err(why) => {
            host::warn(&format!("whatsapp: dropping outbox/{reference}: {why}"));
            forget(reference)?;
            return Ok(None);
        }
    };
    let mut parts = Vec::new();
    for n in 0..entry.data_parts.unwrap_or(0) {
        let part = memory::get(&outbox::part_key(reference, n))?;
        if let Some(text) = part.and_then(|b| String::from_utf8(b).ok()) {
            parts.push(text);
        }
    }
    match entry.with_parts(parts) {
        Ok(command) => Ok(Some(command)),
        Err(why) => {
            host::warn(&format!("whatsapp: dropping outbox/{reference}: {why}"));
            forget(reference)?;
            Ok(None)
        }
    }
}

/// Removes a record and its parts; `true` when there was a record.
fn forget(reference: &str) -> Result<bool, Error> {
    let removed = memory::delete(&outbox::key(reference))?;
    if removed {
        let prefix = format!("{}{reference}/", outbox::PART_PREFIX);
        for key in memory::list_keys(&prefix, outbox::LIST_LIMIT)? {
            memory::delete(&key)?;
        }
    }
    Ok(removed)
}
