//! A small HTTP/1.1 server for the service doubles: it parses each request
//! (head and body, `content-length` or chunked), hands it to the double's
//! handler and writes the answer, either whole (with `content-length`) or
//! as a chunked stream with a short pause between chunks, so that a client
//! really receives a stream in pieces. One request per connection
//! (`connection: close`).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A request as the double received it.
#[derive(Clone, Debug)]
pub struct Recorded {
    /// `POST`, `GET`...
    pub method: String,
    /// Path and query, such as `/v1/chat/completions`.
    pub path: String,
    /// Headers in the order received; names lowercase.
    pub headers: Vec<(String, String)>,
    /// The body parsed as JSON (`Value::Null` when it is not JSON).
    pub body: Value,
    /// The body's bytes.
    pub raw: Vec<u8>,
    /// When the request arrived.
    pub at: Instant,
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

/// An answer to write.
#[derive(Clone, Debug)]
pub enum Answer {
    /// A complete body with `content-length`.
    Whole {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// `transfer-encoding: chunked`, one chunk per element, `pause`
    /// between chunks.
    Chunked {
        status: u16,
        headers: Vec<(String, String)>,
        chunks: Vec<Vec<u8>>,
        pause: Duration,
    },
}

/// Decides the answer to a request (and records it, as the double likes).
pub type Handler = Arc<dyn Fn(Recorded) -> Answer + Send + Sync>;

/// Listens on 127.0.0.1 at a random port and serves every connection with
/// `handler` until the test's runtime ends.
pub async fn serve(handler: Handler) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let handler = handler.clone();
            tokio::spawn(async move {
                let _ = connection(stream, handler).await;
            });
        }
    });
    addr
}

