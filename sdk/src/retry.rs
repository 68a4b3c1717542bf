//! Sending a request again when the service is busy or briefly broken.
//!
//! [`send_with_retry`] and [`send_streaming_with_retry`] send the request
//! built by a closure, and send it again (building it anew) when:
//!
//! - the service answered **429** (rate limited) or **5xx**, or
//! - there was no answer at all: the connection failed
//!   ([`Error::Upstream`] without a status).
//!
//! They wait between attempts: exactly what the service asked for in
//! `retry-after-ms` (milliseconds) or `retry-after` (seconds or an
//! HTTP-date) when it said, otherwise an exponential backoff starting at
//! [`RetryPolicy::initial_backoff_ms`] and doubling up to
//! [`RetryPolicy::max_backoff_ms`]. A service asking for a longer wait than
//! `max_backoff_ms` is not retried: the call fails at once with
//! [`Error::RateLimited`] carrying the wait it asked for, so that the caller
//! (the agent loop) can decide.
//!
//! Any other status is final and is never retried; after the last attempt
//! (or for a final status) the response becomes the error a provider wants
//! to return, naming the provider and what to fix (see
//! [`error_for_status`]):
//!
//! | status | error |
//! | --- | --- |
//! | 400, 413, 422 | [`Error::InvalidInput`] with the service's own message |
//! | 401, 403 | [`Error::Unavailable`]: the API key was rejected; check it |
//! | 404 | [`Error::NotFound`]: check the model and the base URL |
//! | 429 | [`Error::RateLimited`] with the wait the service asked for |
//! | 5xx | [`Error::Upstream`] with the status |
//! | anything else | [`Error::Upstream`] with the status |
//!
//! The service's message is taken from its JSON error body when there is
//! one (`{"error": {"message": ...}}` and the usual variants), else from
//! the start of the body's text.
//!
//! ```no_run
//! use openpista_sdk::{http::Request, retry::{RetryPolicy, send_with_retry}};
//! # fn demo() -> Result<(), openpista_sdk::Error> {
//! let body = serde_json::json!({ "model": "m", "messages": [] });
//! let response = send_with_retry(RetryPolicy::default(), "llm-example", || {
//!     Request::post("https://api.example.com/v1/chat")
//!         .bearer("{{secret:api_key}}")
//!         .json(&body)
//! })?;
//! // Only a 2xx response gets here.
//! let answer: serde_json::Value = response.json()?;
//! # let _ = answer; Ok(()) }
//! ```
//!
//! The decisions are pure functions ([`decide`], [`decide_error`],
//! [`retry_after_ms`], [`error_for_status`]) so they can be tested natively.

use std::borrow::Borrow;

use crate::Error;
use crate::http::{Request, Response, StreamingResponse};

/// How often and how patiently to retry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (at least 1 is made).
    pub max_attempts: u32,
    /// The wait after the first failed attempt, when the service did not
    /// say how long to wait.
    pub initial_backoff_ms: u64,
    /// The longest wait; the backoff doubles up to it, and a service asking
    /// for longer is not retried.
    pub max_backoff_ms: u64,
}

impl Default for RetryPolicy {
    /// 4 attempts, waiting 0.5 s, 1 s, 2 s in between (up to 30 s).
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            initial_backoff_ms: 500,
            max_backoff_ms: 30_000,
        }
    }
}

impl RetryPolicy {
    /// A policy that sends once and never retries.
    pub fn no_retries() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }
}

/// What to do with the answer to one attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// A success: use this response.
    Accept,
    /// Wait this many milliseconds, then send the request again.
    Retry {
        /// How long to wait.
        wait_ms: u64,
    },
    /// Stop: this outcome is final (turn a response into an error with
    /// [`error_for_status`]).
    Fail,
}

/// The exponential backoff before attempt `attempt + 1`, after `attempt`
/// (1-based) attempts failed: `initial_backoff_ms · 2^(attempt-1)`, at most
/// `max_backoff_ms`.
pub fn backoff_ms(policy: &RetryPolicy, attempt: u32) -> u64 {
    let doublings = attempt.saturating_sub(1).min(63);
    policy
        .initial_backoff_ms
        .saturating_mul(1u64 << doublings)
        .min(policy.max_backoff_ms)
}

