//! Calling Discord's REST API (v10) with retries.
//!
//! Bot calls carry `Authorization: Bot {{secret:discord_bot_token}}`,
//! which the host fills in; interaction callbacks and webhook calls are
//! authorised by the interaction token in their path and go without it.
//! What to do with each answer is decided by the pure [`judge`]:
//!
//! - 2xx: done (an empty body, as 204 has, reads as JSON `null`);
//! - 429: wait exactly what Discord asked (`retry_after`), then retry; a
//!   wait over [`MAX_RETRY_AFTER_MS`] is not waited for but returned;
//! - 5xx and no answer at all: back off 500 ms doubling, for at most
//!   [`POLICY`]`.max_attempts` attempts;
//! - other 4xx: an error naming the endpoint and Discord's `code` and
//!   `message`, never retried.
//!
//! Before a call, a route whose bucket is spent waits for its refill
//! ([`crate::ratelimit::Buckets`], kept in [`crate::state`]).

use openpista_sdk::http::{Request, Response};
use openpista_sdk::retry::{self, RetryPolicy};
use openpista_sdk::{Error, host};
use serde_json::Value;

use crate::gateway::frames::TOKEN;
use crate::ratelimit;
use crate::state;
use openpista_sdk::multipart::Form;

/// Attempts and backoff for failures worth retrying.
pub const POLICY: RetryPolicy = RetryPolicy {
    max_attempts: 5,
    initial_backoff_ms: 500,
    max_backoff_ms: 30_000,
};
/// The longest 429 wait waited for inside one call.
pub const MAX_RETRY_AFTER_MS: u64 = 60_000;
/// How long one call may take with its retries (the component's call
/// limit is 120 s).
pub const CALL_BUDGET_MS: u64 = 100_000;
/// HTTP timeout of ordinary calls.
pub const TIMEOUT_MS: u64 = 30_000;
/// HTTP timeout of uploads and downloads.
pub const FILE_TIMEOUT_MS: u64 = 60_000;

/// What to do after one attempt.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// Stop with this outcome (the response of a success).
    Done(Result<Response, Error>),
    /// Wait, then try again; `failure` is returned instead when there is
    /// no time left. `limited` is set for a 429 (`global` or not).
    Retry {
        wait_ms: u64,
        failure: Error,
        limited: Option<bool>,
    },
}

/// Discord's error body: `{"code": N, "message": "..."}`.
fn discord_error(body: &[u8]) -> String {
    match serde_json::from_slice::<Value>(body) {
        Ok(v) if v.get("message").is_some() => {
            let message = v["message"].as_str().unwrap_or("").to_string();
            let details = v
                .get("errors")
                .map(|e| format!(" {}", snippet(e.to_string().as_bytes())))
                .unwrap_or_default();
            match v.get("code").and_then(Value::as_u64) {
                Some(code) => format!("code {code}: {message}{details}"),
                None => format!("{message}{details}"),
            }
        }
        _ => snippet(body),
    }
}

fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    match text.char_indices().nth(300) {
        _ if text.is_empty() => "(empty body)".to_string(),
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_string(),
    }
}

/// The decision after attempt `attempt` (1-based, of `max_attempts`) of
/// `endpoint` (`POST /channels/1/messages`).
pub fn judge(
    endpoint: &str,
    attempt: u32,
    max_attempts: u32,
    sent: Result<Response, Error>,
) -> Step {
    let more = attempt < max_attempts;
    let response = match sent {
        Ok(r) => r,
        Err(error) => {
            let retryable = matches!(&error, Error::Timeout(_))
                || matches!(&error, Error::Upstream(u) if u.status.is_none());
            let failure = Error::upstream(None, format!("discord: {endpoint}: {error}"));
            return if retryable && more {
                Step::Retry {
                    wait_ms: retry::backoff_ms(&POLICY, attempt),
                    failure,
                    limited: None,
                }
            } else {
                Step::Done(Err(failure))
            };
        }
    };
    let status = response.status;
    if (200..300).contains(&status) {
        return Step::Done(Ok(response));
    }
    let detail = discord_error(&response.body);
    match status {
        429 => {
            let (wait_ms, global) = ratelimit::retry_after_ms(&response.body, &response.headers);
            let failure = Error::rate_limited(
                Some(wait_ms),
                format!("discord: {endpoint}: rate limited (HTTP 429): {detail}"),
            );
            if more && wait_ms <= MAX_RETRY_AFTER_MS {
                Step::Retry {
                    wait_ms,
                    failure,
                    limited: Some(global),
                }
            } else {
                Step::Done(Err(failure))
            }
        }
        500..=599 => {
            let failure = Error::upstream(
                Some(status),
                format!("discord: {endpoint}: Discord failed (HTTP {status}): {detail}"),
            );
            if more {
                Step::Retry {
                    wait_ms: retry::backoff_ms(&POLICY, attempt),
                    failure,
                    limited: None,
                }
            } else {
                Step::Done(Err(failure))
            }
        }
        401 => Step::Done(Err(Error::unavailable(format!(
            "discord: {endpoint}: the bot token was rejected (HTTP 401): {detail}; check the \
             discord_bot_token secret"
        )))),
        403 => Step::Done(Err(Error::denied(format!(
            "discord: {endpoint}: refused (HTTP 403): {detail}; check the bot's permissions \
             in this channel"
        )))),
        404 => Step::Done(Err(Error::not_found(format!(
            "discord: {endpoint}: not found (HTTP 404): {detail}"
        )))),
        _ => Step::Done(Err(Error::invalid_input(format!(
            "discord: {endpoint}: refused (HTTP {status}): {detail}"
        )))),
    }
}

