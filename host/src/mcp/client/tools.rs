//! The proxies the agent calls (`mcp.NAME.TOOL`, `mcp.NAME.resources`,
//! `mcp.NAME.read`) and the conversion of MCP results into what the model
//! reads: text blocks joined, structured content as JSON, images, audio and
//! binary resources as attachments, resource links as lines.
//!
//! Results are read from their wire form (JSON) rather than from the SDK's
//! enums, so a content type added to the protocol later arrives as a line
//! naming it instead of failing the call.

use super::{PromptInfo, ServerLink};
use crate::runtime::CallContext;
use crate::runtime::bindings::{Attachment, ToolResult, ToolSpec, WitError};
use crate::tools::{NativeTool, ToolSource};
use base64::Engine;
use rmcp::model::{CallToolRequestParams, GetPromptRequestParams, ReadResourceRequestParams};
use serde_json::{Map, Value, json};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};

/// Largest text a result hands the model; the rest is cut with a note.
const MAX_TEXT: usize = 256 * 1024;

/// A tool name's part from a server's name for it: letters, digits, `-`
/// and `_` (model APIs allow no more), anything else as `_`.
pub fn local_name(remote: &str) -> String {
    remote
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

type Call = fn(
    Arc<ServerLink>,
    String,
    Map<String, Value>,
) -> Pin<Box<dyn Future<Output = Result<ToolResult, WitError>> + Send>>;

/// One tool of one server, as the registry sees it.
struct McpTool {
    link: Weak<ServerLink>,
    spec: ToolSpec,
    /// The server's own name of the tool (or the resource URI key).
    remote: String,
    call: Call,
}

impl NativeTool for McpTool {
    fn spec(&self) -> ToolSpec {
        self.spec.clone()
    }

    fn invoke<'a>(
        &'a self,
        arguments: &'a str,
        _context: &'a CallContext,
    ) -> Pin<Box<dyn Future<Output = Result<ToolResult, WitError>> + Send + 'a>> {
        Box::pin(async move {
            let Some(link) = self.link.upgrade() else {
                return Err(WitError::Unavailable(format!(
                    "{}: the MCP client stopped",
                    self.spec.name
                )));
            };
            let arguments: Map<String, Value> = match arguments.trim() {
                "" => Map::new(),
                text => serde_json::from_str(text).map_err(|e| {
                    WitError::InvalidInput(format!(
                        "{}: arguments must be a JSON object: {e}",
                        self.spec.name
                    ))
                })?,
            };
            let timeout = link.timeout;
            match tokio::time::timeout(
                timeout,
                (self.call)(link.clone(), self.remote.clone(), arguments),
            )
            .await
            {
                Ok(result) => result,
                Err(_) => Err(WitError::Timeout(format!(
                    "{}: no answer from MCP server {} within {} s",
                    self.spec.name,
                    link.name,
                    timeout.as_secs()
                ))),
            }
        })
    }

    fn outside_sandbox(&self) -> bool {
        self.link.upgrade().is_some_and(|l| l.outside_sandbox)
    }

    fn source(&self) -> ToolSource {
        ToolSource::Mcp {
            server: self
                .link
                .upgrade()
                .map(|l| l.name.clone())
                .unwrap_or_default(),
        }
    }
}

/// The longest tool name model APIs take (OpenAI: 64).
const MAX_NAME: usize = 64;

/// A name for remote tool `remote` of server `server` not in `taken`: the
/// plain `mcp.SERVER.TOOL` when it is free and short enough, else a cut of
/// it with a hash of the remote name (so `a.b` and `a_b`, or two long
/// names, stay apart).
fn unique_name(server: &str, remote: &str, taken: &std::collections::HashSet<String>) -> String {
    let plain = format!("mcp.{server}.{}", local_name(remote));
    if plain.len() <= MAX_NAME && !taken.contains(&plain) {
        return plain;
    }
    use sha2::Digest;
    let hash = hex::encode(&sha2::Sha256::digest(remote.as_bytes())[..4]);
    // ASCII only (`local_name`, and server names are checked), so a byte
    // cut is a character cut; 9 = '-' and eight hex digits.
    let named = format!("{}-{hash}", &plain[..plain.len().min(MAX_NAME - 9)]);
    tracing::warn!("MCP server {server}: tool {remote:?} is offered as {named}");
    named
}

