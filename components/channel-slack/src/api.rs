//! Calling Slack's Web API with retries.
//!
//! Calls are `POST {api_url}/METHOD` with `Authorization: Bearer
//! {{secret:slack_bot_token}}` (the app token only for
//! `apps.connections.open`), which the host fills in. Bodies are JSON
//! (`application/json; charset=utf-8`) or form-encoded for the methods
//! that take no JSON (`files.getUploadURLExternal`). What to do with each
//! answer is decided by the pure [`judge`]:
//!
//! - HTTP 200 with `"ok": true`: done; with `"ok": false`: an error naming
//!   the method and Slack's `error` (`channel_not_found`…), never retried
//!   except `ratelimited`;
//! - 429: wait exactly `Retry-After` seconds, then retry; a wait over
//!   [`MAX_RETRY_AFTER_MS`] is returned instead;
//! - 5xx and no answer at all: back off 500 ms doubling;
//! - other statuses: an error, never retried.

use openpista_sdk::http::{Request, Response};
use openpista_sdk::retry::{self, RetryPolicy};
use openpista_sdk::{Error, host};
use serde_json::Value;

/// The bot token's header value.
pub const BOT_AUTH: &str = "Bearer {{secret:slack_bot_token}}";
/// The app-level token's header value (Socket Mode only).
pub const APP_AUTH: &str = "Bearer {{secret:slack_app_token}}";

/// Attempts and backoff for failures worth retrying.
pub const POLICY: RetryPolicy = RetryPolicy {
    max_attempts: 5,
    initial_backoff_ms: 500,
    max_backoff_ms: 30_000,
};
/// The longest 429 wait waited for inside one call.
pub const MAX_RETRY_AFTER_MS: u64 = 60_000;
/// How long one call may take with its retries (the call limit is 120 s).
pub const CALL_BUDGET_MS: u64 = 100_000;
/// HTTP timeout of ordinary calls.
pub const TIMEOUT_MS: u64 = 30_000;
/// HTTP timeout of uploads and downloads.
pub const FILE_TIMEOUT_MS: u64 = 60_000;

/// What to do after one attempt.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    Done(Result<Response, Error>),
    Retry { wait_ms: u64, failure: Error },
}

/// The wait a 429 asks for: `Retry-After` in seconds (the SDK's reading,
/// which also takes an HTTP-date); 1 s when Slack gave none.
pub fn retry_after_ms(headers: &[(String, String)], now_ms: u64) -> u64 {
    retry::retry_after_ms(headers, now_ms).unwrap_or(1000)
}

/// The error of `"ok": false` with Slack's `error` code.
pub fn slack_error(method: &str, code: &str) -> Error {
    let m = format!("slack: {method}: {code}");
    match code {
        "invalid_auth"
        | "not_authed"
        | "token_revoked"
        | "token_expired"
        | "account_inactive"
        | "not_allowed_token_type" => Error::unavailable(format!(
            "{m}: the token was rejected; check the slack_bot_token (xoxb-) and \
             slack_app_token (xapp-) secrets"
        )),
        "missing_scope" => Error::denied(format!("{m}: add the scope to the Slack app")),
        "channel_not_found" | "message_not_found" | "file_not_found" => Error::not_found(m),
        "not_in_channel" | "is_archived" | "restricted_action" | "cant_update_message" => {
            Error::denied(format!("{m}: invite the bot, or check its permissions"))
        }
        "ratelimited" => Error::rate_limited(None, m),
        _ => Error::invalid_input(m),
    }
}

