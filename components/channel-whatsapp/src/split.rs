//! Splitting long answers into messages of at most [`MAX_CHARS`]
//! characters, cut as [`openpista_sdk::text`] describes (paragraph, then
//! line, then a hard boundary; never inside a character).

use openpista_sdk::text::{Measure, split_message};

/// The longest message the channel sends, in characters (reported to the
/// host as `max_message_length`).
pub const MAX_CHARS: usize = 4096;

/// `text` in chunks of at most `max` characters.
pub fn split(text: &str, max: usize) -> Vec<String> {
    split_message(text, max, Measure::Chars)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_thousand_ninety_six_characters_fit_one_message() {
        assert_eq!(split(&"é".repeat(4096), MAX_CHARS).len(), 1);
        assert_eq!(split(&"é".repeat(4097), MAX_CHARS).len(), 2);
        assert!(split("\n\n  \n", 10).is_empty());
    }
}
