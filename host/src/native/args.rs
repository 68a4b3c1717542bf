//! Reading a native tool's JSON arguments, with errors the model can act on.

use crate::runtime::bindings::{ToolResult, WitError};
use serde::de::DeserializeOwned;

/// Parses `arguments` for `tool`; a bad object names the field and why.
pub fn parse<T: DeserializeOwned>(tool: &str, arguments: &str) -> Result<T, WitError> {
    let text = if arguments.trim().is_empty() {
        "{}"
    } else {
        arguments
    };
    serde_json::from_str(text)
        .map_err(|e| WitError::InvalidInput(format!("{tool}: bad arguments: {e}")))
}

/// A successful result with text only.
pub fn text(content: impl Into<String>) -> ToolResult {
    ToolResult {
        content: content.into(),
        is_error: false,
        attachments: Vec::new(),
    }
}

/// A result the model should read as a failure it may recover from.
pub fn failure(content: impl Into<String>) -> ToolResult {
    ToolResult {
        content: content.into(),
        is_error: true,
        attachments: Vec::new(),
    }
}

/// Clamps a requested deadline to `[1, max]` seconds, `default` when unset.
pub fn deadline(requested: Option<f64>, default: u64, max: u64) -> std::time::Duration {
    let secs = requested
        .filter(|s| s.is_finite() && *s > 0.0)
        .unwrap_or(default as f64)
        .min(max as f64);
    std::time::Duration::from_secs_f64(secs.max(0.001))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    struct A {
        #[allow(dead_code)]
        command: String,
    }

    #[test]
    fn bad_arguments_name_the_tool_and_field() {
        let e = parse::<A>("system.run", "{}").unwrap_err();
        let WitError::InvalidInput(m) = e else {
            panic!("{e:?}")
        };
        assert!(m.contains("system.run") && m.contains("command"), "{m}");
        let e = parse::<A>("system.run", r#"{"command":"x","cmd":1}"#).unwrap_err();
        assert!(format!("{e:?}").contains("cmd"));
        assert!(parse::<A>("system.run", "not json").is_err());
    }

    #[test]
    fn deadlines_are_clamped() {
        use std::time::Duration;
        assert_eq!(deadline(None, 30, 600), Duration::from_secs(30));
        assert_eq!(deadline(Some(5.0), 30, 600), Duration::from_secs(5));
        assert_eq!(deadline(Some(9999.0), 30, 600), Duration::from_secs(600));
        assert_eq!(deadline(Some(-1.0), 30, 600), Duration::from_secs(30));
        assert_eq!(deadline(Some(f64::NAN), 30, 600), Duration::from_secs(30));
    }
}
