//! `tool-files`: the agent's file tools, confined to the folders the
//! operator grants. It is the showcase of the capability model: it holds no
//! file-system rule of its own that security depends on.
//!
//! - `fs.read`: a text file, whole or a window of lines or bytes (a size
//!   cap holds either way); binary files are named as such, not dumped;
//! - `fs.write`: create, replace or append to a file, creating missing
//!   parent folders, in a writable grant only;
//! - `fs.list`: a folder's entries (name, kind, size), optionally its
//!   subfolders to a depth, up to an entry cap;
//! - `fs.search`: lines containing a text (or matching a `*`/`?` pattern)
//!   in the files under a folder, as `file:line: text`, up to a hit cap.
//!
//! **What it may touch.** Its manifest declares `paths = ["*"]` and
//! `writable_paths = ["*"]`: whichever folders the operator lists in
//! `[components.tool-files] paths` (read) and `writable_paths` (read and
//! write), and none without such a list. So the embedded component reaches
//! nothing until the operator grants a folder, and then only that folder.
//! The host preopens exactly those folders (read-only unless writable);
//! the component learns them from `wasi:filesystem/preopens`, and which
//! are writable from each one's descriptor flags.
//!
//! **Paths the model writes.** Absolute paths are taken as written and must
//! fall inside a granted folder. Relative paths start at the *first*
//! granted folder (the first of `paths`, else of `writable_paths`). `.` and
//! `..` are resolved by their text first, so `../x` that leaves the grants
//! is denied with the path it resolved to and the list of granted folders,
//! before the file system is asked. Answers name files relative to the
//! first granted folder when inside it, absolute otherwise: the form a
//! later call can pass back.
//!
//! **Symbolic links** are followed by the sandbox (wasmtime's cap-std)
//! only while they stay inside the granted folder they are in; one that
//! leads out (or to an absolute path) is refused there, and the component
//! names the link and its target in the denial. Listings and searches show
//! links without following them.

mod grants;
mod list;
mod read;
mod search;
mod write;

use grants::Grants;
use openpista_sdk::prelude::*;

/// The component.
pub struct Files;

fn path_schema(what: &str) -> serde_json::Value {
    json!({
        "type": "string",
        "minLength": 1,
        "description": format!("{what} Absolute (inside a granted folder) or relative to the first granted folder.")
    })
}

fn schema_read() -> serde_json::Value {
    json!({
        "type": "object",
        "properties": {
            "path": path_schema("The file to read."),
            "line": {
                "type": "integer",
                "minimum": 1,
                "description": "First line to return, counting from 1. With `lines`: a window of lines."
            },
            "lines": {
                "type": "integer",
                "minimum": 1,
                "description": "How many lines to return from `line` (default: to the size cap)."
            },
            "offset": {
                "type": "integer",
                "minimum": 0,
                "description": "First byte to return, counting from 0. With `length`: a window of bytes. Not together with `line`/`lines`."
            },
            "length": {
                "type": "integer",
                "minimum": 1,
                "maximum": read::MAX_BYTES,
                "description": format!("How many bytes to return from `offset` (default {}).", read::DEFAULT_BYTES)
            }
        },
        "required": ["path"],
        "additionalProperties": false
    })
}

fn schema_write() -> serde_json::Value {
    json!({
        "type": "object",
        "properties": {
            "path": path_schema("The file to write; missing parent folders are created."),
            "content": {
                "type": "string",
                "maxLength": write::MAX_CONTENT,
                "description": "The text to write."
            },
            "append": {
                "type": "boolean",
                "description": "Add `content` to the end of the file instead of replacing it (default false)."
            }
        },
        "required": ["path", "content"],
        "additionalProperties": false
    })
}

fn schema_list() -> serde_json::Value {
    json!({
        "type": "object",
        "properties": {
            "path": path_schema("The folder to list (default: the first granted folder, and the answer then names every granted folder)."),
            "recursive": {
                "type": "boolean",
                "description": format!("Also list subfolders, {} levels down unless `depth` says otherwise.", list::DEFAULT_DEPTH)
            },
            "depth": {
                "type": "integer",
                "minimum": 1,
                "maximum": list::MAX_DEPTH,
                "description": "Levels to list: 1 is the folder's own entries, 2 adds its subfolders' entries..."
            },
            "limit": {
                "type": "integer",
                "minimum": 1,
                "maximum": list::MAX_LIMIT,
                "description": format!("At most this many entries (default {}).", list::DEFAULT_LIMIT)
            }
        },
        "additionalProperties": false
    })
}

