//! `/metrics`: the Prometheus text format, on the host's listener or on a
//! listener of its own (`[metrics] listen`).
//!
//! On the host's listener, which may face the internet, a scrape from
//! loopback is answered (a Prometheus on the same machine); any other
//! peer must send the web channel's token as `Authorization: Bearer`.
//! On its own listener (a [`super::Server`] with no channel routes and no
//! page) whoever reaches the address the operator chose is answered, as
//! Prometheus exporters usually do.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use http_body_util::Full;
use std::net::SocketAddr;

/// Where the host answers scrapes.
pub const ROUTE: &str = "/metrics";

/// Who may read a host route (`/metrics`, `/workers`).
#[derive(Clone)]
pub struct Access {
    /// The bearer token a peer off loopback must send; `None`: loopback
    /// only.
    token: Option<String>,
    /// Whoever reaches the listener (a listener of its own, on an address
    /// the operator chose).
    anyone: bool,
}

impl Access {
    /// Loopback peers, and others that send `token` (the web token) as a
    /// bearer token.
    pub fn web_token(token: Option<String>) -> Access {
        Access {
            token,
            anyone: false,
        }
    }

    /// Every peer.
    pub fn anyone() -> Access {
        Access {
            token: None,
            anyone: true,
        }
    }

    /// Whether a request from `remote` with `headers` may read.
    pub fn allows(&self, remote: SocketAddr, headers: &HeaderMap) -> bool {
        if self.anyone || remote.ip().is_loopback() {
            return true;
        }
        let Some(token) = &self.token else {
            return false;
        };
        headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|sent| {
                crate::runtime::secrets::constant_time_eq(sent.as_bytes(), token.as_bytes())
            })
    }
}

/// The current metrics, or 404 when this process records none.
pub fn respond() -> Response<Full<Bytes>> {
    match crate::telemetry::metrics::render() {
        Some(text) => {
            let mut r = Response::new(Full::new(Bytes::from(text)));
            r.headers_mut().insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static(crate::telemetry::metrics::CONTENT_TYPE),
            );
            r
        }
        None => status(StatusCode::NOT_FOUND, "metrics are off\n"),
    }
}

/// The answer to a peer that may not scrape.
pub fn refused() -> Response<Full<Bytes>> {
    let mut r = status(
        StatusCode::UNAUTHORIZED,
        "metrics: scrape from loopback, or send the web token as a bearer token\n",
    );
    r.headers_mut().insert(
        http::header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer"),
    );
    r
}

fn status(code: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *r.status_mut() = code;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_answered_and_others_need_the_token() {
        let access = Access::web_token(Some("a-long-web-token-0123456789".into()));
        let mut headers = HeaderMap::new();
        assert!(access.allows("127.0.0.1:5000".parse().unwrap(), &headers));
        assert!(access.allows("[::1]:5000".parse().unwrap(), &headers));
        let outside: SocketAddr = "192.0.2.7:5000".parse().unwrap();
        assert!(!access.allows(outside, &headers));
        headers.insert(
            http::header::AUTHORIZATION,
            HeaderValue::from_static("Bearer wrong"),
        );
        assert!(!access.allows(outside, &headers));
        headers.insert(
            http::header::AUTHORIZATION,
            HeaderValue::from_static("Bearer a-long-web-token-0123456789"),
        );
        assert!(access.allows(outside, &headers));
        let no_token = Access::web_token(None);
        assert!(!no_token.allows(outside, &headers));
        assert!(Access::anyone().allows(outside, &HeaderMap::new()));
    }
}
