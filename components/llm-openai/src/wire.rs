//! The Chat Completions wire format: request bodies from a `ChatRequest`,
//! `ChatResponse`s from response bodies. Pure functions, tested natively.

use openpista_sdk::prelude::*;
use openpista_sdk::serde_json::{Map, Value};
use openpista_sdk::tool_names::ToolNames;

use crate::config::{Config, PROVIDER, Preset};

/// The JSON body of `POST /chat/completions` for `req`.
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
    let mut messages = Vec::with_capacity(req.messages.len());
    // Tool messages carry text only on this API; images they return (a
    // screenshot) follow the run of tool messages as one user message.
    let mut images: Vec<Value> = Vec::new();
    for m in &req.messages {
        if m.role != Role::Tool && !images.is_empty() {
            messages.push(tool_images(std::mem::take(&mut images)));
        }
        messages.push(message(m, names)?);
        if m.role == Role::Tool {
            images.extend(m.attachments.iter().filter(|a| a.mime.starts_with("image/")).map(|a| {
                json!({
                    "type": "image_url",
                    "image_url": { "url": openpista_sdk::base64::data_url(&a.mime, &a.data) },
                })
            }));
        }
    }
    if !images.is_empty() {
        messages.push(tool_images(images));
    }
    body.insert("messages".into(), messages.into());
    if !req.tools.is_empty() {
        let tools = req
            .tools
            .iter()
            .map(|t| tool(t, names))
            .collect::<Result<Vec<_>, _>>()?;
        body.insert("tools".into(), tools.into());
    }
    if let Some(t) = req.temperature.or(config.temperature) {
        // Through f64 by way of the decimal text, so 0.2f32 goes out as 0.2.
        let t: f64 = t.to_string().parse().unwrap_or(f64::from(t));
        body.insert("temperature".into(), t.into());
    }
    if let Some(n) = req.max_tokens.or(config.max_tokens) {
        // OpenAI itself wants the newer name (its reasoning models refuse
        // `max_tokens`); compatible servers know the classic one.
        let key = if config.preset == Preset::OpenAi {
            "max_completion_tokens"
        } else {
            "max_tokens"
        };
        body.insert(key.into(), n.into());
    }
    if stream {
        body.insert("stream".into(), true.into());
        body.insert("stream_options".into(), json!({ "include_usage": true }));
    }
    Ok(Value::Object(body))
}

/// The user message that shows the model the images tool calls returned.
fn tool_images(images: Vec<Value>) -> Value {
    let mut parts =
        vec![json!({ "type": "text", "text": "Images returned by the tool calls above:" })];
    parts.extend(images);
    json!({ "role": "user", "content": parts })
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::Tool => "tool",
    }
}

/// One message in the wire format.
fn message(m: &Message, names: &ToolNames) -> Result<Value, Error> {
    let mut out = Map::new();
    out.insert("role".into(), role_name(m.role).into());
    match m.role {
        Role::System => {
            out.insert("content".into(), m.content.clone().into());
        }
        Role::User => {
            out.insert("content".into(), user_content(m));
        }
        Role::Assistant => {
            if m.content.is_empty() && !m.tool_calls.is_empty() {
                out.insert("content".into(), Value::Null);
            } else {
                out.insert("content".into(), m.content.clone().into());
            }
            if !m.tool_calls.is_empty() {
                let calls: Vec<Value> = m
                    .tool_calls
                    .iter()
                    .map(|c| {
                        json!({
                            "id": c.id,
                            "type": "function",
                            "function": { "name": names.to_wire(&c.name), "arguments": c.arguments },
                        })
                    })
                    .collect();
                out.insert("tool_calls".into(), calls.into());
            }
        }
        Role::Tool => {
            let id = m.tool_call_id.as_deref().filter(|id| !id.is_empty()).ok_or_else(|| {
                Error::invalid_input(format!(
                    "{PROVIDER}: a tool message has no tool_call_id (it must name the tool call \
                     it answers)"
                ))
            })?;
            out.insert("tool_call_id".into(), id.into());
            let mut content = m.content.clone();
            for a in &m.attachments {
                let name = a.name.as_deref().unwrap_or("unnamed");
                if a.mime.starts_with("image/") {
                    content.push_str(&format!(
                        "\n[image {name} ({}): shown in the next message]",
                        a.mime
                    ));
                } else if is_text(&a.mime) {
                    content.push_str(&format!(
                        "\n{name} ({}):\n{}",
                        a.mime,
                        String::from_utf8_lossy(&a.data)
                    ));
                } else {
                    content.push_str(&format!(
                        "\n[attachment {name} ({}, {} bytes) not shown: tool results carry text only]",
                        a.mime,
                        a.data.len()
                    ));
                }
            }
            out.insert("content".into(), content.into());
        }
    }
    Ok(Value::Object(out))
}

