//! Anthropic (Claude Pro/Max): the refresh grant, a JSON body at the
//! token endpoint.

use super::http::Body;
use super::settings::AnthropicSettings;
use super::{AuthError, Credential, token};
use serde_json::{Value, json};

pub const PROVIDER: &str = "anthropic";

/// A new access token from `c`'s refresh token.
pub async fn refresh(s: &AnthropicSettings, c: &Credential) -> Result<Credential, AuthError> {
    let (mut out, v) = token::refresh_grant(PROVIDER, &s.token_url, c, |refresh_token| {
        Body::Json(json!({
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": s.client_id,
        }))
    })
    .await?;
    apply_account(&mut out, &v);
    Ok(out)
}

/// The answer's `account` (`uuid`, `email_address`), when it has one.
pub(crate) fn apply_account(c: &mut Credential, v: &Value) {
    let account = v.get("account");
    if let Some(id) = account.and_then(|a| a.get("uuid")).and_then(Value::as_str) {
        c.account_id = Some(id.to_string());
    }
    if let Some(e) = account
        .and_then(|a| a.get("email_address"))
        .and_then(Value::as_str)
    {
        c.email = Some(e.to_string());
    }
}
