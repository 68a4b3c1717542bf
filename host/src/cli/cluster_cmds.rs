//! `[cluster]` in `serve` (joining, the leases its singletons run under,
//! the heartbeat) and `openpista cluster status`.

use crate::cluster::lease::Lease;
use crate::cluster::nodes::{Heartbeat, NodeInfo};
use crate::cluster::{Cluster, ClusterSettings, Credentials};
use crate::config::Config;
use crate::runtime::secrets::SecretStore;
use anyhow::{Context, Result};
use clap::Subcommand;
use std::time::Duration;
use tokio::sync::watch;

/// How long the first connection to the NATS server may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// `openpista cluster …`.
#[derive(Subcommand, Debug)]
pub enum ClusterCommand {
    /// Nodes, what they serve, and who holds each lease.
    Status {
        /// One JSON object instead of lines.
        #[arg(long)]
        json: bool,
    },
}

/// The name of the lease channel `channel`'s long poll runs under.
pub fn poll_lease(channel: &str) -> String {
    format!("poll.{channel}")
}

/// The name of the lease under which channel `channel` holds its own
/// connection.
pub fn socket_lease(channel: &str) -> String {
    format!("socket.{channel}")
}

/// The lease `[[cron]]` runs under.
pub const CRON_LEASE: &str = "cron";

/// This node in the cluster, while `serve` runs.
pub struct Joined {
    pub cluster: Cluster,
    /// What this node does in the cluster.
    pub role: crate::cluster::Role,
    partitions_count: u32,
    /// On a worker: the partitions it owns and consumes.
    partitions: Option<crate::cluster::partitions::Partitions>,
    /// On an edge: the publisher of its events.
    forwarder: Option<std::sync::Arc<crate::cluster::inbound::Forwarder>>,
    /// On an edge: the task carrying out the workers' calls.
    calls: Option<tokio::task::JoinHandle<()>>,
    leases: Vec<Lease>,
    heartbeat: Option<Heartbeat>,
    components: Option<crate::cluster::components::ComponentSync>,
}

impl Joined {
    /// Connects as `[cluster]` says, with the token and credentials taken
    /// from the secret store.
    /// With `shared_memory` (the default), `memory`'s conversations move
    /// to the cluster's store from here on.
    pub async fn join(
        settings: &ClusterSettings,
        secrets: &SecretStore,
        memory: &crate::memory::MemoryStore,
    ) -> Result<Joined> {
        let resolved = credentials(settings, secrets).await?;
        let cluster = Cluster::connect(settings, resolved.clone(), CONNECT_TIMEOUT).await?;
        if settings.shared_memory {
            let (settings, credentials) = (settings.clone(), resolved);
            let shared = tokio::task::spawn_blocking(move || {
                crate::cluster::memory::JetStreamConversations::start(&settings, credentials)
            })
            .await??;
            memory.share(std::sync::Arc::new(shared))?;
        }
        Ok(Joined {
            cluster,
            role: settings.role,
            partitions_count: settings.partitions,
            partitions: None,
            forwarder: None,
            calls: None,
            leases: Vec::new(),
            heartbeat: None,
            components: None,
        })
    }

    /// Starts wanting lease `name`; the receiver is true while it is held.
    pub async fn want(&mut self, name: &str) -> Result<watch::Receiver<bool>> {
        let lease = Lease::want(&self.cluster, name).await?;
        let held = lease.held();
        self.leases.push(lease);
        Ok(held)
    }

    /// Lets channel `id` hold its own connection (Discord's Gateway,
    /// Slack's Socket Mode) only while this node holds lease
    /// `socket.ID`: on taking it the channel restarts, so it connects at
    /// once; on losing it the connection is closed. The returned task
    /// follows the lease.
    pub async fn hold_socket(
        &mut self,
        id: &str,
        driver: &std::sync::Arc<crate::gateway::channels::ChannelDriver>,
        runtime: &std::sync::Arc<crate::runtime::Runtime>,
    ) -> Result<tokio::task::JoinHandle<()>> {
        let mut held = self.want(&socket_lease(id)).await?;
        let driver = driver.clone();
        let runtime = runtime.clone();
        let channel = id.to_string();
        Ok(tokio::spawn(async move {
            loop {
                let holds = *held.borrow_and_update();
                runtime
                    .connections()
                    .set_outbound_allowed(driver.component(), holds);
                if holds {
                    tracing::info!(%channel, "this node holds the channel's connection");
                    driver.restart().await;
                } else {
                    tracing::info!(%channel, "another node holds the channel's connection");
                }
                if held.changed().await.is_err() {
                    return;
                }
            }
        }))
    }

    /// Starts beating, so `cluster status` lists this node and the
    /// components it serves, and starts keeping the components in step
    /// with the other nodes'.
    pub async fn beat(
        &mut self,
        runtime: &std::sync::Arc<crate::runtime::Runtime>,
        channels: Vec<String>,
        listen: Option<String>,
    ) -> Result<()> {
        let info = NodeInfo {
            node: self.cluster.node.clone(),
            role: self.role.as_str().to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            channels,
            listen,
            started_ms: 0,
            beat_ms: 0,
            components: Vec::new(),
        };
        self.heartbeat = Some(Heartbeat::start(&self.cluster, info, Some(runtime.clone())).await?);
        self.components = crate::cluster::components::start(&self.cluster, runtime.clone()).await?;
        Ok(())
    }

