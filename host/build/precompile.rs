//! Compiles the first-party components the default configuration loads,
//! for the engine the host will run (`openpista_engine::precompile_config`),
//! so a first start deserialises them in milliseconds instead of compiling
//! them (hundreds of milliseconds). The rest stay WebAssembly only: they
//! are compiled on first use and kept in the disk cache, as plugins are.
//!
//! The artifacts are LZ4-compressed in the binary (2.4 MiB to 1.1 MiB for
//! the four): the binary's size and the pages a start touches both count,
//! and LZ4 unpacks in well under a millisecond, where gzip's smaller output
//! cost a start 5-7 ms of CPU.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Packages loaded by `openpista serve` on the default configuration (the
/// web channel, the offline provider, the two tool sets). The host's test
/// `the_default_configuration_loads_only_precompiled_components` holds the
/// two lists together.
pub const DEFAULT_LOADED: &[&str] = &["channel-web", "llm-echo", "tool-basics", "tool-files"];

/// Compiles `wasm` (the component of `package`) into `out_dir` and returns
/// the compressed artifact's path (LZ4 block, size first), or `None` when `package` is not one of
/// [`DEFAULT_LOADED`] or the build was asked for none
/// (`OPENPISTA_PRECOMPILE=0`: a binary 1.2 MiB smaller whose first start
/// compiles, as the benches compare).
pub fn precompile(package: &str, wasm: &Path, out_dir: &Path) -> Option<PathBuf> {
    println!("cargo:rerun-if-env-changed=OPENPISTA_PRECOMPILE");
    if !DEFAULT_LOADED.contains(&package)
        || std::env::var("OPENPISTA_PRECOMPILE").is_ok_and(|v| v == "0")
    {
        return None;
    }
    let engine = engine();
    let bytes =
        std::fs::read(wasm).unwrap_or_else(|e| panic!("cannot read {}: {e}", wasm.display()));
    let compiled = engine
        .precompile_component(&bytes)
        .unwrap_or_else(|e| panic!("cannot precompile {package}: {e:#}"));
    let path = out_dir.join(format!("{package}.cwasm.lz4"));
    std::fs::write(&path, lz4_flex::compress_prepend_size(&compiled))
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    Some(path)
}

/// Packs the WebAssembly of a component that is not precompiled into
/// `out_dir` with gzip (a third of its size; it is unpacked only to be
/// compiled, which takes a hundred times longer); returns the packed
/// file's path.
pub fn gzip(package: &str, wasm: &Path, out_dir: &Path) -> PathBuf {
    let bytes =
        std::fs::read(wasm).unwrap_or_else(|e| panic!("cannot read {}: {e}", wasm.display()));
    let path = out_dir.join(format!("{package}.wasm.gz"));
    write_gzip(&path, &bytes);
    path
}

fn write_gzip(path: &Path, bytes: &[u8]) {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(bytes).unwrap();
    std::fs::write(path, gz.finish().unwrap())
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

/// The engine every artefact is compiled with, built once per build.
fn engine() -> &'static wasmtime::Engine {
    static ENGINE: std::sync::OnceLock<wasmtime::Engine> = std::sync::OnceLock::new();
    ENGINE.get_or_init(|| {
        let target = std::env::var("TARGET").expect("cargo sets TARGET for build scripts");
        let config = openpista_engine::precompile_config(&target)
            .unwrap_or_else(|e| panic!("no engine configuration for {target}: {e:#}"));
        wasmtime::Engine::new(&config)
            .unwrap_or_else(|e| panic!("cannot build an engine for {target}: {e:#}"))
    })
}
