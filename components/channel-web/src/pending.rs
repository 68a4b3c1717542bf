//! Naming the answers kept for sessions with no open connection.
//!
//! An answer that cannot be delivered is stored in memory under
//! `pending/SESSION/SEQ` and delivered, in order, when a connection of that
//! session sends its first frame. `SEQ` is zero-padded to 20 digits so that
//! the byte order `memory.list-keys` returns is the order of sending. The
//! next `SEQ` of a session is kept under `pending-next/SESSION`, outside the
//! listed prefix, so that numbering never goes backwards even when the
//! listing (capped by the host) cannot show the last key. Nothing here
//! calls the host.

/// The prefix of every pending key.
pub const PREFIX: &str = "pending/";
/// How many keys to list at once when delivering.
pub const LIST_BATCH: u32 = 100;
/// The most keys the host lists in one call.
pub const LIST_MAX: u32 = 10_000;

/// The prefix of `session`'s pending keys, `pending/SESSION/`.
pub fn session_prefix(session: &str) -> String {
    format!("{PREFIX}{session}/")
}

/// The key of `session`'s pending answer number `seq`.
pub fn key(session: &str, seq: u64) -> String {
    format!("{PREFIX}{session}/{seq:020}")
}

/// The key holding `session`'s next sequence number.
pub fn counter_key(session: &str) -> String {
    format!("pending-next/{session}")
}

/// The sequence number at the end of a pending key.
pub fn seq_of(key: &str) -> Option<u64> {
    let (_, seq) = key.rsplit_once('/')?;
    if seq.len() != 20 {
        return None;
    }
    seq.parse().ok()
}

/// The sequence number for the next pending answer: past both the stored
/// counter and every listed key (in case the counter was lost).
pub fn next_seq(counter: Option<&[u8]>, listed: &[String]) -> u64 {
    let counter = counter
        .and_then(|bytes| std::str::from_utf8(bytes).ok())
        .and_then(|text| text.trim().parse::<u64>().ok())
        .unwrap_or(0);
    let after_listed = listed
        .iter()
        .filter_map(|k| seq_of(k))
        .max()
        .map_or(0, |seq| seq + 1);
    counter.max(after_listed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_in_sending_order() {
        let mut keys: Vec<String> = [10, 9, 100, 0, 11]
            .into_iter()
            .map(|seq| key("web:abcdefgh", seq))
            .collect();
        keys.sort();
        let seqs: Vec<u64> = keys.iter().map(|k| seq_of(k).unwrap()).collect();
        assert_eq!(seqs, vec![0, 9, 10, 11, 100]);
        assert_eq!(key("web:x", 3), "pending/web:x/00000000000000000003");
        assert!(key("web:x", 3).starts_with(&session_prefix("web:x")));
        assert!(!counter_key("web:x").starts_with(PREFIX));
    }

    #[test]
    fn the_next_number_passes_counter_and_keys() {
        assert_eq!(next_seq(None, &[]), 0);
        assert_eq!(next_seq(Some(b"5"), &[]), 5);
        let listed = vec![key("web:x", 3), key("web:x", 8)];
        assert_eq!(next_seq(Some(b"5"), &listed), 9);
        assert_eq!(next_seq(Some(b"12"), &listed), 12);
        assert_eq!(next_seq(Some(b"junk"), &listed), 9);
        assert_eq!(seq_of("pending/web:x/12"), None, "not one of ours");
        assert_eq!(seq_of("nonsense"), None);
    }
}
