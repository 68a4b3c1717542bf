//! The one-shot callback server of the loopback flows (OpenAI,
//! OpenRouter): it listens on 127.0.0.1 only, at the configured port (0:
//! any free port, the redirect URI then names the one bound), answers the
//! browser's one redirect with a small page, and closes. It gives up after
//! the configured time.
//!
//! A callback from a peer that is not loopback is refused (403) and the
//! wait goes on; a callback whose `state` is not the one sent is refused
//! with a page saying so, and ends the sign-in with that error. The
//! redirect URL can also be pasted into the terminal (for a browser on
//! another machine, `--no-browser`): whichever comes first wins.

use super::AuthError;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// Longest request head read from the browser.
const MAX_HEAD: usize = 16 * 1024;
/// How long one connection may take to send its request (browsers open
/// spare connections that send nothing).
const READ_WAIT: Duration = Duration::from_secs(10);

/// A bound, not yet answered, callback listener.
pub struct Callback {
    listener: TcpListener,
    path: &'static str,
    /// `http://localhost:PORT/PATH`, for the authorize request.
    pub redirect_uri: String,
}

/// What a callback (or pasted redirect URL) carried.
#[derive(Debug, PartialEq, Eq)]
pub struct Redirect {
    pub code: String,
}

impl Callback {
    /// Listens on 127.0.0.1:`port` for `path`.
    pub async fn bind(
        provider: &str,
        port: u16,
        path: &'static str,
    ) -> Result<Callback, AuthError> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.map_err(|e| {
            AuthError::flow(
                provider,
                format!(
                    "cannot listen on 127.0.0.1:{port} for the sign-in redirect ({e}); is another sign-in running? (`redirect_port` in [auth.{provider}] changes it)"
                ),
            )
        })?;
        let bound = listener
            .local_addr()
            .map_err(|e| AuthError::flow(provider, e.to_string()))?
            .port();
        Ok(Callback {
            listener,
            path,
            redirect_uri: format!("http://localhost:{bound}{path}"),
        })
    }

    /// Waits for the redirect (or a pasted redirect URL from `pasted`)
    /// for at most `timeout`, checking `state` when one was sent.
    pub async fn wait(
        self,
        provider: &str,
        state: Option<&str>,
        timeout: Duration,
        pasted: &mut mpsc::UnboundedReceiver<String>,
    ) -> Result<Redirect, AuthError> {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let expected = state.map(String::from);
        let path = self.path;
        let listener = self.listener;
        let accept = async move {
            loop {
                let Ok((stream, peer)) = listener.accept().await else {
                    continue;
                };
                let (tx, expected) = (tx.clone(), expected.clone());
                tokio::spawn(async move {
                    if let Some(outcome) = answer(stream, peer, path, expected.as_deref()).await {
                        let _ = tx.send(outcome);
                    }
                });
            }
        };
        let accept = tokio::spawn(accept);
        let mut pasted_open = true;
        let outcome = tokio::time::timeout(timeout, async {
            loop {
                tokio::select! {
                    Some(outcome) = rx.recv() => return outcome,
                    line = pasted.recv(), if pasted_open => match line {
                        Some(line) if !line.trim().is_empty() => {
                            return check(&parse_pasted(&line), state);
                        }
                        Some(_) => {}
                        None => pasted_open = false,
                    },
                }
            }
        })
        .await;
        // The listener closes here: one sign-in, one redirect.
        accept.abort();
        match outcome {
            Ok(Ok(code)) => Ok(Redirect { code }),
            Ok(Err(reason)) => Err(AuthError::flow(provider, reason)),
            Err(_) => Err(AuthError::flow(
                provider,
                format!(
                    "no redirect came back within {} s; run the command again (with --no-browser to paste the redirect URL)",
                    timeout.as_secs()
                ),
            )),
        }
    }
}

