//! Discord's REST rate limits, read from its answers.
//!
//! Every answer names its bucket (`X-RateLimit-Bucket`), the calls left
//! in it (`X-RateLimit-Remaining`) and when it refills
//! (`X-RateLimit-Reset-After`, seconds). A call on a route whose bucket
//! is spent waits for the refill before it goes ([`Buckets`]). A 429
//! carries `{"message", "retry_after" (seconds, fractional), "global"}`
//! and a `Retry-After` header; [`retry_after_ms`] reads the exact wait,
//! and a global limit holds every route. The clock is passed in, so this
//! is tested natively.

use std::collections::HashMap;

use serde_json::Value;

/// What the rate-limit headers of one answer say.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Limits {
    pub bucket: Option<String>,
    pub remaining: Option<u64>,
    pub reset_after_ms: Option<u64>,
    pub global: bool,
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
}

/// Seconds (`1.5`) as milliseconds, rounded up.
fn secs_ms(text: &str) -> Option<u64> {
    let secs: f64 = text.trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| (secs * 1000.0).ceil() as u64)
}

/// Reads the rate-limit headers.
pub fn limits(headers: &[(String, String)]) -> Limits {
    Limits {
        bucket: header(headers, "x-ratelimit-bucket").map(str::to_string),
        remaining: header(headers, "x-ratelimit-remaining").and_then(|v| v.parse().ok()),
        reset_after_ms: header(headers, "x-ratelimit-reset-after").and_then(secs_ms),
        global: header(headers, "x-ratelimit-global").is_some_and(|v| v == "true"),
    }
}

/// The wait a 429 asks for, in milliseconds, and whether it is global:
/// the body's `retry_after`, else `Retry-After`, else
/// `X-RateLimit-Reset-After`; 1 s when none is readable.
pub fn retry_after_ms(body: &[u8], headers: &[(String, String)]) -> (u64, bool) {
    let json = serde_json::from_slice::<Value>(body).ok();
    let from_body = json
        .as_ref()
        .and_then(|v| v.get("retry_after")?.as_f64())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| (s * 1000.0).ceil() as u64);
    let wait = from_body
        .or_else(|| header(headers, "retry-after").and_then(secs_ms))
        .or_else(|| header(headers, "x-ratelimit-reset-after").and_then(secs_ms))
        .unwrap_or(1_000);
    let global = json
        .as_ref()
        .and_then(|v| v.get("global")?.as_bool())
        .unwrap_or(false)
        || header(headers, "x-ratelimit-global").is_some_and(|v| v == "true")
        || header(headers, "x-ratelimit-scope").is_some_and(|v| v == "global");
    (wait, global)
}

/// The route a call counts against: the method and the path with ids
/// replaced, except the major one (the id after `channels`, `guilds` or
/// `webhooks`) and tokens, which Discord limits separately.
pub fn route_key(method: &str, path: &str) -> String {
    let path = path.split('?').next().unwrap_or(path);
    let mut prev = "";
    let parts: Vec<String> = path
        .split('/')
        .map(|seg| {
            let id = !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit());
            let keep = !id || matches!(prev, "channels" | "guilds" | "webhooks");
            prev = seg;
            if keep {
                seg.to_string()
            } else {
                ":id".to_string()
            }
        })
        .collect();
    format!("{method} {}", parts.join("/"))
}

/// Buckets learnt from answers and when each may be used again.
#[derive(Clone, Debug, Default)]
pub struct Buckets {
    /// Route → bucket.
    routes: HashMap<String, String>,
    /// Bucket → time it refills, when it is spent.
    spent_until: HashMap<String, u64>,
    /// Until when every call waits (a global limit).
    global_until: u64,
}

impl Buckets {
    pub fn new() -> Self {
        Buckets::default()
    }

    /// How long a call on `route` must wait at `now_ms`.
    pub fn wait_ms(&self, route: &str, now_ms: u64) -> u64 {
        let bucket = self
            .routes
            .get(route)
            .and_then(|b| self.spent_until.get(b))
            .copied()
            .unwrap_or(0);
        bucket.max(self.global_until).saturating_sub(now_ms)
    }

    /// Learns from an answer on `route` at `now_ms`.
    pub fn update(&mut self, route: &str, limits: &Limits, now_ms: u64) {
        let Some(bucket) = &limits.bucket else {
            return;
        };
        if self.routes.len() > 1_000 {
            self.routes.clear();
            self.spent_until.retain(|_, until| *until > now_ms);
        }
        self.routes.insert(route.to_string(), bucket.clone());
        match (limits.remaining, limits.reset_after_ms) {
            (Some(0), Some(reset)) => {
                self.spent_until.insert(bucket.clone(), now_ms + reset);
            }
            _ => {
                self.spent_until.remove(bucket);
            }
        }
    }

