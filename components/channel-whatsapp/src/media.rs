//! Files in incoming messages: attached to the event, or described in its
//! text when they cannot be.
//!
//! A file is attached when the bridge delivered its data, the data is
//! valid base64 and it decodes to at most `max_media_bytes`. Otherwise
//! the agent reads a description such as `[image photo.jpg, image/jpeg,
//! 7.2 MB — not attached: too large]` before the caption, so that no
//! message is lost.

use openpista_sdk::{Attachment, base64};

use crate::event::Media;

/// What becomes of a message's file.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// Attached to the event.
    Attach(Attachment),
    /// Described in the event's text instead.
    Describe(String),
}

/// Attaches `media` or describes it.
pub fn decide(media: &Media, max_bytes: u64) -> Outcome {
    let Some(data) = &media.data_b64 else {
        let why = media.note.as_deref().unwrap_or("too large");
        return Outcome::Describe(describe(media, media.size, why));
    };
    // Exact for valid base64, so the size is checked before decoding.
    let decoded_len = base64::decoded_len(data) as u64;
    if decoded_len > max_bytes {
        let size = media.size.or(Some(decoded_len));
        return Outcome::Describe(describe(media, size, "too large"));
    }
    match base64::decode(data) {
        Err(_) => Outcome::Describe(describe(media, media.size, "the data is not valid base64")),
        Ok(bytes) => {
            Outcome::Attach(Attachment::new(media.mime.clone(), bytes).with_name(name(media)))
        }
    }
}

/// The file's name: the sender's, else `<kind>.<ext>` (`image.jpg`).
pub fn name(media: &Media) -> String {
    match media.file_name.as_deref().map(str::trim) {
        Some(n) if !n.is_empty() => n.to_string(),
        _ => format!("{}.{}", kind_word(media), extension(&media.mime)),
    }
}

/// The description the agent reads instead of the file.
pub fn describe(media: &Media, size: Option<u64>, why: &str) -> String {
    let name = media
        .file_name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(|n| format!(" {n}"))
        .unwrap_or_default();
    let size = size.map_or("size unknown".to_string(), human_size);
    format!(
        "[{}{name}, {}, {size} — not attached: {why}]",
        kind_word(media),
        media.mime
    )
}

fn kind_word(media: &Media) -> &str {
    match media.kind.trim() {
        "" => "file",
        k => k,
    }
}

/// The usual extension of a MIME type (`image/jpeg` → `jpg`); its
/// subtype when it is a plain word, else `bin`.
pub fn extension(mime: &str) -> String {
    let essence = mime
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let known = match essence.as_str() {
        "image/jpeg" => "jpg",
        "image/svg+xml" => "svg",
        "audio/mpeg" => "mp3",
        "audio/mp4" => "m4a",
        "audio/ogg" => "ogg",
        "video/quicktime" => "mov",
        "text/plain" => "txt",
        "application/octet-stream" => "bin",
        "application/msword" => "doc",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => "docx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => "xlsx",
        _ => "",
    };
    if !known.is_empty() {
        return known.to_string();
    }
    match essence.split_once('/') {
        Some((_, sub))
            if !sub.is_empty()
                && sub.len() <= 8
                && sub.bytes().all(|b| b.is_ascii_alphanumeric()) =>
        {
            sub.to_string()
        }
        _ => "bin".to_string(),
    }
}

/// A byte count as `512 B`, `3.4 KB`, `12.0 MB` (decimal units; the same
/// as channel-telegram's).
pub fn human_size(bytes: u64) -> String {
    const UNITS: [(&str, f64); 3] = [("GB", 1e9), ("MB", 1e6), ("KB", 1e3)];
    for (unit, size) in UNITS {
        if bytes as f64 >= size {
            return format!("{:.1} {unit}", bytes as f64 / size);
        }
    }
    format!("{bytes} B")
}

