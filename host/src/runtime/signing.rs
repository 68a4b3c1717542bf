//! Signed components: an Ed25519 signature over a component and its
//! manifest, checked against the keys the operator trusts before a plugin
//! is loaded or installed.
//!
//! Skill marketplaces of other agents were flooded with malicious skills;
//! a signature says who published exactly these bytes, and the operator
//! decides whom to believe. `NAME.sig` lies beside `NAME.wasm` and
//! `NAME.toml`:
//!
//! ```toml
//! key = "ed25519:BASE64"      # the signer's public key
//! signature = "BASE64"        # over the message below
//! ```
//!
//! The signed message names what it covers, so a signature cannot be
//! moved to another component or reused with another manifest:
//! `openpista-component-signature-v1\n{name}\n{sha256(wasm)}\n{sha256(manifest)}\n`.
//! A component altered after signing, or signed by a key not in
//! `[runtime] trusted_keys`, is refused with that reason; an unsigned one
//! loads and is shown as unsigned, unless `require_signatures` refuses it.
//! Embedded components came with the binary and are not checked.
//!
//! The Ed25519 implementation is `ring`'s, which the TLS stack already
//! uses.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use sha2::{Digest, Sha256};

/// The prefix of a public key as the config and `.sig` files write it.
pub const KEY_PREFIX: &str = "ed25519:";
/// The prefix of a private key file's one line.
const SECRET_PREFIX: &str = "ed25519-secret:";
/// What the signed message starts with.
const DOMAIN: &str = "openpista-component-signature-v1";

/// Which signatures the host believes.
#[derive(Debug, Clone, Default)]
pub struct TrustPolicy {
    /// Public keys, `ed25519:BASE64`.
    pub trusted_keys: Vec<String>,
    /// Refuse components without a signature.
    pub require_signatures: bool,
}

impl TrustPolicy {
    /// Checks every key's form, so a typo is an error at start rather
    /// than a refusal of every signed component.
    pub fn validate(&self) -> Result<(), String> {
        for key in &self.trusted_keys {
            decode_public(key).map_err(|e| format!("[runtime] trusted_keys: {key:?}: {e}"))?;
        }
        Ok(())
    }
}

/// Where a loaded component's bytes are vouched for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Provenance {
    /// Built into the binary.
    Embedded,
    /// A plugin with no signature.
    Unsigned,
    /// Signed by this trusted key (`ed25519:…`).
    Signed { key: String },
}

impl std::fmt::Display for Provenance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Provenance::Embedded => f.write_str("embedded"),
            Provenance::Unsigned => f.write_str("unsigned"),
            Provenance::Signed { key } => write!(f, "signed by {}", short(key)),
        }
    }
}

/// `ed25519:AbCdEf…` shortened for a table.
pub fn short(key: &str) -> String {
    let body = key.strip_prefix(KEY_PREFIX).unwrap_or(key);
    format!("{KEY_PREFIX}{}…", &body[..body.len().min(12)])
}

/// The message a signature covers.
fn message(name: &str, wasm: &[u8], manifest: &str) -> Vec<u8> {
    format!(
        "{DOMAIN}\n{name}\n{}\n{}\n",
        hex::encode(Sha256::digest(wasm)),
        hex::encode(Sha256::digest(manifest.as_bytes()))
    )
    .into_bytes()
}

fn decode_public(key: &str) -> Result<Vec<u8>, String> {
    let body = key
        .trim()
        .strip_prefix(KEY_PREFIX)
        .ok_or_else(|| format!("a public key starts with {KEY_PREFIX:?}"))?;
    let bytes = B64.decode(body).map_err(|e| format!("not base64: {e}"))?;
    if bytes.len() != 32 {
        return Err(format!(
            "an Ed25519 key is 32 bytes, this is {}",
            bytes.len()
        ));
    }
    Ok(bytes)
}

/// A signing key read from its file.
pub struct SigningKey {
    pair: Ed25519KeyPair,
}

impl SigningKey {
    /// A new random key: its file's text (`ed25519-secret:BASE64`, to be
    /// kept 0600) and the key.
    pub fn generate() -> (String, SigningKey) {
        let seed: [u8; 32] = rand::random();
        let text = format!("{SECRET_PREFIX}{}\n", B64.encode(seed));
        let key = SigningKey::parse(&text).expect("a fresh seed parses");
        (text, key)
    }

    /// Reads a key file's text.
    pub fn parse(text: &str) -> Result<SigningKey, String> {
        let body = text.trim().strip_prefix(SECRET_PREFIX).ok_or_else(|| {
            format!("a signing key file holds one line starting {SECRET_PREFIX:?}")
        })?;
        let seed = B64
            .decode(body)
            .map_err(|e| format!("the signing key is not base64: {e}"))?;
        let pair = Ed25519KeyPair::from_seed_unchecked(&seed)
            .map_err(|_| "the signing key is not an Ed25519 seed (32 bytes)".to_string())?;
        Ok(SigningKey { pair })
    }

    /// The public key, `ed25519:BASE64`: what operators put in
    /// `[runtime] trusted_keys`.
    pub fn public(&self) -> String {
        format!(
            "{KEY_PREFIX}{}",
            B64.encode(self.pair.public_key().as_ref())
        )
    }

