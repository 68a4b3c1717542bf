//! `fs.write`: create, replace or append to a text file in a writable
//! grant.

use crate::grants::{Grants, Place, io_failure};
use openpista_sdk::{Error, ToolResult};
use serde::Deserialize;
use std::io::Write;

/// Largest `content` one call may write.
pub const MAX_CONTENT: usize = 4 * 1024 * 1024;

/// Arguments of `fs.write`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WriteArgs {
    pub path: String,
    pub content: String,
    /// Add to the end instead of replacing.
    #[serde(default)]
    pub append: bool,
}

pub fn write(grants: &Grants, args: WriteArgs) -> Result<ToolResult, Error> {
    if args.content.len() > MAX_CONTENT {
        return Err(Error::invalid_input(format!(
            "argument `content`: {} bytes is more than the {MAX_CONTENT} one call may write; append the rest in further calls",
            args.content.len()
        )));
    }
    let place = grants.place(&args.path, "path")?;
    if !place.writable {
        let writable: Vec<&str> = grants
            .list()
            .iter()
            .filter(|g| g.writable)
            .map(|g| g.root.as_str())
            .collect();
        let elsewhere = if writable.is_empty() {
            "no folder is granted writable".to_string()
        } else {
            format!("writable are only {}", writable.join(", "))
        };
        return Err(Error::denied(format!(
            "`{}` is in `{}`, which is granted read-only ({elsewhere}); writing there needs the \
             operator's grant: [components.tool-files] writable_paths = [\"{}\"]",
            place.shown, place.root, place.root
        )));
    }
    if place.path == place.root {
        return Err(Error::invalid_input(format!(
            "argument `path`: `{}` is the granted folder itself; name a file inside it",
            args.path
        )));
    }
    let failed =
        |e: std::io::Error, place: &Place| io_failure(&e, place, "write").map(ToolResult::error);
    let existing = std::fs::metadata(&place.path).ok();
    if existing.as_ref().is_some_and(|m| m.is_dir()) {
        return Ok(ToolResult::error(format!(
            "`{}` is a folder; name a file to write",
            place.shown
        )));
    }
    // Parent folders, created inside the writable grant only (the path was
    // placed inside it, and the sandbox holds the rest to that).
    let (parent, _) = place.path.rsplit_once('/').unwrap_or(("/", ""));
    let mut created = String::new();
    let at = Place {
        shown: grants.show(parent),
        path: parent.to_string(),
        ..place.clone()
    };
    match std::fs::metadata(parent) {
        _ if parent.is_empty() => {}
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Ok(ToolResult::error(format!(
                "`{}` is a file, so it cannot hold `{}`",
                at.shown, place.shown
            )));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Err(e) = std::fs::create_dir_all(parent) {
                return failed(e, &at);
            }
            created = format!("; created the folder `{}`", at.shown);
        }
        // A link on the way that leads out, say.
        Err(e) => return failed(e, &at),
    }
    let mut options = std::fs::OpenOptions::new();
    options.create(true).write(true);
    if args.append {
        options.append(true);
    } else {
        options.truncate(true);
    }
    let result = options.open(&place.path).and_then(|mut f| {
        f.write_all(args.content.as_bytes())
            .and_then(|()| f.flush())
    });
    if let Err(e) = result {
        return failed(e, &place);
    }
    let now = std::fs::metadata(&place.path).map_or(0, |m| m.len());
    let bytes = args.content.len();
    let what = match (existing.is_some(), args.append) {
        (false, _) => format!("created `{}` with {bytes} bytes", place.shown),
        (true, true) => format!(
            "appended {bytes} bytes to `{}` (now {now} bytes)",
            place.shown
        ),
        (true, false) => format!("replaced `{}` with {bytes} bytes", place.shown),
    };
    Ok(ToolResult::text(format!("{what}{created}")))
}
