//! The SDK as a dependency for people outside this checkout: `cargo
//! package` makes a crate that builds on its own (WIT included), a binary
//! copied out of the checkout writes templates that depend on the SDK by
//! version, and such a template builds against the packaged crate (patched
//! in, as a registry would serve it). `component wit DIR` writes the WIT
//! package for Python and JavaScript authors.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_openpista");

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTC_WORKSPACE_WRAPPER");
    c
}

fn ok(out: &Output, what: &str) -> String {
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{what} failed:\n{said}");
    said
}

#[test]
fn a_template_made_outside_the_checkout_builds_against_the_packaged_sdk() {
    let work = tempfile::tempdir().unwrap();
    // The binary, copied where no checkout is above it.
    let bin = work.path().join("bin/openpista");
    std::fs::create_dir_all(bin.parent().unwrap()).unwrap();
    std::fs::copy(BIN, &bin).unwrap();
    let run = |args: &[&str]| {
        Command::new(&bin)
            .args(args)
            .env("OPENPISTA_HOME", work.path().join("home"))
            .env_remove("OPENPISTA_CONFIG")
            .output()
            .unwrap()
    };
    ok(
        &run(&[
            "component",
            "new",
            "--kind",
            "tool",
            "outside-tool",
            "--dir",
            work.path().to_str().unwrap(),
        ]),
        "component new",
    );
    let crate_dir = work.path().join("outside-tool");
    let manifest = std::fs::read_to_string(crate_dir.join("Cargo.toml")).unwrap();
    assert!(
        manifest.contains(&format!(
            "openpista-sdk = \"{}\"",
            env!("CARGO_PKG_VERSION")
        )),
        "the template depends on the SDK by version:\n{manifest}"
    );
    assert!(!manifest.contains("path ="), "{manifest}");

    // The SDK as crates.io would get it: `cargo package` builds the
    // packaged sources on their own before it writes the .crate.
    let packaged = workspace().join("target/sdk-package");
    ok(
        &cargo()
            .args(["package", "-p", "openpista-sdk", "--allow-dirty"])
            .current_dir(workspace())
            .env("CARGO_TARGET_DIR", &packaged)
            .output()
            .unwrap(),
        "cargo package -p openpista-sdk",
    );
    let name = format!("openpista-sdk-{}", env!("CARGO_PKG_VERSION"));
    let registry = work.path().join("registry");
    std::fs::create_dir_all(&registry).unwrap();
    ok(
        &Command::new("tar")
            .arg("-xzf")
            .arg(packaged.join(format!("package/{name}.crate")))
            .arg("-C")
            .arg(&registry)
            .output()
            .unwrap(),
        "unpacking the .crate",
    );
    assert!(registry.join(&name).join("wit/worlds.wit").is_file());

    // The template, with the packaged crate standing in for crates.io's.
    std::fs::create_dir_all(crate_dir.join(".cargo")).unwrap();
    std::fs::write(
        crate_dir.join(".cargo/config.toml"),
        format!(
            "[patch.crates-io]\nopenpista-sdk = {{ path = {:?} }}\n",
            registry.join(&name).display().to_string()
        ),
    )
    .unwrap();
    let target = workspace().join("target/wasm-templates");
    ok(
        &cargo()
            .args(["build", "--release", "--target", "wasm32-wasip2"])
            .current_dir(&crate_dir)
            .env("CARGO_TARGET_DIR", &target)
            .output()
            .unwrap(),
        "building the template",
    );
    let wasm = target.join("wasm32-wasip2/release/outside_tool.wasm");
    let inspected = ok(
        &run(&["component", "inspect", wasm.to_str().unwrap()]),
        "component inspect",
    );
    assert!(inspected.contains("tool"), "{inspected}");
    // Cargo took the packaged SDK, not the checkout's.
    let lock = std::fs::read_to_string(crate_dir.join("Cargo.lock")).unwrap();
    assert!(lock.contains("name = \"openpista-sdk\""), "{lock}");
}

#[test]
fn component_wit_writes_the_package_this_host_speaks() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("wit");
    let out = Command::new(BIN)
        .args(["component", "wit", dir.to_str().unwrap()])
        .env("OPENPISTA_HOME", work.path().join("home"))
        .output()
        .unwrap();
    let said = ok(&out, "component wit");
    assert!(said.contains("componentize-py"), "{said}");
    let mut written: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    written.sort();
    let mut expected: Vec<String> = std::fs::read_dir(workspace().join("wit"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".wit"))
        .collect();
    expected.sort();
    assert_eq!(written, expected);
    for name in &written {
        assert_eq!(
            std::fs::read_to_string(dir.join(name)).unwrap(),
            std::fs::read_to_string(workspace().join("wit").join(name)).unwrap(),
            "{name}"
        );
    }
}
