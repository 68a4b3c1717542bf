//! Signed components through the real command line: a key made by
//! `component keygen`, a component signed by `component sign`, installed
//! against `[runtime] trusted_keys`; altered after signing, signed by a
//! stranger, or unsigned where signatures are required, it is refused with
//! the reason, by `install` and when the plugin folder is loaded.

use super::{Setup, mode};
use std::path::{Path, PathBuf};

const NAME: &str = "legacy-tool";

/// The component and its manifest, copied to `dir` as a publisher ships
/// them.
fn publish(dir: &Path, wasm: &[u8]) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let file = dir.join(format!("{NAME}.wasm"));
    std::fs::write(&file, wasm).unwrap();
    std::fs::write(
        dir.join(format!("{NAME}.toml")),
        openpista_tests::manifest(NAME),
    )
    .unwrap();
    file
}

/// `component keygen` into the test's folder: the key file and the
/// public key it printed.
async fn keygen(setup: &Setup, file: &str) -> (PathBuf, String) {
    let key = setup.dir.path().join(file);
    let (code, out, err) = setup
        .output(&["component", "keygen", &key.display().to_string()])
        .await;
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(mode(&key), 0o600);
    let public = out
        .lines()
        .find(|l| l.starts_with("ed25519:"))
        .unwrap_or_else(|| panic!("no public key printed: {out}"))
        .to_string();
    (key, public)
}

async fn sign(setup: &Setup, file: &Path, key: &Path) {
    let (code, out, err) = setup
        .output(&[
            "component",
            "sign",
            &file.display().to_string(),
            "--key",
            &key.display().to_string(),
        ])
        .await;
    assert_eq!(code, 0, "{out}{err}");
}

async fn install(setup: &Setup, file: &Path) -> (i32, String) {
    let (code, out, err) = setup
        .output(&["component", "install", "--yes", &file.display().to_string()])
        .await;
    (code, format!("{out}{err}"))
}

/// The `component list --json` row of `NAME`.
async fn row(setup: &Setup) -> serde_json::Value {
    let (_, out, err) = setup.output(&["component", "list", "--json"]).await;
    let rows: Vec<serde_json::Value> =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}{err}"));
    rows.into_iter()
        .find(|r| r["name"] == NAME)
        .unwrap_or_else(|| panic!("no {NAME} row: {out}"))
}

/// Rewrites the config's `[runtime]` with the plugin folder, trusted keys
/// and whether signatures are required.
fn trust(setup: &Setup, keys: &[&str], require: bool) -> PathBuf {
    let plugins = setup.dir.path().join("plugins");
    let text = std::fs::read_to_string(&setup.config).unwrap().replace(
        "plugin_dirs = []",
        &format!(
            "plugin_dirs = [\"{}\"]\ntrusted_keys = [{}]\nrequire_signatures = {require}",
            plugins.display(),
            keys.iter()
                .map(|k| format!("\"{k}\""))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );
    std::fs::write(&setup.config, text).unwrap();
    plugins
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trusted_signature_installs_and_tampering_or_a_stranger_is_refused() {
    let setup = Setup::new(None, "unused", "");
    let (key, public) = keygen(&setup, "publisher.key").await;
    let (stranger_key, _) = keygen(&setup, "stranger.key").await;
    let plugins = trust(&setup, &[&public], false);
    let original = std::fs::read(openpista_tests::wasm(NAME)).unwrap();

    // Signed by the trusted key: installed, the signature beside it.
    let file = publish(&setup.dir.path().join("good"), &original);
    sign(&setup, &file, &key).await;
    let (code, out) = install(&setup, &file).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("signature:      signed by ed25519:"), "{out}");
    assert!(plugins.join(format!("{NAME}.sig")).is_file());
    let listed = row(&setup).await;
    assert_eq!(listed["state"], "active", "{listed}");
    assert_eq!(
        listed["provenance"],
        format!("signed by {}…", &public[..8 + 12]),
        "{listed}"
    );

    // Altered after signing (still a valid component: one more custom
    // section): refused, and nothing of it is installed.
    let altered = openpista_tests::with_custom_section(&original, "added-later");
    let file = publish(&setup.dir.path().join("altered"), &altered);
    std::fs::copy(
        setup.dir.path().join(format!("good/{NAME}.sig")),
        file.with_extension("sig"),
    )
    .unwrap();
    let (code, out) = install(&setup, &file).await;
    assert_ne!(code, 0);
    assert!(out.contains("changed after it was signed"), "{out}");
    assert_eq!(
        std::fs::read(plugins.join(format!("{NAME}.wasm"))).unwrap(),
        original
    );

    // Signed by a key nobody trusts: refused, naming the key.
    let file = publish(&setup.dir.path().join("stranger"), &original);
    sign(&setup, &file, &stranger_key).await;
    let (code, out) = install(&setup, &file).await;
    assert_ne!(code, 0);
    assert!(out.contains("not in [runtime] trusted_keys"), "{out}");

    // The plugin folder is checked on load too: the altered bytes dropped
    // in beside the good signature are refused when loaded.
    std::fs::write(plugins.join(format!("{NAME}.wasm")), &altered).unwrap();
    let listed = row(&setup).await;
    assert_ne!(listed["state"], "active", "{listed}");
    assert!(
        listed["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("changed after it was signed")),
        "{listed}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsigned_components_load_as_unsigned_unless_signatures_are_required() {
    let setup = Setup::new(None, "unused", "");
    let (_, public) = keygen(&setup, "publisher.key").await;
    let plugins = trust(&setup, &[&public], false);
    let original = std::fs::read(openpista_tests::wasm(NAME)).unwrap();
    let file = publish(&setup.dir.path().join("unsigned"), &original);
    let (code, out) = install(&setup, &file).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("signature:      unsigned"), "{out}");
    assert_eq!(row(&setup).await["provenance"], "unsigned");

    // The operator now requires signatures: the same files are refused,
    // by install and on load.
    let text = std::fs::read_to_string(&setup.config)
        .unwrap()
        .replace("require_signatures = false", "require_signatures = true");
    std::fs::write(&setup.config, text).unwrap();
    let (code, out) = install(&setup, &file).await;
    assert_ne!(code, 0);
    assert!(out.contains("require_signatures"), "{out}");
    assert!(plugins.join(format!("{NAME}.wasm")).is_file());
    let listed = row(&setup).await;
    assert!(
        listed["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("unsigned")),
        "{listed}"
    );
}
