//! OpenAI (ChatGPT subscription): the refresh grant, and reading the
//! account from the id_token's `https://api.openai.com/auth` claim.

use super::http::Body;
use super::settings::OpenAiSettings;
use super::{AuthError, Credential, jwt, token};
use serde_json::Value;

pub const PROVIDER: &str = "openai";
/// The id_token claim holding OpenAI's account details.
pub const AUTH_CLAIM: &str = "https://api.openai.com/auth";

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
