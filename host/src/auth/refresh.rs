//! Refreshing a stored credential: the provider's own refresh request.
//! The caller (the host's secret substitution) decides when, stores the
//! result and makes sure one refresh runs at a time per provider; this
//! module only performs it.

use super::settings::{Flow, provider as find_provider};
use super::{AuthError, AuthSettings, Credential, Method};

/// A fresh credential for `provider` from `c`. API keys and OpenRouter's
/// keys do not expire and come back unchanged. An expired or revoked
/// refresh token is [`AuthError::SignInAgain`], whose message names the
/// command to run.
pub async fn refresh(
    settings: &AuthSettings,
    provider: &str,
    c: &Credential,
) -> Result<Credential, AuthError> {
    if c.method == Method::ApiKey {
        return Ok(c.clone());
    }
    let flow = find_provider(provider)
        .map_err(|what| AuthError::Unsupported {
            provider: provider.to_string(),
            what,
        })?
        .flow;
    match flow {
        Flow::OpenAi => super::openai::refresh(&settings.openai, c).await,
        Flow::Anthropic => super::anthropic::refresh(&settings.anthropic, c).await,
        Flow::Copilot => super::copilot::refresh(&settings.copilot, c).await,
        Flow::OpenRouter | Flow::KeyOnly => Ok(c.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn api_keys_come_back_unchanged_without_a_request() {
        // Endpoints nobody listens on: a request would fail.
        let mut s = AuthSettings::default();
        s.openai.token_url = "http://127.0.0.1:1/none".into();
        let key = Credential::api_key("k".into());
        assert_eq!(refresh(&s, "openai", &key).await.unwrap(), key);
    }

    #[tokio::test]
    async fn oauth_without_a_refresh_token_asks_to_sign_in_again() {
        let mut c = Credential::api_key("t".into());
        c.method = Method::OAuth;
        for p in ["openai", "anthropic", "copilot"] {
            let e = refresh(&AuthSettings::default(), p, &c).await.unwrap_err();
            assert!(
                e.to_string()
                    .contains(&format!("openpista auth login --provider {p}")),
                "{e}"
            );
        }
        let e = refresh(&AuthSettings::default(), "nope", &c)
            .await
            .unwrap_err();
        assert!(matches!(e, AuthError::Unsupported { .. }), "{e}");
    }
}
