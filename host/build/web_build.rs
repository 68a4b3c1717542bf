//! Builds the browser chat page (`web/`) and embeds it in the host.
//!
//! `web/client` is Rust for `wasm32-unknown-unknown`. Like the components
//! (see `wasm_build.rs`), it is built by a nested `cargo build` with its own
//! target directory (`target/web`), so the outer cargo's lock on `target/`
//! is never waited for. wasm-bindgen (the `wasm-bindgen-cli-support` crate, the
//! same version as the client's `wasm-bindgen`: no external tool) turns the
//! `.wasm` into `app.js` + `app_bg.wasm`. With `web/static` they are
//! precompressed (gzip and brotli) and written to `$OUT_DIR/web_assets.rs`
//! as `WEB_ASSETS`, which `host/src/server/assets.rs` serves.
//!
//! A failure prints a `cargo:warning` and embeds the static files alone, so
//! the host still builds (and its page says it could not start).
//!
//! Work already done is kept: wasm-bindgen's output under the hash of its
//! input `.wasm`, compressed files under the hash of their content, both in
//! `$OUT_DIR/web`.

use sha2::{Digest, Sha256};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The client crate's package name.
const CLIENT: &str = "openpista-web-client";
/// The cargo profile of the client: optimised for size (root Cargo.toml).
const PROFILE: &str = "web";
/// wasm-bindgen's output names: `app.js` and `app_bg.wasm`.
const STEM: &str = "app";
/// Replaced in text assets by a hash of the build, so a page never loads
/// files of two builds (index.html's `?v=`, sw.js's cache name).
const BUILD_ID_MARKER: &str = "__BUILD_ID__";

/// Replaced in index.html's Content-Security-Policy by the hash of its
/// inline module script, the only script the policy lets run inline.
const SCRIPT_HASH_MARKER: &str = "__SCRIPT_HASH__";

/// One file of the page.
struct Asset {
    /// Its URL path, such as `/app.js`.
    path: String,
    content: Vec<u8>,
}

/// Builds the page and writes `$OUT_DIR/web_assets.rs`.
pub fn build(workspace: &Path) {
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("web");
    let web = workspace.join("web");
    println!("cargo:rerun-if-changed={}", web.display());
    println!("cargo:rerun-if-changed=build/web_build.rs");

    let mut failures = Vec::new();
    let mut assets = match static_files(&web.join("static")) {
        Ok(assets) => assets,
        Err(e) => {
            failures.push(e);
            Vec::new()
        }
    };
    match client(workspace, &out) {
        Ok(mut built) => assets.append(&mut built),
        Err(e) => failures.push(e),
    }
    stamp_build_id(&mut assets);
    for asset in assets.iter_mut().filter(|a| a.path.ends_with(".html")) {
        if let Err(e) = stamp_script_hash(asset) {
            failures.push(e);
        }
    }
    assets.sort_by(|a, b| a.path.cmp(&b.path));

    let code = match embed(&assets, &out.join("blobs")) {
        Ok(code) => code,
        Err(e) => {
            failures.push(e);
            "pub static WEB_ASSETS: &[WebAsset] = &[];\n".to_string()
        }
    };
    let file = out.parent().unwrap().join("web_assets.rs");
    std::fs::write(&file, code).unwrap_or_else(|e| panic!("cannot write {}: {e}", file.display()));
    for failure in failures {
        for line in failure.lines() {
            println!("cargo:warning=web page: {line}");
        }
    }
}

/// The files of `web/static`, served under their names.
fn static_files(dir: &Path) -> Result<Vec<Asset>, String> {
    let mut assets = Vec::new();
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.is_file() {
            assets.push(read_asset(&path, "")?);
        }
    }
    Ok(assets)
}

fn read_asset(file: &Path, prefix: &str) -> Result<Asset, String> {
    let name = file.file_name().unwrap().to_string_lossy();
    let content =
        std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    Ok(Asset {
        path: format!("{prefix}/{name}"),
        content,
    })
}