    /// The `.sig` file's text for component `name`.
    pub fn sign(&self, name: &str, wasm: &[u8], manifest: &str) -> String {
        let signature = self.pair.sign(&message(name, wasm, manifest));
        format!(
            "# openpista component signature: {name}\nkey = \"{}\"\nsignature = \"{}\"\n",
            self.public(),
            B64.encode(signature.as_ref())
        )
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SignatureFile {
    key: String,
    signature: String,
}

/// Whether component `name` (these bytes and this manifest, with the
/// `.sig` text when there is one) may load under `policy`; `Err` says why
/// not, in words for the operator.
pub fn verify(
    policy: &TrustPolicy,
    name: &str,
    wasm: &[u8],
    manifest: &str,
    signature: Option<&str>,
) -> Result<Provenance, String> {
    let Some(text) = signature else {
        if policy.require_signatures {
            return Err(format!(
                "it is unsigned, and [runtime] require_signatures refuses unsigned components \
                 (its publisher signs it with `openpista component sign`; {name}.sig goes beside it)"
            ));
        }
        return Ok(Provenance::Unsigned);
    };
    let file: SignatureFile =
        toml::from_str(text).map_err(|e| format!("{name}.sig is not a signature file: {e}"))?;
    let key = file.key.trim().to_string();
    let public = decode_public(&key).map_err(|e| format!("{name}.sig: key {key:?}: {e}"))?;
    if !policy.trusted_keys.iter().any(|k| k.trim() == key) {
        return Err(format!(
            "it is signed by {key}, which is not in [runtime] trusted_keys \
             (add it there if you trust its publisher)"
        ));
    }
    let signature = B64
        .decode(file.signature.trim())
        .map_err(|e| format!("{name}.sig: the signature is not base64: {e}"))?;
    UnparsedPublicKey::new(&ED25519, &public)
        .verify(&message(name, wasm, manifest), &signature)
        .map_err(|_| {
            format!(
                "its signature by {} does not match: the component or its manifest changed after it was signed",
                short(&key)
            )
        })?;
    Ok(Provenance::Signed { key })
}

#[cfg(test)]
mod tests {
    use super::*;

    const WASM: &[u8] = b"\0asm component bytes";
    const MANIFEST: &str = "name = \"demo\"\nworld = \"tool\"\n";

    fn trusting(key: &SigningKey) -> TrustPolicy {
        TrustPolicy {
            trusted_keys: vec![key.public()],
            require_signatures: false,
        }
    }

    #[test]
    fn a_trusted_signature_verifies_and_names_its_key() {
        let (text, key) = SigningKey::generate();
        assert!(text.starts_with("ed25519-secret:"));
        let sig = key.sign("demo", WASM, MANIFEST);
        let got = verify(&trusting(&key), "demo", WASM, MANIFEST, Some(&sig)).unwrap();
        assert_eq!(got, Provenance::Signed { key: key.public() });
        // The key file reads back to the same key.
        assert_eq!(SigningKey::parse(&text).unwrap().public(), key.public());
        assert!(trusting(&key).validate().is_ok());
    }

    #[test]
    fn any_change_after_signing_is_refused() {
        let (_, key) = SigningKey::generate();
        let sig = key.sign("demo", WASM, MANIFEST);
        let policy = trusting(&key);
        let mut altered = WASM.to_vec();
        altered[5] ^= 1;
        for (name, wasm, manifest) in [
            ("demo", &altered[..], MANIFEST),
            ("demo", WASM, "name = \"demo\"\nworld = \"tool\"\n# more\n"),
            ("other", WASM, MANIFEST),
        ] {
            let err = verify(&policy, name, wasm, manifest, Some(&sig)).unwrap_err();
            assert!(err.contains("changed after it was signed"), "{err}");
        }
    }

    #[test]
    fn an_unknown_key_and_a_missing_signature_are_told_apart() {
        let (_, trusted) = SigningKey::generate();
        let (_, stranger) = SigningKey::generate();
        let sig = stranger.sign("demo", WASM, MANIFEST);
        let err = verify(&trusting(&trusted), "demo", WASM, MANIFEST, Some(&sig)).unwrap_err();
        assert!(
            err.contains(&stranger.public()) && err.contains("trusted_keys"),
            "{err}"
        );

        let mut policy = trusting(&trusted);
        assert_eq!(
            verify(&policy, "demo", WASM, MANIFEST, None),
            Ok(Provenance::Unsigned)
        );
        policy.require_signatures = true;
        let err = verify(&policy, "demo", WASM, MANIFEST, None).unwrap_err();
        assert!(err.contains("require_signatures"), "{err}");
    }

    #[test]
    fn malformed_keys_and_files_say_what_is_wrong() {
        let policy = TrustPolicy {
            trusted_keys: vec!["ed25519:short".into()],
            require_signatures: false,
        };
        assert!(policy.validate().unwrap_err().contains("trusted_keys"));
        let err = verify(&policy, "demo", WASM, MANIFEST, Some("not toml [")).unwrap_err();
        assert!(err.contains("demo.sig is not a signature file"), "{err}");
        assert!(SigningKey::parse("ed25519:abc").is_err());
    }
}
