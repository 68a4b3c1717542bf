//! openpista as an MCP server: the component tools (sandboxed,
//! capability-limited) and the native tools the operator lists in
//! `[mcp.serve] native_tools`, for editors and other agents.
//!
//! Two doors: `openpista mcp serve` (stdio, for a client that starts it)
//! and `/mcp` on the listener (streamable HTTP, stateless, only with the
//! bearer token `[mcp.serve] token` sets; compared in constant time).
//! Tool schemas are the components' own specs.

use crate::runtime::CallContext;
use crate::runtime::bindings::{ToolResult, error_text};
use crate::tools::{ToolRegistry, ToolSource};
use base64::Engine;
use bytes::Bytes;
use http_body_util::BodyExt;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    InitializeResult, ListToolsResult, PaginatedRequestParams, ServerCapabilities, Tool,
};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, ServerHandler};
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The tools an MCP client may call here.
#[derive(Clone)]
pub struct ToolServer {
    registry: Arc<ToolRegistry>,
    /// Native tools the operator chose to expose.
    natives: Arc<BTreeSet<String>>,
    /// Which door: `stdio` or `http`, for the call's session name.
    door: &'static str,
    calls: Arc<AtomicU64>,
}

impl ToolServer {
    pub fn new(registry: Arc<ToolRegistry>, natives: &[String], door: &'static str) -> ToolServer {
        ToolServer {
            registry,
            natives: Arc::new(natives.iter().cloned().collect()),
            door,
            calls: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Whether a tool of the registry is offered here.
    fn exposed(&self, name: &str, source: &ToolSource) -> bool {
        match source {
            ToolSource::Component { .. } => true,
            ToolSource::Native => self.natives.contains(name),
            ToolSource::Skill { .. } | ToolSource::Mcp { .. } => false,
        }
    }

    /// The offered tools in MCP's form.
    pub fn tools(&self) -> Vec<Tool> {
        self.registry
            .list()
            .into_iter()
            .filter(|e| self.exposed(&e.spec.name, &e.source))
            .map(|e| {
                let schema = match serde_json::from_str::<Value>(&e.spec.parameters) {
                    Ok(Value::Object(o)) => o,
                    _ => serde_json::Map::from_iter([("type".into(), Value::from("object"))]),
                };
                Tool::new(e.spec.name, e.spec.description, Arc::new(schema))
            })
            .collect()
    }

    async fn call(
        &self,
        name: &str,
        arguments: Option<serde_json::Map<String, Value>>,
    ) -> CallToolResult {
        let offered = self
            .registry
            .list()
            .into_iter()
            .any(|e| e.spec.name == name && self.exposed(name, &e.source));
        if !offered {
            return CallToolResult::error(vec![ContentBlock::text(format!(
                "no tool {name} is offered here"
            ))]);
        }
        let arguments = Value::Object(arguments.unwrap_or_default()).to_string();
        let n = self.calls.fetch_add(1, Ordering::Relaxed);
        let context = CallContext {
            session: Some(format!("mcp:{}", self.door)),
            call_id: format!("mcp-{n}"),
        };
        match self.registry.invoke(name, &arguments, &context).await {
            Ok(result) => to_mcp(result),
            Err(e) => CallToolResult::error(vec![ContentBlock::text(match e {
                crate::runtime::CallError::Guest(w) => error_text(&w),
                other => other.to_string(),
            })]),
        }
    }
}

/// A tool result in MCP's form: the text, images as image content, other
/// files as embedded binary resources.
fn to_mcp(result: ToolResult) -> CallToolResult {
    let mut content = vec![ContentBlock::text(result.content)];
    for a in result.attachments {
        let data = base64::engine::general_purpose::STANDARD.encode(&a.data);
        if a.mime.starts_with("image/") {
            content.push(ContentBlock::image(data, a.mime));
        } else {
            let uri = format!("attachment:///{}", a.name.unwrap_or_else(|| "file".into()));
            content.push(ContentBlock::resource(
                rmcp::model::ResourceContents::blob(data, uri).with_mime_type(a.mime),
            ));
        }
    }
    if result.is_error {
        CallToolResult::error(content)
    } else {
        CallToolResult::success(content)
    }
}

impl ServerHandler for ToolServer {
    fn get_info(&self) -> InitializeResult {
        InitializeResult::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("openpista", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "openpista's tools: each runs in a sandboxed WebAssembly component that \
                 reaches only what its manifest declares and the operator granted.",
            )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(self.tools()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        Ok(self.call(&request.name, request.arguments).await.into())
    }
}

/// Serves MCP on this process's stdin and stdout until the client
/// closes them.
pub async fn serve_stdio(server: ToolServer) -> anyhow::Result<()> {
    use rmcp::ServiceExt;
    let running = server
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| anyhow::anyhow!("MCP handshake on stdio failed: {e}"))?;
    running.waiting().await?;
    Ok(())
}

/// `/mcp` on the listener: streamable HTTP, stateless, JSON answers,
/// behind the operator's bearer token.
pub struct HttpEndpoint {
    service: StreamableHttpService<ToolServer, NeverSessionManager>,
    token: String,
}

/// Largest request body `/mcp` reads.
const MAX_BODY: usize = 4 * 1024 * 1024;

impl HttpEndpoint {
    pub fn new(server: ToolServer, token: String) -> HttpEndpoint {
        let config = StreamableHttpServerConfig::default()
            .with_legacy_session_mode(false)
            .with_json_response(true)
            .with_sse_keep_alive(None)
            // The listener checks the origin (as for every route) and the
            // token; the host header is whatever name the operator
            // reaches it by.
            .disable_allowed_hosts()
            .with_max_request_body_bytes(MAX_BODY);
        let service = StreamableHttpService::new(
            move || Ok(server.clone()),
            Arc::new(NeverSessionManager::default()),
            config,
        );
        HttpEndpoint { service, token }
    }

    /// Whether `authorization` carries the token.
    fn authorised(&self, authorization: Option<&http::HeaderValue>) -> bool {
        let Some(given) = authorization
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
        else {
            return false;
        };
        crate::runtime::secrets::constant_time_eq(given.trim().as_bytes(), self.token.as_bytes())
    }

    /// Answers one request; the whole answer is read (the service is
    /// stateless: a response stream ends with the request's answer).
    pub async fn handle<B>(&self, request: http::Request<B>) -> http::Response<Bytes>
    where
        B: hyper::body::Body + Send + 'static,
        B::Data: Send,
        B::Error: std::fmt::Display,
    {
        if !self.authorised(request.headers().get(http::header::AUTHORIZATION)) {
            let mut r = http::Response::new(Bytes::from_static(
                b"{\"error\":\"missing or wrong bearer token ([mcp.serve] token)\"}",
            ));
            *r.status_mut() = http::StatusCode::UNAUTHORIZED;
            r.headers_mut().insert(
                http::header::WWW_AUTHENTICATE,
                http::HeaderValue::from_static("Bearer"),
            );
            return r;
        }
        let response = self.service.handle(request).await;
        let (parts, body) = response.into_parts();
        let bytes = match body.collect().await {
            Ok(c) => c.to_bytes(),
            Err(never) => match never {},
        };
        http::Response::from_parts(parts, bytes)
    }
}
