//! A small blocking HTTP client over `wasi:http/outgoing-handler`.
//!
//! ```no_run
//! use openpista_sdk::http::Request;
//! # fn demo() -> Result<(), openpista_sdk::Error> {
//! let response = Request::post("https://api.example.com/v1/things")
//!     .header("authorization", "Bearer {{secret:example_api_key}}")
//!     .json(&serde_json::json!({ "name": "x" }))
//!     .timeout_ms(10_000)
//!     .send()?
//!     .error_for_status()?;
//! let created: serde_json::Value = response.json()?;
//! # let _ = created; Ok(()) }
//! ```
//!
//! # Capabilities and secrets
//!
//! The host lets a request through only to the hosts listed in the
//! component's manifest (`[capabilities].hosts`); anything else fails with
//! [`Error::Denied`] naming the host.
//!
//! A component never sees a secret's value. Write a placeholder
//! `{{secret:NAME}}` where the value belongs, in the URL or in a header
//! value (`Bearer {{secret:openai_api_key}}`): the host substitutes it on the
//! way out, only for secrets listed in `[capabilities].secrets` and only
//! towards granted hosts.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Error;

/// An outbound HTTP request, built step by step and sent with
/// [`Request::send`].
#[derive(Clone, Debug)]
pub struct Request {
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    timeout_ms: Option<u64>,
    /// A problem found while building (a value that would not encode),
    /// reported by `send` so the builder chain stays infallible.
    problem: Option<Error>,
}

impl Request {
    /// A request with this method (`GET`, `POST`...) to `url`
    /// (`http://` or `https://`).
    pub fn new(method: impl Into<String>, url: impl Into<String>) -> Self {
        Request {
            method: method.into(),
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
            timeout_ms: None,
            problem: None,
        }
    }

    /// A `GET` request.
    pub fn get(url: impl Into<String>) -> Self {
        Request::new("GET", url)
    }

    /// A `POST` request.
    pub fn post(url: impl Into<String>) -> Self {
        Request::new("POST", url)
    }

    /// A `PUT` request.
    pub fn put(url: impl Into<String>) -> Self {
        Request::new("PUT", url)
    }

    /// A `PATCH` request.
    pub fn patch(url: impl Into<String>) -> Self {
        Request::new("PATCH", url)
    }

    /// A `DELETE` request.
    pub fn delete(url: impl Into<String>) -> Self {
        Request::new("DELETE", url)
    }

