//! The slash commands registered for the application (`PUT
//! /applications/{app}/commands`): the host's own commands, and `ask`,
//! which puts a question to the agent. The host answers the commands; this
//! is only how Discord offers them.

use serde_json::{Value, json};

/// Memory key prefix recording the body registered for an application.
pub const MEMORY_PREFIX: &str = "commands/registered/";

/// A command's optional text option: its name and description.
type TextOption = Option<(&'static str, &'static str)>;

/// Name, description, and the optional text option.
const COMMANDS: [(&str, &str, TextOption); 6] = [
    ("help", "What the agent can do, and its commands", None),
    ("stop", "Stop the running answer", None),
    (
        "new",
        "Start a new session",
        Some(("title", "A title for the session")),
    ),
    (
        "sessions",
        "List or switch sessions",
        Some(("args", "A number, or rename/delete N")),
    ),
    (
        "model",
        "Show or choose the model",
        Some(("name", "The model to use")),
    ),
    ("status", "Where the agent stands", None),
];

/// The body of the registration: every command as a chat-input command
/// (type 1) with string options (type 3).
pub fn registration() -> Value {
    let mut list: Vec<Value> = COMMANDS
        .iter()
        .map(|(name, description, option)| {
            let mut c = json!({ "name": name, "description": description, "type": 1 });
            if let Some((opt, what)) = option {
                c["options"] =
                    json!([{ "type": 3, "name": opt, "description": what, "required": false }]);
            }
            c
        })
        .collect();
    list.push(json!({
        "name": "ask", "description": "Ask the agent", "type": 1,
        "options": [{ "type": 3, "name": "text", "description": "Your question", "required": true }]
    }));
    Value::Array(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hosts_commands_and_ask_are_registered() {
        let body = registration();
        let names: Vec<&str> = body
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            vec!["help", "stop", "new", "sessions", "model", "status", "ask"]
        );
        let ask = &body[6];
        assert_eq!(ask["options"][0]["name"], "text");
        assert_eq!(ask["options"][0]["required"], true);
        assert_eq!(ask["options"][0]["type"], 3);
        for c in body.as_array().unwrap() {
            let d = c["description"].as_str().unwrap();
            assert!(!d.is_empty() && d.len() <= 100);
        }
    }
}
