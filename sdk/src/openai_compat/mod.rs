//! What OpenAI-style providers share: `llm-openai` (Chat Completions, and
//! the servers that copy it) and `llm-responses` (the Responses API).
//!
//! The two APIs shape their JSON differently, but read the same
//! configuration and make the same decisions about a conversation; those
//! live here once so that the two components cannot drift apart:
//!
//! - [`Config`]: the `preset`, `base_url`, `model`, `temperature`,
//!   `max_tokens`, `auth` and `request_timeout_ms` keys, and the HTTP
//!   request they lead to (the API key only as the `{{secret:api_key}}`
//!   placeholder the host fills in);
//! - [`content`]: which attachments are text, images or files, and how
//!   each reaches a user message or a tool result;
//! - [`wire`]: tool schemas, temperatures, tool-call ids and arguments,
//!   usage, and the errors a service reports inside a body;
//! - [`stream`]: the loop that reads a streamed body into the API's own
//!   [`StreamState`].
//!
//! Each component keeps what is its API's alone: the JSON shape of a
//! request and an answer, finish reasons, and what its stream events mean.

mod config;
pub mod content;
pub mod models;
pub mod stream;
pub mod wire;

pub use config::{Api, Config, Preset};
pub use content::{Part, Turn};
pub use stream::{SseStream, StreamState};