/// Whether a call that started at `started_ms` may, at `now_ms`, wait
/// `wait_ms` and make one more attempt of up to `timeout_ms`.
pub fn has_time(started_ms: u64, now_ms: u64, wait_ms: u64, timeout_ms: u64) -> bool {
    now_ms.saturating_sub(started_ms) + wait_ms + timeout_ms <= CALL_BUDGET_MS
}

/// The REST API at one base URL.
pub struct Api<'a> {
    pub base: &'a str,
}

/// How a call is authorised.
fn needs_bot_auth(path: &str) -> bool {
    !(path.starts_with("/interactions/") || path.starts_with("/webhooks/"))
}

impl Api<'_> {
    /// `method path` with an optional JSON body; the answer's JSON (`null`
    /// when empty).
    pub fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, Error> {
        let url = format!("{}{path}", self.base);
        let build = || {
            let mut r = Request::new(method, url.as_str()).timeout_ms(TIMEOUT_MS);
            if needs_bot_auth(path) {
                r = r.header("authorization", format!("Bot {TOKEN}"));
            }
            match body {
                Some(b) => r.json(b),
                None => r,
            }
        };
        let response = run(method, path, TIMEOUT_MS, build)?;
        if response.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Null);
        }
        response.json()
    }

    /// `method path` with a `multipart/form-data` body.
    pub fn call_multipart(&self, method: &str, path: &str, form: &Form) -> Result<Value, Error> {
        let url = format!("{}{path}", self.base);
        let build = || {
            let mut r = Request::new(method, url.as_str())
                .header("content-type", form.content_type.as_str())
                .body(form.body.clone())
                .timeout_ms(FILE_TIMEOUT_MS);
            if needs_bot_auth(path) {
                r = r.header("authorization", format!("Bot {TOKEN}"));
            }
            r
        };
        let response = run(method, path, FILE_TIMEOUT_MS, build)?;
        if response.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Null);
        }
        response.json()
    }

    /// Downloads an attachment URL (Discord's CDN; no token needed).
    pub fn download(&self, url: &str) -> Result<Vec<u8>, Error> {
        let build = || Request::get(url).timeout_ms(FILE_TIMEOUT_MS);
        Ok(run("GET", url, FILE_TIMEOUT_MS, build)?.body)
    }
}

