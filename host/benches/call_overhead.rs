//! Per-call overhead of a trivial component tool (`text.stats` of the
//! embedded tool-basics component) in a fresh instance and in a reused
//! instance, against the same work as a native Rust function and as a
//! `bash -c` subprocess. Report: BENCHMARKS.md.
//!
//! cargo bench -p openpista --bench call_overhead

use criterion::{Criterion, criterion_group, criterion_main};
use openpista::runtime::{CallContext, Runtime, RuntimeConfig};
use std::hint::black_box;
use std::sync::Arc;

const TEXT: &str = "the quick brown fox\njumps over the lazy dog";

fn args() -> String {
    serde_json::json!({ "text": TEXT }).to_string()
}

/// The native baseline: the same parse, count and serialise.
fn native_stats(arguments: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(arguments).unwrap();
    let text = v["text"].as_str().unwrap();
    serde_json::json!({
        "characters": text.chars().count(),
        "words": text.split_whitespace().count(),
        "lines": text.lines().count(),
        "bytes": text.len(),
    })
    .to_string()
}

fn runtime(tokio: &tokio::runtime::Runtime) -> (tempfile::TempDir, Arc<Runtime>) {
    let root = tempfile::tempdir().unwrap();
    let rt = Runtime::new(RuntimeConfig {
        cache_dir: Some(root.path().join("cache")),
        ..RuntimeConfig::default()
    })
    .unwrap();
    let failures = tokio.block_on(rt.load_all());
    assert!(failures.is_empty(), "{failures:?}");
    (root, rt)
}

fn bench(c: &mut Criterion) {
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (_root, rt) = runtime(&tokio);
    let component = rt.get("tool-basics").expect("embedded tool-basics");
    let ctx = CallContext {
        session: None,
        call_id: "bench".into(),
    };
    let arguments = args();
    let expected = tokio
        .block_on(component.invoke("text.stats", &arguments, &ctx))
        .unwrap()
        .content;
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&expected).unwrap(),
        serde_json::from_str::<serde_json::Value>(&native_stats(&arguments)).unwrap()
    );

    let mut group = c.benchmark_group("tool_call");
    group.bench_function("native_fn", |b| {
        b.iter(|| native_stats(black_box(&arguments)))
    });
    group.bench_function("component_fresh_instance", |b| {
        b.to_async(&tokio).iter(|| async {
            component
                .invoke("text.stats", black_box(&arguments), &ctx)
                .await
                .unwrap()
        })
    });
    let mut reused = tokio.block_on(component.reusable()).unwrap();
    let reused = tokio::sync::Mutex::new(&mut reused);
    group.bench_function("component_reused_instance", |b| {
        b.to_async(&tokio).iter(|| async {
            reused
                .lock()
                .await
                .invoke("text.stats", black_box(&arguments), &ctx)
                .await
                .unwrap()
        })
    });
    group.sample_size(20);
    group.bench_function("bash_subprocess", |b| {
        b.iter(|| {
            let out = std::process::Command::new("bash")
                .arg("-c")
                .arg("t=\"$1\"; printf '{\"characters\":%d,\"words\":%d,\"lines\":%d}' ${#t} $(printf '%s' \"$t\" | wc -w) $(printf '%s\\n' \"$t\" | wc -l)")
                .arg("stats")
                .arg(TEXT)
                .output()
                .unwrap();
            assert!(out.status.success());
            out.stdout
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
