//! The home folder holds conversations and tokens: a fresh install is
//! private (folder 0700, the conversation store and the web token 0600),
//! and an older install with loose modes is repaired at start, saying so.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_openpista");

fn serve_once(home: &Path) -> Output {
    Command::new(BIN)
        .args(["serve", "--exit-when-ready"])
        .env("OPENPISTA_HOME", home)
        .env("OPENPISTA_LISTEN", "127.0.0.1:0")
        .env_remove("OPENPISTA_CONFIG")
        .output()
        .unwrap()
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn a_fresh_install_is_private_and_a_loose_one_is_repaired() {
    let root = tempfile::tempdir().unwrap();
    let home = root.path().join("home");
    let out = serve_once(&home);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(mode(&home), 0o700);
    assert_eq!(mode(&home.join("memory.redb")), 0o600);
    assert_eq!(mode(&home.join("web-token")), 0o600);
    assert_eq!(mode(&home.join("cache")), 0o700);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("made private"),
        "nothing to repair on a fresh install: {stderr}"
    );

    // An install from before: everything world-readable.
    for (path, loose) in [
        (home.clone(), 0o755),
        (home.join("memory.redb"), 0o644),
        (home.join("web-token"), 0o644),
        (home.join("cache"), 0o755),
    ] {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(loose)).unwrap();
    }
    let out = serve_once(&home);
    assert!(out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    for name in ["memory.redb", "web-token"] {
        assert!(
            stderr
                .lines()
                .any(|l| l.contains("made private") && l.contains(name) && l.contains("0644")),
            "the repair of {name} is reported: {stderr}"
        );
    }
    assert_eq!(mode(&home), 0o700);
    assert_eq!(mode(&home.join("memory.redb")), 0o600);
    assert_eq!(mode(&home.join("web-token")), 0o600);
    assert_eq!(mode(&home.join("cache")), 0o700);
}
