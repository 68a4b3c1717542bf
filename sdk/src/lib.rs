//! # openpista-sdk
//!
//! Write openpista components in Rust. A component is a WebAssembly
//! component run by the openpista host; it implements one of three worlds
//! of the WIT package `openpista:plugin@0.2.2`:
//!
//! | world | what it is | implement | export with |
//! | --- | --- | --- | --- |
//! | `tool` | tools the agent can call | [`Tool`] | [`export_tool!`] |
//! | `provider` | a language-model service | [`Provider`] | [`export_provider!`] |
//! | `channel` | a messenger adapter: its protocol, live connections (WebSockets), pairing and a report of its state | [`Channel`] | [`export_channel!`] |
//!
//! This crate hides `wit-bindgen`: depend on it alone, implement the trait on
//! a unit struct, call the export macro once, and build the `cdylib` crate
//! with `cargo build --release --target wasm32-wasip2`. The raw bindings stay
//! reachable under [`bindings`].
//!
//! ```no_run
//! use openpista_sdk::prelude::*;
//!
//! struct Clock;
//!
//! impl Tool for Clock {
//!     fn tools() -> Vec<ToolSpec> {
//!         vec![ToolSpec::new(
//!             "clock.ms",
//!             "Milliseconds since the Unix epoch.",
//!             json!({ "type": "object", "properties": {} }),
//!         )]
//!     }
//!
//!     fn invoke(name: &str, _args: Args, _ctx: CallContext) -> Result<ToolResult, Error> {
//!         match name {
//!             "clock.ms" => Ok(ToolResult::text(host::now_ms().to_string())),
//!             other => Err(Error::not_found(format!("no tool `{other}`"))),
//!         }
//!     }
//! }
//!
//! openpista_sdk::export_tool!(Clock);
//! ```
//!
//! What the host gives every component: [`host`] (logs, configuration, a
//! clock, [`host::secret_matches`] to check a token against a secret without
//! seeing it), [`memory`] (durable key-value storage of its own) and [`http`]
//! (outbound requests to the hosts its manifest declares, with secrets
//! filled in by the host from `{{secret:NAME}}` placeholders; bodies can be
//! read as they arrive). Providers also get [`sse`] (an incremental
//! server-sent-events parser) and [`retry`] (retries with backoff for 429,
//! 5xx and failed connections, and clear errors for the rest),
//! [`tool_names`] (dotted tool names mapped to the names services accept)
//! and [`base64`] (encoding, and strict decoding); OpenAI-style providers
//! share their configuration and message mapping in [`openai_compat`].
//! Channels get [`command`] (the one reading of slash commands, which the
//! host answers) and [`pairing`] (pairing codes and approvals kept in the
//! channel's memory, and what its `pairing` export answers).

// The generated bindings and the export macros name this crate by its
// public name so that they work from a component's crate; this makes the
// same paths work inside the SDK itself.
extern crate self as openpista_sdk;

pub mod approval;
mod args;
pub mod base64;
pub mod bindings;
pub mod channel;
pub mod command;
mod error;
pub mod host;
pub mod http;
pub mod memory;
pub mod multipart;
pub mod openai_compat;
pub mod pairing;
pub mod provider;
pub mod retry;
pub mod settings;
pub mod sse;
pub mod text;
pub mod tool;
pub mod tool_names;
mod types;

pub use args::Args;
pub use channel::Channel;
pub use error::{Error, RateLimit, UpstreamError};
pub use provider::{ChatStream, EventStream, Provider};
pub use tool::Tool;

pub use bindings::channel::exports::openpista::plugin::approvals::{ApprovalRequest, Settlement};
pub use bindings::channel::exports::openpista::plugin::choices::Button;
pub use bindings::channel::exports::openpista::plugin::messenger::{
    ChannelInfo, Command, Features, HttpRequest, HttpResponse, InboundEvent, Outbound, StatusKind,
};
pub use bindings::channel::exports::openpista::plugin::pairing::{PairedUser, PairingRequest};
pub use bindings::channel::exports::openpista::plugin::report::{ChannelReport, LinkRequest};
pub use bindings::channel::exports::openpista::plugin::sessions::{
    HistoryEntry, SessionEntry, Speaker,
};
pub use bindings::channel::openpista::plugin::connections::Frame;
pub use bindings::channel::openpista::plugin::types::{
    Attachment, Message, Role, ToolCall, ToolResult, ToolSpec,
};
pub use bindings::provider::exports::openpista::plugin::llm::{
    ChatRequest, ChatResponse, FinishReason, ModelInfo, StreamEnd, StreamEvent, ToolCallDelta,
    Usage,
};
pub use bindings::tool::exports::openpista::plugin::tools::CallContext;

/// `serde_json`, re-exported so a component needs no direct dependency to
/// write schemas and parse JSON.
pub use serde_json;

/// Everything a component usually needs: `use openpista_sdk::prelude::*;`.
pub mod prelude {
    pub use crate::channel::connections;
    pub use crate::{
        ApprovalRequest, Args, Attachment, Button, CallContext, Channel, ChannelInfo,
        ChannelReport, ChatRequest, ChatResponse, ChatStream, Command, Error, EventStream,
        Features, FinishReason, Frame, HistoryEntry, HttpRequest, HttpResponse, InboundEvent,
        LinkRequest, Message, ModelInfo, Outbound, PairedUser, PairingRequest, Provider, Role,
        SessionEntry, Settlement, Speaker, StatusKind, StreamEnd, StreamEvent, Tool, ToolCall,
        ToolCallDelta, ToolResult, ToolSpec, Usage,
    };
    pub use crate::{approval, command, host, http, memory, pairing, retry, sse, tool_names};
    pub use crate::{export_channel, export_provider, export_tool};
    pub use serde_json::json;
}

#[doc(hidden)]
pub mod __private {
    pub use wit_bindgen;
}
