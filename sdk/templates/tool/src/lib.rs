//! `{{name}}`: an openpista tool component.
//!
//! The host asks `tools()` for the list of tools, then calls `invoke` with a
//! tool's name and the JSON arguments the model wrote.

use openpista_sdk::prelude::*;
use serde::Deserialize;

/// The component; it holds no state (each call may run in a fresh instance:
/// keep anything that must last in `memory`).
struct Component;

/// Arguments of `{{crate_name}}.greet`, mirroring its JSON Schema.
#[derive(Deserialize)]
struct GreetArgs {
    name: String,
    #[serde(default)]
    excited: bool,
}

fn greet(args: GreetArgs) -> String {
    let end = if args.excited { "!" } else { "." };
    format!("Hello, {}{end}", args.name)
}

impl Tool for Component {
    fn tools() -> Vec<ToolSpec> {
        vec![ToolSpec::new(
            "{{crate_name}}.greet",
            "Greets someone by name. Use it when asked to say hello.",
            json!({
                "type": "object",
                "properties": {
                    "name": { "type": "string", "description": "Who to greet." },
                    "excited": { "type": "boolean", "description": "End with an exclamation mark." }
                },
                "required": ["name"],
                "additionalProperties": false
            }),
        )]
    }

    fn invoke(name: &str, args: Args, _ctx: CallContext) -> Result<ToolResult, Error> {
        match name {
            "{{crate_name}}.greet" => Ok(ToolResult::text(greet(args.parse()?))),
            other => Err(Error::not_found(format!("{{name}} has no tool `{other}`"))),
        }
    }
}

export_tool!(Component);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greets() {
        let args: GreetArgs = Args::new(r#"{"name": "Ada", "excited": true}"#)
            .parse()
            .unwrap();
        assert_eq!(greet(args), "Hello, Ada!");
    }

    #[test]
    fn names_the_bad_argument() {
        let err = Args::new(r#"{"name": 5}"#)
            .parse::<GreetArgs>()
            .err()
            .unwrap();
        assert!(err.to_string().contains("`name`"), "{err}");
    }
}