/// Proxies for the tools a server listed, after its resource tools when
/// it has resources (their names are reserved first).
pub fn proxies(
    link: &Arc<ServerLink>,
    listed: Vec<rmcp::model::Tool>,
    resources: bool,
) -> Vec<Arc<dyn NativeTool>> {
    let mut out: Vec<Arc<dyn NativeTool>> = if resources {
        resource_tools(link)
    } else {
        Vec::new()
    };
    let mut taken: std::collections::HashSet<String> = out.iter().map(|t| t.spec().name).collect();
    for tool in listed {
        let name = unique_name(&link.name, &tool.name, &taken);
        taken.insert(name.clone());
        let schema = Value::Object((*tool.input_schema).clone());
        let description = tool
            .description
            .as_deref()
            .or(tool.title.as_deref())
            .unwrap_or("")
            .to_string();
        out.push(Arc::new(McpTool {
            link: Arc::downgrade(link),
            spec: ToolSpec {
                name,
                description: format!("{description} (MCP server {})", link.name),
                parameters: schema.to_string(),
            },
            remote: tool.name.to_string(),
            call: |link, remote, arguments| Box::pin(call_tool(link, remote, arguments)),
        }));
    }
    out
}

/// `mcp.NAME.resources` and `mcp.NAME.read`, for a server with resources.
fn resource_tools(link: &Arc<ServerLink>) -> Vec<Arc<dyn NativeTool>> {
    let list = McpTool {
        link: Arc::downgrade(link),
        spec: ToolSpec {
            name: format!("mcp.{}.resources", link.name),
            description: format!(
                "Lists the resources (documents, files, data) MCP server {} offers: URI, name, \
                 type. Read one with mcp.{}.read.",
                link.name, link.name
            ),
            parameters: json!({"type": "object", "properties": {}}).to_string(),
        },
        remote: String::new(),
        call: |link, _, _| Box::pin(list_resources(link)),
    };
    let read = McpTool {
        link: Arc::downgrade(link),
        spec: ToolSpec {
            name: format!("mcp.{}.read", link.name),
            description: format!("Reads one resource of MCP server {} by its URI.", link.name),
            parameters: json!({
                "type": "object",
                "properties": {"uri": {"type": "string", "description": "The resource's URI"}},
                "required": ["uri"]
            })
            .to_string(),
        },
        remote: String::new(),
        call: |link, _, arguments| Box::pin(read_resource(link, arguments)),
    };
    vec![Arc::new(list), Arc::new(read)]
}

fn failed(link: &ServerLink, what: &str, e: rmcp::ServiceError) -> WitError {
    let message = format!("MCP server {}: {what} failed: {e}", link.name);
    let broken = matches!(
        e,
        rmcp::ServiceError::TransportSend(_) | rmcp::ServiceError::TransportClosed
    );
    link.note_error(&message, broken);
    WitError::Upstream(crate::runtime::bindings::UpstreamError {
        status: None,
        message,
    })
}

async fn call_tool(
    link: Arc<ServerLink>,
    remote: String,
    arguments: Map<String, Value>,
) -> Result<ToolResult, WitError> {
    let peer = link.peer().map_err(WitError::Unavailable)?;
    let result = peer
        .call_tool(CallToolRequestParams::new(remote).with_arguments(arguments))
        .await
        .map_err(|e| failed(&link, "tools/call", e))?;
    let wire = serde_json::to_value(&result).unwrap_or(Value::Null);
    Ok(tool_result(&wire))
}

async fn list_resources(link: Arc<ServerLink>) -> Result<ToolResult, WitError> {
    let peer = link.peer().map_err(WitError::Unavailable)?;
    let resources = peer
        .list_all_resources()
        .await
        .map_err(|e| failed(&link, "resources/list", e))?;
    let mut lines = Vec::new();
    for r in resources {
        let r = serde_json::to_value(&r).unwrap_or(Value::Null);
        let field = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let mime = field("mimeType");
        lines.push(format!(
            "{}  {}{}",
            field("uri"),
            field("name"),
            if mime.is_empty() {
                String::new()
            } else {
                format!(" ({mime})")
            }
        ));
    }
    Ok(text_result(if lines.is_empty() {
        "no resources".into()
    } else {
        lines.join("\n")
    }))
}

async fn read_resource(
    link: Arc<ServerLink>,
    arguments: Map<String, Value>,
) -> Result<ToolResult, WitError> {
    let Some(uri) = arguments.get("uri").and_then(Value::as_str) else {
        return Err(WitError::InvalidInput(format!(
            "mcp.{}.read: needs \"uri\" (a string)",
            link.name
        )));
    };
    let peer = link.peer().map_err(WitError::Unavailable)?;
    let read = peer
        .read_resource(ReadResourceRequestParams::new(uri))
        .await
        .map_err(|e| failed(&link, "resources/read", e))?;
    let wire = serde_json::to_value(&read).unwrap_or(Value::Null);
    let mut out = Collected::default();
    for item in wire
        .get("contents")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        out.resource(item);
    }
    Ok(out.finish(false))
}

