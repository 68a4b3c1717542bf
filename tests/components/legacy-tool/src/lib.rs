//! Built against `wit/since_v0.1.0`, the first released contract. The host
//! now offers 0.1.2; this component must keep loading and working.

wit_bindgen::generate!({
    world: "tool",
    path: "../../../wit/since_v0.1.0",
});

use exports::openpista::plugin::tools::{CallContext, Guest};
use openpista::plugin::types::{Error, ToolResult, ToolSpec};
use openpista::plugin::{host, memory};

struct Legacy;

impl Guest for Legacy {
    fn list_tools() -> Vec<ToolSpec> {
        vec![ToolSpec {
            name: "legacy.greet".into(),
            description: "Greets and counts its calls in memory.".into(),
            parameters: r#"{"type":"object"}"#.into(),
        }]
    }

    fn invoke(
        name: String,
        _arguments: String,
        _context: CallContext,
    ) -> Result<ToolResult, Error> {
        if name != "legacy.greet" {
            return Err(Error::NotFound(name));
        }
        let count = memory::get("count")?
            .and_then(|v| String::from_utf8(v).ok())
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(0)
            + 1;
        memory::set("count", count.to_string().as_bytes())?;
        let greeting = host::config("greeting").unwrap_or_default();
        Ok(ToolResult {
            content: format!("{greeting} (call {count})"),
            is_error: false,
            attachments: Vec::new(),
        })
    }
}

export!(Legacy);
