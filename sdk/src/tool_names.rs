//! Tool names as language-model services accept them.
//!
//! openpista names tools with dots (`time.now`, `text.json-query`), but most
//! services restrict function names to `^[a-zA-Z0-9_-]{1,64}$` (OpenAI's
//! Chat Completions and Responses APIs, Anthropic's Messages API: all
//! three allow the same set, so one mapping serves every provider). A
//! [`ToolNames`] map turns each name into such a *wire name* on the way out
//! (`.` becomes `__`, any other character outside the set becomes `_`) and
//! turns the service's tool calls back into the original names on the way
//! in.
//!
//! `.` becomes `__` rather than `_` so that `time.now` and `time_now` stay
//! two tools. Two different tools that would still get the same wire name
//! (`a.b` and `a__b`) are refused with [`Error::InvalidInput`] naming both,
//! rather than letting the model's call reach the wrong tool; so is a name
//! longer than 64 characters once mapped, rather than cutting it (two cut
//! names could meet, and the service would refuse the uncut one).
//!
//! ```
//! use openpista_sdk::{ToolSpec, tool_names::ToolNames};
//! use serde_json::json;
//!
//! let specs = vec![ToolSpec::new("time.now", "Now.", json!({"type": "object"}))];
//! let names = ToolNames::new(&specs).unwrap();
//! assert_eq!(names.to_wire("time.now"), "time__now");
//! assert_eq!(names.from_wire("time__now"), "time.now");
//! ```

use std::collections::BTreeMap;

use crate::{Error, ToolSpec};

/// The longest function name the services accept.
pub const MAX_WIRE_NAME: usize = 64;

/// The wire name of a tool name: `.` → `__`, characters outside
/// `[a-zA-Z0-9_-]` → `_`. Names already valid stay as they are.
pub fn wire_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for c in name.chars() {
        match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '_' | '-' => out.push(c),
            '.' => out.push_str("__"),
            _ => out.push('_'),
        }
    }
    out
}

/// Whether `name` is acceptable as it is: 1 to 64 characters of
/// `[a-zA-Z0-9_-]`.
pub fn is_valid_wire_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_WIRE_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The two-way map between the tool names of one request and their wire
/// names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ToolNames {
    /// wire name → original name.
    back: BTreeMap<String, String>,
}

impl ToolNames {
    /// The map for these tools; [`Error::InvalidInput`] when two of them
    /// share a wire name, or a name is empty or longer than 64 characters
    /// once mapped.
    pub fn new(specs: &[ToolSpec]) -> Result<ToolNames, Error> {
        ToolNames::from_names(specs.iter().map(|s| s.name.as_str()))
    }

    /// The map for these tool names (see [`ToolNames::new`]).
    pub fn from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<ToolNames, Error> {
        let mut back: BTreeMap<String, String> = BTreeMap::new();
        for name in names {
            let wire = wire_name(name);
            if wire.is_empty() {
                return Err(Error::invalid_input("a tool has an empty name"));
            }
            if wire.len() > MAX_WIRE_NAME {
                return Err(Error::invalid_input(format!(
                    "tool name `{name}` is too long for the service: `{wire}` has {} \
                     characters, at most {MAX_WIRE_NAME} are allowed",
                    wire.len()
                )));
            }
            match back.get(&wire) {
                Some(other) if other != name => {
                    return Err(Error::invalid_input(format!(
                        "tools `{other}` and `{name}` would both be named `{wire}` for the \
                         service (which allows only letters, digits, `_` and `-`); rename \
                         one of them"
                    )));
                }
                Some(_) => {}
                None => {
                    back.insert(wire, name.to_string());
                }
            }
        }
        Ok(ToolNames { back })
    }

    /// The wire name of `name` (any name, listed or not: a tool call in
    /// the conversation's history may name a tool no longer offered).
    pub fn to_wire(&self, name: &str) -> String {
        wire_name(name)
    }

    /// The original name of a wire name the service sent; a name that is
    /// not in the map is returned as it is.
    pub fn from_wire(&self, wire: &str) -> String {
        self.back
            .get(wire)
            .cloned()
            .unwrap_or_else(|| wire.to_string())
    }

    /// Whether no tools are mapped.
    pub fn is_empty(&self) -> bool {
        self.back.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dots_and_other_characters() {
        assert_eq!(wire_name("time.now"), "time__now");
        assert_eq!(wire_name("text.json-query"), "text__json-query");
        assert_eq!(wire_name("a b/c:d"), "a_b_c_d");
        assert_eq!(wire_name("plain_Name-1"), "plain_Name-1");
        assert_eq!(wire_name("é"), "_");
        assert!(is_valid_wire_name(&wire_name("x.y.z")));
        assert!(!is_valid_wire_name("x.y"));
        assert!(!is_valid_wire_name(""));
        assert!(!is_valid_wire_name(&"a".repeat(65)));
    }

    #[test]
    fn round_trip() {
        let names = ToolNames::from_names(["time.now", "text.stats", "plain"]).unwrap();
        for n in ["time.now", "text.stats", "plain"] {
            assert_eq!(names.from_wire(&names.to_wire(n)), n);
        }
        assert_eq!(names.from_wire("unknown__tool"), "unknown__tool");
        // A tool called in an older turn but no longer offered still maps.
        assert_eq!(names.to_wire("old.tool"), "old__tool");
        assert!(!names.is_empty());
        assert!(ToolNames::new(&[]).unwrap().is_empty());
    }

    #[test]
    fn collisions_name_both_tools() {
        let e = ToolNames::from_names(["a.b", "a__b"]).unwrap_err();
        let Error::InvalidInput(m) = &e else {
            panic!("{e:?}")
        };
        assert!(m.contains("`a.b`") && m.contains("`a__b`"), "{m}");
        let e = ToolNames::from_names(["x y", "x/y"]).unwrap_err();
        assert!(matches!(&e, Error::InvalidInput(m) if m.contains("`x y`") && m.contains("`x/y`")));
        // The same name twice is not a collision.
        assert!(ToolNames::from_names(["a.b", "a.b"]).is_ok());
    }

    #[test]
    fn too_long_or_empty() {
        let long = format!("{}.x", "a".repeat(62));
        let e = ToolNames::from_names([long.as_str()]).unwrap_err();
        assert!(matches!(&e, Error::InvalidInput(m) if m.contains("too long")));
        assert!(ToolNames::from_names([""]).is_err());
    }
}
