//! Reading token endpoints' answers: a success's JSON and its fields, an
//! error's OAuth `error` / `error_description` (RFC 6749 §5.2, and the
//! `{"error": {"code", "message"}}` shape some providers use instead),
//! and whether an error means the grant itself is gone.

use super::http::{self, Body, Response};
use super::{AuthError, Credential};
use serde_json::Value;

/// POSTs `body` to token endpoint `url` (asking for JSON): the answer's
/// JSON, or the refusal it carries.
pub(crate) async fn post(provider: &str, url: &str, body: Body) -> Result<Value, AuthError> {
    let r = http::send(
        http::Method::POST,
        url,
        &[("accept", "application/json")],
        body,
    )
    .await?;
    expect_ok(provider, url, &r)
}

/// A refresh grant at `url`: `body` built around `c`'s refresh token,
/// the answer applied to a copy of `c`. A missing, expired or revoked
/// refresh token is [`AuthError::SignInAgain`]. Also returns the answer,
/// for the provider's own fields.
pub(crate) async fn refresh_grant(
    provider: &str,
    url: &str,
    c: &Credential,
    body: impl FnOnce(String) -> Body,
) -> Result<(Credential, Value), AuthError> {
    let Some(refresh_token) = c.refresh_token.clone() else {
        return Err(AuthError::SignInAgain {
            provider: provider.into(),
        });
    };
    let v = post(provider, url, body(refresh_token))
        .await
        .map_err(|e| or_sign_in_again(provider, e))?;
    let mut out = c.clone();
    apply(&mut out, &v, url, super::now_unix())?;
    Ok((out, v))
}

/// A new OAuth credential from an authorisation code grant's answer.
pub(crate) fn signed_in(v: &Value, url: &str) -> Result<Credential, AuthError> {
    let mut c = Credential::api_key(String::new());
    c.method = super::Method::OAuth;
    apply(&mut c, v, url, super::now_unix())?;
    Ok(c)
}

/// The JSON of a 2xx answer, or the refusal the error answer describes.
pub(crate) fn expect_ok(provider: &str, endpoint: &str, r: &Response) -> Result<Value, AuthError> {
    if (200..300).contains(&r.status) {
        return r.json(endpoint);
    }
    Err(refusal(provider, endpoint, r))
}

/// The error an unsuccessful answer carries.
pub(crate) fn refusal(provider: &str, endpoint: &str, r: &Response) -> AuthError {
    let v: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
    let (error, description) = error_fields(&v);
    let error = error.unwrap_or_else(|| match r.status {
        429 => "rate limited".into(),
        500..=599 => "server error".into(),
        _ => "no OAuth error code".into(),
    });
    AuthError::Refused {
        provider: provider.to_string(),
        endpoint: endpoint.to_string(),
        status: r.status,
        error,
        description,
    }
}

/// `error` and `error_description` of an OAuth error body, in either shape.
pub(crate) fn error_fields(v: &Value) -> (Option<String>, Option<String>) {
    let short = |s: &str| s.chars().take(300).collect::<String>();
    match v.get("error") {
        Some(Value::String(code)) => (
            Some(short(code)),
            v.get("error_description")
                .and_then(Value::as_str)
                .map(short),
        ),
        // {"error": {"code": "x" | 400, "message": "..."}} (OpenAI, OpenRouter).
        Some(Value::Object(o)) => (
            o.get("code")
                .or_else(|| o.get("type"))
                .and_then(|c| match c {
                    Value::String(s) => Some(short(s)),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                }),
            o.get("message").and_then(Value::as_str).map(short),
        ),
        // GitHub's REST errors: {"message": "...", "documentation_url": ...}.
        _ => (None, v.get("message").and_then(Value::as_str).map(short)),
    }
}

/// Puts a token answer into `c`: the new access token, a rotated refresh
/// token when one came, the expiry from `expires_in`.
pub(crate) fn apply(
    c: &mut Credential,
    v: &Value,
    endpoint: &str,
    now: i64,
) -> Result<(), AuthError> {
    c.access_token = string(v, "access_token", endpoint)?;
    if let Some(r) = opt_string(v, "refresh_token") {
        c.refresh_token = Some(r);
    }
    c.expires_at = expires_at(v, now);
    Ok(())
}

