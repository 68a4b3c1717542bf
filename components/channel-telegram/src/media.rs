//! Files in incoming messages: which one, its MIME type and name, whether
//! to download it, and how to describe one that is not downloaded.
//!
//! A file that is not downloaded (too large, size unknown, the download
//! failed) is never lost: the agent reads a description such as
//! `[document "report.pdf", application/pdf, 12.0 MB — too large to
//! download]` in front of the caption.

use crate::update::{FileInfo, Message};

/// The kind of file, which decides the defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Photo,
    Document,
    Voice,
    VideoNote,
    Audio,
    Video,
}

impl Kind {
    /// The word used in descriptions.
    pub fn word(self) -> &'static str {
        match self {
            Kind::Photo => "photo",
            Kind::Document => "document",
            Kind::Voice => "voice note",
            Kind::VideoNote => "video note",
            Kind::Audio => "audio",
            Kind::Video => "video",
        }
    }
}

/// A file of a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Media {
    pub kind: Kind,
    /// For `getFile`.
    pub file_id: String,
    pub file_size: Option<u64>,
    pub mime: String,
    pub name: String,
    /// Whether `name` came from the sender (shown in descriptions).
    pub named: bool,
}

/// Why a file is described instead of attached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skipped {
    TooLarge,
    SizeUnknown,
    DownloadFailed,
}

impl Media {
    /// The message's file, if it has one; for a photo, its largest size.
    pub fn of(message: &Message) -> Option<Media> {
        if let Some(sizes) = &message.photo {
            // Telegram lists sizes smallest first; compare to be sure.
            let largest = sizes
                .iter()
                .max_by_key(|p| (u64::from(p.width) * u64::from(p.height), p.file_size))?;
            return Some(Media {
                kind: Kind::Photo,
                file_id: largest.file_id.clone(),
                file_size: largest.file_size,
                mime: "image/jpeg".into(),
                name: "photo.jpg".into(),
                named: false,
            });
        }
        let (kind, info, mime, name) = if let Some(f) = &message.document {
            (Kind::Document, f, None, "document")
        } else if let Some(f) = &message.voice {
            (Kind::Voice, f, Some("audio/ogg"), "voice.ogg")
        } else if let Some(f) = &message.video_note {
            (Kind::VideoNote, f, Some("video/mp4"), "video_note.mp4")
        } else if let Some(f) = &message.audio {
            (Kind::Audio, f, None, "audio")
        } else if let Some(f) = &message.video {
            (Kind::Video, f, None, "video.mp4")
        } else {
            return None;
        };
        Some(Media::from_info(kind, info, mime, name))
    }

    fn from_info(kind: Kind, info: &FileInfo, fixed_mime: Option<&str>, name: &str) -> Media {
        let fallback = match kind {
            Kind::Video => "video/mp4",
            _ => "application/octet-stream",
        };
        let mime = fixed_mime
            .map(str::to_string)
            .or_else(|| info.mime_type.clone().filter(|m| !m.is_empty()))
            .unwrap_or_else(|| fallback.to_string());
        let given = info.file_name.clone().filter(|n| !n.is_empty());
        Media {
            kind,
            file_id: info.file_id.clone(),
            file_size: info.file_size,
            mime,
            named: given.is_some(),
            name: given.unwrap_or_else(|| name.to_string()),
        }
    }

    /// `None` when the file should be downloaded (its size is known and
    /// below `max_bytes`), otherwise why not.
    pub fn skip_reason(&self, max_bytes: u64) -> Option<Skipped> {
        match self.file_size {
            Some(size) if size < max_bytes => None,
            Some(_) => Some(Skipped::TooLarge),
            None => Some(Skipped::SizeUnknown),
        }
    }

    /// The description the agent reads instead of the file.
    pub fn describe(&self, why: Skipped) -> String {
        let name = if self.named {
            format!(" \"{}\"", self.name)
        } else {
            String::new()
        };
        let size = self
            .file_size
            .map_or("size unknown".to_string(), human_size);
        let why = match why {
            Skipped::TooLarge => "too large to download",
            Skipped::SizeUnknown => "not downloaded",
            Skipped::DownloadFailed => "download failed",
        };
        format!(
            "[{}{name}, {}, {size} — {why}]",
            self.kind.word(),
            self.mime
        )
    }
}

