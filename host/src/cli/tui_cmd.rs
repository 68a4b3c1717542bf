//! `openpista`, `openpista tui`: the wiring of the terminal UI. It picks
//! the back end (attached when a server answers on the control socket,
//! else the agent in-process) and answers the TUI's questions about
//! components, channels, models and sign-ins ([`Services`]).

use super::control::{self, Request};
use crate::config::Config;
use crate::models::{self, ListingCache};
use crate::runtime::Runtime;
use crate::tui::action::{HomeInfo, LoginRow, ModelRow, Query};
use crate::tui::backend::{BoxFuture, attached, local};
use crate::tui::{Services, Setup};
use anyhow::{Context, Result};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::Arc;

/// Opens the TUI on `session` (`None`: Home, with `tui:default`).
pub async fn run(
    config: Config,
    config_file: Option<PathBuf>,
    resume: Option<String>,
    standalone: bool,
) -> Result<i32> {
    let theme = crate::tui::theme::Theme::resolve(config.tui.theme, |k| std::env::var(k).ok());
    let mut login = vec![
        std::env::current_exe()
            .context("cannot find this program to run the sign-in")?
            .display()
            .to_string(),
    ];
    if let Some(file) = &config_file {
        login.extend(["--config".to_string(), file.display().to_string()]);
    }
    login.extend(["auth".to_string(), "login".into(), "--provider".into()]);
    let serving = !standalone
        && control::request(&super::control_socket_path(), &Request::List)
            .await
            .ok()
            .flatten()
            .is_some();
    if serving {
        let client = match resume.as_deref().and_then(|s| s.strip_prefix("web:")) {
            Some(client) => client.to_string(),
            None => terminal_client_id()?,
        };
        let token = web_token(&config)?;
        let services: Arc<dyn Services> = Arc::new(CliServices {
            config: config.clone(),
            runtime: None,
            providers: Vec::new(),
        });
        let target = attached::Target {
            address: config.server.listen.clone(),
            token,
            client: client.clone(),
        };
        let session = format!("web:{client}");
        let setup = Setup {
            resume: resume.map(|_| session.clone()),
            session,
            theme,
            login,
        };
        crate::tui::run(setup, move |tx| {
            Box::new(attached::Attached::new(target, services, tx))
        })
        .await?;
        return Ok(0);
    }
    let (agent, natives) = super::agent_cmds::agent(&config).await?;
    let runtime = agent.runtime.clone();
    let services: Arc<dyn Services> = Arc::new(CliServices {
        providers: config
            .provider_setups()?
            .into_iter()
            .map(|s| (s.name, s.component))
            .collect(),
        config: config.clone(),
        runtime: Some(runtime),
    });
    let files = crate::paths::home_dir().join("files");
    let agent = Arc::new(agent);
    let setup = Setup {
        session: resume.clone().unwrap_or_else(|| "tui:default".into()),
        resume,
        theme,
        login,
    };
    let reports = natives
        .natives
        .containers
        .as_ref()
        .and_then(|c| c.reports().cloned());
    let result = crate::tui::run(setup, move |tx| {
        if let Some(reports) = &reports {
            crate::tui::backend::workers::follow_local(reports.subscribe(), tx.clone());
        }
        Box::new(local::Local::new(agent, services, tx, files))
    })
    .await;
    natives.shutdown().await;
    result?;
    Ok(0)
}

/// The web channel's token as the server uses it.
fn web_token(config: &Config) -> Result<String> {
    if let Some(var) = &config.channels.web.token_env {
        return std::env::var(var).with_context(|| format!("{var} is not set"));
    }
    let path = crate::paths::home_dir().join("web-token");
    Ok(std::fs::read_to_string(&path)
        .with_context(|| format!("the server's web token {} cannot be read", path.display()))?
        .trim()
        .to_string())
}

/// The terminal's own web client id, made once and kept
/// (`~/.openpista/tui-client`), so the TUI comes back to its session.
fn terminal_client_id() -> Result<String> {
    let path = crate::paths::home_dir().join("tui-client");
    if let Ok(id) = std::fs::read_to_string(&path)
        && !id.trim().is_empty()
    {
        return Ok(id.trim().to_string());
    }
    let id = {
        use rand::Rng;
        let bytes: [u8; 6] = rand::rng().random();
        format!("tui-{}", hex::encode(bytes))
    };
    crate::paths::private_dir(&crate::paths::home_dir())?;
    crate::paths::write_private(&path, id.as_bytes())?;
    Ok(id)
}

struct CliServices {
    config: Config,
    /// The in-process runtime; `None` when attached (the server's is asked).
    runtime: Option<Arc<Runtime>>,
    /// `(provider name, component)` of every configured provider.
    providers: Vec<(String, String)>,
}

