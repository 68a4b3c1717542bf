//! `text.json_query`: select part of a JSON document by path.
//!
//! Two path syntaxes are accepted:
//! - dotted, as people write it: `a.b[0].c`, `$.a.b`, `items[-1]` (negative
//!   indexes count from the end), `a["key.with.dots"]`;
//! - JSON Pointer (RFC 6901), recognised by its leading `/`: `/a/b/0/c`,
//!   with `~1` for `/` and `~0` for `~` inside keys.
//!
//! An empty path, or `$`, selects the whole document (as the empty pointer
//! does in RFC 6901; the pointer `/` selects the key `""`).

use serde::Deserialize;
use serde_json::Value;

/// Arguments of `text.json_query`.
#[derive(Debug, Deserialize)]
pub struct QueryArgs {
    /// The document: JSON text, or a JSON value given directly.
    pub json: Value,
    /// Where to look, dotted or JSON Pointer.
    #[serde(default)]
    pub path: String,
}

/// How a segment addresses its parent.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Step {
    /// An object key; on an array, a key made of digits is an index.
    Key(String),
    /// An array index from `[n]`; negative counts from the end.
    Index(i64),
}

/// One step of a path, with the path's text up to and including it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Segment {
    step: Step,
    /// The segment as written (`b`, `[0]`, `/c`), for messages.
    text: String,
}

fn parse_pointer(path: &str) -> Result<Vec<Segment>, String> {
    path.split('/')
        .skip(1)
        .map(|raw| {
            let mut key = String::with_capacity(raw.len());
            let mut chars = raw.chars();
            while let Some(c) = chars.next() {
                if c == '~' {
                    match chars.next() {
                        Some('0') => key.push('~'),
                        Some('1') => key.push('/'),
                        _ => {
                            return Err(format!(
                                "segment `/{raw}`: `~` must be followed by 0 or 1 in a JSON Pointer"
                            ));
                        }
                    }
                } else {
                    key.push(c);
                }
            }
            Ok(Segment {
                step: Step::Key(key),
                text: format!("/{raw}"),
            })
        })
        .collect()
}

fn parse_dotted(path: &str) -> Result<Vec<Segment>, String> {
    let mut rest = path.strip_prefix('$').unwrap_or(path);
    let mut segments = Vec::new();
    let mut first = true;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('[') {
            let close = closing_bracket(after)
                .ok_or_else(|| format!("`{rest}`: `[` is not closed by `]`"))?;
            let inside = after[..close].trim();
            let text = format!("[{}]", &after[..close]);
            let step = if let Some(quoted) = unquote(inside) {
                Step::Key(quoted)
            } else {
                Step::Index(inside.parse::<i64>().map_err(|_| {
                    format!(
                        "segment `{text}`: write an index as [0] or [-1], or a key as [\"name\"]"
                    )
                })?)
            };
            segments.push(Segment { step, text });
            rest = &after[close + 1..];
        } else {
            if let Some(after) = rest.strip_prefix('.') {
                rest = after;
            } else if !first {
                return Err(format!("`{rest}`: expected `.` or `[` between segments"));
            }
            let end = rest.find(['.', '[']).unwrap_or(rest.len());
            let key = &rest[..end];
            if key.is_empty() {
                return Err(format!(
                    "empty key in the path at `{}` (use [\"\"] for an empty key)",
                    if rest.is_empty() { "the end" } else { rest }
                ));
            }
            segments.push(Segment {
                step: Step::Key(key.to_string()),
                text: key.to_string(),
            });
            rest = &rest[end..];
        }
        first = false;
    }
    Ok(segments)
}

/// Position of the `]` that closes a bracket, skipping quoted text.
fn closing_bracket(s: &str) -> Option<usize> {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c == ']' => return Some(i),
            None => {}
        }
    }
    None
}

/// The key inside `"..."` or `'...'`, with `\x` meaning `x`.
fn unquote(s: &str) -> Option<String> {
    let q = s.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let inner = s.strip_prefix(q)?.strip_suffix(q)?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            out.extend(chars.next());
        } else {
            out.push(c);
        }
    }
    Some(out)
}

fn parse_path(path: &str) -> Result<Vec<Segment>, String> {
    let path = path.trim();
    if path.starts_with('/') {
        parse_pointer(path)
    } else {
        parse_dotted(path)
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn resolve_index(len: usize, index: i64) -> Option<usize> {
    if index >= 0 {
        usize::try_from(index).ok().filter(|i| *i < len)
    } else {
        len.checked_sub(usize::try_from(index.unsigned_abs()).ok()?)
    }
}

/// Follows `segments` from `root`; the error names the failing segment and
/// says what was there instead.
fn select<'a>(root: &'a Value, segments: &[Segment]) -> Result<&'a Value, String> {
    let mut current = root;
    let mut walked = String::new();
    for seg in segments {
        let here = if walked.is_empty() {
            "the top level".to_string()
        } else {
            format!("`{walked}`")
        };
        let fail = |why: String| format!("segment `{}` failed: {why}", seg.text);
        current = match (&seg.step, current) {
            (Step::Key(key), Value::Object(map)) => map.get(key).ok_or_else(|| {
                let mut keys: Vec<&str> = map.keys().map(String::as_str).take(20).collect();
                keys.sort_unstable();
                let more = if map.len() > keys.len() { ", ..." } else { "" };
                fail(format!(
                    "no key `{key}` in the object at {here} (its keys: {}{more})",
                    if keys.is_empty() {
                        "none".to_string()
                    } else {
                        keys.join(", ")
                    }
                ))
            })?,
            (Step::Key(key), Value::Array(items)) => {
                let index = key.parse::<usize>().map_err(|_| {
                    fail(format!(
                        "{here} is an array of {} elements; `{key}` is not an index",
                        items.len()
                    ))
                })?;
                items.get(index).ok_or_else(|| {
                    fail(format!(
                        "index {index} is out of range: {here} has {} elements",
                        items.len()
                    ))
                })?
            }
            (Step::Index(index), Value::Array(items)) => resolve_index(items.len(), *index)
                .and_then(|i| items.get(i))
                .ok_or_else(|| {
                    fail(format!(
                        "index {index} is out of range: {here} has {} elements",
                        items.len()
                    ))
                })?,
            (Step::Index(_), other) => {
                return Err(fail(format!("{here} is {}, not an array", kind(other))));
            }
            (Step::Key(_), other) => {
                return Err(fail(format!(
                    "{here} is {}, which has no keys",
                    kind(other)
                )));
            }
        };
        if walked.is_empty() || seg.text.starts_with(['[', '/']) {
            walked.push_str(&seg.text);
        } else {
            walked.push('.');
            walked.push_str(&seg.text);
        }
    }
    Ok(current)
}

