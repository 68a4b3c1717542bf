//! Wire-format pieces that Chat Completions and the Responses API read and
//! write alike: tool schemas, numbers, tool-call ids and arguments, and the
//! errors a service reports inside a body.

use serde_json::{Value, json};

use crate::{ChatRequest, Error, Message, ToolSpec, Usage};

/// [`Error::InvalidInput`] for a request without messages: there is nothing
/// to answer.
pub fn require_messages(provider: &str, req: &ChatRequest) -> Result<(), Error> {
    if req.messages.is_empty() {
        return Err(Error::invalid_input(format!(
            "{provider}: the request has no messages"
        )));
    }
    Ok(())
}

/// A tool's JSON Schema, parsed from its text (empty text = no arguments);
/// [`Error::InvalidInput`] naming the tool when it is not a JSON object.
pub fn tool_parameters(provider: &str, spec: &ToolSpec) -> Result<Value, Error> {
    if spec.parameters.trim().is_empty() {
        return Ok(json!({ "type": "object", "properties": {} }));
    }
    let value: Value = serde_json::from_str(&spec.parameters).map_err(|e| {
        Error::invalid_input(format!(
            "{provider}: the parameters of tool `{}` are not valid JSON ({e})",
            spec.name
        ))
    })?;
    if !value.is_object() {
        return Err(Error::invalid_input(format!(
            "{provider}: the parameters of tool `{}` must be a JSON Schema object",
            spec.name
        )));
    }
    Ok(value)
}

/// A temperature for JSON, through its decimal text so that `0.2f32` goes
/// out as `0.2`, not `0.20000000298023224`.
pub fn temperature(t: f32) -> Value {
    let t: f64 = t.to_string().parse().unwrap_or(f64::from(t));
    t.into()
}

/// The id of the tool call a tool message answers;
/// [`Error::InvalidInput`] when it names none.
pub fn tool_call_id<'a>(provider: &str, message: &'a Message) -> Result<&'a str, Error> {
    message
        .tool_call_id
        .as_deref()
        .filter(|id| !id.is_empty())
        .ok_or_else(|| {
            Error::invalid_input(format!(
                "{provider}: a tool message has no tool_call_id (it must name the tool call \
                 it answers)"
            ))
        })
}

/// Arguments as text: a string as it is, an object (some servers send one)
/// as JSON, nothing as empty text.
pub fn arguments_text(arguments: Option<&Value>) -> String {
    match arguments {
        Some(Value::String(s)) => s.clone(),
        None | Some(Value::Null) => String::new(),
        Some(other) => other.to_string(),
    }
}

/// A finished call's arguments: `{}` for empty ones, since a tool takes an
/// object.
pub fn complete_arguments(arguments: String) -> String {
    if arguments.trim().is_empty() {
        "{}".into()
    } else {
        arguments
    }
}

/// The `usage` object of a response (or of a stream's last event), with
/// the API's names for the prompt's and the answer's token counts; a
/// missing count is 0, one too large for `u32` is `u32::MAX`.
pub fn usage(value: &Value, input_key: &str, output_key: &str) -> Option<Usage> {
    let usage = value.get("usage").filter(|u| u.is_object())?;
    let count = |key: &str| {
        usage
            .get(key)
            .and_then(Value::as_u64)
            .map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX))
    };
    Some(Usage::new(count(input_key), count(output_key)))
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

/// A response body as JSON; [`Error::Upstream`] quoting its start when it
/// is not.
pub fn parse_json(provider: &str, body: &[u8]) -> Result<Value, Error> {
    serde_json::from_slice(body).map_err(|e| {
        Error::upstream(
            None,
            format!(
                "{provider}: the response is not JSON ({e}): {}",
                excerpt(&String::from_utf8_lossy(body))
            ),
        )
    })
}

