//! The model catalogue behind `openpista model list`: for each configured
//! provider, what its component knows without the network (the configured
//! model and the built-in list of its preset) merged with what the
//! service lists (`models = "listed"`, through the provider's own grants
//! and key), each entry marked with where it came from. Listings are kept
//! in the cache folder for a short time ([`TTL`]), keyed by the provider's
//! configuration so a changed `base_url` or key variable lists again.

use crate::runtime::bindings::ModelInfo;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long a service's listing is reused.
pub const TTL: Duration = Duration::from_secs(10 * 60);

/// One model of one provider.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub id: String,
    pub context_window: Option<u32>,
    pub supports_tools: bool,
    /// The provider's configured model.
    pub configured: bool,
    /// Known without the network (configured or built in).
    pub built_in: bool,
    /// In the service's own list.
    pub listed: bool,
}

/// The local list (configured model first) with the service's list: an
/// entry in both keeps the service's facts where it gives them.
pub fn merge(local: &[ModelInfo], listed: Option<&[ModelInfo]>) -> Vec<Entry> {
    let mut out: Vec<Entry> = local
        .iter()
        .enumerate()
        .map(|(i, m)| Entry {
            id: m.id.clone(),
            context_window: m.context_window,
            supports_tools: m.supports_tools,
            configured: i == 0,
            built_in: true,
            listed: false,
        })
        .collect();
    for m in listed.unwrap_or_default() {
        match out.iter_mut().find(|e| e.id == m.id) {
            Some(e) => {
                e.listed = true;
                e.context_window = m.context_window.or(e.context_window);
            }
            None => out.push(Entry {
                id: m.id.clone(),
                context_window: m.context_window,
                supports_tools: m.supports_tools,
                configured: false,
                built_in: false,
                listed: true,
            }),
        }
    }
    out
}

/// Listings saved under `DIR/models/`, one file per provider.
pub struct ListingCache {
    dir: PathBuf,
    ttl: Duration,
}

#[derive(Serialize, Deserialize)]
struct Saved {
    /// Seconds since the epoch when the service answered.
    fetched_at: u64,
    /// What the listing was made with: see [`fingerprint`].
    fingerprint: String,
    models: Vec<SavedModel>,
}

#[derive(Serialize, Deserialize)]
struct SavedModel {
    id: String,
    context_window: Option<u32>,
    supports_tools: bool,
}

/// Whether model `id` of a provider spoken by `component` (`llm-openai`,
/// `llm-anthropic`, …) takes images, as the services document it for
/// their model families; `None` where the family is not known. The 0.2
/// contract's `model-info` has no such flag, so this is the host's
/// knowledge, shown by `model list`, never a reason to refuse a request.
pub fn takes_images(component: &str, id: &str) -> Option<bool> {
    // Gateways name models `vendor/model` (OpenRouter, Vercel).
    let (vendor, model) = match id.split_once('/') {
        Some((v, m)) => (Some(v), m),
        None => (None, id),
    };
    let anthropic = component == "llm-anthropic" || vendor == Some("anthropic");
    if anthropic || model.starts_with("claude-") {
        // Every Claude 3 and later model reads images; Claude 2 did not.
        return Some(!(model.starts_with("claude-2") || model.starts_with("claude-instant")));
    }
    if model.starts_with("gemini-") {
        return Some(true);
    }
    let openai = matches!(component, "llm-openai" | "llm-responses");
    if !openai && vendor.is_some_and(|v| v != "openai") {
        return None;
    }
    const WITH: [&str; 7] = [
        "gpt-4o",
        "gpt-4.1",
        "gpt-4-turbo",
        "gpt-5",
        "o3",
        "o4-mini",
        "o1",
    ];
    const WITHOUT: [&str; 4] = ["gpt-3.5", "o1-mini", "o3-mini", "gpt-4-0613"];
    if WITHOUT.iter().any(|p| model.starts_with(p)) {
        Some(false)
    } else if WITH.iter().any(|p| model.starts_with(p)) {
        Some(true)
    } else {
        None
    }
}

