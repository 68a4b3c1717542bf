//! `tool-basics`: everyday tools for the agent, built with `openpista-sdk`.
//!
//! - `time.now`: the current time (RFC 3339 and Unix milliseconds), at UTC or
//!   a fixed offset;
//! - `text.json_query`: one value out of a JSON document, by dotted path or
//!   JSON Pointer;
//! - `text.stats`: characters, words and lines of a text;
//! - `notes.save`, `notes.get`, `notes.list`, `notes.delete`: short named
//!   notes kept in the component's durable memory.

mod json_query;
mod notes;
mod stats;
mod time;

use openpista_sdk::prelude::*;

use notes::Outcome;

/// The component.
pub struct Basics;

fn schema_now() -> serde_json::Value {
    json!({
        "type": "object",
        "properties": {
            "offset_minutes": {
                "type": "integer",
                "minimum": -time::MAX_OFFSET_MINUTES,
                "maximum": time::MAX_OFFSET_MINUTES,
                "description": "Minutes east of UTC for the local time (120 for UTC+2, -300 for UTC-5). Default 0: UTC."
            }
        },
        "additionalProperties": false
    })
}

fn schema_json_query() -> serde_json::Value {
    json!({
        "type": "object",
        "properties": {
            "json": {
                "description": "The JSON document: its JSON text as a string, or the value itself."
            },
            "path": {
                "type": "string",
                "description": "Dotted path such as `a.b[0].c` (`items[-1]` is the last element, `a[\"x.y\"]` a key with dots), or a JSON Pointer such as `/a/b/0/c`. Empty for the whole document."
            }
        },
        "required": ["json", "path"],
        "additionalProperties": false
    })
}

fn schema_stats() -> serde_json::Value {
    json!({
        "type": "object",
        "properties": {
            "text": { "type": "string", "description": "The text to measure." }
        },
        "required": ["text"],
        "additionalProperties": false
    })
}

fn schema_name() -> serde_json::Value {
    json!({
        "type": "string",
        "minLength": 1,
        "maxLength": notes::MAX_NAME,
        "description": "The note's name, such as `shopping-list`."
    })
}

impl Tool for Basics {
    fn tools() -> Vec<ToolSpec> {
        vec![
            ToolSpec::new(
                "time.now",
                "Current date and time: RFC 3339 (with milliseconds) at UTC or at a fixed offset, Unix time in milliseconds and the weekday. Use it whenever the answer depends on today's date or the time.",
                schema_now(),
            ),
            ToolSpec::new(
                "text.json_query",
                "Select one value from a JSON document by path and return it as JSON text. Use it to pick fields out of large JSON outputs instead of reading them whole.",
                schema_json_query(),
            ),
            ToolSpec::new(
                "text.stats",
                "Count the characters, words, lines and UTF-8 bytes of a text.",
                schema_stats(),
            ),
            ToolSpec::new(
                "notes.save",
                "Save a short text note under a name, replacing any note of that name. Notes last across conversations and restarts.",
                json!({
                    "type": "object",
                    "properties": {
                        "name": schema_name(),
                        "text": {
                            "type": "string",
                            "maxLength": notes::MAX_TEXT,
                            "description": "The note's content."
                        }
                    },
                    "required": ["name", "text"],
                    "additionalProperties": false
                }),
            ),
            ToolSpec::new(
                "notes.get",
                "Read the note saved under a name.",
                json!({
                    "type": "object",
                    "properties": { "name": schema_name() },
                    "required": ["name"],
                    "additionalProperties": false
                }),
            ),
            ToolSpec::new(
                "notes.list",
                "List the names of saved notes (in byte order), optionally only those starting with a prefix. Answers {\"names\": [...], \"truncated\": bool}.",
                json!({
                    "type": "object",
                    "properties": {
                        "prefix": {
                            "type": "string",
                            "description": "Only names that start with this. Default: all."
                        },
                        "limit": {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": notes::MAX_LIST,
                            "description": "At most this many names (default 100)."
                        }
                    },
                    "additionalProperties": false
                }),
            ),
            ToolSpec::new(
                "notes.delete",
                "Delete the note saved under a name.",
                json!({
                    "type": "object",
                    "properties": { "name": schema_name() },
                    "required": ["name"],
                    "additionalProperties": false
                }),
            ),
        ]
    }