async fn connection(mut stream: TcpStream, handler: Handler) -> std::io::Result<()> {
    let Some(request) = read_request(&mut stream).await? else {
        return Ok(());
    };
    let answer = handler(request);
    write_answer(&mut stream, answer).await
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        302 => "Found",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

pub async fn write_answer(stream: &mut TcpStream, answer: Answer) -> std::io::Result<()> {
    match answer {
        Answer::Whole {
            status,
            headers,
            body,
        } => {
            let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
            for (k, v) in &headers {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
            head.push_str(&format!(
                "content-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            ));
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(&body).await?;
            stream.flush().await?;
        }
        Answer::Chunked {
            status,
            headers,
            chunks,
            pause,
        } => {
            let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
            for (k, v) in &headers {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
            head.push_str("transfer-encoding: chunked\r\nconnection: close\r\n\r\n");
            stream.write_all(head.as_bytes()).await?;
            stream.flush().await?;
            for chunk in chunks.iter().filter(|c| !c.is_empty()) {
                tokio::time::sleep(pause).await;
                stream
                    .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                    .await?;
                stream.write_all(chunk).await?;
                stream.write_all(b"\r\n").await?;
                stream.flush().await?;
            }
            stream.write_all(b"0\r\n\r\n").await?;
            stream.flush().await?;
        }
    }
    // Let the client read everything before the socket goes away.
    let _ = stream.shutdown().await;
    Ok(())
}

/// Reads one request; `None` when the client closed without sending one.
pub async fn read_request(stream: &mut TcpStream) -> std::io::Result<Option<Recorded>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(pos) = find(&buf, b"\r\n\r\n") {
            break pos;
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut rest = buf[head_end + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or("");
    let mut parts = request_line.split(' ');
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let raw = if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        let mut body = Vec::new();
        loop {
            while find(&rest, b"\r\n").is_none() {
                let n = stream.read(&mut chunk).await?;
                if n == 0 {
                    return Ok(None);
                }
                rest.extend_from_slice(&chunk[..n]);
            }
            let line_end = find(&rest, b"\r\n").unwrap();
            let size_text = String::from_utf8_lossy(&rest[..line_end]).into_owned();
            let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
                .unwrap_or(0);
            while rest.len() < line_end + 2 + size + 2 {
                let n = stream.read(&mut chunk).await?;
                if n == 0 {
                    return Ok(None);
                }
                rest.extend_from_slice(&chunk[..n]);
            }
            body.extend_from_slice(&rest[line_end + 2..line_end + 2 + size]);
            rest.drain(..line_end + 2 + size + 2);
            if size == 0 {
                break body;
            }
        }
    } else {
        let length: usize = header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        while rest.len() < length {
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Ok(None);
            }
            rest.extend_from_slice(&chunk[..n]);
        }
        rest.truncate(length);
        rest
    };
    let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    Ok(Some(Recorded {
        method,
        path,
        headers,
        body,
        raw,
        at: Instant::now(),
    }))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Each event's bytes cut in two, so a client must join pieces.
pub fn split_in_two(events: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    let mut out = Vec::with_capacity(events.len() * 2);
    for event in events {
        let mid = event.len() / 2;
        out.push(event[..mid].to_vec());
        out.push(event[mid..].to_vec());
    }
    out
}

/// What a scripted double keeps: the replies still to give, the requests
/// seen, and the one API key it accepts (any when `None`).
pub struct Script<R> {
    pub replies: VecDeque<R>,
    pub requests: Vec<Recorded>,
    pub api_key: Option<String>,
}

impl<R> Default for Script<R> {
    fn default() -> Self {
        Script {
            replies: VecDeque::new(),
            requests: Vec::new(),
            api_key: None,
        }
    }
}

/// A double on 127.0.0.1 (random port) answering each request from its
/// script through a service-specific `handle` function.
pub struct ScriptedDouble<R> {
    /// Where it listens.
    pub addr: SocketAddr,
    state: Arc<Mutex<Script<R>>>,
}

impl<R: Send + 'static> ScriptedDouble<R> {
    /// Starts serving with an empty script that accepts any key.
    pub async fn serve(handle: fn(&Mutex<Script<R>>, Recorded) -> Answer) -> Self {
        let state = Arc::new(Mutex::new(Script::default()));
        let shared = state.clone();
        let addr = serve(Arc::new(move |request| handle(&shared, request))).await;
        ScriptedDouble { addr, state }
    }

    /// Only this key is accepted from now on; others get the service's 401.
    pub fn expect_api_key(&self, key: &str) {
        self.state.lock().unwrap().api_key = Some(key.to_string());
    }

    /// Queues a reply.
    pub fn push(&self, reply: R) {
        self.state.lock().unwrap().replies.push_back(reply);
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().requests.clone()
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://127.0.0.1:PORT/v1`, the `base_url` to configure.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.addr.port())
    }
}

/// One part of a `multipart/form-data` body.
#[derive(Debug, Clone)]
pub struct FormPart {
    pub name: String,
    /// Set for a file.
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub data: Vec<u8>,
}

/// The parts of a `multipart/form-data` body separated by `boundary`,
/// parsed by hand as the doubles' services read them (Telegram's
/// `sendDocument`, Discord's `files[n]`, Slack's uploads).
pub fn multipart(body: &[u8], boundary: &str) -> Vec<FormPart> {
    let delimiter = format!("--{boundary}");
    let mut parts = Vec::new();
    let mut rest = body;
    while let Some(start) = find(rest, delimiter.as_bytes()) {
        rest = &rest[start + delimiter.len()..];
        if rest.starts_with(b"--") {
            break;
        }
        let Some(head_end) = find(rest, b"\r\n\r\n") else {
            break;
        };
        let head = String::from_utf8_lossy(&rest[..head_end]).into_owned();
        let content = &rest[head_end + 4..];
        let end = find(content, format!("\r\n{delimiter}").as_bytes()).unwrap_or(content.len());
        let attr = |name: &str| {
            head.split(['\r', '\n', ';'])
                .map(str::trim)
                .find_map(|p| p.strip_prefix(&format!("{name}=")))
                .map(|v| v.trim_matches('"').to_string())
        };
        let content_type = head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("content-type")
                .then(|| v.trim().to_string())
        });
        if let Some(name) = attr("name") {
            parts.push(FormPart {
                name,
                filename: attr("filename"),
                content_type,
                data: content[..end].to_vec(),
            });
        }
        rest = &content[end..];
    }
    parts
}
