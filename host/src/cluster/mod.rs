//! Cluster mode: several `openpista serve` processes that share one NATS
//! server with JetStream (docs/SCALING.md).
//!
//! What is here so far:
//! - [`ClusterSettings`]: the `[cluster]` section;
//! - [`Cluster::connect`]: one client per process, which reconnects for
//!   ever, and the JetStream buckets the nodes share;
//! - [`lease`]: work that must run once in the cluster (a channel's long
//!   poll, cron) runs on the one node that holds its lease;
//! - [`nodes`]: each node's heartbeat, and `openpista cluster status`;
//! - [`memory`]: the conversations every node shares;
//! - [`components`]: a component installed on one node, on all;
//! - the split into roles ([`Role`]): edge nodes hold the channels and
//!   put their events on the [`inbound`] stream, partitioned by session;
//!   [`partitions`] are owned by **worker** nodes, which answer through
//!   [`outbound`] calls that [`edge`] nodes carry out ([`wire`] is what
//!   travels).
//!
//! Without `[cluster]` none of this runs: one process with its redb file
//! is the default and stays unchanged.

pub mod components;
mod consumer;
pub mod edge;
pub mod inbound;
pub mod lease;
pub mod memory;
pub mod nodes;
pub mod outbound;
pub mod partitions;
pub mod wire;

use anyhow::{Context, Result};
use serde::Deserialize;
use std::time::Duration;

/// The KV bucket of leases: key = lease name, value = holder's node id.
pub const LEASES_BUCKET: &str = "openpista_leases";
/// The KV bucket of heartbeats: key = node id, value = [`nodes::NodeInfo`].
pub const NODES_BUCKET: &str = "openpista_nodes";

/// `[cluster]`: join a cluster through a NATS server with JetStream.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterSettings {
    /// The server(s): `nats://host:4222`, several comma-separated.
    pub nats: String,
    /// This node's name, unique in the cluster: 1 to 56 letters, digits,
    /// `-`, `_`.
    /// Default: the host name and the process id.
    #[serde(default)]
    pub node: Option<String>,
    /// The server's token, as `{{secret:NAME}}` (never the token itself).
    #[serde(default)]
    pub token: Option<String>,
    /// A `.creds` file's text (JWT and NKey seed), as `{{secret:NAME}}`.
    #[serde(default)]
    pub credentials: Option<String>,
    /// How long a lease lives without renewal, in seconds (default 10): a
    /// dead holder's work is taken over after between one and about one
    /// and a half of these.
    #[serde(default = "default_lease_secs")]
    pub lease_secs: f64,
    /// Conversations (and the host's own records, such as each chat's
    /// active session) in JetStream, the same on every node (default);
    /// false keeps them in each node's file.
    #[serde(default = "yes")]
    pub shared_memory: bool,
    /// What this node does (`serve --role` overrides it): `all` (default),
    /// `edge` or `worker`.
    #[serde(default)]
    pub role: Role,
    /// Partitions of the inbound stream (default 16): the most workers
    /// that can share the load. The same on every node.
    #[serde(default = "default_partitions")]
    pub partitions: u32,
}

/// What a node of the cluster does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Channels and answers in one process: each node answers the events
    /// its own channels receive (the single-process behaviour, with the
    /// leases, memory and components shared).
    #[default]
    All,
    /// Channels only: events go to the inbound stream, answers come back
    /// from workers.
    Edge,
    /// Answers only: owns partitions of the inbound stream, runs no
    /// channel.
    Worker,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::All => "all",
            Role::Edge => "edge",
            Role::Worker => "worker",
        }
    }
}

fn default_partitions() -> u32 {
    16
}

fn yes() -> bool {
    true
}

fn default_lease_secs() -> f64 {
    10.0
}

