//! OpenRouter's key endpoint (`/openrouter/api/v1/auth/keys`): the code
//! and its verifier (JSON) become an API key. Errors in OpenRouter's shape,
//! `{"error": {"code": 400, "message": ...}}`.

use super::super::http1::{Answer, Recorded};
use super::{State, json_answer, redeem};
use serde_json::{Value, json};

pub(super) fn keys(s: &mut State, req: &Recorded) -> Answer {
    let get = |k: &str| req.body.get(k).and_then(Value::as_str).unwrap_or_default();
    let error =
        |message: &str| json_answer(400, json!({"error": {"code": 400, "message": message}}));
    if get("code").is_empty() || get("code_verifier").is_empty() {
        return error("code and code_verifier are required");
    }
    if get("code_challenge_method") != "S256" {
        return error("code_challenge_method must be S256 for this code");
    }
    match redeem(
        s,
        "openrouter",
        get("code"),
        None,
        None,
        get("code_verifier"),
    ) {
        Ok(_) => {
            let key = s.mint("sk-or-v1");
            json_answer(200, json!({"key": key, "user_id": "user_1"}))
        }
        Err(_) => error("Invalid code or code_verifier"),
    }
}
