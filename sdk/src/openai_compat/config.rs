//! The configuration of an OpenAI-style provider, read from
//! `host::config`, and the HTTP requests it leads to.
//!
//! Both OpenAI-family components read the same keys with the same presets;
//! what differs between them is only their [`Api`]: the name their messages
//! carry and the endpoint below `base_url`.

use crate::{Error, host, http};

/// What sets one OpenAI-style component apart from another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Api {
    /// The component's name, which starts its error messages
    /// (`llm-openai`).
    pub provider: &'static str,
    /// The endpoint below `base_url` (`/chat/completions`, `/responses`).
    pub endpoint_path: &'static str,
}

/// A known service, which sets the defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preset {
    OpenAi,
    Together,
    Ollama,
    OpenRouter,
    Custom,
    /// GitHub Copilot's chat API, with a Copilot token from
    /// `openpista auth login --provider copilot`.
    Copilot,
    /// The ChatGPT backend of a ChatGPT Plus/Pro subscription (Responses
    /// API), with a token from `openpista auth login --provider openai`.
    ChatGpt,
    /// Google Gemini's OpenAI-compatible endpoint.
    Gemini,
    /// Vercel AI Gateway.
    Vercel,
    /// Azure OpenAI (the v1 API of a resource: set `base_url`); the key
    /// goes in the `api-key` header.
    Azure,
}

impl Preset {
    const ALL: [Preset; 10] = [
        Preset::OpenAi,
        Preset::Together,
        Preset::Ollama,
        Preset::OpenRouter,
        Preset::Custom,
        Preset::Copilot,
        Preset::ChatGpt,
        Preset::Gemini,
        Preset::Vercel,
        Preset::Azure,
    ];

    /// The name in the configuration.
    pub fn name(self) -> &'static str {
        match self {
            Preset::OpenAi => "openai",
            Preset::Together => "together",
            Preset::Ollama => "ollama",
            Preset::OpenRouter => "openrouter",
            Preset::Custom => "custom",
            Preset::Copilot => "copilot",
            Preset::ChatGpt => "chatgpt",
            Preset::Gemini => "gemini",
            Preset::Vercel => "vercel",
            Preset::Azure => "azure",
        }
    }

    /// Headers the service requires besides the bearer token. Copilot's
    /// chat API wants to know the client (editor and integration), and the
    /// ChatGPT backend the account, which the host holds: the component
    /// only writes the `{{secret:account_id}}` placeholder.
    pub fn headers(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Preset::Copilot => &[
                ("copilot-integration-id", "vscode-chat"),
                ("editor-version", "vscode/1.99.0"),
                ("editor-plugin-version", "copilot-chat/0.26.0"),
                ("user-agent", "GitHubCopilotChat/0.26.0"),
                ("openai-intent", "conversation-panel"),
            ],
            Preset::ChatGpt => &[
                ("chatgpt-account-id", "{{secret:account_id}}"),
                ("openai-beta", "responses=experimental"),
                ("originator", "openpista"),
            ],
            _ => &[],
        }
    }

    fn parse(provider: &str, text: &str) -> Result<Preset, Error> {
        let text = text.trim();
        Preset::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(text))
            .ok_or_else(|| {
                let known: Vec<&str> = Preset::ALL.iter().map(|p| p.name()).collect();
                Error::unavailable(format!(
                    "{provider}: config `preset` is `{text}`, which is not one of {}",
                    known.join(", ")
                ))
            })
    }

    /// The API root when `base_url` is not set.
    pub fn default_base_url(self) -> Option<&'static str> {
        match self {
            Preset::OpenAi => Some("https://api.openai.com/v1"),
            Preset::Together => Some("https://api.together.xyz/v1"),
            Preset::Ollama => Some("http://localhost:11434/v1"),
            Preset::OpenRouter => Some("https://openrouter.ai/api/v1"),
            Preset::Custom => None,
            Preset::Copilot => Some("https://api.githubcopilot.com"),
            Preset::ChatGpt => Some("https://chatgpt.com/backend-api/codex"),
            Preset::Gemini => Some("https://generativelanguage.googleapis.com/v1beta/openai"),
            Preset::Vercel => Some("https://ai-gateway.vercel.sh/v1"),
            Preset::Azure => None,
        }
    }

    /// The model when `model` is not set.
    pub fn default_model(self) -> Option<&'static str> {
        match self {
            Preset::OpenAi => Some("gpt-4o-mini"),
            Preset::Copilot => Some("gpt-4o"),
            Preset::ChatGpt => Some("gpt-5"),
            _ => None,
        }
    }
}

