//! Fitting an answer to what its channel can carry, from what the channel
//! reported at `start`: long text is split at its `max-message-length`
//! (paragraphs first, then lines, then words, then anywhere), and files
//! go only to channels that take files; elsewhere they are named in the
//! text so nothing disappears without a word.

use crate::runtime::bindings::Attachment;

/// What a channel can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryLimits {
    /// Longest text of one message, in UTF-16 code units (the strictest
    /// count messengers use; never fewer characters than that).
    pub max_message_length: Option<u32>,
    /// Whether `status` indicators exist.
    pub typing: bool,
    /// Whether files can be sent.
    pub attachments: bool,
}

impl Default for DeliveryLimits {
    fn default() -> Self {
        DeliveryLimits {
            max_message_length: None,
            typing: true,
            attachments: true,
        }
    }
}

/// `text` and `attachments` for a channel with `limits`: files it cannot
/// carry are listed at the end of the text instead.
pub fn fit_attachments(
    text: String,
    attachments: Vec<Attachment>,
    limits: &DeliveryLimits,
) -> (String, Vec<Attachment>) {
    if limits.attachments || attachments.is_empty() {
        return (text, attachments);
    }
    let names: Vec<String> = attachments
        .iter()
        .map(|a| a.name.clone().unwrap_or_else(|| a.mime.clone()))
        .collect();
    let note = format!(
        "[{} file(s) not shown: this channel cannot carry files: {}]",
        names.len(),
        names.join(", ")
    );
    let text = if text.is_empty() {
        note
    } else {
        format!("{text}\n\n{note}")
    };
    (text, Vec::new())
}

fn units(s: &str) -> usize {
    s.encode_utf16().count()
}

/// `text` in pieces of at most `limit` UTF-16 units each, cut at the
/// widest boundary that fits. Always at least one piece (an empty text is
/// one empty piece).
pub fn split(text: &str, limit: Option<u32>) -> Vec<String> {
    let Some(limit) = limit.map(|l| l.max(1) as usize) else {
        return vec![text.to_string()];
    };
    let mut pieces = Vec::new();
    let mut rest = text;
    while units(rest) > limit {
        // The longest prefix that fits, on a char boundary.
        let mut end = 0;
        let mut count = 0;
        for (i, c) in rest.char_indices() {
            count += c.len_utf16();
            if count > limit {
                break;
            }
            end = i + c.len_utf8();
        }
        if end == 0 {
            // One character wider than the limit: send it alone.
            end = rest
                .chars()
                .next()
                .map(char::len_utf8)
                .unwrap_or(rest.len());
        }
        let window = &rest[..end];
        let cut = ["\n\n", "\n", " "]
            .iter()
            .find_map(|sep| window.rfind(sep).filter(|&i| i > 0).map(|i| i + sep.len()))
            .unwrap_or(end);
        let (piece, tail) = rest.split_at(cut);
        let piece = piece.trim_end();
        if !piece.is_empty() {
            pieces.push(piece.to_string());
        }
        rest = tail.trim_start_matches(['\n', ' ']);
    }
    if !rest.is_empty() || pieces.is_empty() {
        pieces.push(rest.to_string());
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_limit_or_short_text_is_one_piece() {
        assert_eq!(split("hello", None), ["hello"]);
        assert_eq!(split("hello", Some(5)), ["hello"]);
        assert_eq!(split("", Some(5)), [""]);
    }

    #[test]
    fn cuts_at_paragraphs_then_lines_then_words_then_anywhere() {
        assert_eq!(split("aaaa\n\nbbbb", Some(8)), ["aaaa", "bbbb"]);
        assert_eq!(split("aaa\nbbb ccc", Some(8)), ["aaa", "bbb ccc"]);
        assert_eq!(split("one two three", Some(8)), ["one two", "three"]);
        assert_eq!(split("abcdefghij", Some(4)), ["abcd", "efgh", "ij"]);
    }

    #[test]
    fn every_piece_fits_and_nothing_but_separators_is_lost() {
        let text = "Lorem ipsum dolor sit amet 😀😀😀, consectetur\n\nadipiscing elit ✓\nsed do eiusmod tempor";
        for limit in 1..40 {
            let pieces = split(text, Some(limit));
            for p in &pieces {
                assert!(
                    units(p) <= limit as usize || p.chars().count() == 1,
                    "{limit}: {p:?}"
                );
            }
            let joined: String = pieces.concat();
            let squeeze = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
            assert_eq!(squeeze(&joined), squeeze(text), "limit {limit}");
        }
    }

    #[test]
    fn files_a_channel_cannot_carry_are_named() {
        let file = Attachment {
            mime: "image/png".into(),
            name: Some("shot.png".into()),
            data: vec![1, 2],
        };
        let limits = DeliveryLimits {
            attachments: false,
            ..DeliveryLimits::default()
        };
        let (text, files) = fit_attachments("done".into(), vec![file.clone()], &limits);
        assert!(files.is_empty());
        assert!(text.starts_with("done\n\n[1 file(s) not shown") && text.contains("shot.png"));
        let (text, files) = fit_attachments("done".into(), vec![file], &DeliveryLimits::default());
        assert_eq!((text.as_str(), files.len()), ("done", 1));
    }
}
