//! What can go wrong while signing in or refreshing. Every message names
//! the provider and the endpoint or step, and never a token: a server's
//! body is quoted only through its OAuth `error` code and description,
//! which carry no credentials.

use std::fmt;

/// A sign-in or refresh failure.
#[derive(Debug)]
pub enum AuthError {
    /// The stored grant is no longer accepted (expired or revoked refresh
    /// token, revoked GitHub authorisation): only a new sign-in helps.
    SignInAgain { provider: String },
    /// The provider answered with an error status.
    Refused {
        provider: String,
        endpoint: String,
        status: u16,
        /// The OAuth `error` code, or a short reason.
        error: String,
        description: Option<String>,
    },
    /// The request did not get an answer (connection, TLS, timeout).
    Transport { endpoint: String, reason: String },
    /// The answer was not what the protocol promises (missing field,
    /// not JSON, too large).
    Malformed { endpoint: String, reason: String },
    /// A step the person takes went wrong: wrong `state`, denied consent,
    /// the wait ran out, a pasted value that is not a code.
    Flow { provider: String, reason: String },
    /// The provider has nothing to refresh or no such flow.
    Unsupported { provider: String, what: String },
}

impl AuthError {
    /// The command that signs in to `provider` again.
    pub fn login_command(provider: &str) -> String {
        format!("openpista auth login --provider {provider}")
    }

    pub(crate) fn flow(provider: &str, reason: impl Into<String>) -> Self {
        AuthError::Flow {
            provider: provider.to_string(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthError::SignInAgain { provider } => write!(
                f,
                "the sign-in to {provider} has expired or was revoked; sign in again with `{}`",
                AuthError::login_command(provider)
            ),
            AuthError::Refused {
                provider,
                endpoint,
                status,
                error,
                description,
            } => {
                write!(f, "{provider}: {endpoint} answered {status} ({error})")?;
                if let Some(d) = description {
                    write!(f, ": {d}")?;
                }
                Ok(())
            }
            AuthError::Transport { endpoint, reason } => {
                write!(f, "could not reach {endpoint}: {reason}")
            }
            AuthError::Malformed { endpoint, reason } => {
                write!(f, "unexpected answer from {endpoint}: {reason}")
            }
            AuthError::Flow { provider, reason } => write!(f, "{provider} sign-in: {reason}"),
            AuthError::Unsupported { provider, what } => write!(f, "{provider}: {what}"),
        }
    }
}

impl std::error::Error for AuthError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_in_again_names_the_exact_command() {
        let e = AuthError::SignInAgain {
            provider: "anthropic".into(),
        };
        assert!(
            e.to_string()
                .contains("`openpista auth login --provider anthropic`"),
            "{e}"
        );
    }

    #[test]
    fn refusal_shows_status_code_and_description() {
        let e = AuthError::Refused {
            provider: "openai".into(),
            endpoint: "https://auth.example/oauth/token".into(),
            status: 400,
            error: "invalid_request".into(),
            description: Some("code_verifier does not match".into()),
        };
        let s = e.to_string();
        assert!(s.contains("400") && s.contains("invalid_request") && s.contains("code_verifier"));
    }
}
