//! How a server is reached: a process on this machine (only with the
//! operator's `outside_sandbox = true`), a process in a Docker container
//! (no network unless granted), or streamable HTTP through the same
//! outbound policy components obey (the host granted, loopback and
//! private addresses only when a grant names them, DNS pinned).

use super::{ClientContext, Handler};
use crate::mcp::settings::{ServerSettings, Transport};
use crate::runtime::net::{HostPattern, system_resolver};
use crate::runtime::secrets::SecretStore;
use rmcp::RoleClient;
use rmcp::ServiceExt;
use rmcp::service::RunningService;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use tokio::io::AsyncBufReadExt;

/// Why a connection was not made, and whether trying again may help (a
/// refused grant or a missing secret will not change by waiting).
#[derive(Debug)]
pub struct ConnectFailure {
    pub message: String,
    pub retry: bool,
}

impl ConnectFailure {
    pub fn retry(message: impl Into<String>) -> ConnectFailure {
        ConnectFailure {
            message: message.into(),
            retry: true,
        }
    }

    pub fn refuse(message: impl Into<String>) -> ConnectFailure {
        ConnectFailure {
            message: message.into(),
            retry: false,
        }
    }
}

/// Numbers container names apart: a reconnect must not collide with a
/// container of the same server still being removed.
static CONTAINERS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

pub(super) type Service = RunningService<RoleClient, Handler>;

/// What a connection leaves running on this machine, ended when dropped:
/// the process group of a stdio server (an `npx` launcher's child too),
/// or its container (the `docker` client's death does not stop it).
#[derive(Default)]
pub struct Leftovers {
    group: Option<i32>,
    container: Option<String>,
}

impl Drop for Leftovers {
    fn drop(&mut self) {
        if let Some(group) = self.group {
            // SAFETY: signals a process group this host made for the
            // server (`process_group(0)`: its id is the leader's pid).
            unsafe { libc::killpg(group, libc::SIGKILL) };
        }
        if let Some(name) = self.container.take() {
            let _ = std::process::Command::new("docker")
                .args(["rm", "-f", &name])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn();
        }
    }
}

/// Opens the transport and runs the MCP handshake.
pub(super) async fn connect(
    name: &str,
    settings: &ServerSettings,
    transport: &Transport,
    context: &ClientContext,
    changed: Arc<tokio::sync::Notify>,
) -> Result<(Service, Leftovers), ConnectFailure> {
    let handler = Handler {
        changed: changed.clone(),
    };
    match transport {
        Transport::Http { url } => {
            let (client, config) = http_client(name, settings, url, &context.secrets).await?;
            let headers: reqwest::header::HeaderMap = config
                .custom_headers
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let transport = StreamableHttpClientTransport::with_client(client.clone(), config);
            let streamable = match handler.serve(transport).await {
                Ok(service) => return Ok((service, Leftovers::default())),
                Err(e) => e.to_string(),
            };
            // A server of the 2024-11-05 revision: HTTP+SSE.
            let halves = super::legacy_sse::connect(client, url, headers)
                .await
                .map_err(|sse| {
                    ConnectFailure::retry(format!(
                        "{}: streamable HTTP: {streamable}; HTTP+SSE: {sse}",
                        shown(url)
                    ))
                })?;
            let handler = Handler {
                changed: changed.clone(),
            };
            let service = handler
                .serve(halves)
                .await
                .map_err(|e| ConnectFailure::retry(format!("{} (HTTP+SSE): {e}", shown(url))))?;
            Ok((service, Leftovers::default()))
        }
        Transport::Process | Transport::Container { .. } => {
            let (command, container) = command(name, settings, transport, context).await?;
            let (child, stderr) = TokioChildProcess::builder(command)
                .stderr(Stdio::piped())
                .spawn()
                .map_err(|e| ConnectFailure::retry(format!("cannot start: {e}")))?;
            let leftovers = Leftovers {
                group: child.id().map(|pid| pid as i32),
                container,
            };
            let tail = Arc::new(Mutex::new(String::new()));
            if let Some(stderr) = stderr {
                tokio::spawn(keep_stderr_tail(name.to_string(), stderr, tail.clone()));
            }
            let service = handler.serve(child).await.map_err(|e| {
                let said = tail.lock().unwrap().clone();
                ConnectFailure::retry(if said.is_empty() {
                    format!("handshake failed: {e}")
                } else {
                    format!("handshake failed: {e}; it said: {said}")
                })
            })?;
            Ok((service, leftovers))
        }
    }
}

/// Logs what the server writes to stderr and keeps its last line.
async fn keep_stderr_tail(
    name: String,
    stderr: tokio::process::ChildStderr,
    tail: Arc<Mutex<String>>,
) {
    let mut lines = tokio::io::BufReader::new(stderr).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        tracing::debug!(server = %name, "stderr: {line}");
        let mut t = tail.lock().unwrap();
        t.clear();
        t.extend(line.chars().take(300));
    }
}

