//! Anthropic (Claude Pro/Max): the code-display flow. The browser signs
//! in and lands on a page showing `code#state`; the person pastes it into
//! the terminal; the state is checked and the code exchanged (JSON body)
//! with the PKCE verifier. The refresh grant is JSON too.

use super::http::{Body, with_query};
use super::login::Terminal;
use super::pkce::Pkce;
use super::settings::AnthropicSettings;
use super::{AuthError, Credential, token};
use serde_json::{Value, json};

pub const PROVIDER: &str = "anthropic";

/// Signs in: shows the address, reads the pasted `code#state`.
pub async fn login(s: &AnthropicSettings, term: &mut Terminal) -> Result<Credential, AuthError> {
    let pkce = Pkce::new();
    let url = with_query(
        &s.authorize_url,
        &[
            ("code", "true"),
            ("client_id", &s.client_id),
            ("response_type", "code"),
            ("redirect_uri", &s.redirect_uri),
            ("scope", &s.scopes),
            ("code_challenge", &pkce.challenge),
            ("code_challenge_method", "S256"),
            ("state", &pkce.state),
        ],
    );
    term.show_url("Sign in to Anthropic at this address", &url);
    term.say("Then paste the code the page shows (CODE#STATE) and press Enter:");
    let pasted = term
        .read_line()
        .await
        .ok_or_else(|| AuthError::flow(PROVIDER, "no code was pasted"))?;
    let (code, state) = parse_pasted(&pasted)?;
    if state != pkce.state {
        return Err(AuthError::flow(
            PROVIDER,
            "the pasted code's state does not match this sign-in (a code from another attempt?); nothing was stored",
        ));
    }
    let v = token::post(
        PROVIDER,
        &s.token_url,
        Body::Json(json!({
            "grant_type": "authorization_code",
            "code": code,
            "state": state,
            "client_id": s.client_id,
            "redirect_uri": s.redirect_uri,
            "code_verifier": pkce.verifier,
        })),
    )
    .await?;
    let mut c = token::signed_in(&v, &s.token_url)?;
    apply_account(&mut c, &v);
    Ok(c)
}

/// `CODE#STATE` as the code page shows it.
fn parse_pasted(text: &str) -> Result<(String, String), AuthError> {
    match text.trim().split_once('#') {
        Some((code, state)) if !code.is_empty() && !state.is_empty() => {
            Ok((code.to_string(), state.to_string()))
        }
        _ => Err(AuthError::flow(
            PROVIDER,
            "expected the code as the page shows it, CODE#STATE",
        )),
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pasted_code_needs_both_halves() {
        assert_eq!(
            parse_pasted(" abc#st \n").unwrap(),
            ("abc".to_string(), "st".to_string())
        );
        for bad in ["abc", "#st", "abc#", ""] {
            let e = parse_pasted(bad).unwrap_err().to_string();
            assert!(e.contains("CODE#STATE"), "{bad}: {e}");
        }
    }
}
