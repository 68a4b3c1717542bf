//! Client and message ids.

/// The characters of a client id: `[A-Za-z0-9_-]`, 64 of them, so each
/// random byte gives one character without bias (`byte % 64`).
const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";

/// A new client id is this long: 22 characters of 6 random bits each, 132
/// bits in all.
pub const CLIENT_ID_LEN: usize = 22;

/// A client id made of `random` bytes (one character each; pass
/// [`CLIENT_ID_LEN`] bytes from `crypto.getRandomValues`).
pub fn client_id_from(random: &[u8]) -> String {
    random
        .iter()
        .map(|b| ALPHABET[(*b % 64) as usize] as char)
        .collect()
}

/// True for a client id the server accepts: 8 to 64 characters from
/// `[A-Za-z0-9_-]` (docs/WEB_PROTOCOL.md, "Handshake").
pub fn is_valid_client_id(id: &str) -> bool {
    (8..=64).contains(&id.len()) && id.bytes().all(|b| ALPHABET.contains(&b))
}

/// Message ids `m-<base36 time>-<n>`: unique across reloads of the page
/// (the time part) and within one (the counter).
#[derive(Debug, Clone)]
pub struct MessageIds {
    prefix: String,
    next: u64,
}

impl MessageIds {
    /// Ids for a page loaded at `now_ms`.
    pub fn new(now_ms: u64) -> MessageIds {
        MessageIds {
            prefix: format!("m-{}-", base36(now_ms)),
            next: 1,
        }
    }

    /// The next id.
    pub fn next_id(&mut self) -> String {
        let id = format!("{}{}", self.prefix, self.next);
        self.next += 1;
        id
    }
}

fn base36(mut n: u64) -> String {
    let digits = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(digits[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).expect("ascii")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_ids_are_valid() {
        let bytes: Vec<u8> = (0..CLIENT_ID_LEN as u8)
            .map(|i| i.wrapping_mul(97))
            .collect();
        let id = client_id_from(&bytes);
        assert_eq!(id.len(), CLIENT_ID_LEN);
        assert!(is_valid_client_id(&id), "{id}");
        let all: Vec<u8> = (0..=255).collect();
        assert!(client_id_from(&all).bytes().all(|b| ALPHABET.contains(&b)));
    }

    #[test]
    fn validity() {
        assert!(is_valid_client_id("abcdEFGH"));
        assert!(is_valid_client_id(&"a-_9".repeat(16)));
        assert!(!is_valid_client_id("short"));
        assert!(!is_valid_client_id(&"a".repeat(65)));
        assert!(!is_valid_client_id("abcdefg!"));
        assert!(!is_valid_client_id("abcdefgé"));
    }

    #[test]
    fn message_ids_are_unique() {
        let mut ids = MessageIds::new(1_732_480_000_000);
        assert_eq!(ids.next_id(), "m-m3w1uzgg-1");
        assert_eq!(ids.next_id(), "m-m3w1uzgg-2");
        assert_eq!(base36(0), "0");
        assert_eq!(base36(35), "z");
        assert_eq!(base36(36), "10");
    }
}