    /// Adds a header. The value may contain `{{secret:NAME}}` placeholders.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Adds `authorization: Bearer TOKEN`; pass a placeholder such as
    /// `{{secret:api_key}}` rather than a value.
    pub fn bearer(self, token: impl AsRef<str>) -> Self {
        let value = format!("Bearer {}", token.as_ref());
        self.header("authorization", value)
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Sets the body to `value` as JSON and, unless already set, the
    /// `content-type` to `application/json`.
    pub fn json<T: Serialize + ?Sized>(mut self, value: &T) -> Self {
        match serde_json::to_vec(value) {
            Ok(bytes) => self.body = bytes,
            Err(e) => {
                self.problem = Some(Error::internal(format!(
                    "cannot encode the request body for {} as JSON: {e}",
                    self.url
                )))
            }
        }
        if self.header_value("content-type").is_none() {
            self = self.header("content-type", "application/json");
        }
        self
    }

    /// Gives up when connecting, the first response byte, or any later gap
    /// between bytes takes longer than `ms` milliseconds (the host's
    /// request-options timeouts); [`Error::Timeout`] then names the host.
    pub fn timeout_ms(mut self, ms: u64) -> Self {
        self.timeout_ms = Some(ms);
        self
    }

    /// The value of header `name` set so far (case-insensitive).
    pub fn header_value(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// The URL the request goes to.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Sends the request and reads the whole response.
    ///
    /// Any status is an `Ok` response (see [`Response::error_for_status`]);
    /// `Err` means there was no usable response: the host denied the
    /// destination ([`Error::Denied`]), the connection failed
    /// ([`Error::Upstream`]) or timed out ([`Error::Timeout`]).
    pub fn send(self) -> Result<Response, Error> {
        if let Some(problem) = self.problem {
            return Err(problem);
        }
        let url = Url::parse(&self.url)?;
        transport::send(&self, &url)
    }

    /// Sends the request and returns as soon as the response head (status
    /// and headers) has arrived; the body is read piece by piece with
    /// [`StreamingResponse::next_chunk`], as the server sends it. Use it for
    /// server-sent events and other long answers (see [`crate::sse`]).
    ///
    /// Errors are those of [`Request::send`]; any status is an `Ok`
    /// response.
    pub fn send_streaming(self) -> Result<StreamingResponse, Error> {
        if let Some(problem) = self.problem {
            return Err(problem);
        }
        let url = Url::parse(&self.url)?;
        transport::send_streaming(&self, &url)
    }
}

/// A response whose body has not been read yet: status and headers are
/// known, the body arrives through [`StreamingResponse::next_chunk`]
/// (or all at once with [`StreamingResponse::read_all`]).
///
/// Dropping it closes the body (and with it the connection), so a caller
/// may stop reading early.
pub struct StreamingResponse {
    /// HTTP status code.
    pub status: u16,
    /// Headers in the order received (names lowercase as the host gives
    /// them).
    pub headers: Vec<(String, String)>,
    /// The body still to read; `None` once it ended or failed.
    body: Option<transport::BodyReader>,
}

impl std::fmt::Debug for StreamingResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamingResponse")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body_open", &self.body.is_some())
            .finish()
    }
}

impl StreamingResponse {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The next piece of the body, waiting until the server sends some
    /// bytes; `Ok(None)` once the body has ended (and on every call
    /// after that). A piece is never empty. A connection that breaks
    /// midway is an [`Error::Upstream`] (or [`Error::Timeout`] when the
    /// request's between-bytes timeout passed) naming the host.
    pub fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, Error> {
        let Some(reader) = self.body.as_mut() else {
            return Ok(None);
        };
        match reader.next_chunk(self.status) {
            Ok(Some(bytes)) => Ok(Some(bytes)),
            Ok(None) => {
                if let Some(reader) = self.body.take() {
                    reader.finish();
                }
                Ok(None)
            }
            Err(e) => {
                self.body = None;
                Err(e)
            }
        }
    }

    /// Reads the rest of the body to its end.
    pub fn read_all(mut self) -> Result<Vec<u8>, Error> {
        let mut bytes = Vec::new();
        while let Some(chunk) = self.next_chunk()? {
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }

    /// Reads the rest of the body and returns the whole [`Response`].
    pub fn into_response(self) -> Result<Response, Error> {
        let status = self.status;
        let headers = self.headers.clone();
        let body = self.read_all()?;
        Ok(Response {
            status,
            headers,
            body,
        })
    }
}

/// A response: status, headers (names lowercase as the host gives them)
/// and the whole body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// Headers in the order received.
    pub headers: Vec<(String, String)>,
    /// The body, read to its end.
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as text; invalid UTF-8 is replaced.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body decoded from JSON; [`Error::Upstream`] (with this status)
    /// when it is not JSON of type `T`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.body).map_err(|e| {
            Error::upstream(
                Some(self.status),
                format!(
                    "the response is not the expected JSON ({e}): {}",
                    snippet(&self.text())
                ),
            )
        })
    }

    /// `Ok(self)` for a 2xx status; otherwise the error a component usually
    /// wants to return: [`Error::RateLimited`] for 429 (with `retry-after`
    /// when the service sent it) and [`Error::Upstream`] with the status and
    /// the start of the body for anything else.
    pub fn error_for_status(self) -> Result<Self, Error> {
        if self.is_success() {
            return Ok(self);
        }
        let body = snippet(&self.text());
        if self.status == 429 {
            let retry_after_ms = self
                .header("retry-after")
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(|secs| secs.saturating_mul(1000));
            return Err(Error::rate_limited(retry_after_ms, body));
        }
        Err(Error::upstream(Some(self.status), body))
    }
}

fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// The start of a body for an error message.
pub(crate) fn snippet(text: &str) -> String {
    const MAX: usize = 400;
    let text = text.trim();
    if text.is_empty() {
        return "(empty body)".to_string();
    }
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_string(),
    }
}

/// Scheme of a URL the client accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scheme {
    Http,
    Https,
}

/// The parts of a URL that `wasi:http` wants separately.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Url {
    scheme: Scheme,
    /// `host[:port]`, as written.
    authority: String,
    /// The host alone (no port; IPv6 keeps its brackets), for messages.
    host: String,
    /// Path and query, at least `/`; the fragment is dropped.
    path_with_query: String,
}

impl Url {
    fn parse(url: &str) -> Result<Url, Error> {
        let bad = |why: &str| Error::invalid_input(format!("invalid URL `{url}`: {why}"));
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| bad("it has no scheme (write http:// or https://)"))?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "http" => Scheme::Http,
            "https" => Scheme::Https,
            other => return Err(bad(&format!("scheme `{other}` is not http or https"))),
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        if authority.is_empty() {
            return Err(bad("it has no host"));
        }
        if authority.contains('@') {
            return Err(bad(
                "credentials in the URL are not supported; send them in a header \
                 (with a {{secret:NAME}} placeholder)",
            ));
        }
        let host = if authority.starts_with('[') {
            let close = authority
                .find(']')
                .ok_or_else(|| bad("unclosed `[` in the host"))?;
            let after = &authority[close + 1..];
            if !(after.is_empty() || after.starts_with(':')) {
                return Err(bad("unexpected text after the IPv6 address"));
            }
            check_port(after.strip_prefix(':')).map_err(|w| bad(&w))?;
            &authority[..=close]
        } else {
            match authority.rsplit_once(':') {
                Some((host, port)) => {
                    check_port(Some(port)).map_err(|w| bad(&w))?;
                    host
                }
                None => authority,
            }
        };
        if host.is_empty() {
            return Err(bad("it has no host"));
        }
        let tail = tail.split('#').next().unwrap_or("");
        let path_with_query = if tail.is_empty() {
            "/".to_string()
        } else if tail.starts_with('?') {
            format!("/{tail}")
        } else {
            tail.to_string()
        };
        Ok(Url {
            scheme,
            authority: authority.to_string(),
            host: host.to_string(),
            path_with_query,
        })
    }
}

fn check_port(port: Option<&str>) -> Result<(), String> {
    match port {
        None => Ok(()),
        Some(p) if !p.is_empty() && p.parse::<u16>().is_ok() => Ok(()),
        Some(p) => Err(format!("`{p}` is not a port number")),
    }
}