/// Builds the client for wasm32-unknown-unknown and runs wasm-bindgen on it;
/// returns `app.js`, `app_bg.wasm` and any JS snippets.
fn client(workspace: &Path, out: &Path) -> Result<Vec<Asset>, String> {
    super::wasm_build::ensure_target("wasm32-unknown-unknown");
    let target_dir = workspace.join("target").join("web");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace)
        .args([
            "build",
            "-p",
            CLIENT,
            "--target",
            "wasm32-unknown-unknown",
            "--profile",
            PROFILE,
        ])
        .arg("--target-dir")
        .arg(&target_dir);
    super::wasm_build::clean_env(&mut cmd);
    let output = cmd.output().map_err(|e| format!("cannot run cargo: {e}"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let errors: Vec<&str> = stderr
            .lines()
            .filter(|l| l.starts_with("error") || l.contains("-->"))
            .take(12)
            .collect();
        return Err(format!(
            "building {CLIENT} for wasm32-unknown-unknown failed ({}); the page is embedded without its client.\n\
             {}\nIs the target installed? `rustup target add wasm32-unknown-unknown` (rust-toolchain.toml lists it)",
            output.status,
            errors.join("\n")
        ));
    }
    let wasm = target_dir
        .join("wasm32-unknown-unknown")
        .join(PROFILE)
        .join(format!("{}.wasm", CLIENT.replace('-', "_")));
    let bytes = std::fs::read(&wasm).map_err(|e| format!("cannot read {}: {e}", wasm.display()))?;
    let generated = out.join("bindgen").join(&hash(&bytes)[..16]);
    if !generated.join(format!("{STEM}.js")).is_file() {
        bindgen(&bytes, out, &generated)?;
    }
    let mut assets = Vec::new();
    collect(&generated, "", &mut assets)?;
    Ok(assets)
}

/// Runs wasm-bindgen (`--target web`) on `wasm` into `dest`, replacing the
/// output of earlier builds.
fn bindgen(wasm: &[u8], out: &Path, dest: &Path) -> Result<(), String> {
    let _ = std::fs::remove_dir_all(out.join("bindgen"));
    let tmp = out.join("bindgen-tmp");
    let _ = std::fs::remove_dir_all(&tmp);
    let mut bindgen = wasm_bindgen_cli_support::Bindgen::new();
    bindgen
        .input_bytes(STEM, wasm.to_vec())
        .web(true)
        .map_err(|e| format!("wasm-bindgen: {e:#}"))?
        .typescript(false)
        .remove_name_section(true)
        .remove_producers_section(true)
        .generate(&tmp)
        .map_err(|e| format!("wasm-bindgen: {e:#}"))?;
    std::fs::create_dir_all(dest.parent().unwrap()).map_err(|e| e.to_string())?;
    std::fs::rename(&tmp, dest).map_err(|e| format!("cannot move wasm-bindgen's output: {e}"))
}

/// Every file below `dir`, as assets under `prefix`.
fn collect(dir: &Path, prefix: &str, assets: &mut Vec<Asset>) -> Result<(), String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if path.is_dir() {
            collect(&path, &format!("{prefix}/{name}"), assets)?;
        } else if !name.ends_with(".d.ts") {
            assets.push(read_asset(&path, prefix)?);
        }
    }
    Ok(())
}

/// Replaces [`BUILD_ID_MARKER`] in the text assets with a hash of all the
/// assets that do not contain it.
fn stamp_build_id(assets: &mut [Asset]) {
    let marker = BUILD_ID_MARKER.as_bytes();
    let has_marker = |a: &Asset| a.content.windows(marker.len()).any(|w| w == marker);
    let mut hasher = Sha256::new();
    let mut sorted: Vec<&Asset> = assets.iter().filter(|a| !has_marker(a)).collect();
    sorted.sort_by(|a, b| a.path.cmp(&b.path));
    for a in sorted {
        hasher.update(a.path.as_bytes());
        hasher.update((a.content.len() as u64).to_le_bytes());
        hasher.update(&a.content);
    }
    let id = &hex::encode(hasher.finalize())[..12];
    for a in assets.iter_mut().filter(|a| has_marker(a)) {
        if let Ok(text) = std::str::from_utf8(&a.content) {
            a.content = text.replace(BUILD_ID_MARKER, id).into_bytes();
        }
    }
}

