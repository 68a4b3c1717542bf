//! The failures a test scripts with
//! [`DiscordDouble::fail_next`](super::DiscordDouble::fail_next) (and
//! the double answers itself): Discord's error shape, `Invalid Form
//! Body`, `429` with its rate-limit headers, 5xx and malformed bodies.

use serde_json::json;

use super::super::http1::Answer;
use super::answers::{json_answer, reason};

/// A REST error of Discord's shape: `{"message", "code"}`.
pub fn api_error(status: u16, code: u64, message: &str) -> Answer {
    json_answer(status, json!({"message": message, "code": code}))
}

/// `400 Invalid Form Body` (50035) with `errors` for `field`.
pub fn invalid_form(field: &str, error_code: &str, message: &str) -> Answer {
    json_answer(
        400,
        json!({
            "message": "Invalid Form Body",
            "code": 50035,
            "errors": {field: {"_errors": [{"code": error_code, "message": message}]}},
        }),
    )
}

/// `429 Too Many Requests` on bucket `bucket` asking to wait
/// `retry_after` seconds, with the headers Discord sends.
pub fn rate_limited(retry_after: f64, bucket: &str) -> Answer {
    let reset = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        + retry_after;
    Answer::Whole {
        status: 429,
        headers: vec![
            ("content-type".into(), "application/json".into()),
            (
                "retry-after".into(),
                format!("{}", retry_after.ceil() as u64),
            ),
            ("x-ratelimit-limit".into(), "5".into()),
            ("x-ratelimit-remaining".into(), "0".into()),
            ("x-ratelimit-reset".into(), format!("{reset:.3}")),
            (
                "x-ratelimit-reset-after".into(),
                format!("{retry_after:.3}"),
            ),
            ("x-ratelimit-bucket".into(), bucket.into()),
            ("x-ratelimit-scope".into(), "user".into()),
        ],
        body: json!({
            "message": "You are being rate limited.",
            "retry_after": retry_after,
            "global": false,
        })
        .to_string()
        .into_bytes(),
    }
}

/// A 5xx as Discord's edge sends it.
pub fn server_error(status: u16) -> Answer {
    json_answer(
        status,
        json!({"message": format!("{status}: {}", reason(status)), "code": 0}),
    )
}

/// A 200 whose body is not JSON.
pub fn malformed() -> Answer {
    Answer::Whole {
        status: 200,
        headers: vec![("content-type".into(), "application/json".into())],
        body: b"{\"id\":\"12".to_vec(),
    }
}