/// Sends until [`judge`] says stop, waiting for spent buckets first and
/// sleeping between attempts, within [`CALL_BUDGET_MS`].
fn run(
    method: &str,
    path: &str,
    timeout_ms: u64,
    build: impl Fn() -> Request,
) -> Result<Response, Error> {
    let endpoint = format!("{method} {}", path.split('?').next().unwrap_or(path));
    let route = ratelimit::route_key(method, path);
    let started = host::now_ms();
    let mut attempt = 1;
    loop {
        let wait = state::bucket_wait_ms(&route, host::now_ms());
        if wait > 0 {
            if !has_time(started, host::now_ms(), wait, timeout_ms) {
                return Err(Error::rate_limited(
                    Some(wait),
                    format!("discord: {endpoint}: rate limited for {wait} ms more"),
                ));
            }
            host::debug(&format!(
                "discord: {endpoint}: waiting {wait} ms for its rate limit"
            ));
            retry::sleep_ms(wait);
        }
        let sent = build().send();
        if let Ok(r) = &sent {
            state::bucket_update(&route, &ratelimit::limits(&r.headers), host::now_ms());
        }
        match judge(&endpoint, attempt, POLICY.max_attempts, sent) {
            Step::Done(outcome) => return outcome,
            Step::Retry {
                failure, wait_ms, ..
            } if !has_time(started, host::now_ms(), wait_ms, timeout_ms) => {
                host::warn(&format!("{failure}; no time left to try again"));
                return Err(failure);
            }
            Step::Retry {
                wait_ms,
                failure,
                limited,
            } => {
                if let Some(global) = limited {
                    state::bucket_limited(&route, wait_ms, global, host::now_ms());
                }
                host::warn(&format!(
                    "{failure}; trying again in {wait_ms} ms (attempt {attempt} of {})",
                    POLICY.max_attempts
                ));
                // The bucket wait above covers a 429; sleep only otherwise.
                if limited.is_none() {
                    retry::sleep_ms(wait_ms);
                }
                attempt += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, headers: &[(&str, &str)], body: &str) -> Result<Response, Error> {
        Ok(Response {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: body.as_bytes().to_vec(),
        })
    }

    const EP: &str = "POST /channels/1/messages";

    #[test]
    fn success_is_done() {
        assert!(matches!(
            judge(EP, 1, 5, response(200, &[], "{}")),
            Step::Done(Ok(_))
        ));
        assert!(matches!(
            judge(EP, 1, 5, response(204, &[], "")),
            Step::Done(Ok(_))
        ));
    }

    #[test]
    fn a_429_retries_after_exactly_retry_after() {
        let body = r#"{"message":"You are being rate limited.","retry_after":1.25,"global":false}"#;
        let step = judge(EP, 1, 5, response(429, &[("retry-after", "2")], body));
        assert!(
            matches!(
                step,
                Step::Retry {
                    wait_ms: 1250,
                    limited: Some(false),
                    ..
                }
            ),
            "{step:?}"
        );
        // The last attempt, or a wait too long, returns the limit.
        let Step::Done(Err(e)) = judge(EP, 5, 5, response(429, &[], body)) else {
            panic!()
        };
        assert_eq!(e.kind(), "rate-limited");
        let long = r#"{"message":"slow down","retry_after":120,"global":true}"#;
        assert!(matches!(
            judge(EP, 1, 5, response(429, &[], long)),
            Step::Done(Err(_))
        ));
    }

    #[test]
    fn server_errors_back_off_and_connection_failures_too() {
        assert!(matches!(
            judge(EP, 1, 5, response(502, &[], "bad gateway")),
            Step::Retry {
                wait_ms: 500,
                limited: None,
                ..
            }
        ));
        assert!(matches!(
            judge(EP, 3, 5, Err(Error::upstream(None, "connection reset"))),
            Step::Retry { wait_ms: 2000, .. }
        ));
        assert!(matches!(
            judge(EP, 1, 5, Err(Error::denied("host not granted"))),
            Step::Done(Err(_))
        ));
    }

    #[test]
    fn other_refusals_name_the_endpoint_and_discords_code() {
        let body = r#"{"message":"Missing Permissions","code":50013}"#;
        let Step::Done(Err(e)) = judge(EP, 1, 5, response(403, &[], body)) else {
            panic!()
        };
        assert!(e.message().contains("POST /channels/1/messages"), "{e}");
        assert!(
            e.message().contains("code 50013: Missing Permissions"),
            "{e}"
        );
        let body = r#"{"message":"Invalid Form Body","code":50035,"errors":{"content":{}}}"#;
        let Step::Done(Err(e)) = judge(EP, 1, 5, response(400, &[], body)) else {
            panic!()
        };
        assert_eq!(e.kind(), "invalid-input");
        assert!(
            e.message().contains("50035") && e.message().contains("content"),
            "{e}"
        );
        let Step::Done(Err(e)) = judge(EP, 1, 5, response(401, &[], "{}")) else {
            panic!()
        };
        assert!(e.message().contains("discord_bot_token"));
    }

    #[test]
    fn interaction_and_webhook_calls_go_without_the_bot_token() {
        assert!(needs_bot_auth("/channels/1/messages"));
        assert!(!needs_bot_auth("/interactions/1/tok/callback"));
        assert!(!needs_bot_auth("/webhooks/5/tok/messages/@original"));
    }

    #[test]
    fn the_time_budget_bounds_retries() {
        assert!(has_time(0, 10_000, 1_000, 30_000));
        assert!(!has_time(0, 80_000, 1_000, 30_000));
    }
}
