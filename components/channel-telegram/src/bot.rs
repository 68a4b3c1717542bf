//! The bot's own identity, from `getMe`.
//!
//! Kept in a static for the group filter and `/status`, and as JSON under
//! the memory key [`MEMORY_KEY`] for the host's `openpista telegram
//! status` and for instances that start without calling `getMe` again.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Memory key of the identity, as JSON `{"id":..,"username":..,"first_name":..}`.
pub const MEMORY_KEY: &str = "bot";

/// Who the bot is.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct BotIdentity {
    pub id: i64,
    /// Without the `@`; every bot has one.
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub first_name: String,
}

impl BotIdentity {
    /// The identity in a `getMe` result; the error says what was missing.
    pub fn from_get_me(result: &Value) -> Result<BotIdentity, String> {
        let identity = BotIdentity::deserialize(result)
            .map_err(|e| format!("getMe returned an unexpected user: {e}"))?;
        if identity.username.is_empty() {
            return Err("getMe returned a user without a username".into());
        }
        Ok(identity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_get_me() {
        let me = BotIdentity::from_get_me(&json!({
            "id": 123, "is_bot": true, "first_name": "Pista", "username": "pista_bot",
            "can_join_groups": true
        }))
        .unwrap();
        assert_eq!(
            me,
            BotIdentity {
                id: 123,
                username: "pista_bot".into(),
                first_name: "Pista".into()
            }
        );
        let stored = serde_json::to_value(&me).unwrap();
        assert_eq!(
            stored,
            json!({"id": 123, "username": "pista_bot", "first_name": "Pista"})
        );
    }

    #[test]
    fn refuses_what_is_not_a_bot_user() {
        assert!(BotIdentity::from_get_me(&json!({"id": 1})).is_err());
        assert!(BotIdentity::from_get_me(&json!("x")).is_err());
    }
}
