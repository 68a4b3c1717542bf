//! Secrets: values the operator holds (environment or config) that
//! components may place into outbound requests as `{{secret:NAME}}`
//! placeholders. The host substitutes them on the way out, only for the
//! component's granted hosts; the values never enter guest memory, and
//! everything the host logs or returns about a component is passed through
//! [`SecretStore::redact`].
//!
//! A secret is either a fixed value or a [`SecretSource`]: a value the host
//! obtains when a request needs it (a signed-in provider's access token,
//! refreshed before it expires). A source is asked at send time, after the
//! host check passed ([`SecretGrant::fresh`]), and every value it gives is
//! remembered for redaction.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};

/// A secret whose value the host obtains when a request needs it.
pub trait SecretSource: Send + Sync {
    /// Names the source in the redaction marker (`[redacted:LABEL]`) and in
    /// logs: `credentials/openai`, say. Never a value.
    fn label(&self) -> &str;

    /// The value to send now. `Err` is a message for the person, saying
    /// what to do (for a lapsed sign-in, the command that signs in again);
    /// it never contains a value.
    fn current(&self) -> Pin<Box<dyn Future<Output = Result<String, String>> + Send + '_>>;
}

type Sources = BTreeMap<String, Arc<dyn SecretSource>>;

/// All secrets the operator configured, by name.
#[derive(Default, Clone)]
pub struct SecretStore {
    values: Arc<RwLock<BTreeMap<String, String>>>,
    from_env: bool,
    /// Sources by secret name; a component's own are named
    /// `COMPONENT/NAME` and stand for `NAME` in its view.
    sources: Sources,
    /// Values sources gave, by label: shared by every view of the store,
    /// so a token refreshed for one component is redacted everywhere.
    obtained: Arc<RwLock<BTreeMap<String, String>>>,
}

impl std::fmt::Debug for SecretStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Names only: a Debug print must never show a value.
        f.debug_set()
            .entries(self.values.read().unwrap().keys())
            .entries(self.sources.keys())
            .finish()
    }
}

impl SecretStore {
    /// A store with exactly these values.
    pub fn new(values: BTreeMap<String, String>) -> Self {
        SecretStore {
            values: Arc::new(RwLock::new(values)),
            from_env: false,
            sources: Sources::new(),
            obtained: Arc::default(),
        }
    }

    /// Makes `name` a secret obtained from `source` when a request needs
    /// it. `COMPONENT/NAME` gives one component its own `NAME` (a
    /// provider alias's `api_key`); a fixed local value from
    /// `[components.COMPONENT] secret_env` still takes precedence.
    pub fn with_source(mut self, name: &str, source: Arc<dyn SecretSource>) -> Self {
        self.sources.insert(name.to_string(), source);
        self
    }

    /// Also looks secrets up in the environment when asked for one it lacks:
    /// `OPENPISTA_SECRET_NAME`, then `NAME`, upper-cased.
    pub fn with_env_fallback(mut self) -> Self {
        self.from_env = true;
        self
    }

    fn lookup(&self, name: &str) -> Option<String> {
        if let Some(v) = self.values.read().unwrap().get(name) {
            return Some(v.clone());
        }
        if !self.from_env {
            return None;
        }
        let upper = name.to_ascii_uppercase().replace(['-', '.'], "_");
        let value = std::env::var(format!("OPENPISTA_SECRET_{upper}"))
            .or_else(|_| std::env::var(&upper))
            .ok()
            .filter(|v| !v.is_empty())?;
        self.values
            .write()
            .unwrap()
            .insert(name.to_string(), value.clone());
        Some(value)
    }

