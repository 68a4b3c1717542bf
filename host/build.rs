//! Builds the first-party components (`components/*`) for wasm32-wasip2 and
//! embeds them in the `openpista` binary, so one binary is a complete install.

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

    let mut code = String::from(
        "/// First-party components built by host/build.rs.\npub static EMBEDDED: &[EmbeddedComponent] = &[\n",
    );
    for b in &built {
        assert!(
            b.manifest.is_file(),
            "{} has no manifest.toml",
            b.manifest.parent().unwrap().display()
        );
        writeln!(
            code,
            "    EmbeddedComponent {{ package: {:?}, wasm: include_bytes!({:?}), manifest: include_str!({:?}) }},",
            b.package,
            b.wasm.display().to_string(),
            b.manifest.display().to_string()
        )
        .unwrap();
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("embedded_components.rs");
    std::fs::write(out, code).unwrap();
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=build/wasm_build.rs");
}
