//! Signing in end to end through the real `openpista` command line
//! (`auth login | status | logout`), against the local double of the
//! providers' sign-in endpoints (`openpista_tests::doubles::oauth`).
//!
//! Each test has its own double (a port from the OS), its own home folder
//! (`OPENPISTA_HOME` and `HOME` set on the spawned process) and its own
//! config file pointing `[auth.*]` at the double, with the loopback
//! redirects on any free port (`redirect_port = 0`).
//!
//! - `browser.rs`: OpenAI and OpenRouter, with headless Chromium clicking
//!   through the consent page to the command's loopback listener;
//! - `refusals.rs`: a forged `state`, a code issued for another
//!   challenge (wrong `code_verifier`), a reused code, a pasted redirect;
//! - `terminal.rs`: the Anthropic paste flow, API keys and the picker
//!   through a pty, the Copilot device flow, status, logout, file modes;
//! - `refresh.rs`: `openpista::auth::refresh` against the double;
//! - `turns.rs`: a signed-in turn through `openpista run`, logs on.

mod browser;
mod refresh;
mod refusals;
mod terminal;
mod turns;

use openpista::auth::{Credential, CredentialStore};
use openpista_tests::doubles::oauth::OAuthDouble;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;

/// The command line, built from the host's `main.rs` (tests/Cargo.toml).
const BIN: &str = env!("CARGO_BIN_EXE_openpista-cli");
/// How long a step may take before the test fails.
const WAIT: Duration = Duration::from_secs(60);

/// A test's double, folder and config file.
struct Home {
    double: OAuthDouble,
    dir: tempfile::TempDir,
    config: PathBuf,
}

impl Home {
    /// A double and a home whose config points `[auth.*]` at it.
    async fn new() -> Home {
        Home::with_config("").await
    }

    /// Like [`Home::new`], with `extra` TOML appended to the config.
    async fn with_config(extra: &str) -> Home {
        let double = OAuthDouble::start().await;
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.toml");
        std::fs::write(&config, format!("{}\n{extra}", double.auth_config())).unwrap();
        Home {
            double,
            dir,
            config,
        }
    }

    /// `OPENPISTA_HOME` of the spawned commands.
    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    fn credentials(&self) -> PathBuf {
        self.home().join("credentials.toml")
    }

    fn store(&self) -> CredentialStore {
        CredentialStore::open(self.credentials())
    }

    /// The stored credential of `provider`, which must exist.
    fn stored(&self, provider: &str) -> Credential {
        self.store()
            .get(provider)
            .unwrap()
            .unwrap_or_else(|| panic!("no {provider} entry in {}", self.credentials().display()))
    }

    /// `program args` with this test's environment: its home, `HOME`, no
    /// `$BROWSER`, no inherited config.
    fn command(&self, program: &str, args: &[&str]) -> Command {
        let mut c = Command::new(program);
        c.args(args)
            .env("OPENPISTA_HOME", self.home())
            .env("HOME", self.dir.path())
            .env("OPENPISTA_LOG", "warn")
            .env_remove("OPENPISTA_CONFIG")
            .env_remove("BROWSER")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        c
    }

    /// `openpista --config CONFIG args…`, running.
    fn spawn(&self, args: &[&str]) -> Cli {
        let mut all = vec!["--config", self.config.to_str().unwrap()];
        all.extend_from_slice(args);
        Cli::spawn(self.command(BIN, &all))
    }

    /// `openpista --config CONFIG args…` inside a pty (`script`), so that
    /// stdin is a terminal, as when a person types.
    fn spawn_in_pty(&self, args: &[&str]) -> Cli {
        let mut line = format!("'{BIN}' --config '{}'", self.config.display());
        for a in args {
            line.push_str(&format!(" '{a}'"));
        }
        Cli::spawn(self.command("script", &["-qfec", &line, "/dev/null"]))
    }

    /// Runs `openpista args…` to its end with stdin closed: status and
    /// everything it printed (stdout then stderr).
    async fn run(&self, args: &[&str]) -> (ExitStatus, String) {
        let mut cli = self.spawn(args);
        drop(cli.stdin.take());
        cli.finish().await
    }
}

/// A running command: its output as lines, and its stdin.
struct Cli {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::UnboundedReceiver<String>,
    transcript: Arc<Mutex<String>>,
}

