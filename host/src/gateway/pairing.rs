//! Pairing: how an owner lets a new person talk to the agent.
//!
//! A messenger channel never accepts an unknown sender silently. It answers
//! a private message from someone outside `allowed_users` with a pairing
//! code and keeps the request in its own memory; the owner approves it with
//! `openpista pairing approve CHANNEL CODE`, which this module carries out
//! on the channel component's key-value store. The keys are the channel's
//! (`channel-telegram`):
//!
//! - `pairing/pending/CODE`: `{"user_id", "chat_id", "username", "created_ms"}`
//! - `pairing/user/USER_ID`: the user's pending code, so a repeat message
//!   gets the same one
//! - `pairing/approved/USER_ID`: `{"approved_ms", "username"}`, read by the
//!   channel on every message

use crate::memory::MemoryStore;
use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

/// A request waiting for the owner.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Pending {
    #[serde(default)]
    pub code: String,
    /// The sender in the messenger's terms: a Telegram user id (a number),
    /// a WhatsApp JID (text).
    #[serde(deserialize_with = "number_or_text")]
    pub user_id: String,
    #[serde(default)]
    pub chat_id: Option<i64>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub created_ms: u64,
}

/// Someone the owner approved.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Approved {
    #[serde(default)]
    pub user_id: String,
    pub approved_ms: u64,
    #[serde(default)]
    pub username: Option<String>,
}

/// A user id written as a JSON number (Telegram) or string (WhatsApp).
fn number_or_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => Ok(s),
        serde_json::Value::Number(n) => Ok(n.to_string()),
        other => Err(serde::de::Error::custom(format!(
            "user_id must be a number or a string, not {other}"
        ))),
    }
}

/// The component that keeps `channel`'s pairing state (`telegram` →
/// `channel-telegram`).
pub fn component_of(channel: &str) -> Result<String> {
    if channel.is_empty() || !channel.bytes().all(|b| b.is_ascii_lowercase() || b == b'-') {
        bail!("{channel:?} is not a channel name (telegram, whatsapp)");
    }
    Ok(format!("channel-{channel}"))
}

/// A code as typed by a person: case and separators do not matter.
pub fn normalize(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// Pending requests and approved users of `channel`.
pub fn list(memory: &MemoryStore, channel: &str) -> Result<(Vec<Pending>, Vec<Approved>)> {
    let component = component_of(channel)?;
    let mut pending = Vec::new();
    for key in memory.kv_list(&component, "pairing/pending/", 1000)? {
        if let Some(bytes) = memory.kv_get(&component, &key)? {
            let mut p: Pending = serde_json::from_slice(&bytes)
                .with_context(|| format!("{component} memory {key} is not a pairing request"))?;
            p.code = key["pairing/pending/".len()..].to_string();
            pending.push(p);
        }
    }
    let mut approved = Vec::new();
    for key in memory.kv_list(&component, "pairing/approved/", 1000)? {
        if let Some(bytes) = memory.kv_get(&component, &key)? {
            let mut a: Approved = serde_json::from_slice(&bytes)
                .with_context(|| format!("{component} memory {key} is not an approval"))?;
            a.user_id = key["pairing/approved/".len()..]
                .parse()
                .unwrap_or(a.user_id);
            approved.push(a);
        }
    }
    Ok((pending, approved))
}

/// Approves the request with `code` of `channel`: its sender may talk to
/// the agent from now on. An unknown code is an error that lists the
/// pending ones.
pub fn approve(memory: &MemoryStore, channel: &str, code: &str, now_ms: u64) -> Result<Pending> {
    let component = component_of(channel)?;
    let code = normalize(code);
    let key = format!("pairing/pending/{code}");
    let Some(bytes) = memory.kv_get(&component, &key)? else {
        let (pending, _) = list(memory, channel)?;
        let codes: Vec<&str> = pending.iter().map(|p| p.code.as_str()).collect();
        bail!(
            "no pending {channel} pairing request has the code {code} (pending: {})",
            if codes.is_empty() {
                "none".to_string()
            } else {
                codes.join(", ")
            }
        );
    };
    let mut request: Pending = serde_json::from_slice(&bytes)
        .with_context(|| format!("{component} memory {key} is not a pairing request"))?;
    request.code = code;
    let approval = Approved {
        user_id: request.user_id.clone(),
        approved_ms: now_ms,
        username: request.username.clone(),
    };
    memory.kv_set(
        &component,
        &format!("pairing/approved/{}", request.user_id),
        &serde_json::to_vec(&approval)?,
    )?;
    memory.kv_delete(&component, &key)?;
    memory.kv_delete(&component, &format!("pairing/user/{}", request.user_id))?;
    Ok(request)
}

/// Withdraws `user_id`'s approval; false when there was none.
pub fn revoke(memory: &MemoryStore, channel: &str, user_id: &str) -> Result<bool> {
    let component = component_of(channel)?;
    memory.kv_delete(&component, &format!("pairing/approved/{user_id}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, MemoryStore) {
        let dir = tempfile::tempdir().unwrap();
        let m = MemoryStore::open(&dir.path().join("m.redb")).unwrap();
        (dir, m)
    }

    fn request(m: &MemoryStore, code: &str, user: i64) {
        let p = serde_json::json!({"user_id": user, "chat_id": user, "username": "ann", "created_ms": 5});
        m.kv_set(
            "channel-telegram",
            &format!("pairing/pending/{code}"),
            p.to_string().as_bytes(),
        )
        .unwrap();
        m.kv_set(
            "channel-telegram",
            &format!("pairing/user/{user}"),
            code.as_bytes(),
        )
        .unwrap();
    }

    #[test]
    fn approving_a_code_moves_its_sender_to_approved() {
        let (_d, m) = store();
        request(&m, "K7QMXPA2", 42);
        let (pending, approved) = list(&m, "telegram").unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].code, "K7QMXPA2");
        assert!(approved.is_empty());

        let p = approve(&m, "telegram", "k7qm-xpa2", 99).unwrap();
        assert_eq!(p.user_id, "42");
        let (pending, approved) = list(&m, "telegram").unwrap();
        assert!(pending.is_empty());
        assert_eq!(approved.len(), 1);
        assert_eq!(approved[0].user_id, "42");
        assert_eq!(approved[0].approved_ms, 99);
        assert!(
            m.kv_get("channel-telegram", "pairing/user/42")
                .unwrap()
                .is_none()
        );
        assert!(revoke(&m, "telegram", "42").unwrap());
        assert!(list(&m, "telegram").unwrap().1.is_empty());
    }

    #[test]
    fn an_unknown_code_is_refused_and_the_pending_ones_named() {
        let (_d, m) = store();
        request(&m, "AAAABBBB", 1);
        let e = approve(&m, "telegram", "ZZZZ", 1).unwrap_err().to_string();
        assert!(e.contains("ZZZZ") && e.contains("AAAABBBB"), "{e}");
        assert!(
            list(&m, "telegram").unwrap().1.is_empty(),
            "nobody approved"
        );
        assert!(component_of("Tele gram").is_err());
    }
}
