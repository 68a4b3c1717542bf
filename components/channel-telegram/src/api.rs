//! Calling the Bot API: one [`Api::call`] per method, with retries.
//!
//! Every URL is `{api_url}/bot{{secret:telegram_bot_token}}/METHOD`; the
//! host puts the token in on the way out, so the component never has it.
//! Answers are `{"ok":true,"result":...}` or `{"ok":false,"error_code":N,
//! "description":...,"parameters":{"retry_after":S}}`. What to do with
//! each answer is decided by the pure [`judge_json`] / [`judge_bytes`]:
//!
//! - 429: wait exactly `parameters.retry_after` seconds (else the
//!   `retry-after` header), then retry; a wait over
//!   [`MAX_RETRY_AFTER_SECS`] is not waited for but returned;
//! - no answer (connection failed, timed out) and 5xx: back off 500 ms,
//!   doubling to 30 s, for at most [`POLICY`]`.max_attempts` attempts
//!   and never past [`CALL_BUDGET_MS`];
//! - 409: [`ApiError::Conflict`]; any other status: [`ApiError::Refused`],
//!   never retried;
//! - a body that is not the Bot API's JSON: [`ApiError::Malformed`].

use openpista_sdk::http::{Request, Response};
use openpista_sdk::retry::{self, RetryPolicy};
use openpista_sdk::{Error, host};
use serde_json::Value;

use crate::api_error::ApiError;
use openpista_sdk::multipart::Form;

/// The placeholder the host replaces with the bot token.
pub const TOKEN: &str = "{{secret:telegram_bot_token}}";
/// The placeholder the host replaces with the webhook secret.
pub const WEBHOOK_SECRET: &str = "{{secret:telegram_webhook_secret}}";
/// Attempts and backoff for failures worth retrying.
pub const POLICY: RetryPolicy = RetryPolicy {
    max_attempts: 6,
    initial_backoff_ms: 500,
    max_backoff_ms: 30_000,
};
/// The longest `retry_after` waited for inside one call.
pub const MAX_RETRY_AFTER_SECS: u64 = 60;
/// How long one call may take with its retries: the component's call
/// limit (`timeout_ms` = 120 s) less room for the rest of the work.
pub const CALL_BUDGET_MS: u64 = 110_000;
/// HTTP timeout of ordinary calls.
pub const TIMEOUT_MS: u64 = 30_000;
/// HTTP timeout of file transfers.
pub const FILE_TIMEOUT_MS: u64 = 60_000;

/// What to do after one attempt.
#[derive(Clone, Debug, PartialEq)]
pub enum Step<T> {
    /// Stop with this outcome.
    Done(Result<T, ApiError>),
    /// Wait, then try again; `failure` is what went wrong, returned
    /// instead when the call has no time left for the wait.
    Retry { wait_ms: u64, failure: ApiError },
}

/// The URL of a Bot API method.
pub fn method_url(api_url: &str, method: &str) -> String {
    format!("{api_url}/bot{TOKEN}/{method}")
}

/// The download URL of a file `getFile` returned.
pub fn file_url(api_url: &str, file_path: &str) -> String {
    let path: String = file_path
        .trim_start_matches('/')
        .split('/')
        .map(percent_encode)
        .collect::<Vec<_>>()
        .join("/");
    format!("{api_url}/file/bot{TOKEN}/{path}")
}

/// `text` percent-encoded for a URL query value or path segment (all but
/// the RFC 3986 unreserved characters).
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The `setWebhook` query string: the URL and the update kinds encoded,
/// and the secret's placeholder as it is (secrets are filled in only in
/// URLs and headers, so every parameter goes in the query).
pub fn set_webhook_query(url: &str, allowed_updates: &[&str]) -> String {
    let kinds = serde_json::to_string(allowed_updates).unwrap_or_else(|_| "[]".into());
    format!(
        "url={}&secret_token={WEBHOOK_SECRET}&allowed_updates={}",
        percent_encode(url),
        percent_encode(&kinds)
    )
}