fn schema_search() -> serde_json::Value {
    json!({
        "type": "object",
        "properties": {
            "query": {
                "type": "string",
                "minLength": 1,
                "description": "Text a line must contain. Give this or `pattern`."
            },
            "pattern": {
                "type": "string",
                "minLength": 1,
                "description": "A line pattern instead: `*` is any run of characters, `?` one character, found anywhere in the line (`fn *(*)`)."
            },
            "path": path_schema("The folder to search, or one file (default: the first granted folder)."),
            "glob": {
                "type": "string",
                "description": "Only files whose name matches, such as `*.rs` or `README*`."
            },
            "ignore_case": {
                "type": "boolean",
                "description": "Match regardless of case (default false)."
            },
            "max_hits": {
                "type": "integer",
                "minimum": 1,
                "maximum": search::MAX_HITS,
                "description": format!("At most this many matching lines (default {}).", search::DEFAULT_HITS)
            }
        },
        "additionalProperties": false
    })
}

impl Tool for Files {
    fn tools() -> Vec<ToolSpec> {
        vec![
            ToolSpec::new(
                "fs.read",
                "Read a text file in the folders the operator granted: whole, or a window of lines (`line`, `lines`) or bytes (`offset`, `length`). Long files are cut with a note saying where to continue; binary files are reported, not returned.",
                schema_read(),
            ),
            ToolSpec::new(
                "fs.write",
                "Write a text file (create or replace, or `append`) in a folder the operator granted writable. Missing parent folders are created.",
                schema_write(),
            ),
            ToolSpec::new(
                "fs.list",
                "List a folder's entries with their kind (file, dir, symlink) and size, optionally its subfolders too. Without `path` it lists the first granted folder and names every granted folder.",
                schema_list(),
            ),
            ToolSpec::new(
                "fs.search",
                "Find lines containing a text (or matching a simple `*`/`?` pattern) in the files under a folder; answers `file:line: text` per hit, then a summary line.",
                schema_search(),
            ),
        ]
    }

    fn invoke(name: &str, args: Args, _ctx: CallContext) -> Result<ToolResult, Error> {
        let grants = Grants::from_preopens();
        match name {
            "fs.read" => read::read(&grants, args.parse()?),
            "fs.write" => write::write(&grants, args.parse()?),
            "fs.list" => list::list(&grants, args.parse()?),
            "fs.search" => search::search(&grants, args.parse()?),
            other => Err(unknown(other)),
        }
    }
}

fn unknown(name: &str) -> Error {
    let known: Vec<String> = Files::tools().into_iter().map(|t| t.name).collect();
    Error::unknown_tool("tool-files", name, &known)
}

export_tool!(Files);

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> CallContext {
        CallContext {
            session: None,
            call_id: "t".into(),
        }
    }

    #[test]
    fn every_spec_has_an_object_schema() {
        let specs = Files::tools();
        assert_eq!(specs.len(), 4);
        for spec in specs {
            let schema: serde_json::Value = serde_json::from_str(&spec.parameters).unwrap();
            assert_eq!(schema["type"], "object", "{}", spec.name);
            assert_eq!(schema["additionalProperties"], false, "{}", spec.name);
            assert!(schema["properties"]["path"].is_object(), "{}", spec.name);
        }
    }

    #[test]
    fn unknown_tools_and_bad_arguments() {
        let e = Files::invoke("fs.delete", Args::new("{}"), ctx()).unwrap_err();
        assert!(
            matches!(&e, Error::NotFound(m) if m.contains("`fs.delete`") && m.contains("fs.read")),
            "{e}"
        );
        let e = Files::invoke("fs.read", Args::new(r#"{"path": 3}"#), ctx()).unwrap_err();
        assert!(
            matches!(&e, Error::InvalidInput(m) if m.contains("`path`")),
            "{e}"
        );
        let e =
            Files::invoke("fs.read", Args::new(r#"{"path":"a","offest":1}"#), ctx()).unwrap_err();
        assert!(
            matches!(&e, Error::InvalidInput(m) if m.contains("unknown field `offest`")),
            "{e}"
        );
        // Outside WebAssembly nothing is granted.
        let e = Files::invoke("fs.list", Args::new("{}"), ctx()).unwrap_err();
        assert!(matches!(&e, Error::Unavailable(_)), "{e}");
    }
}
