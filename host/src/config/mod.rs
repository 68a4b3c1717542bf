//! The operator's configuration (`~/.openpista/config.toml`, or
//! `--config`). Every section has defaults, so a missing file means "run
//! with the defaults"; a malformed one is rejected with the file, the key
//! and the reason. `config.example.toml` documents every key.

use crate::runtime::capabilities::ComponentPolicy;
use crate::runtime::engine::EngineSettings;
use crate::runtime::secrets::SecretStore;
use anyhow::{Context, Result, bail};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub runtime: RuntimeSection,
    /// Per-component grants and overrides, by component name.
    #[serde(default)]
    pub components: BTreeMap<String, ComponentPolicy>,
    /// Secret values by name (`{ env = "VAR" }` or `{ value = "..." }`).
    #[serde(default)]
    pub secrets: BTreeMap<String, SecretSource>,
    #[serde(default)]
    pub memory: MemorySection,
}

/// `[runtime]`: the component host.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RuntimeSection {
    /// Plugin folders, watched for hot swap; later ones override earlier.
    pub plugin_dirs: Vec<String>,
    /// Compiled-component cache folder.
    pub cache_dir: String,
    /// Load the components built into the binary.
    pub embedded_components: bool,
    /// Largest memory any component may be granted, MiB.
    pub max_memory_mb: u64,
    /// Concurrent component instances; further calls wait.
    pub max_instances: u32,
    /// Meter fuel so `[limits].fuel` applies (costs some speed).
    pub fuel: bool,
    /// Use the pooling allocator when the machine allows it.
    pub pooling: bool,
}

impl Default for RuntimeSection {
    fn default() -> Self {
        let engine = EngineSettings::default();
        RuntimeSection {
            plugin_dirs: vec!["~/.openpista/components".into()],
            cache_dir: "~/.openpista/cache".into(),
            embedded_components: true,
            max_memory_mb: engine.max_memory_mb,
            max_instances: engine.max_instances,
            fuel: engine.fuel,
            pooling: engine.pooling,
        }
    }
}

/// `[memory]`: the redb database.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MemorySection {
    pub path: String,
}

impl Default for MemorySection {
    fn default() -> Self {
        MemorySection {
            path: "~/.openpista/memory.redb".into(),
        }
    }
}

/// Where a secret's value comes from.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, untagged)]
pub enum SecretSource {
    Env { env: String },
    Value { value: String },
}

/// The openpista home folder: `$OPENPISTA_HOME`, else `~/.openpista`.
pub fn home_dir() -> PathBuf {
    if let Some(h) = std::env::var_os("OPENPISTA_HOME").filter(|h| !h.is_empty()) {
        return PathBuf::from(h);
    }
    user_home().join(".openpista")
}

fn user_home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/"))
}

/// Expands `~/.openpista` to [`home_dir`] and any other leading `~` to $HOME.
pub fn expand(path: &str) -> PathBuf {
    if let Some(rest) = path.strip_prefix("~/.openpista") {
        return home_dir().join(rest.trim_start_matches('/'));
    }
    if path == "~" {
        return user_home();
    }
    match path.strip_prefix("~/") {
        Some(rest) => user_home().join(rest),
        None => PathBuf::from(path),
    }
}

impl Config {
    /// Loads `path`, or the default file when `None` (missing default file
    /// = defaults; a missing explicit file is an error).
    pub fn load(path: Option<&Path>) -> Result<Config> {
        let (path, explicit) = match path {
            Some(p) => (p.to_path_buf(), true),
            None => (home_dir().join("config.toml"), false),
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => {
                return Ok(Config::default());
            }
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        Config::parse(&text, &path.display().to_string())
    }

    /// Parses configuration text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Config> {
        let config: Config = toml::from_str(text)
            .map_err(|e| anyhow::anyhow!("{origin}: {}", e.to_string().trim_end()))?;
        for name in config.components.keys() {
            crate::runtime::manifest::validate_name(name)
                .with_context(|| format!("{origin}: [components.{name}]"))?;
        }
        if config.runtime.max_instances == 0 {
            bail!("{origin}: runtime.max_instances must be at least 1");
        }
        if config.runtime.max_memory_mb == 0 {
            bail!("{origin}: runtime.max_memory_mb must be at least 1");
        }
        Ok(config)
    }