/// The error a service reported in an `error` object (`{message, code,
/// type}`, or a bare string), prefixed with `what` happened.
///
/// It is [`Error::RateLimited`] when the code is 429 or the code or type
/// mentions `rate_limit`; otherwise [`Error::Upstream`], with the code as
/// the HTTP status when it is a number from 400 to 599, or quoted after
/// `what` when it is a word (`server_error`).
pub fn service_error(provider: &str, error: &Value, what: &str) -> Error {
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
        return Error::rate_limited(None, format!("{provider}: rate limited: {message}"));
    }
    let status = code.parse::<u16>().ok().filter(|s| (400..600).contains(s));
    let code = match status {
        None if !code.is_empty() => format!(" ({code})"),
        _ => String::new(),
    };
    Error::upstream(status, format!("{provider}: {what}{code}: {message}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: &str = "llm-test";

    #[test]
    fn tool_parameters_default_and_refuse_non_objects() {
        let mut spec = ToolSpec::new("a.b", "d", json!({"type": "object"}));
        assert_eq!(
            tool_parameters(P, &spec).unwrap(),
            json!({"type": "object"})
        );
        spec.parameters = " ".into();
        assert_eq!(
            tool_parameters(P, &spec).unwrap(),
            json!({"type": "object", "properties": {}})
        );
        for (text, says) in [("{nope", "not valid JSON"), ("[1]", "JSON Schema object")] {
            spec.parameters = text.into();
            let e = tool_parameters(P, &spec).unwrap_err();
            assert!(
                matches!(&e, Error::InvalidInput(m) if m.starts_with("llm-test:") && m.contains("`a.b`") && m.contains(says)),
                "{e}"
            );
        }
    }

    #[test]
    fn temperatures_keep_their_decimal_text() {
        assert_eq!(temperature(0.2), json!(0.2));
        assert_eq!(temperature(1.0), json!(1.0));
    }

    #[test]
    fn tool_messages_need_a_call_id() {
        assert_eq!(tool_call_id(P, &Message::tool("c1", "r")).unwrap(), "c1");
        let mut m = Message::tool("", "r");
        assert!(
            matches!(tool_call_id(P, &m), Err(Error::InvalidInput(s)) if s.contains("tool_call_id"))
        );
        m.tool_call_id = None;
        assert!(tool_call_id(P, &m).is_err());
        let empty = ChatRequest {
            model: None,
            messages: vec![],
            tools: vec![],
            temperature: None,
            max_tokens: None,
        };
        assert!(
            matches!(require_messages(P, &empty), Err(Error::InvalidInput(s)) if s.contains("no messages"))
        );
    }

    #[test]
    fn arguments_as_text() {
        assert_eq!(arguments_text(Some(&json!("{\"a\":1}"))), "{\"a\":1}");
        assert_eq!(arguments_text(Some(&json!({"a": 1}))), "{\"a\":1}");
        assert_eq!(arguments_text(None), "");
        assert_eq!(arguments_text(Some(&Value::Null)), "");
        assert_eq!(complete_arguments(" ".into()), "{}");
        assert_eq!(complete_arguments("{\"a\":1}".into()), "{\"a\":1}");
    }

    #[test]
    fn usage_counts() {
        let value = json!({"usage": {"input_tokens": 12, "output_tokens": 5_000_000_000u64}});
        assert_eq!(
            usage(&value, "input_tokens", "output_tokens"),
            Some(Usage::new(12, u32::MAX))
        );
        assert_eq!(
            usage(&value, "prompt_tokens", "completion_tokens"),
            Some(Usage::new(0, 0))
        );
        assert_eq!(usage(&json!({"usage": null}), "a", "b"), None);
        assert_eq!(usage(&json!({}), "a", "b"), None);
    }

    #[test]
    fn excerpts_and_bodies_that_are_not_json() {
        assert_eq!(excerpt("  short  "), "short");
        let long = "é".repeat(300);
        assert_eq!(excerpt(&long), format!("{}...", "é".repeat(200)));
        let e = parse_json(P, b"<html>oops</html>").unwrap_err();
        assert!(
            matches!(&e, Error::Upstream(u) if u.status.is_none() && u.message.starts_with("llm-test: the response is not JSON") && u.message.contains("<html>oops")),
            "{e}"
        );
        assert_eq!(parse_json(P, b"{\"a\":1}").unwrap(), json!({"a": 1}));
    }

    #[test]
    fn service_errors_are_classified_one_way() {
        let what = "the service reported an error";
        // A numeric code is the status...
        assert_eq!(
            service_error(P, &json!({"message": "overloaded", "code": 503}), what),
            Error::upstream(
                Some(503),
                "llm-test: the service reported an error: overloaded"
            )
        );
        // ...a word is quoted.
        assert_eq!(
            service_error(
                P,
                &json!({"code": "server_error", "message": "boom"}),
                "it failed"
            ),
            Error::upstream(None, "llm-test: it failed (server_error): boom")
        );
        // Rate limits, by code or by type, whichever the service uses.
        for error in [
            json!({"message": "slow", "code": 429}),
            json!({"message": "slow", "code": "rate_limit_exceeded"}),
            json!({"message": "slow", "type": "rate_limit_exceeded"}),
        ] {
            assert_eq!(
                service_error(P, &error, what),
                Error::rate_limited(None, "llm-test: rate limited: slow"),
                "{error}"
            );
        }
        // A bare string, and an object without a message.
        assert_eq!(
            service_error(P, &json!("gone"), what),
            Error::upstream(None, "llm-test: the service reported an error: gone")
        );
        assert!(matches!(
            service_error(P, &json!({"detail": 1}), what),
            Error::Upstream(u) if u.message.contains("{\"detail\":1}")
        ));
    }
}
