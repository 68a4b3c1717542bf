//! Outbound HTTP for components: the `wasi:http` send hook that enforces a
//! component's granted hosts, pins DNS answers before checking them,
//! refuses private and loopback addresses unless a grant names them, and
//! substitutes secret placeholders only for requests that passed.

use super::secrets::SecretGrant;
use anyhow::{Result, bail};
use bytes::Bytes;
use http_body_util::BodyExt;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

/// One `[capabilities].hosts` entry: `host`, `host:port`, `*.domain[:port]`,
/// an IP literal (`127.0.0.1:8080`, `[::1]:80`) or `localhost[:port]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPattern {
    host: String,
    wildcard: bool,
    port: Option<u16>,
}

impl HostPattern {
    pub fn parse(text: &str) -> Result<HostPattern> {
        let text = text.trim();
        if text.is_empty() || text.contains("://") || text.contains('/') || text.contains('@') {
            bail!("expected host, host:port or *.domain (no scheme or path)");
        }
        let (host, port) = split_host_port(text)?;
        let (wildcard, host) = match host.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, host),
        };
        let host = host.to_ascii_lowercase();
        let is_ip = host.parse::<IpAddr>().is_ok();
        if host.is_empty()
            || host.contains('*')
            || (!is_ip
                && !host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.'))
        {
            bail!("{text:?} is not a host name or IP address");
        }
        if wildcard && is_ip {
            bail!("a wildcard cannot apply to an IP address");
        }
        Ok(HostPattern {
            host,
            wildcard,
            port,
        })
    }

    /// Whether a request to `host:port` falls under this grant.
    pub fn matches(&self, host: &str, port: u16) -> bool {
        if self.port.is_some_and(|p| p != port) {
            return false;
        }
        let host = host.to_ascii_lowercase();
        if self.wildcard {
            host.len() > self.host.len()
                && host.ends_with(&self.host)
                && host.as_bytes()[host.len() - self.host.len() - 1] == b'.'
        } else {
            host == self.host
        }
    }

    /// Those of `addrs` this grant may reach: all of them when it names a
    /// local target, else only public ones.
    pub fn reachable(&self, addrs: &[SocketAddr]) -> Vec<SocketAddr> {
        addrs
            .iter()
            .copied()
            .filter(|a| self.names_local_target() || !is_restricted(a.ip()))
            .collect()
    }

    /// True when the grant names a local target explicitly (an IP literal or
    /// `localhost`): only such grants may reach loopback and private ranges.
    pub fn names_local_target(&self) -> bool {
        !self.wildcard && (self.host == "localhost" || self.host.parse::<IpAddr>().is_ok())
    }
}

impl std::fmt::Display for HostPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.wildcard {
            f.write_str("*.")?;
        }
        if self.host.contains(':') {
            write!(f, "[{}]", self.host)?;
        } else {
            f.write_str(&self.host)?;
        }
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        Ok(())
    }
}

fn split_host_port(text: &str) -> Result<(&str, Option<u16>)> {
    if let Some(rest) = text.strip_prefix('[') {
        let Some((host, after)) = rest.split_once(']') else {
            bail!("unclosed '[' in {text:?}");
        };
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p.parse().map_err(|_| anyhow::anyhow!("bad port {p:?}"))?),
            None if after.is_empty() => None,
            None => bail!("unexpected {after:?} after ']'"),
        };
        return Ok((host, port));
    }
    match text.rsplit_once(':') {
        // A bare IPv6 address has several colons and no port.
        Some((host, _)) if host.contains(':') => Ok((text, None)),
        Some((host, port)) => Ok((
            host,
            Some(
                port.parse()
                    .map_err(|_| anyhow::anyhow!("bad port {port:?}"))?,
            ),
        )),
        None => Ok((text, None)),
    }
}

/// Addresses a component may reach only through a grant that names them:
/// loopback, private (RFC 1918, unique-local), link-local, carrier-grade
/// NAT, unspecified, broadcast and multicast.
pub fn is_restricted(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || (o[0] == 100 && (o[1] & 0xc0) == 64)
                || o[0] == 0
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_restricted(IpAddr::V4(v4));
            }
            let seg = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (seg[0] & 0xfe00) == 0xfc00
                || (seg[0] & 0xffc0) == 0xfe80
        }
    }
}

