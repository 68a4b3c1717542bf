//! Fixtures shared by the end-to-end tests: the compiled test components
//! and helpers to install them into a plugin folder.

use std::path::{Path, PathBuf};

include!(concat!(env!("OUT_DIR"), "/fixtures.rs"));

/// The built `.wasm` of fixture `package`.
pub fn wasm(package: &str) -> PathBuf {
    FIXTURES
        .iter()
        .find(|(p, _, _)| *p == package)
        .map(|(_, w, _)| PathBuf::from(w))
        .unwrap_or_else(|| panic!("no fixture {package}"))
}

/// The `manifest.toml` text of fixture `package`.
pub fn manifest(package: &str) -> String {
    let path = FIXTURES
        .iter()
        .find(|(p, _, _)| *p == package)
        .map(|(_, _, m)| PathBuf::from(m))
        .unwrap_or_else(|| panic!("no fixture {package}"));
    std::fs::read_to_string(path).unwrap()
}

/// Writes `bytes` as `dir/name.wasm` and `manifest` as `dir/name.toml`,
/// each atomically (temp file + rename), manifest first.
pub fn install(dir: &Path, name: &str, bytes: &[u8], manifest: &str) {
    std::fs::create_dir_all(dir).unwrap();
    let write = |file: PathBuf, data: &[u8]| {
        let tmp = dir.join(format!(".{}.tmp", file.file_name().unwrap().to_string_lossy()));
        std::fs::write(&tmp, data).unwrap();
        std::fs::rename(&tmp, &file).unwrap();
    };
    write(dir.join(format!("{name}.toml")), manifest.as_bytes());
    write(dir.join(format!("{name}.wasm")), bytes);
}

/// `bytes` with a custom section appended: a different file (and content
/// hash) that behaves the same, for exercising recompiles and swaps.
pub fn with_custom_section(bytes: &[u8], label: &str) -> Vec<u8> {
    let name = b"openpista-test";
    let mut payload = Vec::new();
    leb128(&mut payload, name.len() as u64);
    payload.extend_from_slice(name);
    payload.extend_from_slice(label.as_bytes());
    let mut out = bytes.to_vec();
    out.push(0); // custom section id
    leb128(&mut out, payload.len() as u64);
    out.extend(payload);
    out
}

fn leb128(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}