/// A stable digest of a provider's configuration (its `[config]` values
/// and grants), so a listing is reused only for the same service.
pub fn fingerprint(policy: &crate::runtime::capabilities::ComponentPolicy) -> String {
    let mut h = Sha256::new();
    for (k, v) in &policy.config {
        h.update(format!("{k}={v}\n"));
    }
    h.update(format!("{:?}\n{:?}", policy.hosts, policy.secret_env));
    hex::encode(&h.finalize()[..12])
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl ListingCache {
    /// Listings under `cache_dir/models`, reused for `ttl`.
    pub fn new(cache_dir: &Path, ttl: Duration) -> ListingCache {
        ListingCache {
            dir: cache_dir.join("models"),
            ttl,
        }
    }

    fn file(&self, provider: &str) -> PathBuf {
        self.dir.join(format!("{provider}.json"))
    }

    /// The saved listing of `provider` and its age, when it is younger
    /// than the TTL and made for `fingerprint`. A broken file is no
    /// listing (it is replaced by the next one).
    pub fn get(&self, provider: &str, fingerprint: &str) -> Option<(Vec<ModelInfo>, Duration)> {
        let text = std::fs::read_to_string(self.file(provider)).ok()?;
        let saved: Saved = serde_json::from_str(&text).ok()?;
        let age = Duration::from_secs(now().saturating_sub(saved.fetched_at));
        if saved.fingerprint != fingerprint || age >= self.ttl {
            return None;
        }
        let models = saved
            .models
            .into_iter()
            .map(|m| ModelInfo {
                id: m.id,
                context_window: m.context_window,
                supports_tools: m.supports_tools,
            })
            .collect();
        Some((models, age))
    }

    /// Saves `models` as `provider`'s listing (written whole, then renamed
    /// into place, so a reader never sees half a file).
    pub fn put(
        &self,
        provider: &str,
        fingerprint: &str,
        models: &[ModelInfo],
    ) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let saved = Saved {
            fetched_at: now(),
            fingerprint: fingerprint.to_string(),
            models: models
                .iter()
                .map(|m| SavedModel {
                    id: m.id.clone(),
                    context_window: m.context_window,
                    supports_tools: m.supports_tools,
                })
                .collect(),
        };
        let tmp = self.dir.join(format!(".{provider}.json.tmp"));
        std::fs::write(&tmp, serde_json::to_vec(&saved)?)?;
        std::fs::rename(tmp, self.file(provider))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(id: &str, window: Option<u32>) -> ModelInfo {
        ModelInfo {
            id: id.into(),
            context_window: window,
            supports_tools: true,
        }
    }

    #[test]
    fn merge_marks_where_each_came_from() {
        let local = [info("mine", None), info("known", Some(100))];
        let listed = [info("known", Some(200)), info("remote", Some(300))];
        let e = merge(&local, Some(&listed));
        let marks: Vec<(&str, bool, bool, bool)> = e
            .iter()
            .map(|e| (e.id.as_str(), e.configured, e.built_in, e.listed))
            .collect();
        assert_eq!(
            marks,
            [
                ("mine", true, true, false),
                ("known", false, true, true),
                ("remote", false, false, true)
            ]
        );
        assert_eq!(e[1].context_window, Some(200), "the service's facts win");
        assert_eq!(merge(&local, None).len(), 2);
    }

    #[test]
    fn images_follow_the_documented_families() {
        assert_eq!(
            takes_images("llm-anthropic", "claude-sonnet-4-5"),
            Some(true)
        );
        assert_eq!(takes_images("llm-anthropic", "claude-2.1"), Some(false));
        assert_eq!(takes_images("llm-openai", "gpt-4o-mini"), Some(true));
        assert_eq!(takes_images("llm-openai", "o3-mini"), Some(false));
        assert_eq!(takes_images("llm-openai", "gpt-3.5-turbo"), Some(false));
        assert_eq!(
            takes_images("llm-openai", "anthropic/claude-sonnet-4"),
            Some(true)
        );
        assert_eq!(takes_images("llm-openai", "openai/gpt-4.1"), Some(true));
        assert_eq!(takes_images("llm-openai", "gemini-2.5-pro"), Some(true));
        assert_eq!(takes_images("llm-openai", "meta-llama/llama-3-70b"), None);
        assert_eq!(takes_images("llm-openai", "my-finetune"), None);
        assert_eq!(takes_images("llm-echo", "echo"), None);
    }

    #[test]
    fn the_cache_keeps_a_listing_for_its_ttl_and_its_configuration_only() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ListingCache::new(dir.path(), TTL);
        assert!(cache.get("p", "f1").is_none());
        cache.put("p", "f1", &[info("a", Some(1))]).unwrap();
        let (models, age) = cache.get("p", "f1").unwrap();
        assert_eq!(models.len(), 1);
        assert_eq!(
            (models[0].id.as_str(), models[0].context_window),
            ("a", Some(1))
        );
        assert!(age < TTL);
        assert!(cache.get("p", "f2").is_none(), "another configuration");
        let expired = ListingCache::new(dir.path(), Duration::ZERO);
        assert!(expired.get("p", "f1").is_none(), "too old");
        std::fs::write(dir.path().join("models/p.json"), "{broken").unwrap();
        assert!(
            cache.get("p", "f1").is_none(),
            "a broken file is no listing"
        );
    }
}
