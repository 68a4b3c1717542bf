//! Splitting long answers into messages Telegram accepts: at most 4096
//! UTF-16 code units each, Telegram's own count, cut as
//! [`openpista_sdk::text`] describes (paragraph, then line, then a hard
//! boundary; never inside a surrogate pair).

use openpista_sdk::text::{Measure, split_message};

/// Longest message Telegram accepts, in UTF-16 code units.
pub const MAX_UNITS: usize = 4096;

/// `text` in chunks of at most `max` UTF-16 code units.
pub fn split(text: &str, max: usize) -> Vec<String> {
    split_message(text, max, Measure::Utf16)
}

/// The length of `text` as Telegram counts it.
pub fn utf16_len(text: &str) -> usize {
    Measure::Utf16.len(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_utf16_and_never_cuts_a_surrogate_pair() {
        // Each emoji is two UTF-16 units (one surrogate pair).
        assert_eq!(utf16_len("😀😀😀"), 6);
        assert_eq!(split("😀😀😀", 3), vec!["😀", "😀", "😀"]);
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
            assert!(chunk.starts_with("word") && chunk.ends_with("word"));
        }
    }
}