/// Whether a status is worth another attempt: 429 and 5xx.
pub fn is_retryable_status(status: u16) -> bool {
    status == 429 || (500..=599).contains(&status)
}

/// What to do after attempt number `attempt` (1-based) got a response with
/// this status and these headers; `now_ms` (Unix milliseconds) resolves a
/// `retry-after` HTTP-date.
pub fn decide(
    policy: &RetryPolicy,
    status: u16,
    headers: &[(String, String)],
    attempt: u32,
    now_ms: u64,
) -> Decision {
    if (200..300).contains(&status) {
        return Decision::Accept;
    }
    if !is_retryable_status(status) || attempt >= policy.max_attempts {
        return Decision::Fail;
    }
    match retry_after_ms(headers, now_ms) {
        Some(wait_ms) if wait_ms > policy.max_backoff_ms => Decision::Fail,
        Some(wait_ms) => Decision::Retry { wait_ms },
        None => Decision::Retry {
            wait_ms: backoff_ms(policy, attempt),
        },
    }
}

/// What to do after attempt number `attempt` failed without a response:
/// retry a connection failure ([`Error::Upstream`] with no status) with
/// backoff; anything else (a denied host, a timeout, a malformed request)
/// is final.
pub fn decide_error(policy: &RetryPolicy, error: &Error, attempt: u32) -> Decision {
    match error {
        Error::Upstream(u) if u.status.is_none() && attempt < policy.max_attempts => {
            Decision::Retry {
                wait_ms: backoff_ms(policy, attempt),
            }
        }
        _ => Decision::Fail,
    }
}

/// The wait a response asks for, in milliseconds: `retry-after-ms`
/// (milliseconds, as some APIs send), else `retry-after` as seconds or as
/// an HTTP-date (relative to `now_ms`; a date in the past means 0).
/// `None` when neither header is there or readable.
pub fn retry_after_ms(headers: &[(String, String)], now_ms: u64) -> Option<u64> {
    let find = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    };
    if let Some(ms) = find("retry-after-ms").and_then(parse_number) {
        return Some(ms.round() as u64);
    }
    let value = find("retry-after")?;
    if let Some(secs) = parse_number(value) {
        return Some((secs * 1000.0).round() as u64);
    }
    let at = parse_http_date(value)?;
    Some(at.saturating_sub(now_ms))
}

/// A non-negative decimal number (`3`, `1.5`).
fn parse_number(text: &str) -> Option<f64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    let n: f64 = text.parse().ok()?;
    (n.is_finite() && n >= 0.0).then_some(n)
}

/// An HTTP-date (`Sun, 06 Nov 1994 08:49:37 GMT`, and the obsolete
/// `Sunday, 06-Nov-94 08:49:37 GMT` and `Sun Nov  6 08:49:37 1994` forms)
/// as Unix milliseconds.
pub fn parse_http_date(text: &str) -> Option<u64> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let mut day = None;
    let mut month = None;
    let mut year = None;
    let mut time = None;
    for token in text
        .split([' ', ',', '-'])
        .filter(|t| !t.is_empty())
        .map(str::to_ascii_lowercase)
    {
        if token.contains(':') {
            let parts: Vec<u64> = token
                .split(':')
                .map(|p| p.parse().ok())
                .collect::<Option<_>>()?;
            let [h, m, s] = parts[..] else { return None };
            if h > 23 || m > 59 || s > 60 {
                return None;
            }
            time = Some(h * 3600 + m * 60 + s);
        } else if let Some(i) = MONTHS.iter().position(|m| token == *m) {
            month = Some(i as u64 + 1);
        } else if token.bytes().all(|b| b.is_ascii_digit()) {
            let n: u64 = token.parse().ok()?;
            if day.is_none() && token.len() <= 2 && year.is_none() && month.is_none() {
                day = Some(n);
            } else if day.is_none() && month.is_some() && token.len() <= 2 {
                // asctime: `Nov  6 ...`.
                day = Some(n);
            } else if year.is_none() {
                year = Some(match (token.len(), n) {
                    (2, n) if n >= 70 => 1900 + n,
                    (2, n) => 2000 + n,
                    _ => n,
                });
            } else {
                return None;
            }
        } else if token == "gmt" || token == "utc" || token.chars().all(|c| c.is_alphabetic()) {
            // The zone, or the day of the week.
        } else {
            return None;
        }
    }
    let (day, month, year, time) = (day?, month?, year?, time?);
    if !(1..=31).contains(&day) || year < 1970 {
        return None;
    }
    let days = days_since_epoch(year, month, day)?;
    Some((days * 86_400 + time) * 1000)
}

