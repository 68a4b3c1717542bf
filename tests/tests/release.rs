//! The release people install: the static (musl) archive that
//! `release/build.sh` makes, installed by `install.sh` only when its
//! SHA-256 matches, and run as the only file of a `FROM scratch` image on
//! the real Docker engine, answering `/health`.
//!
//! The archive is built before the tests (`.ci/run` runs
//! `bash release/build.sh --profile dev --out target/release-artifacts`;
//! `OPENPISTA_RELEASE_DIR` points elsewhere). Without it the tests skip
//! loudly, and fail under CI.

use openpista_tests::release::{archive, workspace};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// The commit the tests were built from, as `--version` prints it.
fn head() -> String {
    let out = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(workspace())
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn install(archive: &Path, prefix: &Path) -> std::process::Output {
    Command::new("sh")
        .arg(workspace().join("install.sh"))
        .arg("--archive")
        .arg(archive)
        .arg("--prefix")
        .arg(prefix)
        .output()
        .unwrap()
}

#[test]
fn install_sh_installs_a_checked_archive_and_refuses_a_tampered_one() {
    let Some((archive, sums)) = archive() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good");
    let out = install(&archive, &good);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{said}");
    assert!(said.contains("installed"), "{said}");
    let version = Command::new(good.join("bin/openpista"))
        .arg("--version")
        .output()
        .unwrap();
    let version = String::from_utf8(version.stdout).unwrap();
    assert!(version.contains(&format!("({})", head())), "{version}");

    // One byte changed, same name, same SHA256SUMS: refused, nothing
    // installed.
    let tampered_dir = dir.path().join("tampered");
    std::fs::create_dir_all(&tampered_dir).unwrap();
    let tampered = tampered_dir.join(archive.file_name().unwrap());
    let mut bytes = std::fs::read(&archive).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x20;
    std::fs::write(&tampered, bytes).unwrap();
    std::fs::copy(&sums, tampered_dir.join("SHA256SUMS")).unwrap();
    let bad = dir.path().join("bad");
    let out = install(&tampered, &bad);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(said.contains("SHA-256 mismatch"), "{said}");
    assert!(!bad.join("bin/openpista").exists());

    // An archive SHA256SUMS does not list is not installed either.
    let renamed = tampered_dir.join("openpista-0.0.0-renamed.tar.gz");
    std::fs::copy(&archive, &renamed).unwrap();
    let out = install(&renamed, &bad);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("has no line"));
}

/// `GET path`, or `None` while nothing answers (Docker's port proxy
/// accepts connections before the server inside listens).
async fn try_get(addr: std::net::SocketAddr, path: &str) -> Option<(u16, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
        .await
        .ok()?
        .ok()?;
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = answer.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_string()))
}

fn docker(args: &[&str]) -> (bool, String) {
    let out = Command::new("docker").args(args).output().unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Removes the test's container and image, however the test ends.
struct Cleanup {
    container: String,
    image: String,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = docker(&["rm", "-f", &self.container]);
        let _ = docker(&["rmi", "-f", &self.image]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_static_binary_serves_from_a_scratch_image() {
    let Some((archive, _)) = archive() else {
        return;
    };
    if openpista_tests::native::docker::engine().await.is_none() {
        return;
    }
    let id = std::process::id();
    let cleanup = Cleanup {
        container: format!("openpista-release-test-{id}"),
        image: format!("openpista-release-test:{id}"),
    };
    let out = Command::new("bash")
        .arg(workspace().join("release/image.sh"))
        .arg(&archive)
        .arg(&cleanup.image)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // One layer: the binary, on nothing.
    let (ok, layers) = docker(&[
        "image",
        "inspect",
        "--format",
        "{{len .RootFS.Layers}}",
        &cleanup.image,
    ]);
    assert!(ok, "{layers}");
    assert_eq!(layers.trim(), "1");

    let (ok, version) = docker(&["run", "--rm", &cleanup.image, "--version"]);
    assert!(ok, "{version}");
    assert!(version.contains(&format!("({})", head())), "{version}");

    let (ok, said) = docker(&[
        "run",
        "-d",
        "--name",
        &cleanup.container,
        "-p",
        "127.0.0.1::8480",
        &cleanup.image,
    ]);
    assert!(ok, "{said}");
    let (ok, port) = docker(&["port", &cleanup.container, "8480/tcp"]);
    assert!(ok, "{port}");
    let addr: std::net::SocketAddr = port.lines().next().unwrap().trim().parse().unwrap();
    // The first start compiles the components inside the container.
    let deadline = Instant::now() + Duration::from_secs(120);
    let health = loop {
        if let Some((200, body)) = try_get(addr, "/health").await {
            break body;
        }
        if Instant::now() > deadline {
            let (_, logs) = docker(&["logs", &cleanup.container]);
            panic!("no /health from the container within 120 s:\n{logs}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let health: serde_json::Value = serde_json::from_str(&health).unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["commit"], head());
    drop(cleanup);
}
