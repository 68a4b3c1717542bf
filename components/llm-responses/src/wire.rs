//! The Responses API wire format: request bodies from a `ChatRequest`,
//! `ChatResponse`s from response objects. Pure functions, tested natively.

use openpista_sdk::prelude::*;
use openpista_sdk::serde_json::{Map, Value};
use openpista_sdk::tool_names::ToolNames;

use crate::config::{Config, PROVIDER};

/// The JSON body of `POST /responses` for `req`.
///
/// The system messages at the start of the conversation become
/// `instructions`; the rest become `input` items: user and assistant
/// messages, an assistant's tool calls as `function_call` items (with their
/// `call_id`), tool results as `function_call_output` items. A later system
/// message stays in place as a `system` message item.
pub fn request_body(
    req: &ChatRequest,
    config: &Config,
    names: &ToolNames,
    stream: bool,
) -> Result<Value, Error> {
    if req.messages.is_empty() {
        return Err(Error::invalid_input(format!(
            "{PROVIDER}: the request has no messages"
        )));
    }
    let mut body = Map::new();
    body.insert(
        "model".into(),
        config.model_for(req.model.as_deref())?.into(),
    );

    let leading = req
        .messages
        .iter()
        .take_while(|m| m.role == Role::System)
        .count();
    let instructions: Vec<&str> = req.messages[..leading]
        .iter()
        .map(|m| m.content.as_str())
        .filter(|c| !c.is_empty())
        .collect();
    if !instructions.is_empty() {
        body.insert("instructions".into(), instructions.join("\n\n").into());
    }
    let mut input = Vec::new();
    // Images tool calls return (a screenshot) follow the run of function
    // call outputs as one user message the model can look at.
    let mut images: Vec<Value> = Vec::new();
    for m in &req.messages[leading..] {
        if m.role != Role::Tool && !images.is_empty() {
            input.push(tool_images(std::mem::take(&mut images)));
        }
        input_items(m, names, &mut input)?;
        if m.role == Role::Tool {
            images.extend(
                m.attachments
                    .iter()
                    .filter(|a| a.mime.starts_with("image/"))
                    .map(|a| {
                        json!({
                            "type": "input_image",
                            "image_url": openpista_sdk::base64::data_url(&a.mime, &a.data),
                        })
                    }),
            );
        }
    }
    if !images.is_empty() {
        input.push(tool_images(images));
    }
    body.insert("input".into(), input.into());

    if !req.tools.is_empty() {
        let tools = req
            .tools
            .iter()
            .map(|t| tool(t, names))
            .collect::<Result<Vec<_>, _>>()?;
        body.insert("tools".into(), tools.into());
    }
    if let Some(t) = req.temperature.or(config.temperature) {
        let t: f64 = t.to_string().parse().unwrap_or(f64::from(t));
        body.insert("temperature".into(), t.into());
    }
    if let Some(n) = req.max_tokens.or(config.max_tokens) {
        body.insert("max_output_tokens".into(), n.into());
    }
    // The conversation is sent whole each time; nothing to keep server-side.
    body.insert("store".into(), false.into());
    if stream {
        body.insert("stream".into(), true.into());
    }
    Ok(Value::Object(body))
}