/// The decision after attempt `attempt` (1-based) of Web API `method`;
/// `json` says whether the answer is a Web API envelope (`ok`).
pub fn judge(
    method: &str,
    attempt: u32,
    sent: Result<Response, Error>,
    json: bool,
    now_ms: u64,
) -> Step {
    let more = attempt < POLICY.max_attempts;
    let response = match sent {
        Ok(r) => r,
        Err(error) => {
            let retryable = matches!(&error, Error::Timeout(_))
                || matches!(&error, Error::Upstream(u) if u.status.is_none());
            let failure = Error::upstream(None, format!("slack: {method}: {error}"));
            return if retryable && more {
                Step::Retry {
                    wait_ms: retry::backoff_ms(&POLICY, attempt),
                    failure,
                }
            } else {
                Step::Done(Err(failure))
            };
        }
    };
    let status = response.status;
    if status == 429 {
        let wait_ms = retry_after_ms(&response.headers, now_ms);
        let failure = Error::rate_limited(
            Some(wait_ms),
            format!("slack: {method}: rate limited (HTTP 429, retry after {wait_ms} ms)"),
        );
        return if more && wait_ms <= MAX_RETRY_AFTER_MS {
            Step::Retry { wait_ms, failure }
        } else {
            Step::Done(Err(failure))
        };
    }
    if (500..=599).contains(&status) {
        let failure = Error::upstream(Some(status), format!("slack: {method}: HTTP {status}"));
        return if more {
            Step::Retry {
                wait_ms: retry::backoff_ms(&POLICY, attempt),
                failure,
            }
        } else {
            Step::Done(Err(failure))
        };
    }
    if !(200..300).contains(&status) {
        let body = String::from_utf8_lossy(&response.body);
        let body: String = body.chars().take(300).collect();
        return Step::Done(Err(Error::upstream(
            Some(status),
            format!("slack: {method}: HTTP {status}: {}", body.trim()),
        )));
    }
    if !json {
        return Step::Done(Ok(response));
    }
    let Ok(v) = serde_json::from_slice::<Value>(&response.body) else {
        return Step::Done(Err(Error::upstream(
            Some(status),
            format!("slack: {method}: the answer is not JSON"),
        )));
    };
    if v.get("ok").and_then(Value::as_bool) == Some(true) {
        return Step::Done(Ok(response));
    }
    let code = v
        .get("error")
        .and_then(Value::as_str)
        .unwrap_or("unknown_error");
    Step::Done(Err(slack_error(method, code)))
}

/// `application/x-www-form-urlencoded` of `pairs`.
pub fn form_encode(pairs: &[(&str, &str)]) -> String {
    fn enc(s: &str) -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                b' ' => "+".to_string(),
                b => format!("%{b:02X}"),
            })
            .collect()
    }
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// A request body.
pub enum Body<'a> {
    Empty,
    Json(&'a Value),
    Form(&'a [(&'a str, &'a str)]),
}

/// The Web API at one base URL.
pub struct Api<'a> {
    pub base: &'a str,
}

impl Api<'_> {
    /// `POST {base}/{method}` with the bot token; the answer's JSON.
    pub fn call(&self, method: &str, body: Body) -> Result<Value, Error> {
        self.call_as(method, BOT_AUTH, body)
    }

    /// `POST {base}/{method}` with the header value `auth`.
    pub fn call_as(&self, method: &str, auth: &str, body: Body) -> Result<Value, Error> {
        let url = format!("{}/{method}", self.base);
        let build = || {
            let r = Request::post(url.as_str())
                .header("authorization", auth)
                .timeout_ms(TIMEOUT_MS);
            match &body {
                Body::Empty => r.header("content-type", "application/x-www-form-urlencoded"),
                Body::Json(v) => r
                    .header("content-type", "application/json; charset=utf-8")
                    .body(v.to_string()),
                Body::Form(pairs) => r
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(form_encode(pairs)),
            }
        };
        run(method, TIMEOUT_MS, true, build)?.json()
    }

    /// Downloads a file's `url_private` with the bot token.
    pub fn download(&self, url: &str) -> Result<Vec<u8>, Error> {
        let build = || {
            Request::get(url)
                .header("authorization", BOT_AUTH)
                .timeout_ms(FILE_TIMEOUT_MS)
        };
        Ok(run("file download", FILE_TIMEOUT_MS, false, build)?.body)
    }

    /// Posts a file's bytes to the `upload_url` of
    /// `files.getUploadURLExternal` (no token: the URL is the grant).
    pub fn upload(&self, url: &str, data: &[u8]) -> Result<(), Error> {
        let build = || {
            Request::post(url)
                .header("content-type", "application/octet-stream")
                .body(data.to_vec())
                .timeout_ms(FILE_TIMEOUT_MS)
        };
        run("file upload", FILE_TIMEOUT_MS, false, build).map(|_| ())
    }
}

