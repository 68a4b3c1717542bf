//! The host's own small HTTP client for sign-in and token endpoints:
//! one request per connection over [`crate::runtime::net::open_http1`]
//! (TLS with the webpki roots for https), a form-urlencoded or JSON body,
//! a time limit on the whole exchange and a size limit on the answer.
//! These requests carry tokens, so they never pass through a component;
//! nothing here logs a body.

use super::AuthError;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use std::time::Duration;

pub use ::http::Method;

/// Longest a token endpoint may take to answer.
pub const TIMEOUT: Duration = Duration::from_secs(30);
/// Largest answer read; token responses are a few KiB.
pub const MAX_BODY: usize = 1 << 20;

/// A request body.
pub enum Body {
    Empty,
    /// `application/x-www-form-urlencoded`.
    Form(Vec<(&'static str, String)>),
    /// `application/json`.
    Json(serde_json::Value),
}

/// An answer, read whole.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub body: Bytes,
}

impl Response {
    /// The body as JSON, or why it is not.
    pub fn json(&self, endpoint: &str) -> Result<serde_json::Value, AuthError> {
        serde_json::from_slice(&self.body).map_err(|_| AuthError::Malformed {
            endpoint: endpoint.to_string(),
            reason: format!(
                "status {} with a body that is not JSON ({} bytes)",
                self.status,
                self.body.len()
            ),
        })
    }
}

/// Sends `method url` with `headers` and `body`; any status is an answer,
/// only a failure to get one is an error.
pub async fn send(
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: Body,
) -> Result<Response, AuthError> {
    let transport = |reason: String| AuthError::Transport {
        endpoint: url.to_string(),
        reason,
    };
    let parsed = url::Url::parse(url).map_err(|e| transport(format!("bad URL: {e}")))?;
    let tls = match parsed.scheme() {
        "https" => Some(crate::runtime::net::default_tls()),
        "http" => None,
        other => return Err(transport(format!("scheme {other:?} is not http(s)"))),
    };
    let host = parsed
        .host_str()
        .ok_or_else(|| transport("no host".into()))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = parsed.port_or_known_default().unwrap_or(443);

    let (content_type, bytes) = match body {
        Body::Empty => (None, Vec::new()),
        Body::Form(pairs) => (
            Some("application/x-www-form-urlencoded"),
            url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str())))
                .finish()
                .into_bytes(),
        ),
        Body::Json(v) => (Some("application/json"), v.to_string().into_bytes()),
    };
    let path = &parsed[url::Position::BeforePath..url::Position::AfterQuery];
    let authority = match parsed.port() {
        Some(p) => format!("{}:{p}", parsed.host_str().unwrap_or_default()),
        None => parsed.host_str().unwrap_or_default().to_string(),
    };
    let mut builder = http::Request::builder()
        .method(method)
        .uri(path)
        .header(http::header::HOST, authority)
        .header(http::header::CONTENT_LENGTH, bytes.len());
    if !headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("user-agent"))
    {
        builder = builder.header(http::header::USER_AGENT, USER_AGENT);
    }
    if let Some(ct) = content_type {
        builder = builder.header(http::header::CONTENT_TYPE, ct);
    }
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    let request = builder
        .body(Full::new(Bytes::from(bytes)))
        .map_err(|e| transport(format!("cannot build the request: {e}")))?;

    let exchange = async {
        let addrs: Vec<std::net::SocketAddr> = tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|e| transport(format!("cannot resolve {host}: {e}")))?
            .collect();
        let (mut sender, driver) = crate::runtime::net::open_http1(&addrs, &host, tls, TIMEOUT)
            .await
            .map_err(|e| transport(e.to_string()))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| transport(e.to_string()))?;
        let status = response.status().as_u16();
        let body = Limited::new(response.into_body(), MAX_BODY)
            .collect()
            .await
            .map_err(|e| AuthError::Malformed {
                endpoint: url.to_string(),
                reason: format!("could not read the body: {e}"),
            })?
            .to_bytes();
        driver.abort();
        Ok(Response { status, body })
    };
    tokio::time::timeout(TIMEOUT, exchange)
        .await
        .map_err(|_| transport(format!("no answer within {} s", TIMEOUT.as_secs())))?
}

/// `base` with `pairs` appended to its query (for authorize addresses).
pub fn with_query(base: &str, pairs: &[(&str, &str)]) -> String {
    match url::Url::parse(base) {
        Ok(mut u) => {
            u.query_pairs_mut().extend_pairs(pairs);
            u.to_string()
        }
        // Settings are checked when read; keep what was given otherwise.
        Err(_) => base.to_string(),
    }
}

/// What openpista calls itself to providers (GitHub's API requires one).
pub const USER_AGENT: &str = concat!("openpista/", env!("CARGO_PKG_VERSION"));

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A one-connection server answering `reply` and handing back what it read.
    async fn one_shot(reply: Vec<u8>) -> (String, tokio::task::JoinHandle<Vec<u8>>) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let mut got = Vec::new();
            let mut buf = [0u8; 4096];
            // Read the head and the announced body, then answer.
            loop {
                let n = s.read(&mut buf).await.unwrap();
                got.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&got);
                if let Some(end) = text.find("\r\n\r\n") {
                    let len: usize = text
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length: "))
                        .map(|v| v.trim().parse().unwrap())
                        .unwrap_or(0);
                    if got.len() >= end + 4 + len {
                        break;
                    }
                }
                if n == 0 {
                    break;
                }
            }
            s.write_all(&reply).await.unwrap();
            got
        });
        (url, task)
    }

    #[tokio::test]
    async fn form_post_is_encoded_and_answer_read() {
        let (url, seen) =
            one_shot(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 2\r\n\r\n{}".to_vec()).await;
        let r = send(
            http::Method::POST,
            &format!("{url}/oauth/token?x=1"),
            &[("accept", "application/json")],
            Body::Form(vec![("code", "a b&c".into()), ("grant_type", "x".into())]),
        )
        .await
        .unwrap();
        assert_eq!(r.status, 400);
        let req = String::from_utf8(seen.await.unwrap()).unwrap();
        assert!(req.starts_with("POST /oauth/token?x=1 HTTP/1.1"), "{req}");
        assert!(
            req.contains("content-type: application/x-www-form-urlencoded"),
            "{req}"
        );
        assert!(req.ends_with("code=a+b%26c&grant_type=x"), "{req}");
    }

    #[tokio::test]
    async fn an_oversized_answer_is_malformed() {
        let mut reply = format!(
            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n",
            MAX_BODY + 1
        )
        .into_bytes();
        reply.extend(std::iter::repeat_n(b'a', MAX_BODY + 1));
        let (url, _seen) = one_shot(reply).await;
        let e = send(Method::GET, &url, &[], Body::Empty).await.unwrap_err();
        assert!(matches!(e, AuthError::Malformed { .. }), "{e}");
    }

    #[tokio::test]
    async fn a_closed_port_is_a_transport_error_naming_the_endpoint() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/token", l.local_addr().unwrap());
        drop(l);
        let e = send(Method::GET, &url, &[], Body::Empty).await.unwrap_err();
        assert!(
            matches!(e, AuthError::Transport { .. }) && e.to_string().contains(&url),
            "{e}"
        );
    }
}
