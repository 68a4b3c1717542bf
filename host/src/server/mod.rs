//! The host's HTTP listener: the web page's files, `/health`, the channel
//! components' routes (webhooks) and WebSocket upgrades on them. Plain
//! HTTP/1.1 on loopback by default; HTTPS/WSS with rustls when a
//! certificate is configured.
//!
//! - [`assets`]: the H5 page, embedded and precompressed at build time
//! - [`cors`]: same-origin and configured origins, also for WebSockets
//! - [`tls`]: the rustls acceptor
//! - [`metrics`]: `/metrics`, here or on a listener of its own
//! - `pair_page`: the WhatsApp pairing QR code, for the web chat's owner
//! - `ws`: one accepted WebSocket

pub mod assets;
pub mod cors;
pub mod metrics;
mod pair_page;
pub mod settings;
pub mod tls;
pub mod workers;
mod ws;

use crate::gateway::channels::ChannelDriver;
use crate::gateway::{Gateway, Origin};
use crate::runtime::bindings::channel::exports::openpista::plugin::messenger::HttpRequest;
use crate::runtime::connections::ConnectionHub;
use anyhow::{Context, Result};
use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
pub use pair_page::COMPONENT as WHATSAPP_COMPONENT;
pub use settings::ServerSection;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

/// Where openpista's own MCP server answers.
pub const MCP_ROUTE: &str = "/mcp";

/// Largest request body passed to a channel route (webhooks).
const MAX_BODY: usize = 2 * 1024 * 1024;

/// A path a channel serves.
#[derive(Clone)]
struct RouteEntry {
    /// The channel id.
    channel: String,
    driver: Arc<ChannelDriver>,
    /// The route as the channel declared it: what its `handle-http` sees.
    declared: String,
}

/// What request handling shares.
pub struct ServerState {
    pub gateway: Arc<Gateway>,
    pub hub: Arc<ConnectionHub>,
    pub cors: cors::Cors,
    pub max_frame: usize,
    /// Channel routes: path → who serves it.
    routes: RwLock<BTreeMap<String, RouteEntry>>,
    /// Set when the server stops: open WebSockets close (1001).
    pub(crate) closing: tokio::sync::watch::Sender<bool>,
    /// Whether the web page's files are served here; not on a listener
    /// that only takes a messenger's webhooks.
    serve_page: bool,
    /// `/mcp`: openpista's MCP server, when `[mcp.serve] token` is set.
    mcp: std::sync::OnceLock<Arc<crate::mcp::server::HttpEndpoint>>,
    /// `/metrics`, when served on this listener.
    metrics: std::sync::OnceLock<metrics::Access>,
    /// `/workers` and its feed, when container tasks report.
    workers: std::sync::OnceLock<workers::Workers>,
    /// Whether `/health` is answered (not on a metrics-only listener).
    health: bool,
}

impl ServerState {
    pub fn new(
        gateway: Arc<Gateway>,
        hub: Arc<ConnectionHub>,
        settings: &ServerSection,
    ) -> Arc<Self> {
        Arc::new(Self::with(gateway, hub, settings, true, true))
    }

    /// State for `[metrics] listen`: `/metrics` (once set) and nothing
    /// else, not even `/health`, since anyone may reach it.
    pub fn metrics_only(gateway: Arc<Gateway>, hub: Arc<ConnectionHub>) -> Arc<Self> {
        Arc::new(Self::with(
            gateway,
            hub,
            &ServerSection::default(),
            false,
            false,
        ))
    }

    /// State for a listener that serves channel routes and `/health` only
    /// (a messenger's webhook port behind a reverse proxy): no page, no
    /// cross-origin callers.
    pub fn webhooks_only(gateway: Arc<Gateway>, hub: Arc<ConnectionHub>) -> Arc<Self> {
        Arc::new(Self::with(
            gateway,
            hub,
            &ServerSection::default(),
            false,
            true,
        ))
    }

    /// `settings`' CORS origins and frame limit (the defaults admit no
    /// cross-origin caller).
    fn with(
        gateway: Arc<Gateway>,
        hub: Arc<ConnectionHub>,
        settings: &ServerSection,
        serve_page: bool,
        health: bool,
    ) -> ServerState {
        ServerState {
            gateway,
            hub,
            cors: cors::Cors::new(&settings.cors_origins),
            max_frame: settings.max_frame_bytes,
            routes: RwLock::new(BTreeMap::new()),
            closing: tokio::sync::watch::Sender::new(false),
            serve_page,
            mcp: std::sync::OnceLock::new(),
            metrics: std::sync::OnceLock::new(),
            workers: std::sync::OnceLock::new(),
            health,
        }
    }

