//! Conversation ids: what the host makes sessions of (`slack:ID`).
//!
//! - `CHANNEL:THREAD_TS`: a thread, in a channel or a direct message. A
//!   mention in a channel that is not in a thread starts one at the
//!   mention's own `ts`, so the answer goes in a thread under it and the
//!   thread is the session.
//! - `CHANNEL`: a direct message outside any thread.
//!
//! Channel ids (`C…`, `G…`, `D…`) have no `:`, and `ts` values are
//! `SECONDS.MICROS`, so the split is unambiguous.

/// The conversation of a message in `channel`; `thread_ts` is the thread
/// it is in (or starts).
pub fn of(channel: &str, thread_ts: Option<&str>) -> String {
    match thread_ts.filter(|t| !t.is_empty()) {
        Some(ts) => format!("{channel}:{ts}"),
        None => channel.to_string(),
    }
}

/// The channel and thread of a conversation, for `chat.postMessage`.
pub fn split(conversation: &str) -> (&str, Option<&str>) {
    match conversation.split_once(':') {
        Some((channel, ts)) if !ts.is_empty() => (channel, Some(ts)),
        Some((channel, _)) => (channel, None),
        None => (conversation, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_and_plain_direct_messages() {
        assert_eq!(of("C1", Some("1700000000.000100")), "C1:1700000000.000100");
        assert_eq!(of("D1", None), "D1");
        assert_eq!(of("D1", Some("")), "D1");
        assert_eq!(
            split("C1:1700000000.000100"),
            ("C1", Some("1700000000.000100"))
        );
        assert_eq!(split("D1"), ("D1", None));
        assert_eq!(split("D1:"), ("D1", None));
    }
}
