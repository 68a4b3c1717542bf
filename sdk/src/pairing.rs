//! Pairing: how an unknown sender asks the owner for access, kept in the
//! channel's own memory.
//!
//! A messenger channel never lets an unknown sender reach the agent. It
//! answers with a code ([`code_for`]) and keeps the request; the owner runs
//! `openpista pairing approve ID CODE`, which the host carries out by
//! calling the channel's `pairing` export. A channel that pairs with this
//! module says so with one line, and the [`Channel`](crate::Channel)
//! trait's pairing methods then answer from these records:
//!
//! ```no_run
//! # use openpista_sdk::prelude::*;
//! # struct Chat;
//! impl Channel for Chat {
//!     const SDK_PAIRING: bool = true;
//! #   fn start() -> Result<ChannelInfo, Error> { Ok(ChannelInfo::new()) }
//! #   fn send(_: Outbound) -> Result<(), Error> { Ok(()) }
//!     // ...
//! }
//! ```
//!
//! Users are strings in the messenger's terms (a Telegram user id, a JID).
//! The memory layout is the one channels kept before WIT 0.2, so existing
//! approvals stay valid:
//!
//! - `pairing/pending/CODE`: JSON `{"user_id", "username", "created_ms"}`.
//!   `user_id` is read as a string or a number (Telegram wrote numbers);
//!   fields written by older channels, such as Telegram's `chat_id`, are
//!   ignored.
//! - `pairing/user/USER`: the user's pending code, so that asking again
//!   gives the same code while it is pending.
//! - `pairing/approved/USER`: exists once the owner approved; JSON
//!   `{"user_id", "approved_ms", "username"}`. Only its existence matters
//!   for access, so a record that cannot be read still lets its user in.
//!
//! The functions at the module's root work on the component's memory with
//! the host's clock and random bytes; [`Pairings`] is the same logic over
//! any [`Store`], which is how it is tested natively.

use serde::{Deserialize, Deserializer, Serialize};

use crate::memory::{self, Store};
use crate::{Error, PairedUser, PairingRequest};

/// The characters of a code: 32 without look-alikes (no `0`, `O`, `1`,
/// `I`), so `byte % 32` is unbiased.
pub const ALPHABET: &[u8; 32] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
/// Characters in a code.
pub const CODE_LEN: usize = 8;

/// Memory prefix of pending requests.
pub const PENDING_PREFIX: &str = "pairing/pending/";
/// Memory prefix of each user's pending code.
pub const USER_PREFIX: &str = "pairing/user/";
/// Memory prefix of approvals.
pub const APPROVED_PREFIX: &str = "pairing/approved/";

/// The most requests or approvals listed.
const LIST_LIMIT: u32 = 1000;
/// Attempts at drawing a code not already pending.
const CODE_TRIES: usize = 5;

/// This sender's code: the pending one, else a new request (stored with
/// `name`, the messenger's display name when it gave one).
pub fn code_for(user: &str, name: Option<&str>) -> Result<String, Error> {
    Pairings::new().code_for(user, name, crate::host::now_ms(), random_code_bytes)
}

/// Whether the owner approved `user`.
pub fn is_approved(user: &str) -> Result<bool, Error> {
    Pairings::new().is_approved(user)
}

/// Pending requests and approved users, for the `pairing` export.
pub fn list() -> Result<(Vec<PairingRequest>, Vec<PairedUser>), Error> {
    Pairings::new().list()
}

/// Approves the request with `code`, for the `pairing` export.
pub fn approve(code: &str) -> Result<PairingRequest, Error> {
    Pairings::new().approve(code, crate::host::now_ms())
}

/// Withdraws `user`'s approval, for the `pairing` export.
pub fn revoke(user: &str) -> Result<bool, Error> {
    Pairings::new().revoke(user)
}

/// What to tell a sender who got `code` in channel `channel` (its id, such
/// as `telegram`): the code and the command the owner runs.
pub fn ask_owner(channel: &str, code: &str) -> String {
    format!(
        "Your pairing code is {code}. Ask the owner to run: \
         openpista pairing approve {channel} {code}"
    )
}

/// A code as a person typed it: case and separators do not matter
/// (`k7qm-xpa2` is `K7QMXPA2`).
pub fn normalize(code: &str) -> String {
    code.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// A code from [`CODE_LEN`] random bytes.
pub fn code_from_bytes(bytes: &[u8; CODE_LEN]) -> String {
    bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect()
}

/// Whether `code` is one [`code_from_bytes`] could have made.
pub fn is_code(code: &str) -> bool {
    code.len() == CODE_LEN && code.bytes().all(|b| ALPHABET.contains(&b))
}

/// Random bytes for a code from the host (`wasi:random`).
fn random_code_bytes() -> [u8; CODE_LEN] {
    let mut out = [0u8; CODE_LEN];
    let bytes = wasip2::random::random::get_random_bytes(CODE_LEN as u64);
    for (o, b) in out.iter_mut().zip(bytes) {
        *o = b;
    }
    out
}

/// A pending request as stored.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
struct Pending {
    #[serde(deserialize_with = "number_or_text")]
    user_id: String,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    created_ms: u64,
}

/// An approval as stored.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
struct Approved {
    #[serde(default, deserialize_with = "number_or_text")]
    user_id: String,
    #[serde(default)]
    approved_ms: u64,
    #[serde(default)]
    username: Option<String>,
}

/// A user id written as a JSON string or number.
fn number_or_text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => Ok(s),
        serde_json::Value::Number(n) => Ok(n.to_string()),
        other => Err(serde::de::Error::custom(format!(
            "a user id is a string or a number, not {other}"
        ))),
    }
}

