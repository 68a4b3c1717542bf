//! Effective capabilities: what a component declared, narrowed by the
//! operator's `[components.NAME]` table. Nothing else is reachable.

use super::manifest::Manifest;
use super::net::{HostPattern, OutboundPolicy, Resolver};
use super::secrets::SecretStore;
use anyhow::{Context, Result, bail};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// The operator's settings for one component (`[components.NAME]`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComponentPolicy {
    /// `false` keeps the component from loading at all.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// When set, only these of the declared hosts are granted (plus any the
    /// operator adds for self-hosted endpoints: a local model server, say).
    #[serde(default)]
    pub hosts: Option<Vec<String>>,
    /// When set, only these of the declared secrets are granted.
    #[serde(default)]
    pub secrets: Option<Vec<String>>,
    /// When set, only these of the declared read-only paths are granted
    /// (all of them when the manifest declares [`OPERATOR_CHOSEN`]).
    #[serde(default)]
    pub paths: Option<Vec<PathBuf>>,
    /// Declared writable paths the operator agrees to (any, when the
    /// manifest declares [`OPERATOR_CHOSEN`]); none otherwise.
    #[serde(default)]
    pub writable_paths: Vec<PathBuf>,
    #[serde(default)]
    pub memory_mb: Option<u64>,
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    #[serde(default)]
    pub fuel: Option<u64>,
    /// Secrets for this component alone, read from environment variables
    /// (secret name → variable): a provider's `api_key`, say.
    #[serde(default)]
    pub secret_env: BTreeMap<String, String>,
    /// Overrides of the manifest's `[config]` values.
    #[serde(default)]
    pub config: BTreeMap<String, toml::Value>,
}

/// What one component version may reach, resolved at load time.
#[derive(Clone)]
pub struct Grants {
    pub outbound: OutboundPolicy,
    pub host_patterns: Vec<String>,
    pub secret_names: Vec<String>,
    pub read_paths: Vec<PathBuf>,
    pub write_paths: Vec<PathBuf>,
    pub memory_mb: u64,
    pub timeout_ms: u64,
    pub fuel: u64,
    /// Outbound WebSockets the channel may hold at once (the manifest's
    /// `websockets`).
    pub websockets: u32,
}

/// Engine-wide bounds the grants must fit in.
pub struct Bounds {
    pub max_memory_mb: u64,
    pub resolver: Resolver,
    pub tls: Arc<rustls::ClientConfig>,
    /// What `$WORKSPACE` in a path grant stands for: the folder the agent
    /// works on. A manifest cannot know it; the operator's config does.
    pub workspace: Option<PathBuf>,
}

/// The placeholder a manifest (or a `[components.NAME] paths` list) writes
/// for the operator's workspace folder.
pub const WORKSPACE: &str = "$WORKSPACE";

/// What a manifest writes in `paths` or `writable_paths` to take any
/// folder the operator names in `[components.NAME] paths` /
/// `writable_paths`, and none without such a list (tool-files declares it:
/// a file tool cannot know which folders an operator will want to share).
pub const OPERATOR_CHOSEN: &str = "*";

/// `path` with [`WORKSPACE`] replaced; `None` when it names the workspace
/// and there is none, or is [`OPERATOR_CHOSEN`] (not a folder).
fn expand_path(path: &std::path::Path, workspace: Option<&PathBuf>) -> Option<PathBuf> {
    if path == std::path::Path::new(OPERATOR_CHOSEN) {
        return None;
    }
    match path.strip_prefix(WORKSPACE) {
        // `join("")` would add a trailing `/`.
        Ok(rest) if rest.as_os_str().is_empty() => workspace.cloned(),
        Ok(rest) => workspace.map(|w| w.join(rest)),
        // `~/docs` is the user's, as everywhere in the config.
        Err(_) => Some(match path.to_str() {
            Some(text) if text.starts_with('~') => crate::paths::expand(text),
            _ => path.to_path_buf(),
        }),
    }
}

