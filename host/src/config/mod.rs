//! The operator's configuration (`~/.openpista/config.toml`, or
//! `--config`). Every section has defaults, so a missing file means "run
//! with the defaults"; a malformed one is rejected with the file, the key
//! and the reason. `config.example.toml` documents every key.

use crate::runtime::capabilities::ComponentPolicy;
use crate::runtime::engine::EngineSettings;
use crate::runtime::secrets::SecretStore;
use anyhow::{Context, Result, bail};

pub mod discord;
mod providers;
mod server;
pub mod slack;
pub mod telegram;
pub mod whatsapp;
pub use crate::gateway::cron::CronEntry;
pub use crate::server::ServerSection;
pub use providers::{
    PROTOCOL_COMPONENTS, Preset, ProviderSection, ProviderSetup, dormant_protocols,
};
use serde::Deserialize;
pub use server::{ChannelsSection, WebChannelSection};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub agent: AgentSection,
    /// Language-model providers by name; `[agent].provider` picks one.
    #[serde(default)]
    pub providers: BTreeMap<String, ProviderSection>,
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
    /// The native tools: shell, screen, browser, containers.
    #[serde(default)]
    pub native: crate::native::settings::NativeSection,
    #[serde(default)]
    pub server: ServerSection,
    #[serde(default)]
    pub channels: ChannelsSection,
    /// Scheduled messages.
    #[serde(default)]
    pub cron: Vec<CronEntry>,
    /// SKILL.md skills and their grants.
    #[serde(default)]
    pub skills: crate::skills::SkillsSection,
    /// How sessions are queued.
    #[serde(default)]
    pub gateway: crate::gateway::GatewaySettings,
    /// Which tool calls wait for a person's approval.
    #[serde(default)]
    pub approvals: crate::approvals::ApprovalSettings,
    /// `[auth.PROVIDER]`: sign-in endpoints (defaults: the providers' own).
    #[serde(default)]
    pub auth: crate::auth::AuthSettings,
    /// `[mcp]`: MCP servers to use, and openpista's own MCP server.
    #[serde(default)]
    pub mcp: crate::mcp::McpSection,
    /// `[tui]`: the terminal UI's theme.
    #[serde(default)]
    pub tui: crate::tui::TuiSettings,
    /// `[log]`: level, format, file and its rotation.
    #[serde(default)]
    pub log: crate::telemetry::logs::LogSection,
    /// `[metrics]`: the Prometheus endpoint.
    #[serde(default)]
    pub metrics: crate::telemetry::metrics::MetricsSection,
    /// `[telemetry]`: OpenTelemetry traces.
    #[serde(default)]
    pub telemetry: crate::telemetry::traces::TelemetrySection,
    /// `[cluster]`: share work with other nodes through NATS JetStream.
    /// Absent: one process on its own (the default).
    #[serde(default)]
    pub cluster: Option<crate::cluster::ClusterSettings>,
}

/// `[agent]`: the ReAct loop.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AgentSection {
    /// A `[providers.NAME]` entry, or `echo` for the offline echo provider.
    pub provider: String,
    pub max_tool_rounds: u32,
    /// Longest tool output shown to the model, in characters.
    pub tool_output_limit: usize,
    /// Replaces the built-in system prompt.
    pub system_prompt: Option<String>,
    /// Messages of history sent with each request.
    pub history_limit: usize,
}

impl Default for AgentSection {
    fn default() -> Self {
        let d = crate::agent::AgentSettings::default();
        AgentSection {
            provider: "echo".into(),
            max_tool_rounds: d.max_tool_rounds,
            tool_output_limit: d.tool_output_limit,
            system_prompt: None,
            history_limit: d.history_limit,
        }
    }
}

/// The messenger channels' components: embedded, but loaded only when
/// their `[channels.NAME]` section enables them.
pub const MESSENGER_COMPONENTS: &[&str] = &[
    telegram::COMPONENT,
    whatsapp::COMPONENT,
    discord::COMPONENT,
    slack::COMPONENT,
];

/// `VAR` from the environment, when set and not blank: how the channel
/// sections read their token and list overrides.
fn env_var(var: &str) -> Option<String> {
    std::env::var(var).ok().filter(|v| !v.trim().is_empty())
}

/// `host:port` (or `host`) of a URL, for the grant its provider needs.
fn url_host(url: &str, origin: &str) -> Result<String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .with_context(|| {
            format!("{origin}: base_url {url:?} must start with http:// or https://")
        })?;
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.is_empty() {
        bail!("{origin}: base_url {url:?} has no host");
    }
    Ok(authority.to_string())
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
    /// Public keys (`ed25519:BASE64`) whose signatures on plugin
    /// components are believed (`openpista component sign`).
    pub trusted_keys: Vec<String>,
    /// Refuse plugin components without a trusted signature.
    pub require_signatures: bool,
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
            trusted_keys: Vec::new(),
            require_signatures: false,
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

