//! `llm-responses`: a provider for the OpenAI Responses API.
//!
//! It speaks `POST {base_url}/responses` (default base
//! `https://api.openai.com/v1`) with function tools and server-sent-event
//! streaming. The conversation maps onto the API's items: leading system
//! messages become `instructions`; user and assistant messages become
//! message items; an assistant's tool calls become `function_call` items
//! with their `call_id`; tool results become `function_call_output` items.
//! Nothing is stored server-side (`store: false`): every request carries the
//! whole conversation.
//!
//! Configuration is the same as `llm-openai`'s: `preset` (`openai` by
//! default), `base_url`, `model`, `temperature`, `max_tokens` (sent as
//! `max_output_tokens`), `auth` and `request_timeout_ms`. The API key is the
//! secret `api_key`, sent only as the placeholder `{{secret:api_key}}` that
//! the host fills in.
//!
//! The API restricts function names to `^[a-zA-Z0-9_-]+$`: dotted tool
//! names go out with `.` as `__` and are mapped back; two tools that would
//! share a wire name are refused naming both (`openpista_sdk::tool_names`).
//!
//! The configuration, the attachment mapping and the stream loop are
//! shared with `llm-openai` through `openpista_sdk::openai_compat`;
//! [`wire`] and [`stream`] hold what is the Responses API's own.

pub mod stream;
pub mod wire;

use openpista_sdk::openai_compat::{Api, Config, SseStream};
use openpista_sdk::prelude::*;
use openpista_sdk::retry::{RetryPolicy, send_streaming_with_retry, send_with_retry};
use openpista_sdk::tool_names::ToolNames;

/// The component's name, for messages.
pub const PROVIDER: &str = "llm-responses";
/// Which OpenAI-style API this component speaks.
pub const API: Api = Api {
    provider: PROVIDER,
    endpoint_path: "/responses",
};

/// The component.
pub struct Responses;

impl Provider for Responses {
    fn models() -> Result<Vec<ModelInfo>, Error> {
        Config::from_host(API)?.models()
    }

    fn chat(req: ChatRequest) -> Result<ChatResponse, Error> {
        let config = Config::from_host(API)?;
        let names = ToolNames::new(&req.tools)?;
        let body = wire::request_body(&req, &config, &names, false)?;
        let response = send_with_retry(RetryPolicy::default(), PROVIDER, || {
            config.http_request(&body, false)
        })?;
        wire::parse_response(&response.body, &names)
    }

    fn chat_stream(req: ChatRequest) -> Result<Box<dyn ChatStream>, Error> {
        let config = Config::from_host(API)?;
        let names = ToolNames::new(&req.tools)?;
        let body = wire::request_body(&req, &config, &names, true)?;
        let response = send_streaming_with_retry(RetryPolicy::default(), PROVIDER, || {
            config.http_request(&body, true)
        })?;
        let state = stream::StreamState::new(names);
        Ok(Box::new(SseStream::new(PROVIDER, response, state)))
    }
}

export_provider!(Responses);