/// A server's prompts, for `/prompt`.
pub fn prompt_infos(server: &str, prompts: Vec<rmcp::model::Prompt>) -> Vec<PromptInfo> {
    prompts
        .into_iter()
        .filter_map(|p| serde_json::to_value(&p).ok())
        .map(|p| PromptInfo {
            server: server.to_string(),
            name: p["name"].as_str().unwrap_or_default().to_string(),
            description: p["description"].as_str().map(str::to_string),
            arguments: p["arguments"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|a| {
                    (
                        a["name"].as_str().unwrap_or_default().to_string(),
                        a["required"].as_bool().unwrap_or(false),
                    )
                })
                .collect(),
        })
        .collect()
}

/// `/prompt` arguments: `key=value` words, or bare values taken in the
/// prompt's argument order. A missing required argument is an error that
/// names it.
pub fn prompt_arguments(prompt: &PromptInfo, text: &str) -> Result<Map<String, Value>, String> {
    let mut out = Map::new();
    let mut positional = prompt.arguments.iter().map(|(n, _)| n);
    for word in text.split_whitespace() {
        match word.split_once('=') {
            Some((k, v)) if prompt.arguments.iter().any(|(n, _)| n == k) => {
                out.insert(k.to_string(), Value::String(v.to_string()));
            }
            Some((k, _)) => {
                return Err(format!("prompt {} has no argument {k:?}", prompt.name));
            }
            None => {
                let Some(name) = positional.find(|n| !out.contains_key(*n)) else {
                    return Err(format!("prompt {} takes no more arguments", prompt.name));
                };
                out.insert(name.clone(), Value::String(word.to_string()));
            }
        }
    }
    for (name, required) in &prompt.arguments {
        if *required && !out.contains_key(name) {
            return Err(format!(
                "prompt {} needs {name} (/prompt {} {name}=VALUE)",
                prompt.name, prompt.name
            ));
        }
    }
    Ok(out)
}

/// The text of prompt `name` with `arguments`: its messages' text, joined.
pub async fn get_prompt(
    link: &Arc<ServerLink>,
    name: &str,
    arguments: Map<String, Value>,
) -> Result<String, String> {
    let peer = link.peer()?;
    let mut params = GetPromptRequestParams::new(name);
    if !arguments.is_empty() {
        params = params.with_arguments(arguments);
    }
    let result = tokio::time::timeout(link.timeout, peer.get_prompt(params))
        .await
        .map_err(|_| format!("MCP server {}: prompts/get timed out", link.name))?
        .map_err(|e| format!("MCP server {}: prompts/get failed: {e}", link.name))?;
    let wire = serde_json::to_value(&result).unwrap_or(Value::Null);
    let mut parts = Vec::new();
    for message in wire
        .get("messages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let content = &message["content"];
        let blocks: Vec<&Value> = match content.as_array() {
            Some(list) => list.iter().collect(),
            None => vec![content],
        };
        for block in blocks {
            if let Some(text) = block.get("text").and_then(Value::as_str) {
                parts.push(text.to_string());
            } else if let Some(text) = block.pointer("/resource/text").and_then(Value::as_str) {
                parts.push(text.to_string());
            }
        }
    }
    if parts.is_empty() {
        return Err(format!("prompt {name} has no text"));
    }
    Ok(parts.join("\n\n"))
}

fn text_result(text: String) -> ToolResult {
    ToolResult {
        content: text,
        is_error: false,
        attachments: Vec::new(),
    }
}

/// Text and files gathered from content blocks.
#[derive(Default)]
struct Collected {
    text: Vec<String>,
    attachments: Vec<Attachment>,
}

impl Collected {
    fn file(&mut self, mime: &str, data_b64: &str, name: Option<String>) {
        match base64::engine::general_purpose::STANDARD.decode(data_b64) {
            Ok(data) => {
                self.text.push(format!(
                    "[{} {}, {} bytes]",
                    mime.split('/').next().unwrap_or("file"),
                    name.clone().unwrap_or_else(|| mime.to_string()),
                    data.len()
                ));
                self.attachments.push(Attachment {
                    mime: mime.to_string(),
                    name,
                    data,
                });
            }
            Err(_) => self
                .text
                .push(format!("[{mime} content that is not base64]")),
        }
    }

    fn resource(&mut self, r: &Value) {
        let uri = r.get("uri").and_then(Value::as_str).map(str::to_string);
        let mime = r
            .get("mimeType")
            .and_then(Value::as_str)
            .unwrap_or("application/octet-stream");
        if let Some(text) = r.get("text").and_then(Value::as_str) {
            self.text.push(text.to_string());
        } else if let Some(blob) = r.get("blob").and_then(Value::as_str) {
            let name = uri.map(|u| u.rsplit('/').next().unwrap_or(&u).to_string());
            self.file(mime, blob, name);
        }
    }

