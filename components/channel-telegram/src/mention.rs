//! `@bot_username` mentions: finding them (the group filter) and removing
//! them from the text the agent reads.
//!
//! Matching ignores ASCII case, as Telegram usernames do, and a mention
//! must end where the username ends (`@pista_bot2` is not `@pista_bot`).
//! It may follow any character, so `/start@pista_bot` is found as well.

/// Whether `text` mentions `@username`.
pub fn mentions(text: &str, username: &str) -> bool {
    !username.is_empty() && next_mention(text.as_bytes(), username.as_bytes(), 0).is_some()
}

/// `text` without its `@username` mentions. The space the mention leaves
/// is closed up, a `,` or `:` right after a leading mention goes with it
/// (`@bot, hi` reads `hi`), and the result is trimmed.
pub fn strip(text: &str, username: &str) -> String {
    if username.is_empty() {
        return text.trim().to_string();
    }
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut pos = 0;
    while let Some(at) = next_mention(bytes, username.as_bytes(), pos) {
        out.push_str(&text[pos..at]);
        let mut after = at + 1 + username.len();
        let leading = out.trim().is_empty();
        if leading && matches!(bytes.get(after), Some(b',' | b':')) {
            after += 1;
        }
        let before_space = out.is_empty() || out.ends_with(char::is_whitespace);
        if before_space && matches!(bytes.get(after), Some(b' ' | b'\t')) {
            after += 1;
        }
        pos = after;
    }
    out.push_str(&text[pos..]);
    out.trim().to_string()
}

/// The byte offset of the next `@username` at or after `from`.
fn next_mention(text: &[u8], username: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while i < text.len() {
        if text[i] == b'@' {
            let start = i + 1;
            let end = start + username.len();
            if end <= text.len()
                && text[start..end].eq_ignore_ascii_case(username)
                && !text.get(end).is_some_and(|b| is_username_byte(*b))
            {
                return Some(i);
            }
        }
        i += 1;
    }
    None
}

fn is_username_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOT: &str = "pista_bot";

    #[test]
    fn finds_mentions_in_any_case_and_after_commands() {
        assert!(mentions("hey @pista_bot", BOT));
        assert!(mentions("hey @Pista_BOT!", BOT));
        assert!(mentions("/status@pista_bot", BOT));
        assert!(mentions("ünïcødé @pista_bot", BOT));
        assert!(!mentions("hey @pista_bot2", BOT));
        assert!(!mentions("hey @pista", BOT));
        assert!(!mentions("hey pista_bot", BOT));
        assert!(!mentions("anything", ""));
    }

    #[test]
    fn strips_mentions_and_closes_the_gap() {
        assert_eq!(
            strip("@pista_bot what time is it?", BOT),
            "what time is it?"
        );
        assert_eq!(strip("what time is it @PISTA_BOT", BOT), "what time is it");
        assert_eq!(strip("ask @pista_bot now", BOT), "ask now");
        assert_eq!(strip("@pista_bot, hi", BOT), "hi");
        assert_eq!(strip("@pista_bot: hi", BOT), "hi");
        assert_eq!(strip("/model@pista_bot gpt-5", BOT), "/model gpt-5");
        assert_eq!(strip("@pista_bot2 stays", BOT), "@pista_bot2 stays");
        assert_eq!(strip("a, @pista_bot, b", BOT), "a, , b");
        assert_eq!(strip("é@pista_bot é", BOT), "é é");
    }
}