/// Days from 1970-01-01 to the given date (proleptic Gregorian).
fn days_since_epoch(year: u64, month: u64, day: u64) -> Option<u64> {
    let leap = |y: u64| (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400);
    let month_days = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let mut days = 0u64;
    for y in 1970..year {
        days += if leap(y) { 366 } else { 365 };
    }
    for m in 1..month {
        days += month_days[(m - 1) as usize];
        if m == 2 && leap(year) {
            days += 1;
        }
    }
    let in_month = month_days[(month - 1) as usize] + u64::from(month == 2 && leap(year));
    if day > in_month {
        return None;
    }
    Some(days + day - 1)
}

/// The service's own message in an error body: `error.message` (OpenAI,
/// Anthropic and most others), `error` as text, `message`, `detail`,
/// `error_description`; otherwise the start of the body's text.
pub fn service_message(body: &[u8]) -> String {
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) {
        let text = |v: &serde_json::Value| v.as_str().map(str::to_string);
        let found = value
            .pointer("/error/message")
            .and_then(text)
            .or_else(|| value.get("error").and_then(text))
            .or_else(|| value.get("message").and_then(text))
            .or_else(|| value.get("detail").and_then(text))
            .or_else(|| value.pointer("/detail/0/msg").and_then(text))
            .or_else(|| value.get("error_description").and_then(text));
        if let Some(message) = found
            && !message.trim().is_empty()
        {
            return crate::http::snippet(&message);
        }
    }
    crate::http::snippet(&String::from_utf8_lossy(body))
}

/// The error for a final non-2xx response from `provider` after `attempts`
/// attempts (see the table in the [module docs](self)).
pub fn error_for_status(
    provider: &str,
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
    attempts: u32,
    now_ms: u64,
) -> Error {
    let message = service_message(body);
    let tries = if attempts > 1 {
        format!(" after {attempts} attempts")
    } else {
        String::new()
    };
    match status {
        401 => Error::unavailable(format!(
            "{provider}: the API key was rejected (HTTP 401): {message}; check the API key \
             secret configured for {provider} (is it set, current and meant for this service?)"
        )),
        403 => Error::unavailable(format!(
            "{provider}: the API key was refused access (HTTP 403): {message}; check that the \
             API key configured for {provider} may use this model and endpoint"
        )),
        400 | 413 | 422 => Error::invalid_input(format!(
            "{provider}: the service rejected the request (HTTP {status}): {message}"
        )),
        404 => Error::not_found(format!(
            "{provider}: not found (HTTP 404): {message}; check the model name and the \
             base URL configured for {provider}"
        )),
        429 => Error::rate_limited(
            retry_after_ms(headers, now_ms),
            format!("{provider}: rate limited (HTTP 429){tries}: {message}"),
        ),
        500..=599 => Error::upstream(
            Some(status),
            format!("{provider}: the service failed (HTTP {status}){tries}: {message}"),
        ),
        _ => Error::upstream(
            Some(status),
            format!("{provider}: unexpected answer (HTTP {status}): {message}"),
        ),
    }
}

/// `error` with `provider: ` in front of its message (same kind), and the
/// number of attempts when there were several.
fn name_error(error: Error, provider: &str, attempts: u32) -> Error {
    let tries = if attempts > 1 {
        format!(" (after {attempts} attempts)")
    } else {
        String::new()
    };
    let wrap = |m: String| format!("{provider}: {m}{tries}");
    match error {
        Error::Denied(m) => Error::Denied(wrap(m)),
        Error::InvalidInput(m) => Error::InvalidInput(wrap(m)),
        Error::NotFound(m) => Error::NotFound(wrap(m)),
        Error::Timeout(m) => Error::Timeout(wrap(m)),
        Error::Unavailable(m) => Error::Unavailable(wrap(m)),
        Error::Internal(m) => Error::Internal(wrap(m)),
        Error::Upstream(mut u) => {
            u.message = wrap(u.message);
            Error::Upstream(u)
        }
        Error::RateLimited(mut r) => {
            r.message = wrap(r.message);
            Error::RateLimited(r)
        }
    }
}