    /// A 429 on `route`: hold it (or everything, when global) for `wait_ms`.
    pub fn limited(&mut self, route: &str, wait_ms: u64, global: bool, now_ms: u64) {
        if global {
            self.global_until = self.global_until.max(now_ms + wait_ms);
        } else {
            // A route whose bucket is not known yet is its own bucket.
            let bucket = self
                .routes
                .entry(route.to_string())
                .or_insert_with(|| route.to_string())
                .clone();
            self.spent_until.insert(bucket, now_ms + wait_ms);
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

    #[test]
    fn headers_are_read_case_insensitively() {
        let l = limits(&h(&[
            ("X-RateLimit-Bucket", "abcd1234"),
            ("X-RateLimit-Remaining", "0"),
            ("X-RateLimit-Reset-After", "1.234"),
        ]));
        assert_eq!(l.bucket.as_deref(), Some("abcd1234"));
        assert_eq!(
            (l.remaining, l.reset_after_ms, l.global),
            (Some(0), Some(1234), false)
        );
        assert_eq!(limits(&[]), Limits::default());
    }

    #[test]
    fn a_429_waits_exactly_what_the_body_says() {
        let body =
            br#"{"message": "You are being rate limited.", "retry_after": 0.352, "global": false}"#;
        assert_eq!(
            retry_after_ms(body, &h(&[("retry-after", "1")])),
            (352, false)
        );
        let global = br#"{"message": "x", "retry_after": 2.5, "global": true}"#;
        assert_eq!(retry_after_ms(global, &[]), (2500, true));
        assert_eq!(
            retry_after_ms(b"", &h(&[("Retry-After", "3")])),
            (3000, false)
        );
        assert_eq!(
            retry_after_ms(
                b"",
                &h(&[
                    ("x-ratelimit-reset-after", "0.5"),
                    ("x-ratelimit-scope", "global")
                ])
            ),
            (500, true)
        );
        assert_eq!(retry_after_ms(b"oops", &[]), (1000, false));
    }

    #[test]
    fn routes_keep_their_major_id_only() {
        assert_eq!(
            route_key("POST", "/channels/123/messages"),
            "POST /channels/123/messages"
        );
        assert_eq!(
            route_key("PATCH", "/channels/123/messages/456"),
            "PATCH /channels/123/messages/:id"
        );
        assert_eq!(
            route_key("POST", "/interactions/789/tok/callback"),
            "POST /interactions/:id/tok/callback"
        );
    }

    #[test]
    fn a_spent_bucket_holds_its_routes_until_it_refills() {
        let mut b = Buckets::new();
        let r = "POST /channels/1/messages";
        let spent = limits(&h(&[
            ("x-ratelimit-bucket", "B"),
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset-after", "2"),
        ]));
        b.update(r, &spent, 10_000);
        assert_eq!(b.wait_ms(r, 10_500), 1_500);
        assert_eq!(b.wait_ms("POST /channels/2/messages", 10_500), 0);
        assert_eq!(b.wait_ms(r, 12_000), 0);
        let fresh = limits(&h(&[
            ("x-ratelimit-bucket", "B"),
            ("x-ratelimit-remaining", "4"),
        ]));
        b.update(r, &fresh, 10_600);
        assert_eq!(b.wait_ms(r, 10_600), 0);
    }

    #[test]
    fn a_global_limit_holds_every_route() {
        let mut b = Buckets::new();
        b.limited("GET /users/@me", 3_000, true, 0);
        assert_eq!(b.wait_ms("POST /channels/1/messages", 1_000), 2_000);
        b.update("R", &limits(&h(&[("x-ratelimit-bucket", "X")])), 0);
        b.limited("R", 500, false, 0);
        assert_eq!(b.wait_ms("R", 4_000), 0);
        b.limited("R", 5_000, false, 4_000);
        assert_eq!(b.wait_ms("R", 4_000), 5_000);
        // A 429 on a route with no bucket yet holds that route alone.
        let mut b = Buckets::new();
        b.limited("GET /gateway/bot", 700, false, 0);
        assert_eq!(b.wait_ms("GET /gateway/bot", 200), 500);
        assert_eq!(b.wait_ms("GET /users/@me", 200), 0);
    }
}
