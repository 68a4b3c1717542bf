//! Stored credentials as secrets: a signed-in provider's token reaches its
//! requests through the host's `{{secret:…}}` substitution, obtained at
//! send time and refreshed [`EXPIRING_WITHIN_SECS`] before it expires.
//!
//! One [`SignIn`] per provider serves every request that uses its
//! credential (several aliases, and the token and the account of one
//! alias, share it). Its lock is held across the refresh, so when many
//! turns need the token at the same moment exactly one refresh request
//! goes out and the others wait for its result (single flight): refresh
//! tokens rotate, so a second refresh with the old one would fail. Before
//! refreshing it reads the file again: another openpista process may have
//! refreshed already.

use super::store::EXPIRING_WITHIN_SECS;
use super::{AuthError, AuthSettings, Credential, CredentialStore, now_unix};
use crate::runtime::secrets::SecretSource;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// Which value of the credential a secret stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// The bearer token (or the stored API key).
    Token,
    /// The API key an OpenAI sign-in exchanged its id_token for (API
    /// billing), else the token.
    ApiKey,
    /// The account (ChatGPT's `chatgpt-account-id`).
    Account,
}

/// One provider's stored credential, read once and refreshed when due.
pub struct SignIn {
    provider: String,
    store: CredentialStore,
    settings: Arc<AuthSettings>,
    /// The credential last read or refreshed; the lock is the single
    /// flight.
    current: tokio::sync::Mutex<Option<Credential>>,
}

/// One value of a [`SignIn`], as a secret.
pub struct CredentialSource {
    sign_in: Arc<SignIn>,
    field: Field,
    label: String,
}

impl SignIn {
    pub fn new(provider: &str, store: CredentialStore, settings: Arc<AuthSettings>) -> Arc<Self> {
        Arc::new(SignIn {
            provider: provider.to_string(),
            store,
            settings,
            current: tokio::sync::Mutex::new(None),
        })
    }

    /// `field` of this sign-in as a secret source.
    pub fn source(self: &Arc<Self>, field: Field) -> Arc<CredentialSource> {
        Arc::new(CredentialSource {
            sign_in: self.clone(),
            field,
            label: format!("credentials/{}", self.provider),
        })
    }

    /// Whether `c` can be used without refreshing.
    fn usable(c: &Credential, now: i64) -> bool {
        c.expires_at
            .is_none_or(|at| at - now > EXPIRING_WITHIN_SECS)
    }

    fn value(&self, c: &Credential, field: Field) -> Result<String, String> {
        match field {
            Field::Token => Ok(c.access_token.clone()),
            Field::ApiKey => Ok(c
                .extra
                .get("api_key")
                .cloned()
                .unwrap_or_else(|| c.access_token.clone())),
            Field::Account => c.account_id.clone().ok_or_else(|| {
                format!(
                    "the {} sign-in has no account id; sign in again with `{}`",
                    self.provider,
                    AuthError::login_command(&self.provider)
                )
            }),
        }
    }

    /// `field` of the credential to use now, refreshed first if it is
    /// about to expire. `Err` says what the person can do, without a value.
    pub async fn obtain(&self, field: Field) -> Result<String, String> {
        let mut current = self.current.lock().await;
        let now = now_unix();
        if let Some(c) = current.as_ref().filter(|c| Self::usable(c, now)) {
            return self.value(c, field);
        }
        let not_signed_in = || {
            format!(
                "not signed in to {}: run `{}`",
                self.provider,
                AuthError::login_command(&self.provider)
            )
        };
        let stored = self
            .store
            .get(&self.provider)
            .map_err(|e| format!("{e:#}"))?
            .ok_or_else(not_signed_in)?;
        if Self::usable(&stored, now) {
            let value = self.value(&stored, field);
            *current = Some(stored);
            return value;
        }
        match super::refresh(&self.settings, &self.provider, &stored).await {
            Ok(fresh) => {
                if let Err(e) = self.store.put(&self.provider, &fresh) {
                    // The new token works for this process even if the
                    // file could not take it; the next start refreshes.
                    tracing::warn!(
                        "could not store the refreshed {} sign-in: {e:#}",
                        self.provider
                    );
                }
                tracing::info!(provider = %self.provider, "refreshed the sign-in");
                let value = self.value(&fresh, field);
                *current = Some(fresh);
                value
            }
            Err(e @ AuthError::SignInAgain { .. }) => Err(e.to_string()),
            Err(e) if stored.expires_at.is_some_and(|at| at > now) => {
                // Still valid for a few minutes: use it, try again later.
                tracing::warn!(
                    "refreshing the {} sign-in failed, using the current token: {e}",
                    self.provider
                );
                self.value(&stored, field)
            }
            Err(e) => Err(format!(
                "the {} sign-in has expired and refreshing it failed: {e}",
                self.provider
            )),
        }
    }
}

