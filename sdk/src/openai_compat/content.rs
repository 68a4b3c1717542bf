//! How a conversation's attachments reach an OpenAI-style API.
//!
//! The decisions are the same for Chat Completions and the Responses API;
//! only the JSON shape of a part differs, so they are made here as [`Part`]s
//! that each component renders in its own shape:
//!
//! - **User messages** with attachments become parts: the message's text
//!   first, then per attachment an image (a `data:` URL), the text of a
//!   text file inline (`name (mime):\n...`), or any other file as a file
//!   part with its name and a `data:` URL.
//! - **Tool results** carry text only on both APIs: the result's text, then
//!   a line per attachment. Text files are inlined as in user messages,
//!   images are announced and shown in a user message after the run of tool
//!   results ([`with_tool_images`]), other files are named and noted as not
//!   shown.
//!
//! What counts as text is [`is_text_mime`]: XML and YAML are text like JSON,
//! so a model reads them as it reads them anywhere else instead of being
//! handed a file the API may refuse.

use crate::{Attachment, Message, Role};

/// The name shown for an attachment that has none.
pub const UNNAMED: &str = "attachment";

/// The text that opens the user message showing the images tool results
/// returned.
pub const TOOL_IMAGES_INTRO: &str = "Images returned by the tool calls above:";

/// One piece of a user message, before the API gives it its JSON shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Part {
    /// Text: the message's own, or a text file's contents.
    Text(String),
    /// An image, as a `data:` URL.
    Image { data_url: String },
    /// Any other file, with its name and a `data:` URL of its bytes.
    File { filename: String, data_url: String },
}

