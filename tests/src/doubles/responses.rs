//! A local stand-in for OpenAI's Responses API (`POST /v1/responses`).
//!
//! It listens on 127.0.0.1 (a random port), answers from a queue of
//! scripted [`Reply`]s and records every request it receives
//! ([`Recorded`]). Like the real service it checks a request before
//! answering, with the service's error shape (`{"error": {"message",
//! "type", "param", "code"}}`):
//!
//! - no `Authorization: Bearer ...` → 401; a key other than the expected
//!   one ([`ResponsesDouble::expect_api_key`]) → 401 `invalid_api_key`;
//! - a body that is not JSON, no `model`, no `input`, an input item of an
//!   unknown type or role, a `function_call_output` whose `call_id` no
//!   earlier `function_call` item has, a `function_call` without `call_id`,
//!   a tool name outside `^[a-zA-Z0-9_-]+$`, a function tool without
//!   `parameters` object → 400 `invalid_request_error`;
//! - another path → 404.
//!
//! A rejected request is recorded but does not use up a scripted reply.
//! With the queue empty the double answers 500 saying so.
//!
//! Streams ([`Reply::Sse`]) go out as `text/event-stream` with chunked
//! transfer encoding: per event an `event: TYPE` line (the event's `type`)
//! and a `data:` line with the event (a `sequence_number` is added), each
//! event split over two chunks with a short pause between chunks.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{Value, json};

pub use super::http1::Recorded;
use super::http1::{self, Answer};
use super::openai::{invalid, whole};

/// One scripted answer.
#[derive(Clone, Debug)]
pub enum Reply {
    /// 200 with this JSON body (a `response` object, normally; a missing
    /// `model` is filled in from the request).
    Json(Value),
    /// 200 `text/event-stream` with these events (objects with a `type`).
    Sse(Vec<Value>),
    /// Any status with these headers and this JSON body.
    Status {
        status: u16,
        headers: Vec<(String, String)>,
        body: Value,
    },
    /// 200 `text/event-stream` whose body is exactly these bytes (for
    /// malformed streams).
    Raw(Vec<u8>),
}

/// The service's error body (the same as Chat Completions').
pub use super::openai::error_body;

/// A `response` object with this status, output items and usage.
pub fn response_object(status: &str, output: Vec<Value>, usage: (u32, u32)) -> Value {
    json!({
        "id": "resp_double",
        "object": "response",
        "created_at": 1_700_000_000,
        "status": status,
        "error": null,
        "incomplete_details": null,
        "instructions": null,
        "max_output_tokens": null,
        "model": "gpt-test",
        "output": output,
        "parallel_tool_calls": true,
        "store": false,
        "tools": [],
        "usage": {
            "input_tokens": usage.0,
            "input_tokens_details": { "cached_tokens": 0 },
            "output_tokens": usage.1,
            "output_tokens_details": { "reasoning_tokens": 0 },
            "total_tokens": usage.0 + usage.1,
        },
    })
}

/// An assistant `message` output item with this text.
pub fn message_item(text: &str) -> Value {
    json!({
        "type": "message",
        "id": "msg_double",
        "status": "completed",
        "role": "assistant",
        "content": [{ "type": "output_text", "text": text, "annotations": [] }],
    })
}

/// A `function_call` output item.
pub fn function_call_item(n: usize, call_id: &str, name: &str, arguments: &str) -> Value {
    json!({
        "type": "function_call",
        "id": format!("fc_double_{n}"),
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
        "status": "completed",
    })
}

impl Reply {
    /// A completed response with this text (usage 11 in / 7 out).
    pub fn text(text: &str) -> Reply {
        Reply::Json(response_object(
            "completed",
            vec![message_item(text)],
            (11, 7),
        ))
    }

    /// A completed response calling these functions `(call_id, wire name,
    /// arguments)`.
    pub fn function_calls(calls: &[(&str, &str, &str)]) -> Reply {
        let output = calls
            .iter()
            .enumerate()
            .map(|(n, (id, name, args))| function_call_item(n, id, name, args))
            .collect();
        Reply::Json(response_object("completed", output, (20, 9)))
    }

    /// The event sequence of a streamed text answer in these pieces.
    pub fn stream_text(pieces: &[&str]) -> Reply {
        let text: String = pieces.concat();
        let mut in_progress = response_object("in_progress", vec![], (0, 0));
        in_progress["usage"] = Value::Null;
        let mut events = vec![
            json!({ "type": "response.created", "response": in_progress }),
            json!({ "type": "response.in_progress", "response": in_progress }),
            json!({ "type": "response.output_item.added", "output_index": 0,
                    "item": { "type": "message", "id": "msg_double", "status": "in_progress",
                              "role": "assistant", "content": [] } }),
            json!({ "type": "response.content_part.added", "item_id": "msg_double",
                    "output_index": 0, "content_index": 0,
                    "part": { "type": "output_text", "text": "", "annotations": [] } }),
        ];
        for piece in pieces {
            events.push(
                json!({ "type": "response.output_text.delta", "item_id": "msg_double",
                                "output_index": 0, "content_index": 0, "delta": piece }),
            );
        }
        events.extend([
            json!({ "type": "response.output_text.done", "item_id": "msg_double",
                    "output_index": 0, "content_index": 0, "text": text }),
            json!({ "type": "response.content_part.done", "item_id": "msg_double",
                    "output_index": 0, "content_index": 0,
                    "part": { "type": "output_text", "text": text, "annotations": [] } }),
            json!({ "type": "response.output_item.done", "output_index": 0,
                    "item": message_item(&text) }),
            json!({ "type": "response.completed",
                    "response": response_object("completed", vec![message_item(&text)],
                                                (5, pieces.len() as u32)) }),
        ]);
        Reply::Sse(events)
    }

