//! `llm-anthropic`: an openpista provider for Anthropic's Messages API
//! (Claude).
//!
//! `POST {base_url}/messages` with `x-api-key: {{secret:api_key}}` (the
//! host fills in the key; this component never sees it) and
//! `anthropic-version: 2023-06-01`. Plain and streamed answers, tool use,
//! images and documents. Requests are retried on 429, 5xx and 529
//! (overloaded), honouring `retry-after`, by the SDK's
//! [`retry`](openpista_sdk::retry) module.
//!
//! Configuration (`[components.llm-anthropic.config]`):
//!
//! | key | default | meaning |
//! | --- | --- | --- |
//! | `base_url` | `https://api.anthropic.com/v1` | where the API lives (with or without `/v1`) |
//! | `model` | `claude-sonnet-4-5` | model when the request names none |
//! | `max_tokens` | `4096` | answer length cap when the request sets none (the API requires one) |
//! | `temperature` | unset | sampling temperature when the request sets none |
//! | `context_window` | `200000` for `claude-*` | what `models()` reports |
//! | `request_timeout_ms` | `115000` | connect / first byte / between bytes |
//! | `max_attempts` | `4` | attempts per request, retries included |
//! | `auth` | `api_key` | `oauth` for a Claude Pro/Max sign-in: the token goes as `Authorization: Bearer` with `anthropic-beta: oauth-2025-04-20` instead of `x-api-key` (the host sets it for a signed-in provider) |
//! | `models` | `built-in` | `listed`: `models()` pages through the Models API instead of answering from the configuration (the host sets it on the `models-NAME` alias `model list` uses) |
//!
//! The mapping between openpista's conversation and the API's is described
//! in [`request`], [`response`] and [`stream`]; tool names are rewritten
//! for the wire by `openpista_sdk::tool_names` (`time.now` goes out as
//! `time__now`), as for the other providers.

pub mod models;
pub mod request;
pub mod response;
pub mod stream;

use openpista_sdk::http::Request;
use openpista_sdk::prelude::*;
use openpista_sdk::retry::{self as retrying, RetryPolicy};
use openpista_sdk::serde_json::Value;

/// The name errors start with.
pub const PROVIDER: &str = "llm-anthropic";
/// The API version this component speaks.
pub const API_VERSION: &str = "2023-06-01";
/// Where the API lives unless configured otherwise.
pub const DEFAULT_BASE_URL: &str = "https://api.anthropic.com/v1";
/// The model used when neither the request nor the configuration names one.
pub const DEFAULT_MODEL: &str = "claude-sonnet-4-5";
/// The answer length cap unless configured otherwise.
pub const DEFAULT_MAX_TOKENS: u32 = 4096;
/// The context window of current Claude models.
pub const CLAUDE_CONTEXT_WINDOW: u32 = 200_000;
/// The beta flag the API wants with an OAuth (subscription) token.
pub const OAUTH_BETA: &str = "oauth-2025-04-20";

/// How the `api_key` secret is presented.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Auth {
    /// `x-api-key`: a Console API key.
    ApiKey,
    /// `Authorization: Bearer` plus the OAuth beta flag: a Claude Pro/Max
    /// sign-in's access token.
    OAuth,
}

/// The component's configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// Without a trailing `/`.
    pub base_url: String,
    pub model: String,
    pub max_tokens: u32,
    pub temperature: Option<f32>,
    pub context_window: Option<u32>,
    pub request_timeout_ms: u64,
    pub max_attempts: u32,
    pub auth: Auth,
    /// `models = "listed"`: `models()` asks the Models API.
    pub listed: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            base_url: DEFAULT_BASE_URL.to_string(),
            model: DEFAULT_MODEL.to_string(),
            max_tokens: DEFAULT_MAX_TOKENS,
            temperature: None,
            context_window: None,
            request_timeout_ms: 115_000,
            max_attempts: RetryPolicy::default().max_attempts,
            auth: Auth::ApiKey,
            listed: false,
        }
    }
}

/// The API's versioned root from a `base_url` in either form people use:
/// the official SDKs and most proxies document the bare origin
/// (`https://api.anthropic.com`, to which they add `/v1`), others give the
/// versioned root itself (`…/v1`).
fn api_root(url: &str) -> String {
    let url = url.trim_end_matches('/');
    if url.ends_with("/v1") {
        url.to_string()
    } else {
        format!("{url}/v1")
    }
}

