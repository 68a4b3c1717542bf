//! The credentials file, `~/.openpista/credentials.toml`: one table per
//! provider with what signing in produced. It is a host secret: mode 0600
//! (a looser mode is repaired and reported, or the file refused when it
//! cannot be), written atomically (a process killed mid-write leaves the
//! old file or the new one), and read-modify-write under an advisory lock
//! so that a login and a running host's refresh do not lose each other's
//! entries. A malformed file is an error naming the file and the line;
//! it is never emptied silently.
//!
//! ```toml
//! [openai]
//! method = "oauth"
//! access_token = "…"
//! refresh_token = "…"
//! expires_at = 1767225600
//! account_id = "…"
//!
//! [openai.extra]
//! id_token = "…"
//! ```

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// How a credential was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Method {
    /// A token from an OAuth sign-in; may expire and be refreshed.
    #[serde(rename = "oauth")]
    OAuth,
    /// An API key: entered, or issued by a flow (OpenRouter).
    #[serde(rename = "api_key")]
    ApiKey,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::OAuth => "oauth",
            Method::ApiKey => "api_key",
        }
    }
}

/// One provider's stored sign-in.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credential {
    pub method: Method,
    /// The bearer token (or the API key).
    pub access_token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// When `access_token` stops working, Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Provider extras: OpenAI `id_token` and `api_key`, Copilot
    /// `api_endpoint`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, String>,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Which fields exist, never a token: Debug output reaches logs.
        f.debug_struct("Credential")
            .field("method", &self.method)
            .field("access_token", &"<redacted>")
            .field("has_refresh_token", &self.refresh_token.is_some())
            .field("expires_at", &self.expires_at)
            .field("account_id", &self.account_id)
            .field("email", &self.email)
            .field("extra", &self.extra.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// What `auth status` and the picker say about a credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    ApiKey,
    SignedIn,
    /// Expires within [`EXPIRING_WITHIN_SECS`].
    Expiring,
    Expired,
}

/// A token closer than this to its expiry is "expiring" (and refreshed).
pub const EXPIRING_WITHIN_SECS: i64 = 5 * 60;

impl Credential {
    /// An API key credential.
    pub fn api_key(key: String) -> Credential {
        Credential {
            method: Method::ApiKey,
            access_token: key,
            refresh_token: None,
            expires_at: None,
            account_id: None,
            email: None,
            extra: BTreeMap::new(),
        }
    }

    /// Its state at `now` (Unix seconds).
    pub fn state(&self, now: i64) -> State {
        match (self.method, self.expires_at) {
            (Method::ApiKey, None) => State::ApiKey,
            (_, Some(at)) if at <= now => State::Expired,
            (_, Some(at)) if at - now <= EXPIRING_WITHIN_SECS => State::Expiring,
            _ => State::SignedIn,
        }
    }
}

/// The credentials file.
#[derive(Debug, Clone)]
pub struct CredentialStore {
    path: PathBuf,
}

const HEADER: &str = "# openpista credentials, written by `openpista auth`. Private (0600):\n# it holds tokens. `openpista auth logout PROVIDER` removes an entry.\n\n";

impl CredentialStore {
    pub fn open(path: PathBuf) -> Self {
        CredentialStore { path }
    }

    /// `credentials.toml` in the openpista home folder.
    pub fn default_path() -> PathBuf {
        crate::paths::home_dir().join("credentials.toml")
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Makes the file 0600 if it is looser; the sentence to show when it
    /// was repaired. Refuses a file it cannot repair or that another user
    /// owns.
    pub fn check_mode(&self) -> Result<Option<String>> {
        let meta = match std::fs::metadata(&self.path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(e).with_context(|| format!("cannot read {}", self.path.display()));
            }
        };
        if meta.uid() != crate::paths::current_uid() {
            bail!(
                "{} belongs to uid {}, not to this user; refusing to use credentials another user controls",
                self.path.display(),
                meta.uid()
            );
        }
        crate::paths::private_file(&self.path).with_context(|| {
            format!(
                "{} has mode {:04o} (readable by others) and could not be made 0600; refusing to use it",
                self.path.display(),
                meta.mode() & 0o777
            )
        })
    }