/// The decision after attempt `attempt` (1-based, of `max_attempts`) of
/// a call answered in Bot API JSON; a success yields its `result`.
pub fn judge_json(
    method: &str,
    attempt: u32,
    max_attempts: u32,
    sent: Result<Response, Error>,
) -> Step<Value> {
    let more = attempt < max_attempts;
    let response = match sent {
        Ok(response) => response,
        Err(error) => return judge_transport(method, attempt, more, error),
    };
    let success = (200..300).contains(&response.status);
    match serde_json::from_slice::<Value>(&response.body) {
        Ok(v) if v.get("ok") == Some(&Value::Bool(true)) => {
            Step::Done(Ok(v.get("result").cloned().unwrap_or(Value::Null)))
        }
        Ok(v) if v.get("ok") == Some(&Value::Bool(false)) => {
            judge_refusal(method, attempt, more, refusal(&response, Some(&v)))
        }
        _ if success => Step::Done(Err(ApiError::Malformed {
            method: method.to_string(),
            detail: format!(
                "the body is not a Bot API answer: {}",
                snippet(&response.body)
            ),
        })),
        _ => judge_refusal(method, attempt, more, refusal(&response, None)),
    }
}

/// The decision after attempt `attempt` of a file download; a success
/// yields the bytes.
pub fn judge_bytes(
    method: &str,
    attempt: u32,
    max_attempts: u32,
    sent: Result<Response, Error>,
) -> Step<Vec<u8>> {
    let more = attempt < max_attempts;
    match sent {
        Err(error) => judge_transport(method, attempt, more, error),
        Ok(r) if (200..300).contains(&r.status) => Step::Done(Ok(r.body)),
        Ok(r) => {
            let json = serde_json::from_slice::<Value>(&r.body).ok();
            judge_refusal(method, attempt, more, refusal(&r, json.as_ref()))
        }
    }
}

/// Code, description and wait of a refusal, from the JSON body when
/// there is one.
fn refusal(response: &Response, json: Option<&Value>) -> (u16, String, Option<u64>) {
    let code = json
        .and_then(|v| v.get("error_code")?.as_u64())
        .and_then(|c| u16::try_from(c).ok())
        .unwrap_or(response.status);
    let description = json
        .and_then(|v| v.get("description")?.as_str().map(str::to_string))
        .unwrap_or_else(|| snippet(&response.body));
    let retry_after = json
        .and_then(|v| v.get("parameters")?.get("retry_after")?.as_u64())
        .or_else(|| response.header("retry-after")?.trim().parse().ok());
    (code, description, retry_after)
}

/// What to do with a refusal; `more` says whether attempts are left.
fn judge_refusal<T>(
    method: &str,
    attempt: u32,
    more: bool,
    (code, description, retry_after): (u16, String, Option<u64>),
) -> Step<T> {
    let method = method.to_string();
    if code == 409 {
        return Step::Done(Err(ApiError::Conflict {
            method,
            description,
        }));
    }
    let wait_ms = match (code, retry_after) {
        (429, Some(secs)) if secs <= MAX_RETRY_AFTER_SECS => Some(secs * 1000),
        (429, None) | (500..=599, _) => Some(retry::backoff_ms(&POLICY, attempt)),
        _ => None,
    };
    let failure = ApiError::Refused {
        method,
        code,
        description,
        retry_after_secs: if code == 429 { retry_after } else { None },
    };
    match wait_ms {
        Some(wait_ms) if more => Step::Retry { wait_ms, failure },
        _ => Step::Done(Err(failure)),
    }
}

/// No answer: a failed connection or a timeout is retried with backoff;
/// a refusal by the host (a denied destination, a bad URL) is final.
fn judge_transport<T>(method: &str, attempt: u32, more: bool, error: Error) -> Step<T> {
    let retryable = matches!(&error, Error::Timeout(_))
        || matches!(&error, Error::Upstream(u) if u.status.is_none());
    let failure = ApiError::Transport {
        method: method.to_string(),
        error,
    };
    if retryable && more {
        return Step::Retry {
            wait_ms: retry::backoff_ms(&POLICY, attempt),
            failure,
        };
    }
    Step::Done(Err(failure))
}

fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    match text.char_indices().nth(200) {
        _ if text.is_empty() => "(empty body)".to_string(),
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_string(),
    }
}

/// The Bot API at one base URL.
pub struct Api<'a> {
    pub base: &'a str,
}

impl Api<'_> {
    /// Calls `method` with a JSON body.
    pub fn call(&self, method: &str, body: &Value) -> Result<Value, ApiError> {
        self.call_with(method, body, TIMEOUT_MS, POLICY.max_attempts)
    }

    /// Calls `method` with a JSON body, this HTTP timeout and at most
    /// `attempts` attempts.
    pub fn call_with(
        &self,
        method: &str,
        body: &Value,
        timeout_ms: u64,
        attempts: u32,
    ) -> Result<Value, ApiError> {
        let url = method_url(self.base, method);
        let send = || {
            Request::post(url.as_str())
                .json(body)
                .timeout_ms(timeout_ms)
                .send()
        };
        run(method, attempts, timeout_ms, send, judge_json)
    }

    /// Calls `method` with its parameters in the query string (already
    /// encoded) and no body.
    pub fn call_query(&self, method: &str, query: &str) -> Result<Value, ApiError> {
        let url = format!("{}?{query}", method_url(self.base, method));
        let send = || Request::post(url.as_str()).timeout_ms(TIMEOUT_MS).send();
        run(method, POLICY.max_attempts, TIMEOUT_MS, send, judge_json)
    }

    /// Calls `method` with a `multipart/form-data` body.
    pub fn call_multipart(&self, method: &str, form: &Form) -> Result<Value, ApiError> {
        let url = method_url(self.base, method);
        let send = || {
            Request::post(url.as_str())
                .header("content-type", form.content_type.as_str())
                .body(form.body.clone())
                .timeout_ms(FILE_TIMEOUT_MS)
                .send()
        };
        run(
            method,
            POLICY.max_attempts,
            FILE_TIMEOUT_MS,
            send,
            judge_json,
        )
    }

    /// Downloads a file by the `file_path` `getFile` returned.
    pub fn download(&self, file_path: &str) -> Result<Vec<u8>, ApiError> {
        let url = file_url(self.base, file_path);
        let send = || {
            Request::get(url.as_str())
                .timeout_ms(FILE_TIMEOUT_MS)
                .send()
        };
        run(
            "file download",
            POLICY.max_attempts,
            FILE_TIMEOUT_MS,
            send,
            judge_bytes,
        )
    }
}

/// Whether a call that started at `started_ms` may, at `now_ms`, wait
/// `wait_ms` and make one more attempt of up to `timeout_ms`, all within
/// [`CALL_BUDGET_MS`].
pub fn has_time(started_ms: u64, now_ms: u64, wait_ms: u64, timeout_ms: u64) -> bool {
    now_ms.saturating_sub(started_ms) + wait_ms + timeout_ms <= CALL_BUDGET_MS
}

/// Sends until `judge` says stop, sleeping between attempts, and gives
/// up early rather than run past the call's time budget.
fn run<T>(
    method: &str,
    attempts: u32,
    timeout_ms: u64,
    send: impl Fn() -> Result<Response, Error>,
    judge: fn(&str, u32, u32, Result<Response, Error>) -> Step<T>,
) -> Result<T, ApiError> {
    let started = host::now_ms();
    let mut attempt = 1;
    loop {
        match judge(method, attempt, attempts, send()) {
            Step::Done(outcome) => return outcome,
            Step::Retry { failure, wait_ms }
                if !has_time(started, host::now_ms(), wait_ms, timeout_ms) =>
            {
                host::warn(&format!("{failure}; no time left to try again"));
                return Err(failure);
            }
            Step::Retry { wait_ms, failure } => {
                host::warn(&format!(
                    "{failure}; trying again in {wait_ms} ms (attempt {attempt} of {attempts})"
                ));
                retry::sleep_ms(wait_ms);
                attempt += 1;
            }
        }
    }
}

#[cfg(test)]
#[path = "api_tests.rs"]
mod tests;
