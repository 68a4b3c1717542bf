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

/// The OpenAI-family configuration, shared with `llm-openai`.
#[path = "../../llm-openai/src/config.rs"]
pub mod config;
pub mod stream;

/// The component's name, for messages.
pub const PROVIDER: &str = "llm-responses";
/// The Responses endpoint below `base_url`.
pub const ENDPOINT_PATH: &str = "/responses";
pub mod wire;

use openpista_sdk::prelude::*;
use openpista_sdk::retry::{RetryPolicy, send_streaming_with_retry, send_with_retry};
use openpista_sdk::tool_names::ToolNames;

use crate::config::Config;

/// The component.
pub struct Responses;

/// The HTTP request for `body` (built again for each attempt).
fn http_request(config: &Config, body: &serde_json::Value, stream: bool) -> http::Request {
    let mut request = http::Request::post(config.endpoint())
        .json(body)
        .timeout_ms(config.request_timeout_ms);
    if config.auth {
        request = request.bearer("{{secret:api_key}}");
    }
    if stream {
        request = request.header("accept", "text/event-stream");
    }
    request
}

impl Provider for Responses {
    fn models() -> Result<Vec<ModelInfo>, Error> {
        let config = Config::from_host()?;
        let model = config.model_for(None)?;
        Ok(vec![ModelInfo::new(model).with_tools()])
    }

    fn chat(req: ChatRequest) -> Result<ChatResponse, Error> {
        let config = Config::from_host()?;
        let names = ToolNames::new(&req.tools)?;
        let body = wire::request_body(&req, &config, &names, false)?;
        let response = send_with_retry(RetryPolicy::default(), PROVIDER, || {
            http_request(&config, &body, false)
        })?;
        wire::parse_response(&response.body, &names)
    }

    fn chat_stream(req: ChatRequest) -> Result<Box<dyn ChatStream>, Error> {
        let config = Config::from_host()?;
        let names = ToolNames::new(&req.tools)?;
        let body = wire::request_body(&req, &config, &names, true)?;
        let response = send_streaming_with_retry(RetryPolicy::default(), PROVIDER, || {
            http_request(&config, &body, true)
        })?;
        Ok(Box::new(stream::ResponsesStream::new(response, names)))
    }
}

export_provider!(Responses);