    /// A view for one component: `local` (secret name → environment
    /// variable) take precedence, then the component's own sources
    /// (`component/NAME`), then the shared secrets. Local values join the
    /// shared store under `component/NAME`, so redaction everywhere knows
    /// them.
    pub fn with_local(&self, component: &str, local: &BTreeMap<String, String>) -> SecretStore {
        let prefix = format!("{component}/");
        let own: Vec<(String, Arc<dyn SecretSource>)> = self
            .sources
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix(&prefix)?.to_string(), v.clone())))
            .collect();
        if local.is_empty() && own.is_empty() {
            return self.clone();
        }
        let mut values = self.values.read().unwrap().clone();
        let mut sources = self.sources.clone();
        for (name, source) in own {
            values.remove(&name);
            sources.insert(name, source);
        }
        for (name, var) in local {
            match std::env::var(var) {
                Ok(v) if !v.is_empty() => {
                    self.values
                        .write()
                        .unwrap()
                        .insert(format!("{component}/{name}"), v.clone());
                    sources.remove(name);
                    values.insert(name.clone(), v);
                }
                _ => tracing::warn!(
                    component,
                    "secret {name:?}: environment variable {var} is not set"
                ),
            }
        }
        SecretStore {
            values: Arc::new(RwLock::new(values)),
            from_env: self.from_env,
            sources,
            obtained: self.obtained.clone(),
        }
    }

    /// Adds or replaces a secret (one the host made itself, such as the
    /// web channel's token). Components granted it see it from their next
    /// load on.
    pub fn insert(&self, name: &str, value: String) {
        self.values.write().unwrap().insert(name.to_string(), value);
    }

    /// Whether a secret of that name has a value or a source.
    pub fn contains(&self, name: &str) -> bool {
        self.sources.contains_key(name) || self.lookup(name).is_some()
    }

    /// The secrets among `names` that have values or sources: what one
    /// component may use.
    pub fn grant(&self, names: &[String]) -> SecretGrant {
        let sources: Sources = names
            .iter()
            .filter_map(|n| Some((n.clone(), self.sources.get(n)?.clone())))
            .collect();
        SecretGrant {
            values: names
                .iter()
                .filter(|n| !sources.contains_key(*n))
                .filter_map(|n| self.lookup(n).map(|v| (n.clone(), v)))
                .collect(),
            sources,
            store: self.clone(),
        }
    }

    /// `text` with every configured secret value replaced by `[redacted:NAME]`.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(text);
        for map in [&self.values, &self.obtained] {
            for (name, value) in map.read().unwrap().iter() {
                // Very short values would redact ordinary words; they are
                // still substituted but cannot be told apart from text.
                if value.len() >= 4 && out.contains(value.as_str()) {
                    out = Cow::Owned(out.replace(value.as_str(), &format!("[redacted:{name}]")));
                }
            }
        }
        out
    }
}

/// Log lines pass through the store too (registered by the wiring), JSON
/// lines included: a value with characters JSON escapes is also looked
/// for in its escaped form.
impl crate::telemetry::logs::Redact for SecretStore {
    fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = SecretStore::redact(self, text);
        for map in [&self.values, &self.obtained] {
            for (name, value) in map.read().unwrap().iter() {
                let escaped = serde_json::to_string(value).unwrap_or_default();
                let escaped = &escaped[1..escaped.len().saturating_sub(1).max(1)];
                if escaped != value && escaped.len() >= 4 && out.contains(escaped) {
                    out = Cow::Owned(out.replace(escaped, &format!("[redacted:{name}]")));
                }
            }
        }
        out
    }
}

/// The secrets one component may use, with the whole store for redaction.
#[derive(Clone, Default)]
pub struct SecretGrant {
    values: BTreeMap<String, String>,
    /// Granted secrets obtained at send time: see [`SecretGrant::fresh`].
    sources: Sources,
    store: SecretStore,
}

impl SecretGrant {
    /// This grant with every source's current value filled in, for one
    /// request: call it after the host check and before [`Self::substitute`].
    /// The values join the redaction set. `Err` is the first source's
    /// message for the person (no value in it).
    pub async fn fresh(&self) -> Result<Cow<'_, SecretGrant>, String> {
        if self.sources.is_empty() {
            return Ok(Cow::Borrowed(self));
        }
        let mut values = self.values.clone();
        for (name, source) in &self.sources {
            let value = source.current().await?;
            self.store
                .obtained
                .write()
                .unwrap()
                .insert(source.label().to_string(), value.clone());
            values.insert(name.clone(), value);
        }
        Ok(Cow::Owned(SecretGrant {
            values,
            sources: Sources::new(),
            store: self.store.clone(),
        }))
    }

    /// Redacts every configured secret, granted or not.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        self.store.redact(text)
    }

    /// Replaces `{{secret:NAME}}` (also percent-encoded, as it must be inside
    /// a URL path) with the secret's value. `Err(NAME)` names the first
    /// placeholder whose secret is not granted.
    pub fn substitute<'a>(&self, text: &'a str) -> Result<Cow<'a, str>, String> {
        let mut out = Cow::Borrowed(text);
        for (open, close) in [("{{secret:", "}}"), ("%7B%7Bsecret:", "%7D%7D")] {
            while let Some(start) = find_ignore_ascii_case(&out, open) {
                let name_start = start + open.len();
                let Some(len) = find_ignore_ascii_case(&out[name_start..], close) else {
                    break;
                };
                let name = &out[name_start..name_start + len];
                let Some(value) = self.values.get(name) else {
                    return Err(name.to_string());
                };
                let mut replaced = String::with_capacity(out.len() + value.len());
                replaced.push_str(&out[..start]);
                replaced.push_str(value);
                replaced.push_str(&out[name_start + len + close.len()..]);
                out = Cow::Owned(replaced);
            }
        }
        Ok(out)
    }
}

