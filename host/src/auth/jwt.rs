//! Reading a JSON Web Token's payload (the middle segment). The signature
//! is not verified: the token came straight from the provider's token
//! endpoint over TLS, and checking it offline would need the provider's
//! keys. The claims are used only to label the account, never to decide
//! access.

use serde_json::Value;

/// The payload claims of `token`, when it is a well-formed JWT.
pub fn claims(token: &str) -> Option<Value> {
    let mut parts = token.split('.');
    let (_header, payload, _sig) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let bytes = super::pkce::decode_base64url(payload)?;
    serde_json::from_slice::<Value>(&bytes)
        .ok()
        .filter(Value::is_object)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn jwt(payload: &str) -> String {
        let e = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        format!(
            "{}.{}.sig",
            e.encode(r#"{"alg":"none"}"#),
            e.encode(payload)
        )
    }

    #[test]
    fn reads_the_payload() {
        let c = claims(&jwt(r#"{"email":"a@b.c","n":1}"#)).unwrap();
        assert_eq!(c["email"], "a@b.c");
    }

    #[test]
    fn rejects_what_is_not_a_jwt() {
        assert!(claims("abc").is_none());
        assert!(claims("a.b").is_none());
        assert!(claims("a.b.c.d").is_none());
        assert!(claims(&jwt("[1,2]")).is_none());
        assert!(claims("x.!!!.y").is_none());
    }
}
