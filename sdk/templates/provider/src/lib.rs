//! `{{name}}`: an openpista language-model provider.
//!
//! It speaks the OpenAI-compatible chat-completions API over the host's
//! outbound HTTP. The API key never enters the component: the request
//! carries the placeholder `{{secret:{{crate_name}}_api_key}}`, which the host
//! replaces on the way out (the manifest grants the secret and the host).

use openpista_sdk::prelude::*;
use openpista_sdk::serde_json::Value;

/// The component; it holds no state between calls.
struct Component;

/// The `authorization` header, with the secret as a placeholder.
const AUTHORIZATION: &str = "Bearer {{secret:{{crate_name}}_api_key}}";

fn base_url() -> String {
    host::config_or("base_url", "https://api.openai.com/v1")
        .trim_end_matches('/')
        .to_string()
}

fn default_model() -> String {
    host::config_or("model", "gpt-4o-mini")
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::Tool => "tool",
    }
}

/// The JSON body of a chat-completions request (text only: this example
/// does not offer tools to the model).
fn request_body(req: &ChatRequest, model: String) -> Value {
    let messages: Vec<Value> = req
        .messages
        .iter()
        .map(|m| json!({ "role": role_name(m.role), "content": m.content }))
        .collect();
    let mut body = json!({ "model": model, "messages": messages });
    if let Some(t) = req.temperature {
        body["temperature"] = json!(t);
    }
    if let Some(n) = req.max_tokens {
        body["max_tokens"] = json!(n);
    }
    body
}

/// The service's answer as a `ChatResponse`.
fn parse_response(v: &Value) -> Result<ChatResponse, Error> {
    let choice = v["choices"]
        .get(0)
        .ok_or_else(|| Error::upstream(None, format!("the answer has no choices: {v}")))?;
    let content = choice["message"]["content"].as_str().unwrap_or_default();
    let finish_reason = match choice["finish_reason"].as_str() {
        Some("stop") => FinishReason::Stop,
        Some("length") => FinishReason::Length,
        Some("content_filter") => FinishReason::ContentFilter,
        Some("tool_calls") => FinishReason::ToolCalls,
        _ => FinishReason::Other,
    };
    let mut response = ChatResponse::new(Message::assistant(content), finish_reason);
    let usage = &v["usage"];
    if let (Some(input), Some(output)) = (
        usage["prompt_tokens"].as_u64(),
        usage["completion_tokens"].as_u64(),
    ) {
        response = response.with_usage(Usage::new(input as u32, output as u32));
    }
    Ok(response)
}

impl Provider for Component {
    fn models() -> Result<Vec<ModelInfo>, Error> {
        Ok(vec![ModelInfo::new(default_model())])
    }

    fn chat(req: ChatRequest) -> Result<ChatResponse, Error> {
        let model = req.model.clone().unwrap_or_else(default_model);
        let answer = http::Request::post(format!("{}/chat/completions", base_url()))
            .header("authorization", AUTHORIZATION)
            .json(&request_body(&req, model))
            .timeout_ms(60_000)
            .send()?
            .error_for_status()?;
        parse_response(&answer.json()?)
    }

    // `chat_stream` is not overridden: the SDK's default runs `chat` and
    // streams its answer in one piece.
}

export_provider!(Component);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_the_request() {
        let req = ChatRequest {
            model: None,
            messages: vec![Message::system("be brief"), Message::user("hi")],
            tools: Vec::new(),
            temperature: Some(0.5),
            max_tokens: None,
        };
        let body = request_body(&req, "m".into());
        assert_eq!(body["model"], "m");
        assert_eq!(body["messages"][1]["role"], "user");
        assert_eq!(body["temperature"], 0.5);
        assert!(body.get("max_tokens").is_none());
    }

    #[test]
    fn parses_the_answer() {
        let v = json!({
            "choices": [{ "message": { "content": "hello" }, "finish_reason": "stop" }],
            "usage": { "prompt_tokens": 3, "completion_tokens": 1 }
        });
        let r = parse_response(&v).unwrap();
        assert_eq!(r.message.content, "hello");
        assert_eq!(r.finish_reason, FinishReason::Stop);
        assert_eq!(r.usage, Some(Usage::new(3, 1)));
        assert!(parse_response(&json!({})).is_err());
    }
}