use crate::paths::{expand, home_dir};

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
        config
            .trust_policy()
            .validate()
            .map_err(|e| anyhow::anyhow!("{origin}: {e}"))?;
        for name in config.components.keys() {
            crate::runtime::manifest::validate_name(name)
                .with_context(|| format!("{origin}: [components.{name}]"))?;
        }
        for name in config.providers.keys() {
            crate::runtime::manifest::validate_name(name)
                .with_context(|| format!("{origin}: [providers.{name}]"))?;
        }
        config.native.validate(origin)?;
        if config.server.enabled {
            config
                .server
                .listen
                .parse::<std::net::SocketAddr>()
                .map_err(|e| {
                    anyhow::anyhow!(
                        "{origin}: server.listen = {:?} is not an address:port ({e})",
                        config.server.listen
                    )
                })?;
        }
        if config.server.tls_cert.is_some() != config.server.tls_key.is_some() {
            bail!("{origin}: server.tls_cert and server.tls_key go together: set both or neither");
        }
        config
            .channels
            .telegram
            .resolve()
            .with_context(|| format!("{origin}: [channels.telegram]"))?;
        config
            .channels
            .whatsapp
            .resolve()
            .with_context(|| format!("{origin}: [channels.whatsapp]"))?;
        config
            .channels
            .discord
            .resolve()
            .with_context(|| format!("{origin}: [channels.discord]"))?;
        config
            .channels
            .slack
            .resolve()
            .with_context(|| format!("{origin}: [channels.slack]"))?;
        if let Some(cluster) = &config.cluster {
            cluster
                .validate()
                .map_err(|e| anyhow::anyhow!("{origin}: {e}"))?;
        }
        config
            .approvals
            .validate()
            .map_err(|e| anyhow::anyhow!("{origin}: {e}"))?;
        for (i, entry) in config.cron.iter().enumerate() {
            crate::gateway::cron::parse(&entry.schedule).with_context(|| {
                format!("{origin}: [[cron]] entry {} ({:?})", i + 1, entry.schedule)
            })?;
            if entry.channel().is_empty() || !entry.session.contains(':') {
                bail!(
                    "{origin}: [[cron]] entry {}: session {:?} must look like CHANNEL:ID (web:abc, telegram:42)",
                    i + 1,
                    entry.session
                );
            }
        }
        if config.agent.max_tool_rounds == 0 {
            bail!("{origin}: agent.max_tool_rounds must be at least 1");
        }
        if config.runtime.max_instances == 0 {
            bail!("{origin}: runtime.max_instances must be at least 1");
        }
        if config.runtime.max_memory_mb == 0 {
            bail!("{origin}: runtime.max_memory_mb must be at least 1");
        }
        Ok(config)
    }

    /// The agent's settings from `[agent]` and the provider setup.
    pub fn agent_settings(&self, provider: &ProviderSetup) -> crate::agent::AgentSettings {
        let mut providers: BTreeMap<String, String> = self
            .providers
            .keys()
            .map(|name| (name.clone(), format!("provider-{name}")))
            .collect();
        providers.insert(provider.name.clone(), provider.component.clone());
        let mut s = crate::agent::AgentSettings {
            provider: provider.component.clone(),
            provider_name: provider.name.clone(),
            providers,
            model: provider.model.clone(),
            max_tool_rounds: self.agent.max_tool_rounds,
            tool_output_limit: self.agent.tool_output_limit,
            history_limit: self.agent.history_limit,
            ..Default::default()
        };
        if let Some(p) = &self.agent.system_prompt {
            s.system_prompt = p.clone();
        }
        s
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

    /// Environment variables that hold secrets by configuration: secret
    /// sources and provider keys. Native processes never see them.
    pub fn secret_env_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .secrets
            .values()
            .filter_map(|s| match s {
                SecretSource::Env { env } => Some(env.clone()),
                SecretSource::Value { .. } => None,
            })
            .collect();
        for p in self.providers.values() {
            names.extend(
                p.api_key_env
                    .clone()
                    .or_else(|| p.preset.default_key_env().map(String::from)),
            );
        }
        names.extend(self.native.system.scrub_env.iter().cloned());
        names.sort();
        names.dedup();
        names
    }

    /// The folder the agent works on: `[native.container] workspace`,
    /// else `$OPENPISTA_WORKSPACE`, else the current folder.
    pub fn workspace_dir(&self) -> PathBuf {
        if let Some(w) = &self.native.container.workspace {
            return expand(w);
        }
        match std::env::var_os("OPENPISTA_WORKSPACE").filter(|w| !w.is_empty()) {
            Some(w) => PathBuf::from(w),
            None => std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
        }
    }

    /// The workspace as `$WORKSPACE` path grants and skill discovery see
    /// it: none when it is the file system's root (a service started in
    /// `/` without a workspace must not hand out the whole disk).
    pub fn workspace_for_grants(&self) -> Option<PathBuf> {
        let w = self.workspace_dir();
        if w.parent().is_none() {
            tracing::warn!(
                "the workspace is {}: set OPENPISTA_WORKSPACE (or [native.container] workspace); \
                 $WORKSPACE grants and workspace skills are off until then",
                w.display()
            );
            return None;
        }
        Some(w)
    }

    /// What the skills module needs to find and admit skills.
    pub fn skills_setup(&self) -> crate::skills::SkillsSetup {
        crate::skills::SkillsSetup {
            section: self.skills.clone(),
            workspace: self.workspace_for_grants(),
            embedded_components: self.runtime.embedded_components,
            plugin_dirs: self.plugin_dirs(),
        }
    }

    /// `[runtime] trusted_keys` and `require_signatures`.
    pub fn trust_policy(&self) -> crate::runtime::signing::TrustPolicy {
        crate::runtime::signing::TrustPolicy {
            trusted_keys: self.runtime.trusted_keys.clone(),
            require_signatures: self.runtime.require_signatures,
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
        assert_eq!(c.providers["main"].preset, Preset::Openai);
        assert_eq!(c.providers["main"].max_tokens, Some(2048));
        assert!(c.agent.system_prompt.is_some());
        let policy = &c.components["tool-basics"];
        assert_eq!(policy.enabled, Some(true));
        assert_eq!(policy.memory_mb, Some(64));
        assert!(c.secrets.contains_key("telegram_bot_token"));
        assert_eq!(c.native.container.images["python"], "python:3.12-slim");
        assert_eq!(c.native.screen.display.as_deref(), Some(":0"));
        assert_eq!(c.cron.len(), 1);
        assert_eq!(c.mcp.servers.len(), 2);
        assert!(c.mcp.servers["everything"].outside_sandbox);
        assert!(c.mcp.serve.token.is_some());
        assert_eq!(c.cron[0].channel(), "web");
        assert_eq!(c.server.tls_key.as_deref(), Some("/etc/openpista/key.pem"));
        // The example's [native] values are the defaults.
        let d = crate::native::settings::NativeSection::default();
        let e = Config::parse(text, "example").unwrap().native;
        assert_eq!(format!("{:?}", e), format!("{d:?}"));
        let example = Config::parse(text, "example").unwrap();
        assert_eq!(
            format!("{:?}", example.server),
            format!("{:?}", ServerSection::default())
        );
    }

    #[test]
    fn native_section_parses_and_is_checked() {
        let c = Config::parse(
            r#"
[native.system]
timeout_secs = 5
allowed_dirs = ["/tmp"]
scrub_env = ["MY_DB_URL"]
[native.browser]
enabled = false
[native.container]
image = "busybox"
images = { py = "python:3-slim" }
memory_mb = 64
fallback = "off"
[secrets]
tg = { env = "TG_TOKEN_VAR" }
"#,
            "c.toml",
        )
        .unwrap();
        assert_eq!(c.native.system.timeout_secs, 5);
        assert!(!c.native.browser.enabled && c.native.screen.enabled);
        assert_eq!(
            c.native.container.fallback,
            crate::native::settings::ContainerFallback::Off
        );
        assert_eq!(c.secret_env_names(), vec!["MY_DB_URL", "TG_TOKEN_VAR"]);
        for (bad, says) in [
            (
                "[native.system]\ntimeout_secs = 0",
                "native.system.timeout_secs",
            ),
            ("[native.system]\ntimeout_secs = 700", "exceeds"),
            ("[native.container]\ncpus = -1.0", "native.container.cpus"),
            ("[native.container]\nmemory_mb = 2", "at least 6"),
            ("[native.container]\nfallback = \"maybe\"", "fallback"),
            ("[native.browser]\nheadles = true", "headles"),
        ] {
            let err = format!("{:#}", Config::parse(bad, "c.toml").unwrap_err());
            assert!(err.contains(says) && err.contains("c.toml"), "{bad}: {err}");
        }
    }

    #[test]
    fn server_channels_and_cron_are_checked() {
        let c = Config::parse(
            "[server]\nlisten = \"0.0.0.0:9000\"\ncors_origins = [\"https://a.example\"]\n[channels.web]\nenabled = false\n[[cron]]\nschedule = \"@daily\"\nsession = \"telegram:42\"\nmessage = \"hi\"\n",
            "c.toml",
        )
        .unwrap();
        assert_eq!(c.server.listen, "0.0.0.0:9000");
        assert!(!c.channels.web.enabled);
        assert_eq!(c.cron[0].channel(), "telegram");
        for (bad, says) in [
            ("[server]\nlisten = \"localhost\"", "server.listen"),
            ("[server]\ntls_cert = \"c.pem\"", "go together"),
            (
                "[[cron]]\nschedule = \"99 * * * *\"\nsession = \"web:a\"\nmessage = \"m\"",
                "[[cron]] entry 1",
            ),
            (
                "[[cron]]\nschedule = \"@daily\"\nsession = \"nochannel\"\nmessage = \"m\"",
                "CHANNEL:ID",
            ),
            ("[channels.telegrm]\n", "telegrm"),
        ] {
            let err = format!("{:#}", Config::parse(bad, "c.toml").unwrap_err());
            assert!(err.contains(says) && err.contains("c.toml"), "{bad}: {err}");
        }
    }
}
