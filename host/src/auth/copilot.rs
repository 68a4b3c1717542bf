//! GitHub Copilot: GitHub's device flow (RFC 8628: a code to type at the
//! verification address, then polling at `interval`, longer after each
//! `slow_down`), then the short-lived Copilot token got from the GitHub
//! token (`GET copilot_internal/v2/token`), at sign-in and at each
//! refresh. The GitHub token is kept as the refresh token; the Copilot
//! token as the access token, with its `expires_at` and the API endpoint
//! it names (`extra.api_endpoint`).

use super::http::{self, Body};
use super::login::Terminal;
use super::settings::CopilotSettings;
use super::{AuthError, Credential, Method, token};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// Signs in with the device flow, then gets the first Copilot token.
pub async fn login(s: &CopilotSettings, term: &mut Terminal) -> Result<Credential, AuthError> {
    let device = token::post(
        PROVIDER,
        &s.device_code_url,
        Body::Form(vec![
            ("client_id", s.client_id.clone()),
            ("scope", s.scopes.clone()),
        ]),
    )
    .await?;
    let url = &s.device_code_url;
    let device_code = token::string(&device, "device_code", url)?;
    let user_code = token::string(&device, "user_code", url)?;
    let verification = token::string(&device, "verification_uri", url)?;
    let mut interval = device.get("interval").and_then(Value::as_u64).unwrap_or(5);
    let expires_in = device
        .get("expires_in")
        .and_then(Value::as_u64)
        .unwrap_or(900);
    term.show_url(
        &format!("Enter the code {user_code} at this address to sign in to GitHub"),
        &verification,
    );
    term.say(&format!("Waiting for GitHub (code {user_code})..."));
    let deadline = Instant::now() + Duration::from_secs(expires_in);
    loop {
        // RFC 8628 §3.5: no faster than `interval` seconds apart.
        tokio::time::sleep(Duration::from_secs(interval)).await;
        if Instant::now() > deadline {
            return Err(expired());
        }
        let v = token::post(
            PROVIDER,
            &s.token_url,
            Body::Form(vec![
                ("client_id", s.client_id.clone()),
                ("device_code", device_code.clone()),
                ("grant_type", DEVICE_GRANT.into()),
            ]),
        )
        .await?;
        if let Some(github_token) = token::opt_string(&v, "access_token") {
            return copilot_token(s, &github_token).await;
        }
        match v.get("error").and_then(Value::as_str) {
            Some("authorization_pending") => {}
            Some("slow_down") => {
                // The answer names the new interval; RFC 8628 says +5 s.
                interval = v
                    .get("interval")
                    .and_then(Value::as_u64)
                    .unwrap_or(interval + 5);
            }
            Some("expired_token") => return Err(expired()),
            Some("access_denied") => {
                return Err(AuthError::flow(
                    PROVIDER,
                    "the sign-in was refused on GitHub; nothing was stored",
                ));
            }
            _ => {
                let (error, description) = token::error_fields(&v);
                return Err(AuthError::Refused {
                    provider: PROVIDER.into(),
                    endpoint: s.token_url.clone(),
                    status: 200,
                    error: error.unwrap_or_else(|| "neither a token nor an error".into()),
                    description,
                });
            }
        }
    }
}

fn expired() -> AuthError {
    AuthError::flow(
        PROVIDER,
        "the device code expired before it was entered; run the command again",
    )
}

pub const PROVIDER: &str = "copilot";

/// The Copilot token for GitHub token `github_token`. A 401 (the GitHub
/// authorisation was revoked) asks for a new sign-in.
pub async fn copilot_token(
    s: &CopilotSettings,
    github_token: &str,
) -> Result<Credential, AuthError> {
    let auth = format!("token {github_token}");
    let r = http::send(
        http::Method::GET,
        &s.copilot_token_url,
        &[
            ("authorization", &auth),
            ("accept", "application/json"),
            ("editor-version", &s.editor_version),
            ("editor-plugin-version", &s.editor_plugin_version),
        ],
        Body::Empty,
    )
    .await?;
    let endpoint = &s.copilot_token_url;
    let v = token::expect_ok(PROVIDER, endpoint, &r).map_err(|e| match e {
        AuthError::Refused { status: 401, .. } => AuthError::SignInAgain {
            provider: PROVIDER.into(),
        },
        e => e,
    })?;
    let expires_at =
        v.get("expires_at")
            .and_then(Value::as_i64)
            .ok_or_else(|| AuthError::Malformed {
                endpoint: endpoint.clone(),
                reason: "the answer has no `expires_at` number".into(),
            })?;
    let mut extra = BTreeMap::new();
    if let Some(api) = v
        .get("endpoints")
        .and_then(|e| e.get("api"))
        .and_then(Value::as_str)
    {
        extra.insert("api_endpoint".to_string(), api.to_string());
    }
    Ok(Credential {
        method: Method::OAuth,
        access_token: token::string(&v, "token", endpoint)?,
        refresh_token: Some(github_token.to_string()),
        expires_at: Some(expires_at),
        account_id: None,
        email: None,
        extra,
    })
}

/// A new Copilot token from the stored GitHub token; the account stays.
pub async fn refresh(s: &CopilotSettings, c: &Credential) -> Result<Credential, AuthError> {
    let Some(github_token) = c.refresh_token.as_deref() else {
        return Err(AuthError::SignInAgain {
            provider: PROVIDER.into(),
        });
    };
    let mut out = copilot_token(s, github_token).await?;
    out.account_id = c.account_id.clone();
    out.email = c.email.clone();
    Ok(out)
}
