//! The Messages API's answer → openpista's chat response.

use openpista_sdk::serde_json::Value;
use openpista_sdk::{ChatResponse, Error, FinishReason, Message, ToolCall, Usage};

use crate::PROVIDER;
use openpista_sdk::tool_names::ToolNames;

/// `stop_reason` → finish reason: `end_turn` and `stop_sequence` are a
/// complete answer, `tool_use` asks for tools, `max_tokens` (and a full
/// context window) cut the answer, `refusal` withheld it.
pub fn finish_reason(stop_reason: Option<&str>) -> FinishReason {
    match stop_reason {
        Some("end_turn" | "stop_sequence") => FinishReason::Stop,
        Some("tool_use") => FinishReason::ToolCalls,
        Some("max_tokens" | "model_context_window_exceeded") => FinishReason::Length,
        Some("refusal") => FinishReason::ContentFilter,
        _ => FinishReason::Other,
    }
}

fn count(value: Option<&Value>) -> Option<u32> {
    value
        .and_then(Value::as_u64)
        .map(|n| n.min(u64::from(u32::MAX)) as u32)
}

/// Input tokens of a `usage` object: the uncached ones plus those written
/// to and read from the prompt cache (Anthropic counts them apart).
pub fn input_tokens(usage: &Value) -> Option<u32> {
    let parts = [
        "input_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
    ]
    .map(|k| count(usage.get(k)));
    if parts.iter().all(Option::is_none) {
        return None;
    }
    Some(
        parts
            .iter()
            .flatten()
            .fold(0u32, |sum, n| sum.saturating_add(*n)),
    )
}

/// Output tokens of a `usage` object.
pub fn output_tokens(usage: &Value) -> Option<u32> {
    count(usage.get("output_tokens"))
}

/// An error object (`{"type": "error", "error": {"type", "message"}}`)
/// the service sent with a 200 status or inside a stream: overloaded and
/// rate-limit errors become [`Error::RateLimited`], the rest
/// [`Error::Upstream`].
pub fn service_error(value: &Value) -> Error {
    let error = value.get("error").unwrap_or(value);
    let kind = error
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("unknown_error");
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .filter(|m| !m.trim().is_empty())
        .unwrap_or("(no message)");
    match kind {
        "overloaded_error" => Error::rate_limited(
            None,
            format!("{PROVIDER}: Anthropic is overloaded ({kind}): {message}; try again later"),
        ),
        "rate_limit_error" => Error::rate_limited(
            None,
            format!("{PROVIDER}: Anthropic rate-limited the request ({kind}): {message}"),
        ),
        _ => Error::upstream(
            None,
            format!("{PROVIDER}: Anthropic reported an error ({kind}): {message}"),
        ),
    }
}

/// A complete (non-streamed) answer: text blocks joined, `tool_use`
/// blocks as tool calls under their original names, thinking and other
/// block types left out.
pub fn parse_response(body: &Value, names: &ToolNames) -> Result<ChatResponse, Error> {
    if body.get("type").and_then(Value::as_str) == Some("error") {
        return Err(service_error(body));
    }
    let blocks = body
        .get("content")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            Error::upstream(
                Some(200),
                format!(
                    "{PROVIDER}: Anthropic's answer has no `content` array: {}",
                    crate::snippet(&body.to_string(), 300)
                ),
            )
        })?;
    let mut text = String::new();
    let mut calls = Vec::new();
    for block in blocks {
        match block.get("type").and_then(Value::as_str) {
            Some("text") => {
                if let Some(t) = block.get("text").and_then(Value::as_str) {
                    text.push_str(t);
                }
            }
            Some("tool_use") => calls.push(tool_call(block, names)?),
            _ => {}
        }
    }
    let stop_reason = body.get("stop_reason").and_then(Value::as_str);
    let usage = body.get("usage").and_then(|u| {
        let (input, output) = (input_tokens(u), output_tokens(u));
        (input.is_some() || output.is_some())
            .then(|| Usage::new(input.unwrap_or(0), output.unwrap_or(0)))
    });
    Ok(ChatResponse {
        message: Message::assistant_tool_calls(text, calls),
        finish_reason: finish_reason(stop_reason),
        usage,
    })
}

