//! `fs.list`: what a folder holds, optionally its subfolders too.

use crate::grants::{Grants, io_failure, join};
use openpista_sdk::{Error, ToolResult};
use serde::Deserialize;
use serde_json::{Value, json};

/// Entries one call lists when it names no `limit`, and at most.
pub const DEFAULT_LIMIT: u32 = 200;
pub const MAX_LIMIT: u32 = 2000;
/// Levels a recursive listing goes down when it names no `depth`, and at most.
pub const DEFAULT_DEPTH: u32 = 5;
pub const MAX_DEPTH: u32 = 20;

/// Arguments of `fs.list`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListArgs {
    /// The folder; the first granted folder when absent.
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub recursive: bool,
    /// Levels to go down (1: the folder's own entries); implies recursive.
    #[serde(default)]
    pub depth: Option<u32>,
    #[serde(default)]
    pub limit: Option<u32>,
}

/// What one walk found.
struct Walk {
    entries: Vec<Value>,
    limit: usize,
    truncated: bool,
    unreadable: Vec<String>,
}

pub fn list(grants: &Grants, args: ListArgs) -> Result<ToolResult, Error> {
    let limit = args.limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(Error::invalid_input(format!(
            "argument `limit`: between 1 and {MAX_LIMIT}"
        )));
    }
    let depth = match (args.depth, args.recursive) {
        (Some(d), _) if d == 0 || d > MAX_DEPTH => {
            return Err(Error::invalid_input(format!(
                "argument `depth`: between 1 and {MAX_DEPTH}"
            )));
        }
        (Some(d), _) => d,
        (None, true) => DEFAULT_DEPTH,
        (None, false) => 1,
    };
    let place = grants.place(args.path.as_deref().unwrap_or("."), "path")?;
    match std::fs::metadata(&place.path) {
        Ok(m) if !m.is_dir() => {
            return Ok(ToolResult::error(format!(
                "`{}` is a file ({} bytes), not a folder; fs.read reads it",
                place.shown,
                m.len()
            )));
        }
        Ok(_) => {}
        Err(e) => return io_failure(&e, &place, "list").map(ToolResult::error),
    }
    let mut walk = Walk {
        entries: Vec::new(),
        limit: limit as usize,
        truncated: false,
        unreadable: Vec::new(),
    };
    if let Err(e) = visit(&mut walk, &place.path, "", depth) {
        return io_failure(&e, &place, "list").map(ToolResult::error);
    }
    let mut answer = json!({
        "folder": place.shown,
        "entries": walk.entries,
        "truncated": walk.truncated,
    });
    if walk.truncated {
        answer["note"] = json!(format!(
            "stopped at {limit} entries; list a subfolder, lower `depth` or raise `limit` (at most {MAX_LIMIT})"
        ));
    }
    if !walk.unreadable.is_empty() {
        answer["unreadable"] = json!(walk.unreadable);
    }
    // Without a path the model is finding its bearings: say what it may use.
    if args.path.is_none() {
        answer["granted"] = grants
            .list()
            .iter()
            .map(|g| {
                let access = if g.writable { "writable" } else { "read-only" };
                json!({ "folder": g.root, "access": access })
            })
            .collect();
    }
    Ok(ToolResult::json(&answer))
}

/// Lists `dir` (shown as `prefix`) in name order, going `depth - 1` levels
/// further down. Symbolic links are listed, never followed.
fn visit(walk: &mut Walk, dir: &str, prefix: &str, depth: u32) -> std::io::Result<()> {
    let mut children: Vec<(String, std::fs::FileType)> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .filter_map(|e| Some((e.file_name().into_string().ok()?, e.file_type().ok()?)))
        .collect();
    children.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, kind) in children {
        if walk.entries.len() >= walk.limit {
            walk.truncated = true;
            return Ok(());
        }
        let path = join(dir, &name);
        let shown = format!("{prefix}{name}");
        let mut entry = json!({ "path": shown });
        if kind.is_symlink() {
            entry["kind"] = json!("symlink");
            if let Ok(target) = std::fs::read_link(&path) {
                entry["target"] = json!(target.to_string_lossy());
            }
        } else if kind.is_dir() {
            entry["kind"] = json!("dir");
        } else if kind.is_file() {
            entry["kind"] = json!("file");
            entry["size"] = json!(std::fs::symlink_metadata(&path).map_or(0, |m| m.len()));
        } else {
            entry["kind"] = json!("other");
        }
        walk.entries.push(entry);
        if kind.is_dir() && depth > 1 {
            let below = format!("{shown}/");
            if visit(walk, &path, &below, depth - 1).is_err() {
                walk.unreadable.push(shown);
            }
            if walk.truncated {
                return Ok(());
            }
        }
    }
    Ok(())
}
