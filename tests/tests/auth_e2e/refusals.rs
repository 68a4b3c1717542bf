//! What a sign-in must refuse, through the real command and the double:
//! a redirect with another `state`, a code issued for another PKCE
//! challenge (the double checks the `code_verifier` against S256), a code
//! used twice. Also the pasted-redirect path of `--no-browser`, with the
//! id_token → API key exchange. Consent is given over plain HTTP here
//! (what the Allow button does); the browser itself is in `browser.rs`.
//!
//! A callback from a non-loopback peer is refused too: the test connects
//! to the listener from a socket bound to this machine's own non-loopback
//! address, which Linux routes over loopback with that source address.

use super::{Home, consent_over_http, get};

/// `url` with query parameter `key` set to `value`.
fn with_param(url: &str, key: &str, value: &str) -> String {
    let mut u = url::Url::parse(url).unwrap();
    let pairs: Vec<(String, String)> = u
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == key {
                value.to_string()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    u.query_pairs_mut().clear().extend_pairs(pairs);
    u.to_string()
}

fn param(url: &str, key: &str) -> String {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("no {key} in {url}"))
}

#[tokio::test]
async fn a_redirect_with_another_state_is_refused_and_nothing_stored() {
    let home = Home::new().await;
    home.double.forge_state("forged-state");
    let mut cli = home.spawn(&["auth", "login", "--provider", "openai", "--no-browser"]);
    let url = cli.url(&home.double.url("/openai/oauth/authorize")).await;
    let redirect = consent_over_http(&home.double, &url).await;
    assert!(redirect.contains("state=forged-state"), "{redirect}");
    let (status, page) = get(&redirect).await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("state does not match"), "{page}");
    let (status, out) = cli.finish().await;
    assert!(!status.success(), "{out}");
    assert!(out.contains("state does not match"), "{out}");
    assert!(!home.credentials().exists(), "nothing stored");
    assert_eq!(
        home.double.count("/openai/oauth/token"),
        0,
        "no exchange tried"
    );
}

#[tokio::test]
async fn a_code_for_another_challenge_fails_the_verifier_check() {
    let home = Home::new().await;
    let mut cli = home.spawn(&["auth", "login", "--provider", "openai", "--no-browser"]);
    let url = cli.url(&home.double.url("/openai/oauth/authorize")).await;
    // An attacker's authorisation: same client, redirect and state, but
    // the challenge of a verifier the command does not hold.
    let other = openpista::auth::pkce::challenge("another-verifier-that-the-command-never-saw");
    assert_ne!(other, param(&url, "code_challenge"));
    let injected =
        consent_over_http(&home.double, &with_param(&url, "code_challenge", &other)).await;
    cli.type_line(&injected).await;
    let (status, out) = cli.finish().await;
    assert!(!status.success(), "{out}");
    assert!(
        out.contains("invalid_grant") && out.contains("code_verifier does not match"),
        "{out}"
    );
    assert!(!home.credentials().exists(), "nothing stored");
}

#[tokio::test]
async fn a_pasted_redirect_signs_in_with_api_billing_and_its_code_cannot_be_reused() {
    let home = Home::new().await;
    let mut cli = home.spawn(&[
        "auth",
        "login",
        "--provider",
        "openai",
        "--no-browser",
        "--api-billing",
    ]);
    let url = cli.url(&home.double.url("/openai/oauth/authorize")).await;
    let redirect = consent_over_http(&home.double, &url).await;
    // As over SSH: the browser's redirect cannot reach this machine, so
    // the person pastes the address it tried to open.
    cli.type_line(&redirect).await;
    let (status, out) = cli.finish().await;
    assert!(status.success(), "{out}");
    let first = home.stored("openai");
    let api_key = first.extra.get("api_key").expect("the exchanged API key");
    assert!(api_key.starts_with("sk-proj_"), "from the token exchange");
    assert!(!out.contains(api_key.as_str()), "{out}");

    // A second sign-in handed the first one's code (with its own state).
    let code = param(&redirect, "code");
    let mut cli = home.spawn(&["auth", "login", "--provider", "openai", "--no-browser"]);
    let url = cli.url(&home.double.url("/openai/oauth/authorize")).await;
    let redirect_uri = param(&url, "redirect_uri");
    let state = param(&url, "state");
    cli.type_line(&format!("{redirect_uri}?code={code}&state={state}"))
        .await;
    let (status, out) = cli.finish().await;
    assert!(!status.success(), "{out}");
    assert!(out.contains("already used"), "{out}");
    assert_eq!(
        home.stored("openai"),
        first,
        "the stored sign-in is untouched"
    );
}

/// This machine's address on its default route (no packet is sent: a UDP
/// socket only picks the source address when it connects).
fn non_loopback_address() -> Option<std::net::IpAddr> {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("198.51.100.1:9").ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

/// `GET url` (the command's listener on 127.0.0.1) from a socket bound to
/// `source`: the status the listener answers.
async fn get_from(source: std::net::IpAddr, url: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let u = url::Url::parse(url).unwrap();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(std::net::SocketAddr::new(source, 0)).unwrap();
    let addr = format!("127.0.0.1:{}", u.port().unwrap()).parse().unwrap();
    let mut stream = socket.connect(addr).await.unwrap();
    let path = &u[url::Position::BeforePath..url::Position::AfterQuery];
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await
        .unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(super::WAIT, stream.read_to_end(&mut answer))
        .await
        .expect("the listener answers")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {answer:?}"))
}

#[tokio::test]
async fn a_callback_from_a_non_loopback_address_is_refused_and_the_sign_in_goes_on() {
    let Some(source) = non_loopback_address() else {
        assert!(
            std::env::var("CI").is_err(),
            "CI needs a non-loopback address for this test"
        );
        eprintln!("skipped: this machine has no non-loopback address");
        return;
    };
    let home = Home::new().await;
    let mut cli = home.spawn(&["auth", "login", "--provider", "openai", "--no-browser"]);
    let url = cli.url(&home.double.url("/openai/oauth/authorize")).await;
    let redirect = consent_over_http(&home.double, &url).await;
    assert_eq!(get_from(source, &redirect).await, 403, "from {source}");
    assert_eq!(
        home.double.count("/openai/oauth/token"),
        0,
        "a refused callback exchanges nothing"
    );
    // The listener is still there for the real browser's redirect.
    let (status, page) = get(&redirect).await;
    assert_eq!(status, 200, "{page}");
    let (status, out) = cli.finish().await;
    assert!(status.success(), "{out}");
    assert!(!home.stored("openai").access_token.is_empty());
}
