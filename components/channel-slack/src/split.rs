//! Splitting converted text at Slack's practical limit, without breaking
//! a code block: a chunk that ends inside a fence closes it, and the next
//! chunk opens it again.
//!
//! The host already splits answers at [`MAX_CHARS`] before `send`; this
//! is the defence for what the mrkdwn conversion lengthened (`&` →
//! `&amp;`). Cuts fall at a paragraph, else a line, else at the limit
//! (the SDK's `text::split_message`).

use openpista_sdk::text::{Measure, split_message};

use crate::mrkdwn::is_fence;

/// Slack truncates `text` beyond 40 000 characters and advises at most
/// 4 000 per message.
pub const MAX_CHARS: usize = 4000;
/// Room kept for a closing and an opening fence.
const FENCE_ROOM: usize = 8;

/// `text` in chunks of at most `max` characters.
pub fn split(text: &str, max: usize) -> Vec<String> {
    if text.chars().count() <= max {
        return if text.trim().is_empty() {
            Vec::new()
        } else {
            vec![text.to_string()]
        };
    }
    let mut chunks = Vec::new();
    let mut open = false;
    for piece in split_message(text, max.saturating_sub(FENCE_ROOM).max(1), Measure::Chars) {
        let mut chunk = if open {
            format!("```\n{piece}")
        } else {
            piece.clone()
        };
        let fences = piece.lines().filter(|l| is_fence(l)).count();
        if fences % 2 == 1 {
            open = !open;
        }
        if open {
            chunk.push_str("\n```");
        }
        chunks.push(chunk);
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_texts_are_one_chunk() {
        assert_eq!(split("hi", 10), vec!["hi"]);
        assert!(split("  ", 10).is_empty());
    }

    #[test]
    fn cuts_prefer_paragraphs_and_stay_under_the_limit() {
        let text = format!("{}\n\n{}", "a".repeat(30), "b".repeat(30));
        let chunks = split(&text, 40);
        assert_eq!(chunks, vec!["a".repeat(30), "b".repeat(30)]);
        let long = "word ".repeat(3000);
        for c in split(&long, MAX_CHARS) {
            assert!(c.chars().count() <= MAX_CHARS);
        }
    }

    #[test]
    fn a_fence_cut_in_two_is_closed_and_reopened() {
        let code: Vec<String> = (0..20).map(|i| format!("line {i:02}")).collect();
        let text = format!("intro\n```\n{}\n```\nend", code.join("\n"));
        let chunks = split(&text, 60);
        assert!(chunks.len() > 2, "{chunks:?}");
        for c in &chunks {
            assert!(c.chars().count() <= 60, "{c}");
            let fences = c.lines().filter(|l| is_fence(l)).count();
            assert_eq!(fences % 2, 0, "balanced: {c}");
        }
        assert!(chunks[1].starts_with("```\n"));
        assert!(chunks.last().unwrap().ends_with("end"));
    }
}
