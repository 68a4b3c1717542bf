//! `openpista security audit`: what an attacker would look for in this
//! set-up, each finding with its severity and the change that removes it.
//!
//! It reads the configuration and the files it names and loads the
//! components to see what they are granted, as `serve` would; it contacts
//! nothing and changes nothing. The exit status is 1 when a finding is
//! high, so a deployment script can refuse to start on one.

use crate::config::Config;
use crate::runtime::Runtime;
use anyhow::Result;
use serde::Serialize;
use std::path::Path;
use std::sync::Arc;

/// How much a finding exposes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
}

impl Severity {
    fn label(self) -> &'static str {
        match self {
            Severity::Low => "LOW",
            Severity::Medium => "MEDIUM",
            Severity::High => "HIGH",
        }
    }
}

/// One weakness.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub severity: Severity,
    /// A short, stable name for scripts (`listener-plaintext`).
    pub id: &'static str,
    pub what: String,
    pub fix: String,
}

/// The shortest web token that is not flagged: 128 bits in hex.
pub const MIN_WEB_TOKEN: usize = 32;

/// Runs the audit; prints the findings, most severe first.
pub async fn run(config: &Config, config_file: Option<&Path>, json: bool) -> Result<i32> {
    let mut findings = static_findings(config, config_file);
    // One runtime for both: it holds the memory store open.
    let scratch = tempfile::tempdir()?;
    match super::probe_runtime(config, scratch.path()) {
        Ok(runtime) => {
            findings.extend(component_findings(&runtime).await);
            findings.extend(native_tool_findings(config, &runtime).await);
        }
        Err(e) => eprintln!("components and native tools not audited: {e:#}"),
    }
    findings.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.id.cmp(b.id)));
    let high = findings.iter().any(|f| f.severity == Severity::High);
    if json {
        println!("{}", serde_json::json!({ "findings": findings }));
    } else if findings.is_empty() {
        println!("no findings");
    } else {
        for f in &findings {
            println!(
                "[{}] {}: {}\n    fix: {}",
                f.severity.label(),
                f.id,
                f.what,
                f.fix
            );
        }
        println!("{} finding(s)", findings.len());
    }
    Ok(if high { 1 } else { 0 })
}

/// What the configuration and the files show, without loading anything.
pub fn static_findings(config: &Config, config_file: Option<&Path>) -> Vec<Finding> {
    let mut findings = Vec::new();
    listeners(config, &mut findings);
    open_channels(config, &mut findings);
    readable_secrets(config, config_file, &mut findings);
    web_token(config, &mut findings);
    findings
}