    /// Whether any channel has routes here.
    pub fn has_routes(&self) -> bool {
        !self.routes.read().unwrap().is_empty()
    }

    /// Serves `driver`'s declared routes for channel `id` (component
    /// `driver.component()`), all or none: a route outside the channel's
    /// prefix, one another channel serves, or one the host serves itself
    /// refuses the lot, with the reason.
    pub fn claim_routes(
        &self,
        id: &str,
        routes: &[String],
        absolute: bool,
        driver: Arc<ChannelDriver>,
    ) -> Result<Vec<String>, String> {
        let paths = crate::gateway::identity::route_paths(driver.component(), routes, absolute)?;
        let mut table = self.routes.write().unwrap();
        for (path, _) in &paths {
            if let Some(owner) = table.get(path) {
                return Err(format!(
                    "route {path} is already served by channel {}",
                    owner.channel
                ));
            }
            if self.host_serves(path) {
                return Err(format!("route {path} is the host's own"));
            }
        }
        for (path, declared) in &paths {
            table.insert(
                path.clone(),
                RouteEntry {
                    channel: id.to_string(),
                    driver: driver.clone(),
                    declared: declared.clone(),
                },
            );
        }
        Ok(paths.into_iter().map(|(p, _)| p).collect())
    }

    /// Serves `/mcp` with `endpoint` (once; later calls are ignored).
    pub fn set_mcp(&self, endpoint: Arc<crate::mcp::server::HttpEndpoint>) {
        let _ = self.mcp.set(endpoint);
    }

    /// Serves `/metrics` here, to the peers `access` allows (once).
    pub fn set_metrics(&self, access: metrics::Access) {
        let _ = self.metrics.set(access);
    }

    /// Serves `/workers` and its feed here, to the peers `access` allows
    /// (once).
    pub fn set_workers(
        &self,
        reports: Arc<crate::native::container::reports::Reports>,
        access: metrics::Access,
    ) {
        let _ = self.workers.set(workers::Workers { reports, access });
    }

    /// Whether the host itself answers `path` on this listener.
    fn host_serves(&self, path: &str) -> bool {
        (path == "/health" && self.health)
            || (path == metrics::ROUTE && self.metrics.get().is_some())
            || ((path == workers::ROUTE || path == workers::EVENTS_ROUTE)
                && self.workers.get().is_some())
            || (path == MCP_ROUTE && self.mcp.get().is_some())
            || (self.serve_page && (path == pair_page::ROUTE || assets::is_asset(path)))
    }

    fn route(&self, path: &str) -> Option<RouteEntry> {
        self.routes.read().unwrap().get(path).cloned()
    }

    fn channel_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .routes
            .read()
            .unwrap()
            .values()
            .map(|r| r.channel.clone())
            .collect();
        names.sort();
        names.dedup();
        names
    }
}

/// A running listener; stops when dropped: no new connections, open ones
/// (kept-alive HTTP, WebSockets) end too, so nothing keeps serving on
/// behalf of a stopped host.
pub struct Server {
    pub local_addr: SocketAddr,
    pub tls: bool,
    task: tokio::task::JoinHandle<()>,
    state: Arc<ServerState>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.state.closing.send_replace(true);
        // The accept task owns every HTTP connection task: aborting it
        // drops them all.
        self.task.abort();
    }
}

/// Binds `[server] listen` and serves until the returned [`Server`] drops.
pub async fn start(settings: &ServerSection, state: Arc<ServerState>) -> Result<Server> {
    let tls = match (&settings.tls_cert, &settings.tls_key) {
        (Some(c), Some(k)) => Some(tls::acceptor(
            &crate::paths::expand(c),
            &crate::paths::expand(k),
        )?),
        _ => None,
    };
    let listener = tokio::net::TcpListener::bind(&settings.listen)
        .await
        .with_context(|| format!("cannot listen on {} (server.listen)", settings.listen))?;
    let local_addr = listener.local_addr()?;
    let is_tls = tls.is_some();
    let server_state = state.clone();
    let task = tokio::spawn(async move {
        let mut connections = tokio::task::JoinSet::new();
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                Some(_) = connections.join_next() => continue,
            };
            let (tcp, remote) = match accepted {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            };
            let state = state.clone();
            let tls = tls.clone();
            connections.spawn(async move {
                let _ = tcp.set_nodelay(true);
                match tls {
                    Some(acceptor) => match acceptor.accept(tcp).await {
                        Ok(stream) => serve_connection(TokioIo::new(stream), state, remote).await,
                        Err(e) => tracing::debug!(%remote, "TLS handshake failed: {e}"),
                    },
                    None => serve_connection(TokioIo::new(tcp), state, remote).await,
                }
            });
        }
    });
    Ok(Server {
        local_addr,
        tls: is_tls,
        task,
        state: server_state,
    })
}