impl Settings {
    /// Reads the configuration through `lookup` (the host's `config`).
    /// A value that does not parse is an [`Error::Unavailable`] naming the
    /// key: the component is not configured correctly.
    pub fn from_config(lookup: impl Fn(&str) -> Option<String>) -> Result<Settings, Error> {
        let mut s = Settings::default();
        let get = |key: &str| {
            lookup(key)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        fn number<T: std::str::FromStr>(key: &str, value: &str, what: &str) -> Result<T, Error> {
            value.parse::<T>().map_err(|_| {
                Error::unavailable(format!(
                    "{PROVIDER}: config `{key}` = `{value}` is not {what}"
                ))
            })
        }
        if let Some(url) = get("base_url") {
            s.base_url = api_root(&url);
        }
        if let Some(model) = get("model") {
            s.model = model;
        }
        if let Some(v) = get("max_tokens") {
            s.max_tokens = number("max_tokens", &v, "a whole number of tokens of at least 1")?;
            if s.max_tokens == 0 {
                return Err(Error::unavailable(format!(
                    "{PROVIDER}: config `max_tokens` must be at least 1"
                )));
            }
        }
        if let Some(v) = get("temperature") {
            s.temperature = Some(number("temperature", &v, "a number")?);
        }
        if let Some(v) = get("context_window") {
            s.context_window = Some(number("context_window", &v, "a whole number of tokens")?);
        }
        if let Some(v) = get("request_timeout_ms") {
            s.request_timeout_ms = number("request_timeout_ms", &v, "a whole number of ms")?;
        }
        if let Some(v) = get("auth") {
            s.auth = match v.to_ascii_lowercase().as_str() {
                "api_key" => Auth::ApiKey,
                "oauth" => Auth::OAuth,
                _ => {
                    return Err(Error::unavailable(format!(
                        "{PROVIDER}: config `auth` = `{v}` is not `api_key` or `oauth`"
                    )));
                }
            };
        }
        if let Some(v) = get("models") {
            s.listed = match v.as_str() {
                "listed" => true,
                "built-in" => false,
                _ => {
                    return Err(Error::unavailable(format!(
                        "{PROVIDER}: config `models` = `{v}` is not `listed` or `built-in`"
                    )));
                }
            };
        }
        if let Some(v) = get("max_attempts") {
            s.max_attempts = number::<u32>("max_attempts", &v, "a whole number")?.max(1);
        }
        Ok(s)
    }

    /// The configuration the host gives this component.
    pub fn load() -> Result<Settings, Error> {
        Settings::from_config(host::config)
    }

    /// The endpoint of the Messages API.
    pub fn messages_url(&self) -> String {
        format!("{}/messages", self.base_url)
    }

    fn policy(&self) -> RetryPolicy {
        RetryPolicy {
            max_attempts: self.max_attempts,
            ..RetryPolicy::default()
        }
    }
}

/// `text` cut to `max` characters (with `...`), for error messages.
pub fn snippet(text: &str, max: usize) -> String {
    let text = text.trim();
    if text.is_empty() {
        return "(empty)".to_string();
    }
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_string(),
    }
}

/// The request `build_body` made, ready to send (again).
fn post(settings: &Settings, body: &Value, accept: &str) -> Request {
    let request = Request::post(settings.messages_url());
    let request = match settings.auth {
        Auth::ApiKey => request.header("x-api-key", "{{secret:api_key}}"),
        Auth::OAuth => request
            .bearer("{{secret:api_key}}")
            .header("anthropic-beta", OAUTH_BETA),
    };
    request
        .header("anthropic-version", API_VERSION)
        .header("accept", accept)
        .json(body)
        .timeout_ms(settings.request_timeout_ms)
}

/// The retry module's final error, sharpened for Anthropic: a final 529
/// (overloaded) is a request to slow down, like a 429; a rejected key says
/// which secret holds it.
fn final_error(error: Error) -> Error {
    match error {
        Error::Upstream(u) if u.status == Some(529) => Error::rate_limited(
            None,
            format!("{} (Anthropic is overloaded; try again later)", u.message),
        ),
        Error::Unavailable(m) => Error::unavailable(format!(
            "{m} (the Anthropic API key is the `api_key` secret of {PROVIDER})"
        )),
        other => other,
    }
}

/// The component.
pub struct Anthropic;

impl Provider for Anthropic {
    fn models() -> Result<Vec<ModelInfo>, Error> {
        let settings = Settings::load()?;
        if settings.listed {
            settings.listed_models()
        } else {
            Ok(settings.models())
        }
    }

    fn chat(req: ChatRequest) -> Result<ChatResponse, Error> {
        let settings = Settings::load()?;
        let (body, names) = request::build_body(&req, &settings, false)?;
        let response = retrying::send_with_retry(settings.policy(), PROVIDER, || {
            post(&settings, &body, "application/json")
        })
        .map_err(final_error)?;
        let value: Value = response.json().map_err(|e| {
            Error::upstream(
                Some(response.status),
                format!(
                    "{PROVIDER}: Anthropic's answer is not JSON: {}",
                    e.message()
                ),
            )
        })?;
        response::parse_response(&value, &names)
    }

    fn chat_stream(req: ChatRequest) -> Result<Box<dyn ChatStream>, Error> {
        let settings = Settings::load()?;
        let (body, names) = request::build_body(&req, &settings, true)?;
        let response = retrying::send_streaming_with_retry(settings.policy(), PROVIDER, || {
            post(&settings, &body, "text/event-stream")
        })
        .map_err(final_error)?;
        let content_type = response
            .header("content-type")
            .unwrap_or("")
            .to_ascii_lowercase();
        if content_type.contains("application/json") {
            // A service (or proxy) that answered in one piece after all.
            let bytes = response.read_all()?;
            let value: Value = openpista_sdk::serde_json::from_slice(&bytes).map_err(|e| {
                Error::upstream(
                    None,
                    format!(
                        "{PROVIDER}: Anthropic's answer is not JSON ({e}): {}",
                        snippet(&String::from_utf8_lossy(&bytes), 200)
                    ),
                )
            })?;
            let answer = response::parse_response(&value, &names)?;
            return Ok(Box::new(EventStream::from_response(answer)));
        }
        Ok(Box::new(stream::AnthropicStream::new(response, names)))
    }
}