/// Resolves a host name to addresses; swappable so tests can play DNS.
pub type Resolver = Arc<
    dyn Fn(String, u16) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<SocketAddr>>> + Send>>
        + Send
        + Sync,
>;

/// The system resolver.
pub fn system_resolver() -> Resolver {
    Arc::new(|host, port| {
        Box::pin(async move {
            Ok(tokio::net::lookup_host((host.as_str(), port))
                .await?
                .collect())
        })
    })
}

/// Why an outbound request of a call was refused; kept for the call's error
/// report and the log. Never contains a secret value.
pub type Denials = Arc<Mutex<Vec<String>>>;

/// Everything a component's outbound requests are checked against.
#[derive(Clone)]
pub struct OutboundPolicy {
    pub component: Arc<str>,
    pub grants: Arc<[HostPattern]>,
    pub secrets: SecretGrant,
    pub resolver: Resolver,
    pub tls: Arc<rustls::ClientConfig>,
}

/// The `wasi:http` hooks of one call's store.
pub struct OutboundHooks {
    pub policy: OutboundPolicy,
    pub denials: Denials,
}

/// The TLS client configuration with the webpki roots.
pub fn default_tls() -> Arc<rustls::ClientConfig> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.into(),
    };
    Arc::new(
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth(),
    )
}

type SendFuture = Box<
    dyn Future<
            Output = Result<
                (
                    http::Response<WasiBody>,
                    Box<dyn Future<Output = Result<(), HttpError>> + Send>,
                ),
                HttpError,
            >,
        > + Send,
>;

impl WasiHttpHooks for OutboundHooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> SendFuture {
        let policy = self.policy.clone();
        let denials = self.denials.clone();
        Box::new(async move { send(policy, denials, request, options).await })
    }
}

fn deny(policy: &OutboundPolicy, denials: &Denials, why: String) -> HttpError {
    tracing::warn!(component = %policy.component, "outbound request denied: {why}");
    denials.lock().unwrap().push(why);
    HttpError::HttpRequestDenied
}

/// A request that passed the policy: where to connect and what to send.
pub struct Approved {
    pub addrs: Vec<SocketAddr>,
    pub server_name: String,
    pub tls: bool,
    pub request: http::Request<WasiBody>,
}

/// Applies the policy to `request`: grant, secrets, DNS pinning.
pub async fn approve(
    policy: &OutboundPolicy,
    denials: &Denials,
    mut request: http::Request<WasiBody>,
) -> Result<Approved, HttpError> {
    let uri = request.uri().clone();
    let tls = match uri.scheme_str() {
        Some("https") | None => true,
        Some("http") => false,
        Some(other) => {
            return Err(deny(
                policy,
                denials,
                format!("scheme {other:?} is not allowed"),
            ));
        }
    };
    let Some(raw_host) = uri.host() else {
        return Err(HttpError::HttpRequestUriInvalid);
    };
    let host = raw_host.trim_start_matches('[').trim_end_matches(']');
    let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
    let Some(grant) = policy.grants.iter().find(|g| g.matches(host, port)) else {
        return Err(deny(
            policy,
            denials,
            format!("{host}:{port} is not among the component's granted hosts"),
        ));
    };

    // Secrets go out only now that the host is known to be granted. A
    // secret obtained at send time (a signed-in provider's token) is asked
    // for only now, so an ungranted host never causes a refresh.
    let secrets = match policy.secrets.fresh().await {
        Ok(secrets) => secrets,
        Err(why) => return Err(deny(policy, denials, why)),
    };
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let path = match secrets.substitute(path) {
        Ok(p) => p.into_owned(),
        Err(name) => {
            return Err(deny(
                policy,
                denials,
                format!("secret {name:?} is not granted to this component"),
            ));
        }
    };
    for value in request.headers_mut().values_mut() {
        let Ok(text) = value.to_str() else { continue };
        match secrets.substitute(text) {
            Ok(std::borrow::Cow::Borrowed(_)) => {}
            Ok(std::borrow::Cow::Owned(s)) => {
                let mut new = http::HeaderValue::from_str(&s)
                    .map_err(|_| HttpError::HttpRequestUriInvalid)?;
                new.set_sensitive(true);
                *value = new;
            }
            Err(name) => {
                return Err(deny(
                    policy,
                    denials,
                    format!("secret {name:?} is not granted to this component"),
                ));
            }
        }
    }
    *request.uri_mut() = http::Uri::builder()
        .path_and_query(path)
        .build()
        .map_err(|_| HttpError::HttpRequestUriInvalid)?;

    // Resolve once, check every answer, and connect only to what was checked:
    // a name cannot rebind to a private address between check and connect.
    let addrs = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => (policy.resolver)(host.to_string(), port)
            .await
            .map_err(|e| HttpError::DnsError {
                rcode: Some(e.to_string()),
                info_code: None,
            })?,
    };
    let allowed = grant.reachable(&addrs);
    if allowed.is_empty() {
        let shown: Vec<String> = addrs.iter().map(|a| a.ip().to_string()).collect();
        return Err(deny(
            policy,
            denials,
            format!(
                "{host} resolves to private or loopback addresses ({}); only a grant naming the address itself may reach them",
                shown.join(", ")
            ),
        ));
    }
    Ok(Approved {
        addrs: allowed,
        server_name: host.to_string(),
        tls,
        request,
    })
}