async fn serve_connection<I>(io: I, state: Arc<ServerState>, remote: SocketAddr)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req| {
        let state = state.clone();
        async move { Ok::<_, std::convert::Infallible>(handle(state, req, remote).await) }
    });
    if let Err(e) = hyper::server::conn::http1::Builder::new()
        .serve_connection(io, service)
        .with_upgrades()
        .await
    {
        tracing::debug!(%remote, "connection ended: {e}");
    }
}

fn plain(status: StatusCode, body: impl Into<Bytes>, mime: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(http::header::CONTENT_TYPE, HeaderValue::from_static(mime));
    r
}

fn is_upgrade(req: &Request<Incoming>) -> bool {
    req.headers()
        .get(http::header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// Routes one request.
async fn handle(
    state: Arc<ServerState>,
    mut req: Request<Incoming>,
    remote: SocketAddr,
) -> Response<Full<Bytes>> {
    let request_headers = req.headers().clone();
    if let Some(pre) = state.cors.preflight(req.method(), req.headers()) {
        let (parts, ()) = pre.into_parts();
        return Response::from_parts(parts, Full::new(Bytes::new()));
    }
    let path = req.uri().path().to_string();
    let mut response = if path == "/health" && state.health {
        let body = serde_json::json!({
            "status": "ok",
            "version": env!("CARGO_PKG_VERSION"),
            "commit": env!("OPENPISTA_COMMIT"),
            "channels": state.channel_names(),
            "connections": state.hub.len(),
            "sessions": state.gateway.active_sessions(),
        });
        plain(StatusCode::OK, body.to_string(), "application/json")
    } else if let Some(access) = state.metrics.get().filter(|_| path == metrics::ROUTE) {
        if access.allows(remote, req.headers()) {
            metrics::respond()
        } else {
            metrics::refused()
        }
    } else if let Some(workers) = state
        .workers
        .get()
        .filter(|_| path == workers::ROUTE || path == workers::EVENTS_ROUTE)
    {
        if req.method() != http::Method::GET {
            plain(StatusCode::METHOD_NOT_ALLOWED, "GET only\n", "text/plain")
        } else if workers.access.allows(remote, req.headers()) {
            workers::respond(workers, &path, req.uri().query().unwrap_or("")).await
        } else {
            workers::refused()
        }
    } else if let Some(mcp) = state.mcp.get().filter(|_| path == MCP_ROUTE) {
        if state.cors.check(req.headers()) {
            mcp.handle(req).await.map(Full::new)
        } else {
            plain(
                StatusCode::FORBIDDEN,
                "{\"error\":\"origin not allowed (server.cors_origins)\"}",
                "application/json",
            )
        }
    } else if let Some(route) = state.route(&path) {
        if !state.cors.check(req.headers()) {
            plain(
                StatusCode::FORBIDDEN,
                "{\"error\":\"origin not allowed (server.cors_origins)\"}",
                "application/json",
            )
        } else if is_upgrade(&req) {
            let on_upgrade = hyper::upgrade::on(&mut req);
            upgrade(state.clone(), req, on_upgrade, route).await
        } else {
            channel_request(&state, req, route).await
        }
    } else if !state.serve_page {
        plain(StatusCode::NOT_FOUND, "not found\n", "text/plain")
    } else if path == pair_page::ROUTE && req.method() == http::Method::GET {
        pair_page::respond(&state, req.uri().query().unwrap_or("")).await
    } else if req.method() == http::Method::GET || req.method() == http::Method::HEAD {
        let header = |h| {
            req.headers()
                .get(h)
                .and_then(|v: &HeaderValue| v.to_str().ok())
        };
        match assets::respond(
            &path,
            header(http::header::ACCEPT_ENCODING),
            header(http::header::IF_NONE_MATCH),
        ) {
            Some(r) => r.map(Full::new),
            None => plain(StatusCode::NOT_FOUND, "not found\n", "text/plain"),
        }
    } else {
        plain(
            StatusCode::METHOD_NOT_ALLOWED,
            "method not allowed\n",
            "text/plain",
        )
    };
    state
        .cors
        .decorate(&request_headers, response.headers_mut());
    response
}

/// The request as the component sees it: its path is the route as the
/// channel declared it, then the query.
fn component_request(
    req: &http::request::Parts,
    declared: &str,
    body: Vec<u8>,
    extra: Option<(&str, String)>,
) -> HttpRequest {
    // The connection id header is the host's to set, never the client's.
    let mut headers: Vec<(String, String)> = req
        .headers
        .iter()
        .filter(|(k, _)| *k != "x-openpista-connection")
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    if let Some((k, v)) = extra {
        headers.push((k.to_string(), v));
    }
    HttpRequest {
        method: req.method.as_str().to_string(),
        path: match req.uri.query() {
            Some(q) => format!("{declared}?{q}"),
            None => declared.to_string(),
        },
        headers,
        body,
    }
}

fn component_response(
    response: crate::runtime::bindings::channel::exports::openpista::plugin::messenger::HttpResponse,
) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(response.body)));
    *r.status_mut() = StatusCode::from_u16(response.status).unwrap_or(StatusCode::BAD_GATEWAY);
    for (k, v) in response.headers {
        if let (Ok(k), Ok(v)) = (
            http::header::HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(&v),
        ) {
            r.headers_mut().append(k, v);
        }
    }
    r
}

