//! The models an OpenAI-style provider offers.
//!
//! By default `models()` answers without the network (the host asks it
//! for the facts of a model before every turn): the configured model
//! first, then the built-in list of the preset, with the context windows
//! and tool support their services document. With the configuration key
//! `models = "listed"` it asks the service instead: `GET {base_url}/models`
//! in OpenAI's shape (`{"data": [{"id": …}]}`), reading OpenRouter's
//! `context_length` and `supported_parameters` where they are given. The
//! host merges the two for `openpista model list`.

use super::{Config, Preset};
use crate::{Error, ModelInfo, http};
use serde_json::Value;

/// Known models of a preset: id, context window, whether it takes tools.
fn builtin(preset: Preset) -> &'static [(&'static str, u32, bool)] {
    match preset {
        Preset::OpenAi => &[
            ("gpt-4o-mini", 128_000, true),
            ("gpt-4o", 128_000, true),
            ("gpt-4.1", 1_047_576, true),
            ("gpt-4.1-mini", 1_047_576, true),
            ("o3", 200_000, true),
            ("o4-mini", 200_000, true),
            ("gpt-5", 400_000, true),
            ("gpt-5-mini", 400_000, true),
        ],
        Preset::ChatGpt => &[("gpt-5", 400_000, true), ("gpt-5-codex", 400_000, true)],
        Preset::Copilot => &[("gpt-4o", 128_000, true), ("gpt-4.1", 128_000, true)],
        Preset::OpenRouter => &[
            ("openai/gpt-4o-mini", 128_000, true),
            ("anthropic/claude-sonnet-4", 200_000, true),
        ],
        Preset::Gemini => &[
            ("gemini-2.5-flash", 1_048_576, true),
            ("gemini-2.5-pro", 1_048_576, true),
        ],
        Preset::Together | Preset::Ollama | Preset::Custom | Preset::Vercel | Preset::Azure => &[],
    }
}

/// Ids in OpenAI's list that are not chat models.
const NOT_CHAT: [&str; 7] = [
    "embedding",
    "whisper",
    "tts",
    "dall-e",
    "moderation",
    "transcribe",
    "davinci",
];

fn known(preset: Preset, id: &str) -> Option<ModelInfo> {
    builtin(preset)
        .iter()
        .find(|(b, _, _)| *b == id)
        .map(|&(id, window, tools)| {
            let info = ModelInfo::new(id).with_context_window(window);
            if tools { info.with_tools() } else { info }
        })
}

impl Config {
    /// What `Provider::models` lists: see the module documentation.
    pub fn models(&self) -> Result<Vec<ModelInfo>, Error> {
        if self.listed {
            return self.listed_models();
        }
        let mut out: Vec<ModelInfo> = Vec::new();
        if let Some(model) = &self.model {
            out.push(
                known(self.preset, model).unwrap_or_else(|| ModelInfo::new(model).with_tools()),
            );
        }
        for &(id, _, _) in builtin(self.preset) {
            if !out.iter().any(|m| m.id == id) {
                out.extend(known(self.preset, id));
            }
        }
        if out.is_empty() {
            // No model configured and none known: say what to set.
            self.model_for(None)?;
        }
        Ok(out)
    }

    /// `GET {base_url}/models`, read into model facts.
    fn listed_models(&self) -> Result<Vec<ModelInfo>, Error> {
        let provider = self.api.provider;
        let mut request = http::Request::get(format!("{}/models", self.base_url))
            .timeout_ms(self.request_timeout_ms.min(30_000));
        request = self.authorize(request);
        let body = crate::provider::fetch_model_list(provider, request)?;
        parse_listing(self.preset, &body)
            .map_err(|why| Error::upstream(None, format!("{provider}: {why}")))
    }
}

/// A model list in OpenAI's shape, with OpenRouter's extras.
pub fn parse_listing(preset: Preset, body: &str) -> Result<Vec<ModelInfo>, String> {
    let value: Value =
        serde_json::from_str(body).map_err(|e| format!("the model list is not JSON ({e})"))?;
    let data = value
        .get("data")
        .and_then(Value::as_array)
        .ok_or("the model list has no `data` array")?;
    let mut out = Vec::new();
    for entry in data {
        let Some(id) = entry
            .get("id")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
        else {
            continue;
        };
        if NOT_CHAT.iter().any(|n| id.contains(n)) {
            continue;
        }
        let known = known(preset, id);
        let mut info = ModelInfo::new(id);
        let window = entry
            .get("context_length")
            .or_else(|| entry.get("context_window"))
            .and_then(Value::as_u64)
            .and_then(|n| u32::try_from(n).ok())
            .or(known.as_ref().and_then(|k| k.context_window));
        if let Some(window) = window {
            info = info.with_context_window(window);
        }
        let tools = match entry.get("supported_parameters").and_then(Value::as_array) {
            Some(params) => params.iter().any(|p| p == "tools"),
            None => known.as_ref().is_none_or(|k| k.supports_tools),
        };
        if tools {
            info = info.with_tools();
        }
        out.push(info);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_shape_skips_what_is_not_chat_and_uses_known_facts() {
        let body = r#"{"object":"list","data":[
            {"id":"gpt-4o","object":"model","created":1,"owned_by":"system"},
            {"id":"text-embedding-3-small","object":"model","created":1,"owned_by":"system"},
            {"id":"my-finetune","object":"model","created":1,"owned_by":"me"}]}"#;
        let models = parse_listing(Preset::OpenAi, body).unwrap();
        let ids: Vec<&str> = models.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, ["gpt-4o", "my-finetune"]);
        assert_eq!(models[0].context_window, Some(128_000));
        assert_eq!(models[1].context_window, None);
        assert!(models[1].supports_tools);
    }

    #[test]
    fn openrouter_extras_give_window_and_tools() {
        let body = r#"{"data":[
            {"id":"a/with-tools","context_length":32768,"supported_parameters":["tools","temperature"]},
            {"id":"b/no-tools","context_length":8192,"supported_parameters":["temperature"]}]}"#;
        let models = parse_listing(Preset::OpenRouter, body).unwrap();
        assert_eq!(models[0].context_window, Some(32_768));
        assert!(models[0].supports_tools);
        assert!(!models[1].supports_tools);
    }

    #[test]
    fn malformed_lists_are_errors_that_say_what() {
        assert!(
            parse_listing(Preset::OpenAi, "<html>")
                .unwrap_err()
                .contains("not JSON")
        );
        assert!(
            parse_listing(Preset::OpenAi, r#"{"models":[]}"#)
                .unwrap_err()
                .contains("`data`")
        );
    }
}
