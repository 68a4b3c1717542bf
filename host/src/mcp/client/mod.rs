//! The MCP client: each `[mcp.servers.NAME]` is kept connected by a
//! supervisor task, and its tools join the one tool registry as
//! `mcp.NAME.TOOL` (through [`ToolProvider`], so the registry knows
//! nothing of MCP).
//!
//! - [`transport`]: how a server is reached (a process, a container, HTTP
//!   through the outbound policy)
//! - [`legacy_sse`]: the older HTTP+SSE transport, the fallback
//! - [`tools`]: the proxies the agent calls, and results turned into what
//!   the model reads
//!
//! A supervisor connects, lists tools (again on
//! `notifications/tools/list_changed`), and when the connection ends
//! (the process died, the HTTP server went away) records why, waits with
//! a doubling backoff, and connects again. Calls made while a server is
//! down fail at once with its last error rather than waiting.

pub mod legacy_sse;
pub mod tools;
pub mod transport;

use super::settings::{McpSection, ServerSettings, Transport};
use crate::runtime::secrets::SecretStore;
use crate::tools::{NativeTool, ToolProvider};
use rmcp::ClientHandler;
use rmcp::model::{ClientCapabilities, ClientConfig, Implementation, ProtocolVersion};
use rmcp::service::{NotificationContext, Peer, RoleClient};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, watch};

/// The first wait before reconnecting; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// What every server's connection needs from the host.
#[derive(Clone)]
pub struct ClientContext {
    /// `{{secret:NAME}}` in headers and environment values.
    pub secrets: SecretStore,
    /// The default working folder of a process server.
    pub workspace: PathBuf,
}

/// A server's state as `mcp list` shows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Connecting,
    Ready,
    /// The connection ended or could not be made; reconnecting.
    Down,
    /// The table is wrong or the transport is refused; not retried.
    Refused,
}

/// One server's report.
#[derive(Debug, Clone, Serialize)]
pub struct ServerStatus {
    pub name: String,
    /// `process`, `container IMAGE` or the URL.
    pub transport: String,
    pub state: State,
    /// Tool names as the agent sees them.
    pub tools: Vec<String>,
    pub prompts: Vec<String>,
    pub last_error: Option<String>,
    /// Connections made so far (more than one: it was reconnected).
    pub connections: u32,
    /// Tool listings taken after `notifications/tools/list_changed`.
    pub list_changes: u32,
}

/// A prompt a server offers, for `/prompt`.
#[derive(Debug, Clone, Serialize)]
pub struct PromptInfo {
    pub server: String,
    pub name: String,
    pub description: Option<String>,
    /// Argument names, in the server's order, and whether each is required.
    pub arguments: Vec<(String, bool)>,
}

/// What a supervisor and the tool proxies share about one server.
pub struct ServerLink {
    pub name: String,
    pub timeout: Duration,
    /// Whether its tools act outside any sandbox (a plain process).
    pub outside_sandbox: bool,
    live: Mutex<Live>,
    /// Wakes whoever waits for the first attempt to end.
    settled: watch::Sender<bool>,
    /// Poked when a call finds the transport broken (an HTTP server gone:
    /// the SDK's HTTP worker outlives its server), so the supervisor
    /// drops the connection and makes a new one.
    broken: watch::Sender<u64>,
}

struct Live {
    status: ServerStatus,
    peer: Option<Peer<RoleClient>>,
    tools: Vec<Arc<dyn NativeTool>>,
    prompts: Vec<PromptInfo>,
}

impl ServerLink {
    /// The connection, or why there is none.
    pub fn peer(&self) -> Result<Peer<RoleClient>, String> {
        let live = self.live.lock().unwrap();
        match &live.peer {
            Some(p) => Ok(p.clone()),
            None => Err(format!(
                "MCP server {} is not connected ({})",
                self.name,
                live.status
                    .last_error
                    .clone()
                    .unwrap_or_else(|| "connecting".into())
            )),
        }
    }

    fn update(&self, f: impl FnOnce(&mut Live)) {
        f(&mut self.live.lock().unwrap());
    }

    /// Records a failed call's error, so `mcp list` shows it; a broken
    /// transport also makes the supervisor reconnect.
    pub fn note_error(&self, error: &str, transport_broken: bool) {
        self.update(|l| l.status.last_error = Some(error.to_string()));
        if transport_broken {
            self.broken.send_modify(|n| *n += 1);
        }
    }
}

/// The client side's handler: it only listens for list changes.
struct Handler {
    changed: Arc<Notify>,
}