fn component_failed(component: &str, e: crate::runtime::CallError) -> Response<Full<Bytes>> {
    tracing::warn!(component, "channel request failed: {e}");
    plain(
        StatusCode::BAD_GATEWAY,
        format!(
            "{{\"error\":{}}}",
            serde_json::Value::String(format!("{component}: {e}"))
        ),
        "application/json",
    )
}

/// A plain request on a channel route (a webhook, the web client's probe).
async fn channel_request(
    state: &Arc<ServerState>,
    req: Request<Incoming>,
    route: RouteEntry,
) -> Response<Full<Bytes>> {
    let RouteEntry {
        channel,
        driver,
        declared,
    } = route;
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(b) => b.to_bytes().to_vec(),
        Err(_) => {
            return plain(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("request body over {MAX_BODY} bytes\n"),
                "text/plain",
            );
        }
    };
    let request = component_request(&parts, &declared, body, None);
    match driver.handle_http(request).await {
        Ok((response, events)) => {
            for event in events {
                state.gateway.dispatch(
                    Origin::channel(&channel),
                    crate::gateway::Incoming::from_channel(&channel, event),
                );
            }
            component_response(response)
        }
        Err(e) => component_failed(driver.component(), e),
    }
}

/// A WebSocket upgrade: the component decides; on 101 the host completes
/// the handshake and runs the connection.
async fn upgrade(
    state: Arc<ServerState>,
    req: Request<Incoming>,
    on_upgrade: hyper::upgrade::OnUpgrade,
    route: RouteEntry,
) -> Response<Full<Bytes>> {
    let RouteEntry {
        channel,
        driver,
        declared,
    } = route;
    let key = req
        .headers()
        .get(http::header::SEC_WEBSOCKET_KEY)
        .map(|k| k.as_bytes().to_vec());
    let version_ok = req
        .headers()
        .get(http::header::SEC_WEBSOCKET_VERSION)
        .is_some_and(|v| v == "13");
    let (Some(key), true) = (key, version_ok) else {
        return plain(
            StatusCode::BAD_REQUEST,
            "a WebSocket upgrade needs Sec-WebSocket-Key and Sec-WebSocket-Version: 13\n",
            "text/plain",
        );
    };
    let id = state.hub.next_id();
    let (parts, _) = req.into_parts();
    let request = component_request(
        &parts,
        &declared,
        Vec::new(),
        Some(("x-openpista-connection", id.to_string())),
    );
    let (response, events) = match driver.handle_http(request).await {
        Ok(r) => r,
        Err(e) => return component_failed(driver.component(), e),
    };
    for event in events {
        state.gateway.dispatch(
            Origin::channel(&channel),
            crate::gateway::Incoming::from_channel(&channel, event),
        );
    }
    if response.status != 101 {
        return component_response(response);
    }
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = r.headers_mut();
    h.insert(http::header::UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(
        http::header::CONNECTION,
        HeaderValue::from_static("Upgrade"),
    );
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(&key);
    h.insert(
        http::header::SEC_WEBSOCKET_ACCEPT,
        HeaderValue::from_str(&accept).expect("base64 is a valid header"),
    );
    if let Some((_, protocol)) = response
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("sec-websocket-protocol"))
        && let Ok(v) = HeaderValue::from_str(protocol)
    {
        h.insert(http::header::SEC_WEBSOCKET_PROTOCOL, v);
    }
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => ws::run(state, driver, channel, id, upgraded).await,
            Err(e) => {
                tracing::debug!(id, "upgrade failed: {e}");
                let _ = driver.ws_closed(id).await;
            }
        }
    });
    r
}