async fn send(
    policy: OutboundPolicy,
    denials: Denials,
    request: http::Request<WasiBody>,
    options: Option<RequestOptions>,
) -> Result<
    (
        http::Response<WasiBody>,
        Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ),
    HttpError,
> {
    let approved = approve(&policy, &denials, request).await?;
    let connect_timeout = options
        .and_then(|o| o.connect_timeout)
        .unwrap_or(Duration::from_secs(30));
    let first_byte_timeout = options
        .and_then(|o| o.first_byte_timeout)
        .unwrap_or(Duration::from_secs(300));

    // The request as sent, secrets substituted (a Telegram bot token is
    // part of the path): the log writer redacts them.
    // Formatted only when the line will be written.
    let target = tracing::enabled!(tracing::Level::DEBUG)
        .then(|| format!("{} {}", approved.request.method(), approved.request.uri()));
    let tls = approved.tls.then(|| policy.tls.clone());
    let (mut sender, driver) =
        open_http1(&approved.addrs, &approved.server_name, tls, connect_timeout).await?;
    let response = tokio::time::timeout(first_byte_timeout, sender.send_request(approved.request))
        .await
        .map_err(|_| HttpError::ConnectionReadTimeout)??;
    let status = response.status().as_u16();
    if let Some(target) = target {
        tracing::debug!(component = %policy.component, status, "outbound {target}");
    }
    crate::telemetry::metrics::response_status(&policy.component, status);
    let response = response.map(|body| body.map_err(HttpError::from).boxed_unsync());
    let io_done: Box<dyn Future<Output = Result<(), HttpError>> + Send> = Box::new(async move {
        match driver.await {
            Ok(Ok(())) | Err(_) => Ok(()),
            Ok(Err(e)) => Err(HttpError::from(e)),
        }
    });
    Ok((response, io_done))
}

/// Why [`open_http1`] could not open a connection.
#[derive(Debug)]
pub enum ConnectError {
    /// No address answered; the last failure.
    Connect(std::io::Error),
    /// Connecting or the handshake took longer than allowed.
    Timeout,
    Tls(std::io::Error),
    /// The host is not a valid TLS server name.
    ServerName,
    Handshake(hyper::Error),
}

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnectError::Connect(e) => write!(f, "connection failed: {e}"),
            ConnectError::Timeout => f.write_str("connection timed out"),
            ConnectError::Tls(e) => write!(f, "TLS failed: {e}"),
            ConnectError::ServerName => f.write_str("not a valid TLS server name"),
            ConnectError::Handshake(e) => write!(f, "HTTP handshake failed: {e}"),
        }
    }
}

impl From<ConnectError> for HttpError {
    fn from(e: ConnectError) -> HttpError {
        match e {
            ConnectError::Connect(e) => HttpError::Connect(e),
            ConnectError::Timeout => HttpError::ConnectionTimeout,
            ConnectError::Tls(e) => HttpError::Tls(e),
            ConnectError::ServerName => HttpError::HttpRequestUriInvalid,
            ConnectError::Handshake(e) => HttpError::from(e),
        }
    }
}

/// Opens an HTTP/1.1 connection to the first of `addrs` that accepts,
/// over TLS for `server_name` when `tls` is given, each step within
/// `connect_timeout`. Returns the request sender and the task driving the
/// connection. Shared by components' outbound requests and the host's own
/// (sign-in token endpoints).
pub async fn open_http1<B>(
    addrs: &[SocketAddr],
    server_name: &str,
    tls: Option<Arc<rustls::ClientConfig>>,
    connect_timeout: Duration,
) -> Result<
    (
        hyper::client::conn::http1::SendRequest<B>,
        tokio::task::JoinHandle<hyper::Result<()>>,
    ),
    ConnectError,
