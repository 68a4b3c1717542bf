//! One tool registry for component and native tools: the agent sees one
//! list and calls by name. Uses the first-party components embedded in the
//! binary, so this also checks what a fresh install ships.

use openpista::runtime::bindings::{ToolResult, ToolSpec, WitError};
use openpista::runtime::{CallContext, CallError, Runtime, RuntimeConfig};
use openpista::tools::{NativeTool, ToolRegistry, ToolSource};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// A native tool for the test: upper-cases its `text` argument.
struct Upper;

impl NativeTool for Upper {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "test.upper".into(),
            description: "Upper-cases text.".into(),
            parameters: r#"{"type":"object","properties":{"text":{"type":"string"}}}"#.into(),
        }
    }

    fn invoke<'a>(
        &'a self,
        arguments: &'a str,
        _context: &'a CallContext,
    ) -> Pin<Box<dyn Future<Output = Result<ToolResult, WitError>> + Send + 'a>> {
        Box::pin(async move {
            let v: serde_json::Value = serde_json::from_str(arguments)
                .map_err(|e| WitError::InvalidInput(e.to_string()))?;
            Ok(ToolResult {
                content: v["text"].as_str().unwrap_or_default().to_uppercase(),
                is_error: false,
                attachments: Vec::new(),
            })
        })
    }
}

/// A native tool that claims a component tool's name.
struct Impostor;

impl NativeTool for Impostor {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "text.stats".into(),
            description: "native stand-in".into(),
            parameters: "{}".into(),
        }
    }

    fn invoke<'a>(
        &'a self,
        _arguments: &'a str,
        _context: &'a CallContext,
    ) -> Pin<Box<dyn Future<Output = Result<ToolResult, WitError>> + Send + 'a>> {
        Box::pin(async {
            Ok(ToolResult {
                content: "native".into(),
                is_error: false,
                attachments: Vec::new(),
            })
        })
    }
}

async fn embedded_runtime(root: &std::path::Path) -> Arc<Runtime> {
    let memory = openpista::memory::MemoryStore::open(&root.join("memory.redb")).unwrap();
    let rt = Runtime::new(RuntimeConfig {
        cache_dir: Some(root.join("cache")),
        memory: Some(Arc::new(memory)),
        ..RuntimeConfig::default()
    })
    .unwrap();
    assert!(rt.load_all().await.is_empty());
    rt
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn component_and_native_tools_share_one_list() {
    let root = tempfile::tempdir().unwrap();
    let rt = embedded_runtime(root.path()).await;
    let mut registry = ToolRegistry::new(rt.clone());
    registry.add_native(Arc::new(Upper));
    let list = registry.list();
    let names: Vec<&str> = list.iter().map(|e| e.spec.name.as_str()).collect();
    for expected in ["test.upper", "time.now", "text.json_query", "notes.save"] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    let time = list.iter().find(|e| e.spec.name == "time.now").unwrap();
    assert!(matches!(&time.source, ToolSource::Component { name, .. } if name == "tool-basics"));
    let schema: serde_json::Value = serde_json::from_str(&time.spec.parameters).unwrap();
    assert_eq!(schema["type"], "object");

    let ctx = openpista_tests::ctx("r1");
    let out = registry
        .invoke("test.upper", r#"{"text":"hi"}"#, &ctx)
        .await
        .unwrap();
    assert_eq!(out.content, "HI");
    let out = registry
        .invoke(
            "text.json_query",
            r#"{"json":{"a":[1,{"b":"deep"}]},"path":"a[1].b"}"#,
            &ctx,
        )
        .await
        .unwrap();
    assert_eq!(out.content, "\"deep\"");
    let out = registry.invoke("time.now", "{}", &ctx).await.unwrap();
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let reported: serde_json::Value = serde_json::from_str(&out.content).unwrap_or_default();
    let reported_ms = reported["unix_ms"]
        .as_i64()
        .unwrap_or_else(|| panic!("{}", out.content));
    assert!((now_ms - reported_ms).abs() < 60_000, "{}", out.content);

    // Malformed arguments and unknown names are clear errors.
    let err = registry
        .invoke("text.json_query", "{not json", &ctx)
        .await
        .unwrap_err();
    assert!(
        matches!(err, CallError::Guest(WitError::InvalidInput(_))),
        "{err:?}"
    );
    let err = registry
        .invoke("no.such.tool", "{}", &ctx)
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "tool no.such.tool is not loaded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_names_cannot_be_taken_by_components() {
    let root = tempfile::tempdir().unwrap();
    let rt = embedded_runtime(root.path()).await;
    let mut registry = ToolRegistry::new(rt);
    registry.add_native(Arc::new(Impostor));
    let stats: Vec<_> = registry
        .list()
        .into_iter()
        .filter(|e| e.spec.name == "text.stats")
        .collect();
    assert_eq!(stats.len(), 1);
    assert_eq!(stats[0].source, ToolSource::Native);
    let out = registry
        .invoke("text.stats", "{}", &openpista_tests::ctx("x"))
        .await
        .unwrap();
    assert_eq!(out.content, "native");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn component_memory_persists_across_fresh_instances_and_restarts() {
    let root = tempfile::tempdir().unwrap();
    let ctx = openpista_tests::ctx("m");
    {
        let registry = ToolRegistry::new(embedded_runtime(root.path()).await);
        registry
            .invoke("notes.save", r#"{"name":"plan","text":"buy milk"}"#, &ctx)
            .await
            .unwrap();
        registry
            .invoke("notes.save", r#"{"name":"pin","text":"1234"}"#, &ctx)
            .await
            .unwrap();
    }
    let registry = ToolRegistry::new(embedded_runtime(root.path()).await);
    let out = registry
        .invoke("notes.get", r#"{"name":"plan"}"#, &ctx)
        .await
        .unwrap();
    assert!(out.content.contains("buy milk"), "{}", out.content);
    let out = registry.invoke("notes.list", "{}", &ctx).await.unwrap();
    assert!(
        out.content.contains("plan") && out.content.contains("pin"),
        "{}",
        out.content
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_folder_component_overrides_the_embedded_one_by_name() {
    use openpista::runtime::Source;
    let root = tempfile::tempdir().unwrap();
    let plugins = root.path().join("components");
    let memory = openpista::memory::MemoryStore::open(&root.path().join("memory.redb")).unwrap();
    let rt = Runtime::new(RuntimeConfig {
        plugin_dirs: vec![plugins.clone()],
        memory: Some(Arc::new(memory)),
        ..RuntimeConfig::default()
    })
    .unwrap();
    assert!(rt.load_all().await.is_empty());
    assert_eq!(rt.get("tool-basics").unwrap().source, Source::Embedded);

    // Drop a different component under the same name into the folder.
    let manifest = openpista_tests::manifest("legacy-tool")
        .replace("name = \"legacy-tool\"", "name = \"tool-basics\"");
    openpista_tests::install(
        &plugins,
        "tool-basics",
        &std::fs::read(openpista_tests::wasm("legacy-tool")).unwrap(),
        &manifest,
    );
    rt.reload("tool-basics").await.unwrap();
    let c = rt.get("tool-basics").unwrap();
    assert_eq!(c.source, Source::File(plugins.join("tool-basics.wasm")));
    assert_eq!(c.tools[0].name, "legacy.greet");

    // Removing the file falls back to the embedded component.
    std::fs::remove_file(plugins.join("tool-basics.wasm")).unwrap();
    rt.reload("tool-basics").await.unwrap();
    assert_eq!(rt.get("tool-basics").unwrap().source, Source::Embedded);
}