fn tool_call(block: &Value, names: &ToolNames) -> Result<ToolCall, Error> {
    let field = |k: &str| block.get(k).and_then(Value::as_str);
    let (Some(id), Some(name)) = (field("id"), field("name")) else {
        return Err(Error::upstream(
            Some(200),
            format!(
                "{PROVIDER}: Anthropic sent a tool_use block without an id or a name: {}",
                crate::snippet(&block.to_string(), 300)
            ),
        ));
    };
    let arguments = match block.get("input") {
        None | Some(Value::Null) => "{}".to_string(),
        Some(input) => input.to_string(),
    };
    Ok(ToolCall::new(id, names.from_wire(name), arguments))
}

#[cfg(test)]
mod tests {
    use super::*;
    use openpista_sdk::ToolSpec;
    use openpista_sdk::serde_json::json;

    fn names() -> ToolNames {
        ToolNames::new(&[ToolSpec::new("time.now", "", json!({}))]).unwrap()
    }

    #[test]
    fn text_answer() {
        let body = json!({
            "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x",
            "content": [
                {"type": "thinking", "thinking": "hmm", "signature": "s"},
                {"type": "text", "text": "Hello"},
                {"type": "text", "text": ", world"},
            ],
            "stop_reason": "end_turn", "stop_sequence": null,
            "usage": {"input_tokens": 12, "output_tokens": 5, "cache_read_input_tokens": 3},
        });
        let r = parse_response(&body, &names()).unwrap();
        assert_eq!(r.message.content, "Hello, world");
        assert!(r.message.tool_calls.is_empty());
        assert_eq!(r.finish_reason, FinishReason::Stop);
        assert_eq!(r.usage, Some(Usage::new(15, 5)));
    }

    #[test]
    fn tool_use_answer_maps_names_back() {
        let body = json!({
            "type": "message", "role": "assistant",
            "content": [
                {"type": "text", "text": "Let me check."},
                {"type": "tool_use", "id": "toolu_01", "name": "time__now", "input": {"tz": "UTC"}},
                {"type": "tool_use", "id": "toolu_02", "name": "unknown_tool", "input": {}},
            ],
            "stop_reason": "tool_use",
            "usage": {"input_tokens": 1, "output_tokens": 2},
        });
        let r = parse_response(&body, &names()).unwrap();
        assert_eq!(r.finish_reason, FinishReason::ToolCalls);
        assert_eq!(r.message.content, "Let me check.");
        assert_eq!(
            r.message.tool_calls,
            vec![
                ToolCall::new("toolu_01", "time.now", r#"{"tz":"UTC"}"#),
                ToolCall::new("toolu_02", "unknown_tool", "{}"),
            ]
        );
    }

    #[test]
    fn stop_reasons() {
        assert_eq!(finish_reason(Some("end_turn")), FinishReason::Stop);
        assert_eq!(finish_reason(Some("stop_sequence")), FinishReason::Stop);
        assert_eq!(finish_reason(Some("tool_use")), FinishReason::ToolCalls);
        assert_eq!(finish_reason(Some("max_tokens")), FinishReason::Length);
        assert_eq!(finish_reason(Some("refusal")), FinishReason::ContentFilter);
        assert_eq!(finish_reason(Some("pause_turn")), FinishReason::Other);
        assert_eq!(finish_reason(None), FinishReason::Other);
    }

    #[test]
    fn malformed_answers_are_upstream_errors() {
        let e = parse_response(&json!({"type": "message"}), &names()).unwrap_err();
        assert!(
            matches!(&e, Error::Upstream(u) if u.message.contains("content")),
            "{e}"
        );
        let e = parse_response(
            &json!({"content": [{"type": "tool_use", "input": {}}]}),
            &names(),
        )
        .unwrap_err();
        assert!(matches!(e, Error::Upstream(_)));
    }

    #[test]
    fn error_objects() {
        let e = service_error(&json!({
            "type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}
        }));
        assert!(
            matches!(&e, Error::RateLimited(r) if r.message.contains("Overloaded") && r.message.contains("Anthropic")),
            "{e}"
        );
        let e = parse_response(
            &json!({"type": "error", "error": {"type": "api_error", "message": "boom"}}),
            &names(),
        )
        .unwrap_err();
        assert!(
            matches!(&e, Error::Upstream(u) if u.message.contains("boom") && u.message.contains("api_error")),
            "{e}"
        );
    }
}
