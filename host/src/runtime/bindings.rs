//! Host-side bindings generated from `wit/` for the three worlds. The
//! `channel` world imports every host interface, so it is generated first
//! and the others reuse its import types: one Rust type per WIT type.

/// The `channel` world, and the shared `types`, `host`, `memory` and
/// `connections` interfaces.
pub mod channel {
    wasmtime::component::bindgen!({
        world: "channel",
        path: "../wit",
        exports: { default: async },
    });
}

/// The `tool` world.
pub mod tool {
    wasmtime::component::bindgen!({
        world: "tool",
        path: "../wit",
        exports: { default: async },
        with: {
            "openpista:plugin/types": super::channel::openpista::plugin::types,
            "openpista:plugin/host": super::channel::openpista::plugin::host,
            "openpista:plugin/memory": super::channel::openpista::plugin::memory,
        },
    });
}

/// The `provider` world.
pub mod provider {
    wasmtime::component::bindgen!({
        world: "provider",
        path: "../wit",
        exports: { default: async },
        with: {
            "openpista:plugin/types": super::channel::openpista::plugin::types,
            "openpista:plugin/host": super::channel::openpista::plugin::host,
            "openpista:plugin/memory": super::channel::openpista::plugin::memory,
        },
    });
}

/// The `interactive-channel` world (0.2.1): a channel that also exports
/// `approvals`, `choices` and `sessions`. Only those are used from here: they are
/// looked up by name, so a 0.2.0 channel without them still loads (and
/// gets text instead).
pub mod interactive {
    wasmtime::component::bindgen!({
        world: "interactive-channel",
        path: "../wit",
        exports: { default: async },
        with: {
            "openpista:plugin/types": super::channel::openpista::plugin::types,
            "openpista:plugin/host": super::channel::openpista::plugin::host,
            "openpista:plugin/memory": super::channel::openpista::plugin::memory,
            "openpista:plugin/connections": super::channel::openpista::plugin::connections,
        },
    });
}

pub use interactive::exports::openpista::plugin::approvals::{ApprovalRequest, Settlement};
pub use interactive::exports::openpista::plugin::choices::Button;
pub use interactive::exports::openpista::plugin::sessions::{HistoryEntry, SessionEntry, Speaker};

pub use channel::openpista::plugin::types::{
    Attachment, Error as WitError, Message, RateLimit, Role, ToolCall, ToolResult, ToolSpec,
    UpstreamError,
};

pub use provider::exports::openpista::plugin::llm::{
    ChatRequest, ChatResponse, FinishReason, ModelInfo, StreamEnd, StreamEvent, ToolCallDelta,
    Usage,
};

/// The WIT package version this host implements.
pub const WIT_VERSION: &str = "0.2.2";

/// A guest error as a sentence for the person reading it.
pub fn error_text(error: &WitError) -> String {
    use std::fmt::Write;
    let mut text = String::new();
    let f = &mut text;
    let _ = match error {
        WitError::Denied(m) => write!(f, "denied: {m}"),
        WitError::InvalidInput(m) => write!(f, "invalid input: {m}"),
        WitError::NotFound(m) => write!(f, "not found: {m}"),
        WitError::Upstream(u) => match u.status {
            Some(s) => write!(f, "upstream error (HTTP {s}): {}", u.message),
            None => write!(f, "upstream error: {}", u.message),
        },
        WitError::RateLimited(r) => match r.retry_after_ms {
            Some(ms) => write!(f, "rate limited (retry after {ms} ms): {}", r.message),
            None => write!(f, "rate limited: {}", r.message),
        },
        WitError::Timeout(m) => write!(f, "timeout: {m}"),
        WitError::Unavailable(m) => write!(f, "unavailable: {m}"),
        WitError::Internal(m) => write!(f, "internal error: {m}"),
    };
    text
}
