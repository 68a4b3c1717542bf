//! Splitting long answers into messages of at most [`MAX_CHARS`]
//! characters.
//!
//! A chunk ends, by preference, at the last paragraph boundary (a blank
//! line) that fits, else at the last line break, else exactly at the
//! limit, always between characters (Unicode scalar values), so no
//! character is ever cut. The same algorithm as channel-telegram's,
//! counting characters rather than UTF-16 units.

/// The longest message the channel sends, in characters (reported to the
/// host as `max_message_length`).
pub const MAX_CHARS: usize = 4096;

/// `text` in chunks of at most `max` characters (at least one character
/// each, whatever `max`). The separators a cut falls on are dropped; no
/// chunk is empty or only whitespace.
pub fn split(text: &str, max: usize) -> Vec<String> {
    let mut chunks = Vec::new();
    let mut rest = text;
    loop {
        rest = rest.trim_start_matches(['\n', '\r']);
        if rest.trim().is_empty() {
            return chunks;
        }
        let fit = fitting_prefix(rest, max);
        if fit == rest.len() {
            chunks.push(rest.trim_end().to_string());
            return chunks;
        }
        let window = &rest[..fit];
        let (end, next) = if let Some(i) = window.rfind("\n\n").filter(|i| *i > 0) {
            (i, i + 2)
        } else if let Some(i) = window.rfind('\n').filter(|i| *i > 0) {
            (i, i + 1)
        } else {
            (fit, fit)
        };
        let chunk = rest[..end].trim_end();
        if !chunk.trim().is_empty() {
            chunks.push(chunk.to_string());
        }
        rest = &rest[next..];
    }
}

/// The byte length of the longest prefix of `text` that is at most `max`
/// characters, and at least one character.
fn fitting_prefix(text: &str, max: usize) -> usize {
    match text.char_indices().nth(max.max(1)) {
        Some((i, _)) => i,
        None => text.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_one_chunk() {
        assert_eq!(split("hello", MAX_CHARS), vec!["hello"]);
        assert_eq!(split(&"a".repeat(4096), MAX_CHARS).len(), 1);
        assert!(split("", 10).is_empty());
        assert!(split("\n\n  \n", 10).is_empty());
    }

    #[test]
    fn prefers_a_paragraph_boundary() {
        let text = "first para\nline two\n\nsecond para is long";
        assert_eq!(
            split(text, 25),
            vec!["first para\nline two", "second para is long"]
        );
        // A later line break does not win over an earlier blank line.
        assert_eq!(
            split("aaa\n\nbbb\nccc\nddd", 13),
            vec!["aaa", "bbb\nccc\nddd"]
        );
    }

    #[test]
    fn then_a_line_boundary() {
        assert_eq!(split("aaaa\nbbbb\ncccc", 11), vec!["aaaa\nbbbb", "cccc"]);
    }

    #[test]
    fn then_a_hard_cut() {
        assert_eq!(split("abcdefghij", 4), vec!["abcd", "efgh", "ij"]);
        assert_eq!(split(&"a".repeat(4097), MAX_CHARS).len(), 2);
    }

    #[test]
    fn counts_characters_and_never_cuts_one() {
        // Multi-byte characters count once each.
        assert_eq!(split("ééé", 3), vec!["ééé"]);
        assert_eq!(split("😀😀😀", 2), vec!["😀😀", "😀"]);
        assert_eq!(split("😀a", 0), vec!["😀", "a"]);
    }

    #[test]
    fn long_texts_fit() {
        let para = "wörd ".repeat(300);
        let text = [para.trim(); 10].join("\n\n");
        let chunks = split(&text, MAX_CHARS);
        assert!(chunks.len() > 1);
        for chunk in &chunks {
            assert!(chunk.chars().count() <= MAX_CHARS);
            assert!(
                chunk.starts_with("wörd") && chunk.ends_with("wörd"),
                "cut mid-paragraph"
            );
        }
        let words: usize = chunks.iter().map(|c| c.split_whitespace().count()).sum();
        assert_eq!(words, 3000);
    }
}
