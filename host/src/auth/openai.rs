//! OpenAI (ChatGPT subscription): authorisation code with PKCE (S256) and
//! `state`, redirected to the loopback listener; the token exchange; the
//! account read from the id_token's `https://api.openai.com/auth` claim;
//! optionally the id_token → API key exchange (API billing); the refresh
//! grant.

use super::http::{Body, with_query};
use super::login::Terminal;
use super::loopback::Callback;
use super::pkce::Pkce;
use super::settings::OpenAiSettings;
use super::{AuthError, Credential, jwt, token};
use serde_json::Value;
use std::time::Duration;

pub const PROVIDER: &str = "openai";
/// The id_token claim holding OpenAI's account details.
pub const AUTH_CLAIM: &str = "https://api.openai.com/auth";

/// The redirect path OpenAI's client is registered with.
const CALLBACK_PATH: &str = "/auth/callback";

/// Signs in in the browser; with `api_billing`, also gets an API key.
pub async fn login(
    s: &OpenAiSettings,
    term: &mut Terminal,
    api_billing: bool,
) -> Result<Credential, AuthError> {
    let pkce = Pkce::new();
    let callback = Callback::bind(PROVIDER, s.redirect_port, CALLBACK_PATH).await?;
    let redirect_uri = callback.redirect_uri.clone();
    let url = with_query(
        &s.authorize_url,
        &[
            ("response_type", "code"),
            ("client_id", &s.client_id),
            ("redirect_uri", &redirect_uri),
            ("scope", &s.scopes),
            ("code_challenge", &pkce.challenge),
            ("code_challenge_method", "S256"),
            ("state", &pkce.state),
            ("id_token_add_organizations", "true"),
            ("codex_cli_simplified_flow", "true"),
        ],
    );
    term.show_url("Sign in to OpenAI at this address", &url);
    term.say("Waiting for the browser (or paste the address it was redirected to):");
    let timeout = Duration::from_secs(s.login_timeout_secs);
    let redirect = callback
        .wait(PROVIDER, Some(&pkce.state), timeout, &mut term.lines)
        .await?;
    let v = token::post(
        PROVIDER,
        &s.token_url,
        Body::Form(vec![
            ("grant_type", "authorization_code".into()),
            ("code", redirect.code),
            ("redirect_uri", redirect_uri),
            ("client_id", s.client_id.clone()),
            ("code_verifier", pkce.verifier.clone()),
        ]),
    )
    .await?;
    let mut c = token::signed_in(&v, &s.token_url)?;
    apply_id_token(&mut c, &v);
    if api_billing {
        let key = api_key(s, &c).await?;
        c.extra.insert("api_key".into(), key);
    }
    Ok(c)
}

/// The id_token → API key token exchange (RFC 8693), for API billing.
async fn api_key(s: &OpenAiSettings, c: &Credential) -> Result<String, AuthError> {
    let Some(id_token) = c.extra.get("id_token").cloned() else {
        return Err(AuthError::Malformed {
            endpoint: s.token_url.clone(),
            reason: "the sign-in returned no id_token to exchange for an API key".into(),
        });
    };
    let v = token::post(
        PROVIDER,
        &s.token_url,
        Body::Form(vec![
            (
                "grant_type",
                "urn:ietf:params:oauth:grant-type:token-exchange".into(),
            ),
            ("client_id", s.client_id.clone()),
            ("requested_token", "openai-api-key".into()),
            ("subject_token", id_token),
            (
                "subject_token_type",
                "urn:ietf:params:oauth:token-type:id_token".into(),
            ),
        ]),
    )
    .await?;
    token::string(&v, "access_token", &s.token_url)
}

/// A new access token from `c`'s refresh token (`grant_type=refresh_token`
/// at the token endpoint, form-encoded as RFC 6749 §6 says).
pub async fn refresh(s: &OpenAiSettings, c: &Credential) -> Result<Credential, AuthError> {
    let (mut out, v) = token::refresh_grant(PROVIDER, &s.token_url, c, |refresh_token| {
        Body::Form(vec![
            ("grant_type", "refresh_token".into()),
            ("refresh_token", refresh_token),
            ("client_id", s.client_id.clone()),
        ])
    })
    .await?;
    apply_id_token(&mut out, &v);
    Ok(out)
}

/// Stores the answer's id_token and the account and email it names.
pub(crate) fn apply_id_token(c: &mut Credential, v: &Value) {
    let Some(id_token) = token::opt_string(v, "id_token") else {
        return;
    };
    if let Some(claims) = jwt::claims(&id_token) {
        let (account, email) = identity(&claims);
        c.account_id = account.or(c.account_id.take());
        c.email = email.or(c.email.take());
    }
    c.extra.insert("id_token".into(), id_token);
}

/// `chatgpt_account_id` and the email of an id_token's claims.
pub fn identity(claims: &Value) -> (Option<String>, Option<String>) {
    let account = claims
        .get(AUTH_CLAIM)
        .and_then(|a| a.get("chatgpt_account_id"))
        .and_then(Value::as_str)
        .map(String::from);
    let email = claims
        .get("email")
        .and_then(Value::as_str)
        .map(String::from);
    (account, email)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_comes_from_the_auth_claim() {
        let claims = serde_json::json!({
            "email": "p@example.com",
            AUTH_CLAIM: {"chatgpt_account_id": "acc-42", "chatgpt_plan_type": "plus"}
        });
        assert_eq!(
            identity(&claims),
            (Some("acc-42".into()), Some("p@example.com".into()))
        );
        assert_eq!(identity(&serde_json::json!({})), (None, None));
    }
}
