//! A local stand-in for Anthropic's Messages API (`POST /v1/messages`).
//!
//! It listens on 127.0.0.1 (a random port), answers from a queue of
//! scripted [`Reply`]s and records every request it receives. Like the real
//! service it checks what it is sent before answering, with the same error
//! shapes (`{"type":"error","error":{"type":...,"message":...}}`):
//!
//! - neither `x-api-key` nor `Authorization: Bearer` with
//!   `anthropic-beta: oauth-2025-04-20` (a subscription token) → 401
//!   `authentication_error`;
//! - `anthropic-version` missing, a body that is not JSON, `model` or
//!   `max_tokens` missing, a `system` role inside `messages`, an invalid
//!   tool name, an empty text block, a `tool_use` not answered by
//!   `tool_result` blocks at the start of the next message (or a result
//!   answering nothing) → 400 `invalid_request_error`;
//! - another path → 404 `not_found_error`.
//!
//! A request that fails these checks does not use up a scripted reply. With
//! the queue empty the double answers 500 `api_error` saying so.
//!
//! Streams ([`Reply::Sse`]) go out as `text/event-stream` with chunked
//! transfer encoding, one `event:` / `data:` pair per event, each event
//! split over two chunks (so a client must reassemble lines).

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One scripted answer.
#[derive(Clone, Debug)]
pub enum Reply {
    /// 200 with this JSON body (a `message` object, normally).
    Json(Value),
    /// 200 `text/event-stream`: these `(event, data)` pairs, in order.
    Sse(Vec<(String, Value)>),
    /// Any status with these headers and this body (sent as JSON when it
    /// is not a string).
    Status {
        status: u16,
        headers: Vec<(String, String)>,
        body: Value,
    },
    /// 200 `text/event-stream` whose body is exactly these bytes (chunked):
    /// for malformed streams.
    Raw(Vec<u8>),
}

impl Reply {
    /// A stream of these `(event, data)` pairs.
    pub fn sse(events: &[(&str, Value)]) -> Reply {
        Reply::Sse(
            events
                .iter()
                .map(|(e, d)| (e.to_string(), d.clone()))
                .collect(),
        )
    }

    /// An error answer of Anthropic's shape.
    pub fn error(status: u16, kind: &str, message: &str) -> Reply {
        Reply::Status {
            status,
            headers: Vec::new(),
            body: error_body(kind, message),
        }
    }

    /// 429 `rate_limit_error` with `retry-after: SECS`.
    pub fn rate_limited(retry_after_secs: u64) -> Reply {
        Reply::Status {
            status: 429,
            headers: vec![("retry-after".into(), retry_after_secs.to_string())],
            body: error_body(
                "rate_limit_error",
                "This request would exceed the rate limit for your organization. \
                 Please try again later.",
            ),
        }
    }

    /// 529 `overloaded_error`, as Anthropic answers under load.
    pub fn overloaded() -> Reply {
        Reply::error(529, "overloaded_error", "Overloaded")
    }

    /// 401 `authentication_error`, the answer to a wrong key.
    pub fn unauthorized() -> Reply {
        Reply::error(401, "authentication_error", "invalid x-api-key")
    }
}

/// Anthropic's error body.
pub fn error_body(kind: &str, message: &str) -> Value {
    json!({ "type": "error", "error": { "type": kind, "message": message } })
}

/// A complete `message` answer with these content blocks.
pub fn message(content: Value, stop_reason: &str, input_tokens: u32, output_tokens: u32) -> Value {
    json!({
        "id": "msg_double_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-test",
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": null,
        "usage": { "input_tokens": input_tokens, "output_tokens": output_tokens },
    })
}

/// A plain text answer.
pub fn text_message(text: &str) -> Value {
    message(json!([{ "type": "text", "text": text }]), "end_turn", 10, 3)
}

/// The events of a streamed answer, built block by block.
#[derive(Clone, Debug, Default)]
pub struct StreamBuilder {
    events: Vec<(String, Value)>,
    blocks: u64,
}

