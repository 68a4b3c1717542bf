//! Cross-origin rules. Same-origin requests always pass; another site
//! passes only when its origin is listed in `[server] cors_origins`. The
//! WebSocket upgrade is checked too: browsers send `Origin` with it but do
//! not enforce CORS on WebSockets, so without this check any web page a
//! user visits could talk to their agent (cross-site WebSocket hijacking).

use http::{HeaderMap, HeaderValue, Method, Response, StatusCode};

/// The configured origins.
#[derive(Debug, Clone, Default)]
pub struct Cors {
    allowed: Vec<String>,
}

/// `scheme://host[:port]` of an origin, lower-cased, default port dropped.
fn normalise(origin: &str) -> String {
    let o = origin.trim().trim_end_matches('/').to_ascii_lowercase();
    o.strip_suffix(":80")
        .filter(|_| o.starts_with("http://"))
        .or_else(|| o.strip_suffix(":443").filter(|_| o.starts_with("https://")))
        .map(str::to_string)
        .unwrap_or(o)
}

impl Cors {
    pub fn new(allowed: &[String]) -> Cors {
        Cors {
            allowed: allowed.iter().map(|o| normalise(o)).collect(),
        }
    }

    /// Whether a request carrying `origin` to server `host` (the `Host`
    /// header) may proceed.
    pub fn allows(&self, origin: &str, host: Option<&str>) -> bool {
        let origin = normalise(origin);
        let same = host.is_some_and(|h| {
            let authority = origin.split_once("://").map(|(_, a)| a).unwrap_or("");
            let h = h.to_ascii_lowercase();
            authority == h
                || authority == h.trim_end_matches(":80")
                || authority == h.trim_end_matches(":443")
        });
        same || self.allowed.iter().any(|a| a == "*" || *a == origin)
    }

    /// Whether the request in `headers` may proceed: no `Origin` (not a
    /// browser page), or an allowed one.
    pub fn check(&self, headers: &HeaderMap) -> bool {
        match headers
            .get(http::header::ORIGIN)
            .and_then(|v| v.to_str().ok())
        {
            None => true,
            Some(origin) => self.allows(origin, host(headers)),
        }
    }

    /// Adds the response headers that let an allowed cross-site caller read
    /// the response.
    pub fn decorate(&self, request: &HeaderMap, response: &mut HeaderMap) {
        let Some(origin) = request.get(http::header::ORIGIN) else {
            return;
        };
        if let Ok(o) = origin.to_str()
            && self.allows(o, host(request))
        {
            response.insert(http::header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
            response.append(http::header::VARY, HeaderValue::from_static("origin"));
        }
    }

    /// The answer to a preflight (`OPTIONS` with `Origin` and
    /// `Access-Control-Request-Method`), or `None` when it is not one.
    pub fn preflight(&self, method: &Method, headers: &HeaderMap) -> Option<Response<()>> {
        if method != Method::OPTIONS
            || !headers.contains_key(http::header::ACCESS_CONTROL_REQUEST_METHOD)
        {
            return None;
        }
        let origin = headers.get(http::header::ORIGIN)?;
        let allowed = origin.to_str().is_ok_and(|o| self.allows(o, host(headers)));
        let mut response = Response::new(());
        if !allowed {
            *response.status_mut() = StatusCode::FORBIDDEN;
            return Some(response);
        }
        *response.status_mut() = StatusCode::NO_CONTENT;
        let h = response.headers_mut();
        h.insert(http::header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        h.insert(
            http::header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, OPTIONS"),
        );
        h.insert(
            http::header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("authorization, content-type"),
        );
        h.insert(
            http::header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
        h.insert(http::header::VARY, HeaderValue::from_static("origin"));
        Some(response)
    }
}

fn host(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                http::header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn same_origin_and_listed_origins_pass_others_do_not() {
        let cors = Cors::new(&["https://Chat.Example.com:443/".to_string()]);
        assert!(cors.allows("http://127.0.0.1:8480", Some("127.0.0.1:8480")));
        assert!(cors.allows("https://chat.example.com", Some("127.0.0.1:8480")));
        assert!(!cors.allows("https://evil.example", Some("127.0.0.1:8480")));
        assert!(!cors.allows("http://127.0.0.1:9999", Some("127.0.0.1:8480")));
        assert!(
            cors.check(&headers(&[("host", "x")])),
            "no Origin: not a page"
        );
        assert!(!cors.check(&headers(&[("host", "a:1"), ("origin", "http://b:1")])));
        assert!(Cors::new(&["*".into()]).allows("http://any", None));
    }

    #[test]
    fn allowed_callers_get_headers_and_preflights() {
        let cors = Cors::new(&["https://app.example".to_string()]);
        let req = headers(&[("host", "h:1"), ("origin", "https://app.example")]);
        let mut out = HeaderMap::new();
        cors.decorate(&req, &mut out);
        assert_eq!(out["access-control-allow-origin"], "https://app.example");
        assert_eq!(out["vary"], "origin");
        let mut out = HeaderMap::new();
        cors.decorate(
            &headers(&[("host", "h:1"), ("origin", "https://x")]),
            &mut out,
        );
        assert!(out.is_empty());

        let pre = headers(&[
            ("host", "h:1"),
            ("origin", "https://app.example"),
            ("access-control-request-method", "POST"),
        ]);
        let r = cors.preflight(&Method::OPTIONS, &pre).unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        assert!(
            r.headers()["access-control-allow-methods"]
                .to_str()
                .unwrap()
                .contains("POST")
        );
        let bad = headers(&[
            ("host", "h:1"),
            ("origin", "https://x"),
            ("access-control-request-method", "POST"),
        ]);
        assert_eq!(
            cors.preflight(&Method::OPTIONS, &bad).unwrap().status(),
            StatusCode::FORBIDDEN
        );
        assert!(cors.preflight(&Method::GET, &pre).is_none());
    }
}
