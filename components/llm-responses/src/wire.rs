//! The Responses API wire format: request bodies from a `ChatRequest`,
//! `ChatResponse`s from response objects. Pure functions, tested natively.

use openpista_sdk::openai_compat::Config;
use openpista_sdk::openai_compat::content::{self, Part, Turn};
use openpista_sdk::openai_compat::wire::{
    complete_arguments, excerpt, parse_json, require_messages, service_error, temperature,
    tool_call_id, tool_parameters,
};
use openpista_sdk::prelude::*;
use openpista_sdk::serde_json::{Map, Value};
use openpista_sdk::tool_names::ToolNames;

use crate::PROVIDER;

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
    require_messages(PROVIDER, req)?;
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
    for turn in content::with_tool_images(&req.messages[leading..]) {
        match turn {
            Turn::Message(m) => input_items(m, names, &mut input)?,
            Turn::ToolImages(images) => input.push(json!({
                "type": "message", "role": "user", "content": parts(images),
            })),
        }
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
        body.insert("temperature".into(), temperature(t));
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
        Role::User => {
            let user = match content::user_parts(m) {
                Some(p) => parts(p),
                None => m.content.clone().into(),
            };
            out.push(json!({ "type": "message", "role": "user", "content": user }));
        }
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
        Role::Tool => out.push(json!({
            "type": "function_call_output",
            "call_id": tool_call_id(PROVIDER, m)?,
            "output": content::tool_output(m),
        })),
    }
    Ok(())
}

/// Content parts in the Responses API's `input_*` shape.
fn parts(parts: Vec<Part>) -> Value {
    parts
        .into_iter()
        .map(|part| match part {
            Part::Text(text) => json!({ "type": "input_text", "text": text }),
            Part::Image { data_url } => json!({ "type": "input_image", "image_url": data_url }),
            Part::File { filename, data_url } => json!({
                "type": "input_file", "filename": filename, "file_data": data_url,
            }),
        })
        .collect::<Vec<_>>()
        .into()
}

/// One tool in the wire format. `strict` is off: openpista's schemas are
/// not written for strict mode (every property required, no extras).
fn tool(spec: &ToolSpec, names: &ToolNames) -> Result<Value, Error> {
    Ok(json!({
        "type": "function",
        "name": names.to_wire(&spec.name),
        "description": spec.description,
        "parameters": tool_parameters(PROVIDER, spec)?,
        "strict": false,
    }))
}

/// `usage` of a response object.
pub fn usage(response: &Value) -> Option<Usage> {
    openpista_sdk::openai_compat::wire::usage(response, "input_tokens", "output_tokens")
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
                let arguments = complete_arguments(
                    item.get("arguments")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                );
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
    let value = parse_json(PROVIDER, body)?;
    response_from_object(&value, names)
}

/// A `ChatResponse` from a finished response object.
pub fn response_from_object(value: &Value, names: &ToolNames) -> Result<ChatResponse, Error> {
    if let Some(error) = value.get("error").filter(|e| !e.is_null()) {
        return Err(service_error(PROVIDER, error, "the response failed"));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Config {
        let map: std::collections::BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::load(crate::API, |k| map.get(k).cloned()).unwrap()
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
    fn images_from_tools_follow_the_function_call_outputs() {
        let names = ToolNames::default();
        let mut shot = Message::tool("c1", "captured");
        shot.attachments = vec![
            Attachment::new("image/png", b"hi".to_vec()).with_name("s.png"),
            // Text files were noted as "not shown" here; they are text.
            Attachment::new("text/plain", b"notes".to_vec()).with_name("n.txt"),
        ];
        let messages = vec![
            Message::user("screen?"),
            Message::assistant_tool_calls("", vec![ToolCall::new("c1", "screen.capture", "{}")]),
            shot,
            Message::assistant("a window"),
        ];
        let body = request_body(&request(messages, vec![]), &config(&[]), &names, false).unwrap();
        let input = body["input"].as_array().unwrap();
        assert_eq!(input.len(), 5, "{input:#?}");
        assert_eq!(
            input[2]["output"],
            "captured\n[image s.png (image/png): shown in the next message]\n\
             n.txt (text/plain):\nnotes"
        );
        assert_eq!(
            input[3],
            json!({"type": "message", "role": "user", "content": [
                {"type": "input_text", "text": "Images returned by the tool calls above:"},
                {"type": "input_image", "image_url": "data:image/png;base64,aGk="},
            ]})
        );
        assert_eq!(input[4]["role"], "assistant");
    }

    #[test]
    fn attachments_and_bad_tools() {
        let names = ToolNames::default();
        let mut m = Message::user("see");
        m.attachments = vec![
            Attachment::new("image/jpeg", vec![1, 2, 3]),
            // XML and YAML were sent as files here, as text by llm-openai.
            Attachment::new("application/xml", b"<a/>".to_vec()).with_name("a.xml"),
            Attachment::new("application/x-yaml", b"k: v".to_vec()).with_name("b.yaml"),
            Attachment::new("application/pdf", b"%PDF".to_vec()).with_name("x.pdf"),
        ];
        let body = request_body(&request(vec![m], vec![]), &config(&[]), &names, false).unwrap();
        assert_eq!(
            body["input"][0]["content"],
            json!([
                {"type": "input_text", "text": "see"},
                {"type": "input_image", "image_url": "data:image/jpeg;base64,AQID"},
                {"type": "input_text", "text": "a.xml (application/xml):\n<a/>"},
                {"type": "input_text", "text": "b.yaml (application/x-yaml):\nk: v"},
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