    fn block(&mut self, block: &Value) {
        let kind = block.get("type").and_then(Value::as_str).unwrap_or("");
        let str_of = |k: &str| block.get(k).and_then(Value::as_str);
        match kind {
            "text" => self.text.push(str_of("text").unwrap_or("").to_string()),
            "image" | "audio" => self.file(
                str_of("mimeType").unwrap_or("application/octet-stream"),
                str_of("data").unwrap_or(""),
                None,
            ),
            "resource" => {
                if let Some(r) = block.get("resource") {
                    self.resource(r);
                }
            }
            "resource_link" => self.text.push(format!(
                "[resource {}: {}]",
                str_of("name").unwrap_or(""),
                str_of("uri").unwrap_or("")
            )),
            other => self.text.push(format!("[{other} content]")),
        }
    }

    fn finish(self, is_error: bool) -> ToolResult {
        let mut content = self.text.join("\n");
        if content.len() > MAX_TEXT {
            let mut cut = MAX_TEXT;
            while !content.is_char_boundary(cut) {
                cut -= 1;
            }
            content.truncate(cut);
            content.push_str("\n[cut: the result was longer]");
        }
        ToolResult {
            content,
            is_error,
            attachments: self.attachments,
        }
    }
}

/// A `tools/call` result as the model reads it.
pub fn tool_result(wire: &Value) -> ToolResult {
    let mut out = Collected::default();
    for block in wire
        .get("content")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        out.block(block);
    }
    if let Some(structured) = wire.get("structuredContent") {
        let json = structured.to_string();
        // Servers often send the same JSON as text too; say it once.
        if !out.text.iter().any(|t| t.trim() == json) {
            out.text.push(format!("structured content: {json}"));
        }
    }
    let is_error = wire
        .get("isError")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    out.finish(is_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_keep_what_model_apis_accept() {
        assert_eq!(local_name("get-sum"), "get-sum");
        assert_eq!(local_name("a.b/c d"), "a_b_c_d");
        let mut taken = std::collections::HashSet::new();
        let first = unique_name("s", "a.b", &taken);
        assert_eq!(first, "mcp.s.a_b");
        taken.insert(first.clone());
        let second = unique_name("s", "a_b", &taken);
        assert_ne!(second, first);
        assert!(second.starts_with("mcp.s.a_b-"), "{second}");
        taken.insert("mcp.s.read".into());
        assert_ne!(unique_name("s", "read", &taken), "mcp.s.read");
        let long = "x".repeat(100);
        let cut = unique_name("server", &long, &taken);
        assert!(cut.len() <= MAX_NAME, "{cut}");
        assert_ne!(cut, unique_name("server", &format!("{long}y"), &taken));
    }

    #[test]
    fn results_become_text_and_files() {
        let png = base64::engine::general_purpose::STANDARD.encode(b"\x89PNG");
        let wire = json!({
            "content": [
                {"type": "text", "text": "hello"},
                {"type": "image", "data": png, "mimeType": "image/png"},
                {"type": "resource_link", "uri": "demo://1", "name": "one"},
                {"type": "resource", "resource": {"uri": "demo://t", "text": "inside"}},
                {"type": "hologram"}
            ],
            "structuredContent": {"sum": 3},
            "isError": true
        });
        let r = tool_result(&wire);
        assert!(r.is_error);
        assert_eq!(r.attachments.len(), 1);
        assert_eq!(r.attachments[0].data, b"\x89PNG");
        for part in [
            "hello",
            "[image image/png, 4 bytes]",
            "[resource one: demo://1]",
            "inside",
            "[hologram content]",
            "structured content: {\"sum\":3}",
        ] {
            assert!(r.content.contains(part), "{part} in {}", r.content);
        }
    }

    #[test]
    fn structured_content_said_once_when_the_text_is_the_same() {
        let wire = json!({
            "content": [{"type": "text", "text": "{\"sum\":3}"}],
            "structuredContent": {"sum": 3}
        });
        assert_eq!(tool_result(&wire).content, "{\"sum\":3}");
    }

    #[test]
    fn prompt_arguments_by_name_or_order() {
        let p = PromptInfo {
            server: "s".into(),
            name: "greet".into(),
            description: None,
            arguments: vec![("city".into(), true), ("state".into(), false)],
        };
        let args = prompt_arguments(&p, "Paris state=IDF").unwrap();
        assert_eq!(args["city"], "Paris");
        assert_eq!(args["state"], "IDF");
        assert!(prompt_arguments(&p, "").unwrap_err().contains("needs city"));
        assert!(
            prompt_arguments(&p, "x=1")
                .unwrap_err()
                .contains("no argument")
        );
        assert!(
            prompt_arguments(&p, "a b c")
                .unwrap_err()
                .contains("no more")
        );
    }
}