/// Everything the component reads from its configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Which component this is.
    pub api: Api,
    pub preset: Preset,
    /// API root without a trailing slash, such as `https://api.openai.com/v1`.
    pub base_url: String,
    /// The configured (or preset) model, if any.
    pub model: Option<String>,
    /// Default sampling temperature when a request sets none.
    pub temperature: Option<f32>,
    /// Default token limit when a request sets none.
    pub max_tokens: Option<u32>,
    /// Whether to send `Authorization: Bearer {{secret:api_key}}`.
    pub auth: bool,
    /// Connect, first-byte and between-bytes timeout of each request.
    pub request_timeout_ms: u64,
    /// `models = "listed"`: `models()` asks the service (see
    /// [`super::models`]) instead of answering from what it knows.
    pub listed: bool,
}

impl Config {
    /// Reads the configuration of `api` through `get` (`host::config` in
    /// the component, a map in tests). Empty values count as unset.
    pub fn load(api: Api, get: impl Fn(&str) -> Option<String>) -> Result<Config, Error> {
        let provider = api.provider;
        let get = |key: &str| {
            get(key)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let preset = match get("preset") {
            Some(p) => Preset::parse(provider, &p)?,
            None => Preset::OpenAi,
        };
        let base_url = match get("base_url") {
            Some(url) => {
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(Error::unavailable(format!(
                        "{provider}: config `base_url` is `{url}`; it must start with \
                         http:// or https:// (such as https://api.openai.com/v1)"
                    )));
                }
                url.trim_end_matches('/').to_string()
            }
            None => preset
                .default_base_url()
                .ok_or_else(|| {
                    Error::unavailable(format!(
                        "{provider}: config `base_url` is required with preset `{}`; set it to \
                         the API root of the server, such as http://my-server:8000/v1",
                        preset.name()
                    ))
                })?
                .to_string(),
        };
        let model = get("model").or_else(|| preset.default_model().map(str::to_string));
        let temperature =
            match get("temperature") {
                Some(t) => Some(t.parse::<f32>().ok().filter(|t| t.is_finite()).ok_or_else(
                    || {
                        Error::unavailable(format!(
                            "{provider}: config `temperature` is `{t}`, not a number"
                        ))
                    },
                )?),
                None => None,
            };
        let max_tokens = parse_u64(provider, &get, "max_tokens")?
            .map(|n| {
                u32::try_from(n).map_err(|_| {
                    Error::unavailable(format!("{provider}: config `max_tokens` is too large"))
                })
            })
            .transpose()?;
        let auth = match get("auth").as_deref() {
            None => preset != Preset::Ollama,
            Some(a) if a.eq_ignore_ascii_case("none") => false,
            Some(a) if a.eq_ignore_ascii_case("bearer") => true,
            Some(other) => {
                return Err(Error::unavailable(format!(
                    "{provider}: config `auth` is `{other}`; use `bearer` (send the `api_key` \
                     secret) or `none`"
                )));
            }
        };
        let request_timeout_ms =
            parse_u64(provider, &get, "request_timeout_ms")?.unwrap_or(110_000);
        let listed = match get("models").as_deref() {
            None | Some("built-in") => false,
            Some("listed") => true,
            Some(other) => {
                return Err(Error::unavailable(format!(
                    "{provider}: config `models` is `{other}`; use `listed` (ask the service) \
                     or `built-in`"
                )));
            }
        };
        Ok(Config {
            api,
            preset,
            base_url,
            model,
            temperature,
            max_tokens,
            auth,
            request_timeout_ms,
            listed,
        })
    }

    /// Reads the configuration of `api` from the host.
    pub fn from_host(api: Api) -> Result<Config, Error> {
        Config::load(api, host::config)
    }

    /// The model for a request: the one it names, else the configured one.
    pub fn model_for(&self, requested: Option<&str>) -> Result<String, Error> {
        let provider = self.api.provider;
        if let Some(model) = requested.map(str::trim).filter(|m| !m.is_empty()) {
            return Ok(model.to_string());
        }
        self.model.clone().ok_or_else(|| {
            Error::unavailable(format!(
                "{provider}: config `model` is required with preset `{}` (no default model); \
                 set it to a model id the server offers",
                self.preset.name()
            ))
        })
    }

