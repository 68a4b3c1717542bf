//! Checking that a request on the Events API routes comes from Slack.
//!
//! Slack signs every request with the app's signing secret:
//! `X-Slack-Signature: v0=HEX`, the HMAC-SHA256 of the base string
//! `v0:TIMESTAMP:BODY`, where `TIMESTAMP` is `X-Slack-Request-Timestamp`
//! (Unix seconds) and `BODY` the raw body. The component never holds the
//! secret: the glue passes `host::secret_hmac_matches("slack_signing_secret",
//! …)` as `verify`, so that the decision here is pure and tested natively.
//! A timestamp more than [`MAX_SKEW_SECS`] away from now is refused too,
//! so that a captured request cannot be replayed later.

/// The header of the signature.
pub const SIGNATURE_HEADER: &str = "x-slack-signature";
/// The header of the timestamp.
pub const TIMESTAMP_HEADER: &str = "x-slack-request-timestamp";
/// How far a request's timestamp may be from the host's clock.
pub const MAX_SKEW_SECS: u64 = 5 * 60;

/// A header's value; names are compared without regard to case.
pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
}

/// The signed base string `v0:TIMESTAMP:BODY`.
pub fn base_string(timestamp: &str, body: &[u8]) -> Vec<u8> {
    let mut base = format!("v0:{timestamp}:").into_bytes();
    base.extend_from_slice(body);
    base
}

/// Whether the timestamp (Unix seconds, as text) is within
/// [`MAX_SKEW_SECS`] of `now_ms`, in either direction.
pub fn fresh(timestamp: &str, now_ms: u64) -> bool {
    let Ok(ts) = timestamp.parse::<u64>() else {
        return false;
    };
    (now_ms / 1000).abs_diff(ts) <= MAX_SKEW_SECS
}

/// Whether the request is Slack's: `Ok`, else why not (for the log; the
/// response is 401 either way). `verify(base, hex)` says whether `hex` is
/// the HMAC of `base` under the signing secret.
pub fn check(
    headers: &[(String, String)],
    body: &[u8],
    now_ms: u64,
    verify: impl Fn(&[u8], &str) -> bool,
) -> Result<(), &'static str> {
    let timestamp = header(headers, TIMESTAMP_HEADER).ok_or("no X-Slack-Request-Timestamp")?;
    let signature = header(headers, SIGNATURE_HEADER).ok_or("no X-Slack-Signature")?;
    if !fresh(timestamp, now_ms) {
        return Err("the timestamp is more than 5 minutes away (a replay?)");
    }
    let hex = signature
        .strip_prefix("v0=")
        .ok_or("the signature is not a v0 signature")?;
    if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("the signature is not hex");
    }
    if !verify(&base_string(timestamp, body), hex) {
        return Err("the signature does not match the signing secret");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// A stand-in for the host: accepts the MAC "abc123" of exactly the
    /// expected base string.
    fn host(base: &[u8], hex: &str) -> bool {
        base == b"v0:1531420618:token=x&team_id=T1" && hex == "abc123"
    }

    const NOW: u64 = 1_531_420_618_000;

    #[test]
    fn the_base_string_is_v0_timestamp_body() {
        assert_eq!(base_string("1531420618", b"a=b"), b"v0:1531420618:a=b");
    }

    #[test]
    fn a_signed_fresh_request_passes() {
        let h = headers(&[
            ("X-Slack-Request-Timestamp", "1531420618"),
            ("X-Slack-Signature", "v0=abc123"),
        ]);
        assert_eq!(check(&h, b"token=x&team_id=T1", NOW, host), Ok(()));
        assert_eq!(
            check(&h, b"token=x&team_id=T1", NOW + 299_000, host),
            Ok(())
        );
    }

    #[test]
    fn wrong_missing_or_stale_signatures_are_refused() {
        let good = [
            ("x-slack-request-timestamp", "1531420618"),
            ("x-slack-signature", "v0=abc123"),
        ];
        let body = b"token=x&team_id=T1";
        assert!(check(&headers(&good), b"token=y&team_id=T1", NOW, host).is_err());
        assert!(check(&headers(&good[..1]), body, NOW, host).is_err());
        assert!(check(&headers(&good[1..]), body, NOW, host).is_err());
        assert!(check(&headers(&good), body, NOW + 301_000, host).is_err());
        assert!(check(&headers(&good), body, NOW - 301_000, host).is_err());
        for sig in ["abc123", "v1=abc123", "v0=", "v0=xyz"] {
            let h = headers(&[good[0], ("x-slack-signature", sig)]);
            assert!(check(&h, body, NOW, |_, _| true).is_err(), "{sig}");
        }
        let h = headers(&[("x-slack-request-timestamp", "soon"), good[1]]);
        assert!(check(&h, body, NOW, |_, _| true).is_err());
    }
}
