//! The Web API's answers: `{"ok":true,...}`, `{"ok":false,"error":...}`, and
//! the failures a test can script (rate limits, 5xx pages, malformed JSON).

use serde_json::{Value, json};

use super::super::http1::Answer;

pub(super) fn json_answer(status: u16, body: Value) -> Answer {
    Answer::Whole {
        status,
        headers: vec![(
            "content-type".into(),
            "application/json; charset=utf-8".into(),
        )],
        body: body.to_string().into_bytes(),
    }
}

pub(super) fn ok(mut fields: Value) -> Answer {
    let mut body = json!({"ok": true});
    if let (Some(b), Some(f)) = (body.as_object_mut(), fields.as_object_mut()) {
        b.extend(std::mem::take(f));
    }
    json_answer(200, body)
}

/// `200 {"ok":false,"error":ERROR}`, how the Web API refuses.
pub fn api_error(error: &str) -> Answer {
    json_answer(200, json!({"ok": false, "error": error}))
}

/// `429 Too Many Requests` with `Retry-After: secs`, as the Web API
/// rate-limits a method.
pub fn rate_limited(secs: u64) -> Answer {
    Answer::Whole {
        status: 429,
        headers: vec![
            (
                "content-type".into(),
                "application/json; charset=utf-8".into(),
            ),
            ("retry-after".into(), secs.to_string()),
        ],
        body: json!({"ok": false, "error": "ratelimited"})
            .to_string()
            .into_bytes(),
    }
}

/// A 5xx as Slack's edge sends it (an HTML page, not JSON).
pub fn server_error(status: u16) -> Answer {
    Answer::Whole {
        status,
        headers: vec![("content-type".into(), "text/html".into())],
        body: format!("<html><body><h1>{status} Server Error</h1></body></html>").into_bytes(),
    }
}

/// A 200 whose body is not JSON.
pub fn malformed() -> Answer {
    Answer::Whole {
        status: 200,
        headers: vec![(
            "content-type".into(),
            "application/json; charset=utf-8".into(),
        )],
        body: b"{\"ok\":tru".to_vec(),
    }
}

/// What the file host answers without a valid token: the sign-in page.
pub(super) fn sign_in_page() -> Answer {
    Answer::Whole {
        status: 200,
        headers: vec![("content-type".into(), "text/html; charset=utf-8".into())],
        body: b"<!DOCTYPE html><html><head><title>Slack</title></head><body>Sign in to Slack</body></html>".to_vec(),
    }
}

pub(super) fn status_and_error(answer: &Answer) -> (u16, Option<String>) {
    match answer {
        Answer::Whole { status, body, .. } => {
            let error = serde_json::from_slice::<Value>(body)
                .ok()
                .and_then(|v| v["error"].as_str().map(str::to_string))
                .or_else(|| (*status != 200).then(|| format!("http {status}")));
            (*status, error)
        }
        Answer::Chunked { status, .. } => (*status, None),
    }
}