/// The `input` items of one message.
fn input_items(m: &Message, names: &ToolNames, out: &mut Vec<Value>) -> Result<(), Error> {
    match m.role {
        Role::System => out.push(json!({
            "type": "message", "role": "system", "content": m.content,
        })),
        Role::User => out.push(json!({
            "type": "message", "role": "user", "content": user_content(m),
        })),
        Role::Assistant => {
            if !m.content.is_empty() || m.tool_calls.is_empty() {
                out.push(json!({
                    "type": "message", "role": "assistant", "content": m.content,
                }));
            }
            for call in &m.tool_calls {
                out.push(json!({
                    "type": "function_call",
                    "call_id": call.id,
                    "name": names.to_wire(&call.name),
                    "arguments": call.arguments,
                }));
            }
        }
        Role::Tool => {
            let id = m
                .tool_call_id
                .as_deref()
                .filter(|id| !id.is_empty())
                .ok_or_else(|| {
                    Error::invalid_input(format!(
                        "{PROVIDER}: a tool message has no tool_call_id (it must name the \
                         call_id of the function call it answers)"
                    ))
                })?;
            let mut output = m.content.clone();
            for a in &m.attachments {
                let name = a.name.as_deref().unwrap_or("unnamed");
                if a.mime.starts_with("image/") {
                    output.push_str(&format!(
                        "\n[image {name} ({}): shown in the next message]",
                        a.mime
                    ));
                } else {
                    output.push_str(&format!(
                        "\n[attachment {name} ({}, {} bytes) not shown: tool results carry text only]",
                        a.mime,
                        a.data.len()
                    ));
                }
            }
            out.push(json!({
                "type": "function_call_output", "call_id": id, "output": output,
            }));
        }
    }
    Ok(())
}

/// The user message that shows the model the images tool calls returned.
fn tool_images(images: Vec<Value>) -> Value {
    let mut parts =
        vec![json!({ "type": "input_text", "text": "Images returned by the tool calls above:" })];
    parts.extend(images);
    json!({ "type": "message", "role": "user", "content": parts })
}

/// A user message's content: text, or `input_*` parts with attachments.
fn user_content(m: &Message) -> Value {
    if m.attachments.is_empty() {
        return m.content.clone().into();
    }
    let mut parts = Vec::new();
    if !m.content.is_empty() {
        parts.push(json!({ "type": "input_text", "text": m.content }));
    }
    for a in &m.attachments {
        let name = a.name.as_deref().unwrap_or("attachment");
        if a.mime.starts_with("image/") {
            parts.push(json!({
                "type": "input_image",
                "image_url": openpista_sdk::base64::data_url(&a.mime, &a.data),
            }));
        } else if a.mime.starts_with("text/") || a.mime == "application/json" {
            parts.push(json!({
                "type": "input_text",
                "text": format!("{name} ({}):\n{}", a.mime, String::from_utf8_lossy(&a.data)),
            }));
        } else {
            parts.push(json!({
                "type": "input_file",
                "filename": name,
                "file_data": openpista_sdk::base64::data_url(&a.mime, &a.data),
            }));
        }
    }
    parts.into()
}

/// One tool in the wire format. `strict` is off: openpista's schemas are
/// not written for strict mode (every property required, no extras).
fn tool(spec: &ToolSpec, names: &ToolNames) -> Result<Value, Error> {
    let parameters = if spec.parameters.trim().is_empty() {
        json!({ "type": "object", "properties": {} })
    } else {
        let value: Value = serde_json::from_str(&spec.parameters).map_err(|e| {
            Error::invalid_input(format!(
                "{PROVIDER}: the parameters of tool `{}` are not valid JSON ({e})",
                spec.name
            ))
        })?;
        if !value.is_object() {
            return Err(Error::invalid_input(format!(
                "{PROVIDER}: the parameters of tool `{}` must be a JSON Schema object",
                spec.name
            )));
        }
        value
    };
    Ok(json!({
        "type": "function",
        "name": names.to_wire(&spec.name),
        "description": spec.description,
        "parameters": parameters,
        "strict": false,
    }))
}

/// `usage` of a response object.
pub fn usage(response: &Value) -> Option<Usage> {
    let usage = response.get("usage").filter(|u| u.is_object())?;
    let count = |key: &str| {
        usage
            .get(key)
            .and_then(Value::as_u64)
            .map(|n| u32::try_from(n).unwrap_or(u32::MAX))
            .unwrap_or(0)
    };
    Some(Usage::new(count("input_tokens"), count("output_tokens")))
}

/// The error of a failed response or an `error` event: `{code, message}`.
pub fn service_error(error: &Value, what: &str) -> Error {
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .or_else(|| error.as_str())
        .map(str::to_string)
        .unwrap_or_else(|| error.to_string());
    let code = error.get("code").and_then(Value::as_str).unwrap_or("");
    if code.contains("rate_limit") {
        return Error::rate_limited(None, format!("{PROVIDER}: rate limited: {message}"));
    }
    let code = if code.is_empty() {
        String::new()
    } else {
        format!(" ({code})")
    };
    Error::upstream(None, format!("{PROVIDER}: {what}{code}: {message}"))
}

