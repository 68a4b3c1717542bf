//! `text.stats`: how long a text is.

use serde::Deserialize;
use serde_json::{Value, json};

/// Arguments of `text.stats`.
#[derive(Debug, Deserialize)]
pub struct StatsArgs {
    pub text: String,
}

/// Characters (Unicode scalar values), words (runs of non-whitespace),
/// lines (a final line break does not start a new line) and UTF-8 bytes.
pub fn stats(text: &str) -> Value {
    json!({
        "characters": text.chars().count(),
        "words": text.split_whitespace().count(),
        "lines": text.lines().count(),
        "bytes": text.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts() {
        let s = stats("héllo wörld\nsecond  line\n");
        assert_eq!(s["characters"], 25);
        assert_eq!(s["words"], 4);
        assert_eq!(s["lines"], 2);
        assert_eq!(s["bytes"], 27);
    }

    #[test]
    fn empty_and_blank() {
        assert_eq!(
            stats(""),
            json!({"characters": 0, "words": 0, "lines": 0, "bytes": 0})
        );
        let s = stats("\n\n");
        assert_eq!(
            (s["words"].as_u64(), s["lines"].as_u64()),
            (Some(0), Some(2))
        );
        let s = stats("a\r\nb");
        assert_eq!(s["lines"], 2);
    }
}