impl StreamBuilder {
    /// `message_start` (with these input tokens) and a `ping`.
    pub fn new(input_tokens: u32) -> Self {
        let mut s = StreamBuilder::default();
        s.push(
            "message_start",
            json!({"type": "message_start", "message": {
                "id": "msg_double_s", "type": "message", "role": "assistant", "content": [],
                "model": "claude-test", "stop_reason": null, "stop_sequence": null,
                "usage": {"input_tokens": input_tokens, "output_tokens": 1},
            }}),
        );
        s.push("ping", json!({"type": "ping"}));
        s
    }

    fn push(&mut self, event: &str, data: Value) {
        self.events.push((event.to_string(), data));
    }

    /// A text block sent in these pieces.
    pub fn text(mut self, pieces: &[&str]) -> Self {
        let index = self.blocks;
        self.blocks += 1;
        self.push(
            "content_block_start",
            json!({"type": "content_block_start", "index": index,
                   "content_block": {"type": "text", "text": ""}}),
        );
        for piece in pieces {
            self.push(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": index,
                       "delta": {"type": "text_delta", "text": piece}}),
            );
        }
        self.push(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": index}),
        );
        self
    }

    /// A `tool_use` block whose input JSON is sent in these pieces.
    pub fn tool_use(mut self, id: &str, name: &str, json_pieces: &[&str]) -> Self {
        let index = self.blocks;
        self.blocks += 1;
        self.push(
            "content_block_start",
            json!({"type": "content_block_start", "index": index,
                   "content_block": {"type": "tool_use", "id": id, "name": name, "input": {}}}),
        );
        // Anthropic starts the input with an empty piece.
        self.push(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": index,
                   "delta": {"type": "input_json_delta", "partial_json": ""}}),
        );
        for piece in json_pieces {
            self.push(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": index,
                       "delta": {"type": "input_json_delta", "partial_json": piece}}),
            );
        }
        self.push(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": index}),
        );
        self
    }

    /// `message_delta` (stop reason, output tokens) and `message_stop`.
    pub fn finish(mut self, stop_reason: &str, output_tokens: u32) -> Reply {
        self.push(
            "message_delta",
            json!({"type": "message_delta",
                   "delta": {"stop_reason": stop_reason, "stop_sequence": null},
                   "usage": {"output_tokens": output_tokens}}),
        );
        self.push("message_stop", json!({"type": "message_stop"}));
        Reply::Sse(self.events)
    }

    /// The events so far, without an ending (a stream that breaks off).
    pub fn unfinished(self) -> Reply {
        Reply::Sse(self.events)
    }
}

/// A request the double received.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// Names lowercase, in the order received.
    pub headers: Vec<(String, String)>,
    /// The body parsed as JSON (`Null` when it is not JSON).
    pub body: Value,
    pub raw_body: Vec<u8>,
    /// When the request had been read completely.
    pub at: Instant,
    /// The status the double answered with.
    pub status: u16,
}

impl Recorded {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct Shared {
    replies: VecDeque<Reply>,
    requests: Vec<Recorded>,
    /// What `GET /v1/models` lists, newest first as the API orders them.
    models: Vec<String>,
}

/// The running double; it stops when dropped.
pub struct AnthropicDouble {
    pub addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for AnthropicDouble {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl AnthropicDouble {
    /// Starts a double on 127.0.0.1 with an empty reply queue.
    pub async fn start() -> AnthropicDouble {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Mutex::new(Shared::default()));
        let state = shared.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = state.clone();
                tokio::spawn(async move {
                    let _ = serve(stream, state).await;
                });
            }
        });
        AnthropicDouble { addr, shared, task }
    }

    /// Starts a double with these replies queued.
    pub async fn with_replies(replies: impl IntoIterator<Item = Reply>) -> AnthropicDouble {
        let double = AnthropicDouble::start().await;
        for reply in replies {
            double.push(reply);
        }
        double
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// What to put in the provider's `base_url`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.port())
    }

    /// Queues a reply.
    pub fn push(&self, reply: Reply) {
        self.shared.lock().unwrap().replies.push_back(reply);
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.lock().unwrap().requests.clone()
    }

    /// The models `GET /v1/models` lists (in pages, as the API does).
    pub fn set_models(&self, ids: &[&str]) {
        self.shared.lock().unwrap().models = ids.iter().map(|s| s.to_string()).collect();
    }

    /// Replies not used yet.
    pub fn remaining(&self) -> usize {
        self.shared.lock().unwrap().replies.len()
    }
}