/// Replaces [`SCRIPT_HASH_MARKER`] in an HTML page with `sha256-…` of its
/// `<script type="module">`, as a Content-Security-Policy source.
fn stamp_script_hash(asset: &mut Asset) -> Result<(), String> {
    let Ok(text) = std::str::from_utf8(&asset.content) else {
        return Ok(());
    };
    if !text.contains(SCRIPT_HASH_MARKER) {
        return Ok(());
    }
    const OPEN: &str = "<script type=\"module\">";
    let script = text
        .find(OPEN)
        .map(|start| &text[start + OPEN.len()..])
        .and_then(|rest| rest.find("</script>").map(|end| &rest[..end]))
        .ok_or_else(|| {
            format!(
                "{} names {SCRIPT_HASH_MARKER} but has no {OPEN}",
                asset.path
            )
        })?;
    let source = format!("sha256-{}", base64(&Sha256::digest(script.as_bytes())));
    asset.content = text.replace(SCRIPT_HASH_MARKER, &source).into_bytes();
    Ok(())
}

/// Standard base64 with padding.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Writes each asset and its compressed forms to `blobs` (named by content
/// hash, so unchanged files are not compressed again) and returns the
/// source of `WEB_ASSETS`.
fn embed(assets: &[Asset], blobs: &Path) -> Result<String, String> {
    std::fs::create_dir_all(blobs)
        .map_err(|e| format!("cannot create {}: {e}", blobs.display()))?;
    let mut keep = Vec::new();
    let mut code = String::from(
        "/// The chat page's files, built by host/build/web_build.rs. An empty\n\
         /// `gzip` or `brotli` means that encoding would not be smaller.\n\
         pub static WEB_ASSETS: &[WebAsset] = &[\n",
    );
    for asset in assets {
        let digest = hash(&asset.content);
        let raw = blobs.join(format!("{digest}.raw"));
        let gz = blobs.join(format!("{digest}.gz"));
        let br = blobs.join(format!("{digest}.br"));
        if !(raw.is_file() && gz.is_file() && br.is_file()) {
            write(&gz, &gzip(&asset.content)?)?;
            write(&br, &brotli(&asset.content)?)?;
            write(&raw, &asset.content)?;
        }
        let smaller = |p: &Path| {
            let len = std::fs::metadata(p).map(|m| m.len()).unwrap_or(u64::MAX);
            if len < asset.content.len() as u64 {
                format!("include_bytes!({:?})", p.display().to_string())
            } else {
                "&[]".to_string()
            }
        };
        writeln!(
            code,
            "    WebAsset {{ path: {:?}, mime: {:?}, etag: {:?}, raw: include_bytes!({:?}), gzip: {}, brotli: {} }},",
            asset.path,
            mime(&asset.path),
            format!("\"{}\"", &digest[..20]),
            raw.display().to_string(),
            smaller(&gz),
            smaller(&br),
        )
        .unwrap();
        keep.extend([raw, gz, br]);
    }
    code.push_str("];\n");
    // Drop the blobs of earlier builds.
    if let Ok(entries) = std::fs::read_dir(blobs) {
        for entry in entries.flatten() {
            if !keep.contains(&entry.path()) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    Ok(code)
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    std::fs::write(path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn hash(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn gzip(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(bytes).map_err(|e| e.to_string())?;
    enc.finish().map_err(|e| e.to_string())
}

fn brotli(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let params = brotli::enc::BrotliEncoderParams {
        quality: 11,
        lgwin: 22,
        ..Default::default()
    };
    brotli::BrotliCompress(&mut &bytes[..], &mut out, &params).map_err(|e| e.to_string())?;
    Ok(out)
}

/// The `content-type` of a file, by its extension.
fn mime(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "wasm" => "application/wasm",
        "css" => "text/css; charset=utf-8",
        "webmanifest" => "application/manifest+json",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}