/// The event text: the description of a file not attached, on its own
/// line before the caption.
pub fn compose(description: Option<&str>, caption: &str) -> String {
    match description {
        Some(d) if caption.is_empty() => d.to_string(),
        Some(d) => format!("{d}\n{caption}"),
        None => caption.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn media(kind: &str, mime: &str, name: Option<&str>) -> Media {
        Media {
            kind: kind.into(),
            mime: mime.into(),
            file_name: name.map(Into::into),
            ..Media::default()
        }
    }

    #[test]
    fn attaches_data_within_the_limit() {
        let m = Media {
            size: Some(2),
            data_b64: Some("aGk=".into()),
            ..media("image", "image/jpeg", None)
        };
        let Outcome::Attach(a) = decide(&m, 2) else {
            panic!("not attached")
        };
        assert_eq!(
            (a.mime.as_str(), a.data.as_slice()),
            ("image/jpeg", &b"hi"[..])
        );
        assert_eq!(a.name.as_deref(), Some("image.jpg"));
        let named = Media {
            data_b64: Some("aGk=".into()),
            ..media("document", "application/pdf", Some("r.pdf"))
        };
        let Outcome::Attach(a) = decide(&named, 100) else {
            panic!("not attached")
        };
        assert_eq!(a.name.as_deref(), Some("r.pdf"));
    }

    #[test]
    fn describes_data_over_the_limit() {
        let m = Media {
            size: Some(7_200_000),
            data_b64: Some("aGk=".into()),
            ..media("image", "image/jpeg", Some("photo.jpg"))
        };
        assert_eq!(
            decide(&m, 1),
            Outcome::Describe(
                "[image photo.jpg, image/jpeg, 7.2 MB — not attached: too large]".into()
            )
        );
        // Without a declared size, the decoded size is shown.
        let m = Media {
            data_b64: Some("aGVsbG8=".into()),
            ..media("audio", "audio/ogg; codecs=opus", None)
        };
        assert_eq!(
            decide(&m, 4),
            Outcome::Describe(
                "[audio, audio/ogg; codecs=opus, 5 B — not attached: too large]".into()
            )
        );
    }

    #[test]
    fn bad_base64_is_described_not_lost() {
        let m = Media {
            size: Some(10),
            data_b64: Some("not base64!".into()),
            ..media("video", "video/mp4", None)
        };
        assert_eq!(
            decide(&m, 100),
            Outcome::Describe(
                "[video, video/mp4, 10 B — not attached: the data is not valid base64]".into()
            )
        );
    }

    #[test]
    fn missing_data_uses_the_note() {
        let m = Media {
            size: Some(12_000_000),
            note: Some("download failed: 403".into()),
            ..media("document", "application/pdf", Some("r.pdf"))
        };
        assert_eq!(
            decide(&m, 100),
            Outcome::Describe(
                "[document r.pdf, application/pdf, 12.0 MB — not attached: download failed: 403]"
                    .into()
            )
        );
        let m = media("sticker", "image/webp", None);
        assert_eq!(
            decide(&m, 100),
            Outcome::Describe(
                "[sticker, image/webp, size unknown — not attached: too large]".into()
            )
        );
    }

    #[test]
    fn names_and_extensions() {
        assert_eq!(name(&media("image", "image/png", None)), "image.png");
        assert_eq!(
            name(&media("audio", "audio/ogg; codecs=opus", None)),
            "audio.ogg"
        );
        assert_eq!(name(&media("video", "video/mp4", Some(" "))), "video.mp4");
        assert_eq!(
            name(&media("", "application/x-weird+thing", None)),
            "file.bin"
        );
        assert_eq!(extension("application/pdf"), "pdf");
        assert_eq!(extension("IMAGE/JPEG"), "jpg");
        assert_eq!(extension("audio/mpeg"), "mp3");
        assert_eq!(extension("nonsense"), "bin");
    }

    #[test]
    fn sizes_and_text() {
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(1_000), "1.0 KB");
        assert_eq!(human_size(5_242_880), "5.2 MB");
        assert_eq!(human_size(3_000_000_000), "3.0 GB");
        assert_eq!(compose(Some("[d]"), "caption"), "[d]\ncaption");
        assert_eq!(compose(Some("[d]"), ""), "[d]");
        assert_eq!(compose(None, "caption"), "caption");
    }
}
