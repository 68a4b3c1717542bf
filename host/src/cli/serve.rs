//! `openpista serve`: load every component, start the channels, the HTTP
//! listener and the cron entries, watch the plugin folders for hot swap,
//! answer the control socket, and run until SIGINT or SIGTERM.

use super::serve_channels::start_channels;
use super::{build, control, control_socket_path};
use crate::agent::Agent;
use crate::config::Config;
use crate::gateway::channels::ChannelDriver;
use crate::gateway::{Gateway, identity};
use crate::runtime::Runtime;
use crate::server::ServerState;
use anyhow::{Context, Result};
use std::sync::Arc;
use std::time::Instant;

/// The name under which the web channel's token is a secret.
pub const WEB_TOKEN_SECRET: &str = "web_token";

/// The web channel's token: from `[channels.web] token_env`, else the
/// stored one, else a new one (stored, 0600). True when it was just made.
fn web_token(config: &Config) -> Result<(String, bool)> {
    if let Some(var) = &config.channels.web.token_env {
        let value = std::env::var(var)
            .with_context(|| format!("[channels.web] token_env = {var:?}, but {var} is not set"))?;
        return Ok((value, false));
    }
    let path = crate::paths::home_dir().join("web-token");
    if let Ok(existing) = std::fs::read_to_string(&path)
        && !existing.trim().is_empty()
    {
        return Ok((existing.trim().to_string(), false));
    }
    let token: String = {
        use rand::Rng;
        let bytes: [u8; 24] = rand::rng().random();
        hex::encode(bytes)
    };
    crate::paths::private_dir(&crate::paths::home_dir())?;
    crate::paths::write_private(&path, token.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok((token, true))
}

/// A running host: components loaded, channels started, the listener and
/// the cron entries running. `openpista serve` is this plus the watcher,
/// the control socket and signals; tests start it in-process.
pub struct Running {
    pub runtime: Arc<Runtime>,
    pub gateway: Arc<Gateway>,
    pub server: Option<crate::server::Server>,
    /// `[metrics] listen`: the scrape listener of its own.
    pub metrics_listener: Option<crate::server::Server>,
    /// The webhook listener (`[channels.telegram] webhook_port`), when a
    /// channel runs in webhook mode.
    pub webhook_server: Option<crate::server::Server>,
    /// The web channel's token and whether it was made just now.
    pub web_token: Option<(String, bool)>,
    pub provider: crate::config::ProviderSetup,
    pub failures: Vec<(String, String)>,
    /// What the channels said at start (one line each).
    pub channel_notes: Vec<String>,
    drivers: Vec<Arc<ChannelDriver>>,
    /// Bridge processes the channels talk to (WhatsApp).
    pub bridges: Vec<crate::gateway::bridge::Bridge>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    natives: super::Toolbox,
    /// Worker reports, when container tasks are on.
    pub reports: Option<Arc<crate::native::container::reports::Reports>>,
    /// This node in the cluster, with `[cluster]`.
    pub cluster: Option<super::cluster_cmds::Joined>,
}

impl Running {
    /// The driver of channel component `component`, if it serves.
    pub fn channel_driver(&self, component: &str) -> Option<Arc<ChannelDriver>> {
        self.drivers
            .iter()
            .find(|d| d.component() == component)
            .cloned()
    }

    /// Starts reloading the skills when their files change.
    pub fn watch_skills(&self) -> Result<Option<crate::skills::watch::SkillWatch>> {
        self.natives
            .skills
            .clone()
            .map(crate::skills::watch::watch)
            .transpose()
    }

    /// The listener's address, when it runs.
    pub fn local_addr(&self) -> Option<std::net::SocketAddr> {
        self.server.as_ref().map(|s| s.local_addr)
    }

    /// Stops everything started here: listener first (no new events),
    /// then channels (`shutdown`), cron, and the native tools.
    pub async fn stop(mut self) {
        drop(self.server.take());
        drop(self.webhook_server.take());
        drop(self.metrics_listener.take());
        // A worker finishes its events while its gateway still takes them.
        if let Some(cluster) = &mut self.cluster {
            cluster.quiesce().await;
        }
        self.gateway.close();
        for task in &self.tasks {
            task.abort();
        }

        for bridge in self.bridges.drain(..) {
            bridge.stop().await;
        }
        for driver in &self.drivers {
            driver.shutdown().await;
        }
        // Pollers, cron and the channels' own connections have stopped:
        // their leases can go to the next node now, not before.
        if let Some(cluster) = self.cluster.take() {
            cluster.leave().await;
        }
        if let Some(reports) = &self.reports {
            reports.stop();
        }
        self.natives.shutdown().await;
    }
}

/// The gauges `/metrics` reads from the running host at each scrape. They
/// hold the host weakly: a stopped host reads as nothing.
fn scrape_gauges(gateway: &Arc<Gateway>, runtime: &Arc<Runtime>) {
    use crate::telemetry::metrics::{ACTIVE_SESSIONS, CONNECTIONS, on_scrape, set_gauge};
    let gateway = Arc::downgrade(gateway);
    on_scrape("sessions", move || {
        let active = gateway.upgrade().map_or(0, |g| g.active_sessions());
        set_gauge(ACTIVE_SESSIONS, active as f64);
    });
    let hub = Arc::downgrade(runtime.connections());
    on_scrape("connections", move || {
        set_gauge(CONNECTIONS, hub.upgrade().map_or(0, |h| h.len()) as f64);
    });
}

/// The shortest bearer token `/mcp` accepts.
const MIN_MCP_TOKEN: usize = 24;

/// `/mcp` on the listener, when `[mcp.serve] token` is set.
async fn mcp_endpoint(
    config: &Config,
    runtime: &Arc<Runtime>,
    tools: &Arc<crate::tools::ToolRegistry>,
) -> Result<Option<Arc<crate::mcp::server::HttpEndpoint>>> {
    let Some(token) = &config.mcp.serve.token else {
        return Ok(None);
    };
    let token = crate::mcp::client::transport::substitute(runtime.secrets(), token)
        .await
        .map_err(|e| anyhow::anyhow!("[mcp.serve] token: {e}"))?;
    if token.len() < MIN_MCP_TOKEN {
        anyhow::bail!(
            "[mcp.serve] token: at least {MIN_MCP_TOKEN} characters (a random one: openssl rand -hex 24)"
        );
    }
    let server =
        crate::mcp::server::ToolServer::new(tools.clone(), &config.mcp.serve.native_tools, "http");
    Ok(Some(Arc::new(crate::mcp::server::HttpEndpoint::new(
        server, token,
    ))))
}

/// Loads and starts everything `config` describes.
pub async fn start(config: &Config) -> Result<Running> {
    if config.metrics.enabled {
        // Before the components load: the compile cache's hits count.
        crate::telemetry::metrics::install()?;
    }
    let (runtime, memory, provider) = build(config)?;
    let mut cluster = match &config.cluster {
        Some(settings) => {
            let joined =
                super::cluster_cmds::Joined::join(settings, runtime.secrets(), &memory).await?;
            // Tools' and providers' stored values are the cluster's;
            // channels keep their per-node state in the file.
            let components = Arc::downgrade(&runtime);
            memory.share_components(Arc::new(move |name: &str| {
                components
                    .upgrade()
                    .and_then(|r| r.get(name))
                    .is_some_and(|c| c.world() != crate::runtime::manifest::World::Channel)
            }));
            Some(joined)
        }
        None => None,
    };
    let web_token = if config.channels.web.enabled {
        let (token, new) = web_token(config)?;
        runtime.secrets().insert(WEB_TOKEN_SECRET, token.clone());
        Some((token, new))
    } else {
        None
    };
    let failures = runtime.load_all().await;
    let (tools, natives) = super::tools(config, &runtime);
    let reports = match &natives.natives.containers {
        Some(containers) => super::worker_cmds::start_reports(config, &memory, containers).await,
        None => None,
    };
    let mut settings = config.agent_settings(&provider);
    if let Some(skills) = &natives.skills {
        settings.skill_context = skills.context();
    }
    settings.approvals = super::approvals(config, &runtime);
    let mcp_endpoint = mcp_endpoint(config, &runtime, &tools).await?;
    let agent = Arc::new(Agent {
        tools,
        runtime: runtime.clone(),
        memory,
        settings,
    });
    let gateway = Gateway::with_settings(agent, &config.gateway);
    if let Some(mcp) = &natives.mcp {
        gateway.set_mcp(mcp.clone());
    }
    let server_state = ServerState::new(
        gateway.clone(),
        runtime.connections().clone(),
        &config.server,
    );
    if let Some(endpoint) = mcp_endpoint {
        server_state.set_mcp(endpoint);
    }
    if let Some(reports) = &reports {
        server_state.set_workers(
            reports.clone(),
            crate::server::metrics::Access::web_token(web_token.as_ref().map(|(t, _)| t.clone())),
        );
    }
    let metrics_listener = if config.metrics.enabled {
        scrape_gauges(&gateway, &runtime);
        match &config.metrics.listen {
            Some(addr) => {
                // `/metrics` for anyone, nothing else.
                let state =
                    ServerState::metrics_only(gateway.clone(), runtime.connections().clone());
                state.set_metrics(crate::server::metrics::Access::anyone());
                let settings = crate::server::ServerSection {
                    listen: addr.clone(),
                    ..Default::default()
                };
                let listener = crate::server::start(&settings, state)
                    .await
                    .context("[metrics] listen")?;
                Some(listener)
            }
            None => {
                server_state.set_metrics(crate::server::metrics::Access::web_token(
                    web_token.as_ref().map(|(t, _)| t.clone()),
                ));
                None
            }
        }
    } else {
        None
    };
    let webhook_state = ServerState::webhooks_only(gateway.clone(), runtime.connections().clone());
    let role = cluster
        .as_ref()
        .map_or(crate::cluster::Role::All, |joined| joined.role);
    // An edge's first event (a poll may bring one at once) already goes
    // to the workers.
    if let Some(joined) = &mut cluster
        && role == crate::cluster::Role::Edge
    {
        joined.forward_events(&gateway).await?;
    }
    // A worker runs no channel: its events come from the cluster.
    let (drivers, mut tasks, mut channel_notes, bridges) = if role == crate::cluster::Role::Worker {
        (Vec::new(), Vec::new(), Vec::new(), Vec::new())
    } else {
        start_channels(
            config,
            &runtime,
            &gateway,
            &server_state,
            &webhook_state,
            cluster.as_mut(),
        )
        .await
    };
    if let Some(joined) = &mut cluster {
        match role {
            crate::cluster::Role::Edge => {
                let ids: Vec<String> = drivers
                    .iter()
                    .map(|d| identity::channel_id(d.component()).to_string())
                    .collect();
                joined.serve_calls(&gateway, &ids).await?;
                channel_notes.push("cluster: edge: events go to the workers".into());
            }
            crate::cluster::Role::Worker => {
                joined.serve_as_worker(&gateway).await?;
                channel_notes.push("cluster: worker: answering the partitions it owns".into());
            }
            crate::cluster::Role::All => {}
        }
    }
    let server = if config.server.enabled {
        Some(crate::server::start(&config.server, server_state.clone()).await?)
    } else {
        None
    };
    let webhook_server = if webhook_state.has_routes() {
        let settings = crate::server::ServerSection {
            listen: config.channels.telegram.resolve()?.webhook_addr(),
            ..Default::default()
        };
        let listener = crate::server::start(&settings, webhook_state).await?;
        channel_notes.push(format!("webhooks listening on {}", listener.local_addr));
        Some(listener)
    } else {
        None
    };
    // Cron is the channels' side: a worker leaves it to the edges.
    if role != crate::cluster::Role::Worker {
        let cron_gate = match (&mut cluster, config.cron.is_empty()) {
            (Some(joined), false) => Some(joined.want(super::cluster_cmds::CRON_LEASE).await?),
            _ => None,
        };
        tasks.extend(crate::gateway::cron::start(
            gateway.clone(),
            &config.cron,
            cron_gate,
        ));
    }
    if let Some(joined) = &mut cluster {
        let channels = drivers.iter().map(|d| d.component().to_string()).collect();
        let listen = server.as_ref().map(|s| s.local_addr.to_string());
        joined.beat(&runtime, channels, listen).await?;
    }
    Ok(Running {
        runtime,
        gateway,
        server,
        metrics_listener,
        webhook_server,
        web_token,
        provider,
        failures,
        channel_notes,
        drivers,
        bridges,
        tasks,
        natives,
        reports,
        cluster,
    })
}

pub async fn run(mut config: Config, exit_when_ready: bool) -> Result<i32> {
    let started = Instant::now();
    if let Ok(listen) = std::env::var("OPENPISTA_LISTEN") {
        config.server.listen = listen;
    }
    let running = start(&config).await?;
    for (name, error) in &running.failures {
        eprintln!("component {name} failed to load: {error}");
    }
    let runtime = running.runtime.clone();
    let loaded = runtime.components();
    let names: Vec<&str> = loaded.iter().map(|c| c.name()).collect();
    println!(
        "openpista ready in {} ms: {} component(s) [{}], {:?} allocator",
        started.elapsed().as_millis(),
        loaded.len(),
        names.join(", "),
        runtime.allocator()
    );
    if let (Some(joined), Some(settings)) = (&running.cluster, &config.cluster) {
        println!("cluster: node {} on {}", joined.cluster.node, settings.nats);
    }
    for note in &running.channel_notes {
        println!("{note}");
    }
    if let Some(metrics) = &running.metrics_listener {
        println!("metrics: http://{}/metrics", metrics.local_addr);
    }
    if let Some(server) = &running.server {
        let scheme = if server.tls { "https" } else { "http" };
        let url = format!("{scheme}://{}/", server.local_addr);
        match &running.web_token {
            Some((token, true)) => println!(
                "web chat: {url}#token={token}\n  (this token is shown once; it is stored in {})",
                crate::paths::home_dir().join("web-token").display()
            ),
            Some((_, false)) => println!(
                "web chat: {url} (token in {})",
                match &config.channels.web.token_env {
                    Some(var) => format!("${var}"),
                    None => crate::paths::home_dir()
                        .join("web-token")
                        .display()
                        .to_string(),
                }
            ),
            None => println!("listening on {url}"),
        }
    }
    let provider = &running.provider;
    if provider.component == "llm-echo" {
        println!(
            "no language model is configured: answers come from the offline echo provider. \
             To use a real model, add to {}:\n  [agent]\n  provider = \"main\"\n  [providers.main]\n  preset = \"openai\"   # or claude, ollama, together, openrouter, responses, custom\n  model = \"gpt-4o-mini\"\nand set OPENAI_API_KEY (see config.example.toml).",
            crate::paths::home_dir().join("config.toml").display()
        );
    } else if !provider.key_present {
        println!(
            "provider {:?} has no API key: set {}{} before chatting.",
            config.agent.provider,
            provider.key_env.as_deref().unwrap_or("its api_key_env"),
            match &provider.credential {
                Some(slot) => format!(" or sign in (openpista auth login --provider {slot})"),
                None => String::new(),
            }
        );
    }
    if exit_when_ready {
        running.stop().await;
        return Ok(0);
    }
    let pid_file = crate::paths::home_dir().join("openpista.pid");
    std::fs::write(&pid_file, format!("{}\n", std::process::id()))?;
    let _watch = crate::runtime::watch::watch(runtime.clone())?;
    let _skill_watch = running.watch_skills()?;
    let socket = control_socket_path();
    let _control = control::serve(
        runtime.clone(),
        running.natives.skills.clone(),
        running.natives.mcp.clone(),
        &socket,
    )?;
    for dir in runtime.plugin_dirs() {
        println!("watching {} for components", dir.display());
    }
    // Start-up is over: most of the code it ran will not run again, and
    // most of what it allocated is freed.
    super::residency::trim_heap();
    match super::residency::release_startup_pages() {
        Ok(released) => tracing::debug!(
            "released {} KiB of start-up pages in {} segment(s)",
            released.bytes / 1024,
            released.segments
        ),
        Err(e) => tracing::debug!("could not release start-up pages: {e}"),
    }
    wait_for_shutdown().await;
    println!("openpista stopping");
    running.stop().await;
    let _ = std::fs::remove_file(&socket);
    let _ = std::fs::remove_file(&pid_file);
    Ok(0)
}

async fn wait_for_shutdown() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("install SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
