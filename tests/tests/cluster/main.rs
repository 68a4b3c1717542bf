//! Cluster mode against a real `nats-server -js` started by each test on
//! a port and folder of its own: leases in process (`leases.rs`), and
//! `openpista serve` nodes as separate processes sharing the Telegram
//! poll and cron through them (`singletons.rs`).

mod components;
mod leases;
mod memory;
mod scale;
mod singletons;
mod sockets;

use openpista::cluster::{Cluster, ClusterSettings, Credentials};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_openpista-cli");
/// Short leases, so a takeover is seconds; generous deadlines, for five
/// processes on two cores.
pub const LEASE_SECS: f64 = 2.0;
pub const DEADLINE: Duration = Duration::from_secs(30);
/// The server's token: the nodes read it from the secret store (here its
/// environment fallback), the config names it only.
pub const NATS_TOKEN: &str = "nats-cluster-token-8c1f0e5a9b27";

/// The variable the nodes' model provider key is in (`api_key_env`).
pub const PROVIDER_KEY_ENV: &str = "OPENPISTA_CLUSTER_TEST_KEY";

/// A client of `url` named `node`, with leases of `ttl`.
pub async fn connect(url: &str, node: &str, ttl: Duration) -> Cluster {
    connect_with(url, node, ttl, None).await.unwrap()
}

/// [`connect`] with the server's token, or the error.
pub async fn connect_with(
    url: &str,
    node: &str,
    ttl: Duration,
    token: Option<&str>,
) -> anyhow::Result<Cluster> {
    let settings: ClusterSettings = toml::from_str(&format!(
        "nats = \"{url}\"\nnode = \"{node}\"\nlease_secs = {}",
        ttl.as_secs_f64()
    ))
    .unwrap();
    let credentials = Credentials {
        token: token.map(str::to_string),
        creds: None,
    };
    Cluster::connect(&settings, credentials, Duration::from_secs(10)).await
}

/// One node: `serve` with its own home, memory and config.
pub struct Node {
    pub name: String,
    child: Child,
    config: std::path::PathBuf,
    pub dir: std::path::PathBuf,
}

impl Node {
    /// Starts node `name` in `root/name` with the config `config(dir)`
    /// gives for its folder, joined to `nats` with [`LEASE_SECS`] leases
    /// and the token [`NATS_TOKEN`] from its secret store.
    pub fn start(root: &Path, name: &str, nats: &str, config: impl Fn(&Path) -> String) -> Node {
        Self::start_as(root, name, nats, &[], config)
    }

    /// [`Node::start`] with more arguments for `serve` (`--role edge`).
    pub fn start_as(
        root: &Path,
        name: &str,
        nats: &str,
        serve_args: &[&str],
        config: impl Fn(&Path) -> String,
    ) -> Node {
        let dir = root.join(name);
        std::fs::create_dir_all(dir.join("tmp")).unwrap();
        let text = format!(
            "{}\n[cluster]\nnats = \"{nats}\"\nnode = \"{name}\"\nlease_secs = {LEASE_SECS}\n\
             token = \"{{{{secret:nats_token}}}}\"\n",
            config(&dir)
        );
        let config = dir.join("config.toml");
        std::fs::write(&config, text).unwrap();
        let mut child = command(&dir, &config)
            .arg("serve")
            .args(serve_args)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.join("serve.stderr")).unwrap())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut seen = Vec::new();
        loop {
            let Some(Ok(line)) = lines.next() else {
                panic!(
                    "{name} ended before it was ready: {seen:?}\n{}",
                    std::fs::read_to_string(dir.join("serve.stderr")).unwrap_or_default()
                );
            };
            if line.starts_with(&format!("cluster: node {name} on {nats}")) {
                break;
            }
            seen.push(line);
        }
        std::thread::spawn(move || for _ in lines.map_while(Result::ok) {});
        Node {
            name: name.into(),
            child,
            config,
            dir,
        }
    }

    /// `openpista ARGS…` with this node's config: its stdout.
    pub fn run(&self, args: &[&str]) -> String {
        let out = command(&self.dir, &self.config)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// `openpista cluster status --json` with this node's config.
    pub fn status(&self) -> serde_json::Value {
        let out = command(&self.dir, &self.config)
            .args(["cluster", "status", "--json"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "cluster status: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

impl Node {
    /// Kills the process at once (SIGKILL): no lease is let go, nothing
    /// is finished.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn command(dir: &Path, config: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.arg("--config")
        .arg(config)
        .env("OPENPISTA_HOME", dir.join("home"))
        .env("HOME", dir)
        .env("TMPDIR", dir.join("tmp"))
        .env("OPENPISTA_SECRET_NATS_TOKEN", NATS_TOKEN)
        .env(PROVIDER_KEY_ENV, "sk-cluster-test-key")
        .env_remove("OPENPISTA_CONFIG")
        .env_remove("OPENPISTA_LOG")
        .stdin(Stdio::null());
    c
}

/// The holder of lease `name`, as the bucket says.
pub async fn holder(cluster: &Cluster, name: &str) -> Option<String> {
    let status = openpista::cluster::nodes::status(cluster).await.unwrap();
    status
        .leases
        .into_iter()
        .find(|l| l.name == name)
        .map(|l| l.holder)
}

/// A server in `root/nats` that wants [`NATS_TOKEN`], and a client of it
/// for the test to read the buckets with.
pub async fn server_and_watcher(
    root: &Path,
) -> Option<(openpista_tests::nats::NatsServer, Cluster)> {
    let server =
        openpista_tests::nats::NatsServer::start_with(&root.join("nats"), Some(NATS_TOKEN))?;
    let watcher = connect_with(
        &server.url(),
        "test-watcher",
        Duration::from_secs(1),
        Some(NATS_TOKEN),
    )
    .await
    .unwrap();
    Some((server, watcher))
}

/// A memory store in `dir` whose conversations are on the server at `url`
/// (as a node's are), connecting as `node` with `token`.
pub fn shared_store(
    dir: &Path,
    url: &str,
    node: &str,
    token: Option<&str>,
) -> openpista::memory::MemoryStore {
    let store = openpista::memory::MemoryStore::open(&dir.join(format!("{node}.redb"))).unwrap();
    let settings: ClusterSettings =
        toml::from_str(&format!("nats = \"{url}\"\nnode = \"{node}\"")).unwrap();
    let credentials = Credentials {
        token: token.map(str::to_string),
        creds: None,
    };
    let shared =
        openpista::cluster::memory::JetStreamConversations::start(&settings, credentials).unwrap();
    store.share(std::sync::Arc::new(shared)).unwrap();
    store
}
