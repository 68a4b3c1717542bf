//! Splitting long answers into messages Telegram accepts.
//!
//! Telegram counts a message's length in UTF-16 code units (4096 at
//! most), so this does too. A chunk ends, by preference, at the last
//! paragraph boundary (a blank line) that fits, else at the last line
//! break, else exactly at the limit, always between characters, so a
//! surrogate pair is never cut.

/// Longest message Telegram accepts, in UTF-16 code units.
pub const MAX_UNITS: usize = 4096;

/// `text` in chunks of at most `max` UTF-16 code units (at least one
/// character each, whatever `max`). The separators a cut falls on are
/// dropped; no chunk is empty.
pub fn split(text: &str, max: usize) -> Vec<String> {
    let mut chunks = Vec::new();
    let mut rest = text;
    loop {
        rest = rest.trim_start_matches(['\n', '\r']);
        if rest.is_empty() {
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
        if !chunk.is_empty() {
            chunks.push(chunk.to_string());
        }
        rest = &rest[next..];
    }
}

/// The byte length of the longest prefix of `text` that is at most `max`
/// UTF-16 code units, and at least one character.
fn fitting_prefix(text: &str, max: usize) -> usize {
    let mut units = 0;
    for (i, c) in text.char_indices() {
        units += c.len_utf16();
        if units > max {
            return if i == 0 { c.len_utf8() } else { i };
        }
    }
    text.len()
}

/// The length of `text` as Telegram counts it.
pub fn utf16_len(text: &str) -> usize {
    text.encode_utf16().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_one_chunk() {
        assert_eq!(split("hello", 4096), vec!["hello"]);
        assert!(split("", 10).is_empty());
        assert!(split("\n\n", 10).is_empty());
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
        let text = "aaaa\nbbbb\ncccc";
        assert_eq!(split(text, 11), vec!["aaaa\nbbbb", "cccc"]);
    }

    #[test]
    fn then_a_hard_cut() {
        let text = "abcdefghij";
        assert_eq!(split(text, 4), vec!["abcd", "efgh", "ij"]);
    }

    #[test]
    fn counts_utf16_and_never_cuts_a_surrogate_pair() {
        // Each emoji is two UTF-16 units (one surrogate pair).
        let text = "😀😀😀";
        assert_eq!(utf16_len(text), 6);
        let chunks = split(text, 3);
        assert_eq!(chunks, vec!["😀", "😀", "😀"]);
        // One unit is too little for a pair: the character still goes alone.
        assert_eq!(split("😀a", 1), vec!["😀", "a"]);
        // BMP characters are one unit although several UTF-8 bytes.
        assert_eq!(split("ééé", 3), vec!["ééé"]);
    }

    #[test]
    fn long_texts_fit_telegram() {
        let para = "word ".repeat(300);
        let text = [para.trim(); 10].join("\n\n");
        let chunks = split(&text, MAX_UNITS);
        assert!(chunks.len() > 1);
        for chunk in &chunks {
            assert!(utf16_len(chunk) <= MAX_UNITS);
            assert!(
                chunk.starts_with("word") && chunk.ends_with("word"),
                "cut mid-paragraph"
            );
        }
        let words: usize = chunks.iter().map(|c| c.split_whitespace().count()).sum();
        assert_eq!(words, 3000);
    }
}