    /// Every stored credential; none when the file does not exist.
    pub fn load(&self) -> Result<BTreeMap<String, Credential>> {
        if let Some(note) = self.check_mode()? {
            tracing::warn!("made private: {note}");
        }
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
            Err(e) => {
                return Err(e).with_context(|| format!("cannot read {}", self.path.display()));
            }
        };
        parse(&text).map_err(|e| anyhow::anyhow!("{}:{e}", self.path.display()))
    }

    /// The credential of `provider`.
    pub fn get(&self, provider: &str) -> Result<Option<Credential>> {
        Ok(self.load()?.remove(provider))
    }

    /// Stores `c` as `provider`'s credential, replacing any before.
    pub fn put(&self, provider: &str, c: &Credential) -> Result<()> {
        self.update(|all| {
            all.insert(provider.to_string(), c.clone());
        })
    }

    /// Removes `provider`'s credential; false when there was none.
    pub fn remove(&self, provider: &str) -> Result<bool> {
        let mut removed = false;
        self.update(|all| removed = all.remove(provider).is_some())?;
        Ok(removed)
    }

    /// Read, change, write back, holding the file's lock throughout.
    fn update(&self, change: impl FnOnce(&mut BTreeMap<String, Credential>)) -> Result<()> {
        self.update_with(change, std::io::Write::write_all)
    }

    fn update_with(
        &self,
        change: impl FnOnce(&mut BTreeMap<String, Credential>),
        fill: impl FnOnce(&mut std::fs::File, &[u8]) -> std::io::Result<()>,
    ) -> Result<()> {
        if let Some(dir) = self.path.parent() {
            crate::paths::private_dir(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let _lock = self.lock()?;
        let mut all = self.load()?;
        change(&mut all);
        let mut text = HEADER.to_string();
        text.push_str(&toml::to_string(&all).context("cannot encode the credentials")?);
        crate::paths::write_private_with(&self.path, text.as_bytes(), fill)
            .with_context(|| format!("cannot write {}", self.path.display()))
    }

    /// An exclusive advisory lock on `credentials.toml.lock`, released on
    /// drop. Held only for a read-modify-write, so the wait is short.
    fn lock(&self) -> Result<std::fs::File> {
        let mut name = self.path.file_name().unwrap_or_default().to_os_string();
        name.push(".lock");
        let lock_path = self.path.with_file_name(name);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(crate::paths::FILE_MODE)
            .open(&lock_path)
            .with_context(|| format!("cannot open {}", lock_path.display()))?;
        use std::os::fd::AsRawFd;
        // SAFETY: flock on a descriptor this function owns; it blocks
        // until the lock is ours and is released when `file` closes.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(std::io::Error::last_os_error())
                .with_context(|| format!("cannot lock {}", lock_path.display()));
        }
        Ok(file)
    }
}

/// Parses the file's text; an error is `LINE: KEY: reason`, with every
/// value the reason would quote blanked out, since a misplaced token could
/// be the value quoted.
fn parse(text: &str) -> std::result::Result<BTreeMap<String, Credential>, String> {
    toml::from_str(text).map_err(|e| {
        let start = e.span().map(|s| s.start.min(text.len())).unwrap_or(0);
        let line = text[..start].matches('\n').count() + 1;
        let key = text
            .lines()
            .nth(line - 1)
            .and_then(|l| l.split_once('='))
            .map(|(k, _)| k.trim())
            .filter(|k| {
                k.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
            })
            .map(|k| format!("{k}: "))
            .unwrap_or_default();
        format!("{line}: {key}{}", blank_values(e.message().trim_end()))
    })
}

