//! What the instance keeps between calls, and the host services the glue
//! shares: the Gateway state machine, the bot's identity, known threads,
//! slash commands waiting for their answer, approval messages, the REST
//! rate-limit buckets and random numbers.
//!
//! The host calls a channel's instance one call at a time, so the locks
//! are never contended; no host call is made while one is held. What must
//! survive a restart (the bot identity, the report, pairing) is in memory.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex, MutexGuard, PoisonError};

use openpista_sdk::memory::{self, Kept};
use openpista_sdk::{Error, host};
use serde::{Deserialize, Serialize};

use crate::config::Settings;
use crate::conversation::Threads;
use crate::gateway::session::Gateway;
use crate::interaction::Pending;
use crate::ratelimit::{Buckets, Limits};
use crate::report::{self, Snapshot};

/// Memory key of the bot's identity.
pub const BOT_KEY: &str = "bot";
/// Approval messages remembered at most.
const SHOWN_MAX: usize = 64;

/// Who the bot is (`GET /users/@me`, READY's `user`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bot {
    pub id: String,
    pub username: String,
}

/// An approval request's message, so that `settled` can edit it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShownApproval {
    pub id: String,
    pub channel: String,
    pub message_id: String,
    pub text: String,
}

/// The live state.
#[derive(Default)]
pub struct Live {
    pub gateway: Option<Gateway>,
    pub application_id: Option<String>,
    pub threads: Threads,
    /// Conversation → the slash command waiting for its answer.
    pub pending: HashMap<String, Pending>,
    pub approvals: Vec<ShownApproval>,
    /// The snapshot last written to memory.
    pub snapshot: Option<Snapshot>,
}

static LIVE: LazyLock<Mutex<Live>> = LazyLock::new(|| Mutex::new(Live::default()));
static BUCKETS: LazyLock<Mutex<Buckets>> = LazyLock::new(|| Mutex::new(Buckets::new()));

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs `f` on the live state (make no host call inside).
pub fn with<R>(f: impl FnOnce(&mut Live) -> R) -> R {
    f(&mut lock(&LIVE))
}

/// The configuration, read afresh (the host may change it).
pub fn settings() -> Result<Settings, Error> {
    Settings::from_lookup(host::config)
}

/// The bot's identity, at hand and in memory (a fresh instance reports
/// it too).
static BOT: Kept<Bot> = Kept::new(BOT_KEY);

/// Remembers the bot's identity, here and in memory.
pub fn remember_bot(bot: &Bot) {
    if let Err(e) = BOT.set(bot) {
        host::warn(&format!("discord: cannot store the bot identity: {e}"));
    }
}

/// The bot's identity: at hand, else from memory.
pub fn bot() -> Option<Bot> {
    BOT.get()
}

/// Writes the report's snapshot to memory when it changed.
pub fn save_snapshot() {
    let bot = bot();
    let fresh = with(|l| {
        let gw = l.gateway.as_ref()?;
        let bot = bot.as_ref().map(|b| (b.id.as_str(), b.username.as_str()));
        let snap = Snapshot::of(gw, bot);
        (l.snapshot.as_ref() != Some(&snap)).then(|| {
            l.snapshot = Some(snap.clone());
            snap
        })
    });
    if let Some(snap) = fresh
        && let Err(e) = memory::set_json(report::MEMORY_KEY, &snap)
    {
        host::warn(&format!("discord: cannot store the report: {e}"));
    }
}

/// Remembers the message of an approval request.
pub fn remember_approval(shown: ShownApproval) {
    with(|l| {
        if l.approvals.len() >= SHOWN_MAX {
            l.approvals.remove(0);
        }
        l.approvals.push(shown);
    });
}

/// The message of approval request `id`, forgotten.
pub fn take_approval(id: &str) -> Option<ShownApproval> {
    with(|l| {
        let at = l.approvals.iter().position(|s| s.id == id)?;
        Some(l.approvals.remove(at))
    })
}

/// How long a call on `route` waits for its bucket.
pub fn bucket_wait_ms(route: &str, now_ms: u64) -> u64 {
    lock(&BUCKETS).wait_ms(route, now_ms)
}

/// Learns a bucket from an answer's headers.
pub fn bucket_update(route: &str, limits: &Limits, now_ms: u64) {
    lock(&BUCKETS).update(route, limits, now_ms);
}

/// A 429 on `route`.
pub fn bucket_limited(route: &str, wait_ms: u64, global: bool, now_ms: u64) {
    lock(&BUCKETS).limited(route, wait_ms, global, now_ms);
}

/// A random number in [0, 1) (`wasi:random`).
pub fn jitter() -> f64 {
    (wasip2::random::random::get_random_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// A random 64-bit number.
pub fn random_u64() -> u64 {
    wasip2::random::random::get_random_u64()
}
