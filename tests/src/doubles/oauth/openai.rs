//! OpenAI's token endpoint (`/openai/oauth/token`), form-encoded: the
//! authorisation code grant (answering an id_token, an unsigned but
//! well-formed JWT carrying the `https://api.openai.com/auth` claim), the
//! refresh grant and the id_token → API key token exchange.

use super::super::http1::{Answer, Recorded};
use super::{State, form, json_answer, new_refresh_token, oauth_error, redeem, take_refresh_token};
use base64::Engine;
use serde_json::json;

const EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ID_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:id_token";

pub(super) fn token(s: &mut State, req: &Recorded) -> Answer {
    if !req
        .header("content-type")
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"))
    {
        return oauth_error(400, "invalid_request", "expected a form-encoded body");
    }
    let f = form(req);
    let get = |k: &str| f.get(k).map(String::as_str).unwrap_or_default();
    match get("grant_type") {
        "authorization_code" => {
            for k in ["code", "redirect_uri", "client_id", "code_verifier"] {
                if get(k).is_empty() {
                    return oauth_error(400, "invalid_request", &format!("missing {k}"));
                }
            }
            match redeem(
                s,
                "openai",
                get("code"),
                Some(get("client_id")),
                Some(get("redirect_uri")),
                get("code_verifier"),
            ) {
                Ok(g) => tokens(s, &g.client_id),
                Err(answer) => answer,
            }
        }
        "refresh_token" => match take_refresh_token(s, "openai", get("refresh_token")) {
            Ok(()) => tokens(s, get("client_id")),
            Err(answer) => answer,
        },
        EXCHANGE => {
            if get("requested_token") != "openai-api-key"
                || get("subject_token_type") != ID_TOKEN_TYPE
            {
                return oauth_error(400, "invalid_request", "unsupported token exchange");
            }
            if !s.id_tokens.contains(get("subject_token")) {
                return oauth_error(400, "invalid_grant", "unknown subject_token");
            }
            let key = s.mint("sk-proj");
            json_answer(200, json!({"access_token": key, "token_type": "Bearer"}))
        }
        other => oauth_error(
            400,
            "unsupported_grant_type",
            &format!("grant_type {other:?} is not supported"),
        ),
    }
}

/// A token answer with a fresh id_token, access and refresh token.
fn tokens(s: &mut State, client_id: &str) -> Answer {
    let id_token = id_token(s, client_id);
    s.id_tokens.insert(id_token.clone());
    let access = s.mint("openai_at");
    let refresh = new_refresh_token(s, "openai");
    json_answer(
        200,
        json!({
            "id_token": id_token,
            "access_token": access,
            "refresh_token": refresh,
            "expires_in": 3600,
            "token_type": "Bearer",
            "scope": "openid profile email offline_access",
        }),
    )
}

/// The account this double signs everyone in as.
pub fn account_id(port: u16) -> String {
    format!("acct-{port}")
}

/// An id_token: header `alg: none`, the claims, a placeholder signature.
fn id_token(s: &mut State, client_id: &str) -> String {
    let e = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let claims = json!({
        "iss": "https://auth.openai.com",
        "aud": [client_id],
        "sub": "user-1",
        "email": "person@example.com",
        "exp": 4_000_000_000u64,
        "https://api.openai.com/auth": {
            "chatgpt_account_id": account_id(s.port),
            "chatgpt_plan_type": "plus",
        },
    });
    let sig = s.mint("sig");
    format!(
        "{}.{}.{}",
        e.encode(r#"{"alg":"none","typ":"JWT"}"#),
        e.encode(claims.to_string()),
        e.encode(sig)
    )
}
