//! Slack's side of the Events API: signed `POST`s to the app's Request
//! URLs, as Slack sends them.

use super::percent_encode;
use serde_json::Value;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// `v0=` + hex(HMAC-SHA256(secret, `v0:{timestamp}:{body}`)).
pub fn sign(secret: &str, timestamp: i64, body: &str) -> String {
    let base = format!("v0:{timestamp}:{body}");
    let mac = openpista::runtime::secrets::hmac_sha256(secret.as_bytes(), base.as_bytes());
    let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
    format!("v0={hex}")
}

/// How one delivery is dressed.
#[derive(Clone, Debug, Default)]
pub struct Delivery {
    /// `X-Slack-Request-Timestamp`; now when `None`.
    pub timestamp: Option<i64>,
    /// `X-Slack-Signature` as given instead of the right one.
    pub signature: Option<String>,
    /// `X-Slack-Retry-Num` and `X-Slack-Retry-Reason` (`http_timeout`,
    /// `http_error`...).
    pub retry: Option<(u32, String)>,
}

impl Delivery {
    pub fn retry(n: u32, reason: &str) -> Delivery {
        Delivery {
            retry: Some((n, reason.into())),
            ..Delivery::default()
        }
    }

    pub fn at(timestamp: i64) -> Delivery {
        Delivery {
            timestamp: Some(timestamp),
            ..Delivery::default()
        }
    }

    pub fn signed_as(signature: &str) -> Delivery {
        Delivery {
            signature: Some(signature.into()),
            ..Delivery::default()
        }
    }
}

/// The app's answer.
#[derive(Clone, Debug)]
pub struct Response {
    pub status: u16,
    /// Names lowercase.
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// When the request was written.
    pub sent: Instant,
    /// When the answer's head arrived.
    pub at: Instant,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON (`Value::Null` when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    /// How long the app took to answer.
    pub fn took(&self) -> Duration {
        self.at.saturating_duration_since(self.sent)
    }
}

/// Posts `payload` (an `event_callback`, `url_verification`) to
/// `/slack/events` on `addr`, signed with `secret` now.
pub async fn post_event(addr: SocketAddr, secret: &str, payload: &Value) -> Response {
    post_event_with(addr, secret, &payload.to_string(), &Delivery::default()).await
}

/// Posts `body` to `/slack/events` as `delivery` says.
pub async fn post_event_with(
    addr: SocketAddr,
    secret: &str,
    body: &str,
    delivery: &Delivery,
) -> Response {
    post_signed(
        addr,
        "/slack/events",
        "application/json",
        secret,
        body,
        delivery,
    )
    .await
}

/// Posts an interaction `payload` (`block_actions`...) to
/// `/slack/interactions` as Slack does: a form with one field,
/// `payload`, holding the JSON.
pub async fn post_interaction(addr: SocketAddr, secret: &str, payload: &Value) -> Response {
    let body = format!("payload={}", percent_encode(&payload.to_string()));
    post_signed(
        addr,
        "/slack/interactions",
        "application/x-www-form-urlencoded",
        secret,
        &body,
        &Delivery::default(),
    )
    .await
}

/// A signed `POST` of `body` to `path`.
pub async fn post_signed(
    addr: SocketAddr,
    path: &str,
    content_type: &str,
    secret: &str,
    body: &str,
    delivery: &Delivery,
) -> Response {
    let timestamp = delivery.timestamp.unwrap_or_else(super::payloads::now);
    let signature = delivery
        .signature
        .clone()
        .unwrap_or_else(|| sign(secret, timestamp, body));
    let mut headers = vec![
        ("Content-Type".to_string(), content_type.to_string()),
        (
            "User-Agent".into(),
            "Slackbot 1.0 (+https://api.slack.com/robots)".into(),
        ),
        ("Accept".into(), "*/*".into()),
        ("X-Slack-Request-Timestamp".into(), timestamp.to_string()),
        ("X-Slack-Signature".into(), signature),
    ];
    if let Some((n, reason)) = &delivery.retry {
        headers.push(("X-Slack-Retry-Num".into(), n.to_string()));
        headers.push(("X-Slack-Retry-Reason".into(), reason.clone()));
    }
    post(addr, path, &headers, body.as_bytes()).await
}

/// A plain HTTP/1.1 `POST` (one request, `connection: close`).
pub async fn post(
    addr: SocketAddr,
    path: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Response {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut head = format!("POST {path} HTTP/1.1\r\nHost: {addr}\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    let sent = Instant::now();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    stream.flush().await.unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let mut at = None;
    let read = async {
        loop {
            let n = stream.read(&mut chunk).await.unwrap_or(0);
            if n == 0 {
                break;
            }
            if at.is_none() {
                at = Some(Instant::now());
            }
            buf.extend_from_slice(&chunk[..n]);
        }
    };
    tokio::time::timeout(Duration::from_secs(30), read)
        .await
        .expect("the app answered within 30 s");
    let at = at.expect("the app answered something");
    let head_end = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP answer");
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut raw = buf[head_end + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
    if chunked {
        raw = dechunk(&raw);
    }
    Response {
        status,
        headers,
        body: String::from_utf8_lossy(&raw).into_owned(),
        sent,
        at,
    }
}

fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = rest.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&rest[..line_end]).into_owned();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .unwrap_or(0);
        if size == 0 || rest.len() < line_end + 2 + size {
            break;
        }
        out.extend_from_slice(&rest[line_end + 2..line_end + 2 + size]);
        rest = &rest[(line_end + 2 + size + 2).min(rest.len())..];
    }
    out
}
