//! Tool arguments: the JSON object the model wrote, and typed access to it.

use serde::de::DeserializeOwned;

use crate::Error;

/// The arguments of one tool call: a JSON object as text, exactly as the
/// model wrote it.
///
/// Models make mistakes, and the error a tool returns goes back to the model
/// so it can try again; [`Args::parse`] therefore turns every problem into an
/// [`Error::InvalidInput`] that says what was wrong and where (``argument
/// `limit`: invalid type: string "ten", expected u32``).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Args {
    raw: String,
}

impl Args {
    /// Wraps the arguments text of a call.
    pub fn new(raw: impl Into<String>) -> Self {
        Args { raw: raw.into() }
    }

    /// The arguments exactly as received.
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// The text to parse: some models send an empty string for a tool
    /// without parameters, which means the empty object.
    fn text(&self) -> &str {
        if self.raw.trim().is_empty() {
            "{}"
        } else {
            &self.raw
        }
    }

    /// Deserializes the arguments into `T` (usually a
    /// `#[derive(Deserialize)]` struct mirroring the tool's JSON Schema).
    ///
    /// Malformed JSON and values that do not fit `T` both give
    /// [`Error::InvalidInput`]; a mismatch names the argument by its path
    /// (`filters[2].name`).
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, Error> {
        let text = self.text();
        serde_json::from_str(text).map_err(|e| describe(text, &e))
    }

    /// The arguments as a generic JSON value, for tools that inspect them
    /// dynamically.
    pub fn json(&self) -> Result<serde_json::Value, Error> {
        self.parse()
    }
}

impl From<String> for Args {
    fn from(raw: String) -> Self {
        Args::new(raw)
    }
}

impl From<&str> for Args {
    fn from(raw: &str) -> Self {
        Args::new(raw)
    }
}

/// Turns a serde_json error into a message for the model.
fn describe(text: &str, e: &serde_json::Error) -> Error {
    use serde_json::error::Category;
    let full = e.to_string();
    let position = format!(" at line {} column {}", e.line(), e.column());
    let bare = full.strip_suffix(&position).unwrap_or(&full);
    match e.classify() {
        Category::Data => {
            let missing = bare.starts_with("missing field");
            match path_at(text, e.line(), e.column(), missing) {
                Some(path) if missing => {
                    Error::InvalidInput(format!("arguments: {bare} in `{path}`"))
                }
                Some(path) => Error::InvalidInput(format!("argument `{path}`: {bare}")),
                None => Error::InvalidInput(format!("arguments: {bare}")),
            }
        }
        Category::Syntax | Category::Eof => {
            Error::InvalidInput(format!("arguments are not valid JSON: {bare}{position}"))
        }
        Category::Io => Error::InvalidInput(format!("arguments could not be read: {full}")),
    }
}

/// One level of nesting while scanning JSON text.
enum Level {
    /// In an object; the key whose value is being read, once its `:` is seen
    /// (or the key just read, before the `:`).
    Object(Option<String>),
    /// In an array, at this element.
    Array(usize),
}

