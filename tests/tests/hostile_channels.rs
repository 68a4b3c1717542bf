//! Hostile channel components, compiled for real, next to the web
//! channel in a host started in-process: one posts into the web channel's
//! session, one calls itself `web`, one takes `/ws` and `/`, and one is
//! named so that its channel id is `web`. Each is refused or contained,
//! the refusal shows in the component status, and the web chat goes on
//! working. A well-behaved channel gets its routes under its own prefix.

use openpista::cli::serve::{Running, start};
use openpista::runtime::SlotState;
use openpista_tests::{config_in, http_get, install, manifest, wasm, web_chat, web_host_sections};
use serde_json::Value;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

const TOKEN: &str = "hostile-channels-test-token-0123456789";
const TOKEN_ENV: &str = "OPENPISTA_TEST_HOSTILE_CHANNELS_TOKEN";

/// Installs the rogue fixture as `name`, configured by `config` lines.
fn rogue(dir: &Path, name: &str, config: &[(&str, &str)]) {
    let mut text = manifest("rogue-channel")
        .replace("name = \"rogue-channel\"", &format!("name = \"{name}\""));
    for (key, value) in config {
        text = text.replace(&format!("{key} = \"\""), &format!("{key} = \"{value}\""));
    }
    install(
        dir,
        name,
        &std::fs::read(wasm("rogue-channel")).unwrap(),
        &text,
    );
}

async fn host(root: &Path) -> Running {
    // SAFETY: every test of this file sets the same value.
    unsafe { std::env::set_var(TOKEN_ENV, TOKEN) };
    let dir = root.join("components");
    rogue(
        &dir,
        "channel-poster",
        &[("name", "poster"), ("session", "web:victim")],
    );
    rogue(&dir, "channel-namer", &[("name", "web")]);
    rogue(
        &dir,
        "channel-router",
        &[("name", "router"), ("routes", "/ws,/")],
    );
    rogue(&dir, "web", &[("name", "web")]);
    rogue(
        &dir,
        "channel-polite",
        &[("name", "polite"), ("routes", "/polite/hook")],
    );
    let config = config_in(root, &web_host_sections(TOKEN_ENV));
    let running = start(&config).await.unwrap();
    assert!(running.failures.is_empty(), "{:?}", running.failures);
    running
}

/// The refusal recorded for `name`, which must no longer serve.
fn refusal(running: &Running, name: &str) -> String {
    let status = running.runtime.status();
    let row = status
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no status row for {name}"));
    assert_eq!(row.state, SlotState::Refused, "{row:?}");
    assert!(running.runtime.get(name).is_none(), "{name} still serves");
    row.last_error.clone().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_channels_are_refused_or_contained_and_the_web_chat_goes_on() {
    let root = tempfile::tempdir().unwrap();
    let running = host(root.path()).await;

    // Claims are refused, each with its reason, visibly.
    let namer = refusal(&running, "channel-namer");
    assert!(
        namer.contains("calls itself channel \"web\"") && namer.contains("channel namer"),
        "{namer}"
    );
    let router = refusal(&running, "channel-router");
    assert!(
        router.contains("\"/ws\" is outside its own prefix /router/"),
        "{router}"
    );
    let twin = refusal(&running, "web");
    assert!(twin.contains("channel id web is already served"), "{twin}");
    assert!(
        running
            .channel_notes
            .iter()
            .any(|n| n.starts_with("channel channel-router refused")),
        "{:?}",
        running.channel_notes
    );

    // The poster runs, but its event for web:victim is refused: no turn,
    // nothing stored, nothing delivered anywhere.
    let deadline = Instant::now() + Duration::from_secs(20);
    while running.gateway.stats.foreign.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "the poster's event never came");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let memory = &running.gateway.agent().memory;
    assert!(memory.session("web:victim").unwrap().is_none());
    assert_eq!(running.gateway.stats.turns.load(Ordering::SeqCst), 0);

    // The routes: /ws and / are still the web chat's and the page's; the
    // polite channel answers under its prefix only.
    let addr = running.local_addr().unwrap();
    let (status, page) = http_get(addr, "/").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("<html") || page.contains("<!doctype"),
        "{page}"
    );
    assert_eq!(
        http_get(addr, "/polite/hook").await,
        (200, "rogue answered /polite/hook".to_string())
    );
    assert_eq!(http_get(addr, "/router/ws").await.0, 404);
    let health: Value = serde_json::from_str(&http_get(addr, "/health").await.1).unwrap();
    let channels: Vec<&str> = health["channels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(channels, ["polite", "web"], "{health}");

    // The victim keeps working.
    assert_eq!(
        web_chat(addr, TOKEN, "victim-1", "hi there").await,
        "echo: hi there"
    );
    assert!(memory.session("web:victim-1").unwrap().is_some());
    running.stop().await;
}
