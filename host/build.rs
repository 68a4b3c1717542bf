//! Builds the first-party components (`components/*`) for wasm32-wasip2 and
//! embeds them in the `openpista` binary, so one binary is a complete install.

#[path = "build/precompile.rs"]
mod precompile;
#[path = "build/wasm_build.rs"]
mod wasm_build;
#[path = "build/web_build.rs"]
mod web_build;

use std::fmt::Write;
use std::path::PathBuf;

fn main() {
    let host = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let workspace = host.parent().unwrap().to_path_buf();
    let crates = wasm_build::crate_dirs(&workspace.join("components"));
    let built = wasm_build::build(&workspace, &crates);
    web_build::build(&workspace);

    let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let mut code = String::from(
        "/// First-party components built by host/build.rs.\npub static EMBEDDED: &[EmbeddedComponent] = &[\n",
    );
    for b in &built {
        assert!(
            b.manifest.is_file(),
            "{} has no manifest.toml",
            b.manifest.parent().unwrap().display()
        );
        // A precompiled component keeps its WebAssembly as built (a start
        // hashes it and reads its shape); the others are packed until used.
        let (precompiled, wasm, gzipped) =
            match precompile::precompile(&b.package, &b.wasm, &out_dir) {
                Some(path) => (
                    format!("Some(include_bytes!({path:?}))"),
                    b.wasm.clone(),
                    false,
                ),
                None => (
                    "None".to_string(),
                    precompile::gzip(&b.package, &b.wasm, &out_dir),
                    true,
                ),
            };
        writeln!(
            code,
            "    EmbeddedComponent {{ package: {:?}, wasm: include_bytes!({:?}), gzipped: {gzipped}, manifest: include_str!({:?}), precompiled: {precompiled} }},",
            b.package,
            wasm.display().to_string(),
            b.manifest.display().to_string()
        )
        .unwrap();
    }
    code.push_str("];\n");
    let out = out_dir.join("embedded_components.rs");
    std::fs::write(out, code).unwrap();
    commit(&workspace);
    wit_files(&workspace);
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=build/wasm_build.rs");
    println!("cargo:rerun-if-changed=build/precompile.rs");
}

/// `OPENPISTA_COMMIT`: the commit this binary was built from, for
/// `--version` and `/health` (`unknown` outside a git checkout, as when
/// built from a package). Edits since that commit are not marked: the
/// working tree is not something a build script can watch cheaply.
fn commit(workspace: &std::path::Path) {
    let commit = std::process::Command::new("git")
        .arg("-C")
        .arg(workspace)
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|hash| !hash.is_empty())
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=OPENPISTA_COMMIT={commit}");
    // A new commit or a checkout moves HEAD or the branch it names (a
    // loose ref, or packed-refs once git packed it).
    let git_dir = workspace.join(".git");
    if git_dir.is_dir() {
        println!("cargo:rerun-if-changed={}", git_dir.join("HEAD").display());
        let branch = std::fs::read_to_string(git_dir.join("HEAD"))
            .ok()
            .and_then(|h| h.strip_prefix("ref: ").map(|r| git_dir.join(r.trim())));
        for watched in branch.into_iter().chain([git_dir.join("packed-refs")]) {
            if watched.is_file() {
                println!("cargo:rerun-if-changed={}", watched.display());
            }
        }
    }
}

/// `wit_files.rs`: the current WIT package (`wit/*.wit`, not the frozen
/// `since_*` copies), for `openpista component wit DIR`.
fn wit_files(workspace: &std::path::Path) {
    let dir = workspace.join("wit");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("wit/ is readable")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "wit"))
        .collect();
    files.sort();
    let mut code = String::from(
        "/// The WIT package this host speaks: (file name, text).\npub static WIT_FILES: &[(&str, &str)] = &[\n",
    );
    for file in &files {
        writeln!(
            code,
            "    ({:?}, include_str!({:?})),",
            file.file_name().unwrap().to_string_lossy(),
            file.display().to_string()
        )
        .unwrap();
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("wit_files.rs");
    std::fs::write(out, code).unwrap();
    println!("cargo:rerun-if-changed={}", dir.display());
}
