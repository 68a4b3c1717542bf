//! WebSockets a channel asks the host to open (`connections.ws-open`,
//! since WIT 0.2.2): Discord's Gateway, Slack's Socket Mode. A component
//! cannot keep a socket between calls, so the host keeps it: it checks the
//! URL against the component's grants exactly as it checks an outbound
//! HTTP request ([`super::net::approve`]: granted host, DNS answers pinned
//! and checked, secrets filled in only after that), connects (TLS with the
//! webpki roots), answers pings, pings a silent server, and hands every
//! frame to the channel's event queue ([`ConnectionHub::listen`]). The
//! component sends through the id like on any host-held connection; when
//! the socket ends, however it ends, the hub keeps why for
//! `ws-close-status` and the channel hears `ws-closed`.

use super::bindings::WitError;
use super::bindings::channel::openpista::plugin::connections::Frame;
use super::connections::{ConnectionHub, Outgoing, SocketEvent};
use super::net::{Denials, OutboundPolicy};
use futures::{SinkExt, StreamExt};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Bytes, Message};

/// Longest message taken from a server. Discord's largest dispatches (a
/// big guild's `GUILD_CREATE`) stay well under it.
pub const MAX_MESSAGE: usize = 16 * 1024 * 1024;
/// Connecting, TLS and the upgrade must each finish within this.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// A server silent this long is pinged; silent twice as long, it is gone.
const PING_AFTER: Duration = Duration::from_secs(30);
/// Close code for an abnormal end (no close frame), as browsers report it.
pub const ABNORMAL: u16 = 1006;

/// What `ws-open` was given, checked enough to answer at once.
#[derive(Debug)]
struct Target {
    url: url::Url,
    headers: Vec<(String, String)>,
}

/// Opens `url` for component `owner` under `policy`, at most `limit` at
/// once: checks what can be checked now (scheme, granted host, the limit),
/// registers the connection and connects in the background.
pub fn open(
    hub: &Arc<ConnectionHub>,
    policy: &OutboundPolicy,
    limit: u32,
    url: &str,
    headers: Vec<(String, String)>,
) -> Result<u64, WitError> {
    let target = check(policy, url, headers)?;
    let (id, outgoing, events) = hub.open_outbound(&policy.component, limit)?;
    let hub = hub.clone();
    let policy = policy.clone();
    tokio::spawn(async move {
        let (code, reason) = run(&policy, id, target, outgoing, &events).await;
        tracing::info!(component = %policy.component, id, code, %reason, "websocket ended");
        hub.ended(id, code, policy.secrets.redact(&reason).into_owned());
        let _ = events.send(SocketEvent::Closed(id)).await;
    });
    Ok(id)
}

/// The synchronous part of the policy: a `ws`/`wss` URL whose host a grant
/// names (`ws://` only when that grant names a loopback or private address
/// literally), and headers that are headers.
fn check(
    policy: &OutboundPolicy,
    url: &str,
    headers: Vec<(String, String)>,
) -> Result<Target, WitError> {
    let parsed = url::Url::parse(url)
        .map_err(|e| WitError::InvalidInput(format!("ws-open: {url:?} is not a URL: {e}")))?;
    let secure = match parsed.scheme() {
        "wss" => true,
        "ws" => false,
        other => {
            return Err(WitError::InvalidInput(format!(
                "ws-open: scheme {other:?}; use wss:// (or ws:// to a local server)"
            )));
        }
    };
    let host = parsed
        .host_str()
        .ok_or_else(|| WitError::InvalidInput(format!("ws-open: {url:?} has no host")))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = parsed.port_or_known_default().unwrap_or(443);
    let Some(grant) = policy.grants.iter().find(|g| g.matches(&host, port)) else {
        tracing::warn!(component = %policy.component, "websocket to {host}:{port} denied: not a granted host");
        return Err(WitError::Denied(format!(
            "{host}:{port} is not among the component's granted hosts"
        )));
    };
    if !secure && !grant.names_local_target() {
        return Err(WitError::Denied(format!(
            "ws://{host} would travel unencrypted: use wss:// (ws:// is for a local server a grant names by address)"
        )));
    }
    for (name, value) in &headers {
        if http::HeaderName::from_bytes(name.as_bytes()).is_err() || value.contains(['\r', '\n']) {
            return Err(WitError::InvalidInput(format!(
                "ws-open: header {name:?} is not a valid header"
            )));
        }
    }
    Ok(Target {
        url: parsed,
        headers,
    })
}