    /// The event sequence of streamed function calls `(call_id, wire
    /// name, argument pieces)`.
    pub fn stream_function_calls(calls: &[(&str, &str, &[&str])]) -> Reply {
        let mut in_progress = response_object("in_progress", vec![], (0, 0));
        in_progress["usage"] = Value::Null;
        let mut events = vec![json!({ "type": "response.created", "response": in_progress })];
        let mut output = Vec::new();
        for (n, (call_id, name, pieces)) in calls.iter().enumerate() {
            let item_id = format!("fc_double_{n}");
            let args: String = pieces.concat();
            let mut added = function_call_item(n, call_id, name, "");
            added["status"] = "in_progress".into();
            events.push(
                json!({ "type": "response.output_item.added", "output_index": n, "item": added }),
            );
            for piece in pieces.iter() {
                events.push(json!({ "type": "response.function_call_arguments.delta",
                                    "item_id": item_id, "output_index": n, "delta": piece }));
            }
            events.push(json!({ "type": "response.function_call_arguments.done",
                                "item_id": item_id, "output_index": n, "arguments": args }));
            let done = function_call_item(n, call_id, name, &args);
            events.push(
                json!({ "type": "response.output_item.done", "output_index": n, "item": done }),
            );
            output.push(done);
        }
        events.push(json!({ "type": "response.completed",
                            "response": response_object("completed", output, (8, 3)) }));
        Reply::Sse(events)
    }

    /// An error answer of the service's shape.
    pub fn error(status: u16, kind: &str, message: &str) -> Reply {
        Reply::Status {
            status,
            headers: Vec::new(),
            body: error_body(kind, message, None, None),
        }
    }

    /// 429 with `retry-after: SECS`, worded like the service.
    pub fn rate_limited(retry_after_secs: u64) -> Reply {
        Reply::Status {
            status: 429,
            headers: vec![("retry-after".into(), retry_after_secs.to_string())],
            body: error_body(
                "requests",
                "Rate limit reached for gpt-test in organization org-double on requests per \
                 min (RPM): Limit 3, Used 3, Requested 1. Please try again in 1s.",
                Some("rate_limit_exceeded"),
                None,
            ),
        }
    }

    /// 500 `server_error`, worded like the service.
    pub fn server_error() -> Reply {
        Reply::Status {
            status: 500,
            headers: Vec::new(),
            body: error_body(
                "server_error",
                "The server had an error while processing your request. Sorry about that!",
                None,
                None,
            ),
        }
    }
}

type State = http1::Script<Reply>;

/// The running double.
pub type ResponsesDouble = http1::ScriptedDouble<Reply>;

impl ResponsesDouble {
    /// Starts a double with an empty reply queue that accepts any bearer
    /// key.
    pub async fn start() -> ResponsesDouble {
        http1::ScriptedDouble::serve(handle).await
    }
}

fn handle(state: &Mutex<State>, request: Recorded) -> Answer {
    super::openai::handle_scripted(state, request, check, answer)
}

fn answer(reply: Reply, request: &Recorded) -> Answer {
    let sse_headers = vec![
        (
            "content-type".to_string(),
            "text/event-stream; charset=utf-8".to_string(),
        ),
        ("cache-control".to_string(), "no-cache".to_string()),
    ];
    match reply {
        Reply::Json(mut value) => {
            if let Some(object) = value.as_object_mut()
                && !object.contains_key("model")
            {
                object.insert("model".into(), request.body["model"].clone());
            }
            whole(200, &value)
        }
        Reply::Sse(events) => Answer::Chunked {
            status: 200,
            headers: sse_headers,
            chunks: http1::split_in_two(
                events
                    .into_iter()
                    .enumerate()
                    .map(|(n, mut event)| {
                        if let Some(object) = event.as_object_mut() {
                            object.entry("sequence_number").or_insert_with(|| n.into());
                        }
                        let kind = event["type"].as_str().unwrap_or("message").to_string();
                        format!("event: {kind}\ndata: {event}\n\n").into_bytes()
                    })
                    .collect(),
            ),
            pause: Duration::from_millis(2),
        },
        Reply::Status {
            status,
            headers,
            body,
        } => {
            let mut headers = headers;
            headers.push(("content-type".into(), "application/json".into()));
            Answer::Whole {
                status,
                headers,
                body: body.to_string().into_bytes(),
            }
        }
        Reply::Raw(bytes) => Answer::Chunked {
            status: 200,
            headers: sse_headers,
            chunks: http1::split_in_two(vec![bytes]),
            pause: Duration::from_millis(2),
        },
    }
}