    /// On an edge: sends `gateway`'s events to the inbound stream from
    /// now on.
    pub async fn forward_events(
        &mut self,
        gateway: &std::sync::Arc<crate::gateway::Gateway>,
    ) -> Result<()> {
        let forwarder =
            crate::cluster::inbound::Forwarder::start(&self.cluster, self.partitions_count).await?;
        gateway.set_forward(forwarder.clone());
        self.forwarder = Some(forwarder);
        Ok(())
    }

    /// On an edge: carries out the workers' calls on `channels` (ids).
    pub async fn serve_calls(
        &mut self,
        gateway: &std::sync::Arc<crate::gateway::Gateway>,
        channels: &[String],
    ) -> Result<()> {
        self.calls =
            Some(crate::cluster::edge::serve_calls(&self.cluster, gateway, channels).await?);
        Ok(())
    }

    /// On a worker: answers the events of the partitions it owns, through
    /// the edges they came from.
    pub async fn serve_as_worker(
        &mut self,
        gateway: &std::sync::Arc<crate::gateway::Gateway>,
    ) -> Result<()> {
        gateway.set_routes(crate::cluster::outbound::RemoteRoutes::new(&self.cluster));
        self.partitions = Some(
            crate::cluster::partitions::Partitions::start(
                &self.cluster,
                gateway.clone(),
                self.partitions_count,
            )
            .await?,
        );
        Ok(())
    }

    /// The first step of stopping, while the gateway still runs: a worker
    /// stops taking events, finishes those it has (bounded) and lets its
    /// partitions go; an edge stops carrying out workers' calls, so they
    /// turn to another edge rather than to its channels as they stop.
    pub async fn quiesce(&mut self) {
        if let Some(partitions) = self.partitions.take() {
            partitions.stop().await;
        }
        if let Some(calls) = self.calls.take() {
            calls.abort();
        }
    }

    /// Lets the leases go (the next node takes them at once) and leaves
    /// the status; an edge first publishes what it took (bounded).
    pub async fn leave(mut self) {
        self.quiesce().await;
        if let Some(forwarder) = self.forwarder.take() {
            forwarder.stop(Duration::from_secs(10)).await;
        }
        for lease in self.leases {
            lease.release().await;
        }
        if let Some(heartbeat) = self.heartbeat {
            heartbeat.stop().await;
        }
    }
}

/// The token and `.creds` text `[cluster]` names, from the secret store.
async fn credentials(settings: &ClusterSettings, secrets: &SecretStore) -> Result<Credentials> {
    let mut resolved = Credentials::default();
    for (field, value, slot) in [
        ("token", &settings.token, &mut resolved.token),
        ("credentials", &settings.credentials, &mut resolved.creds),
    ] {
        if let Some(value) = value {
            let text = crate::mcp::client::transport::substitute(secrets, value)
                .await
                .map_err(|e| anyhow::anyhow!("[cluster] {field}: {e}"))?;
            *slot = Some(text);
        }
    }
    Ok(resolved)
}

/// The cluster's status as `config`'s `[cluster]` reaches it, read by a
/// client of its own (looking is not joining: it takes no node's name).
pub async fn read_status(config: &Config) -> Result<crate::cluster::nodes::Status> {
    let Some(settings) = &config.cluster else {
        anyhow::bail!("no [cluster] section in the configuration: this host runs on its own");
    };
    let secrets = config.secret_store()?;
    let mut settings = settings.clone();
    settings.node = Some(format!("status-{}", std::process::id()));
    let cluster = Cluster::connect(
        &settings,
        credentials(&settings, &secrets).await?,
        CONNECT_TIMEOUT,
    )
    .await
    .context("cluster status")?;
    crate::cluster::nodes::status(&cluster).await
}

/// `openpista cluster …`.
pub async fn run(config: Config, command: ClusterCommand) -> Result<i32> {
    let ClusterCommand::Status { json } = command;
    let status = read_status(&config).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&status)?);
        return Ok(0);
    }
    println!(
        "{} node(s) on {}",
        status.nodes.len(),
        config
            .cluster
            .as_ref()
            .map(|c| c.nats.as_str())
            .unwrap_or_default()
    );
    for node in &status.nodes {
        println!(
            "  {}  {}  v{}  channels [{}]{}",
            node.node,
            node.role,
            node.version,
            node.channels.join(", "),
            node.listen
                .as_deref()
                .map(|l| format!("  listening on {l}"))
                .unwrap_or_default()
        );
    }
    print_components(&status, "  ");
    println!("{} lease(s)", status.leases.len());
    for lease in &status.leases {
        println!(
            "  {}  held by {}  (revision {})",
            lease.name, lease.holder, lease.revision
        );
    }
    if !status.partitions.is_empty() {
        println!(
            "{} partition(s) of the inbound stream",
            status.partitions.len()
        );
        for p in &status.partitions {
            println!(
                "  {:>4}  owner {:<16}  waiting {:>6}  in flight {:>6}",
                p.partition,
                p.owner.as_deref().unwrap_or("(none)"),
                p.pending,
                p.in_flight
            );
        }
    }
    Ok(0)
}

/// A line per node and component it serves: node, name, version, hash.
pub fn print_components(status: &crate::cluster::nodes::Status, indent: &str) {
    for node in &status.nodes {
        for c in &node.components {
            println!(
                "{indent}node {:<16} {:<20} {:<8} {}",
                node.node,
                c.name,
                c.version.as_deref().unwrap_or("-"),
                c.hash.get(..12).unwrap_or(&c.hash)
            );
        }
    }
}
