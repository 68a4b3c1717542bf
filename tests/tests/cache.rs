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
    // Eight more distinct components (different bytes, names and tools:
    // two components may not list the same tool).
    let shape = std::fs::read(wasm("shapeshifter")).unwrap();
    let copy_manifest = |name: &str| {
        manifest("shapeshifter")
            .replace("name = \"shapeshifter\"", &format!("name = \"{name}\""))
            .replace("tool = \"shape.echo\"", &format!("tool = \"{name}.echo\""))
    };
    for i in 0..8 {
        let name = format!("copy-{i}");
        install(
            &dir,
            &name,
            &with_custom_section(&shape, &name),
            &copy_manifest(&name),
        );
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
        .invoke("copy-3.echo", "{}", &openpista_tests::ctx("c"))
        .await
        .unwrap();
    assert_eq!(out.content, "shapeshifter got {}");
    drop(warm);

    // A changed component is compiled again, only that one; a corrupt cache
    // entry is discarded and rebuilt rather than trusted.
    install(
        &dir,
        "copy-0",
        &with_custom_section(&shape, "changed"),
        &copy_manifest("copy-0"),
    );
    for entry in std::fs::read_dir(root.path().join("cache")).unwrap() {
        let path = entry.unwrap().path();
        let hash = openpista::runtime::cache::content_hash(&with_custom_section(&shape, "copy-1"));
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

/// The entry a runtime over `root` keeps for the component with these bytes.
fn entry_for(root: &std::path::Path, bytes: &[u8]) -> std::path::PathBuf {
    let hash = openpista::runtime::cache::content_hash(bytes);
    std::fs::read_dir(root.join("cache"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(&hash))
        .expect("a cache entry for the component")
}

fn warnings(rt: &openpista::runtime::Runtime) -> Vec<String> {
    rt.cache().stats.warnings.lock().unwrap().clone()
}

/// A cache entry is native code the host will run: one that was planted (a
/// valid artifact, but not written by this install), altered by a single
/// byte, or made writable by others is refused with a warning and the
/// component compiled afresh; the rewritten entry is trusted again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planted_altered_and_loose_entries_are_recompiled() {
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("components");
    let legacy = std::fs::read(wasm("legacy-tool")).unwrap();
    install(&dir, "legacy-tool", &legacy, &manifest("legacy-tool"));

    let first = runtime(root.path(), &[]);
    assert!(first.load_all().await.is_empty());
    drop(first);
    let entry = entry_for(root.path(), &legacy);
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&root.path().join("cache")), 0o700);
    assert_eq!(mode(&entry), 0o600);
    assert_eq!(mode(&root.path().join("cache/key")), 0o600);
    let genuine = std::fs::read(&entry).unwrap();

    // Planted: a real artifact of this very engine, serialised by another
    // install (another key), dropped in under the right name.
    let other = tempfile::tempdir().unwrap();
    install(
        &other.path().join("components"),
        "legacy-tool",
        &legacy,
        &manifest("legacy-tool"),
    );
    let elsewhere = runtime(other.path(), &[]);
    assert!(elsewhere.load_all().await.is_empty());
    drop(elsewhere);
    let foreign = std::fs::read(entry_for(other.path(), &legacy)).unwrap();
    assert_ne!(foreign, genuine, "two installs sign differently");
    std::fs::write(&entry, &foreign).unwrap();

    let rt = runtime(root.path(), &[]);
    assert!(rt.load_all().await.is_empty());
    let stats = &rt.cache().stats;
    assert_eq!(stats.loaded_from_disk.load(Ordering::SeqCst), 0);
    assert_eq!(stats.compiled.load(Ordering::SeqCst), 1);
    assert_eq!(stats.rejected.load(Ordering::SeqCst), 1);
    let w = warnings(&rt);
    assert!(
        w.iter().any(|m| m.contains("planted or altered")),
        "warning names the reason: {w:?}"
    );
    let out = rt
        .get("legacy-tool")
        .unwrap()
        .invoke("legacy.greet", "{}", &openpista_tests::ctx("c"))
        .await
        .unwrap();
    assert!(
        out.content.starts_with("hello from 0.1.0"),
        "{}",
        out.content
    );
    drop(rt);

    // The recompiled entry is genuine again and is loaded.
    let rt = runtime(root.path(), &[]);
    assert!(rt.load_all().await.is_empty());
    assert_eq!(rt.cache().stats.loaded_from_disk.load(Ordering::SeqCst), 1);
    assert_eq!(rt.cache().stats.rejected.load(Ordering::SeqCst), 0);
    drop(rt);

    // Altered: one byte of the artifact flipped, far from the header.
    let mut altered = std::fs::read(&entry).unwrap();
    let at = altered.len() / 2;
    altered[at] ^= 0x01;
    std::fs::write(&entry, &altered).unwrap();
    let rt = runtime(root.path(), &[]);
    assert!(rt.load_all().await.is_empty());
    assert_eq!(rt.cache().stats.compiled.load(Ordering::SeqCst), 1);
    assert_eq!(rt.cache().stats.rejected.load(Ordering::SeqCst), 1);
    drop(rt);

    // Genuine bytes, but writable by other users: not trusted either.
    std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(0o666)).unwrap();
    let rt = runtime(root.path(), &[]);
    assert!(rt.load_all().await.is_empty());
    assert_eq!(rt.cache().stats.compiled.load(Ordering::SeqCst), 1);
    let w = warnings(&rt);
    assert!(
        w.iter().any(|m| m.contains("writable by other users")),
        "{w:?}"
    );
    assert_eq!(mode(&entry), 0o600, "the rewritten entry is private");
}
