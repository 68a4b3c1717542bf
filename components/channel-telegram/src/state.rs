//! What the instance keeps between calls, and the host services the glue
//! shares: settings, the bot's identity, the conflict backoff, the send
//! limiter and random bytes.
//!
//! The host calls a channel's instance one call at a time, so the locks
//! are never contended; no host call is made while one is held. Only
//! caches live here: what must survive a restart is in memory.

use std::sync::{LazyLock, Mutex, MutexGuard, PoisonError};

use openpista_sdk::{Error, host, memory};

use crate::api::Api;
use crate::bot::{self, BotIdentity};
use crate::config::Settings;
use crate::polling::ConflictBackoff;
use crate::ratelimit::Limiter;

static BOT: Mutex<Option<BotIdentity>> = Mutex::new(None);
static CONFLICT: Mutex<ConflictBackoff> = Mutex::new(ConflictBackoff::new());
static LIMITER: LazyLock<Mutex<Limiter>> = LazyLock::new(|| Mutex::new(Limiter::new()));
/// Approval requests shown with a keyboard, newest last, so that
/// `settled` can take the keyboard away. A cache: after a restart the
/// host has no waiting requests either.
static SHOWN: Mutex<Vec<ShownApproval>> = Mutex::new(Vec::new());
/// At most this many are remembered; older ones keep their keyboard,
/// which the host refuses to act on once settled.
const SHOWN_MAX: usize = 64;

/// An approval request's message.
#[derive(Debug, Clone, PartialEq)]
pub struct ShownApproval {
    pub id: String,
    pub chat_id: i64,
    pub message_id: i64,
    pub text: String,
}

/// Remembers the message that shows an approval request.
pub fn remember_approval(shown: ShownApproval) {
    let mut list = lock(&SHOWN);
    if list.len() >= SHOWN_MAX {
        list.remove(0);
    }
    list.push(shown);
}

/// The message of approval request `id`, forgotten.
pub fn take_approval(id: &str) -> Option<ShownApproval> {
    let mut list = lock(&SHOWN);
    let at = list.iter().position(|s| s.id == id)?;
    Some(list.remove(at))
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The configuration, read afresh (the host may change it).
pub fn settings() -> Result<Settings, Error> {
    Settings::from_lookup(host::config)
}

/// Remembers the identity `getMe` gave, here and in memory.
pub fn remember_bot(identity: &BotIdentity) -> Result<(), Error> {
    memory::set_json(bot::MEMORY_KEY, identity)?;
    *lock(&BOT) = Some(identity.clone());
    Ok(())
}

/// The bot's identity: cached, else from memory, else from `getMe`.
pub fn bot(api: &Api) -> Result<BotIdentity, Error> {
    if let Some(identity) = lock(&BOT).clone() {
        return Ok(identity);
    }
    let stored = memory::get_json::<BotIdentity>(bot::MEMORY_KEY).unwrap_or_else(|e| {
        host::warn(&format!("telegram: ignoring the stored bot identity: {e}"));
        None
    });
    if let Some(identity) = stored {
        *lock(&BOT) = Some(identity.clone());
        return Ok(identity);
    }
    let identity = get_me(api)?;
    remember_bot(&identity)?;
    Ok(identity)
}

/// Asks Telegram who the bot is.
pub fn get_me(api: &Api) -> Result<BotIdentity, Error> {
    let result = api.call("getMe", &serde_json::json!({}))?;
    BotIdentity::from_get_me(&result).map_err(|e| Error::upstream(None, format!("telegram: {e}")))
}

/// The wait after a 409 Conflict (and the next one doubles).
pub fn conflict_wait_ms() -> u64 {
    lock(&CONFLICT).on_conflict()
}

/// A poll went through: the next conflict waits the shortest time again.
pub fn conflict_reset() {
    lock(&CONFLICT).reset();
}

/// Books a send to `chat_id`; how long to sleep before making it.
pub fn send_wait_ms(chat_id: i64) -> u64 {
    let now = host::now_ms();
    lock(&LIMITER).reserve(chat_id, now)
}

/// `N` random bytes from the host (`wasi:random`).
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let bytes = wasip2::random::random::get_random_bytes(N as u64);
    let mut out = [0u8; N];
    for (o, b) in out.iter_mut().zip(bytes) {
        *o = b;
    }
    out
}
