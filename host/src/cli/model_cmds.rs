//! `openpista model list | test | use`: the model catalogue of every
//! configured provider, a check of each, and choosing the default.

use super::build_with;
use crate::config::Config;
use crate::models::{self, ListingCache};
use anyhow::{Context, Result, bail};
use clap::Subcommand;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Subcommand, Debug)]
pub enum ModelCommand {
    /// The models of every configured provider: the configured one, the
    /// built-in list, and what the service lists (kept for ten minutes),
    /// with context window, tools, images and where each came from.
    List {
        /// Ask the services again instead of using a recent listing.
        #[arg(long)]
        refresh: bool,
    },
    /// Sends one short request to every configured provider and reports
    /// each answer and its latency.
    Test,
    /// Makes PROVIDER/MODEL (or PROVIDER, with its configured model) the
    /// default: edits the config file, keeping its comments and layout.
    Use {
        /// `PROVIDER/MODEL` or `PROVIDER`.
        choice: String,
    },
}

/// Runs `cmd`; `config_file` is where `config` was read from (`--config`),
/// or `None` for the default place.
pub async fn run(config: Config, config_file: Option<PathBuf>, cmd: ModelCommand) -> Result<i32> {
    match cmd {
        ModelCommand::List { refresh } => list(&config, refresh).await,
        ModelCommand::Test => test(&config).await,
        ModelCommand::Use { choice } => {
            let path = config_file.unwrap_or_else(|| crate::paths::home_dir().join("config.toml"));
            println!("{}", use_model(&path, &config, &choice)?);
            Ok(0)
        }
    }
}

async fn list(config: &Config, refresh: bool) -> Result<i32> {
    let (runtime, _memory, _) = build_with(config, true)?;
    for (name, error) in runtime.load_all().await {
        eprintln!("warning: component {name} failed to load: {error}");
    }
    let cache = ListingCache::new(
        &crate::paths::expand(&config.runtime.cache_dir),
        models::TTL,
    );
    let mut failed = false;
    for setup in config.provider_setups()? {
        let Some(provider) = runtime.get(&setup.component) else {
            println!(
                "{}: not loaded (see `openpista component list`)",
                setup.name
            );
            failed = true;
            continue;
        };
        let local = match provider.models().await {
            Ok(m) => m,
            Err(e) => {
                println!("{}: {e}", setup.name);
                failed = true;
                continue;
            }
        };
        let fingerprint = models::fingerprint(&setup.policy);
        let lister = runtime.get(&super::lister_of(&setup.name));
        let (listed, note) = match (lister, refresh) {
            (None, _) => (None, "its service has no model list".to_string()),
            (Some(lister), refresh) => match cache.get(&setup.name, &fingerprint) {
                Some((models, age)) if !refresh => {
                    (Some(models), format!("listed {} ago", ago(age)))
                }
                _ => match lister.models().await {
                    Ok(models) => {
                        if let Err(e) = cache.put(&setup.name, &fingerprint, &models) {
                            tracing::warn!("could not keep the model list of {}: {e}", setup.name);
                        }
                        (Some(models), "listed by the service just now".to_string())
                    }
                    Err(e) => (
                        None,
                        format!(
                            "the service's list failed ({e}); showing what is known without it"
                        ),
                    ),
                },
            },
        };
        let default = if setup.name == config.agent.provider {
            " (default)"
        } else {
            ""
        };
        println!("{}{default}: {note}", setup.name);
        println!(
            "  {:<40} {:>9}  {:<8} {:<9} source",
            "model", "context", "tools", "images"
        );
        for e in models::merge(&local, listed.as_deref()) {
            let mut source = Vec::new();
            if e.configured {
                source.push("configured");
            } else if e.built_in {
                source.push("built-in");
            }
            if e.listed {
                source.push("listed");
            }
            let family = setup.alias_of.as_deref().unwrap_or(&setup.component);
            println!(
                "  {:<40} {:>9}  {:<8} {:<9} {}",
                format!("{}/{}", setup.name, e.id),
                e.context_window.map_or("?".to_string(), |w| w.to_string()),
                if e.supports_tools {
                    "tools"
                } else {
                    "no-tools"
                },
                match models::takes_images(family, &e.id) {
                    Some(true) => "images",
                    Some(false) => "no-images",
                    None => "images?",
                },
                source.join(", ")
            );
        }
    }
    Ok(if failed { 1 } else { 0 })
}

fn ago(age: Duration) -> String {
    match age.as_secs() {
        s if s < 60 => format!("{s} s"),
        s => format!("{} min", s / 60),
    }
}

async fn test(config: &Config) -> Result<i32> {
    let (runtime, _memory, _) = build_with(config, false)?;
    for (name, error) in runtime.load_all().await {
        eprintln!("warning: component {name} failed to load: {error}");
    }
    let mut failed = 0;
    for setup in config.provider_setups()? {
        let Some(provider) = runtime.get(&setup.component) else {
            println!(
                "❌ {}: not loaded (see `openpista component list`)",
                setup.name
            );
            failed += 1;
            continue;
        };
        let started = std::time::Instant::now();
        let model = setup.model.as_deref().unwrap_or("its default model");
        match provider.chat(&probe_request()).await {
            Ok(r) => println!(
                "✅ {} ({model}) answered in {} ms: {}",
                setup.name,
                started.elapsed().as_millis(),
                r.message.content.trim()
            ),
            Err(e) => {
                println!("❌ {} ({model}): {e}", setup.name);
                failed += 1;
            }
        }
    }
    Ok(if failed > 0 { 1 } else { 0 })
}