    fn invoke(name: &str, args: Args, _ctx: CallContext) -> Result<ToolResult, Error> {
        match name {
            "time.now" => {
                let now = time::now(host::now_ms(), &args.parse()?).map_err(Error::InvalidInput)?;
                Ok(ToolResult::json(&now))
            }
            "text.json_query" => json_query::query(args.parse()?)
                .map(ToolResult::text)
                .map_err(Error::InvalidInput),
            "text.stats" => {
                let a: stats::StatsArgs = args.parse()?;
                Ok(ToolResult::json(&stats::stats(&a.text)))
            }
            "notes.save" => outcome(notes::save(
                &mut notes::HostMemory,
                args.parse()?,
                host::now_ms(),
            )),
            "notes.get" => outcome(notes::get(&notes::HostMemory, args.parse()?)),
            "notes.list" => outcome(notes::list(&notes::HostMemory, args.parse()?)),
            "notes.delete" => outcome(notes::delete(&mut notes::HostMemory, args.parse()?)),
            other => Err(unknown(other)),
        }
    }
}

fn outcome(result: Result<Outcome, Error>) -> Result<ToolResult, Error> {
    Ok(match result? {
        Outcome::Ok(text) => ToolResult::text(text),
        Outcome::Failed(text) => ToolResult::error(text),
    })
}

fn unknown(name: &str) -> Error {
    let known: Vec<String> = Basics::tools().into_iter().map(|t| t.name).collect();
    Error::unknown_tool("tool-basics", name, &known)
}

export_tool!(Basics);

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
        let specs = Basics::tools();
        assert_eq!(specs.len(), 7);
        for spec in specs {
            let schema: serde_json::Value = serde_json::from_str(&spec.parameters).unwrap();
            assert_eq!(schema["type"], "object", "{}", spec.name);
            assert!(schema["properties"].is_object(), "{}", spec.name);
            assert!(!spec.description.is_empty());
        }
    }

    #[test]
    fn unknown_tools_are_not_found() {
        let e = Basics::invoke("time.later", Args::new("{}"), ctx()).unwrap_err();
        assert!(
            matches!(&e, Error::NotFound(m) if m.contains("`time.later`") && m.contains("time.now")),
            "{e}"
        );
    }

    #[test]
    fn pure_tools_through_invoke() {
        let r = Basics::invoke(
            "text.json_query",
            Args::new(r#"{"json": "{\"a\": [1, 2]}", "path": "a[1]"}"#),
            ctx(),
        )
        .unwrap();
        assert_eq!(r.content, "2");
        let r = Basics::invoke("text.stats", Args::new(r#"{"text": "a b\nc"}"#), ctx()).unwrap();
        let v: serde_json::Value = serde_json::from_str(&r.content).unwrap();
        assert_eq!(
            (v["words"].as_u64(), v["lines"].as_u64()),
            (Some(3), Some(2))
        );
    }

    #[test]
    fn bad_arguments_are_invalid_input() {
        let e = Basics::invoke("text.stats", Args::new(r#"{"text": 5}"#), ctx()).unwrap_err();
        assert!(
            matches!(&e, Error::InvalidInput(m) if m.contains("`text`")),
            "{e}"
        );
        let e = Basics::invoke(
            "text.json_query",
            Args::new(r#"{"json": {}, "path": "x"}"#),
            ctx(),
        )
        .unwrap_err();
        assert!(
            matches!(&e, Error::InvalidInput(m) if m.contains("segment `x`")),
            "{e}"
        );
    }
}
