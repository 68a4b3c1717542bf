//! `[server]`: the host's HTTP listener's settings, owned by the module
//! that uses them (the config file only aggregates them).

use serde::Deserialize;

/// `[server]`: the host's HTTP listener (web page, WebSockets, webhooks,
/// health).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSection {
    pub enabled: bool,
    /// Address and port; loopback by default so nothing is exposed
    /// until the operator chooses to.
    pub listen: String,
    /// Origins (`https://chat.example.com`) allowed to call the server from
    /// another site. Same-origin requests are always allowed.
    pub cors_origins: Vec<String>,
    /// PEM certificate chain and private key: serve HTTPS and WSS
    /// directly, without a reverse proxy.
    pub tls_cert: Option<String>,
    pub tls_key: Option<String>,
    /// Largest WebSocket message accepted, bytes.
    pub max_frame_bytes: usize,
}

impl Default for ServerSection {
    fn default() -> Self {
        ServerSection {
            enabled: true,
            listen: "127.0.0.1:8480".into(),
            cors_origins: Vec::new(),
            tls_cert: None,
            tls_key: None,
            max_frame_bytes: 8 * 1024 * 1024,
        }
    }
}