impl SecretSource for CredentialSource {
    fn label(&self) -> &str {
        &self.label
    }

    fn current(&self) -> Pin<Box<dyn Future<Output = Result<String, String>> + Send + '_>> {
        Box::pin(self.sign_in.obtain(self.field))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Method;

    /// Settings whose Anthropic token endpoint refuses connections.
    fn unreachable() -> Arc<AuthSettings> {
        let mut s = AuthSettings::default();
        s.anthropic.token_url = "http://127.0.0.1:1/v1/oauth/token".into();
        Arc::new(s)
    }

    fn signed_in(expires_at: i64) -> Credential {
        Credential {
            method: Method::OAuth,
            access_token: "at-stored-0001".into(),
            refresh_token: Some("rt-stored-0001".into()),
            expires_at: Some(expires_at),
            account_id: Some("acct-1".into()),
            email: None,
            extra: Default::default(),
        }
    }

    fn sign_in(dir: &tempfile::TempDir, stored: Option<Credential>) -> Arc<SignIn> {
        let store = CredentialStore::open(dir.path().join("credentials.toml"));
        if let Some(c) = stored {
            store.put("anthropic", &c).unwrap();
        }
        SignIn::new("anthropic", store, unreachable())
    }

    #[tokio::test]
    async fn a_token_far_from_expiry_is_used_without_a_refresh() {
        let dir = tempfile::tempdir().unwrap();
        let s = sign_in(&dir, Some(signed_in(now_unix() + 3600)));
        assert_eq!(s.obtain(Field::Token).await.unwrap(), "at-stored-0001");
        assert_eq!(s.obtain(Field::Account).await.unwrap(), "acct-1");
        // ApiKey falls back to the token when no key was exchanged.
        assert_eq!(s.obtain(Field::ApiKey).await.unwrap(), "at-stored-0001");
    }

    #[tokio::test]
    async fn a_failed_refresh_keeps_a_token_that_still_works_and_refuses_an_expired_one() {
        let dir = tempfile::tempdir().unwrap();
        let s = sign_in(&dir, Some(signed_in(now_unix() + 120)));
        assert_eq!(s.obtain(Field::Token).await.unwrap(), "at-stored-0001");
        let dir = tempfile::tempdir().unwrap();
        let s = sign_in(&dir, Some(signed_in(now_unix() - 1)));
        let e = s.obtain(Field::Token).await.unwrap_err();
        assert!(e.contains("has expired and refreshing it failed"), "{e}");
        assert!(!e.contains("at-stored") && !e.contains("rt-stored"), "{e}");
    }

    #[tokio::test]
    async fn no_sign_in_names_the_command() {
        let dir = tempfile::tempdir().unwrap();
        let e = sign_in(&dir, None).obtain(Field::Token).await.unwrap_err();
        assert!(
            e.contains("openpista auth login --provider anthropic"),
            "{e}"
        );
        let mut c = signed_in(now_unix() + 3600);
        c.account_id = None;
        let dir = tempfile::tempdir().unwrap();
        let e = sign_in(&dir, Some(c))
            .obtain(Field::Account)
            .await
            .unwrap_err();
        assert!(e.contains("no account id"), "{e}");
    }
}