/// Error codes meaning the refresh token is expired, reused or revoked.
const DEAD_GRANT: &[&str] = &[
    "invalid_grant",
    "refresh_token_expired",
    "refresh_token_reused",
    "refresh_token_invalidated",
];

/// Whether a refresh refusal means only a new sign-in helps: 401, or 400
/// with one of [`DEAD_GRANT`].
pub(crate) fn grant_is_dead(e: &AuthError) -> bool {
    match e {
        AuthError::Refused { status: 401, .. } => true,
        AuthError::Refused {
            status: 400, error, ..
        } => DEAD_GRANT.contains(&error.as_str()),
        _ => false,
    }
}

/// A refresh's outcome: a dead grant becomes [`AuthError::SignInAgain`].
pub(crate) fn or_sign_in_again(provider: &str, e: AuthError) -> AuthError {
    if grant_is_dead(&e) {
        AuthError::SignInAgain {
            provider: provider.to_string(),
        }
    } else {
        e
    }
}

/// A required string field of an answer.
pub(crate) fn string(v: &Value, key: &str, endpoint: &str) -> Result<String, AuthError> {
    match v.get(key).and_then(Value::as_str) {
        Some(s) if !s.is_empty() => Ok(s.to_string()),
        _ => Err(AuthError::Malformed {
            endpoint: endpoint.to_string(),
            reason: format!("the answer has no `{key}` string"),
        }),
    }
}

/// An optional string field.
pub(crate) fn opt_string(v: &Value, key: &str) -> Option<String> {
    v.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(String::from)
}

/// `expires_in` (seconds from now) as a Unix time.
pub(crate) fn expires_at(v: &Value, now: i64) -> Option<i64> {
    v.get("expires_in").and_then(Value::as_i64).map(|s| now + s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(status: u16, body: &str) -> Response {
        Response {
            status,
            body: bytes::Bytes::from(body.to_string()),
        }
    }

    #[test]
    fn oauth_error_bodies_in_both_shapes() {
        let e = refusal(
            "openai",
            "T",
            &resp(
                400,
                r#"{"error":"invalid_grant","error_description":"expired"}"#,
            ),
        );
        assert!(grant_is_dead(&e), "{e}");
        let e = refusal(
            "openai",
            "T",
            &resp(
                401,
                r#"{"error":{"code":"refresh_token_expired","message":"gone"}}"#,
            ),
        );
        assert!(
            e.to_string().contains("(refresh_token_expired): gone"),
            "{e}"
        );
        assert!(matches!(
            or_sign_in_again("openai", e),
            AuthError::SignInAgain { .. }
        ));
    }

    #[test]
    fn other_refusals_are_not_a_dead_grant() {
        for (status, body) in [
            (400, r#"{"error":"invalid_client"}"#),
            (429, ""),
            (503, "<html>down</html>"),
        ] {
            let e = refusal("anthropic", "T", &resp(status, body));
            assert!(!grant_is_dead(&e), "{status}: {e}");
        }
        let e = refusal("anthropic", "T", &resp(429, ""));
        assert!(e.to_string().contains("rate limited"), "{e}");
        let e = refusal("anthropic", "T", &resp(502, "bad gateway"));
        assert!(e.to_string().contains("502 (server error)"), "{e}");
    }

    #[test]
    fn success_needs_json_and_required_fields() {
        let e = expect_ok("x", "T", &resp(200, "not json")).unwrap_err();
        assert!(matches!(e, AuthError::Malformed { .. }), "{e}");
        let v = expect_ok(
            "x",
            "T",
            &resp(200, r#"{"access_token":"","expires_in":60}"#),
        )
        .unwrap();
        let e = string(&v, "access_token", "T").unwrap_err();
        assert!(e.to_string().contains("`access_token`"), "{e}");
        assert_eq!(expires_at(&v, 1000), Some(1060));
        assert_eq!(opt_string(&v, "refresh_token"), None);
    }
}
