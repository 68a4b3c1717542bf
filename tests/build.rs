//! Builds the test fixture components (`tests/components/*`) and the Rust
//! example skills (`skills/*` with a Cargo.toml) for wasm32-wasip2 and
//! records where they landed.

#[path = "../host/build/wasm_build.rs"]
mod wasm_build;

use std::fmt::Write;
use std::path::PathBuf;

fn main() {
    let here = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let workspace = here.parent().unwrap().to_path_buf();
    // The test fixtures, and the Rust example skills (built here so the
    // skill tests load what a skill author would build).
    let mut crates = wasm_build::crate_dirs(&here.join("components"));
    crates.extend(wasm_build::crate_dirs(&workspace.join("skills")));
    let built = wasm_build::build(&workspace, &crates);
    let mut code = String::from(
        "/// Test fixtures: (package, wasm path, manifest path).\npub const FIXTURES: &[(&str, &str, &str)] = &[\n",
    );
    for b in &built {
        writeln!(
            code,
            "    ({:?}, {:?}, {:?}),",
            b.package,
            b.wasm.display().to_string(),
            b.manifest.display().to_string()
        )
        .unwrap();
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("fixtures.rs");
    std::fs::write(out, code).unwrap();
    println!("cargo:rerun-if-changed=build.rs");
}