/// The MIME type without parameters, lower-cased: `Text/Plain; charset=utf-8`
/// is `text/plain`.
fn essence(mime: &str) -> String {
    mime.split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Whether an attachment of this type is an image the model can look at.
pub fn is_image_mime(mime: &str) -> bool {
    essence(mime).starts_with("image/")
}

/// Whether an attachment of this type is text to show the model inline:
/// `text/*`, JSON, XML and YAML (also as `+json` / `+xml` suffixes, such as
/// `application/ld+json`), whatever their parameters.
pub fn is_text_mime(mime: &str) -> bool {
    let mime = essence(mime);
    mime.starts_with("text/")
        || mime.ends_with("+json")
        || mime.ends_with("+xml")
        || matches!(
            mime.as_str(),
            "application/json" | "application/xml" | "application/x-yaml" | "application/yaml"
        )
}

/// The name an attachment is shown under.
pub fn display_name(attachment: &Attachment) -> &str {
    attachment.name.as_deref().unwrap_or(UNNAMED)
}

/// A text attachment as the model reads it: `name (mime):` and its text.
fn inline_text(attachment: &Attachment) -> String {
    format!(
        "{} ({}):\n{}",
        display_name(attachment),
        attachment.mime,
        String::from_utf8_lossy(&attachment.data)
    )
}

/// An image attachment as a part.
fn image(attachment: &Attachment) -> Part {
    Part::Image {
        data_url: crate::base64::data_url(&attachment.mime, &attachment.data),
    }
}

/// A user message's parts, or `None` when it has no attachments and goes
/// out as plain text.
pub fn user_parts(message: &Message) -> Option<Vec<Part>> {
    if message.attachments.is_empty() {
        return None;
    }
    let mut parts = Vec::with_capacity(message.attachments.len() + 1);
    if !message.content.is_empty() {
        parts.push(Part::Text(message.content.clone()));
    }
    for a in &message.attachments {
        parts.push(if is_image_mime(&a.mime) {
            image(a)
        } else if is_text_mime(&a.mime) {
            Part::Text(inline_text(a))
        } else {
            Part::File {
                filename: display_name(a).to_string(),
                data_url: crate::base64::data_url(&a.mime, &a.data),
            }
        });
    }
    Some(parts)
}

/// A tool result's text: its content and a line per attachment.
pub fn tool_output(message: &Message) -> String {
    let mut output = message.content.clone();
    for a in &message.attachments {
        let name = display_name(a);
        output.push('\n');
        if is_image_mime(&a.mime) {
            output.push_str(&format!(
                "[image {name} ({}): shown in the next message]",
                a.mime
            ));
        } else if is_text_mime(&a.mime) {
            output.push_str(&inline_text(a));
        } else {
            output.push_str(&format!(
                "[attachment {name} ({}, {} bytes) not shown: tool results carry text only]",
                a.mime,
                a.data.len()
            ));
        }
    }
    output
}

/// One step of the conversation as sent.
#[derive(Clone, Debug, PartialEq)]
pub enum Turn<'a> {
    /// A message of the request, in its place.
    Message(&'a Message),
    /// A user message to add, showing the images a run of tool results
    /// returned: [`TOOL_IMAGES_INTRO`], then the images.
    ToolImages(Vec<Part>),
}

/// The messages in order, each run of tool results followed by one
/// [`Turn::ToolImages`] when its results carry images (the APIs take images
/// only in user messages, and a user message may not come between an
/// assistant's tool calls and their results).
pub fn with_tool_images(messages: &[Message]) -> Vec<Turn<'_>> {
    let mut turns = Vec::with_capacity(messages.len());
    let mut images: Vec<Part> = Vec::new();
    let flush = |images: &mut Vec<Part>, turns: &mut Vec<Turn<'_>>| {
        if !images.is_empty() {
            let mut parts = vec![Part::Text(TOOL_IMAGES_INTRO.into())];
            parts.append(images);
            turns.push(Turn::ToolImages(parts));
        }
    };
    for m in messages {
        if m.role != Role::Tool {
            flush(&mut images, &mut turns);
        }
        turns.push(Turn::Message(m));
        if m.role == Role::Tool {
            images.extend(
                m.attachments
                    .iter()
                    .filter(|a| is_image_mime(&a.mime))
                    .map(image),
            );
        }
    }
    flush(&mut images, &mut turns);
    turns
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ToolCall;

    fn with(mut m: Message, attachments: Vec<Attachment>) -> Message {
        m.attachments = attachments;
        m
    }

    #[test]
    fn text_types_include_xml_yaml_and_parameters() {
        for mime in [
            "text/plain",
            "text/csv",
            "application/json",
            "application/xml",
            "application/yaml",
            "application/x-yaml",
            "application/ld+json",
            "image/svg+xml",
            "Application/JSON; charset=utf-8",
        ] {
            assert!(is_text_mime(mime), "{mime}");
        }
        for mime in [
            "application/pdf",
            "image/png",
            "application/octet-stream",
            "",
        ] {
            assert!(!is_text_mime(mime), "{mime}");
        }
        assert!(is_image_mime("IMAGE/png"));
        assert!(!is_image_mime("application/pdf"));
    }

    #[test]
    fn user_attachments_become_parts() {
        assert_eq!(user_parts(&Message::user("plain")), None);
        let m = with(
            Message::user("look"),
            vec![
                Attachment::new("image/png", b"hi".to_vec()),
                Attachment::new("text/plain", b"notes".to_vec()).with_name("n.txt"),
                Attachment::new("application/xml", b"<a/>".to_vec()).with_name("a.xml"),
                Attachment::new("application/yaml", b"k: v".to_vec()),
                Attachment::new("application/pdf", b"%PDF".to_vec()).with_name("a.pdf"),
                Attachment::new("application/zip", b"PK".to_vec()),
            ],
        );
        assert_eq!(
            user_parts(&m).unwrap(),
            vec![
                Part::Text("look".into()),
                Part::Image {
                    data_url: "data:image/png;base64,aGk=".into()
                },
                Part::Text("n.txt (text/plain):\nnotes".into()),
                Part::Text("a.xml (application/xml):\n<a/>".into()),
                Part::Text("attachment (application/yaml):\nk: v".into()),
                Part::File {
                    filename: "a.pdf".into(),
                    data_url: "data:application/pdf;base64,JVBERg==".into()
                },
                Part::File {
                    filename: "attachment".into(),
                    data_url: "data:application/zip;base64,UEs=".into()
                },
            ]
        );
        // No empty text part for a message that is all attachments.
        let m = with(
            Message::user(""),
            vec![Attachment::new("image/png", vec![1])],
        );
        assert!(matches!(user_parts(&m).unwrap()[..], [Part::Image { .. }]));
    }

    #[test]
    fn tool_results_inline_text_and_announce_the_rest() {
        let m = with(
            Message::tool("c1", "done"),
            vec![
                Attachment::new("image/png", b"hi".to_vec()).with_name("s.png"),
                Attachment::new("application/xml", b"<a/>".to_vec()).with_name("a.xml"),
                Attachment::new("application/pdf", b"%PDF".to_vec()),
            ],
        );
        assert_eq!(
            tool_output(&m),
            "done\n[image s.png (image/png): shown in the next message]\
             \na.xml (application/xml):\n<a/>\
             \n[attachment attachment (application/pdf, 4 bytes) not shown: tool results carry text only]"
        );
        assert_eq!(tool_output(&Message::tool("c1", "plain")), "plain");
    }

    #[test]
    fn images_from_tools_follow_the_run_of_tool_results() {
        let call = |id: &str| ToolCall::new(id, "screen.capture", "{}");
        let shot = with(
            Message::tool("c1", "captured"),
            vec![
                Attachment::new("image/png", b"hi".to_vec()),
                Attachment::new("text/plain", b"x".to_vec()),
            ],
        );
        let messages = vec![
            Message::user("what is on screen?"),
            Message::assistant_tool_calls("", vec![call("c1"), call("c2")]),
            shot,
            Message::tool("c2", "plain"),
            Message::assistant("a window"),
            Message::assistant_tool_calls("", vec![call("c3")]),
            with(
                Message::tool("c3", "again"),
                vec![Attachment::new("image/jpeg", vec![1, 2, 3])],
            ),
        ];
        let turns = with_tool_images(&messages);
        let image = |url: &str| Part::Image {
            data_url: url.into(),
        };
        let intro = Part::Text(TOOL_IMAGES_INTRO.into());
        assert_eq!(
            turns,
            vec![
                Turn::Message(&messages[0]),
                Turn::Message(&messages[1]),
                Turn::Message(&messages[2]),
                Turn::Message(&messages[3]),
                Turn::ToolImages(vec![intro.clone(), image("data:image/png;base64,aGk=")]),
                Turn::Message(&messages[4]),
                Turn::Message(&messages[5]),
                Turn::Message(&messages[6]),
                Turn::ToolImages(vec![intro, image("data:image/jpeg;base64,AQID")]),
            ]
        );
        // Without images nothing is added.
        let plain = [Message::user("a"), Message::tool("c", "r")];
        assert_eq!(with_tool_images(&plain).len(), 2);
    }
}