/// The path (`a.b[2].c`) of the value that serde_json was reading when it
/// stopped at `line`:`column` (1-based, as serde_json counts them) of
/// `text`. `container` asks for the enclosing object instead of the value
/// (for "missing field", which is reported at the object's end). `None`
/// means the top level.
pub(crate) fn path_at(text: &str, line: usize, column: usize, container: bool) -> Option<String> {
    // Byte offset of the character serde_json stopped on.
    let mut offset = 0;
    for (i, l) in text.split('\n').enumerate() {
        if i + 1 == line {
            offset += column.saturating_sub(1).min(l.len());
            break;
        }
        offset += l.len() + 1;
    }
    let mut stack: Vec<Level> = Vec::new();
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        if i >= offset {
            break;
        }
        match c {
            '"' => {
                let mut s = String::new();
                let mut closed = false;
                while let Some((j, c)) = chars.next() {
                    if j >= offset {
                        break;
                    }
                    match c {
                        '"' => {
                            closed = true;
                            break;
                        }
                        '\\' => {
                            if let Some((_, e)) = chars.next() {
                                s.push(e);
                            }
                        }
                        _ => s.push(c),
                    }
                }
                // A string directly inside an object with no key yet is a key.
                if let Some(Level::Object(key @ None)) = stack.last_mut() {
                    *key = Some(s);
                }
                if !closed {
                    break;
                }
            }
            '{' => stack.push(Level::Object(None)),
            '[' => stack.push(Level::Array(0)),
            '}' | ']' => {
                stack.pop();
            }
            ',' => match stack.last_mut() {
                Some(Level::Object(key)) => *key = None,
                Some(Level::Array(n)) => *n += 1,
                None => {}
            },
            _ => {}
        }
    }
    if container {
        // The value being read is the object that lacks the field.
        if let Some(Level::Object(_)) = stack.last() {
            stack.pop();
        }
    }
    let mut path = String::new();
    for level in &stack {
        match level {
            Level::Object(Some(key)) => {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
            }
            Level::Object(None) => {}
            Level::Array(n) => path.push_str(&format!("[{n}]")),
        }
    }
    if path.is_empty() { None } else { Some(path) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        name: String,
        size: u32,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Outer {
        query: String,
        limit: Option<u32>,
        items: Vec<Inner>,
    }

    fn message(raw: &str) -> String {
        match Args::new(raw).parse::<Outer>() {
            Err(Error::InvalidInput(m)) => m,
            other => panic!("expected invalid input, got {other:?}"),
        }
    }

    #[test]
    fn a_wrong_type_names_the_field() {
        let m = message(r#"{"query": "x", "limit": "ten", "items": []}"#);
        assert!(
            m.starts_with("argument `limit`: invalid type: string \"ten\""),
            "{m}"
        );
    }

    #[test]
    fn a_wrong_type_in_an_array_names_the_element() {
        let m = message(
            r#"{"query": "x", "items": [{"name": "a", "size": 1}, {"name": "b", "size": -3}]}"#,
        );
        assert!(
            m.starts_with("argument `items[1].size`: invalid value"),
            "{m}"
        );
    }

    #[test]
    fn a_missing_field_names_the_field_and_where() {
        let m = message(r#"{"items": []}"#);
        assert_eq!(m, "arguments: missing field `query`");
        let m = message(r#"{"query": "q", "items": [{"name": "a"}]}"#);
        assert_eq!(m, "arguments: missing field `size` in `items[0]`");
    }

    #[test]
    fn malformed_json_says_where() {
        let m = message(r#"{"query": "x",, }"#);
        assert!(m.starts_with("arguments are not valid JSON: "), "{m}");
        assert!(m.contains("line 1 column"), "{m}");
        let m = message(r#"{"query": "x""#);
        assert!(m.starts_with("arguments are not valid JSON: EOF"), "{m}");
    }

    #[test]
    fn keys_with_escapes_and_nested_objects() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct A {
            #[serde(rename = "we\"ird")]
            weird: B,
        }
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct B {
            n: bool,
        }
        let e = Args::new("{\"we\\\"ird\": {\"n\": 3}}")
            .parse::<A>()
            .unwrap_err();
        assert_eq!(
            e,
            Error::InvalidInput(
                "argument `we\"ird.n`: invalid type: integer `3`, expected a boolean".into()
            )
        );
    }

    #[test]
    fn empty_arguments_are_the_empty_object() {
        #[derive(Deserialize)]
        struct Nothing {}
        assert!(Args::new("").parse::<Nothing>().is_ok());
        assert!(
            Args::new("  ")
                .json()
                .unwrap()
                .as_object()
                .unwrap()
                .is_empty()
        );
        assert_eq!(Args::new("").raw(), "");
    }

    #[test]
    fn json_gives_the_value() {
        let v = Args::from(r#"{"a": [1, 2]}"#).json().unwrap();
        assert_eq!(v["a"][1], 2);
    }

    #[test]
    fn path_at_top_level_is_none() {
        assert_eq!(path_at("[1, 2]", 1, 2, false), Some("[0]".into()));
        assert_eq!(path_at("true", 1, 4, false), None);
    }

    #[test]
    fn path_at_counts_lines() {
        let text = "{\n  \"a\": {\n    \"b\": 7\n  }\n}";
        assert_eq!(path_at(text, 3, 10, false), Some("a.b".into()));
    }
}
