//! Turning an answer's text into the `sendMessage` calls that carry it:
//! the error prefix, buttons, splitting, MarkdownV2, and the fallback
//! text for when Telegram cannot parse the MarkdownV2.

use serde_json::{Value, json};

use crate::conversation::ChatRef;
use crate::keyboard;
use crate::markdown;
use crate::split::{self, MAX_UNITS};

/// What error reports start with.
pub const ERROR_PREFIX: &str = "❌ ";
/// The text of a message that carries only buttons.
pub const BUTTONS_ONLY_TEXT: &str = "Choose:";

/// One message to send.
#[derive(Clone, Debug, PartialEq)]
pub struct Chunk {
    /// The text as MarkdownV2.
    pub markdown: String,
    /// The same text as written, for a plain-text retry.
    pub plain: String,
    /// The buttons (last chunk only).
    pub reply_markup: Option<Value>,
}

/// The messages for an answer `text`. With `buttons`, `[[label|data]]`
/// markers become an inline keyboard on the last message; without, the
/// text is left as it is. An empty text without buttons gives none.
pub fn plan(text: &str, is_error: bool, buttons: bool) -> Vec<Chunk> {
    let (text, rows) = if buttons {
        keyboard::extract(text)
    } else {
        (text.to_string(), Vec::new())
    };
    let mut text = if is_error && !text.trim().is_empty() {
        format!("{ERROR_PREFIX}{text}")
    } else {
        text
    };
    if text.trim().is_empty() {
        if rows.is_empty() {
            return Vec::new();
        }
        text = BUTTONS_ONLY_TEXT.to_string();
    }
    let pieces = balance_fences(split::split(&text, MAX_UNITS));
    let last = pieces.len().saturating_sub(1);
    pieces
        .into_iter()
        .enumerate()
        .map(|(i, plain)| Chunk {
            markdown: markdown::to_markdown_v2(&plain),
            reply_markup: (i == last && !rows.is_empty()).then(|| keyboard::reply_markup(&rows)),
            plain,
        })
        .collect()
}

/// The `sendMessage` body: MarkdownV2 when `markdown`, else plain text.
pub fn message_body(chat: ChatRef, text: &str, markdown: bool, markup: Option<&Value>) -> Value {
    let mut body = json!({ "chat_id": chat.chat_id, "text": text });
    if markdown {
        body["parse_mode"] = json!("MarkdownV2");
    }
    if let Some(thread) = chat.thread_id {
        body["message_thread_id"] = json!(thread);
    }
    if let Some(markup) = markup {
        body["reply_markup"] = markup.clone();
    }
    body
}

/// The `editMessageText` body replacing a message's text; without
/// `reply_markup`, its inline keyboard goes.
pub fn edit_body(chat_id: i64, message_id: i64, text: &str) -> Value {
    json!({ "chat_id": chat_id, "message_id": message_id, "text": text })
}

/// The `sendChatAction` body showing "typing".
pub fn typing_body(chat: ChatRef) -> Value {
    let mut body = json!({ "chat_id": chat.chat_id, "action": "typing" });
    if let Some(thread) = chat.thread_id {
        body["message_thread_id"] = json!(thread);
    }
    body
}

/// The method and form field for a file: `sendPhoto` for `image/*`,
/// `sendDocument` for anything else.
pub fn file_method(mime: &str) -> (&'static str, &'static str) {
    if mime.to_ascii_lowercase().starts_with("image/") {
        ("sendPhoto", "photo")
    } else {
        ("sendDocument", "document")
    }
}

/// The text fields of a file upload.
pub fn file_fields(chat: ChatRef) -> Vec<(&'static str, String)> {
    let mut fields = vec![("chat_id", chat.chat_id.to_string())];
    if let Some(thread) = chat.thread_id {
        fields.push(("message_thread_id", thread.to_string()));
    }
    fields
}

/// A file name for an attachment without one, from its MIME type.
pub fn default_file_name(mime: &str) -> String {
    let ext = match mime.to_ascii_lowercase().as_str() {
        "image/jpeg" => "jpg",
        "image/png" => "png",
        "image/gif" => "gif",
        "image/webp" => "webp",
        "application/pdf" => "pdf",
        "text/plain" => "txt",
        "application/json" => "json",
        "text/csv" => "csv",
        _ => "bin",
    };
    format!("file.{ext}")
}

/// Closes a code fence a cut left open at the end of a chunk and opens
/// it again (with its language) at the start of the next, so that each
/// message's code block stays a code block.
fn balance_fences(chunks: Vec<String>) -> Vec<String> {
    let mut out = Vec::with_capacity(chunks.len());
    let mut open: Option<String> = None;
    for chunk in chunks {
        let mut text = match &open {
            Some(lang) => format!("```{lang}\n{chunk}"),
            None => chunk,
        };
        open = open_fence_at_end(&text);
        if open.is_some() {
            text.push_str("\n```");
        }
        out.push(text);
    }
    out
}