/// What `wasi:http` said went wrong, as an [`Error`] that names the host.
fn map_error_code(code: &wasip2::http::types::ErrorCode, host: &str) -> Error {
    use wasip2::http::types::ErrorCode as E;
    match code {
        E::HttpRequestDenied => Error::denied(format!(
            "outbound request to {host} denied by the host: not a granted host \
             (declare it in [capabilities].hosts)"
        )),
        E::DestinationIpProhibited => Error::denied(format!(
            "outbound request to {host} denied by the host: its address is not allowed \
             (loopback and private addresses must be named literally in [capabilities].hosts)"
        )),
        E::DnsTimeout => Error::timeout(format!("looking up {host} (DNS) timed out")),
        E::DnsError(p) => Error::upstream(
            None,
            format!(
                "looking up {host} (DNS) failed{}",
                p.rcode
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            ),
        ),
        E::DestinationNotFound => Error::upstream(None, format!("{host} was not found (DNS)")),
        E::DestinationUnavailable => Error::upstream(None, format!("{host} is unavailable")),
        E::DestinationIpUnroutable => {
            Error::upstream(None, format!("{host} cannot be reached (no route)"))
        }
        E::ConnectionRefused => Error::upstream(None, format!("connection to {host} refused")),
        E::ConnectionTerminated => Error::upstream(
            None,
            format!("connection to {host} closed before the response was complete"),
        ),
        E::ConnectionTimeout => Error::timeout(format!("connecting to {host} timed out")),
        E::ConnectionReadTimeout | E::HttpResponseTimeout => {
            Error::timeout(format!("{host} did not answer in time"))
        }
        E::ConnectionWriteTimeout => {
            Error::timeout(format!("sending the request to {host} timed out"))
        }
        E::ConnectionLimitReached => Error::upstream(
            None,
            format!("too many open connections; could not connect to {host}"),
        ),
        E::TlsProtocolError | E::TlsCertificateError | E::TlsAlertReceived(_) => Error::upstream(
            None,
            format!("TLS with {host} failed ({})", code_name(code)),
        ),
        E::HttpRequestMethodInvalid
        | E::HttpRequestUriInvalid
        | E::HttpRequestUriTooLong
        | E::HttpRequestLengthRequired
        | E::HttpRequestBodySize(_)
        | E::HttpRequestHeaderSectionSize(_)
        | E::HttpRequestHeaderSize(_)
        | E::HttpRequestTrailerSectionSize(_)
        | E::HttpRequestTrailerSize(_) => Error::invalid_input(format!(
            "the request to {host} was rejected as malformed ({})",
            code_name(code)
        )),
        E::InternalError(message) => Error::internal(format!(
            "request to {host} failed inside the host: {}",
            message.as_deref().unwrap_or("no details")
        )),
        _ => Error::upstream(
            None,
            format!("request to {host} failed ({})", code_name(code)),
        ),
    }
}

