//! Which files of a message are downloaded and which are only described:
//! each may be at most `max_attachment_bytes`, and a message's files
//! together at most [`total_cap`], so one message cannot fill the
//! component's memory. Decided here without the host; the glue fetches.

use crate::message::Attachment;

/// The most a message's downloads may add up to: four files of the
/// largest size, at least 16 MiB and at most 32 MiB.
pub fn total_cap(max_each: u64) -> u64 {
    max_each.saturating_mul(4).clamp(16 << 20, 32 << 20)
}

/// Why a file is not read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skip {
    TooLarge,
    OverTotal,
    Failed,
}

/// What to do with each file, in order.
#[derive(Clone, Debug, PartialEq)]
pub enum Plan {
    Fetch(Attachment),
    Describe(Attachment, Skip),
}

/// Plans the files of a message.
pub fn plan(files: &[Attachment], max_each: u64) -> Vec<Plan> {
    let cap = total_cap(max_each);
    let mut total = 0u64;
    files
        .iter()
        .map(|f| {
            if f.size > max_each {
                Plan::Describe(f.clone(), Skip::TooLarge)
            } else if total + f.size > cap {
                Plan::Describe(f.clone(), Skip::OverTotal)
            } else {
                total += f.size;
                Plan::Fetch(f.clone())
            }
        })
        .collect()
}

/// A size for people: `12.0 MB`, `512 KB`, `40 bytes` (powers of 1024).
pub fn human_size(bytes: u64) -> String {
    const MB: u64 = 1 << 20;
    match bytes {
        b if b >= MB => format!("{:.1} MB", b as f64 / MB as f64),
        b if b >= 1024 => format!("{} KB", b / 1024),
        b => format!("{b} bytes"),
    }
}

/// The line that stands for a file not read:
/// `[file report.pdf, 12.0 MB, too large to read]`.
pub fn describe(f: &Attachment, why: Skip) -> String {
    let why = match why {
        Skip::TooLarge => "too large to read",
        Skip::OverTotal => "not read: the message's files are too large together",
        Skip::Failed => "could not be downloaded",
    };
    format!("[file {}, {}, {why}]", f.filename, human_size(f.size))
}

/// The MIME type to give an attachment: Discord's `content_type` without
/// parameters, else `application/octet-stream`.
pub fn mime(f: &Attachment) -> String {
    f.content_type
        .as_deref()
        .and_then(|c| c.split(';').next())
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .unwrap_or("application/octet-stream")
        .to_string()
}

/// The event's text: descriptions of the files not read, then the text.
pub fn compose(descriptions: &[String], text: &str) -> String {
    let mut parts: Vec<&str> = descriptions.iter().map(String::as_str).collect();
    if !text.is_empty() {
        parts.push(text);
    }
    parts.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, size: u64) -> Attachment {
        Attachment {
            id: "1".into(),
            filename: name.into(),
            size,
            url: format!("https://cdn.discordapp.com/{name}"),
            content_type: Some("text/plain; charset=utf-8".into()),
        }
    }

    #[test]
    fn large_files_are_described() {
        let big = file("report.pdf", 12 * (1 << 20));
        let p = plan(&[file("a.txt", 10), big.clone()], 8 << 20);
        assert_eq!(p[0], Plan::Fetch(file("a.txt", 10)));
        assert_eq!(p[1], Plan::Describe(big.clone(), Skip::TooLarge));
        assert_eq!(
            describe(&big, Skip::TooLarge),
            "[file report.pdf, 12.0 MB, too large to read]"
        );
    }

    #[test]
    fn the_total_is_capped_per_message() {
        let each = 8 << 20;
        let files: Vec<_> = (0..6).map(|i| file(&format!("{i}.bin"), each)).collect();
        let p = plan(&files, each);
        let fetched = p.iter().filter(|x| matches!(x, Plan::Fetch(_))).count();
        assert_eq!(fetched, 4);
        assert!(matches!(p[5], Plan::Describe(_, Skip::OverTotal)));
    }

    #[test]
    fn mime_sizes_and_text() {
        assert_eq!(mime(&file("a", 1)), "text/plain");
        let mut f = file("a", 1);
        f.content_type = None;
        assert_eq!(mime(&f), "application/octet-stream");
        assert_eq!(human_size(40), "40 bytes");
        assert_eq!(human_size(2048), "2 KB");
        assert_eq!(compose(&["[file x]".into()], "hi"), "[file x]\nhi");
        assert_eq!(compose(&[], "hi"), "hi");
    }
}
