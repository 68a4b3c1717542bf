//! The commands the component writes to the bridge (its stdin, one JSON
//! object a line), and how an answer becomes them: the text split into
//! `send` commands, then one `send_media` per attachment.
//!
//! Every command carries a `ref`, `o-<unix ms>-<counter>`, which the
//! bridge's `sent` or `error` reply names; refs sort in the order they
//! were made (see [`ref_order`]).

use openpista_sdk::{Attachment, Outbound, base64};
use serde::{Deserialize, Serialize};

use crate::media;
use crate::split::{self, MAX_CHARS};

/// Prefix of error answers.
pub const ERROR_PREFIX: &str = "❌ ";

/// A command for the bridge.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum Command {
    /// A text message.
    Send {
        #[serde(rename = "ref")]
        reference: String,
        to: String,
        text: String,
    },
    /// A file: image, video, audio or document by its MIME type.
    SendMedia {
        #[serde(rename = "ref")]
        reference: String,
        to: String,
        mime: String,
        file_name: Option<String>,
        data_b64: String,
        caption: Option<String>,
    },
}

impl Command {
    /// The command's `ref`.
    pub fn reference(&self) -> &str {
        match self {
            Command::Send { reference, .. } | Command::SendMedia { reference, .. } => reference,
        }
    }

    /// The JID it goes to.
    pub fn to(&self) -> &str {
        match self {
            Command::Send { to, .. } | Command::SendMedia { to, .. } => to,
        }
    }

    /// The line to write (without the newline).
    pub fn line(&self) -> String {
        serde_json::to_string(self).expect("commands always encode")
    }
}

/// A command ref made at `now_ms` as the `counter`th of this instance.
pub fn reference(now_ms: u64, counter: u64) -> String {
    format!("o-{now_ms}-{counter}")
}

/// The sort key of a ref: its time and counter as numbers, so that
/// `o-5-10` comes after `o-5-9`; refs of another shape sort last, by text.
pub fn ref_order(reference: &str) -> (u64, u64, &str) {
    let parsed = reference.strip_prefix("o-").and_then(|rest| {
        let (ms, n) = rest.split_once('-')?;
        Some((ms.parse().ok()?, n.parse().ok()?))
    });
    match parsed {
        Some((ms, n)) => (ms, n, ""),
        None => (u64::MAX, u64::MAX, reference),
    }
}

/// The commands of an answer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub commands: Vec<Command>,
    /// Attachments left out because they hold no bytes (the bridge
    /// refuses empty files).
    pub empty_attachments: usize,
}

/// The commands that deliver `message` to `to`, each with a ref from
/// `next_ref`: text chunks first, then the attachments.
pub fn plan(to: &str, message: &Outbound, mut next_ref: impl FnMut() -> String) -> Plan {
    let text = if message.is_error {
        format!("{ERROR_PREFIX}{}", message.text)
    } else {
        message.text.clone()
    };
    let mut out = Plan {
        commands: texts(to, &text, &mut next_ref),
        empty_attachments: 0,
    };
    for attachment in &message.attachments {
        if attachment.data.is_empty() {
            out.empty_attachments += 1;
            continue;
        }
        out.commands.push(media_command(next_ref(), to, attachment));
    }
    out
}

/// The `send` commands of `text`, split into chunks of at most
/// [`MAX_CHARS`] characters; none for blank text.
pub fn texts(to: &str, text: &str, mut next_ref: impl FnMut() -> String) -> Vec<Command> {
    split::split(text, MAX_CHARS)
        .into_iter()
        .map(|chunk| Command::Send {
            reference: next_ref(),
            to: to.to_string(),
            text: chunk,
        })
        .collect()
}

/// The `send_media` command of one attachment.
pub fn media_command(reference: String, to: &str, a: &Attachment) -> Command {
    let mime = if is_mime(&a.mime) {
        a.mime.trim().to_ascii_lowercase()
    } else {
        "application/octet-stream".to_string()
    };
    let file_name = match a.name.as_deref().map(str::trim) {
        Some(n) if !n.is_empty() => n.to_string(),
        _ => format!("file.{}", media::extension(&mime)),
    };
    Command::SendMedia {
        reference,
        to: to.to_string(),
        mime,
        file_name: Some(file_name),
        data_b64: base64::encode(&a.data),
        caption: None,
    }
}

