//! Running openpista unattended, through the real command line: `serve`
//! scraped at `/metrics` and the scrape read by Python's
//! `prometheus_client` parser (`metrics.rs`), JSON logs with a planted
//! secret (`logs.rs`), `doctor` (`doctor.rs`) and `security audit`
//! (`audit.rs`), signed components (`signing.rs`), `--version`.
//!
//! Every test has its own folder, home, ports (127.0.0.1:0) and model
//! double, so they run in parallel.

mod audit;
mod doctor;
mod logs;
mod metrics;
mod signing;
mod traces;
mod workers;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_openpista-cli");
/// The environment variable the provider's key is read from.
pub const KEY_ENV: &str = "OPENPISTA_TEST_OPS_KEY";
/// The environment variable the web token is read from.
pub const TOKEN_ENV: &str = "OPENPISTA_TEST_OPS_TOKEN";
pub const TOKEN: &str = "ops-web-token-5d2a9c41e7b3f0861c4e";

/// A folder with a config file and a home, for one test.
pub struct Setup {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    /// The provider's key this test plants.
    pub key: String,
}

impl Setup {
    /// `[agent]` on an OpenAI-compatible provider at `base_url` (when
    /// given), the web channel on a free port, plus `extra`.
    pub fn new(base_url: Option<&str>, key: &str, extra: &str) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().display().to_string();
        let provider = match base_url {
            Some(url) => format!(
                "[agent]\nprovider = \"main\"\n[providers.main]\npreset = \"custom\"\nbase_url = \"{url}\"\nmodel = \"gpt-test\"\napi_key_env = \"{KEY_ENV}\"\n"
            ),
            None => String::new(),
        };
        let config = dir.path().join("config.toml");
        std::fs::write(
            &config,
            format!(
                "{provider}[server]\nlisten = \"127.0.0.1:0\"\n[channels.web]\ntoken_env = \"{TOKEN_ENV}\"\n\
                 [runtime]\nplugin_dirs = []\ncache_dir = \"{root}/cache\"\n[memory]\npath = \"{root}/memory.redb\"\n{extra}"
            ),
        )
        .unwrap();
        std::fs::create_dir_all(dir.path().join("tmp")).unwrap();
        // The config may hold tokens: private, as an operator keeps it.
        std::fs::set_permissions(&config, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .unwrap();
        Setup {
            dir,
            config,
            key: key.to_string(),
        }
    }

    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    /// `openpista --config CONFIG ARGS…` with this test's home and
    /// environment.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.arg("--config")
            .arg(&self.config)
            .args(args)
            .env("OPENPISTA_HOME", self.home())
            .env("HOME", self.dir.path())
            .env("TMPDIR", self.dir.path().join("tmp"))
            .env(KEY_ENV, &self.key)
            .env(TOKEN_ENV, TOKEN)
            .env_remove("OPENPISTA_CONFIG")
            .env_remove("OPENPISTA_LOG")
            .env_remove("DOCKER_HOST")
            .stdin(Stdio::null());
        c
    }

    /// Runs a command to its end: exit code, stdout, stderr.
    pub async fn output(&self, args: &[&str]) -> (i32, String, String) {
        let mut command = self.command(args);
        let out = tokio::task::spawn_blocking(move || command.output().unwrap())
            .await
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

/// A running `openpista serve`; killed when dropped.
pub struct Served {
    pub child: Child,
    /// The host's listener.
    pub addr: SocketAddr,
    /// What it printed up to the web chat's address.
    pub stdout: Vec<String>,
    /// Its later stdout lines.
    rest: std::sync::mpsc::Receiver<String>,
    pub stderr_path: PathBuf,
}

impl Served {
    /// Starts `serve` with `flags` (before the subcommand) and waits for
    /// the web chat's address; stderr goes to a file in the test's folder.
    pub fn start(setup: &Setup, flags: &[&str]) -> Served {
        let mut args: Vec<&str> = flags.to_vec();
        args.push("serve");
        let stderr_path = setup.dir.path().join("serve.stderr");
        let mut command = setup.command(&args);
        command
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr_path).unwrap());
        let mut child = command.spawn().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut stdout = Vec::new();
        let addr = loop {
            let Some(Ok(line)) = lines.next() else {
                let _ = child.kill();
                panic!(
                    "serve ended before it was ready: {stdout:?}\n{}",
                    std::fs::read_to_string(&stderr_path).unwrap_or_default()
                );
            };
            stdout.push(line.clone());
            if let Some(rest) = line.strip_prefix("web chat: http://") {
                break rest.split('/').next().unwrap().parse().unwrap();
            }
        };
        // Keep reading, so the pipe never fills.
        let (tx, rest) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Served {
            child,
            addr,
            stdout,
            rest,
            stderr_path,
        }
    }

    /// The first stdout line starting with `prefix` (waiting up to 30 s
    /// for one printed after the web chat's address).
    pub fn line_starting(&self, prefix: &str) -> String {
        if let Some(line) = self.stdout.iter().find(|l| l.starts_with(prefix)) {
            return line.clone();
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rest.recv_timeout(left) {
                Ok(line) if line.starts_with(prefix) => return line,
                Ok(_) => {}
                Err(e) => panic!("no line starting {prefix:?}: {e}"),
            }
        }
    }

    /// SIGTERM, then waits for the exit; returns what it wrote on stderr.
    pub fn stop(mut self) -> String {
        // SAFETY: kill only sends a signal to the child's pid.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "serve did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
        std::fs::read_to_string(&self.stderr_path).unwrap()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `GET path` with optional extra header lines: status and body.
pub async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    openpista_tests::http_get(addr, path).await
}

/// `text` parsed by Python's `prometheus_client` (the parser Prometheus'
/// own client library ships): every sample as `(name, labels, value)`.
pub fn parse_prometheus(
    text: &str,
) -> Vec<(String, std::collections::BTreeMap<String, String>, f64)> {
    const SCRIPT: &str = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        out.append([s.name, s.labels, s.value])
print(json.dumps(out))
"#;
    let out = python(SCRIPT, text);
    assert!(
        out.status.success(),
        "prometheus_client refused the scrape (pip install prometheus_client): {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Runs a Python `script` with `input` on stdin.
pub fn python(script: &str, input: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// The mode bits of `path`.
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn version_names_the_commit_it_was_built_from() {
    let out = Command::new(BIN).arg("--version").output().unwrap();
    let printed = String::from_utf8(out.stdout).unwrap();
    let head = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8(o.stdout).unwrap().trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    assert_eq!(
        printed.trim(),
        format!("openpista {} ({head})", env!("CARGO_PKG_VERSION"))
    );
}
