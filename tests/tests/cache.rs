//! The compile cache: a restart with unchanged components deserialises
//! every one of them and compiles none.

use openpista_tests::{install, manifest, runtime, wasm, with_custom_section};
use std::sync::atomic::Ordering;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warm_restart_compiles_nothing() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("components");
    let legacy = std::fs::read(wasm("legacy-tool")).unwrap();
    install(&dir, "legacy-tool", &legacy, &manifest("legacy-tool"));
    install(
        &dir,
        "hostile",
        &std::fs::read(wasm("hostile")).unwrap(),
        &manifest("hostile"),
    );
    // Eight more distinct components (different bytes, different names).
    for i in 0..8 {
        let name = format!("copy-{i}");
        let text = manifest("legacy-tool")
            .replace("name = \"legacy-tool\"", &format!("name = \"{name}\""));
        install(&dir, &name, &with_custom_section(&legacy, &name), &text);
    }

    let cold = runtime(root.path(), &[]);
    assert!(cold.load_all().await.is_empty());
    assert_eq!(cold.components().len(), 10);
    assert_eq!(cold.cache().stats.compiled.load(Ordering::SeqCst), 10);
    assert_eq!(
        cold.cache().stats.loaded_from_disk.load(Ordering::SeqCst),
        0
    );
    drop(cold);

    let warm = runtime(root.path(), &[]);
    assert!(warm.load_all().await.is_empty());
    assert_eq!(warm.components().len(), 10);
    assert_eq!(
        warm.cache().stats.compiled.load(Ordering::SeqCst),
        0,
        "a warm restart compiled"
    );
    assert_eq!(
        warm.cache().stats.loaded_from_disk.load(Ordering::SeqCst),
        10
    );
    // And what came from the cache runs.
    let out = warm
        .get("copy-3")
        .unwrap()
        .invoke("legacy.greet", "{}", &openpista_tests::ctx("c"))
        .await
        .unwrap();
    assert!(
        out.content.starts_with("hello from 0.1.0"),
        "{}",
        out.content
    );
    drop(warm);

    // A changed component is compiled again, only that one; a corrupt cache
    // entry is discarded and rebuilt rather than trusted.
    install(
        &dir,
        "copy-0",
        &with_custom_section(&legacy, "changed"),
        &manifest("legacy-tool").replace("name = \"legacy-tool\"", "name = \"copy-0\""),
    );
    for entry in std::fs::read_dir(root.path().join("cache")).unwrap() {
        let path = entry.unwrap().path();
        let hash = openpista::runtime::cache::content_hash(&with_custom_section(&legacy, "copy-1"));
        if path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with(&hash)
        {
            std::fs::write(&path, b"corrupt").unwrap();
        }
    }
    let again = runtime(root.path(), &[]);
    assert!(again.load_all().await.is_empty());
    assert_eq!(again.cache().stats.compiled.load(Ordering::SeqCst), 2);
    assert_eq!(
        again.cache().stats.loaded_from_disk.load(Ordering::SeqCst),
        8
    );
}
