//! Splitting a long answer into messages a messenger accepts.
//!
//! A chunk ends, by preference, at the last paragraph boundary (a blank
//! line) that fits, else at the last line break, else exactly at the limit,
//! always between characters, so no character (and no UTF-16 surrogate
//! pair) is ever cut. The separators a cut falls on are dropped, and no
//! chunk is empty or only whitespace. Messengers count length differently,
//! so the caller says how ([`Measure`]).

/// How a messenger counts a message's length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Measure {
    /// Unicode scalar values (`char`s).
    Chars,
    /// UTF-16 code units, as Telegram counts them.
    Utf16,
}

impl Measure {
    fn of(self, c: char) -> usize {
        match self {
            Measure::Chars => 1,
            Measure::Utf16 => c.len_utf16(),
        }
    }

    /// The length of `text` in this measure.
    pub fn len(self, text: &str) -> usize {
        text.chars().map(|c| self.of(c)).sum()
    }
}

/// `text` in chunks of at most `max` (in `measure`), at least one character
/// each whatever `max` is.
pub fn split_message(text: &str, max: usize, measure: Measure) -> Vec<String> {
    let mut chunks = Vec::new();
    let mut rest = text;
    loop {
        rest = rest.trim_start_matches(['\n', '\r']);
        if rest.trim().is_empty() {
            return chunks;
        }
        let fit = fitting_prefix(rest, max, measure);
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

/// The byte length of the longest prefix of `text` of at most `max`, and
/// at least one character.
fn fitting_prefix(text: &str, max: usize, measure: Measure) -> usize {
    let mut used = 0;
    for (i, c) in text.char_indices() {
        used += measure.of(c);
        if used > max {
            return if i == 0 { c.len_utf8() } else { i };
        }
    }
    text.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(text: &str, max: usize) -> Vec<String> {
        split_message(text, max, Measure::Chars)
    }

    #[test]
    fn short_and_empty_texts() {
        assert_eq!(split("hello", 4096), vec!["hello"]);
        assert!(split("", 10).is_empty());
        assert!(split("\n\n  \n", 10).is_empty());
    }

    #[test]
    fn a_paragraph_then_a_line_then_a_hard_cut() {
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
        assert_eq!(split("aaaa\nbbbb\ncccc", 11), vec!["aaaa\nbbbb", "cccc"]);
        assert_eq!(split("abcdefghij", 4), vec!["abcd", "efgh", "ij"]);
    }

    #[test]
    fn the_measure_decides_what_fits_and_nothing_is_cut_inside() {
        // Each emoji is one char and two UTF-16 units.
        assert_eq!(split("😀😀😀", 2), vec!["😀😀", "😀"]);
        assert_eq!(
            split_message("😀😀😀", 3, Measure::Utf16),
            vec!["😀", "😀", "😀"]
        );
        assert_eq!(Measure::Utf16.len("😀é"), 3);
        // Too little room for one character: it still goes alone.
        assert_eq!(split_message("😀a", 1, Measure::Utf16), vec!["😀", "a"]);
        assert_eq!(split("ééé", 3), vec!["ééé"]);
    }

    #[test]
    fn long_texts_are_cut_between_paragraphs() {
        let para = "wörd ".repeat(300);
        let text = [para.trim(); 10].join("\n\n");
        let chunks = split(&text, 4096);
        assert!(chunks.len() > 1);
        for chunk in &chunks {
            assert!(chunk.chars().count() <= 4096);
            assert!(chunk.starts_with("wörd") && chunk.ends_with("wörd"));
        }
        let words: usize = chunks.iter().map(|c| c.split_whitespace().count()).sum();
        assert_eq!(words, 3000);
    }
}