/// The command line of a process or container server, with only the
/// environment its table lists (plus `PATH`, to find programs), and the
/// container's name when it runs in one.
async fn command(
    name: &str,
    settings: &ServerSettings,
    transport: &Transport,
    context: &ClientContext,
) -> Result<(tokio::process::Command, Option<String>), ConnectFailure> {
    let program = settings.command.clone().unwrap_or_default();
    let mut env = Vec::new();
    for (key, value) in &settings.env {
        let value = substitute(&context.secrets, value)
            .await
            .map_err(|e| ConnectFailure::refuse(format!("env {key}: {e}")))?;
        env.push((key.clone(), value));
    }
    let path = std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into());
    let cwd = settings
        .cwd
        .as_deref()
        .map(crate::paths::expand)
        .unwrap_or_else(|| context.workspace.clone());
    let mut container = None;
    let mut cmd = match transport {
        Transport::Container { image, network } => {
            if crate::native::which("docker").is_none() {
                return Err(ConnectFailure::refuse(
                    "container = ... needs the docker command (Debian package docker.io)",
                ));
            }
            let id = format!(
                "openpista-mcp-{name}-{}-{}",
                std::process::id(),
                CONTAINERS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            );
            let mut cmd = tokio::process::Command::new("docker");
            cmd.args(["run", "-i", "--rm", "--init"])
                .arg(format!("--name={id}"))
                .args(["--cap-drop=ALL", "--security-opt=no-new-privileges"])
                .args(["--pids-limit=256", "--memory=512m"]);
            if !network {
                cmd.arg("--network=none");
            }
            // `-e KEY` takes the value from the docker command's own
            // environment, so no value shows in the process list.
            for (key, _) in &env {
                cmd.arg("-e").arg(key);
            }
            cmd.arg(image).arg(&program).args(&settings.args);
            container = Some(id);
            cmd
        }
        _ => {
            let mut cmd = tokio::process::Command::new(&program);
            cmd.args(&settings.args).current_dir(&cwd);
            cmd
        }
    };
    cmd.env_clear()
        .env("PATH", path)
        .envs(env)
        .kill_on_drop(true);
    // Its own process group: a terminal's Ctrl+C reaches the host, which
    // then stops the server itself.
    cmd.process_group(0);
    Ok((cmd, container))
}

/// `url` as it may be shown (status, logs, errors): without credentials,
/// query or fragment, where a server's key would sit.
pub fn shown(url: &url::Url) -> String {
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.set_query(None);
    u.set_fragment(None);
    u.to_string()
}

/// `text` with each `{{secret:NAME}}` replaced by the secret's value.
pub async fn substitute(secrets: &SecretStore, text: &str) -> Result<String, String> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{secret:") {
        let after = &rest[start + "{{secret:".len()..];
        let Some(end) = after.find("}}") else { break };
        names.push(after[..end].to_string());
        rest = &after[end..];
    }
    if names.is_empty() {
        return Ok(text.to_string());
    }
    let grant = secrets.grant(&names);
    let fresh = grant.fresh().await?;
    fresh
        .substitute(text)
        .map(|s| s.into_owned())
        .map_err(|name| format!("secret {name:?} is not set ([secrets])"))
}

/// The HTTP client for `url`: its host checked against the server's
/// `hosts` grants, resolved once and pinned, no proxy, no redirects.
async fn http_client(
    name: &str,
    settings: &ServerSettings,
    url: &url::Url,
    secrets: &SecretStore,
) -> Result<(reqwest::Client, StreamableHttpClientTransportConfig), ConnectFailure> {
    let table = format!("[mcp.servers.{name}]");
    let host = url
        .host_str()
        .unwrap_or_default()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = url.port_or_known_default().unwrap_or(443);
    let mut grants = Vec::new();
    for text in &settings.hosts {
        grants.push(
            HostPattern::parse(text).map_err(|e| {
                ConnectFailure::refuse(format!("{table}: hosts entry {text:?}: {e}"))
            })?,
        );
    }
    let Some(grant) = grants.iter().find(|g| g.matches(&host, port)) else {
        return Err(ConnectFailure::refuse(format!(
            "{table}: {host}:{port} is not among the server's granted hosts (add it to hosts)"
        )));
    };
    let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => (system_resolver())(host.clone(), port)
            .await
            .map_err(|e| ConnectFailure::retry(format!("cannot resolve {host}: {e}")))?,
    };
    let allowed = grant.reachable(&addrs);
    if allowed.is_empty() {
        return Err(ConnectFailure::refuse(format!(
            "{table}: {host} resolves to private or loopback addresses; only a hosts entry \
             naming the address itself (or localhost) may reach them"
        )));
    }
    let mut headers = HashMap::new();
    for (key, value) in &settings.headers {
        let value = substitute(secrets, value)
            .await
            .map_err(|e| ConnectFailure::refuse(format!("{table}: header {key}: {e}")))?;
        let key = http::HeaderName::from_bytes(key.as_bytes())
            .map_err(|e| ConnectFailure::refuse(format!("{table}: header {key:?}: {e}")))?;
        let mut value = http::HeaderValue::from_str(&value)
            .map_err(|e| ConnectFailure::refuse(format!("{table}: header {key}: {e}")))?;
        value.set_sensitive(true);
        headers.insert(key, value);
    }
    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .resolve_to_addrs(&host, &allowed)
        .tls_backend_preconfigured((*crate::runtime::net::default_tls()).clone())
        .build()
        .map_err(|e| ConnectFailure::refuse(format!("{table}: HTTP client: {e}")))?;
    let config =
        StreamableHttpClientTransportConfig::with_uri(url.as_str()).custom_headers(headers);
    Ok((client, config))
}
