//! Tool names on the wire.
//!
//! openpista names tools with dots (`time.now`); Anthropic accepts only
//! `^[a-zA-Z0-9_-]{1,64}$`. Every other character becomes `_` (and a name
//! is cut to 64 characters); answers are mapped back to the original
//! names. Two tools that would end up with the same wire name are refused,
//! because an answer naming it could not be mapped back.

use std::collections::HashMap;

use openpista_sdk::{Error, ToolSpec};

use crate::PROVIDER;

/// The longest tool name the API accepts.
const MAX_LEN: usize = 64;

/// `name` as the API accepts it: letters, digits, `_` and `-` kept, any
/// other character replaced with `_`, at most 64 characters, never empty.
pub fn sanitize(name: &str) -> String {
    let mut wire: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(MAX_LEN)
        .collect();
    if wire.is_empty() {
        wire.push('_');
    }
    wire
}

/// The two-way mapping between the request's tool names and their wire
/// names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ToolNames {
    to_wire: HashMap<String, String>,
    to_original: HashMap<String, String>,
}

impl ToolNames {
    /// The mapping for these tools; [`Error::InvalidInput`] naming both
    /// tools when two of them share a wire name.
    pub fn new(tools: &[ToolSpec]) -> Result<ToolNames, Error> {
        let mut names = ToolNames::default();
        for tool in tools {
            let wire = sanitize(&tool.name);
            match names.to_original.get(&wire) {
                Some(existing) if *existing == tool.name => {}
                Some(existing) => {
                    return Err(Error::invalid_input(format!(
                        "{PROVIDER}: the tools `{existing}` and `{}` would both be called \
                         `{wire}` on the wire (Anthropic allows only letters, digits, `_` and \
                         `-` in tool names, at most {MAX_LEN}); rename one of them",
                        tool.name
                    )));
                }
                None => {
                    names.to_original.insert(wire.clone(), tool.name.clone());
                    names.to_wire.insert(tool.name.clone(), wire);
                }
            }
        }
        Ok(names)
    }

    /// The wire name of `name` (also for a tool no longer offered, as in
    /// an older turn of the conversation).
    pub fn wire(&self, name: &str) -> String {
        self.to_wire
            .get(name)
            .cloned()
            .unwrap_or_else(|| sanitize(name))
    }

    /// The original name of a wire name the model answered with; a name
    /// the request did not offer comes back unchanged.
    pub fn original(&self, wire: &str) -> String {
        self.to_original
            .get(wire)
            .cloned()
            .unwrap_or_else(|| wire.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openpista_sdk::serde_json::json;

    fn spec(name: &str) -> ToolSpec {
        ToolSpec::new(name, "d", json!({"type": "object"}))
    }

    #[test]
    fn dots_and_other_characters_become_underscores() {
        assert_eq!(sanitize("time.now"), "time_now");
        assert_eq!(sanitize("text.json-query"), "text_json-query");
        assert_eq!(sanitize("a b/c:é"), "a_b_c__");
        assert_eq!(sanitize("ok_name-1"), "ok_name-1");
        assert_eq!(sanitize(""), "_");
        assert_eq!(sanitize(&"x".repeat(100)).len(), 64);
    }

    #[test]
    fn maps_both_ways() {
        let names = ToolNames::new(&[spec("time.now"), spec("notes.add"), spec("plain")]).unwrap();
        assert_eq!(names.wire("time.now"), "time_now");
        assert_eq!(names.original("time_now"), "time.now");
        assert_eq!(names.original("notes_add"), "notes.add");
        assert_eq!(names.original("plain"), "plain");
        // Unknown names pass through; history names are sanitized.
        assert_eq!(names.original("mystery_tool"), "mystery_tool");
        assert_eq!(names.wire("old.tool"), "old_tool");
    }

    #[test]
    fn collisions_name_both_tools() {
        let e = ToolNames::new(&[spec("time.now"), spec("time_now")]).unwrap_err();
        let Error::InvalidInput(message) = e else {
            panic!("{e:?}")
        };
        assert!(message.contains("`time.now`"), "{message}");
        assert!(message.contains("`time_now`"), "{message}");
        assert!(message.contains("llm-anthropic"), "{message}");
        // The same tool listed twice is no collision.
        assert!(ToolNames::new(&[spec("a.b"), spec("a.b")]).is_ok());
    }
}
