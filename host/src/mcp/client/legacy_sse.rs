//! The HTTP+SSE transport of protocol revision 2024-11-05, for servers
//! that have not moved to streamable HTTP (the SDK no longer ships a
//! client for it). Tried only after a streamable-HTTP handshake failed.
//!
//! `GET url` opens an event stream whose first `endpoint` event names
//! where to POST messages; the server's messages arrive as `message`
//! events on the stream. The endpoint must be on the same origin as the
//! URL: the client is pinned to the granted address, and a server cannot
//! send the messages elsewhere.

use futures::StreamExt;
use futures::channel::mpsc;
use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
use std::time::Duration;

/// How long the server has to name its endpoint.
const ENDPOINT_WAIT: Duration = Duration::from_secs(10);
/// Largest event accepted (a bigger one ends the connection).
const MAX_EVENT: usize = 16 * 1024 * 1024;

/// One server-sent event.
#[derive(Debug, Default, PartialEq)]
pub struct Event {
    pub event: String,
    pub data: String,
}

/// Splits a byte stream into events (`event:` and `data:` fields; other
/// fields and comments ignored).
#[derive(Default)]
pub struct Parser {
    buffer: Vec<u8>,
    current: Event,
    has_data: bool,
}

impl Parser {
    /// Feeds bytes; returns the events they completed.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Vec<Event>, String> {
        self.buffer.extend_from_slice(bytes);
        if self.buffer.len() + self.current.data.len() > MAX_EVENT {
            return Err("an event larger than 16 MiB".into());
        }
        let mut out = Vec::new();
        while let Some(end) = self.buffer.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.buffer.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end_matches(['\n', '\r']);
            if line.is_empty() {
                if self.has_data || !self.current.event.is_empty() {
                    let mut done = std::mem::take(&mut self.current);
                    if done.event.is_empty() {
                        done.event = "message".into();
                    }
                    out.push(done);
                }
                self.has_data = false;
                continue;
            }
            let (field, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "event" => self.current.event = value.to_string(),
                "data" => {
                    if self.has_data {
                        self.current.data.push('\n');
                    }
                    self.current.data.push_str(value);
                    self.has_data = true;
                }
                _ => {}
            }
        }
        Ok(out)
    }
}

/// The server's messages, for the SDK; when the SDK drops it (the session
/// ended) the reading task stops too, even on a silent stream.
pub struct Incoming {
    messages: mpsc::UnboundedReceiver<ServerJsonRpcMessage>,
    _alive: tokio::sync::oneshot::Sender<()>,
}

impl futures::Stream for Incoming {
    type Item = ServerJsonRpcMessage;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<ServerJsonRpcMessage>> {
        self.messages.poll_next_unpin(cx)
    }
}

pub type Halves = (mpsc::UnboundedSender<ClientJsonRpcMessage>, Incoming);