/// `text` with the content of every `"…"` blanked, and of the first
/// `` `…` `` when it is a value (serde's "unknown variant `VALUE`").
fn blank_values(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut inside = false;
    for c in text.chars() {
        if c == '"' {
            if inside {
                out.push('…');
            }
            inside = !inside;
            out.push(c);
        } else if !inside {
            out.push(c);
        }
    }
    if let Some(rest) = out.strip_prefix("unknown variant `")
        && let Some((_, after)) = rest.split_once('`')
    {
        out = format!("unknown variant `…`{after}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn oauth(token: &str) -> Credential {
        Credential {
            method: Method::OAuth,
            access_token: token.into(),
            refresh_token: Some(format!("{token}-refresh")),
            expires_at: Some(2_000_000_000),
            account_id: Some("acct-1".into()),
            email: Some("a@example.com".into()),
            extra: BTreeMap::from([("id_token".to_string(), "h.p.s".to_string())]),
        }
    }

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().mode() & 0o777
    }

    #[test]
    fn put_get_remove_round_trip_in_a_0600_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = CredentialStore::open(dir.path().join("home/credentials.toml"));
        assert!(store.load().unwrap().is_empty(), "no file: no credentials");
        store.put("openai", &oauth("tok-a")).unwrap();
        store
            .put("gemini", &Credential::api_key("key-g".into()))
            .unwrap();
        assert_eq!(mode(store.path()), 0o600);
        assert_eq!(mode(store.path().parent().unwrap()), 0o700);
        assert_eq!(store.get("openai").unwrap(), Some(oauth("tok-a")));
        assert_eq!(store.get("gemini").unwrap().unwrap().method, Method::ApiKey);
        assert!(store.remove("openai").unwrap());
        assert!(!store.remove("openai").unwrap(), "already gone");
        assert_eq!(store.load().unwrap().len(), 1);
        let leftovers: Vec<_> = std::fs::read_dir(store.path().parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.contains(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn debug_shows_no_token() {
        let c = oauth("sekret-access");
        let shown = format!("{c:?}");
        assert!(!shown.contains("sekret"), "{shown}");
        assert!(!shown.contains("h.p.s"), "{shown}");
        assert!(
            shown.contains("acct-1") && shown.contains("id_token"),
            "{shown}"
        );
    }

    #[test]
    fn a_loose_mode_is_repaired_with_a_note_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = CredentialStore::open(dir.path().join("credentials.toml"));
        store.put("openai", &oauth("t")).unwrap();
        std::fs::set_permissions(store.path(), std::fs::Permissions::from_mode(0o644)).unwrap();
        let note = store.check_mode().unwrap().expect("repaired");
        assert!(
            note.contains("credentials.toml") && note.contains("0644"),
            "{note}"
        );
        assert_eq!(mode(store.path()), 0o600);
        assert_eq!(store.check_mode().unwrap(), None);
    }

    #[test]
    fn malformed_file_names_file_and_line_and_hides_values() {
        let dir = tempfile::tempdir().unwrap();
        let store = CredentialStore::open(dir.path().join("credentials.toml"));
        std::fs::write(
            store.path(),
            "[openai]\nmethod = \"oauth\"\naccess_token = \"ok\"\nexpires_at = \"sk-live-secret\"\n",
        )
        .unwrap();
        let e = store.load().unwrap_err().to_string();
        assert!(e.contains("credentials.toml:4: expires_at:"), "{e}");
        assert!(!e.contains("sk-live-secret"), "{e}");
        std::fs::write(store.path(), "[openai\nmethod = 1\n").unwrap();
        let e = store.load().unwrap_err().to_string();
        assert!(e.contains("credentials.toml:1:"), "{e}");
        // A later put must not replace a file it cannot read.
        assert!(store.put("x", &oauth("t")).is_err());
        assert_eq!(
            std::fs::read_to_string(store.path()).unwrap(),
            "[openai\nmethod = 1\n"
        );
    }

    #[test]
    fn unknown_method_is_an_error() {
        let e = parse("[a]\nmethod = \"sk-live-1\"\naccess_token = \"x\"\n").unwrap_err();
        assert!(e.starts_with("2: method: unknown variant"), "{e}");
        assert!(!e.contains("sk-live-1") && e.contains("`oauth`"), "{e}");
    }

    #[test]
    fn a_failed_write_keeps_the_old_file_and_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let store = CredentialStore::open(dir.path().join("credentials.toml"));
        store.put("openai", &oauth("old")).unwrap();
        let before = std::fs::read(store.path()).unwrap();
        let err = store
            .update_with(
                |all| {
                    all.insert("openai".into(), oauth("new"));
                },
                |f, bytes| {
                    std::io::Write::write_all(f, &bytes[..bytes.len() / 2])?;
                    Err(std::io::Error::other("disk full"))
                },
            )
            .unwrap_err();
        assert!(format!("{err:#}").contains("disk full"), "{err:#}");
        assert_eq!(std::fs::read(store.path()).unwrap(), before);
        assert_eq!(store.get("openai").unwrap(), Some(oauth("old")));
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            2,
            "file + lock only"
        );
    }

    /// The child half of the next test: writes half of a new file, says
    /// so, and waits to be killed.
    fn half_write_and_wait(path: &Path) {
        let store = CredentialStore::open(path.to_path_buf());
        let _ = store.update_with(
            |all| {
                all.insert("openai".into(), oauth("new"));
            },
            |f, bytes| {
                std::io::Write::write_all(f, &bytes[..bytes.len() / 2])?;
                f.sync_all()?;
                println!("half-written");
                let mut line = String::new();
                std::io::stdin().read_line(&mut line)?;
                Err(std::io::Error::other("not killed"))
            },
        );
    }

    #[test]
    fn a_process_killed_mid_write_leaves_the_old_file() {
        const CHILD: &str = "OPENPISTA_TEST_STORE_CHILD";
        if let Some(path) = std::env::var_os(CHILD) {
            half_write_and_wait(Path::new(&path));
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let store = CredentialStore::open(dir.path().join("credentials.toml"));
        store.put("openai", &oauth("old")).unwrap();
        // This test binary again, running only this test, as the writer.
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "auth::store::tests::a_process_killed_mid_write_leaves_the_old_file",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, store.path())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut seen = String::new();
        loop {
            let mut line = String::new();
            let n = std::io::BufRead::read_line(&mut out, &mut line).unwrap();
            assert!(n > 0, "the writer ended before writing: {seen}");
            seen.push_str(&line);
            // libtest may print `test NAME ... ` before it on the same line.
            if line.trim_end().ends_with("half-written") {
                break;
            }
        }
        child.kill().unwrap();
        child.wait().unwrap();
        let temps: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.contains(".tmp"))
            .collect();
        assert_eq!(temps.len(), 1, "the killed writer's half file: {temps:?}");
        assert_eq!(store.get("openai").unwrap(), Some(oauth("old")));
        // The next writer is not disturbed by the leftover.
        store.put("openai", &oauth("newer")).unwrap();
        assert_eq!(store.get("openai").unwrap(), Some(oauth("newer")));
    }

    #[test]
    fn states_follow_the_expiry() {
        let mut c = oauth("t");
        c.expires_at = Some(1000);
        assert_eq!(c.state(2000), State::Expired);
        assert_eq!(c.state(1000 - 60), State::Expiring);
        assert_eq!(c.state(0), State::SignedIn);
        assert_eq!(Credential::api_key("k".into()).state(0), State::ApiKey);
    }
}
