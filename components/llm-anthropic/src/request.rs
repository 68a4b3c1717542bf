//! openpista's chat request → the body of `POST /v1/messages`.
//!
//! - Every system message goes into the top-level `system` field (joined
//!   with a blank line), never into `messages`.
//! - A user message is a `user` turn of `text` blocks and attachments:
//!   `image` blocks for `image/*`, `document` blocks for PDF and text files
//!   (base64 and plain text sources), and a short note for anything else.
//! - An assistant message is an `assistant` turn of its text and one
//!   `tool_use` block per tool call (`input` is the arguments parsed as a
//!   JSON object).
//! - A tool message is a `tool_result` block in a `user` turn.
//! - Turns of the same role that follow each other are merged into one, as
//!   the API wants roles to alternate: consecutive tool results become one
//!   user turn, together with a user message right after them. In a user
//!   turn the `tool_result` blocks come first, as the API requires.
//! - Empty text is left out (the API refuses empty text blocks), and a
//!   turn with nothing in it is dropped.

use openpista_sdk::serde_json::{self, Map, Value, json};
use openpista_sdk::{Attachment, ChatRequest, Error, Message, Role, ToolCall, ToolSpec};

use crate::{PROVIDER, Settings};
use openpista_sdk::tool_names::ToolNames;

/// The host's agent loop writes a failed tool call's result as
/// `error: ...`; such a result is sent with `is_error: true`.
const TOOL_ERROR_PREFIX: &str = "error:";

/// The JSON body for `request` and the tool-name mapping to read the
/// answer with.
pub fn build_body(
    request: &ChatRequest,
    settings: &Settings,
    stream: bool,
) -> Result<(Value, ToolNames), Error> {
    let names = ToolNames::new(&request.tools)?;
    let model = request
        .model
        .as_deref()
        .filter(|m| !m.trim().is_empty())
        .unwrap_or(&settings.model);
    let max_tokens = request.max_tokens.unwrap_or(settings.max_tokens);
    if max_tokens == 0 {
        return Err(Error::invalid_input(format!(
            "{PROVIDER}: max_tokens must be at least 1"
        )));
    }

    let mut body = Map::new();
    body.insert("model".into(), json!(model));
    body.insert("max_tokens".into(), json!(max_tokens));

    let system = system_text(&request.messages);
    if !system.is_empty() {
        body.insert("system".into(), json!(system));
    }
    body.insert(
        "messages".into(),
        Value::Array(turns(&request.messages, &names)?),
    );
    if !request.tools.is_empty() {
        body.insert("tools".into(), tools(&request.tools, &names)?);
    }
    if let Some(t) = request.temperature.or(settings.temperature) {
        body.insert("temperature".into(), float(t));
    }
    if stream {
        body.insert("stream".into(), json!(true));
    }
    Ok((Value::Object(body), names))
}

