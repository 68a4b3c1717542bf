//! The Chat Completions wire format: request bodies from a `ChatRequest`,
//! `ChatResponse`s from response bodies. Pure functions, tested natively.

use openpista_sdk::openai_compat::content::{self, Part, Turn};
use openpista_sdk::openai_compat::wire::{
    arguments_text, complete_arguments, excerpt, parse_json, require_messages, service_error,
    temperature, tool_call_id, tool_parameters,
};
use openpista_sdk::openai_compat::{Config, Preset};
use openpista_sdk::prelude::*;
use openpista_sdk::serde_json::{Map, Value};
use openpista_sdk::tool_names::ToolNames;

use crate::PROVIDER;

/// The JSON body of `POST /chat/completions` for `req`.
pub fn request_body(
    req: &ChatRequest,
    config: &Config,
    names: &ToolNames,
    stream: bool,
) -> Result<Value, Error> {
    require_messages(PROVIDER, req)?;
    let mut body = Map::new();
    body.insert(
        "model".into(),
        config.model_for(req.model.as_deref())?.into(),
    );
    // Tool messages carry text only on this API; images they return (a
    // screenshot) follow the run of tool messages as one user message.
    let messages = content::with_tool_images(&req.messages)
        .into_iter()
        .map(|turn| match turn {
            Turn::Message(m) => message(m, names),
            Turn::ToolImages(images) => Ok(json!({ "role": "user", "content": parts(images) })),
        })
        .collect::<Result<Vec<_>, _>>()?;
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
        body.insert("temperature".into(), temperature(t));
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

/// Content parts in Chat Completions' shape.
fn parts(parts: Vec<Part>) -> Value {
    parts
        .into_iter()
        .map(|part| match part {
            Part::Text(text) => json!({ "type": "text", "text": text }),
            Part::Image { data_url } => json!({
                "type": "image_url",
                "image_url": { "url": data_url },
            }),
            Part::File { filename, data_url } => json!({
                "type": "file",
                "file": { "filename": filename, "file_data": data_url },
            }),
        })
        .collect::<Vec<_>>()
        .into()
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
            let user = match content::user_parts(m) {
                Some(p) => parts(p),
                None => m.content.clone().into(),
            };
            out.insert("content".into(), user);
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
            out.insert("tool_call_id".into(), tool_call_id(PROVIDER, m)?.into());
            out.insert("content".into(), content::tool_output(m).into());
        }
    }
    Ok(Value::Object(out))
}

/// One tool spec in the wire format.
fn tool(spec: &ToolSpec, names: &ToolNames) -> Result<Value, Error> {
    Ok(json!({
        "type": "function",
        "function": {
            "name": names.to_wire(&spec.name),
            "description": spec.description,
            "parameters": tool_parameters(PROVIDER, spec)?,
        },
    }))
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
    openpista_sdk::openai_compat::wire::usage(value, "prompt_tokens", "completion_tokens")
}

/// A service error carried in a body that otherwise looks fine (some
/// servers answer 200 with `{"error": ...}`, and streams end that way).
pub fn embedded_error(value: &Value) -> Option<Error> {
    let error = value.get("error").filter(|e| !e.is_null())?;
    Some(service_error(
        PROVIDER,
        error,
        "the service reported an error",
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

/// A whole (non-streamed) response.
pub fn parse_response(body: &[u8], names: &ToolNames) -> Result<ChatResponse, Error> {
    let value = parse_json(PROVIDER, body)?;
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
            let arguments = complete_arguments(arguments_text(function.get("arguments")));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::API;

    fn config(pairs: &[(&str, &str)]) -> Config {
        let map: std::collections::BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::load(API, |k| map.get(k).cloned()).unwrap()
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
            Attachment::new("application/xml", b"<a/>".to_vec()).with_name("a.xml"),
            Attachment::new("application/pdf", b"%PDF".to_vec()).with_name("a.pdf"),
        ];
        let body = request_body(&request(vec![m], vec![]), &config(&[]), &names, false).unwrap();
        assert_eq!(
            body["messages"][0]["content"],
            json!([
                {"type": "text", "text": "look"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,aGk="}},
                {"type": "text", "text": "n.txt (text/plain):\nnotes"},
                {"type": "text", "text": "a.xml (application/xml):\n<a/>"},
                {"type": "file", "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBERg=="}},
            ])
        );
    }

    #[test]
    fn tool_results_are_text_and_their_images_follow() {
        let names = ToolNames::default();
        let mut shot = Message::tool("c1", "captured");
        shot.attachments = vec![
            Attachment::new("image/png", b"hi".to_vec()).with_name("s.png"),
            Attachment::new("application/json; charset=utf-8", b"{}".to_vec()).with_name("j"),
        ];
        let call = ToolCall::new("c1", "screen.capture", "{}");
        let messages = vec![
            Message::assistant_tool_calls("", vec![call]),
            shot,
            Message::assistant("a window"),
        ];
        let body = request_body(&request(messages, vec![]), &config(&[]), &names, false).unwrap();
        let m = body["messages"].as_array().unwrap();
        assert_eq!(m.len(), 4, "{m:#?}");
        assert_eq!(m[1]["role"], "tool");
        assert_eq!(
            m[1]["content"],
            "captured\n[image s.png (image/png): shown in the next message]\n\
             j (application/json; charset=utf-8):\n{}"
        );
        assert_eq!(
            m[2],
            json!({"role": "user", "content": [
                {"type": "text", "text": "Images returned by the tool calls above:"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,aGk="}},
            ]})
        );
        assert_eq!(m[3]["role"], "assistant");
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
        // A code that is a word is kept, as llm-responses does.
        let e = parse_response(
            br#"{"error": {"message": "boom", "code": "server_error"}}"#,
            &names,
        )
        .unwrap_err();
        assert_eq!(
            e,
            Error::upstream(
                None,
                "llm-openai: the service reported an error (server_error): boom"
            )
        );
    }

    #[test]
    fn content_parts_are_joined() {
        let body = json!({"choices": [{"message": {"content": [
            {"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}, "finish_reason": "stop"}]});
        let r = parse_response(body.to_string().as_bytes(), &ToolNames::default()).unwrap();
        assert_eq!(r.message.content, "ab");
    }
}
