//! `openpista::auth::refresh` against the double: each provider's real
//! refresh request, rotation of the refresh token, and the errors a
//! person can act on: an expired or revoked grant names the command that
//! signs in again; a provider that is down is not mistaken for one.

use openpista::auth::{AuthError, AuthSettings, refresh};
use openpista_tests::doubles::http1::{self, Answer};
use openpista_tests::doubles::oauth::OAuthDouble;
use std::sync::Arc;

fn settings(double: &OAuthDouble) -> AuthSettings {
    openpista::config::Config::parse(&double.auth_config(), "test")
        .unwrap()
        .auth
}

fn soon() -> i64 {
    openpista::auth::now_unix() + 60
}

fn assert_sign_in_again(e: AuthError, provider: &str) {
    let text = e.to_string();
    assert!(matches!(e, AuthError::SignInAgain { .. }), "{text}");
    assert!(
        text.contains(&format!("`openpista auth login --provider {provider}`")),
        "{text}"
    );
}

#[tokio::test]
async fn openai_refresh_rotates_the_tokens_and_reads_the_account() {
    let double = OAuthDouble::start().await;
    let s = settings(&double);
    let old = double.signed_in("openai", soon());
    let new = refresh(&s, "openai", &old).await.unwrap();
    assert_eq!(double.refresh_grants("openai"), 1);
    assert_ne!(new.access_token, old.access_token);
    assert_ne!(new.refresh_token, old.refresh_token, "rotated");
    assert_eq!(
        new.account_id,
        Some(format!("acct-{}", double.addr.port())),
        "from the new id_token"
    );
    assert!(new.expires_at.unwrap() > soon() + 3000);
    let grant = double
        .requests()
        .into_iter()
        .find(|r| r.path == "/openai/oauth/token")
        .unwrap();
    let form: std::collections::HashMap<String, String> = url::form_urlencoded::parse(&grant.raw)
        .into_owned()
        .collect();
    assert_eq!(form["grant_type"], "refresh_token");
    assert_eq!(Some(&form["refresh_token"]), old.refresh_token.as_ref());
    // The replaced refresh token is gone at the provider.
    assert_sign_in_again(refresh(&s, "openai", &old).await.unwrap_err(), "openai");
}

#[tokio::test]
async fn anthropic_refresh_is_json_and_keeps_the_account() {
    let double = OAuthDouble::start().await;
    let s = settings(&double);
    let old = double.signed_in("anthropic", soon());
    let new = refresh(&s, "anthropic", &old).await.unwrap();
    assert_eq!(double.refresh_grants("anthropic"), 1);
    assert_ne!(new.access_token, old.access_token);
    assert_eq!(new.account_id.as_deref(), Some("anthropic-account-1"));
    let grant = &double.requests()[0];
    assert_eq!(grant.header("content-type"), Some("application/json"));
    assert_eq!(grant.body["grant_type"], "refresh_token");
}

#[tokio::test]
async fn copilot_refresh_gets_a_new_copilot_token_until_github_revokes() {
    let double = OAuthDouble::start().await;
    let s = settings(&double);
    let old = double.signed_in("copilot", soon());
    let new = refresh(&s, "copilot", &old).await.unwrap();
    assert!(new.access_token.starts_with("tid=copilot_"));
    assert_eq!(
        new.refresh_token, old.refresh_token,
        "the GitHub token stays"
    );
    assert_eq!(new.account_id, old.account_id);
    let auth = double.requests()[0]
        .header("authorization")
        .unwrap()
        .to_string();
    assert_eq!(
        Some(auth.trim_start_matches("token ")),
        old.refresh_token.as_deref()
    );
    double.revoke_github_tokens();
    assert_sign_in_again(refresh(&s, "copilot", &old).await.unwrap_err(), "copilot");
}

#[tokio::test]
async fn an_expired_refresh_token_asks_to_sign_in_again() {
    let double = OAuthDouble::start().await;
    let s = settings(&double);
    for provider in ["openai", "anthropic"] {
        let c = double.signed_in(provider, soon());
        double.expire_refresh_tokens(provider);
        let e = refresh(&s, provider, &c).await.unwrap_err();
        for secret in [&c.access_token, c.refresh_token.as_ref().unwrap()] {
            assert!(!e.to_string().contains(secret.as_str()), "{e}");
        }
        assert_sign_in_again(e, provider);
        assert_eq!(double.refresh_grants(provider), 1);
    }
}

#[tokio::test]
async fn a_provider_that_is_down_or_busy_is_not_a_lost_sign_in() {
    for (status, body) in [(503, "upstream down"), (429, r#"{"error":"rate_limited"}"#)] {
        let addr = http1::serve(Arc::new(move |_| Answer::Whole {
            status,
            headers: vec![],
            body: body.as_bytes().to_vec(),
        }))
        .await;
        let mut s = AuthSettings::default();
        s.openai.token_url = format!("http://{addr}/oauth/token");
        let double = OAuthDouble::start().await;
        let c = double.signed_in("openai", soon());
        let e = refresh(&s, "openai", &c).await.unwrap_err();
        assert!(
            matches!(e, AuthError::Refused { status: s, .. } if s == status),
            "{status}: {e}"
        );
        assert!(e.to_string().contains(&status.to_string()), "{e}");
    }
}
