//! Hot swap: components replaced in a watched plugin folder while calls
//! keep running. No call may fail because of a swap; new calls reach the
//! new version soon after its file lands; a broken file leaves the old
//! version serving with its error visible.

use openpista::runtime::watch;
use openpista::runtime::{Runtime, SlotState};
use openpista::tools::ToolRegistry;
use openpista_tests::{ctx, install, manifest, runtime, wasm, with_custom_section};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The legacy-tool manifest with `greeting` set to `label`.
fn manifest_with(label: &str) -> String {
    manifest("legacy-tool").replace("hello from 0.1.0", label)
}

async fn answer(rt: &Arc<Runtime>) -> Result<String, String> {
    let registry = ToolRegistry::new(rt.clone());
    registry
        .invoke("legacy.greet", "{}", &ctx("swap"))
        .await
        .map(|r| r.content)
        .map_err(|e| e.to_string())
}

/// legacy-tool at "v0" in `root/components`, loaded and watched: the
/// folder, the original WebAssembly, the runtime and the watch.
async fn watched(
    root: &std::path::Path,
) -> (
    std::path::PathBuf,
    Vec<u8>,
    Arc<Runtime>,
    watch::WatchHandle,
) {
    let dir = root.join("components");
    let original = std::fs::read(wasm("legacy-tool")).unwrap();
    install(&dir, "legacy-tool", &original, &manifest_with("v0"));
    let rt = runtime(root, &[]);
    assert!(rt.load_all().await.is_empty());
    let handle = watch::watch(rt.clone()).unwrap();
    (dir, original, rt, handle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_swaps_under_load_lose_no_call() {
    let root = tempfile::tempdir().unwrap();
    let (dir, original, rt, _watch) = watched(root.path()).await;

    let stop = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let mut load = Vec::new();
    for _ in 0..4 {
        let (rt, stop, calls, failures) =
            (rt.clone(), stop.clone(), calls.clone(), failures.clone());
        load.push(tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                match answer(&rt).await {
                    Ok(text) => assert!(text.starts_with('v'), "{text}"),
                    Err(e) => failures.lock().unwrap().push(e),
                }
                calls.fetch_add(1, Ordering::SeqCst);
            }
        }));
    }

    let mut latencies = Vec::new();
    for i in 1..=20 {
        let label = format!("v{i}");
        // A different file each time (new hash, so a real recompile).
        let bytes = with_custom_section(&original, &label);
        let landed = Instant::now();
        install(&dir, "legacy-tool", &bytes, &manifest_with(&label));
        loop {
            if answer(&rt)
                .await
                .is_ok_and(|t| t.starts_with(&format!("{label} ")))
            {
                break;
            }
            assert!(
                landed.elapsed() < Duration::from_secs(60),
                "version {label} never answered"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        latencies.push(landed.elapsed());
    }
    stop.store(true, Ordering::SeqCst);
    for task in load {
        task.await.unwrap();
    }
    let failures = failures.lock().unwrap();
    assert!(
        failures.is_empty(),
        "calls failed during swaps: {failures:?}"
    );
    latencies.sort();
    println!(
        "hot swap: {} calls during 20 swaps, 0 failed; file-landed-to-new-version median {:?}, max {:?}",
        calls.load(Ordering::SeqCst),
        latencies[latencies.len() / 2],
        latencies.last().unwrap()
    );
    assert!(calls.load(Ordering::SeqCst) > 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_component_leaves_the_previous_version_serving() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("components");
    let original = std::fs::read(wasm("legacy-tool")).unwrap();
    install(&dir, "legacy-tool", &original, &manifest_with("good"));
    let rt = runtime(root.path(), &[]);
    assert!(rt.load_all().await.is_empty());

    // Garbage bytes: refused, old version keeps answering, error visible.
    install(&dir, "legacy-tool", b"\0asm garbage", &manifest_with("bad"));
    let err = rt.reload("legacy-tool").await.unwrap_err();
    assert!(
        format!("{err:#}").contains("not a valid WebAssembly binary"),
        "{err:#}"
    );
    assert!(answer(&rt).await.unwrap().starts_with("good "));
    let status = rt.status();
    assert_eq!(status[0].state, SlotState::Stale);
    assert!(
        status[0]
            .last_error
            .as_deref()
            .unwrap()
            .contains("not a valid WebAssembly")
    );

    // A manifest that does not parse: same.
    install(
        &dir,
        "legacy-tool",
        &original,
        "name = \"legacy-tool\"\nworld = \"nope\"\n",
    );
    let err = format!("{:#}", rt.reload("legacy-tool").await.unwrap_err());
    assert!(
        err.contains("legacy-tool.toml") && err.contains("world"),
        "{err}"
    );
    assert!(answer(&rt).await.unwrap().starts_with("good "));

    // Fixed: serves the new version, error cleared.
    install(&dir, "legacy-tool", &original, &manifest_with("fixed"));
    rt.reload("legacy-tool").await.unwrap();
    assert!(answer(&rt).await.unwrap().starts_with("fixed "));
    assert_eq!(rt.status()[0].state, SlotState::Active);
    assert_eq!(rt.status()[0].last_error, None);

    // Removed: no longer served.
    std::fs::remove_file(dir.join("legacy-tool.wasm")).unwrap();
    rt.reload("legacy-tool").await.unwrap();
    assert!(rt.get("legacy-tool").is_none());
    assert!(answer(&rt).await.unwrap_err().contains("not loaded"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_a_components_files_does_not_reload_it() {
    let root = tempfile::tempdir().unwrap();
    let (dir, original, rt, _watch) = watched(root.path()).await;
    let before = rt.generation();
    // What a backup or the cluster's publisher does: read, many times.
    for _ in 0..20 {
        for ext in ["wasm", "toml"] {
            std::fs::read(dir.join(format!("legacy-tool.{ext}"))).unwrap();
        }
    }
    tokio::time::sleep(watch::DEBOUNCE * 6).await;
    assert_eq!(rt.generation(), before, "a read reloaded the component");
    // A write does reload it (the watcher is alive).
    install(
        &dir,
        "legacy-tool",
        &with_custom_section(&original, "w"),
        &manifest_with("v1"),
    );
    let mut changes = rt.changes();
    tokio::time::timeout(Duration::from_secs(10), changes.wait_for(|g| *g > before))
        .await
        .expect("the write reloaded it")
        .unwrap();
}