impl ClusterSettings {
    /// Checks what serde cannot: the node name and the lease time.
    pub fn validate(&self) -> Result<()> {
        if self.nats.trim().is_empty() {
            anyhow::bail!("[cluster] nats: empty; give the server, such as nats://127.0.0.1:4222");
        }
        if let Some(node) = &self.node
            && !valid_node_name(node)
        {
            anyhow::bail!(
                "[cluster] node = {node:?}: use 1 to 56 letters, digits, '-' or '_' (it is a key in the cluster's buckets)"
            );
        }
        if !(self.lease_secs.is_finite() && (0.3..=3600.0).contains(&self.lease_secs)) {
            anyhow::bail!(
                "[cluster] lease_secs = {}: between 0.3 and 3600 seconds",
                self.lease_secs
            );
        }
        if self.role != Role::All && !self.shared_memory {
            anyhow::bail!(
                "[cluster] role = \"{}\" needs shared_memory = true: a worker answers sessions other workers answered before",
                self.role.as_str()
            );
        }
        if !(1..=1024).contains(&self.partitions) {
            anyhow::bail!(
                "[cluster] partitions = {}: between 1 and 1024",
                self.partitions
            );
        }
        for (field, value) in [("token", &self.token), ("credentials", &self.credentials)] {
            if let Some(value) = value
                && !value.trim_start().starts_with("{{secret:")
            {
                anyhow::bail!(
                    "[cluster] {field}: name a secret, as \"{{{{secret:NAME}}}}\", so the value stays out of the config file"
                );
            }
        }
        Ok(())
    }

    /// The lease time to live.
    pub fn lease_ttl(&self) -> Duration {
        Duration::from_secs_f64(self.lease_secs)
    }

    /// This node's name: the configured one, or `HOST-PID`.
    pub fn node_name(&self) -> String {
        match &self.node {
            Some(node) => node.clone(),
            None => {
                let host = std::fs::read_to_string("/etc/hostname")
                    .ok()
                    .map(|h| h.trim().to_string())
                    .filter(|h| !h.is_empty())
                    .unwrap_or_else(|| "node".into());
                let host: String = host
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                    .take(40)
                    .collect();
                format!("{host}-{}", std::process::id())
            }
        }
    }
}

