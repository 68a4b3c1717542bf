//! A local stand-in for an OpenAI-compatible Chat Completions API
//! (`POST /v1/chat/completions`).
//!
//! It listens on 127.0.0.1 (a random port), answers from a queue of
//! scripted [`Reply`]s and records every request it receives
//! ([`Recorded`]: method, path, headers, parsed JSON body). Like the real
//! service it checks a request before answering, with the service's error
//! shape (`{"error": {"message", "type", "param", "code"}}`):
//!
//! - no `Authorization: Bearer ...` → 401; a key other than the expected
//!   one ([`OpenAiDouble::expect_api_key`]) → 401 `invalid_api_key`;
//! - a body that is not JSON, no `model`, no `messages`, an unknown role, a
//!   `tool` message without `tool_call_id` or answering no earlier tool
//!   call, an assistant's tool call left unanswered before the next
//!   non-tool message, a tool name outside `^[a-zA-Z0-9_-]{1,64}$`,
//!   `stream_options` without `stream` → 400 `invalid_request_error`;
//! - another path → 404.
//!
//! A rejected request is recorded but does not use up a scripted reply.
//! With the queue empty the double answers 500 saying so.
//!
//! Streams ([`Reply::Sse`]) go out as `text/event-stream` with chunked
//! transfer encoding, one `data:` line per event, each event split over two
//! chunks with a short pause between chunks.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{Value, json};

pub use super::http1::Recorded;
use super::http1::{self, Answer};

