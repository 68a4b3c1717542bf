//! Which files of a message are downloaded and how the others are
//! described to the agent, decided without the host.
//!
//! A file is downloaded (from `url_private_download`, else `url_private`,
//! with the bot token) when its size is at most `max_file_bytes` and the
//! message's files downloaded so far leave room under the total cap
//! ([`crate::config::Settings::max_total_file_bytes`]). Others become a
//! line of text: `[file NAME, SIZE, too large to read]`.

use crate::events::File;

/// Why a file is not attached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skip {
    TooLarge,
    /// No URL (a file Slack did not share with the bot, an external one).
    NoUrl,
    Failed,
}

/// What to do with one file.
#[derive(Clone, Debug, PartialEq)]
pub enum Plan {
    Fetch(File),
    Describe(File, Skip),
}

/// The plan for `files`, in order.
pub fn plan(files: &[File], max_each: u64, max_total: u64) -> Vec<Plan> {
    let mut total = 0u64;
    files
        .iter()
        .map(|f| {
            if f.url().is_none() {
                Plan::Describe(f.clone(), Skip::NoUrl)
            } else if f.size > max_each || total.saturating_add(f.size) > max_total {
                Plan::Describe(f.clone(), Skip::TooLarge)
            } else {
                total += f.size;
                Plan::Fetch(f.clone())
            }
        })
        .collect()
}

/// A size for people (`512 B`, `1.5 KB`, `12.0 MB`).
pub fn human_size(bytes: u64) -> String {
    match bytes {
        b if b < 1024 => format!("{b} B"),
        b if b < 1024 * 1024 => format!("{:.1} KB", b as f64 / 1024.0),
        b => format!("{:.1} MB", b as f64 / (1024.0 * 1024.0)),
    }
}

/// The line standing for a file that is not attached.
pub fn describe(f: &File, why: Skip) -> String {
    let why = match why {
        Skip::TooLarge => "too large to read",
        Skip::NoUrl => "not readable by the bot",
        Skip::Failed => "could not be downloaded",
    };
    format!("[file {}, {}, {why}]", f.display_name(), human_size(f.size))
}

/// The event's text: the notes, then what the person wrote.
pub fn compose(notes: &[String], text: &str) -> String {
    let mut parts: Vec<&str> = notes.iter().map(String::as_str).collect();
    if !text.is_empty() {
        parts.push(text);
    }
    parts.join("\n")
}

/// A file's MIME type, `application/octet-stream` when Slack gave none.
pub fn mime(f: &File) -> String {
    f.mimetype
        .clone()
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| "application/octet-stream".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, size: u64) -> File {
        File {
            id: name.into(),
            name: Some(name.into()),
            size,
            url_private: Some(format!("https://files.slack.com/{name}")),
            ..File::default()
        }
    }

    #[test]
    fn large_files_and_those_over_the_total_are_described() {
        let files = [file("a", 6), file("b", 11), file("c", 5), file("d", 4)];
        let plans = plan(&files, 10, 12);
        assert!(matches!(&plans[0], Plan::Fetch(f) if f.id == "a"));
        assert!(matches!(&plans[1], Plan::Describe(f, Skip::TooLarge) if f.id == "b"));
        assert!(matches!(&plans[2], Plan::Fetch(f) if f.id == "c"));
        assert!(matches!(&plans[3], Plan::Describe(f, Skip::TooLarge) if f.id == "d"));
        let mut hidden = file("e", 1);
        hidden.url_private = None;
        assert!(matches!(
            &plan(&[hidden], 10, 10)[0],
            Plan::Describe(_, Skip::NoUrl)
        ));
    }

    #[test]
    fn descriptions_name_the_file_and_its_size() {
        assert_eq!(
            describe(&file("big.zip", 20 * 1024 * 1024), Skip::TooLarge),
            "[file big.zip, 20.0 MB, too large to read]"
        );
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(1536), "1.5 KB");
        assert_eq!(compose(&["[x]".into()], "hi"), "[x]\nhi");
        assert_eq!(compose(&[], "hi"), "hi");
        assert_eq!(mime(&file("a", 1)), "application/octet-stream");
    }
}