/// Opens the event stream at `url` and returns the transport's two
/// halves, for `ServiceExt::serve`.
pub async fn connect(
    client: reqwest::Client,
    url: &url::Url,
    headers: reqwest::header::HeaderMap,
) -> Result<Halves, String> {
    let mut response = client
        .get(url.clone())
        .headers(headers.clone())
        .header(reqwest::header::ACCEPT, "text/event-stream")
        .send()
        .await
        .map_err(|e| format!("GET {}: {}", super::transport::shown(url), e.without_url()))?;
    let status = response.status();
    let is_sse = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    if !status.is_success() || !is_sse {
        return Err(format!(
            "GET {}: {status}, not an event stream",
            super::transport::shown(url)
        ));
    }
    let mut parser = Parser::default();
    let mut early = Vec::new();
    let endpoint = tokio::time::timeout(ENDPOINT_WAIT, async {
        loop {
            let chunk = response
                .chunk()
                .await
                .map_err(|e| e.to_string())?
                .ok_or("the stream ended before naming an endpoint")?;
            for event in parser.feed(&chunk)? {
                if event.event == "endpoint" {
                    return Ok::<_, String>(event.data);
                }
                early.push(event);
            }
        }
    })
    .await
    .map_err(|_| "no endpoint event within 10 s".to_string())??;
    let endpoint = url
        .join(endpoint.trim())
        .map_err(|e| format!("endpoint {endpoint:?}: {e}"))?;
    if endpoint.origin() != url.origin() {
        return Err(format!(
            "the server named an endpoint on another origin ({endpoint}); refused"
        ));
    }

    let (to_client, from_server) = mpsc::unbounded::<ServerJsonRpcMessage>();
    let (alive, mut ended) = tokio::sync::oneshot::channel::<()>();
    // A POST that cannot reach the server ends the session (the stream
    // may stay open on a half-dead server), so the client reconnects.
    let post_failed = std::sync::Arc::new(tokio::sync::Notify::new());
    let post_failed_w = post_failed.clone();
    let (to_server, mut outgoing) = mpsc::unbounded::<ClientJsonRpcMessage>();
    // Reading: `message` events become the server's messages; the stream
    // ending ends the session (the receiver's end tells the service).
    tokio::spawn(async move {
        let deliver = |event: Event| -> bool {
            if event.event != "message" {
                return true;
            }
            match serde_json::from_str::<ServerJsonRpcMessage>(&event.data) {
                Ok(message) => to_client.unbounded_send(message).is_ok(),
                Err(e) => {
                    tracing::warn!("MCP SSE: a malformed message was dropped: {e}");
                    true
                }
            }
        };
        for event in early {
            if !deliver(event) {
                return;
            }
        }
        loop {
            let chunk = tokio::select! {
                chunk = response.chunk() => chunk,
                _ = &mut ended => return,
                () = post_failed.notified() => return,
            };
            let Ok(Some(chunk)) = chunk else { return };
            let Ok(events) = parser.feed(&chunk) else {
                tracing::warn!("MCP SSE: an event larger than 16 MiB; the connection ends");
                return;
            };
            for event in events {
                if !deliver(event) {
                    return;
                }
            }
        }
    });
    // Writing: each message is one POST to the endpoint.
    tokio::spawn(async move {
        while let Some(message) = outgoing.next().await {
            let Ok(body) = serde_json::to_vec(&message) else {
                continue;
            };
            let sent = client
                .post(endpoint.clone())
                .headers(headers.clone())
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body)
                .send()
                .await;
            match sent {
                Ok(r) if r.status().is_success() => {}
                Ok(r) => tracing::warn!("MCP SSE: POST {endpoint}: {}", r.status()),
                Err(e) => {
                    tracing::warn!("MCP SSE: POST {endpoint}: {}", e.without_url());
                    post_failed_w.notify_one();
                    return;
                }
            }
        }
    });
    Ok((
        to_server,
        Incoming {
            messages: from_server,
            _alive: alive,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_across_chunks_and_line_ends() {
        let mut p = Parser::default();
        assert!(
            p.feed(b"event: endpoint\r\ndata: /messages?s")
                .unwrap()
                .is_empty()
        );
        let got = p
            .feed(b"=1\r\n\r\n: comment\ndata: {\"a\":\ndata: 1}\n\n")
            .unwrap();
        assert_eq!(
            got,
            vec![
                Event {
                    event: "endpoint".into(),
                    data: "/messages?s=1".into()
                },
                Event {
                    event: "message".into(),
                    data: "{\"a\":\n1}".into()
                },
            ]
        );
    }

    #[test]
    fn an_endless_event_is_refused() {
        let mut p = Parser::default();
        let big = vec![b'x'; MAX_EVENT + 1];
        assert!(p.feed(&big).is_err());
        // Many short data lines add up too.
        let mut p = Parser::default();
        let line = format!("data: {}\n", "y".repeat(1023));
        let mut refused = false;
        for _ in 0..(MAX_EVENT / 1024 + 2) {
            if p.feed(line.as_bytes()).is_err() {
                refused = true;
                break;
            }
        }
        assert!(refused);
    }
}