/// One scripted answer.
#[derive(Clone, Debug)]
pub enum Reply {
    /// 200 with this JSON body (a `chat.completion` object, normally; a
    /// missing `model` is filled in from the request).
    Json(Value),
    /// 200 `text/event-stream`: one `data: ...` event per string, verbatim
    /// (end with `"[DONE]"` as the service does).
    Sse(Vec<String>),
    /// Like [`Reply::Sse`], one chunk per event with `pause` before each
    /// (to show that events reach the caller while the body is still
    /// coming).
    SsePaced(Vec<String>, Duration),
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

/// The service's error body.
pub fn error_body(kind: &str, message: &str, code: Option<&str>, param: Option<&str>) -> Value {
    json!({ "error": { "message": message, "type": kind, "param": param, "code": code } })
}

fn chunk(delta: Value, finish: Option<&str>) -> String {
    json!({
        "id": "chatcmpl-double",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": "gpt-test",
        "system_fingerprint": null,
        "choices": [{ "index": 0, "delta": delta, "logprobs": null, "finish_reason": finish }],
    })
    .to_string()
}

fn usage_chunk(prompt: u32, completion: u32) -> String {
    json!({
        "id": "chatcmpl-double",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": "gpt-test",
        "choices": [],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
    })
    .to_string()
}

impl Reply {
    /// A complete answer with this text (`finish_reason: stop`, usage
    /// 11 in / 7 out).
    pub fn text(content: &str) -> Reply {
        Reply::Json(json!({
            "id": "chatcmpl-double",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "choices": [{
                "index": 0,
                "message": { "role": "assistant", "content": content, "refusal": null },
                "logprobs": null,
                "finish_reason": "stop",
            }],
            "usage": { "prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18 },
        }))
    }

    /// A complete answer calling these tools: `(id, wire name, arguments)`.
    pub fn tool_calls(calls: &[(&str, &str, &str)]) -> Reply {
        let calls: Vec<Value> = calls
            .iter()
            .map(|(id, name, args)| {
                json!({ "id": id, "type": "function", "function": { "name": name, "arguments": args } })
            })
            .collect();
        Reply::Json(json!({
            "id": "chatcmpl-double",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "choices": [{
                "index": 0,
                "message": { "role": "assistant", "content": null, "tool_calls": calls, "refusal": null },
                "logprobs": null,
                "finish_reason": "tool_calls",
            }],
            "usage": { "prompt_tokens": 20, "completion_tokens": 9, "total_tokens": 29 },
        }))
    }

    /// A stream of these text pieces, then `stop`, a usage chunk (5 in,
    /// pieces out) and `[DONE]`.
    pub fn stream_text(pieces: &[&str]) -> Reply {
        let mut events = vec![chunk(json!({ "role": "assistant", "content": "" }), None)];
        for piece in pieces {
            events.push(chunk(json!({ "content": piece }), None));
        }
        events.push(chunk(json!({}), Some("stop")));
        events.push(usage_chunk(5, pieces.len() as u32));
        events.push("[DONE]".into());
        Reply::Sse(events)
    }

    /// A stream calling these tools `(id, wire name, argument pieces)`:
    /// the first delta of each call has its id and name, the arguments
    /// follow piece by piece; then `tool_calls`, usage and `[DONE]`.
    pub fn stream_tool_calls(calls: &[(&str, &str, &[&str])]) -> Reply {
        let mut events = vec![chunk(json!({ "role": "assistant", "content": null }), None)];
        for (index, (id, name, pieces)) in calls.iter().enumerate() {
            events.push(chunk(
                json!({ "tool_calls": [{
                    "index": index, "id": id, "type": "function",
                    "function": { "name": name, "arguments": "" },
                }]}),
                None,
            ));
            for piece in pieces.iter() {
                events.push(chunk(
                    json!({ "tool_calls": [{ "index": index, "function": { "arguments": piece } }] }),
                    None,
                ));
            }
        }
        events.push(chunk(json!({}), Some("tool_calls")));
        events.push(usage_chunk(8, 3));
        events.push("[DONE]".into());
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
pub type OpenAiDouble = http1::ScriptedDouble<Reply>;

impl OpenAiDouble {
    /// Starts a double with an empty reply queue that accepts any bearer
    /// key.
    pub async fn start() -> OpenAiDouble {
        http1::ScriptedDouble::serve(handle).await
    }
}

/// A JSON answer (shared with the Responses double: same error format).
pub(super) fn whole(status: u16, body: &Value) -> Answer {
    Answer::Whole {
        status,
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.to_string().into_bytes(),
    }
}

/// 400 `invalid_request_error`, as both OpenAI APIs word it.
pub(super) fn invalid(message: &str, param: Option<&str>) -> Answer {
    whole(
        400,
        &error_body("invalid_request_error", message, None, param),
    )
}

fn handle(state: &Mutex<State>, request: Recorded) -> Answer {
    handle_scripted(state, request, check, answer)
}

/// Records the request, checks it like the service, then answers with
/// the next scripted reply (500 when none is left). Shared with the
/// Responses double.
pub(super) fn handle_scripted<R>(
    state: &Mutex<http1::Script<R>>,
    request: Recorded,
    check: fn(&Recorded, Option<&str>) -> Result<(), Answer>,
    answer: fn(R, &Recorded) -> Answer,
) -> Answer {
    let mut state = state.lock().unwrap();
    state.requests.push(request.clone());
    if let Err(answer) = check(&request, state.api_key.as_deref()) {
        return answer;
    }
    let Some(reply) = state.replies.pop_front() else {
        return whole(
            500,
            &error_body(
                "server_error",
                "the double has no scripted reply left for this request",
                None,
                None,
            ),
        );
    };
    answer(reply, &request)
}

fn answer(reply: Reply, request: &Recorded) -> Answer {
    let sse_headers = vec![
        ("content-type".to_string(), "text/event-stream".to_string()),
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
                    .map(|data| format!("data: {data}\n\n").into_bytes())
                    .collect(),
            ),
            pause: Duration::from_millis(2),
        },
        Reply::SsePaced(events, pause) => Answer::Chunked {
            status: 200,
            headers: sse_headers,
            chunks: events
                .into_iter()
                .map(|data| format!("data: {data}\n\n").into_bytes())
                .collect(),
            pause,
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

/// `sk-abc...` as the service shows a wrong key: a few characters of each
/// end.
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
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The service's checks; `Err` is the answer to a rejected request.
fn check(request: &Recorded, expected_key: Option<&str>) -> Result<(), Answer> {
    // The model list (answered from the script like any request).
    let listing = request.method == "GET" && request.path == "/v1/models";
    if !listing && (request.method != "POST" || request.path != "/v1/chat/completions") {
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
    if listing {
        return Ok(());
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
        return Err(invalid("you must provide a model parameter", Some("model")));
    }
    let Some(messages) = body["messages"].as_array() else {
        return Err(invalid(
            "Missing required parameter: 'messages'.",
            Some("messages"),
        ));
    };
    if messages.is_empty() {
        return Err(invalid("[] is too short - 'messages'", Some("messages")));
    }
    // Tool calls asked for and not answered yet.
    let mut open: HashSet<String> = HashSet::new();
    for (i, m) in messages.iter().enumerate() {
        let role = m["role"].as_str().unwrap_or("");
        if role != "tool" && !open.is_empty() {
            return Err(invalid(
                "An assistant message with 'tool_calls' must be followed by tool messages \
                 responding to each 'tool_call_id'.",
                Some(&format!("messages.[{i}].role")),
            ));
        }
        match role {
            "system" | "developer" | "user" => {
                if m.get("content").is_none_or(Value::is_null) {
                    return Err(invalid(
                        "Invalid value for 'content': expected a string, got null.",
                        Some(&format!("messages.[{i}].content")),
                    ));
                }
            }
            "assistant" => {
                if let Some(calls) = m.get("tool_calls").and_then(Value::as_array) {
                    for (j, call) in calls.iter().enumerate() {
                        let name = call["function"]["name"].as_str().unwrap_or("");
                        if !valid_name(name) {
                            return Err(invalid(
                                &format!(
                                    "Invalid 'messages[{i}].tool_calls[{j}].function.name': \
                                     string does not match pattern. Expected a string that \
                                     matches the pattern '^[a-zA-Z0-9_-]{{1,64}}$'."
                                ),
                                None,
                            ));
                        }
                        if !call["function"]["arguments"].is_string() {
                            return Err(invalid(
                                &format!(
                                    "Invalid type for 'messages[{i}].tool_calls[{j}].function.\
                                     arguments': expected a string."
                                ),
                                None,
                            ));
                        }
                        open.insert(call["id"].as_str().unwrap_or("").to_string());
                    }
                } else if m.get("content").is_none_or(Value::is_null) {
                    return Err(invalid(
                        "Invalid value for 'content': expected a string, got null.",
                        Some(&format!("messages.[{i}].content")),
                    ));
                }
            }
            "tool" => {
                let id = m["tool_call_id"].as_str().unwrap_or("");
                if !open.remove(id) {
                    return Err(invalid(
                        "Invalid parameter: messages with role 'tool' must be a response to a \
                         preceeding message with 'tool_calls'.",
                        Some(&format!("messages.[{i}].role")),
                    ));
                }
            }
            other => {
                return Err(invalid(
                    &format!(
                        "Invalid value: '{other}'. Supported values are: 'system', 'assistant', \
                         'user', 'tool', 'function', and 'developer'."
                    ),
                    Some(&format!("messages[{i}].role")),
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
                return Err(invalid(
                    &format!("Invalid value for 'tools[{i}].type'."),
                    Some(&format!("tools[{i}].type")),
                ));
            }
            let name = tool["function"]["name"].as_str().unwrap_or("");
            if !valid_name(name) {
                return Err(invalid(
                    &format!(
                        "Invalid 'tools[{i}].function.name': string does not match pattern. \
                         Expected a string that matches the pattern '^[a-zA-Z0-9_-]{{1,64}}$'."
                    ),
                    Some(&format!("tools[{i}].function.name")),
                ));
            }
            if let Some(p) = tool["function"].get("parameters")
                && !p.is_object()
            {
                return Err(invalid(
                    &format!(
                        "Invalid type for 'tools[{i}].function.parameters': expected an object."
                    ),
                    None,
                ));
            }
        }
    }
    if body.get("stream_options").is_some() && body["stream"] != true {
        return Err(invalid(
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            Some("stream_options"),
        ));
    }
    Ok(())
}