/// Whether `mime` is `type/subtype` as the bridge checks it (no
/// parameters).
fn is_mime(mime: &str) -> bool {
    let ok = |part: &str| {
        part.bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
            && part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b))
    };
    mime.trim()
        .split_once('/')
        .is_some_and(|(t, s)| ok(t) && ok(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TO: &str = "15551234567@s.whatsapp.net";

    fn refs() -> impl FnMut() -> String {
        let mut n = 0;
        move || {
            n += 1;
            reference(1000, n)
        }
    }

    fn outbound(text: &str, is_error: bool, attachments: Vec<Attachment>) -> Outbound {
        Outbound {
            conversation: TO.into(),
            text: text.into(),
            attachments,
            is_error,
        }
    }

    #[test]
    fn command_lines_have_the_bridge_fields() {
        let send = Command::Send {
            reference: "o-1-1".into(),
            to: TO.into(),
            text: "hi".into(),
        };
        assert_eq!(
            send.line(),
            r#"{"cmd":"send","ref":"o-1-1","to":"15551234567@s.whatsapp.net","text":"hi"}"#
        );
        let media = media_command(
            "o-1-2".into(),
            TO,
            &Attachment::new("image/png", b"hi".to_vec()),
        );
        assert_eq!(
            media.line(),
            r#"{"cmd":"send_media","ref":"o-1-2","to":"15551234567@s.whatsapp.net","mime":"image/png","file_name":"file.png","data_b64":"aGk=","caption":null}"#
        );
        assert_eq!((media.reference(), media.to()), ("o-1-2", TO));
        let back: Command = serde_json::from_str(&media.line()).unwrap();
        assert_eq!(back, media);
    }

    #[test]
    fn answers_become_chunks_then_files() {
        let text = format!("{}\n\n{}", "a".repeat(4000), "b".repeat(200));
        let files = vec![
            Attachment::new("application/pdf", vec![1, 2, 3]).with_name("r.pdf"),
            Attachment::new("image/png", Vec::new()),
            Attachment::new("not a mime", vec![0]),
        ];
        let p = plan(TO, &outbound(&text, false, files), refs());
        assert_eq!(p.empty_attachments, 1);
        let refs: Vec<&str> = p.commands.iter().map(Command::reference).collect();
        assert_eq!(refs, ["o-1000-1", "o-1000-2", "o-1000-3", "o-1000-4"]);
        assert!(matches!(&p.commands[0], Command::Send { text, .. } if text == &"a".repeat(4000)));
        assert!(matches!(&p.commands[1], Command::Send { text, .. } if text == &"b".repeat(200)));
        assert!(matches!(&p.commands[2],
            Command::SendMedia { mime, file_name: Some(n), data_b64, .. }
            if mime == "application/pdf" && n == "r.pdf" && data_b64 == "AQID"));
        assert!(matches!(&p.commands[3],
            Command::SendMedia { mime, file_name: Some(n), .. }
            if mime == "application/octet-stream" && n == "file.bin"));
    }

    #[test]
    fn errors_are_marked_and_empty_text_sends_nothing() {
        let p = plan(TO, &outbound("it broke", true, Vec::new()), refs());
        assert!(matches!(&p.commands[..], [Command::Send { text, .. }] if text == "❌ it broke"));
        assert!(
            plan(TO, &outbound(" \n", false, Vec::new()), refs())
                .commands
                .is_empty()
        );
    }

    #[test]
    fn refs_sort_by_time_then_counter() {
        let mut refs = vec!["o-20-1", "zzz", "o-10-10", "o-10-9", "o-9-100"];
        refs.sort_by_key(|r| ref_order(r));
        assert_eq!(refs, ["o-9-100", "o-10-9", "o-10-10", "o-20-1", "zzz"]);
        assert_eq!(reference(1_700_000_000_000, 3), "o-1700000000000-3");
    }
}
