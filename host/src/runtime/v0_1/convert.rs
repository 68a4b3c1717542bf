//! Conversions between the 0.1 and 0.2 forms of the records the 0.1
//! `llm`, `tools` and `connections` interfaces define. The shapes are the
//! same; the Rust types differ because each release has its own bindings.

use super::bindings::channel::openpista::plugin::connections as old_connections;
use super::bindings::provider::exports::openpista::plugin::llm as old;
use super::bindings::tool::exports::openpista::plugin::tools as old_tools;
use crate::runtime::bindings::channel::openpista::plugin::connections as now_connections;
use crate::runtime::bindings::{
    ChatRequest, ChatResponse, FinishReason, ModelInfo, StreamEnd, StreamEvent, ToolCallDelta,
    Usage,
};
use crate::runtime::component::CallContext;

pub fn tool_context(c: &CallContext) -> old_tools::CallContext {
    old_tools::CallContext {
        session: c.session.clone(),
        call_id: c.call_id.clone(),
    }
}

pub fn chat_request(r: &ChatRequest) -> old::ChatRequest {
    old::ChatRequest {
        model: r.model.clone(),
        messages: r.messages.clone(),
        tools: r.tools.clone(),
        temperature: r.temperature,
        max_tokens: r.max_tokens,
    }
}

pub fn model_info(m: old::ModelInfo) -> ModelInfo {
    ModelInfo {
        id: m.id,
        context_window: m.context_window,
        supports_tools: m.supports_tools,
    }
}

fn finish(f: old::FinishReason) -> FinishReason {
    match f {
        old::FinishReason::Stop => FinishReason::Stop,
        old::FinishReason::ToolCalls => FinishReason::ToolCalls,
        old::FinishReason::Length => FinishReason::Length,
        old::FinishReason::ContentFilter => FinishReason::ContentFilter,
        old::FinishReason::Other => FinishReason::Other,
    }
}

fn usage(u: old::Usage) -> Usage {
    Usage {
        input_tokens: u.input_tokens,
        output_tokens: u.output_tokens,
    }
}

pub fn chat_response(r: old::ChatResponse) -> ChatResponse {
    ChatResponse {
        message: r.message,
        finish_reason: finish(r.finish_reason),
        usage: r.usage.map(usage),
    }
}

pub fn stream_event(e: old::StreamEvent) -> StreamEvent {
    match e {
        old::StreamEvent::Text(t) => StreamEvent::Text(t),
        old::StreamEvent::ToolCall(d) => StreamEvent::ToolCall(ToolCallDelta {
            index: d.index,
            id: d.id,
            name: d.name,
            arguments: d.arguments,
        }),
        old::StreamEvent::Finished(end) => StreamEvent::Finished(StreamEnd {
            finish_reason: finish(end.finish_reason),
            usage: end.usage.map(usage),
        }),
    }
}

pub fn frame_now(f: old_connections::Frame) -> now_connections::Frame {
    match f {
        old_connections::Frame::Text(t) => now_connections::Frame::Text(t),
        old_connections::Frame::Binary(b) => now_connections::Frame::Binary(b),
    }
}

pub fn frame_old(f: now_connections::Frame) -> old_connections::Frame {
    match f {
        now_connections::Frame::Text(t) => old_connections::Frame::Text(t),
        now_connections::Frame::Binary(b) => old_connections::Frame::Binary(b),
    }
}