/// An `f32` as the JSON number a person would write (`0.7`, not
/// `0.699999988079071`).
fn float(value: f32) -> Value {
    value
        .to_string()
        .parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

/// The text of all system messages, in order, joined by a blank line.
pub fn system_text(messages: &[Message]) -> String {
    messages
        .iter()
        .filter(|m| m.role == Role::System)
        .map(|m| m.content.trim())
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// The tool definitions: wire name, description, input schema.
fn tools(tools: &[ToolSpec], names: &ToolNames) -> Result<Value, Error> {
    let mut out = Vec::with_capacity(tools.len());
    let mut seen = std::collections::HashSet::new();
    for tool in tools {
        if !seen.insert(tool.name.as_str()) {
            continue;
        }
        let schema = if tool.parameters.trim().is_empty() {
            json!({ "type": "object", "properties": {} })
        } else {
            match serde_json::from_str::<Value>(&tool.parameters) {
                Ok(Value::Object(mut schema)) => {
                    // The API wants an object schema; `{}` means "anything".
                    schema.entry("type").or_insert_with(|| json!("object"));
                    Value::Object(schema)
                }
                Ok(_) => {
                    return Err(Error::invalid_input(format!(
                        "{PROVIDER}: the parameters of tool `{}` must be a JSON Schema object",
                        tool.name
                    )));
                }
                Err(e) => {
                    return Err(Error::invalid_input(format!(
                        "{PROVIDER}: the parameters of tool `{}` are not valid JSON: {e}",
                        tool.name
                    )));
                }
            }
        };
        let mut def = Map::new();
        def.insert("name".into(), json!(names.to_wire(&tool.name)));
        if !tool.description.trim().is_empty() {
            def.insert("description".into(), json!(tool.description));
        }
        def.insert("input_schema".into(), schema);
        out.push(Value::Object(def));
    }
    Ok(Value::Array(out))
}

/// One turn being assembled.
struct Turn {
    role: &'static str,
    content: Vec<Value>,
}

fn is_tool_result(block: &Value) -> bool {
    block.get("type").and_then(Value::as_str) == Some("tool_result")
}

/// The `messages` array: alternating turns (see the module docs).
pub fn turns(messages: &[Message], names: &ToolNames) -> Result<Vec<Value>, Error> {
    let mut turns: Vec<Turn> = Vec::new();
    for message in messages {
        let (role, blocks) = match message.role {
            Role::System => continue,
            Role::User => ("user", user_blocks(message)),
            Role::Assistant => ("assistant", assistant_blocks(message, names)?),
            Role::Tool => ("user", vec![tool_result_block(message)?]),
        };
        if blocks.is_empty() {
            continue;
        }
        match turns.last_mut() {
            Some(last) if last.role == role => {
                for block in blocks {
                    if is_tool_result(&block) {
                        // Tool results go before any text of the turn.
                        let at = last
                            .content
                            .iter()
                            .position(|b| !is_tool_result(b))
                            .unwrap_or(last.content.len());
                        last.content.insert(at, block);
                    } else {
                        last.content.push(block);
                    }
                }
            }
            _ => turns.push(Turn {
                role,
                content: blocks,
            }),
        }
    }
    Ok(turns
        .into_iter()
        .map(|t| json!({ "role": t.role, "content": t.content }))
        .collect())
}

fn text_block(text: &str) -> Value {
    json!({ "type": "text", "text": text })
}

fn user_blocks(message: &Message) -> Vec<Value> {
    let mut blocks = Vec::new();
    // Files first, then the question about them, as Anthropic recommends.
    for attachment in &message.attachments {
        blocks.push(attachment_block(attachment, true));
    }
    if !message.content.is_empty() {
        blocks.push(text_block(&message.content));
    }
    blocks
}

fn assistant_blocks(message: &Message, names: &ToolNames) -> Result<Vec<Value>, Error> {
    let mut blocks = Vec::new();
    if !message.content.trim().is_empty() {
        blocks.push(text_block(&message.content));
    }
    for call in &message.tool_calls {
        blocks.push(json!({
            "type": "tool_use",
            "id": call.id,
            "name": names.to_wire(&call.name),
            "input": tool_input(call)?,
        }));
    }
    Ok(blocks)
}

/// The arguments of a tool call as the JSON object `tool_use.input` wants.
pub fn tool_input(call: &ToolCall) -> Result<Value, Error> {
    let text = call.arguments.trim();
    if text.is_empty() {
        return Ok(json!({}));
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(Value::Object(map)),
        Ok(other) => Err(Error::invalid_input(format!(
            "{PROVIDER}: the arguments of tool call `{}` (`{}`) must be a JSON object, not {}",
            call.id,
            call.name,
            kind(&other)
        ))),
        Err(e) => Err(Error::invalid_input(format!(
            "{PROVIDER}: the arguments of tool call `{}` (`{}`) are not valid JSON ({e}): {}",
            call.id,
            call.name,
            crate::snippet(text, 200)
        ))),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn tool_result_block(message: &Message) -> Result<Value, Error> {
    let id = message
        .tool_call_id
        .as_deref()
        .filter(|id| !id.is_empty())
        .ok_or_else(|| {
            Error::invalid_input(format!(
                "{PROVIDER}: a tool message has no tool_call_id, so its result cannot be \
                 matched to a call"
            ))
        })?;
    let mut block = Map::new();
    block.insert("type".into(), json!("tool_result"));
    block.insert("tool_use_id".into(), json!(id));
    if message.attachments.is_empty() {
        if !message.content.is_empty() {
            block.insert("content".into(), json!(message.content));
        }
    } else {
        let mut content = Vec::new();
        if !message.content.is_empty() {
            content.push(text_block(&message.content));
        }
        for attachment in &message.attachments {
            content.push(attachment_block(attachment, false));
        }
        block.insert("content".into(), Value::Array(content));
    }
    block.insert(
        "is_error".into(),
        json!(message.content.trim_start().starts_with(TOOL_ERROR_PREFIX)),
    );
    Ok(Value::Object(block))
}

/// An attachment as a content block: an image, a document (PDF or text,
/// only where documents are allowed) or a note saying it was left out.
fn attachment_block(attachment: &Attachment, documents: bool) -> Value {
    let mime = attachment
        .mime
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let label = attachment
        .name
        .as_deref()
        .map(|n| format!("`{n}`"))
        .unwrap_or_else(|| "a file".to_string());
    if mime.starts_with("image/") {
        return json!({
            "type": "image",
            "source": {
                "type": "base64",
                "media_type": mime,
                "data": openpista_sdk::base64::encode(&attachment.data),
            },
        });
    }
    if documents && mime == "application/pdf" {
        let mut block = json!({
            "type": "document",
            "source": {
                "type": "base64",
                "media_type": "application/pdf",
                "data": openpista_sdk::base64::encode(&attachment.data),
            },
        });
        if let Some(name) = &attachment.name {
            block["title"] = json!(name);
        }
        return block;
    }
    if (mime.starts_with("text/") || mime == "application/json")
        && let Ok(text) = std::str::from_utf8(&attachment.data)
    {
        if !documents {
            return text_block(&format!("[{label} ({mime})]\n{text}"));
        }
        let mut block = json!({
            "type": "document",
            "source": {
                "type": "text",
                "media_type": "text/plain",
                "data": text,
            },
        });
        if let Some(name) = &attachment.name {
            block["title"] = json!(name);
        }
        return block;
    }
    text_block(&format!(
        "[{label} ({}, {} bytes) is not included: Anthropic accepts images, PDF and text \
         files here]",
        attachment.mime,
        attachment.data.len()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings {
            model: "claude-x".into(),
            ..Settings::default()
        }
    }

    fn request(messages: Vec<Message>, tools: Vec<ToolSpec>) -> ChatRequest {
        ChatRequest {
            model: None,
            messages,
            tools,
            temperature: None,
            max_tokens: None,
        }
    }

    fn spec(name: &str) -> ToolSpec {
        ToolSpec::new(
            name,
            "what it does",
            json!({"type": "object", "properties": {"x": {"type": "string"}}}),
        )
    }

    #[test]
    fn system_messages_go_to_the_top_level() {
        let req = request(
            vec![
                Message::system("You are terse."),
                Message::user("hi"),
                Message::system("Use metric units."),
            ],
            vec![],
        );
        let (body, _) = build_body(&req, &settings(), false).unwrap();
        assert_eq!(body["system"], "You are terse.\n\nUse metric units.");
        assert_eq!(body["model"], "claude-x");
        assert_eq!(body["max_tokens"], 4096);
        assert!(body.get("stream").is_none());
        assert!(body.get("tools").is_none());
        assert!(body.get("temperature").is_none());
        let messages = body["messages"].as_array().unwrap();
        assert_eq!(messages.len(), 1);
        assert_eq!(
            messages[0],
            json!({"role": "user", "content": [{"type": "text", "text": "hi"}]})
        );
        // No system message, no `system` field.
        let (body, _) = build_body(
            &request(vec![Message::user("x")], vec![]),
            &settings(),
            true,
        )
        .unwrap();
        assert!(body.get("system").is_none());
        assert_eq!(body["stream"], true);
    }

    #[test]
    fn request_values_override_the_configuration() {
        let mut req = request(vec![Message::user("x")], vec![]);
        req.model = Some("claude-other".into());
        req.max_tokens = Some(77);
        req.temperature = Some(0.7);
        let (body, _) = build_body(&req, &settings(), false).unwrap();
        assert_eq!(body["model"], "claude-other");
        assert_eq!(body["max_tokens"], 77);
        assert_eq!(body["temperature"], json!(0.7));
        let mut s = settings();
        s.temperature = Some(0.2);
        req.temperature = None;
        let (body, _) = build_body(&req, &s, false).unwrap();
        assert_eq!(body["temperature"], json!(0.2));
        req.max_tokens = Some(0);
        assert!(matches!(
            build_body(&req, &s, false),
            Err(Error::InvalidInput(_))
        ));
    }

    #[test]
    fn tools_are_sent_under_wire_names() {
        let req = request(
            vec![Message::user("what time is it")],
            vec![spec("time.now"), ToolSpec::new("notes.list", "", json!({}))],
        );
        let (body, names) = build_body(&req, &settings(), false).unwrap();
        assert_eq!(
            body["tools"],
            json!([
                {
                    "name": "time__now",
                    "description": "what it does",
                    "input_schema": {"type": "object", "properties": {"x": {"type": "string"}}},
                },
                {"name": "notes__list", "input_schema": {"type": "object"}},
            ])
        );
        assert_eq!(names.from_wire("time__now"), "time.now");
    }

    #[test]
    fn tool_names_follow_the_sdk_mapping() {
        // `.` is `__`, so `time.now` and `time_now` no longer clash; a real
        // clash, or a name too long for the API, is refused (never cut).
        let body = |names: &[&str]| {
            let tools = names.iter().map(|n| spec(n)).collect();
            build_body(
                &request(vec![Message::user("x")], tools),
                &settings(),
                false,
            )
        };
        let (ok, _) = body(&["time.now", "time_now"]).unwrap();
        assert_eq!(ok["tools"][0]["name"], "time__now");
        assert_eq!(ok["tools"][1]["name"], "time_now");
        let long = "x".repeat(65);
        for clash in [&["time.now", "time__now"][..], &[long.as_str()]] {
            assert!(
                matches!(body(clash), Err(Error::InvalidInput(_))),
                "{clash:?}"
            );
        }
    }

    #[test]
    fn bad_tool_schemas_are_invalid_input() {
        let bad = ToolSpec {
            name: "a.b".into(),
            description: "d".into(),
            parameters: "{nope".into(),
        };
        let e = build_body(&request(vec![], vec![bad]), &settings(), false).unwrap_err();
        assert!(
            matches!(&e, Error::InvalidInput(m) if m.contains("`a.b`")),
            "{e}"
        );
    }

    #[test]
    fn tool_round_trip_merges_consecutive_results_into_one_user_turn() {
        let names = ToolNames::new(&[spec("time.now"), spec("notes.add")]).unwrap();
        let messages = vec![
            Message::system("sys"),
            Message::user("do two things"),
            Message::assistant_tool_calls(
                "On it.",
                vec![
                    ToolCall::new("toolu_1", "time.now", ""),
                    ToolCall::new("toolu_2", "notes.add", r#"{"x": "milk"}"#),
                ],
            ),
            Message::tool("toolu_1", "12:00"),
            Message::tool("toolu_2", "error: disk full"),
            Message::user("and then?"),
        ];
        let turns = turns(&messages, &names).unwrap();
        assert_eq!(
            Value::Array(turns),
            json!([
                {"role": "user", "content": [{"type": "text", "text": "do two things"}]},
                {"role": "assistant", "content": [
                    {"type": "text", "text": "On it."},
                    {"type": "tool_use", "id": "toolu_1", "name": "time__now", "input": {}},
                    {"type": "tool_use", "id": "toolu_2", "name": "notes__add", "input": {"x": "milk"}},
                ]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": "12:00", "is_error": false},
                    {"type": "tool_result", "tool_use_id": "toolu_2", "content": "error: disk full", "is_error": true},
                    {"type": "text", "text": "and then?"},
                ]},
            ])
        );
    }

    #[test]
    fn tool_results_come_first_in_a_merged_user_turn() {
        let names = ToolNames::default();
        let messages = vec![
            Message::assistant_tool_calls("", vec![ToolCall::new("t1", "a", "{}")]),
            Message::user("by the way"),
            Message::tool("t1", "done"),
        ];
        let turns = turns(&messages, &names).unwrap();
        assert_eq!(turns.len(), 2);
        let content = turns[1]["content"].as_array().unwrap();
        assert_eq!(content[0]["type"], "tool_result");
        assert_eq!(content[1]["type"], "text");
        // An assistant turn with tool calls only has no text block.
        assert_eq!(turns[0]["content"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn empty_messages_are_dropped_and_same_roles_merge() {
        let messages = vec![
            Message::user("one"),
            Message::assistant(""),
            Message::user("two"),
        ];
        let turns = turns(&messages, &ToolNames::default()).unwrap();
        assert_eq!(
            Value::Array(turns),
            json!([{"role": "user", "content": [
                {"type": "text", "text": "one"},
                {"type": "text", "text": "two"},
            ]}])
        );
    }

    #[test]
    fn malformed_arguments_name_the_call() {
        let messages = vec![
            Message::user("x"),
            Message::assistant_tool_calls(
                "",
                vec![ToolCall::new("toolu_9", "time.now", "{\"a\": ")],
            ),
        ];
        let e = turns(&messages, &ToolNames::default()).unwrap_err();
        let Error::InvalidInput(m) = &e else {
            panic!("{e:?}")
        };
        assert!(m.contains("toolu_9") && m.contains("time.now"), "{m}");
        let not_object = vec![Message::assistant_tool_calls(
            "",
            vec![ToolCall::new("t", "n", "[1]")],
        )];
        let e = turns(&not_object, &ToolNames::default()).unwrap_err();
        assert!(
            matches!(&e, Error::InvalidInput(m) if m.contains("an array")),
            "{e}"
        );
    }

    #[test]
    fn a_tool_message_needs_its_call_id() {
        let mut m = Message::tool("x", "y");
        m.tool_call_id = None;
        assert!(matches!(
            turns(&[m], &ToolNames::default()),
            Err(Error::InvalidInput(_))
        ));
    }

    #[test]
    fn attachments_become_image_and_document_blocks() {
        let mut m = Message::user("what is this?");
        m.attachments = vec![
            Attachment::new("image/png", vec![1, 2, 3, 4]),
            Attachment::new("application/pdf", b"%PDF".to_vec()).with_name("a.pdf"),
            Attachment::new("text/plain; charset=utf-8", b"notes".to_vec()),
            Attachment::new("application/zip", vec![0; 10]).with_name("x.zip"),
        ];
        let blocks = user_blocks(&m);
        assert_eq!(
            blocks[0],
            json!({"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AQIDBA=="}})
        );
        assert_eq!(blocks[1]["type"], "document");
        assert_eq!(blocks[1]["source"]["media_type"], "application/pdf");
        assert_eq!(blocks[1]["source"]["data"], "JVBERg==");
        assert_eq!(blocks[1]["title"], "a.pdf");
        assert_eq!(blocks[2]["source"]["type"], "text");
        assert_eq!(blocks[2]["source"]["data"], "notes");
        assert_eq!(blocks[3]["type"], "text");
        assert!(blocks[3]["text"].as_str().unwrap().contains("`x.zip`"));
        assert_eq!(blocks[4], json!({"type": "text", "text": "what is this?"}));

        let mut t = Message::tool("toolu_1", "screenshot taken");
        t.attachments = vec![Attachment::new("image/jpeg", vec![255])];
        let block = tool_result_block(&t).unwrap();
        assert_eq!(
            block["content"],
            json!([
                {"type": "text", "text": "screenshot taken"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "/w=="}},
            ])
        );
    }
}