/// Blocks this component for `ms` milliseconds (`wasi:clocks`).
pub fn sleep_ms(ms: u64) {
    if ms == 0 {
        return;
    }
    wasip2::clocks::monotonic_clock::subscribe_duration(ms.saturating_mul(1_000_000)).block();
}

/// Sends the request `build` makes, retrying as the [module docs](self)
/// describe, and returns the first 2xx response, read to its end. Any
/// other outcome is an error naming `provider` (such as `llm-openai`).
///
/// `policy` may be given by value or by reference.
pub fn send_with_retry(
    policy: impl Borrow<RetryPolicy>,
    provider_name: &str,
    build: impl Fn() -> Request,
) -> Result<Response, Error> {
    let response = send_streaming_with_retry(policy, provider_name, build)?;
    response
        .into_response()
        .map_err(|e| name_error(e, provider_name, 1))
}

/// Like [`send_with_retry`], but returns the first 2xx response as soon
/// as its head arrived, with the body still to read (for server-sent
/// events). Only the response head is retried: once the body is being
/// read, a broken connection is the caller's error.
pub fn send_streaming_with_retry(
    policy: impl Borrow<RetryPolicy>,
    provider_name: &str,
    build: impl Fn() -> Request,
) -> Result<StreamingResponse, Error> {
    let policy = *policy.borrow();
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let request = build();
        match request.send_streaming() {
            Err(error) => match decide_error(&policy, &error, attempt) {
                Decision::Retry { wait_ms } => {
                    crate::host::warn(&format!(
                        "{provider_name}: {error}; trying again in {wait_ms} ms \
                         (attempt {attempt} of {})",
                        policy.max_attempts
                    ));
                    sleep_ms(wait_ms);
                }
                _ => return Err(name_error(error, provider_name, attempt)),
            },
            Ok(response) => {
                let now = crate::host::now_ms();
                match decide(&policy, response.status, &response.headers, attempt, now) {
                    Decision::Accept => return Ok(response),
                    Decision::Retry { wait_ms } => {
                        crate::host::warn(&format!(
                            "{provider_name}: HTTP {}; trying again in {wait_ms} ms \
                             (attempt {attempt} of {})",
                            response.status, policy.max_attempts
                        ));
                        // Dropping the response closes its connection.
                        drop(response);
                        sleep_ms(wait_ms);
                    }
                    Decision::Fail => {
                        let status = response.status;
                        let headers = response.headers.clone();
                        // The body only feeds the message; a body that
                        // breaks off still leaves the status to report.
                        let body = response.read_all().unwrap_or_default();
                        return Err(error_for_status(
                            provider_name,
                            status,
                            &headers,
                            &body,
                            attempt,
                            crate::host::now_ms(),
                        ));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const P: RetryPolicy = RetryPolicy {
        max_attempts: 4,
        initial_backoff_ms: 500,
        max_backoff_ms: 30_000,
    };

    #[test]
    fn default_policy() {
        assert_eq!(RetryPolicy::default(), P);
        assert_eq!(RetryPolicy::no_retries().max_attempts, 1);
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let got: Vec<u64> = (1..=9).map(|a| backoff_ms(&P, a)).collect();
        assert_eq!(
            got,
            vec![500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]
        );
        assert_eq!(backoff_ms(&P, u32::MAX), 30_000);
        assert_eq!(backoff_ms(&P, 0), 500);
    }

    #[test]
    fn success_is_accepted() {
        for status in [200, 201, 204, 299] {
            assert_eq!(decide(&P, status, &[], 1, 0), Decision::Accept);
            assert_eq!(decide(&P, status, &[], 9, 0), Decision::Accept);
        }
    }

    #[test]
    fn client_errors_are_never_retried() {
        for status in [400, 401, 403, 404, 409, 413, 422, 301, 304] {
            assert_eq!(decide(&P, status, &[], 1, 0), Decision::Fail, "{status}");
            let with_header = h(&[("retry-after", "1")]);
            assert_eq!(decide(&P, status, &with_header, 1, 0), Decision::Fail);
        }
    }

    #[test]
    fn rate_limits_and_server_errors_back_off() {
        for status in [429, 500, 502, 503, 504, 529] {
            assert_eq!(
                decide(&P, status, &[], 1, 0),
                Decision::Retry { wait_ms: 500 }
            );
            assert_eq!(
                decide(&P, status, &[], 3, 0),
                Decision::Retry { wait_ms: 2000 }
            );
            // The fourth attempt was the last.
            assert_eq!(decide(&P, status, &[], 4, 0), Decision::Fail);
        }
        let once = RetryPolicy::no_retries();
        assert_eq!(decide(&once, 429, &[], 1, 0), Decision::Fail);
    }

    #[test]
    fn retry_after_is_honoured_exactly() {
        let headers = h(&[("Retry-After", "1")]);
        assert_eq!(
            decide(&P, 429, &headers, 1, 0),
            Decision::Retry { wait_ms: 1000 }
        );
        // Even when the backoff would be longer.
        assert_eq!(
            decide(&P, 503, &headers, 3, 0),
            Decision::Retry { wait_ms: 1000 }
        );
        let headers = h(&[("retry-after-ms", "250"), ("retry-after", "9")]);
        assert_eq!(
            decide(&P, 429, &headers, 1, 0),
            Decision::Retry { wait_ms: 250 }
        );
        let headers = h(&[("retry-after", "0")]);
        assert_eq!(
            decide(&P, 429, &headers, 1, 0),
            Decision::Retry { wait_ms: 0 }
        );
    }

    #[test]
    fn a_wait_longer_than_the_cap_is_not_retried() {
        let headers = h(&[("retry-after", "3600")]);
        assert_eq!(decide(&P, 429, &headers, 1, 0), Decision::Fail);
        let e = error_for_status("llm-x", 429, &headers, b"{}", 1, 0);
        assert_eq!(
            e,
            Error::rate_limited(Some(3_600_000), "llm-x: rate limited (HTTP 429): {}")
        );
    }

    #[test]
    fn unreadable_retry_after_falls_back_to_backoff() {
        for value in ["soon", "-1", "", "1e3", "Sun, 99 Foo 1994"] {
            let headers = h(&[("retry-after", value)]);
            assert_eq!(retry_after_ms(&headers, 0), None, "{value}");
            assert_eq!(
                decide(&P, 503, &headers, 2, 0),
                Decision::Retry { wait_ms: 1000 }
            );
        }
        assert_eq!(
            retry_after_ms(&h(&[("retry-after", " 1.5 ")]), 0),
            Some(1500)
        );
    }

    #[test]
    fn retry_after_http_dates() {
        let date = "Sun, 06 Nov 1994 08:49:37 GMT";
        let at = parse_http_date(date).unwrap();
        assert_eq!(at, 784_111_777_000);
        assert_eq!(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), Some(at));
        assert_eq!(parse_http_date("Sun Nov  6 08:49:37 1994"), Some(at));
        assert_eq!(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(
            parse_http_date("Tue, 29 Feb 2028 12:00:00 GMT"),
            Some(1_835_438_400_000)
        );
        assert_eq!(parse_http_date("Wed, 29 Feb 2027 12:00:00 GMT"), None);
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 25:49:37 GMT"), None);
        assert_eq!(parse_http_date("06 Nov 1994"), None);

        let headers = h(&[("retry-after", date)]);
        assert_eq!(retry_after_ms(&headers, at - 2_000), Some(2_000));
        // In the past: retry now.
        assert_eq!(retry_after_ms(&headers, at + 5_000), Some(0));
        assert_eq!(
            decide(&P, 429, &headers, 1, at - 1_500),
            Decision::Retry { wait_ms: 1500 }
        );
    }

    #[test]
    fn connection_failures_are_retried_other_errors_not() {
        let refused = Error::upstream(None, "connection to a refused");
        assert_eq!(
            decide_error(&P, &refused, 1),
            Decision::Retry { wait_ms: 500 }
        );
        assert_eq!(
            decide_error(&P, &refused, 2),
            Decision::Retry { wait_ms: 1000 }
        );
        assert_eq!(decide_error(&P, &refused, 4), Decision::Fail);
        for e in [
            Error::denied("host"),
            Error::timeout("slow"),
            Error::invalid_input("bad url"),
            Error::internal("x"),
            Error::upstream(Some(500), "had a status"),
        ] {
            assert_eq!(decide_error(&P, &e, 1), Decision::Fail, "{e}");
        }
    }

    #[test]
    fn service_messages_are_extracted() {
        let openai =
            br#"{"error":{"message":"Incorrect API key provided: sk-...","type":"invalid_request_error","code":"invalid_api_key"}}"#;
        assert_eq!(
            service_message(openai),
            "Incorrect API key provided: sk-..."
        );
        let anthropic =
            br#"{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: required"}}"#;
        assert_eq!(service_message(anthropic), "max_tokens: required");
        assert_eq!(
            service_message(br#"{"error":"model not found"}"#),
            "model not found"
        );
        assert_eq!(service_message(br#"{"message":"nope"}"#), "nope");
        assert_eq!(service_message(br#"{"detail":"gone"}"#), "gone");
        assert_eq!(
            service_message(br#"{"detail":[{"loc":["body"],"msg":"field required"}]}"#),
            "field required"
        );
        assert_eq!(
            service_message(b"<html>Bad Gateway</html>"),
            "<html>Bad Gateway</html>"
        );
        assert_eq!(service_message(b""), "(empty body)");
        assert_eq!(service_message(br#"{"other":1}"#), r#"{"other":1}"#);
    }

    #[test]
    fn final_errors_name_the_provider_and_the_fix() {
        let body = br#"{"error":{"message":"Incorrect API key"}}"#;
        let e = error_for_status("llm-openai", 401, &[], body, 1, 0);
        let Error::Unavailable(m) = &e else {
            panic!("{e:?}")
        };
        assert!(m.starts_with(
            "llm-openai: the API key was rejected (HTTP 401): Incorrect API key; check"
        ));
        assert!(m.contains("API key secret configured for llm-openai"));

        let e = error_for_status("llm-openai", 403, &[], b"forbidden", 1, 0);
        assert!(
            matches!(&e, Error::Unavailable(m) if m.contains("HTTP 403") && m.contains("API key"))
        );

        let body = br#"{"error":{"message":"'messages' must not be empty"}}"#;
        assert_eq!(
            error_for_status("llm-openai", 400, &[], body, 1, 0),
            Error::invalid_input(
                "llm-openai: the service rejected the request (HTTP 400): 'messages' must not be empty"
            )
        );
        let e = error_for_status(
            "p",
            404,
            &[],
            br#"{"error":{"message":"no model x"}}"#,
            1,
            0,
        );
        assert!(
            matches!(&e, Error::NotFound(m) if m.contains("no model x") && m.contains("model name"))
        );

        assert_eq!(
            error_for_status("p", 429, &h(&[("retry-after", "2")]), b"slow", 4, 0),
            Error::rate_limited(
                Some(2000),
                "p: rate limited (HTTP 429) after 4 attempts: slow"
            )
        );
        assert_eq!(
            error_for_status("p", 429, &[], b"slow", 1, 0),
            Error::rate_limited(None, "p: rate limited (HTTP 429): slow")
        );
        assert_eq!(
            error_for_status("p", 503, &[], b"overloaded", 4, 0),
            Error::upstream(
                Some(503),
                "p: the service failed (HTTP 503) after 4 attempts: overloaded"
            )
        );
        assert_eq!(
            error_for_status("p", 302, &[], b"", 1, 0),
            Error::upstream(Some(302), "p: unexpected answer (HTTP 302): (empty body)")
        );
    }

    #[test]
    fn naming_keeps_the_kind() {
        let e = name_error(Error::upstream(None, "connection to h refused"), "llm-x", 4);
        assert_eq!(
            e,
            Error::upstream(None, "llm-x: connection to h refused (after 4 attempts)")
        );
        let e = name_error(Error::denied("no"), "llm-x", 1);
        assert_eq!(e, Error::denied("llm-x: no"));
    }
}