impl Cli {
    fn spawn(mut command: Command) -> Cli {
        let mut child = command.spawn().expect("the command starts");
        let (tx, lines) = mpsc::unbounded_channel();
        let transcript = Arc::new(Mutex::new(String::new()));
        let out = child.stdout.take().unwrap();
        let err = child.stderr.take().unwrap();
        for reader in [
            Box::new(out) as Box<dyn tokio::io::AsyncRead + Send + Unpin>,
            Box::new(err),
        ] {
            let (tx, transcript) = (tx.clone(), transcript.clone());
            tokio::spawn(async move {
                let mut lines = BufReader::new(reader).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    // A pty ends lines with \r\n.
                    let line = line.trim_end_matches('\r').to_string();
                    transcript.lock().unwrap().push_str(&format!("{line}\n"));
                    let _ = tx.send(line);
                }
            });
        }
        Cli {
            stdin: child.stdin.take(),
            child,
            lines,
            transcript,
        }
    }

    fn transcript(&self) -> String {
        self.transcript.lock().unwrap().clone()
    }

    /// The first line (from now) that `matches`, within [`WAIT`].
    async fn line_where(&mut self, what: &str, matches: impl Fn(&str) -> bool) -> String {
        let found = tokio::time::timeout(WAIT, async {
            while let Some(line) = self.lines.recv().await {
                if matches(&line) {
                    return Some(line);
                }
            }
            None
        })
        .await;
        match found {
            Ok(Some(line)) => line,
            Ok(None) => panic!("the command ended without {what}:\n{}", self.transcript()),
            Err(_) => panic!("no {what} within {WAIT:?}:\n{}", self.transcript()),
        }
    }

    /// The printed address that starts with `prefix`.
    async fn url(&mut self, prefix: &str) -> String {
        self.line_where(&format!("an address starting {prefix}"), |l| {
            l.trim_start().starts_with(prefix)
        })
        .await
        .trim()
        .to_string()
    }

    /// Types `text` and Enter.
    async fn type_line(&mut self, text: &str) {
        let stdin = self.stdin.as_mut().expect("stdin is open");
        stdin
            .write_all(format!("{text}\n").as_bytes())
            .await
            .unwrap();
        stdin.flush().await.unwrap();
    }

    /// Waits for the command to end: its status and transcript.
    async fn finish(mut self) -> (ExitStatus, String) {
        let status = tokio::time::timeout(WAIT, self.child.wait())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "the command did not end within {WAIT:?}:\n{}",
                    self.transcript()
                )
            })
            .unwrap();
        // The output readers end with the pipes; take what is left.
        while let Ok(Some(_)) = tokio::time::timeout(WAIT, self.lines.recv()).await {}
        (status, self.transcript())
    }
}

/// The file mode bits of `path`.
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Every token-like value of `c` (access, refresh, extras).
fn secrets_of(c: &Credential) -> Vec<String> {
    let mut out = vec![c.access_token.clone()];
    out.extend(c.refresh_token.clone());
    out.extend(c.extra.values().filter(|v| v.len() > 12).cloned());
    out
}

/// Asserts `auth status` shows `provider` with `expected` words and none
/// of its stored tokens.
async fn assert_status_shows(home: &Home, provider: &str, expected: &[&str]) {
    let (status, out) = home.run(&["auth", "status"]).await;
    assert!(status.success(), "{out}");
    let row = out
        .lines()
        .find(|l| l.starts_with(provider))
        .unwrap_or_else(|| panic!("no {provider} row:\n{out}"));
    for word in expected {
        assert!(row.contains(word), "{word:?} missing from {row:?}");
    }
    for secret in secrets_of(&home.stored(provider)) {
        assert!(!out.contains(&secret), "auth status shows a token:\n{out}");
    }
}

/// Consents on the double's authorize page over plain HTTP (what the
/// Allow button does): the redirect target it answers with.
async fn consent_over_http(double: &OAuthDouble, authorize_url: &str) -> String {
    let path = authorize_url
        .strip_prefix(&double.url(""))
        .unwrap_or_else(|| panic!("{authorize_url} is not the double's"));
    let (status, _, page) = openpista_tests::http_get_full(double.addr, path).await;
    assert_eq!(status, 200, "{page}");
    let id = page
        .split("name=\"request\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or_else(|| panic!("no consent form in {page}"));
    let (status, head, _) =
        openpista_tests::http_get_full(double.addr, &format!("/consent?request={id}")).await;
    assert_eq!(status, 302, "{head}");
    head.lines()
        .find_map(|l| l.strip_prefix("location: "))
        .unwrap_or_else(|| panic!("no location in {head}"))
        .trim()
        .to_string()
}

/// GETs `url` (an `http://localhost:PORT/…` or `http://127.0.0.1:PORT/…`
/// address) over plain HTTP: status and body.
async fn get(url: &str) -> (u16, String) {
    let u = url::Url::parse(url).unwrap();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{}", u.port().unwrap()).parse().unwrap();
    let path = &u[url::Position::BeforePath..url::Position::AfterQuery];
    let (status, _, body) = openpista_tests::http_get_full(addr, path).await;
    (status, body)
}
