//! GitHub Copilot: the short-lived Copilot token got from the stored
//! GitHub token (`GET copilot_internal/v2/token`), at sign-in and at each
//! refresh. The GitHub token is kept as the refresh token; the Copilot
//! token as the access token, with its `expires_at` and the API endpoint
//! it names (`extra.api_endpoint`).

use super::http::{self, Body};
use super::settings::CopilotSettings;
use super::{AuthError, Credential, Method, token};
use serde_json::Value;
use std::collections::BTreeMap;

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
