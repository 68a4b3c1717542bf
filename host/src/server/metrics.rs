//! `/metrics`: the Prometheus text format, on the host's listener or on a
//! listener of its own (`[metrics] listen`).
//!
//! On the host's listener, which may face the internet, a scrape from
//! loopback is answered (a Prometheus on the same machine); any other
//! peer must send the web channel's token as `Authorization: Bearer`.
//! On its own listener whoever reaches the address the operator chose is
//! answered, as Prometheus exporters usually do.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;

/// Where the host answers scrapes.
pub const ROUTE: &str = "/metrics";

/// Who may scrape `/metrics` on the host's listener.
#[derive(Clone)]
pub struct Access {
    /// The bearer token a peer off loopback must send; `None`: loopback
    /// only.
    pub token: Option<String>,
}

impl Access {
    /// Whether a request from `remote` with `headers` may read metrics.
    pub fn allows(&self, remote: SocketAddr, headers: &HeaderMap) -> bool {
        if remote.ip().is_loopback() {
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

/// `[metrics] listen`: a listener answering `GET /metrics` and nothing
/// else; stops when dropped.
pub struct Listener {
    pub local_addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Binds `addr` and answers scrapes until the [`Listener`] drops.
pub async fn listen(addr: &str) -> anyhow::Result<Listener> {
    use anyhow::Context;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} ([metrics] listen)"))?;
    let local_addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        let mut connections = tokio::task::JoinSet::new();
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                Some(_) = connections.join_next() => continue,
            };
            let Ok((tcp, _)) = accepted else {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            };
            connections.spawn(async move {
                let service = hyper::service::service_fn(|req: http::Request<_>| async move {
                    let response = if req.uri().path() == ROUTE {
                        respond()
                    } else {
                        status(StatusCode::NOT_FOUND, "not found\n")
                    };
                    Ok::<_, std::convert::Infallible>(response)
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), service)
                    .await;
            });
        }
    });
    Ok(Listener { local_addr, task })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_answered_and_others_need_the_token() {
        let access = Access {
            token: Some("a-long-web-token-0123456789".into()),
        };
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
        let no_token = Access { token: None };
        assert!(!no_token.allows(outside, &headers));
    }
}