/// A user message's content: plain text, or content parts when it carries
/// attachments (images as `image_url` data URLs, text files inline, other
/// files as `file` parts).
fn user_content(m: &Message) -> Value {
    if m.attachments.is_empty() {
        return m.content.clone().into();
    }
    let mut parts = Vec::new();
    if !m.content.is_empty() {
        parts.push(json!({ "type": "text", "text": m.content }));
    }
    for a in &m.attachments {
        let name = a.name.as_deref().unwrap_or("attachment");
        if a.mime.starts_with("image/") {
            parts.push(json!({
                "type": "image_url",
                "image_url": { "url": openpista_sdk::base64::data_url(&a.mime, &a.data) },
            }));
        } else if is_text(&a.mime) {
            parts.push(json!({
                "type": "text",
                "text": format!("{name} ({}):\n{}", a.mime, String::from_utf8_lossy(&a.data)),
            }));
        } else {
            parts.push(json!({
                "type": "file",
                "file": {
                    "filename": name,
                    "file_data": openpista_sdk::base64::data_url(&a.mime, &a.data),
                },
            }));
        }
    }
    parts.into()
}

fn is_text(mime: &str) -> bool {
    mime.starts_with("text/")
        || matches!(
            mime,
            "application/json" | "application/xml" | "application/x-yaml" | "application/yaml"
        )
}

/// One tool spec in the wire format.
fn tool(spec: &ToolSpec, names: &ToolNames) -> Result<Value, Error> {
    let parameters = parse_parameters(spec)?;
    Ok(json!({
        "type": "function",
        "function": {
            "name": names.to_wire(&spec.name),
            "description": spec.description,
            "parameters": parameters,
        },
    }))
}

/// A tool's JSON Schema, parsed from its text (empty text = no arguments).
pub fn parse_parameters(spec: &ToolSpec) -> Result<Value, Error> {
    if spec.parameters.trim().is_empty() {
        return Ok(json!({ "type": "object", "properties": {} }));
    }
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
    Ok(value)
}

/// The finish reason of the wire format.
pub fn finish_reason(reason: Option<&str>) -> FinishReason {
    match reason {
        Some("stop") | Some("end_turn") | Some("eos") => FinishReason::Stop,
        Some("tool_calls") | Some("function_call") => FinishReason::ToolCalls,
        Some("length") => FinishReason::Length,
        Some("content_filter") => FinishReason::ContentFilter,
        _ => FinishReason::Other,
    }
}

/// `usage` of a response or the last stream chunk.
pub fn usage(value: &Value) -> Option<Usage> {
    let usage = value.get("usage").filter(|u| u.is_object())?;
    let count = |key: &str| {
        usage
            .get(key)
            .and_then(Value::as_u64)
            .map(|n| u32::try_from(n).unwrap_or(u32::MAX))
    };
    Some(Usage::new(
        count("prompt_tokens").unwrap_or(0),
        count("completion_tokens").unwrap_or(0),
    ))
}

/// A service error carried in a body that otherwise looks fine (some
/// servers answer 200 with `{"error": ...}`, and streams end that way).
pub fn embedded_error(value: &Value) -> Option<Error> {
    let error = value.get("error").filter(|e| !e.is_null())?;
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .or_else(|| error.as_str())
        .map(str::to_string)
        .unwrap_or_else(|| error.to_string());
    let code = error
        .get("code")
        .and_then(|c| {
            c.as_str()
                .map(str::to_string)
                .or_else(|| c.as_u64().map(|n| n.to_string()))
        })
        .unwrap_or_default();
    let kind = error.get("type").and_then(Value::as_str).unwrap_or("");
    if code == "429" || code.contains("rate_limit") || kind.contains("rate_limit") {
        return Some(Error::rate_limited(
            None,
            format!("{PROVIDER}: rate limited: {message}"),
        ));
    }
    let status = code.parse::<u16>().ok().filter(|s| (400..600).contains(s));
    Some(Error::upstream(
        status,
        format!("{PROVIDER}: the service reported an error: {message}"),
    ))
}