impl CliServices {
    async fn components(&self) -> Vec<(String, String)> {
        let rows: Vec<(String, String, Vec<String>)> = match &self.runtime {
            Some(runtime) => runtime
                .status()
                .into_iter()
                .map(|s| {
                    let row = control::StatusRow::from(s);
                    (row.name, row.state, row.tools)
                })
                .collect(),
            None => match control::request(&super::control_socket_path(), &Request::List).await {
                Ok(Some(r)) => r
                    .components
                    .into_iter()
                    .map(|c| (c.name, c.state, c.tools))
                    .collect(),
                _ => Vec::new(),
            },
        };
        rows.into_iter()
            .map(|(name, state, tools)| {
                let tools = if tools.is_empty() {
                    String::new()
                } else {
                    format!(" · {} tools", tools.len())
                };
                (name, format!("{state}{tools}"))
            })
            .collect()
    }

    async fn channel_report(&self, channel: &str) -> Result<Value> {
        super::channel_cmds::ask_channel(
            &self.config,
            channel,
            super::channel_cmds::ChannelAction::Report,
        )
        .await
    }

    fn report_lines(report: &Value) -> Vec<String> {
        let mut lines = vec![format!(
            "state: {}",
            report["state"].as_str().unwrap_or("unknown")
        )];
        if let Some(account) = report["account"].as_str() {
            lines.push(format!("account: {account}"));
        }
        for pair in report["details"].as_array().into_iter().flatten() {
            if let (Some(k), Some(v)) = (pair[0].as_str(), pair[1].as_str()) {
                lines.push(format!("{k}: {v}"));
            }
        }
        lines
    }
}

