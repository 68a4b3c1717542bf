//! WIT versioning: a component built against the released 0.1.0 contract
//! loads and works on the 0.1.2 host; one built against an incompatible
//! 0.2.0 is refused, before compiling, with a message naming both sides.

use openpista::runtime::SlotState;
use openpista_tests::{ctx, install, manifest, runtime, wasm};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn older_compatible_component_loads_and_runs() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("components");
    install(
        &dir,
        "legacy-tool",
        &std::fs::read(wasm("legacy-tool")).unwrap(),
        &manifest("legacy-tool"),
    );
    let rt = runtime(root.path(), &[]);
    assert!(rt.load_all().await.is_empty());
    let c = rt.get("legacy-tool").unwrap();
    assert_eq!(c.wit_version.to_string(), "0.1.0");
    // Its memory calls (0.1.0's interface) reach the 0.1.2 host and persist.
    for n in 1..=2 {
        let out = c.invoke("legacy.greet", "{}", &ctx("v")).await.unwrap();
        assert_eq!(out.content, format!("hello from 0.1.0 (call {n})"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incompatible_component_is_refused_by_name() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("components");
    install(
        &dir,
        "future-tool",
        &std::fs::read(wasm("future-tool")).unwrap(),
        &manifest("future-tool"),
    );
    let rt = runtime(root.path(), &[]);
    let failures = rt.load_all().await;
    assert_eq!(failures.len(), 1);
    let err = &failures[0].1;
    for needle in [
        "incompatible WIT version",
        "built against openpista:plugin@0.2.0",
        "imports [openpista:plugin/host@0.2.0]",
        "exports [openpista:plugin/tools@0.2.0]",
        "this host offers openpista:plugin@0.1.2",
        "0.1.0 to 0.1.2",
    ] {
        assert!(err.contains(needle), "{needle:?} missing from: {err}");
    }
    // Refused before compiling anything.
    assert_eq!(
        rt.cache()
            .stats
            .compiled
            .load(std::sync::atomic::Ordering::SeqCst),
        0
    );
    let status = rt.status();
    assert_eq!(status[0].state, SlotState::Failed);
    assert!(status[0].last_error.as_deref().unwrap().contains("0.2.0"));
}