impl SecretGrant {
    /// Whether `candidate` equals granted secret `name`, in time that
    /// depends only on the lengths (a token check must not leak how many
    /// leading bytes were right). False for an ungranted name.
    pub fn matches(&self, name: &str, candidate: &str) -> bool {
        let Some(value) = self.values.get(name) else {
            return false;
        };
        constant_time_eq(value.as_bytes(), candidate.as_bytes())
    }

    /// Whether `mac_hex` is the HMAC-SHA256 of `message` keyed with granted
    /// secret `name`, compared in constant time. False for an ungranted
    /// name or a `mac_hex` that is not 64 hex digits.
    pub fn hmac_matches(&self, name: &str, message: &[u8], mac_hex: &str) -> bool {
        let Some(value) = self.values.get(name) else {
            return false;
        };
        let Ok(candidate) = hex::decode(mac_hex.trim()) else {
            return false;
        };
        constant_time_eq(&hmac_sha256(value.as_bytes(), message), &candidate)
    }
}

/// HMAC-SHA256 (RFC 2104): `H((K ^ opad) || H((K ^ ipad) || message))`,
/// the key hashed first when longer than the block.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    const BLOCK: usize = 64;
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.map(|k| k ^ byte);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

/// Byte equality whose time does not depend on where the inputs differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = (a.len() ^ b.len()) as u8 | ((a.len() ^ b.len()) >> 8) as u8;
    let n = a.len().max(b.len());
    for i in 0..n {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0xff);
        diff |= x ^ y;
    }
    diff == 0 && a.len() == b.len()
}

