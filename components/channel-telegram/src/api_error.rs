//! What can go wrong with a Bot API call, and how that becomes the SDK's
//! [`Error`].
//!
//! Messages name the method, never a URL: URLs hold the token's
//! placeholder, and the component never has the value anyway.

use std::fmt;

use openpista_sdk::Error;

/// A failed Bot API call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApiError {
    /// No usable answer: the connection failed or timed out (after the
    /// retries), or the host refused the request.
    Transport { method: String, error: Error },
    /// Telegram answered `ok: false` (or a non-2xx status).
    Refused {
        method: String,
        /// `error_code`, else the HTTP status.
        code: u16,
        description: String,
        /// `parameters.retry_after` (or the `retry-after` header), for 429.
        retry_after_secs: Option<u64>,
    },
    /// `409 Conflict`: another consumer of updates (a webhook, or a
    /// second poller) holds the bot.
    Conflict { method: String, description: String },
    /// The answer is not the JSON the Bot API sends.
    Malformed { method: String, detail: String },
}

impl ApiError {
    /// The Bot API method that failed.
    pub fn method(&self) -> &str {
        match self {
            ApiError::Transport { method, .. }
            | ApiError::Refused { method, .. }
            | ApiError::Conflict { method, .. }
            | ApiError::Malformed { method, .. } => method,
        }
    }

    /// Whether Telegram refused with this code.
    pub fn is_code(&self, wanted: u16) -> bool {
        matches!(self, ApiError::Refused { code, .. } if *code == wanted)
    }

    /// Whether this is a 400 saying the MarkdownV2 could not be parsed.
    pub fn is_parse_error(&self) -> bool {
        matches!(self, ApiError::Refused { code: 400, description, .. }
            if description.to_ascii_lowercase().contains("can't parse entities"))
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::Transport { method, error } => write!(f, "telegram: {method}: {error}"),
            ApiError::Refused {
                method,
                code,
                description,
                ..
            } => write!(f, "telegram: {method} failed ({code}): {description}"),
            ApiError::Conflict {
                method,
                description,
            } => write!(f, "telegram: {method}: conflict (409): {description}"),
            ApiError::Malformed { method, detail } => {
                write!(f, "telegram: {method}: unexpected answer: {detail}")
            }
        }
    }
}

impl From<ApiError> for Error {
    fn from(e: ApiError) -> Error {
        let message = e.to_string();
        match e {
            ApiError::Transport { error, .. } => match error {
                Error::Timeout(_) => Error::timeout(message),
                Error::Denied(_) => Error::denied(message),
                Error::Upstream(u) => Error::upstream(u.status, message),
                _ => Error::upstream(None, message),
            },
            ApiError::Refused { code: 401, .. } | ApiError::Refused { code: 404, .. } => {
                Error::unavailable(format!(
                    "{message}; check the secret telegram_bot_token (and api_url, if set)"
                ))
            }
            ApiError::Refused { code: 400, .. } => Error::invalid_input(message),
            ApiError::Refused {
                code: 429,
                retry_after_secs,
                ..
            } => Error::rate_limited(retry_after_secs.map(|s| s.saturating_mul(1000)), message),
            ApiError::Refused { code, .. } => Error::upstream(Some(code), message),
            ApiError::Conflict { .. } => Error::upstream(Some(409), message),
            ApiError::Malformed { .. } => Error::upstream(None, message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(code: u16, description: &str) -> ApiError {
        ApiError::Refused {
            method: "sendMessage".into(),
            code,
            description: description.into(),
            retry_after_secs: None,
        }
    }

    #[test]
    fn kinds_map_to_sdk_errors() {
        assert_eq!(
            Error::from(refused(401, "Unauthorized")).kind(),
            "unavailable"
        );
        assert_eq!(Error::from(refused(404, "Not Found")).kind(), "unavailable");
        assert_eq!(
            Error::from(refused(400, "Bad Request: x")).kind(),
            "invalid-input"
        );
        assert_eq!(
            Error::from(refused(403, "Forbidden")),
            Error::upstream(Some(403), "telegram: sendMessage failed (403): Forbidden")
        );
        let limited = ApiError::Refused {
            method: "sendMessage".into(),
            code: 429,
            description: "Too Many Requests".into(),
            retry_after_secs: Some(3),
        };
        assert!(
            matches!(Error::from(limited), Error::RateLimited(r) if r.retry_after_ms == Some(3000))
        );
        let conflict = ApiError::Conflict {
            method: "getUpdates".into(),
            description: "terminated by other getUpdates".into(),
        };
        assert!(matches!(Error::from(conflict), Error::Upstream(u) if u.status == Some(409)));
        let slow = ApiError::Transport {
            method: "getMe".into(),
            error: Error::timeout("api.telegram.org did not answer in time"),
        };
        assert_eq!(Error::from(slow).kind(), "timeout");
    }

    #[test]
    fn messages_name_the_method_and_the_fix() {
        let e = Error::from(refused(401, "Unauthorized"));
        assert!(e.message().contains("sendMessage") && e.message().contains("telegram_bot_token"));
        let e = ApiError::Malformed {
            method: "getMe".into(),
            detail: "not JSON".into(),
        };
        assert_eq!(
            e.to_string(),
            "telegram: getMe: unexpected answer: not JSON"
        );
        assert_eq!(e.method(), "getMe");
    }

    #[test]
    fn parse_errors_are_recognised() {
        assert!(
            refused(
                400,
                "Bad Request: can't parse entities: Character '.' is reserved"
            )
            .is_parse_error()
        );
        assert!(!refused(400, "Bad Request: chat not found").is_parse_error());
        assert!(!refused(403, "can't parse entities").is_parse_error());
        assert!(refused(403, "x").is_code(403) && !refused(403, "x").is_code(400));
    }
}
