//! Pairing: how an unknown sender asks the owner for access.
//!
//! The sender gets a code; the owner runs `openpista pairing approve
//! whatsapp CODE`, and the host (not this component) turns the pending
//! record into `pairing/approved/{user_id}`. The user id is the sender's
//! JID (`15551234567@s.whatsapp.net` or `12345@lid`). Memory layout, as
//! channel-telegram's except that ids are strings:
//!
//! - `pairing/pending/{CODE}`: JSON [`Pending`]
//! - `pairing/user/{JID}`: the sender's current code, so that asking again
//!   gives the same code
//! - `pairing/approved/{JID}`: exists once the owner approved
//!
//! Codes are 8 characters from an alphabet without look-alikes (no `0`,
//! `O`, `1`, `I`), made from random bytes the glue passes in.

use serde::{Deserialize, Serialize};

/// The characters of a code: 32 of them, so `byte % 32` is unbiased.
pub const ALPHABET: &[u8; 32] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
/// Characters in a code.
pub const CODE_LEN: usize = 8;

/// What the host reads to approve a code.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct Pending {
    /// The sender's JID.
    pub user_id: String,
    /// Always `null`: the reply goes to the JID itself.
    pub chat_id: Option<String>,
    /// The sender's WhatsApp display name, when known.
    pub username: Option<String>,
    pub created_ms: u64,
}

/// Memory key of the pending request with this code.
pub fn pending_key(code: &str) -> String {
    format!("pairing/pending/{code}")
}

/// Memory key holding this sender's current code.
pub fn user_key(user_id: &str) -> String {
    format!("pairing/user/{user_id}")
}

/// Memory key that exists when this sender was approved.
pub fn approved_key(user_id: &str) -> String {
    format!("pairing/approved/{user_id}")
}

/// A code from [`CODE_LEN`] random bytes.
pub fn code_from_bytes(bytes: &[u8; CODE_LEN]) -> String {
    bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect()
}

/// The code to reuse for `user_id`: the one `pairing/user/{user_id}`
/// names (`existing`), when its pending record (`pending`) is still there
/// and is this sender's.
pub fn reusable(
    existing: Option<&str>,
    pending: Option<&Pending>,
    user_id: &str,
) -> Option<String> {
    let code = existing?.trim();
    let valid = code.len() == CODE_LEN && code.bytes().all(|b| ALPHABET.contains(&b));
    (valid && pending.is_some_and(|p| p.user_id == user_id)).then(|| code.to_string())
}

/// The reply to an unknown sender.
pub fn reply_text(code: &str) -> String {
    format!(
        "This assistant is private. Your pairing code is {code}. Ask the owner to run: \
         openpista pairing approve whatsapp {code}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANN: &str = "15551234567@s.whatsapp.net";

    #[test]
    fn codes_use_the_unambiguous_alphabet() {
        assert_eq!(
            code_from_bytes(&[0, 1, 31, 32, 255, 8, 24, 100]),
            "AB9A9J2E"
        );
        let all: Vec<u8> = (0..=255).collect();
        for chunk in all.chunks(CODE_LEN) {
            let code = code_from_bytes(chunk.try_into().unwrap());
            assert_eq!(code.len(), CODE_LEN);
            assert!(!code.contains(['0', 'O', '1', 'I']), "{code}");
        }
        let distinct: std::collections::BTreeSet<_> = ALPHABET.iter().collect();
        assert_eq!(distinct.len(), 32);
    }

    #[test]
    fn keys_and_record() {
        assert_eq!(pending_key("ABCD2345"), "pairing/pending/ABCD2345");
        assert_eq!(user_key(ANN), "pairing/user/15551234567@s.whatsapp.net");
        assert_eq!(approved_key("12345@lid"), "pairing/approved/12345@lid");
        let p = Pending {
            user_id: ANN.into(),
            chat_id: None,
            username: Some("Ann".into()),
            created_ms: 7,
        };
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            r#"{"user_id":"15551234567@s.whatsapp.net","chat_id":null,"username":"Ann","created_ms":7}"#
        );
    }

    #[test]
    fn reuse_only_a_live_code_of_the_same_sender() {
        let mine = Pending {
            user_id: ANN.into(),
            chat_id: None,
            username: None,
            created_ms: 0,
        };
        let other = Pending {
            user_id: "12345@lid".into(),
            ..mine.clone()
        };
        assert_eq!(
            reusable(Some("ABCD2345\n"), Some(&mine), ANN).as_deref(),
            Some("ABCD2345")
        );
        assert_eq!(reusable(Some("ABCD2345"), None, ANN), None);
        assert_eq!(reusable(Some("ABCD2345"), Some(&other), ANN), None);
        assert_eq!(reusable(Some("ABCD0345"), Some(&mine), ANN), None);
        assert_eq!(reusable(Some("bad"), Some(&mine), ANN), None);
        assert_eq!(reusable(None, Some(&mine), ANN), None);
    }

    #[test]
    fn the_reply_names_the_command() {
        assert_eq!(
            reply_text("ABCD2345"),
            "This assistant is private. Your pairing code is ABCD2345. Ask the owner to run: \
             openpista pairing approve whatsapp ABCD2345"
        );
    }
}