>
where
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let io = open_stream(addrs, server_name, tls, connect_timeout).await?;
    let (sender, conn) = tokio::time::timeout(
        connect_timeout,
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(io)),
    )
    .await
    .map_err(|_| ConnectError::Timeout)?
    .map_err(ConnectError::Handshake)?;
    Ok((sender, tokio::spawn(conn)))
}

/// Opens a TCP connection to the first of `addrs` that accepts, each
/// within `connect_timeout`, and runs the TLS handshake for `server_name`
/// on it when `tls` is given: what an HTTP request or a WebSocket
/// ([`super::ws_client`]) is then spoken over.
pub async fn open_stream(
    addrs: &[SocketAddr],
    server_name: &str,
    tls: Option<Arc<rustls::ClientConfig>>,
    connect_timeout: Duration,
) -> Result<Box<dyn IoStream>, ConnectError> {
    let mut last_err = None;
    let mut stream = None;
    for addr in addrs {
        match tokio::time::timeout(connect_timeout, tokio::net::TcpStream::connect(addr)).await {
            Ok(Ok(s)) => {
                stream = Some(s);
                break;
            }
            Ok(Err(e)) => last_err = Some(ConnectError::Connect(e)),
            Err(_) => last_err = Some(ConnectError::Timeout),
        }
    }
    let Some(tcp) = stream else {
        return Err(last_err.unwrap_or(ConnectError::Connect(
            std::io::ErrorKind::ConnectionRefused.into(),
        )));
    };
    let _ = tcp.set_nodelay(true);
    Ok(match tls {
        Some(config) => {
            let name = rustls::pki_types::ServerName::try_from(server_name.to_string())
                .map_err(|_| ConnectError::ServerName)?;
            let tls = tokio_rustls::TlsConnector::from(config)
                .connect(name, tcp)
                .await
                .map_err(ConnectError::Tls)?;
            Box::new(tls)
        }
        None => Box::new(tcp),
    })
}

/// A connection's byte stream, plain or TLS.
pub trait IoStream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin> IoStream for T {}