/// A byte count as `512 B`, `3.4 KB`, `12.0 MB` (decimal units).
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
    use crate::update::PhotoSize;

    fn info(name: Option<&str>, mime: Option<&str>, size: Option<u64>) -> FileInfo {
        FileInfo {
            file_id: "F".into(),
            file_name: name.map(Into::into),
            mime_type: mime.map(Into::into),
            file_size: size,
        }
    }

    #[test]
    fn photos_take_the_largest_size() {
        let size = |id: &str, w, bytes| PhotoSize {
            file_id: id.into(),
            width: w,
            height: w,
            file_size: Some(bytes),
        };
        let message = Message {
            photo: Some(vec![
                size("big", 800, 90),
                size("small", 90, 5),
                size("mid", 320, 40),
            ]),
            ..Message::default()
        };
        let m = Media::of(&message).unwrap();
        assert_eq!((m.kind, m.file_id.as_str()), (Kind::Photo, "big"));
        assert_eq!(
            (m.mime.as_str(), m.name.as_str()),
            ("image/jpeg", "photo.jpg")
        );
    }

    #[test]
    fn mime_types_and_names() {
        let m = |message: Message| Media::of(&message).unwrap();
        let doc = m(Message {
            document: Some(info(Some("r.pdf"), Some("application/pdf"), Some(1))),
            ..Message::default()
        });
        assert_eq!(
            (doc.mime.as_str(), doc.name.as_str()),
            ("application/pdf", "r.pdf")
        );
        let doc = m(Message {
            document: Some(info(None, None, Some(1))),
            ..Message::default()
        });
        assert_eq!(
            (doc.mime.as_str(), doc.name.as_str()),
            ("application/octet-stream", "document")
        );
        let voice = m(Message {
            voice: Some(info(None, Some("audio/opus"), Some(1))),
            ..Message::default()
        });
        assert_eq!(
            (voice.mime.as_str(), voice.name.as_str()),
            ("audio/ogg", "voice.ogg")
        );
        let note = m(Message {
            video_note: Some(info(None, None, Some(1))),
            ..Message::default()
        });
        assert_eq!(
            (note.kind, note.mime.as_str()),
            (Kind::VideoNote, "video/mp4")
        );
        let audio = m(Message {
            audio: Some(info(Some("a.mp3"), Some("audio/mpeg"), None)),
            ..Message::default()
        });
        assert_eq!(
            (audio.mime.as_str(), audio.name.as_str()),
            ("audio/mpeg", "a.mp3")
        );
        let video = m(Message {
            video: Some(info(None, None, None)),
            ..Message::default()
        });
        assert_eq!(
            (video.mime.as_str(), video.name.as_str()),
            ("video/mp4", "video.mp4")
        );
        assert_eq!(Media::of(&Message::default()), None);
    }

    #[test]
    fn downloads_only_known_sizes_below_the_limit() {
        let doc = |size| Media::from_info(Kind::Document, &info(None, None, size), None, "d");
        assert_eq!(doc(Some(99)).skip_reason(100), None);
        assert_eq!(doc(Some(100)).skip_reason(100), Some(Skipped::TooLarge));
        assert_eq!(doc(None).skip_reason(100), Some(Skipped::SizeUnknown));
    }

    #[test]
    fn descriptions() {
        let doc = Media::from_info(
            Kind::Document,
            &info(
                Some("report.pdf"),
                Some("application/pdf"),
                Some(12_000_000),
            ),
            None,
            "document",
        );
        assert_eq!(
            doc.describe(Skipped::TooLarge),
            "[document \"report.pdf\", application/pdf, 12.0 MB — too large to download]"
        );
        let voice = Media::from_info(Kind::Voice, &info(None, None, None), Some("audio/ogg"), "v");
        assert_eq!(
            voice.describe(Skipped::SizeUnknown),
            "[voice note, audio/ogg, size unknown — not downloaded]"
        );
        let photo = Media {
            file_size: Some(2_500),
            ..Media::from_info(
                Kind::Photo,
                &info(None, None, None),
                Some("image/jpeg"),
                "p",
            )
        };
        assert_eq!(
            photo.describe(Skipped::DownloadFailed),
            "[photo, image/jpeg, 2.5 KB — download failed]"
        );
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
