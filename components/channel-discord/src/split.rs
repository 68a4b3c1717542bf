//! Splitting text into messages Discord accepts: at most [`MAX_CHARS`]
//! characters (Discord counts characters, not bytes). A piece ends, by
//! preference, at the last paragraph break that fits, else the last line
//! break, else the last space, else exactly at the limit; the break a cut
//! falls on is dropped and nothing else is lost. A code fence cut open is
//! closed at the end of its piece and reopened at the start of the next,
//! so the code keeps rendering as code.

/// Longest message content Discord accepts.
pub const MAX_CHARS: usize = 2000;

/// `text` in pieces of at most `max` characters (`max` ≥ 16).
pub fn split(text: &str, max: usize) -> Vec<String> {
    let max = max.max(16);
    let mut pieces = Vec::new();
    let mut rest = text.trim_matches('\n');
    let mut reopen: Option<String> = None;
    while !rest.is_empty() {
        let prefix = reopen.take().unwrap_or_default();
        // Room for a reopened fence, and a closing one if needed.
        let budget = max.saturating_sub(prefix.chars().count() + 4).max(8);
        if prefix.is_empty() && rest.chars().count() <= max {
            pieces.push(rest.to_string());
            break;
        }
        if rest.chars().count() <= budget {
            pieces.push(format!("{prefix}{rest}"));
            break;
        }
        let (end, next) = cut(rest, budget);
        let mut piece = format!("{prefix}{}", &rest[..end]);
        if let Some(fence) = open_fence(&piece) {
            piece.push_str("\n```");
            reopen = Some(format!("{fence}\n"));
        }
        pieces.push(piece);
        rest = rest[next..].trim_start_matches('\n');
    }
    pieces.retain(|p| !p.trim().is_empty());
    pieces
}

/// Where to end a piece of at most `max` characters of `text`, and where
/// the next one starts (byte offsets).
fn cut(text: &str, max: usize) -> (usize, usize) {
    let limit = text.char_indices().nth(max).map_or(text.len(), |(i, _)| i);
    let window = &text[..limit];
    if let Some(i) = window.rfind("\n\n").filter(|i| *i > 0) {
        return (i, i + 2);
    }
    if let Some(i) = window.rfind('\n').filter(|i| *i > 0) {
        return (i, i + 1);
    }
    if let Some(i) = window.rfind(' ').filter(|i| *i > 0) {
        return (i, i + 1);
    }
    (limit, limit)
}

/// The opening line of a code fence left open at the end of `text`
/// (```` ``` ```` or ```` ```rust ````), if one is.
fn open_fence(text: &str) -> Option<String> {
    let mut open: Option<String> = None;
    for line in text.lines() {
        let t = line.trim_start();
        if t.starts_with("```") {
            open = match open {
                Some(_) => None,
                None => Some(t.trim_end().to_string()),
            };
        }
    }
    open
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chars(s: &str) -> usize {
        s.chars().count()
    }

    #[test]
    fn five_thousand_characters_make_three_pieces_and_lose_nothing() {
        let text = "word ".repeat(1000);
        let pieces = split(&text, MAX_CHARS);
        assert_eq!(pieces.len(), 3);
        assert!(pieces.iter().all(|p| chars(p) <= MAX_CHARS));
        let words: usize = pieces.iter().map(|p| p.split_whitespace().count()).sum();
        assert_eq!(words, 1000);
        assert!(pieces.iter().all(|p| p.starts_with("word")));
    }

    #[test]
    fn characters_not_bytes() {
        let text = "é".repeat(2000);
        assert_eq!(split(&text, MAX_CHARS), vec![text.clone()]);
        let emoji = "😀".repeat(2500);
        let pieces = split(&emoji, MAX_CHARS);
        assert_eq!(pieces.len(), 2);
        assert_eq!(pieces.concat(), emoji);
    }

    #[test]
    fn paragraphs_then_lines_then_words() {
        let para = format!("{}\n\n{}", "a".repeat(30), "b".repeat(30));
        assert_eq!(split(&para, 40), vec!["a".repeat(30), "b".repeat(30)]);
        let lines = format!("{}\n{}", "a".repeat(30), "b".repeat(30));
        assert_eq!(split(&lines, 40), vec!["a".repeat(30), "b".repeat(30)]);
        let words = format!("{} {}", "a".repeat(30), "b".repeat(30));
        assert_eq!(split(&words, 40), vec!["a".repeat(30), "b".repeat(30)]);
        assert_eq!(split("short", 2000), vec!["short"]);
        assert!(split("", 2000).is_empty());
    }

    #[test]
    fn code_fences_are_closed_and_reopened() {
        let code: String = (0..30).map(|i| format!("let x{i} = {i};\n")).collect();
        let text = format!("```rust\n{code}```");
        let pieces = split(&text, 200);
        assert!(pieces.len() > 1);
        for p in &pieces {
            assert!(chars(p) <= 200, "{}", chars(p));
            assert_eq!(p.matches("```").count() % 2, 0, "{p}");
        }
        assert!(pieces[1].starts_with("```rust\n"));
        let joined = pieces.join("\n");
        for i in 0..30 {
            assert!(joined.contains(&format!("let x{i} = {i};")));
        }
    }
}