impl Services for CliServices {
    fn home(&self) -> BoxFuture<'_, HomeInfo> {
        Box::pin(async move {
            let c = &self.config;
            let provider = c.agent.provider.clone();
            let setup = c.provider_setup().ok();
            let stored = c.auth.store().load().unwrap_or_default();
            let now = crate::auth::now_unix();
            let (sign_in, sign_in_ok) = match (stored.get(&provider), &setup) {
                (Some(cred), _) => (super::auth_cmds::describe(cred, now), true),
                (None, Some(s)) if s.key_present => (
                    match &s.key_env {
                        Some(var) => format!("API key from {var}"),
                        None => "no sign-in needed".into(),
                    },
                    true,
                ),
                (None, Some(s)) if s.key_env.is_none() => ("no sign-in needed".into(), true),
                _ => ("not signed in: /login".into(), false),
            };
            let attached = self.runtime.is_none();
            let web = if attached {
                format!("http://{} (serving)", c.server.listen)
            } else {
                "not running: `openpista serve`".to_string()
            };
            let mut channels = vec![("web".to_string(), web)];
            for (name, enabled) in [
                ("telegram", c.channels.telegram.enabled),
                ("whatsapp", c.channels.whatsapp.enabled),
            ] {
                let state = if !enabled {
                    "not enabled".to_string()
                } else if attached {
                    match self.channel_report(name).await {
                        Ok(r) => r["state"].as_str().unwrap_or("unknown").to_string(),
                        Err(e) => format!("not answering: {e}"),
                    }
                } else {
                    "enabled; runs with `openpista serve`".to_string()
                };
                channels.push((name.to_string(), state));
            }
            HomeInfo {
                model: setup.and_then(|s| s.model).unwrap_or_default(),
                provider,
                sign_in,
                sign_in_ok,
                channels,
                components: self.components().await,
                mode: if attached {
                    format!("attached to {}", c.server.listen)
                } else {
                    "standalone".into()
                },
            }
        })
    }

    fn models(&self, current: Option<String>) -> BoxFuture<'_, Vec<ModelRow>> {
        Box::pin(async move {
            let Some(runtime) = &self.runtime else {
                return Vec::new();
            };
            let cache = ListingCache::new(
                &crate::paths::expand(&self.config.runtime.cache_dir),
                models::TTL,
            );
            let setups = self.config.provider_setups().unwrap_or_default();
            let mut rows = Vec::new();
            for (name, component) in &self.providers {
                let Some(provider) = runtime.get(component) else {
                    continue;
                };
                let local = provider.models().await.unwrap_or_default();
                // The service's list as `model list` last fetched it.
                let listed = setups
                    .iter()
                    .find(|s| &s.name == name)
                    .and_then(|s| cache.get(name, &models::fingerprint(&s.policy)))
                    .map(|(m, _)| m);
                for entry in models::merge(&local, listed.as_deref()) {
                    let id = format!("{name}/{}", entry.id);
                    let mut note = Vec::new();
                    if entry.configured {
                        note.push("configured".to_string());
                    }
                    if let Some(w) = entry.context_window {
                        note.push(format!("{}k window", w / 1000));
                    }
                    if !entry.supports_tools {
                        note.push("no tools".into());
                    }
                    rows.push(ModelRow {
                        current: current.as_deref() == Some(id.as_str())
                            || (current.is_none()
                                && entry.configured
                                && *name == self.config.agent.provider),
                        id,
                        note: note.join(" · "),
                    });
                }
            }
            rows
        })
    }

    fn logins(&self) -> BoxFuture<'_, Vec<LoginRow>> {
        Box::pin(async move {
            let stored = self.config.auth.store().load().unwrap_or_default();
            let now = crate::auth::now_unix();
            crate::auth::settings::PROVIDERS
                .iter()
                .map(|p| {
                    let (state, ok) = match stored.get(p.name) {
                        Some(c) => (super::auth_cmds::describe(c, now), true),
                        None => ("not signed in".to_string(), false),
                    };
                    LoginRow {
                        provider: p.name.to_string(),
                        state,
                        ok,
                        methods: p.label.to_string(),
                    }
                })
                .collect()
        })
    }

    fn panel(&self, query: Query) -> BoxFuture<'_, Result<(String, Vec<String>), String>> {
        Box::pin(async move {
            match query {
                Query::Components => {
                    let rows = self.components().await;
                    let width = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
                    Ok((
                        "Components".into(),
                        rows.into_iter()
                            .map(|(n, s)| format!("{n:<width$}  {s}"))
                            .collect(),
                    ))
                }
                Query::Skills => {
                    let skills =
                        match control::request(&super::control_socket_path(), &Request::Skills)
                            .await
                        {
                            Ok(Some(r)) => r.data.unwrap_or_default(),
                            _ => Value::Null,
                        };
                    let mut lines: Vec<String> = skills
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|s| {
                            format!(
                                "{}  {}",
                                s["name"].as_str().unwrap_or("?"),
                                s["description"].as_str().unwrap_or("")
                            )
                        })
                        .collect();
                    if lines.is_empty() {
                        lines.push(
                            "no skills reported (`openpista skill list` checks them here)".into(),
                        );
                    }
                    Ok(("Skills".into(), lines))
                }
                Query::TelegramStatus | Query::WhatsAppStatus => {
                    let channel = if query == Query::TelegramStatus {
                        "telegram"
                    } else {
                        "whatsapp"
                    };
                    let report = self
                        .channel_report(channel)
                        .await
                        .map_err(|e| format!("{channel}: {e:#}"))?;
                    Ok((format!("{channel} status"), Self::report_lines(&report)))
                }
                Query::WhatsAppPair => {
                    let report = self
                        .channel_report("whatsapp")
                        .await
                        .map_err(|e| format!("whatsapp: {e:#}"))?;
                    if report["state"] == "connected" {
                        return Ok((
                            "WhatsApp".into(),
                            vec![format!(
                                "linked as {}",
                                report["account"].as_str().unwrap_or("?")
                            )],
                        ));
                    }
                    let Some(qr) = report["link"]["qr"].as_str() else {
                        return Err(
                            "no pairing code yet: the bridge has not offered one (is `openpista serve` running with WhatsApp enabled?)".into(),
                        );
                    };
                    let drawn = super::whatsapp_cmds::render_qr(qr).map_err(|e| e.to_string())?;
                    let mut lines: Vec<String> = drawn.lines().map(str::to_string).collect();
                    lines.push("scan with WhatsApp → Linked devices".into());
                    Ok(("WhatsApp pairing".into(), lines))
                }
                Query::Workers => {
                    let tasks = match &self.runtime {
                        Some(runtime) => runtime.memory().map(|store| {
                            crate::native::container::reports::history(store, None)
                                .map_err(|e| format!("{e:#}"))
                        }),
                        None => match control::request(
                            &super::control_socket_path(),
                            &Request::Workers { task: None },
                        )
                        .await
                        {
                            Ok(Some(r)) if r.ok => Some(Ok(r.data.unwrap_or_default())),
                            Ok(Some(r)) => Some(Err(r.error.unwrap_or_default())),
                            _ => None,
                        },
                    };
                    let tasks: Vec<crate::memory::workers::WorkerTask> = match tasks {
                        Some(found) => serde_json::from_value(found?).map_err(|e| e.to_string())?,
                        None => Vec::new(),
                    };
                    let mut lines: Vec<String> = tasks
                        .iter()
                        .take(50)
                        .map(crate::memory::workers::WorkerTask::line)
                        .collect();
                    if lines.is_empty() {
                        lines.push("no worker tasks yet (container.run starts them)".into());
                    }
                    Ok((crate::tui::action::WORKERS_TITLE.into(), lines))
                }
                Query::Home => Err("not a panel".into()),
            }
        })
    }
}
