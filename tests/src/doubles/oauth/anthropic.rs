//! Anthropic's token endpoint (`/anthropic/v1/oauth/token`), JSON bodies:
//! the authorisation code grant (with the `state` the code page showed)
//! and the refresh grant; answers carry the `account` they signed in.

use super::super::http1::{Answer, Recorded};
use super::{State, json_answer, new_refresh_token, oauth_error, redeem, take_refresh_token};
use serde_json::{Value, json};

pub(super) fn token(s: &mut State, req: &Recorded) -> Answer {
    if !req
        .header("content-type")
        .is_some_and(|c| c.starts_with("application/json"))
    {
        return oauth_error(400, "invalid_request", "expected a JSON body");
    }
    let get = |k: &str| req.body.get(k).and_then(Value::as_str).unwrap_or_default();
    match get("grant_type") {
        "authorization_code" => {
            for k in [
                "code",
                "state",
                "client_id",
                "redirect_uri",
                "code_verifier",
            ] {
                if get(k).is_empty() {
                    return oauth_error(400, "invalid_request", &format!("missing {k}"));
                }
            }
            let grant = match redeem(
                s,
                "anthropic",
                get("code"),
                Some(get("client_id")),
                Some(get("redirect_uri")),
                get("code_verifier"),
            ) {
                Ok(g) => g,
                Err(answer) => return answer,
            };
            if grant.state.as_deref() != Some(get("state")) {
                return oauth_error(400, "invalid_grant", "state does not match the code");
            }
            tokens(s)
        }
        "refresh_token" => match take_refresh_token(s, "anthropic", get("refresh_token")) {
            Ok(()) => tokens(s),
            Err(answer) => answer,
        },
        other => oauth_error(
            400,
            "unsupported_grant_type",
            &format!("grant_type {other:?} is not supported"),
        ),
    }
}

fn tokens(s: &mut State) -> Answer {
    let access = s.mint("sk-ant-oat01");
    let refresh = new_refresh_token(s, "anthropic");
    json_answer(
        200,
        json!({
            "token_type": "Bearer",
            "access_token": access,
            "refresh_token": refresh,
            "expires_in": 28800,
            "scope": "user:inference user:profile",
            "account": {"uuid": "anthropic-account-1", "email_address": "person@example.com"},
            "organization": {"uuid": "org-1", "name": "Example"},
        }),
    )
}