/// An empty body, for building requests in tests.
pub fn empty_body() -> WasiBody {
    http_body_util::Empty::<Bytes>::new()
        .map_err(|never| match never {})
        .boxed_unsync()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::secrets::SecretStore;
    use std::collections::BTreeMap;

    fn policy(grants: &[&str], resolver: Resolver) -> OutboundPolicy {
        let store = SecretStore::new(BTreeMap::from([(
            "key".to_string(),
            "s3cr3t-value".to_string(),
        )]));
        OutboundPolicy {
            component: "test".into(),
            grants: grants
                .iter()
                .map(|g| HostPattern::parse(g).unwrap())
                .collect(),
            secrets: store.grant(&["key".to_string()]),
            resolver,
            tls: default_tls(),
        }
    }

    fn fixed_dns(ip: &'static str) -> Resolver {
        Arc::new(move |_, port| {
            Box::pin(async move { Ok(vec![SocketAddr::new(ip.parse().unwrap(), port)]) })
        })
    }

    fn request(uri: &str) -> http::Request<WasiBody> {
        http::Request::builder()
            .uri(uri)
            .header("authorization", "Bearer {{secret:key}}")
            .body(empty_body())
            .unwrap()
    }

    #[test]
    fn patterns_parse_and_match() {
        let p = HostPattern::parse("*.example.com").unwrap();
        assert!(p.matches("api.example.com", 443));
        assert!(p.matches("a.b.example.com", 80));
        assert!(!p.matches("example.com", 443));
        assert!(!p.matches("badexample.com", 443));
        let p = HostPattern::parse("api.example.com:8443").unwrap();
        assert!(p.matches("API.example.com", 8443));
        assert!(!p.matches("api.example.com", 443));
        let p = HostPattern::parse("[::1]:80").unwrap();
        assert!(p.matches("::1", 80) && p.names_local_target());
        assert!(
            HostPattern::parse("127.0.0.1:9")
                .unwrap()
                .names_local_target()
        );
        assert!(!HostPattern::parse("*.local").unwrap().names_local_target());
        for bad in [
            "https://a.com",
            "a.com/x",
            "",
            "*.1.2.3.4",
            "a b",
            "a.com:port",
        ] {
            assert!(HostPattern::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn restricted_ranges() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_restricted(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "1.1.1.1", "2606:4700::1111"] {
            assert!(!is_restricted(ip.parse().unwrap()), "{ip}");
        }
    }

    #[tokio::test]
    async fn ungranted_host_is_denied_with_reason() {
        let denials = Denials::default();
        let p = policy(&["api.example.com"], fixed_dns("93.184.216.34"));
        let err = approve(&p, &denials, request("https://evil.example.net/x"))
            .await
            .err()
            .unwrap();
        assert!(matches!(err, HttpError::HttpRequestDenied));
        assert!(denials.lock().unwrap()[0].contains("evil.example.net:443"));
    }

    #[tokio::test]
    async fn name_resolving_to_private_address_is_denied() {
        // A public-looking grant whose DNS answer points inside the network
        // (the rebinding attack) is refused.
        let denials = Denials::default();
        let p = policy(&["api.example.com"], fixed_dns("10.0.0.7"));
        let err = approve(&p, &denials, request("https://api.example.com/"))
            .await
            .err()
            .unwrap();
        assert!(matches!(err, HttpError::HttpRequestDenied));
        assert!(denials.lock().unwrap()[0].contains("10.0.0.7"));
    }

    #[tokio::test]
    async fn approved_request_is_pinned_and_gets_secrets() {
        let denials = Denials::default();
        let p = policy(&["api.example.com"], fixed_dns("93.184.216.34"));
        let ok = approve(
            &p,
            &denials,
            request("https://api.example.com/v1/%7B%7Bsecret:key%7D%7D?q=1"),
        )
        .await
        .unwrap();
        assert_eq!(ok.addrs, vec!["93.184.216.34:443".parse().unwrap()]);
        assert_eq!(ok.server_name, "api.example.com");
        assert_eq!(ok.request.uri().to_string(), "/v1/s3cr3t-value?q=1");
        assert_eq!(
            ok.request.headers()["authorization"].to_str().unwrap(),
            "Bearer s3cr3t-value"
        );
        assert!(denials.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn ungranted_secret_is_denied_without_sending() {
        let denials = Denials::default();
        let p = policy(&["api.example.com"], fixed_dns("93.184.216.34"));
        let req = http::Request::builder()
            .uri("https://api.example.com/")
            .header("x-key", "{{secret:other}}")
            .body(empty_body())
            .unwrap();
        assert!(approve(&p, &denials, req).await.is_err());
        assert!(denials.lock().unwrap()[0].contains("\"other\""));
    }

    #[tokio::test]
    async fn loopback_only_through_a_literal_grant() {
        let denials = Denials::default();
        let p = policy(&["localhost:8080"], fixed_dns("127.0.0.1"));
        assert!(
            approve(&p, &denials, request("http://localhost:8080/"))
                .await
                .is_ok()
        );
        let p = policy(&["127.0.0.1:8080"], fixed_dns("127.0.0.1"));
        assert!(
            approve(&p, &denials, request("http://127.0.0.1:8080/"))
                .await
                .is_ok()
        );
        assert!(
            approve(&p, &denials, request("http://127.0.0.1:8081/"))
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn a_secret_source_is_asked_only_for_a_granted_host_and_its_failure_denies() {
        use crate::runtime::secrets::tests::counting;
        let source = counting("sign in again: openpista auth login --provider p", true);
        let store = SecretStore::default().with_source("test/key", source.clone());
        let mut p = policy(&["api.example.com"], fixed_dns("93.184.216.34"));
        p.secrets = store
            .with_local("test", &BTreeMap::new())
            .grant(&["key".to_string()]);
        let denials = Denials::default();
        assert!(
            approve(&p, &denials, request("https://evil.example.net/"))
                .await
                .is_err()
        );
        let asked = || source.asked.load(std::sync::atomic::Ordering::SeqCst);
        assert_eq!(asked(), 0, "no token is obtained for an ungranted host");
        assert!(
            approve(&p, &denials, request("https://api.example.com/"))
                .await
                .is_err()
        );
        assert_eq!(asked(), 1);
        let last = denials.lock().unwrap().last().cloned().unwrap();
        assert_eq!(last, "sign in again: openpista auth login --provider p");
    }
}