fn masked(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() <= 8 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 8))
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn pattern_error(what: &str) -> Answer {
    invalid(
        &format!(
            "Invalid '{what}': string does not match pattern. Expected a string that matches \
             the pattern '^[a-zA-Z0-9_-]+$'."
        ),
        Some(what),
    )
}

/// The service's checks; `Err` is the answer to a rejected request.
fn check(request: &Recorded, expected_key: Option<&str>) -> Result<(), Answer> {
    if request.method != "POST" || request.path != "/v1/responses" {
        return Err(whole(
            404,
            &error_body(
                "invalid_request_error",
                &format!("Invalid URL ({} {})", request.method, request.path),
                None,
                None,
            ),
        ));
    }
    let key = request
        .header("authorization")
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|k| !k.is_empty());
    let Some(key) = key else {
        return Err(whole(
            401,
            &error_body(
                "invalid_request_error",
                "You didn't provide an API key. You need to provide your API key in an \
                 Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                None,
                None,
            ),
        ));
    };
    if let Some(expected) = expected_key
        && key != expected
    {
        return Err(whole(
            401,
            &error_body(
                "invalid_request_error",
                &format!(
                    "Incorrect API key provided: {}. You can find your API key at \
                     https://platform.openai.com/account/api-keys.",
                    masked(key)
                ),
                Some("invalid_api_key"),
                None,
            ),
        ));
    }
    let body = &request.body;
    if !body.is_object() {
        return Err(invalid(
            "We could not parse the JSON body of your request. (HINT: This likely means \
             you aren't using your HTTP library correctly.)",
            None,
        ));
    }
    if !body["model"].is_string() {
        return Err(invalid(
            "Missing required parameter: 'model'.",
            Some("model"),
        ));
    }
    let items: Vec<Value> = match &body["input"] {
        Value::String(_) => Vec::new(),
        Value::Array(items) => items.clone(),
        _ => {
            return Err(invalid(
                "Missing required parameter: 'input'.",
                Some("input"),
            ));
        }
    };
    let mut calls: HashSet<String> = HashSet::new();
    for (i, item) in items.iter().enumerate() {
        let kind = item["type"].as_str().unwrap_or("message");
        match kind {
            "message" => {
                let role = item["role"].as_str().unwrap_or("");
                if !matches!(role, "user" | "assistant" | "system" | "developer") {
                    return Err(invalid(
                        &format!(
                            "Invalid value: '{role}'. Supported values are: 'user', \
                             'assistant', 'system', and 'developer'."
                        ),
                        Some(&format!("input[{i}].role")),
                    ));
                }
                if !(item["content"].is_string() || item["content"].is_array()) {
                    return Err(invalid(
                        &format!("Missing required parameter: 'input[{i}].content'."),
                        Some(&format!("input[{i}].content")),
                    ));
                }
            }
            "function_call" => {
                let Some(call_id) = item["call_id"].as_str().filter(|c| !c.is_empty()) else {
                    return Err(invalid(
                        &format!("Missing required parameter: 'input[{i}].call_id'."),
                        Some(&format!("input[{i}].call_id")),
                    ));
                };
                if !valid_name(item["name"].as_str().unwrap_or("")) {
                    return Err(pattern_error(&format!("input[{i}].name")));
                }
                if !item["arguments"].is_string() {
                    return Err(invalid(
                        &format!("Invalid type for 'input[{i}].arguments': expected a string."),
                        Some(&format!("input[{i}].arguments")),
                    ));
                }
                calls.insert(call_id.to_string());
            }
            "function_call_output" => {
                let call_id = item["call_id"].as_str().unwrap_or("");
                if !calls.contains(call_id) {
                    return Err(invalid(
                        &format!(
                            "No tool call found for function call output with call_id {call_id}."
                        ),
                        Some("input"),
                    ));
                }
                if !item["output"].is_string() {
                    return Err(invalid(
                        &format!("Missing required parameter: 'input[{i}].output'."),
                        Some(&format!("input[{i}].output")),
                    ));
                }
            }
            other => {
                return Err(invalid(
                    &format!("Invalid value: '{other}'."),
                    Some(&format!("input[{i}].type")),
                ));
            }
        }
    }
    if let Some(tools) = body.get("tools") {
        let Some(tools) = tools.as_array() else {
            return Err(invalid(
                "Invalid type for 'tools': expected an array.",
                Some("tools"),
            ));
        };
        for (i, tool) in tools.iter().enumerate() {
            if tool["type"] != "function" {
                continue;
            }
            if !valid_name(tool["name"].as_str().unwrap_or("")) {
                return Err(pattern_error(&format!("tools[{i}].name")));
            }
            if !tool["parameters"].is_object() {
                return Err(invalid(
                    &format!("Missing required parameter: 'tools[{i}].parameters'."),
                    Some(&format!("tools[{i}].parameters")),
                ));
            }
        }
    }
    Ok(())
}