/// Whether a callback may come from `ip`: loopback only (IPv4, IPv6 and
/// IPv4-mapped IPv6).
pub fn peer_allowed(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// Serves one connection. `Some` when it was the callback (its code, or
/// why the sign-in fails); `None` for anything else (a refused peer,
/// another path, a connection that sent nothing).
async fn answer(
    mut stream: TcpStream,
    peer: SocketAddr,
    path: &str,
    state: Option<&str>,
) -> Option<Result<String, String>> {
    let target = tokio::time::timeout(READ_WAIT, read_target(&mut stream))
        .await
        .ok()
        .flatten()?;
    if !peer_allowed(peer.ip()) {
        tracing::warn!("sign-in callback from {peer} refused: not a loopback address");
        reply(
            &mut stream,
            403,
            "Refused",
            "This address may not complete the sign-in.",
        )
        .await;
        return None;
    }
    let (target_path, query) = target.split_once('?').unwrap_or((&target, ""));
    if target_path != path {
        reply(
            &mut stream,
            404,
            "Not found",
            "This is openpista's sign-in listener.",
        )
        .await;
        return None;
    }
    let outcome = check(&parse_query(query), state);
    match &outcome {
        Ok(_) => {
            reply(
                &mut stream,
                200,
                "Signed in",
                "openpista is signed in. You can close this tab.",
            )
            .await
        }
        Err(why) => reply(&mut stream, 400, "Sign-in failed", why).await,
    }
    Some(outcome)
}

/// The request target of a `GET` request head.
async fn read_target(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut buf = [0u8; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 || head.len() + n > MAX_HEAD {
            return None;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&head);
    let mut parts = line.lines().next()?.split_whitespace();
    match (parts.next(), parts.next()) {
        (Some("GET"), Some(target)) => Some(target.to_string()),
        _ => None,
    }
}

async fn reply(stream: &mut TcpStream, status: u16, title: &str, text: &str) {
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title></head><body><h1>{title}</h1><p id=\"message\">{}</p></body></html>",
        escape(text)
    );
    let head = format!(
        "HTTP/1.1 {status} {title}\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\ncache-control: no-store\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body.as_bytes()).await;
    let _ = stream.shutdown().await;
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn parse_query(query: &str) -> HashMap<String, String> {
    url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

/// The parameters of a pasted redirect URL (or of its bare query).
fn parse_pasted(line: &str) -> HashMap<String, String> {
    let line = line.trim();
    match url::Url::parse(line) {
        Ok(u) => u.query_pairs().into_owned().collect(),
        Err(_) => parse_query(line.trim_start_matches('?')),
    }
}

/// The code of a redirect's parameters, or why the sign-in fails: the
/// provider's `error`, a missing code, a `state` that is not ours.
fn check(params: &HashMap<String, String>, state: Option<&str>) -> Result<String, String> {
    if let Some(error) = params.get("error") {
        let detail = params
            .get("error_description")
            .map(|d| format!(": {d}"))
            .unwrap_or_default();
        return Err(format!(
            "the provider refused the sign-in ({error}{detail})"
        ));
    }
    if let Some(expected) = state
        && params.get("state").map(String::as_str) != Some(expected)
    {
        return Err(
            "the redirect's state does not match this sign-in (a stale or forged redirect); nothing was stored"
                .into(),
        );
    }
    match params.get("code") {
        Some(code) if !code.is_empty() => Ok(code.clone()),
        _ => Err("the redirect carries no authorisation code".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_peers_may_call_back() {
        // Every kind of address; the end-to-end test (auth_e2e
        // refusals.rs) sends from this machine's own non-loopback one.
        for ip in ["127.0.0.1", "127.3.4.5", "::1", "::ffff:127.0.0.1"] {
            assert!(peer_allowed(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "192.168.1.20",
            "10.0.0.1",
            "0.0.0.0",
            "fe80::1",
            "::ffff:10.0.0.1",
            "8.8.8.8",
        ] {
            assert!(!peer_allowed(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn state_code_and_provider_errors_are_checked() {
        let p = |q: &str| parse_query(q);
        assert_eq!(check(&p("code=c1&state=s1"), Some("s1")), Ok("c1".into()));
        let e = check(&p("code=c1&state=other"), Some("s1")).unwrap_err();
        assert!(e.contains("state does not match"), "{e}");
        assert!(
            check(&p("code=c1"), Some("s1")).is_err(),
            "a missing state is wrong too"
        );
        assert_eq!(check(&p("code=c1"), None), Ok("c1".into()));
        let e = check(&p("error=access_denied&error_description=no"), None).unwrap_err();
        assert!(e.contains("access_denied: no"), "{e}");
        assert!(check(&p("state=s1"), Some("s1")).is_err());
    }

    #[test]
    fn pasted_urls_and_queries_parse() {
        let a = parse_pasted(" http://localhost:1455/auth/callback?code=a%20b&state=s \n");
        assert_eq!(a["code"], "a b");
        let b = parse_pasted("?code=x&state=y");
        assert_eq!((b["code"].as_str(), b["state"].as_str()), ("x", "y"));
    }

    fn port_of(uri: &str) -> u16 {
        url::Url::parse(uri).unwrap().port().unwrap()
    }

    async fn get(port: u16, target: &str) -> String {
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        s.write_all(format!("GET {target} HTTP/1.1\r\nhost: localhost\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn answers_one_callback_then_closes() {
        let cb = Callback::bind("openai", 0, "/auth/callback").await.unwrap();
        let port = port_of(&cb.redirect_uri);
        assert_eq!(
            cb.redirect_uri,
            format!("http://localhost:{port}/auth/callback")
        );
        let (_keep, mut pasted) = mpsc::unbounded_channel();
        let wait = tokio::spawn(async move {
            cb.wait("openai", Some("st"), Duration::from_secs(30), &mut pasted)
                .await
        });
        // A spare connection that sends nothing does not block the callback.
        let _idle = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        assert!(get(port, "/favicon.ico").await.starts_with("HTTP/1.1 404"));
        let page = get(port, "/auth/callback?code=the-code&state=st").await;
        assert!(
            page.starts_with("HTTP/1.1 200") && page.contains("close this tab"),
            "{page}"
        );
        assert_eq!(
            wait.await.unwrap().unwrap(),
            Redirect {
                code: "the-code".into()
            }
        );
        assert!(
            TcpStream::connect(("127.0.0.1", port)).await.is_err(),
            "closed after one use"
        );
    }

    #[tokio::test]
    async fn a_wrong_state_gets_a_page_and_an_error() {
        let cb = Callback::bind("openai", 0, "/cb").await.unwrap();
        let port = port_of(&cb.redirect_uri);
        let (_keep, mut pasted) = mpsc::unbounded_channel();
        let wait = tokio::spawn(async move {
            cb.wait("openai", Some("mine"), Duration::from_secs(30), &mut pasted)
                .await
        });
        let page = get(port, "/cb?code=c&state=theirs").await;
        assert!(
            page.starts_with("HTTP/1.1 400") && page.contains("state does not match"),
            "{page}"
        );
        let e = wait.await.unwrap().unwrap_err().to_string();
        assert!(e.contains("state does not match"), "{e}");
    }

    #[tokio::test]
    async fn a_pasted_redirect_url_works_and_the_wait_times_out() {
        let cb = Callback::bind("openrouter", 0, "/callback").await.unwrap();
        let (tx, mut pasted) = mpsc::unbounded_channel();
        tx.send("\n".into()).unwrap();
        tx.send(format!("{}?code=pasted", cb.redirect_uri)).unwrap();
        let got = cb
            .wait("openrouter", None, Duration::from_secs(30), &mut pasted)
            .await;
        assert_eq!(
            got.unwrap(),
            Redirect {
                code: "pasted".into()
            }
        );

        let cb = Callback::bind("openrouter", 0, "/callback").await.unwrap();
        drop(tx); // stdin at its end: only the (absent) browser is left
        let e = cb
            .wait("openrouter", None, Duration::from_millis(200), &mut pasted)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("within 0 s"), "{e}");
    }
}
