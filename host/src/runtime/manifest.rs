//! The capability manifest a component ships beside its `.wasm`
//! (`NAME.toml`; `manifest.toml` in a component crate). See
//! `sdk/MANIFEST.md` for the format.

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Default linear-memory cap of an instance.
pub const DEFAULT_MEMORY_MB: u64 = 64;
/// Default wall-clock deadline of one call.
pub const DEFAULT_TIMEOUT_MS: u64 = 30_000;

/// The three kinds of component, one WIT world each.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, serde::Serialize,
)]
#[serde(rename_all = "lowercase")]
pub enum World {
    /// Exports `openpista:plugin/tools`.
    Tool,
    /// Exports `openpista:plugin/llm`.
    Provider,
    /// Exports `openpista:plugin/messenger`.
    Channel,
}

impl World {
    /// The interface a component of this world exports.
    pub fn export_interface(self) -> &'static str {
        match self {
            World::Tool => "tools",
            World::Provider => "llm",
            World::Channel => "messenger",
        }
    }

    /// Lower-case name as written in manifests.
    pub fn as_str(self) -> &'static str {
        match self {
            World::Tool => "tool",
            World::Provider => "provider",
            World::Channel => "channel",
        }
    }
}

impl std::fmt::Display for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a component declares it needs.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Capabilities {
    /// Outbound HTTP hosts: `host`, `host:port`, `*.domain`.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Secret names usable as `{{secret:NAME}}` placeholders.
    #[serde(default)]
    pub secrets: Vec<String>,
    /// Directories readable by the component.
    #[serde(default)]
    pub paths: Vec<PathBuf>,
    /// Directories the component may write, if the operator grants them.
    #[serde(default)]
    pub writable_paths: Vec<PathBuf>,
    /// How many WebSockets a channel may have the host open for it at
    /// once (`connections.ws-open`, since WIT 0.2.2), to hosts `hosts`
    /// grants. None by default.
    #[serde(default)]
    pub websockets: u32,
}

/// Most outbound WebSockets one channel may hold: a messenger needs one or
/// two (a session and its replacement while it resumes).
pub const MAX_WEBSOCKETS: u32 = 8;

/// Per-call limits a component asks for.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    #[serde(default = "default_memory_mb")]
    pub memory_mb: u64,
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Instruction budget per call when the engine meters fuel; 0 = none.
    #[serde(default)]
    pub fuel: u64,
    /// A channel's `poll` may block for the whole deadline.
    #[serde(default)]
    pub long_poll: bool,
}

fn default_memory_mb() -> u64 {
    DEFAULT_MEMORY_MB
}
fn default_timeout_ms() -> u64 {
    DEFAULT_TIMEOUT_MS
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_mb: DEFAULT_MEMORY_MB,
            timeout_ms: DEFAULT_TIMEOUT_MS,
            fuel: 0,
            long_poll: false,
        }
    }
}

/// The channel id the host gives channel component `name`: its manifest
/// name without a leading `channel-` (`channel-telegram` → `telegram`).
/// Its sessions are `ID:…` and its routes live under `/ID/`.
pub fn channel_id(name: &str) -> &str {
    name.strip_prefix("channel-")
        .filter(|rest| !rest.is_empty())
        .unwrap_or(name)
}

/// A parsed, validated manifest.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub name: String,
    pub world: World,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub capabilities: Capabilities,
    #[serde(default)]
    pub limits: Limits,
    /// Values the component reads with `host::config`.
    #[serde(default)]
    pub config: BTreeMap<String, toml::Value>,
}

impl Manifest {
    /// Parses and validates a manifest; `origin` names the file in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Manifest> {
        let manifest: Manifest =
            toml::from_str(text).with_context(|| format!("invalid manifest {origin}"))?;
        manifest
            .validate()
            .with_context(|| format!("invalid manifest {origin}"))?;
        Ok(manifest)
    }

    fn validate(&self) -> Result<()> {
        validate_name(&self.name)?;
        for host in &self.capabilities.hosts {
            super::net::HostPattern::parse(host)
                .with_context(|| format!("[capabilities].hosts entry {host:?}"))?;
        }
        for secret in &self.capabilities.secrets {
            if secret.is_empty()
                || !secret
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
            {
                bail!(
                    "[capabilities].secrets entry {secret:?}: use letters, digits, '_', '-' or '.'"
                );
            }
        }
        for path in self
            .capabilities
            .paths
            .iter()
            .chain(&self.capabilities.writable_paths)
        {
            if !path.is_absolute()
                && !path.starts_with(super::capabilities::WORKSPACE)
                && path.as_os_str() != super::capabilities::OPERATOR_CHOSEN
            {
                bail!(
                    "[capabilities] path {:?} must be absolute (or $WORKSPACE for the operator's workspace, or * for the folders the operator grants)",
                    path.display().to_string()
                );
            }
        }
        if self.capabilities.websockets > MAX_WEBSOCKETS {
            bail!(
                "[capabilities].websockets = {}: at most {MAX_WEBSOCKETS}",
                self.capabilities.websockets
            );
        }
        if self.capabilities.websockets > 0 && self.world != World::Channel {
            bail!(
                "[capabilities].websockets is for channels; this is a {} component",
                self.world
            );
        }
        if self.limits.memory_mb == 0 {
            bail!("[limits].memory_mb must be at least 1");
        }
        if self.limits.timeout_ms == 0 {
            bail!("[limits].timeout_ms must be at least 1");
        }
        Ok(())
    }

    /// `[config]` as strings (tables and arrays as JSON text).
    pub fn config_strings(&self) -> BTreeMap<String, String> {
        self.config
            .iter()
            .map(|(k, v)| (k.clone(), toml_to_string(v)))
            .collect()
    }
}