/// The pairing records of one [`Store`].
#[derive(Debug, Default)]
pub struct Pairings<S = memory::Component> {
    store: S,
}

impl Pairings {
    /// The records in the component's memory.
    pub fn new() -> Self {
        Pairings::default()
    }
}

impl<S: Store> Pairings<S> {
    /// The records in `store`.
    pub fn with_store(store: S) -> Self {
        Pairings { store }
    }

    /// The store the records are in.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// `user`'s code: the one pending for them, else a new request made at
    /// `now_ms` with a code from `random` (drawn again, a few times, while
    /// it collides with another pending code).
    pub fn code_for(
        &self,
        user: &str,
        name: Option<&str>,
        now_ms: u64,
        mut random: impl FnMut() -> [u8; CODE_LEN],
    ) -> Result<String, Error> {
        let user_key = format!("{USER_PREFIX}{user}");
        let existing = self.store.get(&user_key)?;
        let existing = existing.as_deref().map(String::from_utf8_lossy);
        if let Some(code) = existing.as_deref().map(str::trim)
            && is_code(code)
            && self.pending(code)?.is_some_and(|p| p.user_id == user)
        {
            return Ok(code.to_string());
        }
        let mut code = code_from_bytes(&random());
        for _ in 1..CODE_TRIES {
            if self.store.get(&pending_key(&code))?.is_none() {
                break;
            }
            code = code_from_bytes(&random());
        }
        let record = Pending {
            user_id: user.to_string(),
            username: name.map(str::to_string),
            created_ms: now_ms,
        };
        self.store.set(&pending_key(&code), &to_json(&record)?)?;
        self.store.set(&user_key, code.as_bytes())?;
        Ok(code)
    }

    /// Whether the owner approved `user`.
    pub fn is_approved(&self, user: &str) -> Result<bool, Error> {
        Ok(self.store.get(&approved_key(user))?.is_some())
    }

    /// Pending requests and approved users, each in key order.
    pub fn list(&self) -> Result<(Vec<PairingRequest>, Vec<PairedUser>), Error> {
        let mut requests = Vec::new();
        for key in self.store.list_keys(PENDING_PREFIX, LIST_LIMIT)? {
            let code = &key[PENDING_PREFIX.len()..];
            if let Some(pending) = self.pending(code)? {
                requests.push(request(code, pending));
            }
        }
        let mut approved = Vec::new();
        for key in self.store.list_keys(APPROVED_PREFIX, LIST_LIMIT)? {
            let Some(bytes) = self.store.get(&key)? else {
                continue;
            };
            let record: Approved = serde_json::from_slice(&bytes).unwrap_or_default();
            approved.push(PairedUser {
                user: key[APPROVED_PREFIX.len()..].to_string(),
                name: record.username,
                approved_ms: record.approved_ms,
            });
        }
        Ok((requests, approved))
    }

    /// Lets the sender of the request with `code` in (as [`normalize`]
    /// reads it), at `now_ms`. An unknown code is [`Error::NotFound`]
    /// naming the pending ones.
    pub fn approve(&self, code: &str, now_ms: u64) -> Result<PairingRequest, Error> {
        let code = normalize(code);
        let Some(pending) = self.pending(&code)? else {
            let pending: Vec<String> = self
                .store
                .list_keys(PENDING_PREFIX, LIST_LIMIT)?
                .into_iter()
                .map(|k| k[PENDING_PREFIX.len()..].to_string())
                .collect();
            let pending = if pending.is_empty() {
                "none".to_string()
            } else {
                pending.join(", ")
            };
            return Err(Error::not_found(format!(
                "no pending pairing request has the code `{code}` (pending: {pending})"
            )));
        };
        let approval = Approved {
            user_id: pending.user_id.clone(),
            approved_ms: now_ms,
            username: pending.username.clone(),
        };
        self.store
            .set(&approved_key(&pending.user_id), &to_json(&approval)?)?;
        self.store.delete(&pending_key(&code))?;
        self.store
            .delete(&format!("{USER_PREFIX}{}", pending.user_id))?;
        Ok(request(&code, pending))
    }

    /// Withdraws `user`'s approval; `false` when there was none.
    pub fn revoke(&self, user: &str) -> Result<bool, Error> {
        self.store.delete(&approved_key(user.trim()))
    }

    /// The pending request with `code`; an [`Error::Internal`] naming the
    /// key when what is stored there is not one.
    fn pending(&self, code: &str) -> Result<Option<Pending>, Error> {
        let key = pending_key(code);
        let Some(bytes) = self.store.get(&key)? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            Error::internal(format!("memory key `{key}` is not a pairing request: {e}"))
        })
    }
}

fn pending_key(code: &str) -> String {
    format!("{PENDING_PREFIX}{code}")
}

fn approved_key(user: &str) -> String {
    format!("{APPROVED_PREFIX}{user}")
}

fn request(code: &str, pending: Pending) -> PairingRequest {
    PairingRequest {
        code: code.to_string(),
        user: pending.user_id,
        name: pending.username,
        created_ms: pending.created_ms,
    }
}

fn to_json<T: Serialize>(value: &T) -> Result<Vec<u8>, Error> {
    serde_json::to_vec(value)
        .map_err(|e| Error::internal(format!("cannot encode a pairing record: {e}")))
}

#[cfg(test)]
#[path = "pairing_tests.rs"]
mod tests;