/// `ErrorCode::HttpProtocolError` → `http-protocol-error`-like text for
/// messages, without the payload noise of `Debug`.
fn code_name(code: &wasip2::http::types::ErrorCode) -> String {
    let debug = format!("{code:?}");
    let name = debug
        .trim_start_matches("ErrorCode::")
        .split(['(', ' '])
        .next()
        .unwrap_or("");
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The calls into `wasi:http`. They only work inside a component; in a
/// native build (unit tests) the imports are stubs that panic.
mod transport {
    use super::{Request, Response, Scheme, StreamingResponse, Url, map_error_code};
    use crate::Error;
    use wasip2::http::outgoing_handler;
    use wasip2::http::types::{
        ErrorCode, Fields, HeaderError, IncomingBody, IncomingResponse, Method, OutgoingBody,
        OutgoingRequest, RequestOptions, Scheme as WasiScheme,
    };
    use wasip2::io::streams::{InputStream, StreamError};

    /// The most `blocking-write-and-flush` accepts in one call.
    const WRITE_CHUNK: usize = 4096;
    /// How much one `blocking-read` asks for.
    const READ_CHUNK: u64 = 64 * 1024;

    /// Sends the request head and body; returns once the response head
    /// arrived.
    fn start(request: &Request, url: &Url) -> Result<IncomingResponse, Error> {
        let host = url.host.as_str();
        let mut entries: Vec<(String, Vec<u8>)> = request
            .headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.as_bytes().to_vec()))
            .collect();
        // Without a length the body goes out chunked, which some servers
        // (and proxies in front of APIs) refuse; the length is known here.
        if needs_content_length(request) {
            entries.push((
                "content-length".to_string(),
                request.body.len().to_string().into_bytes(),
            ));
        }
        let headers = Fields::from_list(&entries).map_err(|e| header_error(e, request))?;
        let outgoing = OutgoingRequest::new(headers);
        let method = method(&request.method);
        outgoing.set_method(&method).map_err(|()| {
            Error::invalid_input(format!("`{}` is not a valid HTTP method", request.method))
        })?;
        let scheme = match url.scheme {
            Scheme::Http => WasiScheme::Http,
            Scheme::Https => WasiScheme::Https,
        };
        outgoing
            .set_scheme(Some(&scheme))
            .and_then(|()| outgoing.set_authority(Some(&url.authority)))
            .and_then(|()| outgoing.set_path_with_query(Some(&url.path_with_query)))
            .map_err(|()| Error::invalid_input(format!("invalid URL `{}`", request.url)))?;
        let body = outgoing
            .body()
            .map_err(|()| Error::internal("the outgoing request body was already taken"))?;

        let options = request.timeout_ms.map(|ms| {
            let nanos = ms.saturating_mul(1_000_000);
            let options = RequestOptions::new();
            // A host that does not support a timeout refuses to set it; the
            // call then runs under the host's own deadline.
            let _ = options.set_connect_timeout(Some(nanos));
            let _ = options.set_first_byte_timeout(Some(nanos));
            let _ = options.set_between_bytes_timeout(Some(nanos));
            options
        });

        let future =
            outgoing_handler::handle(outgoing, options).map_err(|e| map_error_code(&e, host))?;

        // The body is written after `handle` so that a body larger than the
        // host's buffer streams out instead of blocking. A failed write is
        // not reported by itself: either the response future fails with the
        // reason, or the server answered early (401, 413, 429...) without
        // reading the whole body, and its answer says more than the write.
        write_body(body, &request.body);

        let incoming = loop {
            match future.get() {
                Some(result) => break result,
                None => future.subscribe().block(),
            }
        };
        match incoming {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(code)) => Err(map_error_code(&code, host)),
            Err(()) => Err(Error::internal("the response was already taken")),
        }
    }

    pub(super) fn send(request: &Request, url: &Url) -> Result<Response, Error> {
        send_streaming(request, url)?.into_response()
    }

    pub(super) fn send_streaming(request: &Request, url: &Url) -> Result<StreamingResponse, Error> {
        let incoming = start(request, url)?;
        open(incoming, &url.host)
    }

    /// Writes the whole body and finishes it; stops at the first failure.
    fn write_body(body: OutgoingBody, bytes: &[u8]) {
        let Ok(stream) = body.write() else {
            return;
        };
        for chunk in bytes.chunks(WRITE_CHUNK) {
            if stream.blocking_write_and_flush(chunk).is_err() {
                return;
            }
        }
        drop(stream);
        let _ = OutgoingBody::finish(body, None);
    }

    /// Status, headers and an open body reader for a response head.
    fn open(incoming: IncomingResponse, host: &str) -> Result<StreamingResponse, Error> {
        let status = incoming.status();
        let headers = incoming
            .headers()
            .entries()
            .into_iter()
            .map(|(k, v)| (k, String::from_utf8_lossy(&v).into_owned()))
            .collect();
        let body = incoming
            .consume()
            .map_err(|()| Error::internal("the response body was already taken"))?;
        let stream = body
            .stream()
            .map_err(|()| Error::internal("the response body stream was already taken"))?;
        Ok(StreamingResponse {
            status,
            headers,
            body: Some(BodyReader {
                stream: Some(stream),
                body: Some(body),
                host: host.to_string(),
            }),
        })
    }

    /// The body of a response being read. The stream is a child of the
    /// body resource, so it is dropped first (field order).
    pub(super) struct BodyReader {
        stream: Option<InputStream>,
        body: Option<IncomingBody>,
        host: String,
    }

    impl BodyReader {
        /// The next non-empty piece, `None` at the end of the body.
        pub(super) fn next_chunk(&mut self, status: u16) -> Result<Option<Vec<u8>>, Error> {
            let Some(stream) = self.stream.as_ref() else {
                return Ok(None);
            };
            loop {
                match stream.blocking_read(READ_CHUNK) {
                    Ok(chunk) if chunk.is_empty() => continue,
                    Ok(chunk) => return Ok(Some(chunk)),
                    Err(StreamError::Closed) => return Ok(None),
                    Err(e) => {
                        let host = &self.host;
                        return Err(match stream_error_code(e) {
                            Some(code) => map_error_code(&code, host),
                            None => Error::upstream(
                                Some(status),
                                format!("reading the response body from {host} failed"),
                            ),
                        });
                    }
                }
            }
        }

        /// Ends the body properly once it has been read to its end.
        pub(super) fn finish(mut self) {
            drop(self.stream.take());
            if let Some(body) = self.body.take() {
                let _trailers = IncomingBody::finish(body);
            }
        }
    }

    fn stream_error_code(e: StreamError) -> Option<ErrorCode> {
        match e {
            StreamError::LastOperationFailed(io) => wasip2::http::types::http_error_code(&io),
            StreamError::Closed => None,
        }
    }

    /// Whether to add `content-length`: the caller did not set it, and
    /// there is a body or the method expects one.
    pub(super) fn needs_content_length(request: &Request) -> bool {
        request.header_value("content-length").is_none()
            && (!request.body.is_empty()
                || ["POST", "PUT", "PATCH"]
                    .iter()
                    .any(|m| request.method.eq_ignore_ascii_case(m)))
    }

    fn method(name: &str) -> Method {
        match name.to_ascii_uppercase().as_str() {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "DELETE" => Method::Delete,
            "CONNECT" => Method::Connect,
            "OPTIONS" => Method::Options,
            "TRACE" => Method::Trace,
            "PATCH" => Method::Patch,
            _ => Method::Other(name.to_string()),
        }
    }

    fn header_error(e: HeaderError, request: &Request) -> Error {
        let names: Vec<&str> = request.headers.iter().map(|(k, _)| k.as_str()).collect();
        match e {
            HeaderError::Forbidden => Error::denied(format!(
                "one of the headers {names:?} may not be set by a component"
            )),
            _ => Error::invalid_input(format!(
                "one of the headers {names:?} has an invalid name or value"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasip2::http::types::ErrorCode;

    #[test]
    fn url_parts() {
        let u = Url::parse("https://api.example.com/v1/chat?x=1#frag").unwrap();
        assert_eq!(u.scheme, Scheme::Https);
        assert_eq!(u.authority, "api.example.com");
        assert_eq!(u.host, "api.example.com");
        assert_eq!(u.path_with_query, "/v1/chat?x=1");

        let u = Url::parse("http://localhost:11434").unwrap();
        assert_eq!(
            (u.scheme, u.authority.as_str(), u.host.as_str()),
            (Scheme::Http, "localhost:11434", "localhost")
        );
        assert_eq!(u.path_with_query, "/");

        let u = Url::parse("HTTP://[::1]:8080?q").unwrap();
        assert_eq!(u.host, "[::1]");
        assert_eq!(u.authority, "[::1]:8080");
        assert_eq!(u.path_with_query, "/?q");
    }

    #[test]
    fn url_keeps_secret_placeholders() {
        let u = Url::parse("https://api.telegram.org/bot{{secret:tg_token}}/getMe").unwrap();
        assert_eq!(u.host, "api.telegram.org");
        assert_eq!(u.path_with_query, "/bot{{secret:tg_token}}/getMe");
    }

    #[test]
    fn bad_urls_say_why() {
        let msg = |url: &str| Url::parse(url).unwrap_err().to_string();
        assert!(msg("example.com/x").contains("no scheme"));
        assert!(msg("ftp://example.com").contains("`ftp` is not http or https"));
        assert!(msg("https:///path").contains("no host"));
        assert!(msg("https://user:pw@example.com").contains("credentials"));
        assert!(msg("https://example.com:99999").contains("not a port"));
        assert!(msg("https://[::1").contains("unclosed"));
    }

    #[test]
    fn denied_names_the_host_and_the_fix() {
        let e = map_error_code(&ErrorCode::HttpRequestDenied, "evil.example");
        assert_eq!(
            e,
            Error::Denied(
                "outbound request to evil.example denied by the host: not a granted host \
                 (declare it in [capabilities].hosts)"
                    .into()
            )
        );
    }

    #[test]
    fn connection_failures_name_the_host() {
        let e = map_error_code(&ErrorCode::ConnectionRefused, "127.0.0.1");
        assert_eq!(e, Error::upstream(None, "connection to 127.0.0.1 refused"));
        let e = map_error_code(&ErrorCode::ConnectionTimeout, "a.example");
        assert_eq!(e, Error::timeout("connecting to a.example timed out"));
        let e = map_error_code(&ErrorCode::HttpResponseTimeout, "a.example");
        assert!(matches!(e, Error::Timeout(m) if m.contains("a.example")));
        let e = map_error_code(&ErrorCode::DnsTimeout, "a.example");
        assert!(matches!(e, Error::Timeout(m) if m.contains("a.example")));
        let e = map_error_code(&ErrorCode::DestinationNotFound, "nowhere.example");
        assert!(matches!(e, Error::Upstream(u) if u.message.contains("nowhere.example")));
        let e = map_error_code(&ErrorCode::HttpProtocolError, "a.example");
        assert_eq!(
            e,
            Error::upstream(None, "request to a.example failed (http-protocol-error)")
        );
    }

    #[test]
    fn builder_sets_headers_and_json() {
        let r = Request::post("https://x.example/")
            .bearer("{{secret:key}}")
            .json(&serde_json::json!({"a": 1}))
            .timeout_ms(5);
        assert_eq!(
            r.header_value("Authorization"),
            Some("Bearer {{secret:key}}")
        );
        assert_eq!(r.header_value("content-type"), Some("application/json"));
        assert_eq!(r.body, br#"{"a":1}"#);
        assert_eq!(r.timeout_ms, Some(5));
        let r = Request::post("https://x.example/")
            .header("Content-Type", "application/vnd.x+json")
            .json(&1);
        assert_eq!(
            r.header_value("content-type"),
            Some("application/vnd.x+json")
        );
    }

    #[test]
    fn content_length_when_there_is_a_body() {
        assert!(!transport::needs_content_length(&Request::get("http://a/")));
        assert!(transport::needs_content_length(&Request::post("http://a/")));
        assert!(transport::needs_content_length(
            &Request::get("http://a/").body("x")
        ));
        assert!(!transport::needs_content_length(
            &Request::post("http://a/")
                .header("Content-Length", "1")
                .body("x")
        ));
    }

    #[test]
    fn json_encoding_problems_surface_on_send() {
        let mut map = std::collections::HashMap::new();
        map.insert(vec![1u8], 2);
        let e = Request::post("https://x.example/")
            .json(&map)
            .send()
            .unwrap_err();
        assert!(matches!(e, Error::Internal(m) if m.contains("JSON")));
    }

    #[test]
    fn response_helpers() {
        let r = Response {
            status: 429,
            headers: vec![("Retry-After".into(), "3".into())],
            body: b"slow down".to_vec(),
        };
        assert_eq!(r.header("retry-after"), Some("3"));
        assert_eq!(
            r.clone().error_for_status().unwrap_err(),
            Error::rate_limited(Some(3000), "slow down")
        );
        let r = Response {
            status: 500,
            headers: vec![],
            body: Vec::new(),
        };
        assert_eq!(
            r.error_for_status().unwrap_err(),
            Error::upstream(Some(500), "(empty body)")
        );
        let r = Response {
            status: 200,
            headers: vec![],
            body: br#"{"ok":true}"#.to_vec(),
        };
        assert!(
            r.json::<serde_json::Value>().unwrap()["ok"]
                .as_bool()
                .unwrap()
        );
        assert!(matches!(r.json::<Vec<u8>>(), Err(Error::Upstream(u)) if u.status == Some(200)));
        assert_eq!(r.error_for_status().unwrap().text(), r#"{"ok":true}"#);
    }

    #[test]
    fn snippets_are_cut() {
        let long = "é".repeat(1000);
        let s = snippet(&long);
        assert!(s.ends_with("..."));
        assert_eq!(s.chars().count(), 403);
    }
}
