//! The web chat's bundle: every embedded file of the page as built, gzipped
//! and brotli-compressed, and what a first visit downloads (the brotli
//! form, or the raw file where compression would not make it smaller),
//! beside the raw total as the baseline. Report: BENCHMARKS.md.
//!
//! cargo bench -p openpista --bench web_bundle
//!
//! The figures come from the assets `host/build/web_build.rs` embedded in
//! this very build, so they are the bytes `serve` sends.

use openpista::server::assets::WEB_ASSETS;

/// Bytes sent for `raw` when the other form is empty (not smaller).
fn sent(compressed: &[u8], raw: &[u8]) -> usize {
    if compressed.is_empty() {
        raw.len()
    } else {
        compressed.len()
    }
}

fn main() {
    assert!(!WEB_ASSETS.is_empty(), "the page was not embedded");
    let client = WEB_ASSETS.iter().any(|a| a.path.ends_with(".wasm"));
    assert!(
        client,
        "the Rust client (.wasm) is missing from the embedded page: the web build failed"
    );
    println!(
        "{:<28} {:>10} {:>10} {:>10}",
        "file", "raw", "gzip", "brotli"
    );
    let (mut raw, mut gzip, mut brotli) = (0, 0, 0);
    for a in WEB_ASSETS {
        let (r, g, b) = (a.raw.len(), sent(a.gzip, a.raw), sent(a.brotli, a.raw));
        println!("{:<28} {r:>10} {g:>10} {b:>10}", a.path);
        raw += r;
        gzip += g;
        brotli += b;
    }
    println!("{:<28} {raw:>10} {gzip:>10} {brotli:>10}", "total");
    println!(
        "first visit (brotli): {:.1} KiB, {:.3}x the raw bundle; gzip {:.3}x",
        brotli as f64 / 1024.0,
        brotli as f64 / raw as f64,
        gzip as f64 / raw as f64
    );
}
