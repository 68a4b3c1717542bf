//! Signing in to language-model providers: the OAuth flows of OpenAI,
//! Anthropic, OpenRouter and GitHub Copilot, API keys for every provider,
//! the credential store they write (`~/.openpista/credentials.toml`) and
//! the refresh of tokens that expire.
//!
//! - [`settings`]: `[auth.PROVIDER]`, every endpoint configurable
//! - [`store`]: the credentials file: 0600, atomic writes, no token in Debug
//! - [`refresh`]: a new access token from the stored refresh token
//! - [`source`]: a stored credential as a secret the host obtains at send
//!   time, refreshed once however many requests need it
//! - [`login`]: the person's side of signing in, and the flow per provider
//! - [`openai`], [`anthropic`], [`openrouter`], [`copilot`]: the flows
//! - [`loopback`]: the one-shot redirect listener
//! - [`pkce`]: code verifier, S256 challenge and `state`
//! - [`http`]: the host's small client for token endpoints
//! - [`error`]: [`AuthError`], whose messages never carry a token
//!
//! Tokens stay in the host: components see only `{{secret:NAME}}`
//! placeholders, which the host fills on the way out.

pub mod anthropic;
pub mod copilot;
pub mod error;
pub mod http;
pub mod jwt;
pub mod login;
pub mod loopback;
pub mod openai;
pub mod openrouter;
pub mod pkce;
pub mod refresh;
pub mod settings;
pub mod source;
pub mod store;
mod token;

pub use error::AuthError;
pub use refresh::refresh;
pub use settings::AuthSettings;
pub use store::{Credential, CredentialStore, Method};

/// Seconds since the Unix epoch, now.
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