/// The finish reason of a finished response object (`status` with
/// `incomplete_details`), given whether it called tools.
pub fn finish_reason(response: &Value, called_tools: bool) -> FinishReason {
    match response.get("status").and_then(Value::as_str) {
        Some("incomplete") => match response
            .pointer("/incomplete_details/reason")
            .and_then(Value::as_str)
        {
            Some("max_output_tokens") => FinishReason::Length,
            Some("content_filter") => FinishReason::ContentFilter,
            _ => FinishReason::Other,
        },
        Some("completed") | None if called_tools => FinishReason::ToolCalls,
        Some("completed") | None => FinishReason::Stop,
        _ => FinishReason::Other,
    }
}

/// The text and tool calls in a response's `output` items.
pub fn output(response: &Value, names: &ToolNames) -> (String, Vec<ToolCall>, bool) {
    let mut text = String::new();
    let mut calls = Vec::new();
    let mut refused = false;
    let items = response
        .get("output")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    for item in items {
        match item.get("type").and_then(Value::as_str) {
            Some("message") => {
                let parts = item
                    .get("content")
                    .and_then(Value::as_array)
                    .map(Vec::as_slice)
                    .unwrap_or(&[]);
                for part in parts {
                    match part.get("type").and_then(Value::as_str) {
                        Some("output_text") => {
                            text.push_str(part.get("text").and_then(Value::as_str).unwrap_or(""))
                        }
                        Some("refusal") => {
                            refused = true;
                            text.push_str(part.get("refusal").and_then(Value::as_str).unwrap_or(""))
                        }
                        _ => {}
                    }
                }
            }
            Some("function_call") => {
                let name = item.get("name").and_then(Value::as_str).unwrap_or("");
                let id = item
                    .get("call_id")
                    .or_else(|| item.get("id"))
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                let mut arguments = item
                    .get("arguments")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                if arguments.trim().is_empty() {
                    arguments = "{}".into();
                }
                calls.push(ToolCall::new(id, names.from_wire(name), arguments));
            }
            // Reasoning summaries, web search calls and the like carry
            // nothing for the conversation.
            _ => {}
        }
    }
    (text, calls, refused)
}

/// A whole (non-streamed) response object.
pub fn parse_response(body: &[u8], names: &ToolNames) -> Result<ChatResponse, Error> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        Error::upstream(
            None,
            format!(
                "{PROVIDER}: the response is not JSON ({e}): {}",
                excerpt(&String::from_utf8_lossy(body))
            ),
        )
    })?;
    response_from_object(&value, names)
}

/// A `ChatResponse` from a finished response object.
pub fn response_from_object(value: &Value, names: &ToolNames) -> Result<ChatResponse, Error> {
    if let Some(error) = value.get("error").filter(|e| !e.is_null()) {
        return Err(service_error(error, "the response failed"));
    }
    if value.get("status").and_then(Value::as_str) == Some("failed") {
        return Err(Error::upstream(
            None,
            format!("{PROVIDER}: the response failed without saying why"),
        ));
    }
    if value.get("output").is_none() {
        return Err(Error::upstream(
            None,
            format!(
                "{PROVIDER}: the response has no output: {}",
                excerpt(&value.to_string())
            ),
        ));
    }
    let (text, calls, refused) = output(value, names);
    let mut reason = finish_reason(value, !calls.is_empty());
    if refused && reason == FinishReason::Stop {
        reason = FinishReason::ContentFilter;
    }
    let mut response = ChatResponse::new(Message::assistant_tool_calls(text, calls), reason);
    response.usage = usage(value);
    Ok(response)
}