impl ClientHandler for Handler {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("openpista", env!("CARGO_PKG_VERSION")),
        )
        // 2025-11-25: the newest revision that still has `initialize`,
        // which every server of today speaks.
        .with_protocol_version(ProtocolVersion::LATEST_WITH_INITIALIZE)
    }

    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.changed.notify_one();
    }

    async fn on_prompt_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.changed.notify_one();
    }
}

/// Every configured MCP server; a [`ToolProvider`] for the registry.
pub struct McpClients {
    links: BTreeMap<String, Arc<ServerLink>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for McpClients {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl McpClients {
    /// Starts a supervisor for each enabled server (a tokio runtime must
    /// be running). Tables that are wrong are reported as refused, not
    /// fatal: the rest of the host keeps working.
    pub fn start(section: &McpSection, context: ClientContext) -> Arc<McpClients> {
        let mut links = BTreeMap::new();
        let mut tasks = Vec::new();
        for (name, settings) in section.servers.iter().filter(|(_, s)| s.enabled) {
            let transport = settings.transport(name);
            let link = Arc::new(ServerLink {
                name: name.clone(),
                timeout: Duration::from_secs(settings.timeout_secs.max(1)),
                outside_sandbox: matches!(transport, Ok(Transport::Process)),
                live: Mutex::new(Live {
                    status: ServerStatus {
                        name: name.clone(),
                        transport: describe(&transport),
                        state: State::Connecting,
                        tools: Vec::new(),
                        prompts: Vec::new(),
                        last_error: None,
                        connections: 0,
                        list_changes: 0,
                    },
                    peer: None,
                    tools: Vec::new(),
                    prompts: Vec::new(),
                }),
                settled: watch::channel(false).0,
                broken: watch::channel(0).0,
            });
            match transport {
                Ok(transport) => tasks.push(tokio::spawn(supervise(
                    link.clone(),
                    settings.clone(),
                    transport,
                    context.clone(),
                ))),
                Err(e) => {
                    tracing::warn!("{e:#}");
                    link.update(|l| {
                        l.status.state = State::Refused;
                        l.status.last_error = Some(format!("{e:#}"));
                    });
                    link.settled.send_replace(true);
                }
            }
            links.insert(name.clone(), link);
        }
        Arc::new(McpClients { links, tasks })
    }

    /// Waits until every server's first attempt has ended (connected,
    /// refused or failed), at most `limit`: a one-shot `run` starts its
    /// turn with the tools there are.
    pub async fn settled(&self, limit: Duration) {
        let all = futures::future::join_all(self.links.values().map(|l| {
            let mut rx = l.settled.subscribe();
            async move {
                let _ = rx.wait_for(|s| *s).await;
            }
        }));
        let _ = tokio::time::timeout(limit, all).await;
    }

    /// Every server's report.
    pub fn status(&self) -> Vec<ServerStatus> {
        self.links
            .values()
            .map(|l| l.live.lock().unwrap().status.clone())
            .collect()
    }

    /// Every prompt the connected servers offer.
    pub fn prompts(&self) -> Vec<PromptInfo> {
        self.links
            .values()
            .flat_map(|l| l.live.lock().unwrap().prompts.clone())
            .collect()
    }

    /// The messages of prompt `name` (`SERVER.PROMPT`, or `PROMPT` when
    /// one server has it) with `args` (`key=value` words, or values in
    /// the prompt's argument order), joined as one text.
    pub async fn prompt_text(&self, name: &str, args: &str) -> Result<String, String> {
        let prompts = self.prompts();
        let found: Vec<&PromptInfo> = prompts
            .iter()
            .filter(|p| p.name == name || format!("{}.{}", p.server, p.name) == name)
            .collect();
        let prompt = match found.as_slice() {
            [one] => *one,
            [] => return Err(format!("no MCP prompt {name:?} (see /prompt)")),
            _ => {
                return Err(format!(
                    "{name:?} is offered by several servers; say SERVER.{name}"
                ));
            }
        };
        let arguments = tools::prompt_arguments(prompt, args)?;
        let link = &self.links[&prompt.server];
        tools::get_prompt(link, &prompt.name, arguments).await
    }
}

fn describe(transport: &anyhow::Result<Transport>) -> String {
    match transport {
        Ok(Transport::Process) => "process".into(),
        Ok(Transport::Container { image, .. }) => format!("container {image}"),
        Ok(Transport::Http { url }) => transport::shown(url),
        Err(_) => "invalid".into(),
    }
}

impl ToolProvider for McpClients {
    fn tools(&self) -> Vec<Arc<dyn NativeTool>> {
        self.links
            .values()
            .flat_map(|l| l.live.lock().unwrap().tools.clone())
            .collect()
    }
}

/// How long a connection must last before the backoff starts over: a
/// server that dies right after its handshake is not respawned twice a
/// second forever.
const STABLE: Duration = Duration::from_secs(30);

/// Keeps one server connected for as long as the host runs.
async fn supervise(
    link: Arc<ServerLink>,
    settings: ServerSettings,
    transport: Transport,
    context: ClientContext,
) {
    let mut backoff = FIRST_BACKOFF;
    loop {
        let changed = Arc::new(Notify::new());
        let connected = tokio::time::timeout(
            link.timeout,
            transport::connect(&link.name, &settings, &transport, &context, changed.clone()),
        )
        .await
        .unwrap_or_else(|_| Err(transport::ConnectFailure::retry("connecting timed out")));
        let (service, guard) = match connected {
            Ok(connected) => connected,
            Err(failure) => {
                tracing::warn!("MCP server {}: {}", link.name, failure.message);
                let refused = !failure.retry;
                link.update(|l| {
                    l.status.state = if refused { State::Refused } else { State::Down };
                    l.status.last_error = Some(failure.message.clone());
                });
                link.settled.send_replace(true);
                if refused {
                    return;
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        let since = tokio::time::Instant::now();
        let peer = service.peer().clone();
        let why = match refresh(&link, &peer).await {
            Ok(()) => {
                link.update(|l| {
                    l.peer = Some(peer.clone());
                    l.status.state = State::Ready;
                    l.status.connections += 1;
                    l.status.last_error = None;
                });
                tracing::info!("MCP server {} ready", link.name);
                link.settled.send_replace(true);
                serve_until_broken(&link, service, &peer, &changed).await
            }
            // A server that cannot list what it offers is of no use: the
            // connection is dropped and made again, like a broken one.
            Err(e) => {
                let _ = service.cancel().await;
                e
            }
        };
        // The process group (or container) goes with the connection.
        drop(guard);
        tracing::warn!("MCP server {}: {why}; reconnecting", link.name);
        link.update(|l| {
            l.peer = None;
            l.tools.clear();
            l.prompts.clear();
            l.status.tools.clear();
            l.status.prompts.clear();
            l.status.state = State::Down;
            l.status.last_error = Some(why.clone());
        });
        link.settled.send_replace(true);
        if since.elapsed() >= STABLE {
            backoff = FIRST_BACKOFF;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Serves a ready connection until it ends or a call finds it broken;
/// takes the lists again on each `list_changed`. Returns why it ended.
async fn serve_until_broken(
    link: &Arc<ServerLink>,
    service: transport::Service,
    peer: &Peer<RoleClient>,
    changed: &Notify,
) -> String {
    let cancel = service.cancellation_token();
    // Only breaks noted from now on count, not those of the last connection.
    let mut broken = link.broken.subscribe();
    let ended = service.waiting();
    tokio::pin!(ended);
    loop {
        tokio::select! {
            quit = &mut ended => return format!("connection closed ({quit:?})"),
            _ = broken.changed() => {
                cancel.cancel();
                return link
                    .live
                    .lock()
                    .unwrap()
                    .status
                    .last_error
                    .clone()
                    .unwrap_or_else(|| "the connection broke".into());
            }
            () = changed.notified() => {
                match refresh(link, peer).await {
                    Ok(()) => link.update(|l| l.status.list_changes += 1),
                    Err(e) => link.update(|l| l.status.last_error = Some(e)),
                }
            }
        }
    }
}

/// Lists the server's tools and prompts and publishes them.
async fn refresh(link: &Arc<ServerLink>, peer: &Peer<RoleClient>) -> Result<(), String> {
    let info = peer.peer_info();
    let caps = info.as_ref().map(|i| i.capabilities.clone());
    let listed = if caps.as_ref().is_some_and(|c| c.tools.is_some()) {
        tokio::time::timeout(link.timeout, peer.list_all_tools())
            .await
            .map_err(|_| "tools/list timed out".to_string())?
            .map_err(|e| format!("tools/list failed: {e}"))?
    } else {
        Vec::new()
    };
    let resources = caps.as_ref().is_some_and(|c| c.resources.is_some());
    let proxies = tools::proxies(link, listed, resources);
    let prompts = if caps.as_ref().is_some_and(|c| c.prompts.is_some()) {
        match tokio::time::timeout(link.timeout, peer.list_all_prompts()).await {
            Ok(Ok(prompts)) => tools::prompt_infos(&link.name, prompts),
            Ok(Err(e)) => return Err(format!("prompts/list failed: {e}")),
            Err(_) => return Err("prompts/list timed out".into()),
        }
    } else {
        Vec::new()
    };
    link.update(|l| {
        l.status.tools = proxies.iter().map(|t| t.spec().name).collect();
        l.status.prompts = prompts.iter().map(|p| p.name.clone()).collect();
        l.tools = proxies;
        l.prompts = prompts;
    });
    Ok(())
}