    /// Secret values from `[secrets]`, with the environment as fallback.
    pub fn secret_store(&self) -> Result<SecretStore> {
        let mut values = BTreeMap::new();
        for (name, source) in &self.secrets {
            let value = match source {
                SecretSource::Value { value } => value.clone(),
                SecretSource::Env { env } => match std::env::var(env) {
                    Ok(v) => v,
                    Err(_) => {
                        tracing::warn!("secret {name:?}: environment variable {env} is not set");
                        continue;
                    }
                },
            };
            values.insert(name.clone(), value);
        }
        Ok(SecretStore::new(values).with_env_fallback())
    }

    pub fn engine_settings(&self) -> EngineSettings {
        EngineSettings {
            max_memory_mb: self.runtime.max_memory_mb,
            max_instances: self.runtime.max_instances,
            fuel: self.runtime.fuel,
            pooling: self.runtime.pooling,
        }
    }

    pub fn plugin_dirs(&self) -> Vec<PathBuf> {
        self.runtime.plugin_dirs.iter().map(|d| expand(d)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_gives_defaults() {
        let c = Config::parse("", "c.toml").unwrap();
        assert!(c.runtime.embedded_components);
        assert_eq!(c.runtime.plugin_dirs, vec!["~/.openpista/components"]);
    }

    #[test]
    fn bad_config_names_file_key_and_reason() {
        let err = Config::parse("[runtime]\nmax_instances = \"many\"\n", "/etc/op.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("/etc/op.toml"), "{err}");
        assert!(err.contains("max_instances"), "{err}");
        assert!(err.contains("line 2"), "{err}");
        let err = Config::parse("[runtme]\n", "c.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("runtme"), "{err}");
        let err = Config::parse("[components.Bad_Name]\n", "c.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("[components.Bad_Name]"), "{err}");
    }

    #[test]
    fn component_policy_and_secrets_parse() {
        let c = Config::parse(
            r#"
[components.weather]
hosts = ["api.weather.example"]
memory_mb = 32
[components.weather.config]
units = "metric"
[secrets]
weather_key = { value = "abc123" }
"#,
            "c.toml",
        )
        .unwrap();
        assert_eq!(c.components["weather"].memory_mb, Some(32));
        let store = c.secret_store().unwrap();
        assert!(store.contains("weather_key"));
        assert_eq!(store.redact("key=abc123"), "key=[redacted:weather_key]");
    }

    #[test]
    fn example_config_parses_with_and_without_its_comments() {
        let text = include_str!("../../../config.example.toml");
        let c = Config::parse(text, "config.example.toml").unwrap();
        assert_eq!(c.runtime.max_instances, 128);
        // Uncomment every `# key = value` and `# [table]` line: the
        // documented keys must all be real keys.
        let uncommented: String = text
            .lines()
            .map(|l| match l.strip_prefix("# ") {
                Some(rest)
                    if rest.starts_with('[')
                        || rest
                            .split_once(" = ")
                            .is_some_and(|(k, _)| !k.contains(' ') && !k.is_empty()) =>
                {
                    rest.split(" # ").next().unwrap().to_string()
                }
                _ => l.to_string(),
            })
            .collect::<Vec<_>>()
            .join("\n");
        let c = Config::parse(&uncommented, "uncommented example").unwrap();
        let policy = &c.components["tool-basics"];
        assert_eq!(policy.enabled, Some(true));
        assert_eq!(policy.memory_mb, Some(64));
        assert!(c.secrets.contains_key("telegram_bot_token"));
    }

    #[test]
    fn tilde_paths_expand() {
        assert!(!expand("~/x").starts_with("~"));
        assert_eq!(expand("/abs/p"), PathBuf::from("/abs/p"));
    }
}