    /// `{base_url}` followed by the API's endpoint path.
    pub fn endpoint(&self) -> String {
        format!("{}{}", self.base_url, self.api.endpoint_path)
    }

    /// `request` with the key placeholder (unless `auth` is `none`) and
    /// the headers the preset's service requires.
    pub(crate) fn authorize(&self, mut request: http::Request) -> http::Request {
        if self.auth {
            request = match self.preset {
                Preset::Azure => request.header("api-key", "{{secret:api_key}}"),
                _ => request.bearer("{{secret:api_key}}"),
            };
        }
        for &(name, value) in self.preset.headers() {
            request = request.header(name, value);
        }
        request
    }

    /// The HTTP request that posts `body` to the endpoint (built again for
    /// each attempt of a retry): with the request timeout, the API key as
    /// the `{{secret:api_key}}` placeholder the host fills in (unless
    /// `auth` is `none`), and asking for server-sent events when `stream`.
    pub fn http_request(&self, body: &serde_json::Value, stream: bool) -> http::Request {
        let request = http::Request::post(self.endpoint())
            .json(body)
            .timeout_ms(self.request_timeout_ms);
        let mut request = self.authorize(request);
        if stream {
            request = request.header("accept", "text/event-stream");
        }
        request
    }
}

fn parse_u64(
    provider: &str,
    get: &impl Fn(&str) -> Option<String>,
    key: &str,
) -> Result<Option<u64>, Error> {
    match get(key) {
        Some(v) => v.parse::<u64>().map(Some).map_err(|_| {
            Error::unavailable(format!(
                "{provider}: config `{key}` is `{v}`, not a whole number"
            ))
        }),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ModelInfo;
    use std::collections::BTreeMap;

    const API: Api = Api {
        provider: "llm-test",
        endpoint_path: "/chat/completions",
    };

    fn load(pairs: &[(&str, &str)]) -> Result<Config, Error> {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::load(API, |k| map.get(k).cloned())
    }

    #[test]
    fn defaults_are_openai() {
        let c = load(&[]).unwrap();
        assert_eq!(c.preset, Preset::OpenAi);
        assert_eq!(c.base_url, "https://api.openai.com/v1");
        assert_eq!(c.model.as_deref(), Some("gpt-4o-mini"));
        assert!(c.auth);
        assert_eq!(c.endpoint(), "https://api.openai.com/v1/chat/completions");
        assert_eq!(c.model_for(None).unwrap(), "gpt-4o-mini");
        assert_eq!(c.model_for(Some("gpt-4o")).unwrap(), "gpt-4o");
        let models = c.models().unwrap();
        assert_eq!(
            models[0],
            ModelInfo::new("gpt-4o-mini")
                .with_context_window(128_000)
                .with_tools()
        );
        assert!(
            models.iter().any(|m| m.id == "gpt-4.1"),
            "the built-in list follows"
        );
    }

    #[test]
    fn requests_carry_the_key_placeholder_unless_auth_is_none() {
        let body = serde_json::json!({"model": "m"});
        let c = load(&[("base_url", "http://x/v1")]).unwrap();
        let r = c.http_request(&body, true);
        assert_eq!(r.url(), "http://x/v1/chat/completions");
        assert_eq!(
            r.header_value("authorization"),
            Some("Bearer {{secret:api_key}}")
        );
        assert_eq!(r.header_value("accept"), Some("text/event-stream"));
        let c = load(&[("preset", "ollama")]).unwrap();
        let r = c.http_request(&body, false);
        assert_eq!(r.header_value("authorization"), None);
        assert_eq!(r.header_value("accept"), None);
    }

    #[test]
    fn presets_set_base_urls() {
        for (preset, url) in [
            ("together", "https://api.together.xyz/v1"),
            ("ollama", "http://localhost:11434/v1"),
            ("openrouter", "https://openrouter.ai/api/v1"),
            ("OpenAI", "https://api.openai.com/v1"),
        ] {
            let c = load(&[("preset", preset)]).unwrap();
            assert_eq!(c.base_url, url);
        }
        assert!(!load(&[("preset", "ollama")]).unwrap().auth);
        assert!(
            load(&[("preset", "ollama"), ("auth", "bearer")])
                .unwrap()
                .auth
        );
        assert!(!load(&[("auth", "none")]).unwrap().auth);
    }

    #[test]
    fn subscription_presets_add_the_headers_their_services_require() {
        let body = serde_json::json!({"model": "m"});
        let c = load(&[("preset", "copilot")]).unwrap();
        assert_eq!(c.base_url, "https://api.githubcopilot.com");
        let r = c.http_request(&body, true);
        assert_eq!(
            r.header_value("authorization"),
            Some("Bearer {{secret:api_key}}")
        );
        assert_eq!(
            r.header_value("copilot-integration-id"),
            Some("vscode-chat")
        );
        assert!(r.header_value("editor-version").is_some());
        assert_eq!(r.header_value("chatgpt-account-id"), None);
        let c = load(&[("preset", "chatgpt")]).unwrap();
        assert_eq!(c.base_url, "https://chatgpt.com/backend-api/codex");
        let r = c.http_request(&body, true);
        // The account is the host's to fill in, like the token.
        assert_eq!(
            r.header_value("chatgpt-account-id"),
            Some("{{secret:account_id}}")
        );
        assert_eq!(r.header_value("copilot-integration-id"), None);
        let c = load(&[
            ("preset", "azure"),
            ("base_url", "https://r.openai.azure.com/openai/v1"),
        ])
        .unwrap();
        let r = c.http_request(&body, false);
        assert_eq!(r.header_value("api-key"), Some("{{secret:api_key}}"));
        assert_eq!(r.header_value("authorization"), None);
        assert!(
            load(&[("preset", "azure")]).is_err(),
            "azure needs base_url"
        );
        for (preset, url) in [
            (
                "gemini",
                "https://generativelanguage.googleapis.com/v1beta/openai",
            ),
            ("vercel", "https://ai-gateway.vercel.sh/v1"),
        ] {
            let c = load(&[("preset", preset)]).unwrap();
            assert_eq!(c.base_url, url);
            let r = c.http_request(&body, false);
            assert_eq!(
                r.header_value("authorization"),
                Some("Bearer {{secret:api_key}}")
            );
        }
        let r = load(&[]).unwrap().http_request(&body, true);
        assert_eq!(r.header_value("chatgpt-account-id"), None);
        assert_eq!(r.header_value("copilot-integration-id"), None);
    }

    #[test]
    fn other_presets_need_a_model() {
        let c = load(&[("preset", "together")]).unwrap();
        assert_eq!(c.model, None);
        let e = c.model_for(None).unwrap_err();
        assert!(
            matches!(&e, Error::Unavailable(m) if m.contains("`model`") && m.contains("together"))
        );
        assert_eq!(c.model_for(Some("meta/llama")).unwrap(), "meta/llama");
    }

    #[test]
    fn custom_needs_a_base_url() {
        let e = load(&[("preset", "custom")]).unwrap_err();
        assert!(
            matches!(&e, Error::Unavailable(m) if m.contains("`base_url`") && m.contains("custom")),
            "{e}"
        );
        let c = load(&[("preset", "custom"), ("base_url", "http://127.0.0.1:9/v1/")]).unwrap();
        assert_eq!(c.base_url, "http://127.0.0.1:9/v1");
    }

    #[test]
    fn bad_values_name_the_key() {
        for (pairs, key) in [
            (&[("preset", "nope")][..], "`preset`"),
            (&[("temperature", "warm")][..], "`temperature`"),
            (&[("max_tokens", "-1")][..], "`max_tokens`"),
            (&[("auth", "basic")][..], "`auth`"),
            (&[("base_url", "api.openai.com")][..], "`base_url`"),
            (&[("request_timeout_ms", "x")][..], "`request_timeout_ms`"),
        ] {
            let e = load(pairs).unwrap_err();
            assert!(
                matches!(&e, Error::Unavailable(m) if m.contains(key) && m.starts_with("llm-test:")),
                "{e}"
            );
        }
        let c = load(&[
            ("temperature", "0.5"),
            ("max_tokens", "256"),
            ("model", " "),
        ])
        .unwrap();
        assert_eq!(c.temperature, Some(0.5));
        assert_eq!(c.max_tokens, Some(256));
        // Blank counts as unset.
        assert_eq!(c.model.as_deref(), Some("gpt-4o-mini"));
    }
}
