//! The error every openpista call returns.
//!
//! These three types are the WIT `error`, `upstream-error` and `rate-limit`
//! of `openpista:plugin/types`. They are written by hand (and handed to
//! `wit-bindgen` through its `with:` option) rather than generated, so that
//! they can carry a human-readable [`Display`](std::fmt::Display) instead of
//! the generated `Debug` dump: the host shows these messages to operators
//! and, for tool errors, to the model.

use std::fmt;

/// Details of an HTTP service that answered with an error (WIT
/// `upstream-error`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpstreamError {
    /// HTTP status, when there was a response at all.
    pub status: Option<u16>,
    /// What went wrong, for the operator to read.
    pub message: String,
}

/// A service asked us to slow down (WIT `rate-limit`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// How long the service asked us to wait, when it said.
    pub retry_after_ms: Option<u64>,
    /// What the service said.
    pub message: String,
}

/// Why a call failed (WIT `error`). Every case carries a message written for
/// a person; build them with the constructors ([`Error::invalid_input`],
/// [`Error::not_found`]...) and say what was wrong and, when it helps, what
/// to do about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// A capability the component was not granted was needed: an outbound
    /// host, a secret, a path.
    Denied(String),
    /// The arguments or the input were malformed.
    InvalidInput(String),
    /// The named thing (a tool, a model, a key) does not exist.
    NotFound(String),
    /// A remote service failed.
    Upstream(UpstreamError),
    /// A remote service rate-limited the call.
    RateLimited(RateLimit),
    /// The call ran out of time.
    Timeout(String),
    /// The component is not configured for this (a missing key, say).
    Unavailable(String),
    /// Anything else.
    Internal(String),
}

impl Error {
    /// A capability was missing (`Error::Denied`).
    pub fn denied(message: impl Into<String>) -> Self {
        Error::Denied(message.into())
    }

    /// The arguments or input were malformed (`Error::InvalidInput`).
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Error::InvalidInput(message.into())
    }

    /// The named thing does not exist (`Error::NotFound`).
    pub fn not_found(message: impl Into<String>) -> Self {
        Error::NotFound(message.into())
    }

    /// A call named a tool `component` does not have; the message lists
    /// the `known` ones, so the model can pick again.
    pub fn unknown_tool(component: &str, name: &str, known: &[String]) -> Self {
        Error::NotFound(format!(
            "{component} has no tool `{name}` (it has: {})",
            known.join(", ")
        ))
    }

    /// A remote service failed, with its HTTP status when it answered.
    pub fn upstream(status: Option<u16>, message: impl Into<String>) -> Self {
        Error::Upstream(UpstreamError {
            status,
            message: message.into(),
        })
    }

    /// A remote service rate-limited the call, asking to wait
    /// `retry_after_ms` when it said how long.
    pub fn rate_limited(retry_after_ms: Option<u64>, message: impl Into<String>) -> Self {
        Error::RateLimited(RateLimit {
            retry_after_ms,
            message: message.into(),
        })
    }

    /// The call ran out of time (`Error::Timeout`).
    pub fn timeout(message: impl Into<String>) -> Self {
        Error::Timeout(message.into())
    }

    /// The component is not configured for this (`Error::Unavailable`).
    pub fn unavailable(message: impl Into<String>) -> Self {
        Error::Unavailable(message.into())
    }

    /// Anything else (`Error::Internal`).
    pub fn internal(message: impl Into<String>) -> Self {
        Error::Internal(message.into())
    }

    /// The WIT case name (`denied`, `invalid-input`...), for logs and
    /// matching on the kind without the message.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Denied(_) => "denied",
            Error::InvalidInput(_) => "invalid-input",
            Error::NotFound(_) => "not-found",
            Error::Upstream(_) => "upstream",
            Error::RateLimited(_) => "rate-limited",
            Error::Timeout(_) => "timeout",
            Error::Unavailable(_) => "unavailable",
            Error::Internal(_) => "internal",
        }
    }

    /// The message alone, without the kind prefix that `Display` adds.
    pub fn message(&self) -> &str {
        match self {
            Error::Denied(m)
            | Error::InvalidInput(m)
            | Error::NotFound(m)
            | Error::Timeout(m)
            | Error::Unavailable(m)
            | Error::Internal(m) => m,
            Error::Upstream(u) => &u.message,
            Error::RateLimited(r) => &r.message,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Denied(m) => write!(f, "denied: {m}"),
            Error::InvalidInput(m) => write!(f, "invalid input: {m}"),
            Error::NotFound(m) => write!(f, "not found: {m}"),
            Error::Upstream(UpstreamError {
                status: Some(status),
                message,
            }) => write!(f, "upstream error (HTTP {status}): {message}"),
            Error::Upstream(UpstreamError {
                status: None,
                message,
            }) => write!(f, "upstream error: {message}"),
            Error::RateLimited(RateLimit {
                retry_after_ms: Some(ms),
                message,
            }) => write!(f, "rate limited (retry after {ms} ms): {message}"),
            Error::RateLimited(RateLimit {
                retry_after_ms: None,
                message,
            }) => write!(f, "rate limited: {message}"),
            Error::Timeout(m) => write!(f, "timed out: {m}"),
            Error::Unavailable(m) => write!(f, "unavailable: {m}"),
            Error::Internal(m) => write!(f, "internal error: {m}"),
        }
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_the_kind_and_keeps_the_message() {
        assert_eq!(
            Error::invalid_input("`path` is empty").to_string(),
            "invalid input: `path` is empty"
        );
        assert_eq!(
            Error::not_found("no tool `x.y`").to_string(),
            "not found: no tool `x.y`"
        );
        assert_eq!(
            Error::denied("host example.com").to_string(),
            "denied: host example.com"
        );
        assert_eq!(
            Error::upstream(Some(502), "bad gateway").to_string(),
            "upstream error (HTTP 502): bad gateway"
        );
        assert_eq!(
            Error::upstream(None, "connection refused").to_string(),
            "upstream error: connection refused"
        );
        assert_eq!(
            Error::rate_limited(Some(1500), "slow down").to_string(),
            "rate limited (retry after 1500 ms): slow down"
        );
        assert_eq!(
            Error::rate_limited(None, "slow down").to_string(),
            "rate limited: slow down"
        );
        assert_eq!(Error::timeout("30 s").to_string(), "timed out: 30 s");
        assert_eq!(
            Error::unavailable("no api key").to_string(),
            "unavailable: no api key"
        );
        assert_eq!(Error::internal("oops").to_string(), "internal error: oops");
    }

    #[test]
    fn kind_and_message_split_the_display() {
        let e = Error::upstream(Some(500), "boom");
        assert_eq!(e.kind(), "upstream");
        assert_eq!(e.message(), "boom");
        let e = Error::rate_limited(None, "later");
        assert_eq!(e.kind(), "rate-limited");
        assert_eq!(e.message(), "later");
    }

    #[test]
    fn is_a_std_error() {
        fn takes(_: &dyn std::error::Error) {}
        takes(&Error::internal("x"));
    }
}