/// The start of a text for an error message (at most 200 characters).
pub fn excerpt(text: &str) -> String {
    const MAX: usize = 200;
    let text = text.trim();
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Config {
        let map: std::collections::BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::load(|k| map.get(k).cloned()).unwrap()
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

    fn tools() -> Vec<ToolSpec> {
        vec![
            ToolSpec::new("time.now", "Now.", json!({"type": "object"})),
            ToolSpec::new("notes-add", "Add a note.", json!({"type": "object"})),
        ]
    }

    #[test]
    fn maps_the_conversation_to_input_items() {
        let tools = tools();
        let names = ToolNames::new(&tools).unwrap();
        let mut req = request(
            vec![
                Message::system("be brief"),
                Message::system("use tools"),
                Message::user("time?"),
                Message::assistant_tool_calls(
                    "Checking.",
                    vec![ToolCall::new("call_1", "time.now", "{}")],
                ),
                Message::tool("call_1", "12:00"),
                Message::assistant("Noon."),
                Message::system("late note"),
                Message::user("thanks"),
            ],
            tools,
        );
        req.temperature = Some(0.3);
        req.max_tokens = Some(64);
        let c = config(&[
            ("preset", "custom"),
            ("base_url", "http://x/v1"),
            ("model", "m"),
        ]);
        let body = request_body(&req, &c, &names, true).unwrap();
        assert_eq!(
            body,
            json!({
                "model": "m",
                "instructions": "be brief\n\nuse tools",
                "input": [
                    {"type": "message", "role": "user", "content": "time?"},
                    {"type": "message", "role": "assistant", "content": "Checking."},
                    {"type": "function_call", "call_id": "call_1", "name": "time__now", "arguments": "{}"},
                    {"type": "function_call_output", "call_id": "call_1", "output": "12:00"},
                    {"type": "message", "role": "assistant", "content": "Noon."},
                    {"type": "message", "role": "system", "content": "late note"},
                    {"type": "message", "role": "user", "content": "thanks"},
                ],
                "tools": [
                    {"type": "function", "name": "time__now", "description": "Now.",
                     "parameters": {"type": "object"}, "strict": false},
                    {"type": "function", "name": "notes-add", "description": "Add a note.",
                     "parameters": {"type": "object"}, "strict": false},
                ],
                "temperature": 0.3,
                "max_output_tokens": 64,
                "store": false,
                "stream": true,
            })
        );
    }

    #[test]
    fn tool_only_assistant_turns_have_no_message_item() {
        let names = ToolNames::default();
        let req = request(
            vec![
                Message::user("x"),
                Message::assistant_tool_calls("", vec![ToolCall::new("c", "a.b", "{}")]),
                Message::tool("c", "r"),
            ],
            vec![],
        );
        let body = request_body(&req, &config(&[]), &names, false).unwrap();
        assert_eq!(body["input"].as_array().unwrap().len(), 3);
        assert_eq!(body["input"][1]["type"], "function_call");
        // A name not offered any more is still mapped.
        assert_eq!(body["input"][1]["name"], "a__b");
        assert!(body.get("instructions").is_none());
        assert!(body.get("stream").is_none());
        assert_eq!(body["model"], "gpt-4o-mini");
    }

    #[test]
    fn tool_name_collisions_are_refused() {
        let specs = vec![
            ToolSpec::new("files.read", "a", json!({})),
            ToolSpec::new("files__read", "b", json!({})),
        ];
        let e = ToolNames::new(&specs).unwrap_err();
        let Error::InvalidInput(m) = &e else {
            panic!("{e:?}")
        };
        assert!(
            m.contains("`files.read`") && m.contains("`files__read`"),
            "{m}"
        );
    }

    #[test]
    fn attachments_and_bad_tools() {
        let names = ToolNames::default();
        let mut m = Message::user("see");
        m.attachments = vec![
            Attachment::new("image/jpeg", vec![1, 2, 3]),
            Attachment::new("application/pdf", b"%PDF".to_vec()).with_name("x.pdf"),
        ];
        let body = request_body(&request(vec![m], vec![]), &config(&[]), &names, false).unwrap();
        assert_eq!(
            body["input"][0]["content"],
            json!([
                {"type": "input_text", "text": "see"},
                {"type": "input_image", "image_url": "data:image/jpeg;base64,AQID"},
                {"type": "input_file", "filename": "x.pdf", "file_data": "data:application/pdf;base64,JVBERg=="},
            ])
        );
        let mut bad = ToolSpec::new("t.x", "d", json!({}));
        bad.parameters = "[1]".into();
        let e = request_body(
            &request(vec![Message::user("x")], vec![bad]),
            &config(&[]),
            &names,
            false,
        )
        .unwrap_err();
        assert!(matches!(&e, Error::InvalidInput(m) if m.contains("`t.x`")));
        let mut orphan = Message::tool("", "r");
        orphan.tool_call_id = Some(String::new());
        let e =
            request_body(&request(vec![orphan], vec![]), &config(&[]), &names, false).unwrap_err();
        assert!(matches!(&e, Error::InvalidInput(m) if m.contains("tool_call_id")));
    }

    #[test]
    fn parses_text_and_function_calls() {
        let names = ToolNames::new(&tools()).unwrap();
        let body = json!({
            "id": "resp_1", "object": "response", "status": "completed",
            "output": [
                {"type": "reasoning", "id": "rs_1", "summary": []},
                {"type": "message", "id": "msg_1", "role": "assistant", "content": [
                    {"type": "output_text", "text": "Let me ", "annotations": []},
                    {"type": "output_text", "text": "check.", "annotations": []},
                ]},
                {"type": "function_call", "id": "fc_1", "call_id": "call_9", "name": "time__now",
                 "arguments": "{\"tz\":\"UTC\"}", "status": "completed"},
            ],
            "usage": {"input_tokens": 12, "output_tokens": 7, "total_tokens": 19},
        });
        let r = parse_response(body.to_string().as_bytes(), &names).unwrap();
        assert_eq!(r.message.content, "Let me check.");
        assert_eq!(
            r.message.tool_calls,
            vec![ToolCall::new("call_9", "time.now", "{\"tz\":\"UTC\"}")]
        );
        assert_eq!(r.finish_reason, FinishReason::ToolCalls);
        assert_eq!(r.usage, Some(Usage::new(12, 7)));
    }

    #[test]
    fn finish_reasons_and_failures() {
        let names = ToolNames::default();
        let incomplete = json!({"status": "incomplete", "incomplete_details": {"reason": "max_output_tokens"},
            "output": [{"type": "message", "content": [{"type": "output_text", "text": "cut"}]}]});
        let r = response_from_object(&incomplete, &names).unwrap();
        assert_eq!(
            (r.message.content.as_str(), r.finish_reason),
            ("cut", FinishReason::Length)
        );
        let filtered = json!({"status": "incomplete", "incomplete_details": {"reason": "content_filter"}, "output": []});
        assert_eq!(
            response_from_object(&filtered, &names)
                .unwrap()
                .finish_reason,
            FinishReason::ContentFilter
        );
        let refusal = json!({"status": "completed", "output": [{"type": "message", "content": [
            {"type": "refusal", "refusal": "I can't help with that."}]}]});
        let r = response_from_object(&refusal, &names).unwrap();
        assert_eq!(r.finish_reason, FinishReason::ContentFilter);
        assert_eq!(r.message.content, "I can't help with that.");

        let failed = json!({"status": "failed", "error": {"code": "server_error", "message": "boom"}, "output": []});
        assert_eq!(
            response_from_object(&failed, &names).unwrap_err(),
            Error::upstream(
                None,
                "llm-responses: the response failed (server_error): boom"
            )
        );
        let limited = json!({"status": "failed", "error": {"code": "rate_limit_exceeded", "message": "slow"}});
        assert!(matches!(
            response_from_object(&limited, &names),
            Err(Error::RateLimited(_))
        ));
        let e = parse_response(b"not json", &names).unwrap_err();
        assert!(
            matches!(&e, Error::Upstream(u) if u.message.contains("llm-responses") && u.message.contains("not json"))
        );
        let e = parse_response(b"{}", &names).unwrap_err();
        assert!(matches!(&e, Error::Upstream(u) if u.message.contains("no output")));
    }
}