/// The smallest request that shows a provider answers: one word, at most
/// 16 tokens (`model test`, `doctor`).
pub(super) fn probe_request() -> crate::runtime::bindings::ChatRequest {
    crate::runtime::bindings::ChatRequest {
        model: None,
        messages: vec![crate::runtime::bindings::Message {
            role: crate::runtime::bindings::Role::User,
            content: "Reply with the single word OK.".into(),
            tool_calls: Vec::new(),
            tool_call_id: None,
            attachments: Vec::new(),
        }],
        tools: Vec::new(),
        temperature: None,
        max_tokens: Some(16),
    }
}

/// Makes `choice` the default in the config file at `path`: sets
/// `[agent] provider` and, given a model, `[providers.NAME] model`,
/// editing the document in place (comments, order and layout stay), and
/// writes it whole before renaming it over the old one. Refuses a
/// provider the config does not name and a result that would not load.
pub fn use_model(path: &Path, config: &Config, choice: &str) -> Result<String> {
    let (provider, model) = match choice.split_once('/') {
        Some((p, m)) => (p.trim(), Some(m.trim()).filter(|m| !m.is_empty())),
        None => (choice.trim(), None),
    };
    if provider != "echo" && !config.providers.contains_key(provider) {
        let known: Vec<&str> = config.providers.keys().map(String::as_str).collect();
        bail!(
            "no provider {provider:?} in {}: configured are {}; add a [providers.{provider}] table first (see config.example.toml)",
            path.display(),
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        );
    }
    if provider == "echo" && model.is_some() {
        bail!("the echo provider has no models to choose from");
    }
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let mut doc: toml_edit::DocumentMut = text
        .parse()
        .with_context(|| format!("{} is not valid TOML", path.display()))?;
    set_keeping_comments(&mut doc["agent"]["provider"], provider);
    if let Some(model) = model {
        set_keeping_comments(&mut doc["providers"][provider]["model"], model);
    }
    let new = doc.to_string();
    Config::parse(&new, &path.display().to_string())
        .context("the edited config would not load; nothing was written")?;
    write_replacing(path, new.as_bytes())?;
    Ok(match model {
        Some(m) => format!("{provider}/{m} is now the default ({})", path.display()),
        None => format!(
            "{provider} is now the default provider ({})",
            path.display()
        ),
    })
}

/// Sets `item` to the string `text`, keeping the comment and spacing
/// around an existing value (`provider = "a"   # why`).
fn set_keeping_comments(item: &mut toml_edit::Item, text: &str) {
    match item.as_value_mut() {
        Some(value) => {
            let decor = value.decor().clone();
            *value = toml_edit::Value::from(text);
            *value.decor_mut() = decor;
        }
        None => *item = toml_edit::value(text),
    }
}

/// Writes `bytes` next to `path` with its mode (0600 for a new file: it
/// may name secrets), then renames it into place.
fn write_replacing(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mode = std::fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o777)
        .unwrap_or(0o600);
    let tmp = dir.join(format!(
        ".{}.openpista-tmp",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("config.toml")
    ));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot replace {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORIGINAL: &str = "\
# My openpista setup.
[agent]
provider = \"gpt\"   # the everyday one
max_tool_rounds = 4

# Work account.
[providers.gpt]
preset = \"openai\"
model = \"gpt-4o-mini\"

[providers.claude]
preset = \"anthropic\"   # Claude Pro
";

    #[test]
    fn use_edits_in_place_keeping_comments() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, ORIGINAL).unwrap();
        let config = Config::parse(ORIGINAL, "c").unwrap();
        let said = use_model(&path, &config, "claude/claude-opus-4-1").unwrap();
        assert!(said.contains("claude/claude-opus-4-1"), "{said}");
        let new = std::fs::read_to_string(&path).unwrap();
        for kept in [
            "# My openpista setup.",
            "# Work account.",
            "# Claude Pro",
            "max_tool_rounds = 4",
        ] {
            assert!(new.contains(kept), "{kept} lost:\n{new}");
        }
        let reread = Config::parse(&new, "c").unwrap();
        assert_eq!(reread.agent.provider, "claude");
        assert_eq!(
            reread.providers["claude"].model.as_deref(),
            Some("claude-opus-4-1")
        );
        assert_eq!(
            reread.providers["gpt"].model.as_deref(),
            Some("gpt-4o-mini")
        );
        // Only the two values changed: the rest is byte for byte the same.
        assert_eq!(
            new.replace("provider = \"claude\"", "provider = \"gpt\"")
                .replace(
                    "# Claude Pro\nmodel = \"claude-opus-4-1\"\n",
                    "# Claude Pro\n"
                ),
            ORIGINAL,
            "{new}"
        );
    }

    #[test]
    fn the_file_keeps_its_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, ORIGINAL).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        use_model(&path, &Config::parse(ORIGINAL, "c").unwrap(), "gpt").unwrap();
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o640
        );
    }

    #[test]
    fn an_unknown_provider_or_a_broken_file_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, ORIGINAL).unwrap();
        let config = Config::parse(ORIGINAL, "c").unwrap();
        let err = use_model(&path, &config, "mistral/large")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("\"mistral\"") && err.contains("claude, gpt"),
            "{err}"
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), ORIGINAL);
        std::fs::write(&path, "[agent\nprovider=").unwrap();
        let err = format!("{:#}", use_model(&path, &config, "gpt").unwrap_err());
        assert!(err.contains("not valid TOML"), "{err}");
    }

    #[test]
    fn a_new_file_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/config.toml");
        use_model(&path, &Config::default(), "echo").unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let config = Config::parse(&std::fs::read_to_string(&path).unwrap(), "c").unwrap();
        assert_eq!(config.agent.provider, "echo");
    }
}
