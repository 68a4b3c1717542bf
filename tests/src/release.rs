//! The musl release archive `release/build.sh` makes before the tests
//! (`.ci/run` runs `bash release/build.sh --profile dev --out
//! target/release-artifacts`; `OPENPISTA_RELEASE_DIR` points elsewhere).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The checkout.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The musl archive and its SHA256SUMS, when built; `None` after a loud
/// skip (a failure under CI) otherwise.
pub fn archive() -> Option<(PathBuf, PathBuf)> {
    let dir = std::env::var_os("OPENPISTA_RELEASE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/release-artifacts"));
    let found = std::fs::read_dir(&dir).ok().and_then(|entries| {
        entries.filter_map(|e| e.ok()).map(|e| e.path()).find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with("-x86_64-unknown-linux-musl.tar.gz"))
        })
    });
    let present = match &found {
        Some(_) if dir.join("SHA256SUMS").is_file() => Ok(()),
        _ => Err(format!(
            "no release archive in {} (bash release/build.sh --profile dev --out target/release-artifacts)",
            dir.display()
        )),
    };
    crate::native::require("the musl release archive", present)
        .then(|| (found.unwrap(), dir.join("SHA256SUMS")))
}

/// The static `openpista` of the archive, unpacked into `dir`.
pub fn static_binary(dir: &Path) -> Option<PathBuf> {
    let (archive, _) = archive()?;
    let out = Command::new("tar")
        .arg("xzf")
        .arg(&archive)
        .arg("-C")
        .arg(dir)
        .arg("--strip-components=1")
        .arg("--wildcards")
        .arg("*/openpista")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "tar: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(dir.join("openpista"))
}