/// A request head and body as read from the socket.
struct Incoming {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Incoming {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

async fn read_request(stream: &mut TcpStream) -> std::io::Result<Option<Incoming>> {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 8192];
    let head_end = loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos;
        }
        let n = stream.read(&mut tmp).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&tmp[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut rest = buf[head_end + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or("").split(' ');
    let method = first.next().unwrap_or("").to_string();
    let path = first.next().unwrap_or("").to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut incoming = Incoming {
        method,
        path,
        headers,
        body: Vec::new(),
    };
    let chunked = incoming
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        // Read until the terminating zero-length chunk, then decode.
        while !rest.windows(5).any(|w| w == b"0\r\n\r\n") {
            let n = stream.read(&mut tmp).await?;
            if n == 0 {
                break;
            }
            rest.extend_from_slice(&tmp[..n]);
        }
        incoming.body = decode_chunked(&rest);
    } else {
        let length: usize = incoming
            .header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        while rest.len() < length {
            let n = stream.read(&mut tmp).await?;
            if n == 0 {
                break;
            }
            rest.extend_from_slice(&tmp[..n]);
        }
        rest.truncate(length);
        incoming.body = rest;
    }
    Ok(Some(incoming))
}

fn decode_chunked(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(line_end) = data.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size_text = String::from_utf8_lossy(&data[..line_end]);
        let size_text = size_text.split(';').next().unwrap_or("").trim().to_string();
        let Ok(size) = usize::from_str_radix(&size_text, 16) else {
            return out;
        };
        data = &data[line_end + 2..];
        if size == 0 || data.len() < size {
            return out;
        }
        out.extend_from_slice(&data[..size]);
        data = data.get(size + 2..).unwrap_or(&[]);
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        529 => "Overloaded",
        _ => "Status",
    }
}

async fn write_whole(
    stream: &mut TcpStream,
    status: u16,
    headers: &[(String, String)],
    content_type: &str,
    body: &[u8],
) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {status} {}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\
         request-id: req_double\r\nconnection: close\r\n",
        reason(status),
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    stream.flush().await
}