fn valid_node_name(name: &str) -> bool {
    // 56: room for the suffixes of the node's own connections.
    (1..=56).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// How the node authenticates to the server, resolved from the secrets.
#[derive(Default, Clone)]
pub struct Credentials {
    pub token: Option<String>,
    /// A `.creds` file's text.
    pub creds: Option<String>,
}

/// One node's connection to the cluster.
#[derive(Clone)]
pub struct Cluster {
    pub node: String,
    pub client: async_nats::Client,
    pub jetstream: async_nats::jetstream::Context,
    pub lease_ttl: Duration,
}

impl Cluster {
    /// Connects to the server and makes sure the shared buckets exist.
    /// The client reconnects for ever after a first connection; the first
    /// one must succeed within `timeout`, so a wrong address is an error
    /// at start and not a silent wait.
    pub async fn connect(
        settings: &ClusterSettings,
        credentials: Credentials,
        timeout: Duration,
    ) -> Result<Cluster> {
        settings.validate()?;
        let node = settings.node_name();
        let mut options = async_nats::ConnectOptions::new()
            .name(format!("openpista {node}"))
            .max_reconnects(None)
            .connection_timeout(timeout)
            .event_callback(|event| async move {
                match event {
                    async_nats::Event::Connected => tracing::info!("cluster: connected to NATS"),
                    async_nats::Event::Disconnected => {
                        tracing::warn!("cluster: lost NATS; reconnecting")
                    }
                    other => tracing::debug!("cluster: NATS {other}"),
                }
            });
        if let Some(token) = credentials.token {
            options = options.token(token);
        }
        if let Some(creds) = credentials.creds {
            options = options
                .credentials(&creds)
                .context("[cluster] credentials: not a .creds file's text")?;
        }
        let client = tokio::time::timeout(timeout, options.connect(settings.nats.as_str()))
            .await
            .map_err(|_| {
                anyhow::anyhow!(
                    "[cluster] nats = {:?}: no answer within {timeout:?}",
                    settings.nats
                )
            })?
            .with_context(|| format!("[cluster] nats = {:?}", settings.nats))?;
        let jetstream = async_nats::jetstream::new(client.clone());
        let cluster = Cluster {
            node,
            client,
            jetstream,
            lease_ttl: settings.lease_ttl(),
        };
        // Fail at start when the server has no JetStream.
        cluster.bucket(LEASES_BUCKET).await?;
        cluster.bucket(NODES_BUCKET).await?;
        Ok(cluster)
    }

    /// KV bucket `name`, made on first use (file storage, latest value
    /// only).
    ///
    /// The bucket's stream is made here rather than by the client's
    /// `create_key_value`, which first reads the account's information in
    /// a shape servers before 2.10 do not send (Debian's 2.9 among them);
    /// the stream is the one a KV bucket is, by the KV conventions.
    pub async fn bucket(&self, name: &str) -> Result<async_nats::jetstream::kv::Store> {
        self.bucket_with_age(name, Duration::ZERO).await
    }

    /// [`bucket`](Self::bucket) whose values expire after `max_age`
    /// (zero: never).
    pub async fn bucket_with_age(
        &self,
        name: &str,
        max_age: Duration,
    ) -> Result<async_nats::jetstream::kv::Store> {
        use async_nats::jetstream::stream::{Config, DiscardPolicy, StorageType};
        if let Ok(store) = self.jetstream.get_key_value(name).await {
            return Ok(store);
        }
        // Creating a stream that exists with this same config succeeds, so
        // two nodes starting at once both go on.
        self.jetstream
            .create_stream(Config {
                name: format!("KV_{name}"),
                subjects: vec![format!("$KV.{name}.>")],
                max_messages_per_subject: 1,
                storage: StorageType::File,
                num_replicas: 1,
                allow_rollup: true,
                deny_delete: true,
                allow_direct: true,
                discard: DiscardPolicy::New,
                max_age,
                ..Default::default()
            })
            .await
            .with_context(|| {
                format!("cluster: cannot make bucket {name} (is JetStream on? nats-server -js)")
            })?;
        self.jetstream
            .get_key_value(name)
            .await
            .with_context(|| format!("cluster: cannot open bucket {name}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ClusterSettings> {
        let settings: ClusterSettings = toml::from_str(text)?;
        settings.validate()?;
        Ok(settings)
    }

    #[test]
    fn settings_parse_and_bad_ones_say_what_is_wrong() {
        let s =
            parse("nats = \"nats://127.0.0.1:4222\"\nnode = \"edge-a\"\nlease_secs = 2.5").unwrap();
        assert_eq!(s.node_name(), "edge-a");
        assert_eq!(s.lease_ttl(), Duration::from_millis(2500));
        let s = parse("nats = \"nats://127.0.0.1:4222\"").unwrap();
        assert_eq!(s.lease_ttl(), Duration::from_secs(10));
        assert_eq!((s.role, s.partitions), (Role::All, 16));
        let s = parse("nats = \"nats://x\"\nrole = \"worker\"\npartitions = 4").unwrap();
        assert_eq!((s.role, s.partitions), (Role::Worker, 4));
        assert!(s.node_name().ends_with(&format!("-{}", std::process::id())));
        assert!(valid_node_name(&s.node_name()), "{}", s.node_name());
        for (text, says) in [
            ("nats = \"\"", "nats: empty"),
            ("nats = \"nats://x\"\nnode = \"a.b\"", "node = \"a.b\""),
            ("nats = \"nats://x\"\nlease_secs = 0.01", "lease_secs"),
            ("nats = \"nats://x\"\ntoken = \"s3cret\"", "name a secret"),
            ("nats = \"nats://x\"\nlease = 3", "unknown field"),
            ("nats = \"nats://x\"\npartitions = 0", "partitions = 0"),
            ("nats = \"nats://x\"\nrole = \"boss\"", "unknown variant"),
            (
                "nats = \"nats://x\"\nrole = \"edge\"\nshared_memory = false",
                "needs shared_memory",
            ),
        ] {
            let e = format!("{:#}", parse(text).unwrap_err());
            assert!(e.contains(says), "{text}: {e}");
            assert!(!e.contains("s3cret"), "{e}");
        }
    }
}
