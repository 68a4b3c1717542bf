//! Builds workspace crates for `wasm32-wasip2` from a build script.
//!
//! The host is native and its components are WebAssembly, so `cargo build`
//! of the host runs a nested `cargo build --target wasm32-wasip2` with its
//! own target directory (`target/wasm`), the way wasmtime builds its test
//! programs. A newcomer never needs a separate step. Shared by
//! `host/build.rs` (first-party components, embedded in the binary) and
//! `tests/build.rs` (test fixtures).

use std::path::{Path, PathBuf};
use std::process::Command;

/// One built component.
pub struct Built {
    /// The crate's package name, such as `tool-basics`.
    pub package: String,
    /// The built `.wasm` component.
    pub wasm: PathBuf,
    /// The crate's `manifest.toml`.
    pub manifest: PathBuf,
}

/// Crate folders directly below `dir` that have a `Cargo.toml`, sorted.
pub fn crate_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.join("Cargo.toml").is_file())
        .collect();
    dirs.sort();
    dirs
}

/// The `name` of the `[package]` table of a crate's Cargo.toml.
fn package_name(crate_dir: &Path) -> String {
    let manifest = crate_dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", manifest.display()));
    let mut in_package = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if in_package && let Some(rest) = line.strip_prefix("name") {
            let value = rest.trim_start().trim_start_matches('=').trim();
            return value.trim_matches('"').to_string();
        }
    }
    panic!("{} has no [package] name", manifest.display());
}

/// Builds `crates` (folders of workspace members) for wasm32-wasip2 with the
/// `wasm` profile and returns where each component landed.
pub fn build(workspace: &Path, crates: &[PathBuf]) -> Vec<Built> {
    if crates.is_empty() {
        return Vec::new();
    }
    println!("cargo:rerun-if-changed={}", workspace.join("wit").display());
    println!("cargo:rerun-if-changed={}", workspace.join("sdk").display());
    println!(
        "cargo:rerun-if-changed={}",
        workspace.join("Cargo.lock").display()
    );
    ensure_target("wasm32-wasip2");
    let target_dir = workspace.join("target").join("wasm");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace)
        .args(["build", "--target", "wasm32-wasip2", "--profile", "wasm"])
        .arg("--target-dir")
        .arg(&target_dir);
    let mut packages = Vec::new();
    for dir in crates {
        println!("cargo:rerun-if-changed={}", dir.display());
        let package = package_name(dir);
        cmd.args(["-p", &package]);
        packages.push((package, dir.clone()));
    }
    clean_env(&mut cmd);
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("cannot run cargo for the wasm components: {e}"));
    if !status.success() {
        panic!(
            "building the wasm32-wasip2 components failed ({status}); is the target installed? \
             `rustup target add wasm32-wasip2` (rust-toolchain.toml lists it)"
        );
    }
    let out = target_dir.join("wasm32-wasip2").join("wasm");
    packages
        .into_iter()
        .map(|(package, dir)| {
            let wasm = out.join(format!("{}.wasm", package.replace('-', "_")));
            assert!(wasm.is_file(), "{} was not built", wasm.display());
            Built {
                package,
                wasm,
                manifest: dir.join("manifest.toml"),
            }
        })
        .collect()
}

/// Makes sure the standard library for `target` is installed, adding it
/// with rustup when it is not.
///
/// rust-toolchain.toml lists the wasm targets, but rustup installs them only
/// when it installs the toolchain itself: a machine that already had the
/// pinned toolchain lacks them, and the nested build would fail with
/// "can't find crate for `std`". Adding the target here keeps `cargo run`
/// a single step there too.
pub fn ensure_target(target: &str) {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let libdir = Command::new(&rustc)
        .args(["--print", "target-libdir", "--target", target])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    if libdir.is_some_and(|dir| dir.is_dir()) {
        return;
    }
    println!(
        "cargo:warning=the {target} target is not installed; running `rustup target add {target}`"
    );
    let added = Command::new("rustup")
        .args(["target", "add", target])
        .status()
        .is_ok_and(|s| s.success());
    if !added {
        panic!(
            "the {target} target is not installed and `rustup target add {target}` failed; \
             install it and build again (rust-toolchain.toml lists it)"
        );
    }
}

/// Removes the outer cargo's settings from a nested build: they are for
/// the host target, and none of them may leak into a wasm build (clippy's
/// wrapper, RUSTFLAGS, the jobserver). `web_build.rs` uses it too.
pub fn clean_env(cmd: &mut Command) {
    for (key, _) in std::env::vars() {
        if key.starts_with("CARGO_PROFILE_")
            || key.starts_with("CARGO_CFG_")
            || key.starts_with("CARGO_FEATURE_")
            || matches!(
                key.as_str(),
                "CARGO_ENCODED_RUSTFLAGS"
                    | "RUSTFLAGS"
                    | "CARGO_TARGET_DIR"
                    | "CARGO_BUILD_TARGET"
                    | "RUSTC_WORKSPACE_WRAPPER"
                    | "RUSTC_WRAPPER"
                    | "CARGO_MAKEFLAGS"
                    | "MAKEFLAGS"
                    | "MFLAGS"
                    | "CARGO_PRIMARY_PACKAGE"
                    | "DEBUG"
                    | "OPT_LEVEL"
                    | "PROFILE"
                    | "TARGET"
                    | "HOST"
                    | "NUM_JOBS"
                    | "OUT_DIR"
            )
        {
            cmd.env_remove(key);
        }
    }
}