async fn write_stream(stream: &mut TcpStream, pieces: Vec<Vec<u8>>) -> std::io::Result<()> {
    stream
        .write_all(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\n\
              cache-control: no-cache\r\ntransfer-encoding: chunked\r\n\
              request-id: req_double\r\nconnection: close\r\n\r\n",
        )
        .await?;
    stream.flush().await?;
    for piece in pieces.into_iter().filter(|p| !p.is_empty()) {
        let mut chunk = format!("{:x}\r\n", piece.len()).into_bytes();
        chunk.extend_from_slice(&piece);
        chunk.extend_from_slice(b"\r\n");
        stream.write_all(&chunk).await?;
        stream.flush().await?;
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    stream.write_all(b"0\r\n\r\n").await?;
    stream.flush().await
}

async fn serve(mut stream: TcpStream, state: Arc<Mutex<Shared>>) -> std::io::Result<()> {
    let Some(incoming) = read_request(&mut stream).await? else {
        return Ok(());
    };
    let body_json: Value = serde_json::from_slice(&incoming.body).unwrap_or(Value::Null);
    let listing = incoming.method == "GET" && incoming.path.split('?').next() == Some("/v1/models");
    let checked = match listing {
        true => check_auth(&incoming),
        false => check(&incoming, &body_json),
    };
    let reply = match checked {
        Ok(()) if listing => {
            let models = state.lock().unwrap().models.clone();
            models_page(&models, &incoming.path)
        }
        Err((status, kind, message)) => Reply::error(status, kind, &message),
        Ok(()) => state
            .lock()
            .unwrap()
            .replies
            .pop_front()
            .unwrap_or_else(|| {
                Reply::error(
                    500,
                    "api_error",
                    "test double: no scripted reply left for this request",
                )
            }),
    };
    let status = match &reply {
        Reply::Status { status, .. } => *status,
        _ => 200,
    };
    state.lock().unwrap().requests.push(Recorded {
        method: incoming.method.clone(),
        path: incoming.path.clone(),
        headers: incoming.headers.clone(),
        body: body_json,
        raw_body: incoming.body.clone(),
        at: Instant::now(),
        status,
    });
    match reply {
        Reply::Json(value) => {
            write_whole(
                &mut stream,
                200,
                &[],
                "application/json",
                value.to_string().as_bytes(),
            )
            .await?
        }
        Reply::Status {
            status,
            headers,
            body,
        } => {
            let (content_type, bytes) = match body {
                Value::String(text) => ("text/plain; charset=utf-8", text.into_bytes()),
                other => ("application/json", other.to_string().into_bytes()),
            };
            write_whole(&mut stream, status, &headers, content_type, &bytes).await?
        }
        Reply::Sse(events) => {
            let mut pieces = Vec::new();
            for (event, data) in events {
                let text = format!("event: {event}\ndata: {data}\n\n").into_bytes();
                // Split every event in two, mid-line, as networks do.
                let cut = text.len() / 2;
                pieces.push(text[..cut].to_vec());
                pieces.push(text[cut..].to_vec());
            }
            write_stream(&mut stream, pieces).await?
        }
        Reply::Raw(bytes) => write_stream(&mut stream, vec![bytes]).await?,
    }
    let _ = stream.shutdown().await;
    Ok(())
}

type Refusal = (u16, &'static str, String);

fn invalid(message: impl Into<String>) -> Refusal {
    (400, "invalid_request_error", message.into())
}

/// One page of the Models API: `limit` (default 20, at most 1000) models
/// after `after_id`, with `has_more`, `first_id` and `last_id`.
fn models_page(models: &[String], path: &str) -> Reply {
    let query: HashMap<&str, &str> = path
        .split_once('?')
        .map(|(_, q)| q.split('&').filter_map(|p| p.split_once('=')).collect())
        .unwrap_or_default();
    let limit = match query.get("limit").map(|l| l.parse::<usize>()) {
        None => 20,
        Some(Ok(n)) if (1..=1000).contains(&n) => n,
        Some(_) => {
            return Reply::error(
                400,
                "invalid_request_error",
                "limit: Input should be greater than or equal to 1 and less than or equal to 1000",
            );
        }
    };
    let start = match query.get("after_id") {
        Some(after) => match models.iter().position(|m| m == after) {
            Some(i) => i + 1,
            None => {
                return Reply::error(404, "not_found_error", &format!("model: {after}"));
            }
        },
        None => 0,
    };
    let page: Vec<&String> = models.iter().skip(start).take(limit).collect();
    Reply::Json(json!({
        "data": page.iter().map(|id| json!({
            "type": "model",
            "id": id,
            "display_name": id,
            "created_at": "2025-01-01T00:00:00Z",
        })).collect::<Vec<_>>(),
        "has_more": start + page.len() < models.len(),
        "first_id": page.first(),
        "last_id": page.last(),
    }))
}

/// The checks the real service makes before it answers.
fn check(request: &Incoming, body: &Value) -> Result<(), Refusal> {
    if request.method != "POST" || request.path.split('?').next() != Some("/v1/messages") {
        return Err((
            404,
            "not_found_error",
            format!("Not found: {} {}", request.method, request.path),
        ));
    }
    check_auth(request)?;
    check_body(body)
}

/// The key (or a subscription token with its beta flag) and the version.
fn check_auth(request: &Incoming) -> Result<(), Refusal> {
    let bearer = request
        .header("authorization")
        .and_then(|a| a.strip_prefix("Bearer "))
        .filter(|t| !t.is_empty());
    match (
        request.header("x-api-key").filter(|k| !k.is_empty()),
        bearer,
    ) {
        (Some(_), _) => {}
        // A subscription (OAuth) token is taken only with its beta flag.
        (None, Some(_)) if request.header("anthropic-beta") == Some("oauth-2025-04-20") => {}
        (None, Some(_)) => {
            return Err((
                401,
                "authentication_error",
                "OAuth authentication is currently not supported.".into(),
            ));
        }
        (None, None) => {
            return Err((
                401,
                "authentication_error",
                "x-api-key header is required".into(),
            ));
        }
    }
    if request.header("anthropic-version").is_none() {
        return Err(invalid("anthropic-version: header is required"));
    }
    Ok(())
}

/// The body of `POST /v1/messages`.
fn check_body(body: &Value) -> Result<(), Refusal> {
    let Some(obj) = body.as_object() else {
        return Err(invalid("The request body is not valid JSON."));
    };
    if !obj.get("model").is_some_and(Value::is_string) {
        return Err(invalid("model: Field required"));
    }
    match obj.get("max_tokens").map(Value::as_u64) {
        None => return Err(invalid("max_tokens: Field required")),
        Some(Some(n)) if n >= 1 => {}
        Some(_) => {
            return Err(invalid(
                "max_tokens: Input should be a valid integer greater than or equal to 1",
            ));
        }
    }
    if let Some(system) = obj.get("system")
        && !(system.is_string() || system.is_array())
    {
        return Err(invalid("system: Input should be a valid string or list"));
    }
    if let Some(tools) = obj.get("tools") {
        let tools = tools
            .as_array()
            .ok_or_else(|| invalid("tools: Input should be a valid list"))?;
        let mut seen = HashSet::new();
        for (i, tool) in tools.iter().enumerate() {
            let name = tool.get("name").and_then(Value::as_str).unwrap_or("");
            let valid = (1..=64).contains(&name.len())
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if !valid {
                return Err(invalid(format!(
                    "tools.{i}.custom.name: String should match pattern '^[a-zA-Z0-9_-]{{1,64}}$'"
                )));
            }
            if !seen.insert(name.to_string()) {
                return Err(invalid("tools: Tool names must be unique."));
            }
            if tool.get("input_schema").and_then(|s| s.get("type")) != Some(&json!("object")) {
                return Err(invalid(format!(
                    "tools.{i}.custom.input_schema.type: Input should be 'object'"
                )));
            }
        }
    }
    let messages = obj
        .get("messages")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid("messages: Field required"))?;
    let mut open_tool_uses: Vec<String> = Vec::new();
    for (i, message) in messages.iter().enumerate() {
        let role = message.get("role").and_then(Value::as_str).unwrap_or("");
        if role != "user" && role != "assistant" {
            return Err(invalid(format!(
                "messages.{i}.role: Input should be 'user' or 'assistant'{}",
                if role == "system" {
                    "; the Messages API accepts a top-level `system` parameter, not \"system\" \
                     as an input message role"
                } else {
                    ""
                }
            )));
        }
        let blocks: Vec<Value> = match message.get("content") {
            Some(Value::String(text)) => vec![json!({"type": "text", "text": text})],
            Some(Value::Array(blocks)) => blocks.clone(),
            _ => return Err(invalid(format!("messages.{i}.content: Field required"))),
        };
        if blocks.is_empty() {
            return Err(invalid(format!(
                "messages.{i}: all messages must have non-empty content"
            )));
        }
        // Results owed by the previous assistant turn come first here.
        if !open_tool_uses.is_empty() {
            let leading: HashSet<&str> = blocks
                .iter()
                .take_while(|b| b.get("type") == Some(&json!("tool_result")))
                .filter_map(|b| b.get("tool_use_id").and_then(Value::as_str))
                .collect();
            let missing: Vec<&str> = open_tool_uses
                .iter()
                .map(String::as_str)
                .filter(|id| role != "user" || !leading.contains(id))
                .collect();
            if !missing.is_empty() {
                return Err(invalid(format!(
                    "messages.{i}: `tool_use` ids were found without `tool_result` blocks \
                     immediately after: {}. Each `tool_use` block must have a corresponding \
                     `tool_result` block in the next message.",
                    missing.join(", ")
                )));
            }
        }
        let answered: Vec<String> = std::mem::take(&mut open_tool_uses);
        for (j, block) in blocks.iter().enumerate() {
            let kind = block.get("type").and_then(Value::as_str).unwrap_or("");
            match (kind, role) {
                ("text", _) => {
                    if block
                        .get("text")
                        .and_then(Value::as_str)
                        .is_none_or(str::is_empty)
                    {
                        return Err(invalid(format!(
                            "messages.{i}.content.{j}.text: text content blocks must be non-empty"
                        )));
                    }
                }
                ("image" | "document", "user") => {}
                ("tool_use", "assistant") => {
                    let id = block.get("id").and_then(Value::as_str).unwrap_or("");
                    if id.is_empty() || !block.get("input").is_some_and(Value::is_object) {
                        return Err(invalid(format!(
                            "messages.{i}.content.{j}: tool_use needs an id and an input object"
                        )));
                    }
                    // The API's pattern for ids (others' ids, such as
                    // `functions.x:0`, are refused).
                    if !id
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                    {
                        return Err(invalid(format!(
                            "messages.{i}.content.{j}.tool_use.id: String should match \
                             pattern '^[a-zA-Z0-9_-]+$'"
                        )));
                    }
                    open_tool_uses.push(id.to_string());
                }
                ("tool_result", "user") => {
                    let id = block
                        .get("tool_use_id")
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    if !answered.iter().any(|a| a == id) {
                        return Err(invalid(format!(
                            "messages.{i}.content.{j}: unexpected `tool_use_id` found in \
                             `tool_result` blocks: {id}. Each `tool_result` block must have a \
                             corresponding `tool_use` block in the previous message."
                        )));
                    }
                }
                _ => {
                    return Err(invalid(format!(
                        "messages.{i}.content.{j}: a `{kind}` block is not allowed in a `{role}` \
                         message"
                    )));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(body: Value) -> Result<(), Refusal> {
        let incoming = Incoming {
            method: "POST".into(),
            path: "/v1/messages".into(),
            headers: vec![
                ("x-api-key".into(), "k".into()),
                ("anthropic-version".into(), "2023-06-01".into()),
            ],
            body: Vec::new(),
        };
        check(&incoming, &body)
    }

    fn with(messages: Value) -> Value {
        json!({"model": "m", "max_tokens": 10, "messages": messages})
    }

    #[test]
    fn checks_like_the_service() {
        let tool_use = json!({"role": "assistant", "content": [
            {"type": "tool_use", "id": "t1", "name": "a", "input": {}},
            {"type": "tool_use", "id": "t2", "name": "b", "input": {}},
        ]});
        let result = |id: &str| json!({"type": "tool_result", "tool_use_id": id, "content": "x"});
        assert!(post(with(json!([{"role": "user", "content": "hi"}]))).is_ok());
        // Both results at the start of the next user message.
        assert!(
            post(with(json!([
                {"role": "user", "content": "hi"},
                tool_use,
                {"role": "user", "content": [result("t1"), result("t2"), {"type": "text", "text": "and?"}]},
            ])))
            .is_ok()
        );
        // One result per user message is refused.
        let e = post(with(json!([
            {"role": "user", "content": "hi"},
            tool_use,
            {"role": "user", "content": [result("t1")]},
            {"role": "user", "content": [result("t2")]},
        ])))
        .unwrap_err();
        assert!(e.2.contains("t2"), "{e:?}");
        // A system role inside messages is refused.
        let e = post(with(json!([{"role": "system", "content": "s"}]))).unwrap_err();
        assert!(e.2.contains("top-level `system`"), "{e:?}");
        // Tool names are checked.
        let mut body = with(json!([{"role": "user", "content": "hi"}]));
        body["tools"] = json!([{"name": "time.now", "input_schema": {"type": "object"}}]);
        assert!(post(body).unwrap_err().2.contains("pattern"));
        // max_tokens is required; empty text is refused.
        assert!(post(json!({"model": "m", "messages": []})).is_err());
        assert!(post(with(json!([{"role": "user", "content": ""}]))).is_err());
    }

    #[test]
    fn chunked_bodies_decode() {
        assert_eq!(
            decode_chunked(b"3\r\nabc\r\n2;x=1\r\nde\r\n0\r\n\r\n"),
            b"abcde"
        );
    }
}