/// Text content that may be a string or an array of `{type: text, text}`
/// parts (some compatible servers send the latter).
fn content_text(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect(),
        _ => String::new(),
    }
}

/// Arguments as text: a string as it is, an object (some servers send one)
/// as JSON, nothing as `{}`.
pub fn arguments_text(arguments: Option<&Value>) -> String {
    match arguments {
        Some(Value::String(s)) => s.clone(),
        None | Some(Value::Null) => String::new(),
        Some(other) => other.to_string(),
    }
}

/// A whole (non-streamed) response.
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
    if let Some(error) = embedded_error(&value) {
        return Err(error);
    }
    let choice = value
        .get("choices")
        .and_then(Value::as_array)
        .and_then(|c| c.first())
        .ok_or_else(|| {
            Error::upstream(
                None,
                format!(
                    "{PROVIDER}: the response has no choices: {}",
                    excerpt(&value.to_string())
                ),
            )
        })?;
    let msg = choice.get("message").cloned().unwrap_or(Value::Null);
    let content = content_text(msg.get("content"));
    let mut calls = Vec::new();
    if let Some(list) = msg.get("tool_calls").and_then(Value::as_array) {
        for (i, call) in list.iter().enumerate() {
            let function = call.get("function").cloned().unwrap_or(Value::Null);
            let name = function
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    Error::upstream(
                        None,
                        format!(
                            "{PROVIDER}: tool call {i} in the response has no name: {}",
                            excerpt(&call.to_string())
                        ),
                    )
                })?;
            let id = call
                .get("id")
                .and_then(Value::as_str)
                .filter(|id| !id.is_empty())
                .map(str::to_string)
                .unwrap_or_else(|| format!("call_{i}"));
            let mut arguments = arguments_text(function.get("arguments"));
            if arguments.trim().is_empty() {
                arguments = "{}".into();
            }
            calls.push(ToolCall::new(id, names.from_wire(name), arguments));
        }
    }
    let mut reason = finish_reason(choice.get("finish_reason").and_then(Value::as_str));
    if !calls.is_empty() && matches!(reason, FinishReason::Stop | FinishReason::Other) {
        // Some compatible servers say `stop` even when the model called tools.
        reason = FinishReason::ToolCalls;
    }
    let mut response = ChatResponse::new(Message::assistant_tool_calls(content, calls), reason);
    response.usage = usage(&value);
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
    use crate::config::Config;

    fn config(pairs: &[(&str, &str)]) -> Config {
        let map: std::collections::BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::load(|k| map.get(k).cloned()).unwrap()
    }

    fn tools() -> Vec<ToolSpec> {
        vec![ToolSpec::new(
            "time.now",
            "The current time.",
            json!({"type": "object", "properties": {"tz": {"type": "string"}}}),
        )]
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

    #[test]
    fn builds_the_full_request() {
        let tools = tools();
        let names = ToolNames::new(&tools).unwrap();
        let mut req = request(
            vec![
                Message::system("be brief"),
                Message::user("what time is it?"),
                Message::assistant_tool_calls(
                    "",
                    vec![ToolCall::new("call_1", "time.now", r#"{"tz":"UTC"}"#)],
                ),
                Message::tool("call_1", "12:00"),
                Message::assistant("It is noon."),
            ],
            tools,
        );
        req.temperature = Some(0.2);
        req.max_tokens = Some(100);
        let c = config(&[
            ("preset", "custom"),
            ("base_url", "http://x/v1"),
            ("model", "m1"),
        ]);
        let body = request_body(&req, &c, &names, false).unwrap();
        assert_eq!(
            body,
            json!({
                "model": "m1",
                "messages": [
                    {"role": "system", "content": "be brief"},
                    {"role": "user", "content": "what time is it?"},
                    {"role": "assistant", "content": null, "tool_calls": [
                        {"id": "call_1", "type": "function",
                         "function": {"name": "time__now", "arguments": "{\"tz\":\"UTC\"}"}}
                    ]},
                    {"role": "tool", "tool_call_id": "call_1", "content": "12:00"},
                    {"role": "assistant", "content": "It is noon."},
                ],
                "tools": [{
                    "type": "function",
                    "function": {
                        "name": "time__now",
                        "description": "The current time.",
                        "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}},
                    },
                }],
                "temperature": 0.2,
                "max_tokens": 100,
            })
        );
    }

    #[test]
    fn streaming_and_defaults() {
        let names = ToolNames::default();
        let req = request(vec![Message::user("hi")], Vec::new());
        let c = config(&[("temperature", "0.7"), ("max_tokens", "50")]);
        let body = request_body(&req, &c, &names, true).unwrap();
        assert_eq!(
            body,
            json!({
                "model": "gpt-4o-mini",
                "messages": [{"role": "user", "content": "hi"}],
                "temperature": 0.7,
                "max_completion_tokens": 50,
                "stream": true,
                "stream_options": {"include_usage": true},
            })
        );
        // The request's model and settings win.
        let mut req = req;
        req.model = Some("gpt-4o".into());
        req.temperature = Some(0.0);
        let body = request_body(&req, &c, &names, false).unwrap();
        assert_eq!(body["model"], "gpt-4o");
        assert_eq!(body["temperature"], 0.0);
        assert!(body.get("tools").is_none());
    }

    #[test]
    fn bad_requests_are_invalid_input() {
        let names = ToolNames::default();
        let c = config(&[]);
        let e = request_body(&request(vec![], vec![]), &c, &names, false).unwrap_err();
        assert!(matches!(e, Error::InvalidInput(_)));
        let mut tool_msg = Message::tool("x", "r");
        tool_msg.tool_call_id = None;
        let e = request_body(&request(vec![tool_msg], vec![]), &c, &names, false).unwrap_err();
        assert!(matches!(&e, Error::InvalidInput(m) if m.contains("tool_call_id")));
        let mut bad = ToolSpec::new("t", "d", json!({}));
        bad.parameters = "{nope".into();
        let e = request_body(
            &request(vec![Message::user("x")], vec![bad]),
            &c,
            &names,
            false,
        )
        .unwrap_err();
        assert!(matches!(&e, Error::InvalidInput(m) if m.contains("`t`")));
        let mut empty = ToolSpec::new("t", "d", json!({}));
        empty.parameters = String::new();
        let body = request_body(
            &request(vec![Message::user("x")], vec![empty]),
            &c,
            &names,
            false,
        )
        .unwrap();
        assert_eq!(
            body["tools"][0]["function"]["parameters"],
            json!({"type": "object", "properties": {}})
        );
    }

    #[test]
    fn attachments_become_parts() {
        let names = ToolNames::default();
        let mut m = Message::user("look");
        m.attachments = vec![
            Attachment::new("image/png", b"hi".to_vec()),
            Attachment::new("text/plain", b"notes".to_vec()).with_name("n.txt"),
            Attachment::new("application/pdf", b"%PDF".to_vec()).with_name("a.pdf"),
        ];
        let body = request_body(&request(vec![m], vec![]), &config(&[]), &names, false).unwrap();
        assert_eq!(
            body["messages"][0]["content"],
            json!([
                {"type": "text", "text": "look"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,aGk="}},
                {"type": "text", "text": "n.txt (text/plain):\nnotes"},
                {"type": "file", "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBERg=="}},
            ])
        );
    }

    #[test]
    fn images_from_tools_follow_the_tool_messages() {
        let names = ToolNames::default();
        let call = |id: &str| ToolCall {
            id: id.into(),
            name: "screen.capture".into(),
            arguments: "{}".into(),
        };
        let mut shot = Message::tool("c1", "captured");
        shot.attachments = vec![Attachment::new("image/png", b"hi".to_vec()).with_name("s.png")];
        let messages = vec![
            Message::user("what is on screen?"),
            Message::assistant_tool_calls("", vec![call("c1"), call("c2")]),
            shot,
            Message::tool("c2", "plain"),
            Message::assistant("a window"),
        ];
        let body = request_body(&request(messages, vec![]), &config(&[]), &names, false).unwrap();
        let m = body["messages"].as_array().unwrap();
        assert_eq!(m.len(), 6, "{m:#?}");
        assert_eq!(m[2]["role"], "tool");
        assert_eq!(
            m[2]["content"],
            "captured\n[image s.png (image/png): shown in the next message]"
        );
        assert_eq!(m[3]["role"], "tool");
        assert_eq!(m[4]["role"], "user");
        assert_eq!(
            m[4]["content"][1],
            json!({"type": "image_url", "image_url": {"url": "data:image/png;base64,aGk="}})
        );
        assert_eq!(m[5]["role"], "assistant");
    }

    #[test]
    fn parses_a_text_answer() {
        let body = json!({
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello!"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11},
        });
        let r = parse_response(body.to_string().as_bytes(), &ToolNames::default()).unwrap();
        assert_eq!(r.message.role, Role::Assistant);
        assert_eq!(r.message.content, "Hello!");
        assert_eq!(r.finish_reason, FinishReason::Stop);
        assert_eq!(r.usage, Some(Usage::new(9, 2)));
    }

    #[test]
    fn parses_tool_calls_and_maps_names_back() {
        let names = ToolNames::new(&tools()).unwrap();
        let body = json!({
            "choices": [{"index": 0, "message": {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_a", "type": "function", "function": {"name": "time__now", "arguments": "{\"tz\":\"UTC\"}"}},
                {"type": "function", "function": {"name": "other", "arguments": {"x": 1}}},
                {"id": "call_c", "type": "function", "function": {"name": "time__now", "arguments": ""}},
            ]}, "finish_reason": "tool_calls"}],
        });
        let r = parse_response(body.to_string().as_bytes(), &names).unwrap();
        assert_eq!(r.finish_reason, FinishReason::ToolCalls);
        assert_eq!(r.message.content, "");
        assert_eq!(
            r.message.tool_calls,
            vec![
                ToolCall::new("call_a", "time.now", r#"{"tz":"UTC"}"#),
                ToolCall::new("call_1", "other", r#"{"x":1}"#),
                ToolCall::new("call_c", "time.now", "{}"),
            ]
        );
        assert_eq!(r.usage, None);
    }

    #[test]
    fn finish_reasons() {
        assert_eq!(finish_reason(Some("length")), FinishReason::Length);
        assert_eq!(
            finish_reason(Some("content_filter")),
            FinishReason::ContentFilter
        );
        assert_eq!(
            finish_reason(Some("function_call")),
            FinishReason::ToolCalls
        );
        assert_eq!(finish_reason(Some("weird")), FinishReason::Other);
        assert_eq!(finish_reason(None), FinishReason::Other);
        // `stop` with tool calls counts as tool calls.
        let body = json!({"choices": [{"message": {"content": "", "tool_calls": [
            {"id": "1", "function": {"name": "f", "arguments": "{}"}}]}, "finish_reason": "stop"}]});
        let r = parse_response(body.to_string().as_bytes(), &ToolNames::default()).unwrap();
        assert_eq!(r.finish_reason, FinishReason::ToolCalls);
    }

    #[test]
    fn broken_responses_are_upstream_errors() {
        let names = ToolNames::default();
        let e = parse_response(b"<html>oops</html>", &names).unwrap_err();
        assert!(
            matches!(&e, Error::Upstream(u) if u.message.contains("llm-openai") && u.message.contains("<html>oops"))
        );
        let e = parse_response(br#"{"choices": []}"#, &names).unwrap_err();
        assert!(matches!(&e, Error::Upstream(u) if u.message.contains("no choices")));
        let e = parse_response(
            br#"{"error": {"message": "model overloaded", "code": 503}}"#,
            &names,
        )
        .unwrap_err();
        assert_eq!(
            e,
            Error::upstream(
                Some(503),
                "llm-openai: the service reported an error: model overloaded"
            )
        );
        let e = parse_response(
            br#"{"error": {"message": "slow down", "type": "rate_limit_exceeded"}}"#,
            &names,
        )
        .unwrap_err();
        assert!(matches!(e, Error::RateLimited(_)));
    }

    #[test]
    fn content_parts_are_joined() {
        let body = json!({"choices": [{"message": {"content": [
            {"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}, "finish_reason": "stop"}]});
        let r = parse_response(body.to_string().as_bytes(), &ToolNames::default()).unwrap();
        assert_eq!(r.message.content, "ab");
    }
}
