//! `llm-openai`: a provider for OpenAI-compatible Chat Completions APIs.
//!
//! It speaks `POST {base_url}/chat/completions` with tools (function
//! calling) and server-sent-event streaming, to OpenAI itself or any
//! compatible server, chosen by the `preset` configuration value:
//!
//! | preset | base URL | default model |
//! | --- | --- | --- |
//! | `openai` (default) | `https://api.openai.com/v1` | `gpt-4o-mini` |
//! | `together` | `https://api.together.xyz/v1` | (set `model`) |
//! | `ollama` | `http://localhost:11434/v1` | (set `model`) |
//! | `openrouter` | `https://openrouter.ai/api/v1` | (set `model`) |
//! | `custom` | (set `base_url`) | (set `model`) |
//!
//! Other configuration: `base_url`, `model`, `temperature`, `max_tokens`
//! (defaults for requests that set none), `auth` (`bearer`, or `none` for
//! servers without keys; `none` is the default for `ollama`) and
//! `request_timeout_ms`.
//!
//! The API key never enters the component: requests carry
//! `Authorization: Bearer {{secret:api_key}}`, which the host fills in from
//! the operator's secret store for granted hosts only.
//!
//! Tool names are dotted in openpista (`time.now`) but the API allows only
//! `[a-zA-Z0-9_-]`: they go out as `time__now` and come back mapped (see
//! `openpista_sdk::tool_names`). 429 and 5xx answers and failed connections
//! are retried with backoff (`openpista_sdk::retry`).
//!
//! The configuration, the attachment mapping and the stream loop are
//! shared with `llm-responses` through `openpista_sdk::openai_compat`;
//! [`wire`] and [`stream`] hold what is Chat Completions' own.

pub mod stream;
pub mod wire;

use openpista_sdk::openai_compat::{Api, Config, SseStream};
use openpista_sdk::prelude::*;
use openpista_sdk::retry::{RetryPolicy, send_streaming_with_retry, send_with_retry};
use openpista_sdk::tool_names::ToolNames;

/// The component's name, for messages.
pub const PROVIDER: &str = "llm-openai";
/// Which OpenAI-style API this component speaks.
pub const API: Api = Api {
    provider: PROVIDER,
    endpoint_path: "/chat/completions",
};

/// The component.
pub struct OpenAi;

impl Provider for OpenAi {
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

export_provider!(OpenAi);
