//! The environment native processes start with: the host's, minus
//! everything that could be a secret. Removed are the variables the
//! configuration names as secret sources or provider keys, the operator's
//! own list, every name with a KEY, TOKEN, SECRET, PASSWORD or CREDENTIALS
//! part, and any variable whose value equals a configured secret.

use crate::runtime::secrets::SecretStore;
use std::collections::BTreeSet;

/// Name parts that mark a variable as secret (`OPENAI_API_KEY`,
/// `GITHUB_TOKEN`, `AWS_SECRET_ACCESS_KEY`, `PGPASSWORD`).
const SECRET_PARTS: &[&str] = &[
    "KEY",
    "KEYS",
    "APIKEY",
    "TOKEN",
    "TOKENS",
    "SECRET",
    "SECRETS",
    "PASSWORD",
    "PASSWD",
    "CREDENTIALS",
    "CREDENTIAL",
];

/// Whether a variable's name says it holds a secret.
pub fn looks_secret(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    upper
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(|part| SECRET_PARTS.contains(&part) || part.ends_with("PASSWORD"))
}

/// What to take out of the host's environment.
#[derive(Debug, Clone, Default)]
pub struct EnvScrub {
    /// Names always removed (configured secret sources, provider keys,
    /// `scrub_env`).
    pub names: BTreeSet<String>,
    /// Configured secrets: a variable holding one of their values goes too.
    pub secrets: SecretStore,
}

impl EnvScrub {
    /// The host's environment, scrubbed.
    pub fn host_env(&self) -> Vec<(String, String)> {
        self.filter(std::env::vars())
    }

    /// `vars`, scrubbed.
    pub fn filter(
        &self,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Vec<(String, String)> {
        vars.into_iter()
            .filter(|(name, value)| {
                !self.names.contains(name)
                    && !looks_secret(name)
                    && self.secrets.redact(value).as_ref() == value
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn names_that_look_secret() {
        for n in [
            "OPENAI_API_KEY",
            "TELEGRAM_BOT_TOKEN",
            "AWS_SECRET_ACCESS_KEY",
            "PGPASSWORD",
            "github_token",
            "DB_CREDENTIALS",
        ] {
            assert!(looks_secret(n), "{n}");
        }
        for n in [
            "PATH",
            "HOME",
            "KEYBOARD_LAYOUT",
            "XAUTHORITY",
            "TOKENIZERS_PARALLELISM",
            "LANG",
        ] {
            assert!(!looks_secret(n), "{n}");
        }
    }

    #[test]
    fn configured_names_and_secret_values_are_removed() {
        let scrub = EnvScrub {
            names: ["MY_PROVIDER".to_string()].into(),
            secrets: SecretStore::new(BTreeMap::from([("k".into(), "hunter2-value".into())])),
        };
        let vars = [
            ("PATH", "/bin"),
            ("MY_PROVIDER", "x"),
            ("OPENAI_API_KEY", "sk"),
            ("INNOCENT", "hunter2-value"),
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()));
        let kept = scrub.filter(vars);
        assert_eq!(kept, vec![("PATH".to_string(), "/bin".to_string())]);
    }
}