fn find_ignore_ascii_case(haystack: &str, needle: &str) -> Option<usize> {
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    if n.len() > h.len() {
        return None;
    }
    (0..=h.len() - n.len()).find(|&i| h[i..i + n.len()].eq_ignore_ascii_case(n))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn hmac_sha256_matches_rfc_4231() {
        // Test cases 2 and 6 of RFC 4231 (a short key; a key longer than
        // the block).
        assert_eq!(
            hex::encode(hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            hex::encode(hmac_sha256(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn a_signature_is_checked_against_the_granted_secret_only() {
        let store = SecretStore::new(BTreeMap::from([(
            "slack_signing_secret".to_string(),
            "8f742231b10e8888abcd99yyyzzz85a5".to_string(),
        )]));
        let grant = store.grant(&["slack_signing_secret".to_string()]);
        let base = b"v0:1531420618:token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J";
        let mac = hex::encode(hmac_sha256(b"8f742231b10e8888abcd99yyyzzz85a5", base));
        assert!(grant.hmac_matches("slack_signing_secret", base, &mac));
        assert!(grant.hmac_matches("slack_signing_secret", base, &mac.to_uppercase()));
        assert!(!grant.hmac_matches("slack_signing_secret", b"v0:1:other", &mac));
        assert!(!grant.hmac_matches("slack_signing_secret", base, "zz"));
        assert!(!grant.hmac_matches("slack_signing_secret", base, &mac[..62]));
        let none = store.grant(&[]);
        assert!(!none.hmac_matches("slack_signing_secret", base, &mac));
    }

    fn store() -> SecretStore {
        SecretStore::new(BTreeMap::from([
            ("bot_token".to_string(), "123:ABCsecret".to_string()),
            ("other".to_string(), "zzz-other-zzz".to_string()),
        ]))
    }

    #[test]
    fn token_checks_compare_whole_values_of_granted_secrets_only() {
        let grant = store().grant(&["bot_token".to_string()]);
        assert!(grant.matches("bot_token", "123:ABCsecret"));
        assert!(!grant.matches("bot_token", "123:ABCsecreT"));
        assert!(!grant.matches("bot_token", "123:ABCsecret "));
        assert!(!grant.matches("bot_token", ""));
        assert!(!grant.matches("other", "zzz-other-zzz"), "not granted");
        assert!(constant_time_eq(b"", b""));
        assert!(!constant_time_eq(b"a", b""));
        assert!(!constant_time_eq(&[0; 256], &[0; 512]));
    }

    #[test]
    fn substitutes_granted_placeholders_plain_and_encoded() {
        let grant = store().grant(&["bot_token".to_string()]);
        assert_eq!(
            grant.substitute("/bot{{secret:bot_token}}/getMe").unwrap(),
            "/bot123:ABCsecret/getMe"
        );
        assert_eq!(
            grant
                .substitute("/bot%7b%7Bsecret:bot_token%7D%7d/x?a={{secret:bot_token}}")
                .unwrap(),
            "/bot123:ABCsecret/x?a=123:ABCsecret"
        );
        assert_eq!(
            grant.substitute("no placeholder").unwrap(),
            "no placeholder"
        );
    }

    #[test]
    fn ungranted_or_unknown_placeholder_is_named() {
        let grant = store().grant(&["bot_token".to_string()]);
        assert_eq!(
            grant.substitute("Bearer {{secret:other}}").unwrap_err(),
            "other"
        );
        assert_eq!(grant.substitute("{{secret:nope}}").unwrap_err(), "nope");
        // Declared but unset secrets are not granted either.
        let grant = store().grant(&["missing".to_string()]);
        assert_eq!(
            grant.substitute("{{secret:missing}}").unwrap_err(),
            "missing"
        );
    }

    #[test]
    fn redacts_every_value_and_debug_shows_names_only() {
        let s = store();
        assert_eq!(
            s.redact("token 123:ABCsecret and zzz-other-zzz"),
            "token [redacted:bot_token] and [redacted:other]"
        );
        let debug = format!("{s:?}");
        assert!(debug.contains("bot_token") && !debug.contains("ABCsecret"));
    }

    /// A source that counts how often it is asked and gives `value`, or
    /// fails with `value` as the message when `fails`.
    pub(crate) struct Counting {
        pub value: &'static str,
        pub fails: bool,
        pub asked: std::sync::atomic::AtomicUsize,
    }

    impl SecretSource for Counting {
        fn label(&self) -> &str {
            "credentials/test"
        }
        fn current(&self) -> Pin<Box<dyn Future<Output = Result<String, String>> + Send + '_>> {
            self.asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let out = if self.fails {
                Err(self.value.to_string())
            } else {
                Ok(self.value.to_string())
            };
            Box::pin(async move { out })
        }
    }

    pub(crate) fn counting(value: &'static str, fails: bool) -> Arc<Counting> {
        Arc::new(Counting {
            value,
            fails,
            asked: Default::default(),
        })
    }

    #[tokio::test]
    async fn a_components_source_is_asked_at_send_time_and_its_value_redacted() {
        let source = counting("tok-from-source-1", false);
        let store = store().with_source("prov/api_key", source.clone());
        let grant = store
            .with_local("prov", &BTreeMap::new())
            .grant(&["api_key".to_string()]);
        assert_eq!(source.asked.load(std::sync::atomic::Ordering::SeqCst), 0);
        assert_eq!(
            grant.substitute("{{secret:api_key}}").unwrap_err(),
            "api_key",
            "a source's value exists only in a fresh grant"
        );
        let fresh = grant.fresh().await.unwrap();
        assert_eq!(
            fresh.substitute("Bearer {{secret:api_key}}").unwrap(),
            "Bearer tok-from-source-1"
        );
        assert_eq!(source.asked.load(std::sync::atomic::Ordering::SeqCst), 1);
        // Every view redacts what a source gave, the shared store included.
        assert_eq!(
            store.redact("got tok-from-source-1"),
            "got [redacted:credentials/test]"
        );
        assert_eq!(
            grant.redact("tok-from-source-1"),
            "[redacted:credentials/test]"
        );
        // Another component does not get it.
        let other = store
            .with_local("other", &BTreeMap::new())
            .grant(&["api_key".to_string()]);
        let other = other.fresh().await.unwrap();
        assert_eq!(
            other.substitute("{{secret:api_key}}").unwrap_err(),
            "api_key"
        );
        assert!(format!("{store:?}").contains("prov/api_key"));
    }

    #[tokio::test]
    async fn a_failing_source_gives_its_message() {
        let source = counting("sign in again: openpista auth login --provider x", true);
        let grant = store()
            .with_source("prov/api_key", source)
            .with_local("prov", &BTreeMap::new())
            .grant(&["api_key".to_string()]);
        assert_eq!(
            grant.fresh().await.err().unwrap(),
            "sign in again: openpista auth login --provider x"
        );
    }
}