impl Grants {
    /// Declared ∩ allowed. A secret declared but missing from the store is
    /// left out with a warning, so the component sees a clear `denied`.
    pub fn resolve(
        manifest: &Manifest,
        policy: &ComponentPolicy,
        secrets: &SecretStore,
        bounds: &Bounds,
    ) -> Result<Grants> {
        let declared = &manifest.capabilities;
        let hosts: Vec<String> = match &policy.hosts {
            None => declared.hosts.clone(),
            Some(allowed) => allowed.clone(),
        };
        let patterns = hosts
            .iter()
            .map(|h| HostPattern::parse(h).with_context(|| format!("host grant {h:?}")))
            .collect::<Result<Vec<_>>>()?;
        let secret_names: Vec<String> = match &policy.secrets {
            None => declared.secrets.clone(),
            Some(allowed) => declared
                .secrets
                .iter()
                .filter(|s| allowed.contains(s))
                .cloned()
                .collect(),
        };
        let secrets = secrets.with_local(&manifest.name, &policy.secret_env);
        for name in &secret_names {
            // Debug, not warn: the embedded providers declare `api_key` and
            // load unconfigured; the configured provider's missing key is
            // reported by `serve` and `run` in plain words.
            if !secrets.contains(name) {
                tracing::debug!(
                    component = %manifest.name,
                    "secret {name:?} is declared but has no value (set it in [secrets] or the environment)"
                );
            }
        }
        let workspace = bounds.workspace.as_ref();
        let expand = |paths: &[PathBuf]| -> Vec<PathBuf> {
            paths
                .iter()
                .filter_map(|p| expand_path(p, workspace))
                .collect()
        };
        let operator_chosen =
            |paths: &[PathBuf]| paths.iter().any(|p| p.as_os_str() == OPERATOR_CHOSEN);
        let declared_read = expand(&declared.paths);
        let read_paths: Vec<PathBuf> = match &policy.paths {
            None => declared_read,
            // `*` declared: the operator's list is the grant, in its order.
            Some(allowed) if operator_chosen(&declared.paths) => expand(allowed),
            Some(allowed) => {
                let allowed = expand(allowed);
                declared_read
                    .into_iter()
                    .filter(|p| allowed.contains(p))
                    .collect()
            }
        };
        let allowed_write = expand(&policy.writable_paths);
        let write_paths: Vec<PathBuf> = if operator_chosen(&declared.writable_paths) {
            allowed_write
        } else {
            expand(&declared.writable_paths)
                .into_iter()
                .filter(|p| allowed_write.contains(p))
                .collect()
        };
        for path in read_paths.iter().chain(&write_paths) {
            // A relative folder would be taken from wherever the host was
            // started: say so rather than grant that.
            if path.is_relative() {
                bail!(
                    "[components.{}]: granted path {} is not absolute (write it whole, or use $WORKSPACE or ~)",
                    manifest.name,
                    path.display()
                );
            }
            if !path.is_dir() {
                bail!("granted path {} is not a directory", path.display());
            }
        }
        let memory_mb = policy
            .memory_mb
            .unwrap_or(manifest.limits.memory_mb)
            .min(bounds.max_memory_mb);
        Ok(Grants {
            outbound: OutboundPolicy {
                component: manifest.name.as_str().into(),
                grants: patterns.into(),
                secrets: secrets.grant(&secret_names),
                resolver: bounds.resolver.clone(),
                tls: bounds.tls.clone(),
            },
            host_patterns: hosts,
            secret_names,
            read_paths,
            write_paths,
            memory_mb,
            timeout_ms: policy.timeout_ms.unwrap_or(manifest.limits.timeout_ms),
            fuel: policy.fuel.unwrap_or(manifest.limits.fuel),
            websockets: declared.websockets,
        })
    }

    /// One line per capability, for `component list` and `inspect`.
    pub fn describe(&self) -> String {
        let list = |v: &[String]| {
            if v.is_empty() {
                "none".to_string()
            } else {
                v.join(", ")
            }
        };
        let paths = |v: &[PathBuf]| {
            list(
                &v.iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>(),
            )
        };
        format!(
            "hosts: {}; secrets: {}; read: {}; write: {}; memory {} MiB; timeout {} ms{}{}",
            list(&self.host_patterns),
            list(&self.secret_names),
            paths(&self.read_paths),
            paths(&self.write_paths),
            self.memory_mb,
            self.timeout_ms,
            if self.fuel > 0 {
                format!("; fuel {}", self.fuel)
            } else {
                String::new()
            },
            if self.websockets > 0 {
                format!("; websockets {}", self.websockets)
            } else {
                String::new()
            }
        )
    }
}
