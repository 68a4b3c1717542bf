//! The models Anthropic offers. By default `models()` answers without the
//! network (the host asks before every turn): the configured model first,
//! then the built-in list. With `models = "listed"` it pages through the
//! Models API (`GET /v1/models?limit=…&after_id=…`, `has_more` and
//! `last_id`), which names models but not their windows: a `claude-*`
//! model gets the documented 200 000 tokens.

use crate::{API_VERSION, Auth, CLAUDE_CONTEXT_WINDOW, OAUTH_BETA, PROVIDER, Settings};
use openpista_sdk::http::Request;
use openpista_sdk::prelude::*;
use openpista_sdk::serde_json::{self, Value};

/// Known models, all with tools and the 200k window.
const BUILTIN: [&str; 5] = [
    "claude-sonnet-4-5",
    "claude-opus-4-1",
    "claude-haiku-4-5",
    "claude-sonnet-4-0",
    "claude-3-5-haiku-latest",
];

/// Models per page asked for (the API allows up to 1000).
const PAGE: u32 = 100;
/// Pages followed at most: a list that never ends is a broken service.
const MAX_PAGES: usize = 20;

fn info(id: &str, configured_window: Option<u32>) -> ModelInfo {
    let info = ModelInfo::new(id).with_tools();
    match configured_window.or_else(|| id.starts_with("claude").then_some(CLAUDE_CONTEXT_WINDOW)) {
        Some(w) => info.with_context_window(w),
        None => info,
    }
}

impl Settings {
    /// The model list answered without the network.
    pub fn models(&self) -> Vec<ModelInfo> {
        let mut out = vec![info(&self.model, self.context_window)];
        out.extend(
            BUILTIN
                .iter()
                .filter(|id| **id != self.model)
                .map(|id| info(id, None)),
        );
        out
    }

    /// Every model the Models API lists, page by page.
    pub fn listed_models(&self) -> Result<Vec<ModelInfo>, Error> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut url = format!("{}/models?limit={PAGE}", self.base_url);
            if let Some(id) = &after {
                url.push_str("&after_id=");
                url.push_str(id);
            }
            let request = match self.auth {
                Auth::ApiKey => Request::get(url).header("x-api-key", "{{secret:api_key}}"),
                Auth::OAuth => Request::get(url)
                    .bearer("{{secret:api_key}}")
                    .header("anthropic-beta", OAUTH_BETA),
            };
            let request = request
                .header("anthropic-version", API_VERSION)
                .timeout_ms(self.request_timeout_ms.min(30_000));
            let body = openpista_sdk::provider::fetch_model_list(PROVIDER, request)?;
            let page = parse_page(&body)
                .map_err(|why| Error::upstream(None, format!("{PROVIDER}: {why}")))?;
            out.extend(page.ids.iter().map(|id| info(id, None)));
            match (page.has_more, page.last_id) {
                (true, Some(last)) => after = Some(last),
                _ => return Ok(out),
            }
        }
        Err(Error::upstream(
            None,
            format!("{PROVIDER}: the model list did not end after {MAX_PAGES} pages"),
        ))
    }
}

/// One page of the Models API.
#[derive(Debug, PartialEq)]
pub struct Page {
    pub ids: Vec<String>,
    pub has_more: bool,
    pub last_id: Option<String>,
}

/// Reads `{"data": [{"type": "model", "id": …}], "has_more", "last_id"}`.
pub fn parse_page(body: &str) -> Result<Page, String> {
    let value: Value =
        serde_json::from_str(body).map_err(|e| format!("the model list is not JSON ({e})"))?;
    let data = value
        .get("data")
        .and_then(Value::as_array)
        .ok_or("the model list has no `data` array")?;
    Ok(Page {
        ids: data
            .iter()
            .filter_map(|m| m.get("id").and_then(Value::as_str))
            .filter(|id| !id.is_empty())
            .map(String::from)
            .collect(),
        has_more: value
            .get("has_more")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        last_id: value
            .get("last_id")
            .and_then(Value::as_str)
            .map(String::from),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configured_model_comes_first_then_the_built_in_ones() {
        let s = Settings {
            model: "claude-opus-4-1".into(),
            ..Settings::default()
        };
        let models = s.models();
        assert_eq!(models[0].id, "claude-opus-4-1");
        assert_eq!(models.len(), BUILTIN.len(), "no duplicate");
        assert!(models.iter().all(|m| m.supports_tools));
    }

    #[test]
    fn a_page_and_its_cursor() {
        let page = parse_page(
            r#"{"data":[{"type":"model","id":"claude-a","display_name":"A","created_at":"2025-01-01T00:00:00Z"}],
                "has_more":true,"first_id":"claude-a","last_id":"claude-a"}"#,
        )
        .unwrap();
        assert_eq!(
            page,
            Page {
                ids: vec!["claude-a".into()],
                has_more: true,
                last_id: Some("claude-a".into())
            }
        );
        assert!(parse_page("[]").unwrap_err().contains("`data`"));
        assert!(parse_page("nope").unwrap_err().contains("not JSON"));
    }
}
