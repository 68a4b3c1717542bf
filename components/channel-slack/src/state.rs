//! What the instance keeps between calls: the Socket Mode state machine,
//! the bot's identity, the event ids seen and approval messages. The host
//! calls an instance one call at a time, so the lock is never contended;
//! no host call is made while it is held. What must survive a restart (the
//! bot identity, the report, pairing) is in memory.

use std::sync::{LazyLock, Mutex, PoisonError};

use openpista_sdk::memory::{self, Kept};
use openpista_sdk::{Error, host};

use crate::config::Settings;
use crate::dedup::Seen;
use crate::report::{self, Bot, Snapshot};
use crate::socket::Socket;

/// Memory key of the bot's identity.
pub const BOT_KEY: &str = "bot";
/// Approval messages remembered at most.
const SHOWN_MAX: usize = 64;

/// An approval request's message, so that `settled` can update it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shown {
    pub id: String,
    pub channel: String,
    pub ts: String,
    pub text: String,
}

/// The live state.
#[derive(Default)]
pub struct Live {
    pub socket: Option<Socket>,
    pub seen: Seen,
    pub approvals: Vec<Shown>,
    pub snapshot: Option<Snapshot>,
}

static LIVE: LazyLock<Mutex<Live>> = LazyLock::new(|| Mutex::new(Live::default()));

/// Runs `f` on the live state (make no host call inside).
pub fn with<R>(f: impl FnOnce(&mut Live) -> R) -> R {
    f(&mut LIVE.lock().unwrap_or_else(PoisonError::into_inner))
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
        host::warn(&format!("slack: cannot store the bot identity: {e}"));
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
        let snap = match &l.socket {
            Some(s) => Snapshot::socket(s, bot.as_ref()),
            None => Snapshot::events(bot.as_ref()),
        };
        (l.snapshot.as_ref() != Some(&snap)).then(|| {
            l.snapshot = Some(snap.clone());
            snap
        })
    });
    if let Some(snap) = fresh
        && let Err(e) = memory::set_json(report::MEMORY_KEY, &snap)
    {
        host::warn(&format!("slack: cannot store the report: {e}"));
    }
}

/// Whether event `id` is new (an empty id always is).
pub fn first_time(id: &str, now_ms: u64) -> bool {
    id.is_empty() || with(|l| l.seen.first_time(id, now_ms))
}

/// Remembers the message of an approval request.
pub fn remember_approval(shown: Shown) {
    with(|l| {
        if l.approvals.len() >= SHOWN_MAX {
            l.approvals.remove(0);
        }
        l.approvals.push(shown);
    });
}

/// The message of approval request `id`, forgotten.
pub fn take_approval(id: &str) -> Option<Shown> {
    with(|l| {
        let at = l.approvals.iter().position(|s| s.id == id)?;
        Some(l.approvals.remove(at))
    })
}