/// Runs a query: the selected value as compact JSON text.
pub fn query(args: QueryArgs) -> Result<String, String> {
    let document = match args.json {
        Value::String(text) => serde_json::from_str::<Value>(&text).map_err(|e| {
            format!("argument `json` is a string but not JSON text ({e}); pass the document itself or its JSON text")
        })?,
        other => other,
    };
    let segments = parse_path(&args.path).map_err(|e| format!("path `{}`: {e}", args.path))?;
    let selected =
        select(&document, &segments).map_err(|e| format!("path `{}`: {e}", args.path))?;
    Ok(selected.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn q(json: Value, path: &str) -> Result<String, String> {
        query(QueryArgs {
            json,
            path: path.into(),
        })
    }

    fn doc() -> Value {
        json!({
            "a": { "b": [ { "c": 1 }, { "c": "two", "d.e": true } ] },
            "items": [10, 20, 30],
            "a/b": { "m~n": "tilde" },
            "": "empty key"
        })
    }

    #[test]
    fn dotted_paths() {
        assert_eq!(q(doc(), "a.b[0].c").unwrap(), "1");
        assert_eq!(q(doc(), "$.a.b[1].c").unwrap(), "\"two\"");
        assert_eq!(q(doc(), "a.b[1][\"d.e\"]").unwrap(), "true");
        assert_eq!(q(doc(), "a.b[1]['d.e']").unwrap(), "true");
        assert_eq!(q(doc(), "items[-1]").unwrap(), "30");
        assert_eq!(q(doc(), "items.1").unwrap(), "20");
        assert_eq!(q(doc(), "[\"\"]").unwrap(), "\"empty key\"");
        assert_eq!(q(json!([1, [2, 3]]), "[1][0]").unwrap(), "2");
    }

    #[test]
    fn whole_document() {
        assert_eq!(q(json!({"x": 1}), "").unwrap(), r#"{"x":1}"#);
        assert_eq!(q(json!({"x": 1}), "$").unwrap(), r#"{"x":1}"#);
    }

    #[test]
    fn json_pointer_paths() {
        assert_eq!(q(doc(), "/a/b/0/c").unwrap(), "1");
        assert_eq!(q(doc(), "/a~1b/m~0n").unwrap(), "\"tilde\"");
        assert_eq!(q(doc(), "/").unwrap(), "\"empty key\"");
        assert_eq!(q(doc(), "/items/2").unwrap(), "30");
    }

    #[test]
    fn the_document_may_be_json_text() {
        assert_eq!(q(json!(r#"{"x": [true]}"#), "x[0]").unwrap(), "true");
        let e = q(json!("{not json"), "x").unwrap_err();
        assert!(
            e.starts_with("argument `json` is a string but not JSON text"),
            "{e}"
        );
    }

    #[test]
    fn errors_name_the_failing_segment() {
        assert_eq!(
            q(doc(), "a.x.c").unwrap_err(),
            "path `a.x.c`: segment `x` failed: no key `x` in the object at `a` (its keys: b)"
        );
        assert_eq!(
            q(doc(), "a.b[5]").unwrap_err(),
            "path `a.b[5]`: segment `[5]` failed: index 5 is out of range: `a.b` has 2 elements"
        );
        assert_eq!(
            q(doc(), "a.b[0].c.d").unwrap_err(),
            "path `a.b[0].c.d`: segment `d` failed: `a.b[0].c` is a number, which has no keys"
        );
        assert_eq!(
            q(doc(), "a[0]").unwrap_err(),
            "path `a[0]`: segment `[0]` failed: `a` is an object, not an array"
        );
        assert_eq!(
            q(doc(), "/a/b/x").unwrap_err(),
            "path `/a/b/x`: segment `/x` failed: `/a/b` is an array of 2 elements; `x` is not an index"
        );
        assert_eq!(
            q(doc(), "nope").unwrap_err(),
            "path `nope`: segment `nope` failed: no key `nope` in the object at the top level (its keys: , a, a/b, items)"
        );
    }

    #[test]
    fn malformed_paths() {
        assert!(q(doc(), "a..b").unwrap_err().contains("empty key"));
        assert!(q(doc(), "a.").unwrap_err().contains("empty key"));
        assert!(q(doc(), "a[0").unwrap_err().contains("not closed"));
        assert!(q(doc(), "a[x]").unwrap_err().contains("segment `[x]`"));
        assert!(
            q(doc(), "/a~2")
                .unwrap_err()
                .contains("`~` must be followed")
        );
        assert!(
            q(doc(), "items[0]x")
                .unwrap_err()
                .contains("expected `.` or `[`")
        );
    }
}