/// Sends until [`judge`] says stop, sleeping between attempts, within
/// [`CALL_BUDGET_MS`].
fn run(
    method: &str,
    timeout_ms: u64,
    json: bool,
    build: impl Fn() -> Request,
) -> Result<Response, Error> {
    let started = host::now_ms();
    let mut attempt = 1;
    loop {
        let sent = build().send();
        match judge(method, attempt, sent, json, host::now_ms()) {
            Step::Done(outcome) => return outcome,
            Step::Retry { wait_ms, failure } => {
                let spent = host::now_ms().saturating_sub(started);
                if spent + wait_ms + timeout_ms > CALL_BUDGET_MS {
                    host::warn(&format!("{failure}; no time left to try again"));
                    return Err(failure);
                }
                host::warn(&format!(
                    "{failure}; trying again in {wait_ms} ms (attempt {attempt} of {})",
                    POLICY.max_attempts
                ));
                retry::sleep_ms(wait_ms);
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

    #[test]
    fn ok_true_is_done_and_ok_false_names_slacks_error() {
        assert!(matches!(
            judge(
                "chat.postMessage",
                1,
                response(200, &[], r#"{"ok":true}"#),
                true,
                0
            ),
            Step::Done(Ok(_))
        ));
        let Step::Done(Err(e)) = judge(
            "chat.postMessage",
            1,
            response(200, &[], r#"{"ok":false,"error":"channel_not_found"}"#),
            true,
            0,
        ) else {
            panic!()
        };
        assert_eq!(e.kind(), "not-found");
        assert!(
            e.message().contains("chat.postMessage: channel_not_found"),
            "{e}"
        );
        let Step::Done(Err(e)) = judge(
            "auth.test",
            1,
            response(200, &[], r#"{"ok":false,"error":"invalid_auth"}"#),
            true,
            0,
        ) else {
            panic!()
        };
        assert!(e.message().contains("slack_bot_token"), "{e}");
    }

    #[test]
    fn a_429_waits_exactly_retry_after_seconds() {
        let step = judge(
            "chat.postMessage",
            1,
            response(429, &[("Retry-After", "3")], ""),
            true,
            0,
        );
        assert!(
            matches!(step, Step::Retry { wait_ms: 3000, .. }),
            "{step:?}"
        );
        assert_eq!(retry_after_ms(&[], 0), 1000);
        let long = judge(
            "x",
            1,
            response(429, &[("retry-after", "120")], ""),
            true,
            0,
        );
        assert!(
            matches!(long, Step::Done(Err(Error::RateLimited(_)))),
            "{long:?}"
        );
        assert!(matches!(
            judge("x", 5, response(429, &[("retry-after", "1")], ""), true, 0),
            Step::Done(Err(_))
        ));
    }

    #[test]
    fn server_errors_and_lost_connections_back_off() {
        assert!(matches!(
            judge("x", 1, response(503, &[], ""), true, 0),
            Step::Retry { wait_ms: 500, .. }
        ));
        assert!(matches!(
            judge("x", 2, Err(Error::upstream(None, "reset")), true, 0),
            Step::Retry { wait_ms: 1000, .. }
        ));
        assert!(matches!(
            judge("x", 1, Err(Error::denied("host")), true, 0),
            Step::Done(Err(_))
        ));
        assert!(matches!(
            judge("x", 1, response(404, &[], "nope"), true, 0),
            Step::Done(Err(_))
        ));
        // Downloads are not envelopes.
        assert!(matches!(
            judge("file download", 1, response(200, &[], "PNG..."), false, 0),
            Step::Done(Ok(_))
        ));
    }

    #[test]
    fn forms_are_percent_encoded() {
        assert_eq!(
            form_encode(&[("filename", "a b&c.txt"), ("length", "12")]),
            "filename=a+b%26c.txt&length=12"
        );
    }
}
