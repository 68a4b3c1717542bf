//! Cluster mode against a real `nats-server -js` started by each test on
//! a port and folder of its own: leases in process (`leases.rs`), and
//! `openpista serve` nodes as separate processes sharing the Telegram
//! poll and cron through them (`singletons.rs`).

mod leases;
mod singletons;

use openpista::cluster::{Cluster, ClusterSettings, Credentials};
use std::time::Duration;

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
