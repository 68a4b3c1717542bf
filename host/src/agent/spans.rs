//! The trace spans of a turn (`telemetry::traces`): one per turn, one per
//! provider request inside it, one per tool call, with the OpenTelemetry
//! GenAI attribute names. Kept here so the turn's code reads as a turn.
//!
//! Message content becomes an attribute only when the operator opted in
//! (`[telemetry] capture_content`).

use super::TurnError;
use crate::runtime::CallError;
use crate::runtime::bindings::StreamEnd;
use crate::telemetry::traces::{TARGET, capture_content};
use tracing::Span;
use tracing::field::Empty;

/// The turn's span (`invoke_agent openpista`), the session as
/// `gen_ai.conversation.id`.
pub fn turn(session: &str, provider: &str, model: &str, text: &str) -> Span {
    let span = tracing::info_span!(
        target: TARGET,
        "invoke_agent",
        otel.name = "invoke_agent openpista",
        gen_ai.operation.name = "invoke_agent",
        gen_ai.agent.name = "openpista",
        gen_ai.conversation.id = session,
        gen_ai.request.model = model,
        openpista.provider = provider,
        gen_ai.input.messages = Empty,
        gen_ai.output.messages = Empty,
        error.type = Empty,
    );
    if capture_content() {
        span.record("gen_ai.input.messages", messages("user", text).as_str());
    }
    span
}

/// Records how the turn ended.
pub fn turn_ended(span: &Span, outcome: &Result<super::TurnOutcome, TurnError>) {
    match outcome {
        Ok(o) if capture_content() => {
            span.record(
                "gen_ai.output.messages",
                messages("assistant", &o.answer).as_str(),
            );
        }
        Ok(_) => {}
        Err(_) => {
            span.record("error.type", "turn_failed");
        }
    }
}

/// `[{"role": …, "parts": [{"type": "text", "content": …}]}]`, the shape
/// the GenAI conventions give messages.
fn messages(role: &str, text: &str) -> String {
    serde_json::json!([{ "role": role, "parts": [{ "type": "text", "content": text }] }])
        .to_string()
}

/// A provider request's span (`chat MODEL`, a client span). `base` is the
/// protocol component the provider is an alias of, which names the
/// system.
pub fn chat(provider: &str, base: &str, model: &str) -> Span {
    let system = match base {
        "llm-openai" | "llm-responses" => "openai",
        "llm-anthropic" => "anthropic",
        other => other.strip_prefix("llm-").unwrap_or(other),
    };
    tracing::info_span!(
        target: TARGET,
        "chat",
        otel.name = format!("chat {model}"),
        otel.kind = "client",
        gen_ai.operation.name = "chat",
        gen_ai.system = system,
        gen_ai.request.model = model,
        openpista.component = provider,
        gen_ai.usage.input_tokens = Empty,
        gen_ai.usage.output_tokens = Empty,
        gen_ai.response.finish_reasons = Empty,
        error.type = Empty,
    )
}

/// The end of a provider's stream: usage and why it stopped, on the
/// current (request) span.
pub fn finished(end: &StreamEnd) {
    let span = Span::current();
    if let Some(usage) = &end.usage {
        span.record("gen_ai.usage.input_tokens", usage.input_tokens);
        span.record("gen_ai.usage.output_tokens", usage.output_tokens);
    }
    use crate::runtime::bindings::FinishReason;
    let reason = match end.finish_reason {
        FinishReason::Stop => "stop",
        FinishReason::ToolCalls => "tool_calls",
        FinishReason::Length => "length",
        FinishReason::ContentFilter => "content_filter",
        FinishReason::Other => "other",
    };
    span.record("gen_ai.response.finish_reasons", reason);
}

/// A failed request: the error's class.
pub fn failed(span: &Span, error: &CallError) {
    let kind = match error {
        CallError::Guest(_) => "provider_error",
        CallError::Timeout { .. } => "timeout",
        CallError::NotLoaded(_) => "not_loaded",
        _ => "trap",
    };
    span.record("error.type", kind);
}

/// A tool call's span (`execute_tool NAME`).
pub fn tool(name: &str, call_id: &str) -> Span {
    tracing::info_span!(
        target: TARGET,
        "execute_tool",
        otel.name = format!("execute_tool {name}"),
        gen_ai.operation.name = "execute_tool",
        gen_ai.tool.name = name,
        gen_ai.tool.call.id = call_id,
        error.type = Empty,
    )
}