/// Whether `listen` (`HOST:PORT`) is reachable only from this machine.
fn is_loopback(listen: &str) -> bool {
    let host = listen
        .rsplit_once(':')
        .map_or(listen, |(h, _)| h)
        .trim_start_matches('[')
        .trim_end_matches(']');
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn listeners(config: &Config, findings: &mut Vec<Finding>) {
    let server = &config.server;
    if server.enabled && !is_loopback(&server.listen) && server.tls_cert.is_none() {
        findings.push(Finding {
            severity: Severity::High,
            id: "listener-plaintext",
            what: format!(
                "the listener is on {} without TLS: the web token and every conversation cross the network in clear text",
                server.listen
            ),
            fix: "set [server] tls_cert and tls_key, or listen on 127.0.0.1 behind a reverse proxy that terminates TLS".into(),
        });
    }
    if config.metrics.enabled
        && let Some(listen) = &config.metrics.listen
        && !is_loopback(listen)
    {
        findings.push(Finding {
            severity: Severity::Low,
            id: "metrics-exposed",
            what: format!(
                "[metrics] listen = {listen:?} answers anyone who reaches it (tool names, providers, volumes)"
            ),
            fix: "listen on 127.0.0.1, or drop [metrics] listen: /metrics on the main listener asks for the web token off loopback".into(),
        });
    }
}

/// Messengers anyone can talk to: no allowlist and pairing off.
fn open_channels(config: &Config, findings: &mut Vec<Finding>) {
    for m in config.channels.messengers() {
        let name = m.name;
        if m.enabled && m.no_allowlist && !m.pairing {
            findings.push(Finding {
                severity: Severity::High,
                id: "channel-open",
                what: format!(
                    "[channels.{name}] has no allowed_users and pairing is off: anyone who finds the bot drives the agent"
                ),
                fix: format!(
                    "list the people in [channels.{name}] allowed_users, or set pairing = true and approve each with `openpista pairing approve`"
                ),
            });
        }
    }
}

/// Secret files others may read, and folders others may enter.
fn readable_secrets(config: &Config, config_file: Option<&Path>, findings: &mut Vec<Finding>) {
    let private = super::private_paths(config, config_file);
    let mode_of = crate::paths::mode;
    for file in &private.files {
        if let Some(mode) = mode_of(file)
            && mode & 0o044 != 0
        {
            findings.push(Finding {
                severity: Severity::High,
                id: "secret-readable",
                what: format!(
                    "{} is {mode:04o}: other users of this machine can read it",
                    file.display()
                ),
                fix: format!("chmod 600 {}", file.display()),
            });
        }
    }
    for dir in &private.dirs {
        if let Some(mode) = mode_of(dir)
            && mode & 0o055 != 0
        {
            findings.push(Finding {
                severity: Severity::Medium,
                id: "folder-open",
                what: format!(
                    "{} is {mode:04o}: other users can list what it holds",
                    dir.display()
                ),
                fix: format!("chmod 700 {}", dir.display()),
            });
        }
    }
}

/// A web token short enough to guess.
fn web_token(config: &Config, findings: &mut Vec<Finding>) {
    if !config.channels.web.enabled {
        return;
    }
    let (token, source) = match &config.channels.web.token_env {
        Some(var) => (std::env::var(var).ok(), format!("${var}")),
        None => {
            let path = crate::paths::home_dir().join("web-token");
            (
                std::fs::read_to_string(&path)
                    .ok()
                    .map(|t| t.trim().to_string()),
                path.display().to_string(),
            )
        }
    };
    if let Some(token) = token
        && !token.is_empty()
        && token.len() < MIN_WEB_TOKEN
    {
        findings.push(Finding {
            severity: Severity::Medium,
            id: "web-token-short",
            what: format!(
                "the web token ({source}) has {} characters; fewer than {MIN_WEB_TOKEN} can be guessed",
                token.len()
            ),
            fix: format!(
                "use a random one: openssl rand -hex 24 (or delete {} and restart: serve makes one)",
                crate::paths::home_dir().join("web-token").display()
            ),
        });
    }
}

/// Components granted wildcard hosts, or folders to write.
async fn component_findings(runtime: &Arc<Runtime>) -> Vec<Finding> {
    runtime.load_all().await;
    let mut findings = Vec::new();
    for component in runtime.components() {
        let grants = component.grants();
        // A bare `*` is refused when grants are resolved; `*.domain`
        // reaches every name under the domain, whoever controls them.
        let wildcards: Vec<&String> = grants
            .host_patterns
            .iter()
            .filter(|p| p.trim().starts_with("*."))
            .collect();
        if !wildcards.is_empty() {
            let list: Vec<&str> = wildcards.iter().map(|p| p.as_str()).collect();
            findings.push(Finding {
                severity: Severity::Medium,
                id: "component-wildcard-host",
                what: format!(
                    "component {} may reach every host under {}",
                    component.name(),
                    list.join(", ")
                ),
                fix: format!(
                    "name the hosts it needs in [components.{}] hosts",
                    component.name()
                ),
            });
        }
        if !grants.write_paths.is_empty() {
            let paths: Vec<String> = grants
                .write_paths
                .iter()
                .map(|p| p.display().to_string())
                .collect();
            findings.push(Finding {
                severity: Severity::Medium,
                id: "component-writes",
                what: format!(
                    "component {} may write to {}",
                    component.name(),
                    paths.join(", ")
                ),
                fix: format!(
                    "keep [components.{}] writable_paths to what it needs, or remove it",
                    component.name()
                ),
            });
        }
    }
    findings
}

/// Native tools (shell, browser, screen, containers) that run without a
/// person's approval when a messenger asks.
async fn native_tool_findings(config: &Config, runtime: &Arc<Runtime>) -> Vec<Finding> {
    use crate::approvals::policy::{Action, ToolKind, decide};
    let messengers = config.channels.enabled();
    let names = native_tool_names(config, runtime).await;
    let mut findings = Vec::new();
    for tool in &names {
        let auto: Vec<&str> = messengers
            .iter()
            .copied()
            .filter(|channel| {
                decide(
                    &config.approvals.rules,
                    tool,
                    ToolKind::Native,
                    channel,
                    &serde_json::json!({}),
                ) == Action::Auto
            })
            .collect();
        if !auto.is_empty() {
            findings.push(Finding {
                severity: Severity::High,
                id: "native-auto",
                what: format!(
                    "{tool} runs on this machine without asking anyone when {} asks for it",
                    auto.join(", ")
                ),
                fix: format!(
                    "remove the [[approvals.rules]] that makes {tool} auto for those channels, or give it a command pattern"
                ),
            });
        }
    }
    findings
}

/// The native tools `[native.*]` enables.
async fn native_tool_names(config: &Config, runtime: &Arc<Runtime>) -> Vec<String> {
    let mut registry = crate::tools::ToolRegistry::new(runtime.clone());
    let context = super::native_context(config, runtime);
    let natives = crate::native::register(&mut registry, &config.native, &context);
    let names = registry
        .list()
        .into_iter()
        .filter(|e| matches!(e.source, crate::tools::ToolSource::Native))
        .map(|e| e.spec.name)
        .collect();
    natives.shutdown().await;
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_addresses_are_told_apart() {
        for local in [
            "127.0.0.1:8480",
            "localhost:8480",
            "[::1]:8480",
            "127.1.2.3:1",
        ] {
            assert!(is_loopback(local), "{local}");
        }
        for open in [
            "0.0.0.0:8480",
            "[::]:8480",
            "192.168.1.2:80",
            "example.com:80",
        ] {
            assert!(!is_loopback(open), "{open}");
        }
    }

    #[test]
    fn an_open_messenger_and_a_plain_public_listener_are_high() {
        let config = Config::parse(
            r#"
[server]
listen = "0.0.0.0:8480"
[channels.telegram]
enabled = true
token = "123:abc"
pairing = false
[channels.discord]
enabled = true
allowed_users = ["42"]
pairing = false
"#,
            "test",
        )
        .unwrap();
        let found = static_findings(&config, None);
        let ids: Vec<(&str, Severity)> = found.iter().map(|f| (f.id, f.severity)).collect();
        assert!(
            ids.contains(&("listener-plaintext", Severity::High)),
            "{ids:?}"
        );
        let open: Vec<&Finding> = found.iter().filter(|f| f.id == "channel-open").collect();
        assert_eq!(open.len(), 1, "only telegram is open: {found:?}");
        assert!(open[0].what.contains("telegram"), "{open:?}");
    }
}
