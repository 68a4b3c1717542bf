//! `[native.*]` decides which native tools the agent gets: a disabled tool
//! is neither in the list the model sees nor callable, and the enabled ones
//! are all there with their defaults.

use openpista::config::Config;
use openpista::runtime::CallContext;
use openpista::tools::{ToolRegistry, ToolSource};
use std::sync::Arc;

fn config(root: &std::path::Path, native: &str) -> Config {
    Config::parse(
        &format!(
            "[runtime]\nplugin_dirs = []\nembedded_components = false\ncache_dir = \"{root}/cache\"\n[memory]\npath = \"{root}/m.redb\"\n{native}",
            root = root.display()
        ),
        "test config",
    )
    .unwrap()
}

fn native_names(config: &Config) -> (Vec<String>, Arc<ToolRegistry>) {
    let runtime = openpista::cli::build_runtime(config).unwrap();
    let (tools, natives) = openpista::cli::tools(config, &runtime);
    let listed: Vec<String> = tools
        .list()
        .into_iter()
        .filter(|t| t.source == ToolSource::Native)
        .map(|t| t.spec.name)
        .collect();
    let mut registered = natives.natives.names.clone();
    registered.sort();
    assert_eq!(listed, registered, "the list is what was registered");
    (listed, tools)
}

#[tokio::test]
async fn disabled_native_tools_are_neither_listed_nor_callable() {
    let root = tempfile::tempdir().unwrap();
    let all = config(root.path(), "");
    let (names, _) = native_names(&all);
    assert_eq!(
        names,
        [
            "browser.click",
            "browser.navigate",
            "browser.screenshot",
            "browser.text",
            "browser.type",
            "container.run",
            "screen.capture",
            "screen.ocr",
            "system.notify",
            "system.run",
        ]
    );
    drop(all);

    let root = tempfile::tempdir().unwrap();
    let narrowed = config(
        root.path(),
        "[native.browser]\nenabled = false\n[native.container]\nenabled = false\n[native.screen]\nenabled = false\n[native.notify]\nenabled = false\n",
    );
    let (names, tools) = native_names(&narrowed);
    assert_eq!(names, ["system.run"]);
    let ctx = CallContext {
        session: Some("test:native".into()),
        call_id: "c1".into(),
    };
    for name in [
        "browser.navigate",
        "container.run",
        "screen.capture",
        "screen.ocr",
        "system.notify",
    ] {
        let e = tools.invoke(name, "{}", &ctx).await.unwrap_err();
        assert!(e.to_string().contains(name), "{name}: {e}");
    }
    let ok = tools
        .invoke("system.run", r#"{"command": "echo still here"}"#, &ctx)
        .await
        .unwrap();
    assert!(ok.content.contains("still here"), "{}", ok.content);

    let root = tempfile::tempdir().unwrap();
    let none = config(
        root.path(),
        "[native.system]\nenabled = false\n[native.browser]\nenabled = false\n[native.container]\nenabled = false\n[native.screen]\nenabled = false\n[native.notify]\nenabled = false\n",
    );
    assert!(native_names(&none).0.is_empty());

    // OCR can be switched off alone, the capture kept.
    let root = tempfile::tempdir().unwrap();
    let no_ocr = config(root.path(), "[native.screen]\nocr = false\n");
    let names = native_names(&no_ocr).0;
    assert!(names.contains(&"screen.capture".to_string()), "{names:?}");
    assert!(!names.contains(&"screen.ocr".to_string()), "{names:?}");
}
