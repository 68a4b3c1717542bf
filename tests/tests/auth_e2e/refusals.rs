//! What a sign-in must refuse, through the real command and the double:
//! a redirect with another `state`, a code issued for another PKCE
//! challenge (the double checks the `code_verifier` against S256), a code
//! used twice. Also the pasted-redirect path of `--no-browser`, with the
//! id_token → API key exchange. Consent is given over plain HTTP here
//! (what the Allow button does); the browser itself is in `browser.rs`.
//!
//! A callback from a non-loopback peer is refused too; a test cannot send
//! from another address, so that check is a unit test of
//! `openpista::auth::loopback::peer_allowed`.

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