export_provider!(Anthropic);

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k: &str| map.get(k).cloned()
    }

    #[test]
    fn defaults() {
        let s = Settings::from_config(config(&[])).unwrap();
        assert_eq!(s, Settings::default());
        assert_eq!(s.messages_url(), "https://api.anthropic.com/v1/messages");
        let models = s.models();
        assert_eq!(models[0].id, DEFAULT_MODEL);
        assert!(models[0].supports_tools);
        assert_eq!(models[0].context_window, Some(CLAUDE_CONTEXT_WINDOW));
    }

    #[test]
    fn configured_values() {
        let s = Settings::from_config(config(&[
            ("base_url", "http://127.0.0.1:9/v1/"),
            ("model", "my-model"),
            ("max_tokens", "100"),
            ("temperature", "0.5"),
            ("max_attempts", "0"),
        ]))
        .unwrap();
        assert_eq!(s.messages_url(), "http://127.0.0.1:9/v1/messages");
        for (given, root) in [
            ("https://api.anthropic.com", "https://api.anthropic.com/v1"),
            ("https://api.anthropic.com/", "https://api.anthropic.com/v1"),
            (
                "https://api.anthropic.com/v1",
                "https://api.anthropic.com/v1",
            ),
            (
                "https://proxy.example/anthropic",
                "https://proxy.example/anthropic/v1",
            ),
        ] {
            let s = Settings::from_config(config(&[("base_url", given)])).unwrap();
            assert_eq!(s.base_url, root, "{given}");
        }
        assert_eq!(s.model, "my-model");
        assert_eq!(s.max_tokens, 100);
        assert_eq!(s.temperature, Some(0.5));
        assert_eq!(s.max_attempts, 1);
        assert_eq!(s.models()[0].context_window, None);
    }

    #[test]
    fn bad_values_name_the_key() {
        for (key, value) in [
            ("max_tokens", "lots"),
            ("max_tokens", "0"),
            ("temperature", "warm"),
        ] {
            let e = Settings::from_config(config(&[(key, value)])).unwrap_err();
            assert!(
                matches!(&e, Error::Unavailable(m) if m.contains(key)),
                "{key}: {e}"
            );
        }
    }

    #[test]
    fn requests_carry_the_key_placeholder_and_version() {
        let s = Settings::default();
        let r = post(&s, &serde_json::json!({"a": 1}), "application/json");
        assert_eq!(r.header_value("x-api-key"), Some("{{secret:api_key}}"));
        assert_eq!(r.header_value("authorization"), None);
        assert_eq!(r.header_value("anthropic-beta"), None);
        assert_eq!(r.header_value("anthropic-version"), Some(API_VERSION));
        assert_eq!(r.header_value("content-type"), Some("application/json"));
        assert_eq!(r.url(), "https://api.anthropic.com/v1/messages");
    }

    #[test]
    fn an_oauth_sign_in_sends_a_bearer_token_with_the_beta_flag() {
        let s = Settings::from_config(config(&[("auth", "OAuth")])).unwrap();
        assert_eq!(s.auth, Auth::OAuth);
        let r = post(&s, &serde_json::json!({"a": 1}), "application/json");
        assert_eq!(
            r.header_value("authorization"),
            Some("Bearer {{secret:api_key}}")
        );
        assert_eq!(r.header_value("anthropic-beta"), Some(OAUTH_BETA));
        assert_eq!(r.header_value("x-api-key"), None);
        assert_eq!(r.header_value("anthropic-version"), Some(API_VERSION));
        let e = Settings::from_config(config(&[("auth", "cookie")])).unwrap_err();
        assert!(
            matches!(&e, Error::Unavailable(m) if m.contains("`auth`")),
            "{e}"
        );
    }

    #[test]
    fn final_errors() {
        let e = final_error(Error::upstream(Some(529), "llm-anthropic: x"));
        assert!(matches!(&e, Error::RateLimited(r) if r.message.contains("overloaded")));
        let e = final_error(Error::upstream(Some(500), "x"));
        assert!(matches!(e, Error::Upstream(_)));
        let e = final_error(Error::unavailable(
            "llm-anthropic: the API key was rejected",
        ));
        assert!(
            matches!(&e, Error::Unavailable(m) if m.contains("Anthropic API key") && m.contains("`api_key`")),
            "{e}"
        );
    }

    #[test]
    fn snippets() {
        assert_eq!(snippet("  ", 5), "(empty)");
        assert_eq!(snippet("abcdef", 3), "abc...");
        assert_eq!(snippet("abc", 3), "abc");
    }
}