/// The language of a fence left open at the end of `text` ("" for none).
fn open_fence_at_end(text: &str) -> Option<String> {
    let mut open: Option<String> = None;
    let mut rest = text;
    while let Some(i) = rest.find("```") {
        let after = &rest[i + 3..];
        open = match open {
            Some(_) => None,
            None => {
                let line = after.split('\n').next().unwrap_or("");
                let is_tag = !line.contains("```")
                    && line
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_+#.-".contains(c));
                Some(if is_tag {
                    line.to_string()
                } else {
                    String::new()
                })
            }
        };
        rest = after;
    }
    open
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn short_answers_are_one_markdown_chunk() {
        let chunks = plan("Hi **there**.", false, false);
        assert_eq!(
            chunks,
            vec![Chunk {
                markdown: "Hi *there*\\.".into(),
                plain: "Hi **there**.".into(),
                reply_markup: None
            }]
        );
        assert!(plan("", false, false).is_empty());
        assert!(plan("  \n", true, true).is_empty());
    }

    #[test]
    fn errors_are_prefixed() {
        let chunks = plan("tool failed", true, false);
        assert_eq!(chunks[0].plain, "❌ tool failed");
        assert_eq!(chunks[0].markdown, "❌ tool failed");
    }

    #[test]
    fn buttons_only_when_asked_and_on_the_last_chunk() {
        let text = format!("{}\n\nDo it?\n[[Yes|y]] [[No|n]]", "word ".repeat(1000));
        let chunks = plan(&text, false, true);
        assert_eq!(chunks.len(), 2);
        assert_eq!(chunks[0].reply_markup, None);
        assert_eq!(
            chunks[1].reply_markup,
            Some(
                json!({"inline_keyboard": [[{"text": "Yes", "callback_data": "y"},
                                             {"text": "No", "callback_data": "n"}]]})
            )
        );
        assert!(chunks[1].plain.ends_with("\n\nDo it?"));
        assert!(!chunks[1].plain.contains("[["));
        let off = plan("Do it?\n[[Yes|y]]", false, false);
        assert_eq!(off[0].plain, "Do it?\n[[Yes|y]]");
        assert_eq!(off[0].reply_markup, None);
        let only = plan("[[Yes|y]]", false, true);
        assert_eq!(only[0].plain, BUTTONS_ONLY_TEXT);
        assert!(only[0].reply_markup.is_some());
    }

    #[test]
    fn long_answers_split_within_telegram_limits() {
        let text = "line\n".repeat(2000);
        let chunks = plan(&text, false, false);
        assert_eq!(chunks.len(), 3);
        for c in &chunks {
            assert!(split::utf16_len(&c.plain) <= MAX_UNITS);
        }
    }

    #[test]
    fn bodies() {
        let topic = ChatRef {
            chat_id: -100,
            thread_id: Some(7),
        };
        let markup = json!({"inline_keyboard": []});
        assert_eq!(
            message_body(topic, "hi", true, Some(&markup)),
            json!({"chat_id": -100, "text": "hi", "parse_mode": "MarkdownV2",
                   "message_thread_id": 7, "reply_markup": {"inline_keyboard": []}})
        );
        assert_eq!(
            message_body(ChatRef::chat(42), "hi", false, None),
            json!({"chat_id": 42, "text": "hi"})
        );
        assert_eq!(
            typing_body(topic),
            json!({"chat_id": -100, "action": "typing", "message_thread_id": 7})
        );
        assert_eq!(
            file_fields(topic),
            vec![
                ("chat_id", "-100".to_string()),
                ("message_thread_id", "7".to_string())
            ]
        );
        assert_eq!(
            file_fields(ChatRef::chat(5)),
            vec![("chat_id", "5".to_string())]
        );
    }

    #[test]
    fn files_go_by_mime_type() {
        assert_eq!(file_method("image/png"), ("sendPhoto", "photo"));
        assert_eq!(file_method("IMAGE/JPEG"), ("sendPhoto", "photo"));
        assert_eq!(file_method("application/pdf"), ("sendDocument", "document"));
        assert_eq!(file_method("audio/ogg"), ("sendDocument", "document"));
        assert_eq!(default_file_name("image/png"), "file.png");
        assert_eq!(default_file_name("x/unknown"), "file.bin");
    }

    #[test]
    fn a_cut_fence_is_closed_and_reopened() {
        let chunks = balance_fences(vec![
            "intro\n```rust\nfn a() {}".into(),
            "fn b() {}\n```\nafter".into(),
        ]);
        assert_eq!(chunks[0], "intro\n```rust\nfn a() {}\n```");
        assert_eq!(chunks[1], "```rust\nfn b() {}\n```\nafter");
        let closed = vec!["```\nx\n```".to_string(), "y".to_string()];
        assert_eq!(balance_fences(closed.clone()), closed);
        assert_eq!(
            open_fence_at_end("```inline``` and ```py\nx"),
            Some("py".into())
        );
        assert_eq!(open_fence_at_end("```not a tag\nx"), Some(String::new()));
    }
}