/// Connects and runs the connection until it ends; returns the close code
/// and reason.
async fn run(
    policy: &OutboundPolicy,
    id: u64,
    target: Target,
    mut outgoing: mpsc::Receiver<Outgoing>,
    events: &mpsc::Sender<SocketEvent>,
) -> (u16, String) {
    let ws = match connect(policy, &target).await {
        Ok(ws) => ws,
        Err(why) => return (ABNORMAL, why),
    };
    let (mut sink, mut stream) = ws.split();
    let mut last_heard = tokio::time::Instant::now();
    let mut pinged = false;
    let mut ticker = tokio::time::interval(PING_AFTER / 3);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            message = stream.next() => {
                let message = match message {
                    None => return (ABNORMAL, "the server closed the connection without a close frame".into()),
                    Some(Err(e)) => return (ABNORMAL, format!("connection failed: {e}")),
                    Some(Ok(m)) => m,
                };
                last_heard = tokio::time::Instant::now();
                pinged = false;
                let frame = match message {
                    Message::Text(t) => Frame::Text(t.to_string()),
                    Message::Binary(b) => Frame::Binary(b.to_vec()),
                    Message::Close(frame) => {
                        // tungstenite answers the close; read on until it is sent.
                        let _ = sink.close().await;
                        return match frame {
                            Some(f) => (u16::from(f.code), f.reason.to_string()),
                            None => (1005, String::new()),
                        };
                    }
                    // Pongs answer our pings; pings are answered by tungstenite.
                    _ => continue,
                };
                // Waiting here is the back-pressure: a channel slower than
                // its server stops the reading.
                if events.send(SocketEvent::Frame(id, frame)).await.is_err() {
                    let _ = sink.send(close(CloseCode::Away, "channel stopped")).await;
                    return (1001, "the channel stopped".into());
                }
            }
            out = outgoing.recv() => {
                let message = match out {
                    Some(Outgoing::Frame(Frame::Text(t))) => Message::Text(t.into()),
                    Some(Outgoing::Frame(Frame::Binary(b))) => Message::Binary(b.into()),
                    Some(Outgoing::Close { code, reason }) => {
                        let _ = sink.send(close(CloseCode::from(code), &reason)).await;
                        // Wait briefly for the server's answer, as the protocol asks.
                        let _ = tokio::time::timeout(Duration::from_secs(2), async {
                            while let Some(Ok(m)) = stream.next().await {
                                if matches!(m, Message::Close(_)) { break; }
                            }
                        }).await;
                        return (code, reason);
                    }
                    // The hub forgot the connection: nobody can send on it.
                    None => {
                        let _ = sink.send(close(CloseCode::Away, "closed by the host")).await;
                        return (1001, "closed by the host".into());
                    }
                };
                if let Err(e) = sink.send(message).await {
                    return (ABNORMAL, format!("sending failed: {e}"));
                }
            }
            _ = ticker.tick() => {
                let silent = last_heard.elapsed();
                if silent >= PING_AFTER * 2 && pinged {
                    return (ABNORMAL, format!("no answer to a ping in {} s", silent.as_secs()));
                }
                if silent >= PING_AFTER && !pinged {
                    pinged = true;
                    if let Err(e) = sink.send(Message::Ping(Bytes::new())).await {
                        return (ABNORMAL, format!("sending failed: {e}"));
                    }
                }
            }
            () = events.closed() => {
                let _ = sink.send(close(CloseCode::Away, "channel stopped")).await;
                return (1001, "the channel stopped".into());
            }
        }
    }
}

fn close(code: CloseCode, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.to_string().into(),
    }))
}

type Socket = tokio_tungstenite::WebSocketStream<Box<dyn super::net::IoStream>>;

/// The policy's asynchronous part (DNS answers pinned and checked, secrets
/// filled in), then TCP, TLS and the upgrade.
async fn connect(policy: &OutboundPolicy, target: &Target) -> Result<Socket, String> {
    // The same checks as an HTTP request to the same place.
    let mut http_url = target.url.clone();
    let scheme = if target.url.scheme() == "wss" {
        "https"
    } else {
        "http"
    };
    http_url
        .set_scheme(scheme)
        .map_err(|()| "the URL cannot be checked".to_string())?;
    let mut builder = http::Request::builder().uri(http_url.as_str());
    for (name, value) in &target.headers {
        builder = builder.header(name, value);
    }
    let request = builder
        .body(super::net::empty_body())
        .map_err(|e| format!("invalid request: {e}"))?;
    let denials: Denials = Default::default();
    let approved = super::net::approve(policy, &denials, request)
        .await
        .map_err(|e| {
            let why = denials.lock().unwrap().join("; ");
            if why.is_empty() {
                format!("refused: {e}")
            } else {
                format!("refused: {why}")
            }
        })?;
    let tls = approved.tls.then(|| policy.tls.clone());
    let io = super::net::open_stream(&approved.addrs, &approved.server_name, tls, CONNECT_TIMEOUT)
        .await
        .map_err(|e| e.to_string())?;
    let mut request = target
        .url
        .as_str()
        .into_client_request()
        .map_err(|e| format!("invalid URL: {e}"))?;
    for (name, value) in approved.request.headers() {
        request.headers_mut().insert(name.clone(), value.clone());
    }
    let mut config = WebSocketConfig::default();
    config.max_message_size = Some(MAX_MESSAGE);
    config.max_frame_size = Some(MAX_MESSAGE);
    let (ws, _) = tokio::time::timeout(
        CONNECT_TIMEOUT,
        tokio_tungstenite::client_async_with_config(request, io, Some(config)),
    )
    .await
    .map_err(|_| "the WebSocket handshake timed out".to_string())?
    .map_err(|e| format!("the WebSocket handshake failed: {e}"))?;
    Ok(ws)
}
