//! OpenRouter: PKCE (S256) with a loopback `callback_url`; the code and
//! its verifier are exchanged at `/api/v1/auth/keys` for an API key, which
//! does not expire. OpenRouter's flow has no `state` parameter: a forged
//! callback's code could not be exchanged anyway, since only this process
//! holds the verifier of its challenge.

use super::http::{Body, with_query};
use super::login::Terminal;
use super::loopback::Callback;
use super::pkce::Pkce;
use super::settings::OpenRouterSettings;
use super::{AuthError, Credential, token};
use serde_json::json;
use std::time::Duration;

pub const PROVIDER: &str = "openrouter";

/// Signs in in the browser; the credential is the issued API key.
pub async fn login(s: &OpenRouterSettings, term: &mut Terminal) -> Result<Credential, AuthError> {
    let pkce = Pkce::new();
    let callback = Callback::bind(PROVIDER, s.redirect_port, "/callback").await?;
    let url = with_query(
        &s.authorize_url,
        &[
            ("callback_url", &callback.redirect_uri),
            ("code_challenge", &pkce.challenge),
            ("code_challenge_method", "S256"),
        ],
    );
    term.show_url("Sign in to OpenRouter at this address", &url);
    term.say("Waiting for the browser (or paste the address it was redirected to):");
    let timeout = Duration::from_secs(s.login_timeout_secs);
    let redirect = callback
        .wait(PROVIDER, None, timeout, &mut term.lines)
        .await?;
    let v = token::post(
        PROVIDER,
        &s.keys_url,
        Body::Json(json!({
            "code": redirect.code,
            "code_verifier": pkce.verifier,
            "code_challenge_method": "S256",
        })),
    )
    .await?;
    let mut c = Credential::api_key(token::string(&v, "key", &s.keys_url)?);
    c.account_id = token::opt_string(&v, "user_id");
    Ok(c)
}
