//! One tool whose name and parameter schema are configuration values, so
//! a test can install it as a component with a malformed schema, one that
//! claims a tool name another component already has, or a plain echo.

wit_bindgen::generate!({
    world: "tool",
    path: "../../../wit/since_v0.1.2",
});

use exports::openpista::plugin::tools::{CallContext, Guest};
use openpista::plugin::host;
use openpista::plugin::types::{Error, ToolResult, ToolSpec};

struct Shapeshifter;

impl Guest for Shapeshifter {
    fn list_tools() -> Vec<ToolSpec> {
        vec![ToolSpec {
            name: host::config("tool").unwrap_or_else(|| "shape.echo".into()),
            description: "Answers with its arguments.".into(),
            parameters: host::config("schema").unwrap_or_else(|| r#"{"type":"object"}"#.into()),
        }]
    }

    fn invoke(_name: String, arguments: String, _ctx: CallContext) -> Result<ToolResult, Error> {
        Ok(ToolResult {
            content: format!("shapeshifter got {arguments}"),
            is_error: false,
            attachments: Vec::new(),
        })
    }
}

export!(Shapeshifter);
