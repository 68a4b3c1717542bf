//! WIT versioning: components built against the released 0.1.0 and 0.1.2
//! contracts (tools and channels) load and work on the 0.2 host next to
//! 0.2 components, through its adapter; one built against an unknown 0.3.0
//! is refused, before compiling, with a message naming both sides.

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
        "built against openpista:plugin@0.3.0",
        "imports [openpista:plugin/host@0.3.0]",
        "exports [openpista:plugin/tools@0.3.0]",
        "this host offers openpista:plugin@0.2.2",
        "0.1.0 to 0.1.2 (through an adapter) and 0.2.0 to 0.2.2",
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
    assert!(status[0].last_error.as_deref().unwrap().contains("0.3.0"));
}

/// Components of every supported contract side by side in one running
/// host: a 0.1.0 tool and channel, a 0.1.2 tool and channel, and 0.2
/// components (the embedded ones, the hostile tool). Each works: tools
/// answer, channels are served on their routes, their polled messages are
/// answered in their own sessions (split at the length a 0.1.0 channel
/// reported, commands from 0.1 metadata run by the host).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_and_new_contracts_work_side_by_side() {
    const TOKEN: &str = "versioning-side-by-side-token-0123456789";
    const TOKEN_ENV: &str = "OPENPISTA_TEST_VERSIONING_TOKEN";
    // SAFETY: only this test sets this variable.
    unsafe { std::env::set_var(TOKEN_ENV, TOKEN) };
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("components");
    let bytes = |p: &str| std::fs::read(wasm(p)).unwrap();
    install(
        &dir,
        "legacy-tool",
        &bytes("legacy-tool"),
        &manifest("legacy-tool"),
    );
    install(
        &dir,
        "shapeshifter",
        &bytes("shapeshifter"),
        &manifest("shapeshifter"),
    );
    install(&dir, "hostile", &bytes("hostile"), &manifest("hostile"));
    install(
        &dir,
        "channel-old10",
        &bytes("legacy-channel"),
        &manifest("legacy-channel")
            .replace("name = \"legacy-channel\"", "name = \"channel-old10\""),
    );
    let rogue = manifest("rogue-channel")
        .replace("name = \"rogue-channel\"", "name = \"channel-old12\"")
        .replace("name = \"\"", "name = \"old12\"")
        .replace("routes = \"\"", "routes = \"/old12/hook\"")
        .replace("session = \"\"", "session = \"old12:7\"");
    install(&dir, "channel-old12", &bytes("rogue-channel"), &rogue);
    let config =
        openpista_tests::config_in(root.path(), &openpista_tests::web_host_sections(TOKEN_ENV));
    let running = openpista::cli::serve::start(&config).await.unwrap();
    assert!(running.failures.is_empty(), "{:?}", running.failures);
    let rt = &running.runtime;
    let version = |name: &str| rt.get(name).unwrap().wit_version.to_string();
    assert_eq!(version("legacy-tool"), "0.1.0");
    assert_eq!(version("channel-old10"), "0.1.0");
    assert_eq!(version("shapeshifter"), "0.1.2");
    assert_eq!(version("channel-old12"), "0.1.2");
    assert_eq!(version("hostile"), "0.2.2");
    assert_eq!(version("channel-web"), "0.2.2");
    assert_eq!(version("tool-basics"), "0.2.2");

    // Tools of all three contracts answer through the agent's registry.
    let tools = &running.gateway.agent().tools;
    for (tool, says) in [
        ("legacy.greet", "hello from 0.1.0"),
        ("shape.echo", "shapeshifter got"),
        ("hostile.echo", "x"),
        ("time.now", "20"),
    ] {
        let out = tools.invoke(tool, r#"{"x":1}"#, &ctx("v")).await.unwrap();
        assert!(out.content.contains(says), "{tool}: {}", out.content);
    }

    // Channels of both old contracts are served on their routes...
    let addr = running.local_addr().unwrap();
    assert_eq!(
        openpista_tests::http_get(addr, "/old10/hook").await,
        (200, "0.1.0 channel saw /old10/hook".to_string())
    );
    assert_eq!(
        openpista_tests::http_get(addr, "/old12/hook").await.1,
        "rogue answered /old12/hook"
    );
    // ...and their polled messages are answered in their own sessions.
    let memory = rt.memory().unwrap();
    let wait = |component: &'static str, key: &'static str, needle: &'static str| async move {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let value = memory
                .kv_get(component, key)
                .unwrap()
                .map(|v| String::from_utf8(v).unwrap())
                .unwrap_or_default();
            if value.contains(needle) {
                return value;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{component} {key}: {value:?} never held {needle:?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    };
    assert_eq!(
        wait("channel-old12", "got/old12:7", "echo").await,
        "echo: rogue says hi"
    );
    // The command runs after the turn (same session, in order), so its
    // last piece ends what the channel is sent.
    let sent = wait("channel-old10", "sent/old10:1", "stored.|").await;
    let pieces: Vec<&str> = sent.trim_end_matches('|').split('|').collect();
    assert!(
        pieces.iter().all(|p| p.encode_utf16().count() <= 12),
        "split at the 12 the channel reported: {pieces:?}"
    );
    assert_eq!(
        pieces[..3],
        ["echo: hello", "from the", "past"],
        "{pieces:?}"
    );
    assert!(sent.contains("Session|old10:1:"), "the command ran: {sent}");
    assert!(memory.session("old10:1").unwrap().is_some());

    // And the 0.2 web chat next to them.
    assert_eq!(
        openpista_tests::web_chat(addr, TOKEN, "side-by-side-1", "hello").await,
        "echo: hello"
    );
    running.stop().await;
}