/// A TOML value as the string a component reads from `host::config`.
pub fn toml_to_string(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Datetime(d) => d.to_string(),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

/// Component names: lower-case letters, digits and dashes, starting with a
/// letter; they name files and config tables.
pub fn validate_name(name: &str) -> Result<()> {
    let ok = name.len() <= 64
        && name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !ok {
        bail!(
            "component name {name:?} must be 1-64 lower-case letters, digits or '-', starting with a letter"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_full_manifest() {
        let m = Manifest::parse(
            r#"
name = "weather"
world = "tool"
version = "1.2.0"
[capabilities]
hosts = ["api.example.com", "127.0.0.1:8080"]
secrets = ["weather_key"]
paths = ["/srv/data"]
[limits]
memory_mb = 16
timeout_ms = 500
[config]
units = "metric"
retries = 3
"#,
            "weather.toml",
        )
        .unwrap();
        assert_eq!(m.world, World::Tool);
        assert_eq!(m.limits.memory_mb, 16);
        assert_eq!(m.capabilities.secrets, vec!["weather_key"]);
        assert_eq!(m.config_strings()["retries"], "3");
    }

    #[test]
    fn defaults_deny_everything() {
        let m = Manifest::parse("name = \"x\"\nworld = \"provider\"", "x.toml").unwrap();
        assert!(m.capabilities.hosts.is_empty());
        assert!(m.capabilities.secrets.is_empty());
        assert!(m.capabilities.paths.is_empty());
        assert_eq!(m.capabilities.websockets, 0);
        assert_eq!(m.limits.memory_mb, DEFAULT_MEMORY_MB);
        assert_eq!(m.limits.timeout_ms, DEFAULT_TIMEOUT_MS);
    }

    #[test]
    fn websockets_are_for_channels_and_bounded() {
        let parse = |world: &str, n: u32| {
            Manifest::parse(
                &format!("name = \"x\"\nworld = \"{world}\"\n[capabilities]\nwebsockets = {n}"),
                "x.toml",
            )
        };
        assert_eq!(parse("channel", 2).unwrap().capabilities.websockets, 2);
        let e = format!("{:#}", parse("tool", 1).unwrap_err());
        assert!(e.contains("websockets is for channels"), "{e}");
        let e = format!("{:#}", parse("channel", 9).unwrap_err());
        assert!(e.contains("at most 8"), "{e}");
    }

    #[test]
    fn star_leaves_the_folders_to_the_operator() {
        let m = Manifest::parse(
            "name = \"x\"\nworld = \"tool\"\n[capabilities]\npaths = [\"*\"]\nwritable_paths = [\"*\"]",
            "x.toml",
        )
        .unwrap();
        assert_eq!(m.capabilities.paths, vec![PathBuf::from("*")]);
        let err = Manifest::parse(
            "name = \"x\"\nworld = \"tool\"\n[capabilities]\npaths = [\"*/sub\"]",
            "x.toml",
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("must be absolute"), "{err:#}");
    }

    #[test]
    fn rejects_bad_manifests_saying_where() {
        let cases = [
            ("name = \"X\"\nworld = \"tool\"", "component name"),
            ("name = \"x\"\nworld = \"gadget\"", "unknown variant"),
            (
                "name = \"x\"\nworld = \"tool\"\nsurprise = 1",
                "unknown field",
            ),
            (
                "name = \"x\"\nworld = \"tool\"\n[capabilities]\npaths = [\"rel/dir\"]",
                "must be absolute",
            ),
            (
                "name = \"x\"\nworld = \"tool\"\n[capabilities]\nhosts = [\"http://a/b\"]",
                "hosts entry",
            ),
            (
                "name = \"x\"\nworld = \"tool\"\n[limits]\nmemory_mb = 0",
                "memory_mb",
            ),
        ];
        for (text, expected) in cases {
            let err = format!("{:#}", Manifest::parse(text, "bad.toml").unwrap_err());
            assert!(err.contains("bad.toml"), "{err}");
            assert!(err.contains(expected), "{expected:?} not in {err}");
        }
    }
}
