//! WhatsApp through the host: the real `channel-whatsapp` component and the
//! host's bridge supervision, with a scripted stand-in for the Node bridge
//! (`tests/fake-bridge/bridge.mjs`, real Node.js) speaking the bridge's
//! JSON lines. A message reaches the agent and the answer goes back as a
//! `send` command; media become attachments; strangers get a pairing
//! code; a bridge that crashes is restarted and what was queued for it is
//! still sent; malformed lines are refused, counted, and change nothing
//! else. The real bridge's own suite runs with `npm test` (.ci/run).

use openpista::cli::serve::{Running, start};
use openpista::config::Config;
use openpista::gateway::channels::with_fresh;
use openpista_tests::native::{require, which};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const OWNER: &str = "15551234567@s.whatsapp.net";

fn fake_bridge() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fake-bridge")
}

fn config(root: &Path, bridge: &Path, extra: &str) -> Config {
    Config::parse(
        &format!(
            r#"
[agent]
provider = "echo"
[runtime]
plugin_dirs = []
cache_dir = "{root}/cache"
[memory]
path = "{root}/memory.redb"
[server]
enabled = false
[channels.web]
enabled = false
[channels.whatsapp]
enabled = true
session_dir = "{root}/wa"
bridge_path = "{bridge}"
allowed_users = ["+1 555-123-4567"]
{extra}
"#,
            root = root.display(),
            bridge = bridge.display(),
        ),
        "test config",
    )
    .unwrap()
}

async fn host(root: &Path) -> Option<Running> {
    if !require(
        "Node.js (node on PATH)",
        which(&["node"]).map(|_| ()).ok_or("not found".into()),
    ) {
        return None;
    }
    let running = start(&config(root, &fake_bridge(), "")).await.unwrap();
    assert!(running.failures.is_empty(), "{:?}", running.failures);
    assert!(
        running
            .channel_notes
            .iter()
            .any(|n| n.contains("channel whatsapp (channel-whatsapp) started")),
        "{:?}",
        running.channel_notes
    );
    Some(running)
}

/// Hands `line` to the fake bridge, which prints it as its own.
fn bridge_says(root: &Path, line: &str) {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let inbox = root.join("wa/inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = inbox.join(format!(".{n}.tmp"));
    std::fs::write(&tmp, format!("{line}\n")).unwrap();
    std::fs::rename(&tmp, inbox.join(format!("{n:08}.line"))).unwrap();
}

fn message(id: &str, sender: &str, text: &str, media: Value) -> String {
    json!({
        "type": "message", "id": id, "chat": sender, "sender": sender, "sender_lid": null,
        "push_name": "Ann", "timestamp": 1_700_000_000, "is_group": false,
        "text": text, "media": media,
    })
    .to_string()
}

/// The commands the bridge has read so far.
fn commands(root: &Path) -> Vec<Value> {
    std::fs::read_to_string(root.join("wa/commands.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// The texts sent to `to`, waiting until there are `n`.
async fn sent_to(root: &Path, to: &str, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let texts: Vec<String> = commands(root)
            .into_iter()
            .filter(|c| c["cmd"] == "send" && c["to"] == to)
            .map(|c| c["text"].as_str().unwrap_or_default().to_string())
            .collect();
        if texts.len() >= n {
            return texts;
        }
        assert!(
            Instant::now() < deadline,
            "expected {n} sends to {to}: {:?}",
            commands(root)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn memory_json(running: &Running, key: &str) -> Value {
    let m = running.runtime.memory().unwrap();
    m.kv_get("channel-whatsapp", key)
        .unwrap()
        .map(|b| serde_json::from_slice(&b).unwrap())
        .unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_reaches_the_agent_and_the_answer_goes_back() {
    let root = tempfile::tempdir().unwrap();
    let Some(running) = host(root.path()).await else {
        return;
    };
    bridge_says(
        root.path(),
        &message("m1", OWNER, "hello there", Value::Null),
    );
    let texts = sent_to(root.path(), OWNER, 1).await;
    assert_eq!(texts, ["echo: hello there"]);
    let memory = running.runtime.memory().unwrap().clone();
    let stored = memory.messages(&format!("whatsapp:{OWNER}"), 10).unwrap();
    assert_eq!(stored.len(), 2, "{stored:?}");
    let state = memory_json(&running, "bridge/state");
    assert_eq!(state["state"], "open", "{state}");
    assert_eq!(state["jid"], "10000@s.whatsapp.net");

    // A long answer arrives in pieces of at most 4096 characters.
    let long = format!("{}\n\n{}", "a".repeat(3000), "b".repeat(3000));
    bridge_says(root.path(), &message("m2", OWNER, &long, Value::Null));
    let texts = sent_to(root.path(), OWNER, 3).await;
    assert!(texts[1].chars().count() <= 4096 && texts[2].chars().count() <= 4096);
    assert_eq!(texts[1].len() + texts[2].len(), "echo: ".len() + 6000);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_become_attachments_or_descriptions() {
    let root = tempfile::tempdir().unwrap();
    let Some(running) = host(root.path()).await else {
        return;
    };
    // A 1x1 PNG, base64.
    let png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC";
    bridge_says(
        root.path(),
        &message(
            "m1",
            OWNER,
            "look at this",
            json!({"kind": "image", "mime": "image/png", "file_name": "dot.png", "size": 69, "data_b64": png, "note": null}),
        ),
    );
    let texts = sent_to(root.path(), OWNER, 1).await;
    assert_eq!(texts[0], "echo: look at this");
    let memory = running.runtime.memory().unwrap().clone();
    let user = &memory.messages(&format!("whatsapp:{OWNER}"), 10).unwrap()[0];
    assert_eq!(user.attachments.len(), 1, "{user:?}");
    assert!(user.attachments[0].contains("image/png"), "{user:?}");

    bridge_says(
        root.path(),
        &message(
            "m2",
            OWNER,
            "",
            json!({"kind": "video", "mime": "video/mp4", "file_name": "clip.mp4", "size": 9_000_000, "data_b64": null, "note": "too large"}),
        ),
    );
    let texts = sent_to(root.path(), OWNER, 2).await;
    assert!(
        texts[1].contains("clip.mp4")
            && texts[1].contains("video/mp4")
            && texts[1].contains("too large"),
        "{}",
        texts[1]
    );
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_get_a_pairing_code_until_approved() {
    let root = tempfile::tempdir().unwrap();
    let Some(running) = host(root.path()).await else {
        return;
    };
    const STRANGER: &str = "19998887777@s.whatsapp.net";
    let memory = running.runtime.memory().unwrap().clone();
    bridge_says(
        root.path(),
        &message("s1", STRANGER, "let me in", Value::Null),
    );
    let texts = sent_to(root.path(), STRANGER, 1).await;
    assert!(texts[0].contains("pairing code"), "{}", texts[0]);
    // The host asks the channel (its pairing export), never its storage.
    let (pending, _) = with_fresh(
        &running.runtime.get("channel-whatsapp").unwrap(),
        async |i| i.list_pairings().await,
    )
    .await
    .unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].user, STRANGER);
    assert!(texts[0].contains(&pending[0].code));
    assert!(
        memory
            .messages(&format!("whatsapp:{STRANGER}"), 10)
            .unwrap()
            .is_empty()
    );

    with_fresh(
        &running.runtime.get("channel-whatsapp").unwrap(),
        async |i| i.approve(&pending[0].code).await,
    )
    .await
    .unwrap();
    bridge_says(root.path(), &message("s2", STRANGER, "now?", Value::Null));
    let texts = sent_to(root.path(), STRANGER, 2).await;
    assert_eq!(texts[1], "echo: now?");
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_bridge_is_restarted_and_the_queued_answer_still_goes_out() {
    let root = tempfile::tempdir().unwrap();
    let Some(running) = host(root.path()).await else {
        return;
    };
    // The bridge prints a message and dies at once: the answer is made
    // while no bridge runs.
    bridge_says(
        root.path(),
        &format!(
            "{}\n#crash",
            message("c1", OWNER, "before the crash", Value::Null)
        ),
    );
    let texts = sent_to(root.path(), OWNER, 1).await;
    assert_eq!(texts[0], "echo: before the crash");
    let starts = std::fs::read_to_string(root.path().join("wa/starts.log")).unwrap();
    assert_eq!(starts.lines().count(), 2, "restarted once: {starts}");
    let health = running.bridges[0].health();
    assert_eq!(health.starts, 2);
    assert!(
        health
            .last_exit
            .as_deref()
            .unwrap_or("")
            .contains("exit code 3"),
        "{health:?}"
    );
    let state = memory_json(&running, "bridge/state");
    assert_eq!(state["bridge_restarts"], 1, "{state}");
    // Sent once: the queue of the dead bridge was dropped, the
    // component's outbox sent it again.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let texts = sent_to(root.path(), OWNER, 1).await;
    assert_eq!(texts, ["echo: before the crash"], "exactly once");
    // And the new bridge serves on.
    bridge_says(root.path(), &message("c2", OWNER, "after", Value::Null));
    let texts = sent_to(root.path(), OWNER, 2).await;
    assert_eq!(texts[1], "echo: after");
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_lines_are_refused_counted_and_change_nothing_else() {
    let root = tempfile::tempdir().unwrap();
    let Some(running) = host(root.path()).await else {
        return;
    };
    bridge_says(root.path(), "this is not json");
    bridge_says(root.path(), r#"{"type":"mystery","x":1}"#);
    bridge_says(root.path(), "[1,2,3]");
    bridge_says(root.path(), r#"{"type":"message","id":"x"}"#);
    bridge_says(
        root.path(),
        &message("ok", OWNER, "still here?", Value::Null),
    );
    let texts = sent_to(root.path(), OWNER, 1).await;
    assert_eq!(texts, ["echo: still here?"]);
    let rejected = memory_json(&running, "bridge/rejected");
    assert_eq!(rejected["count"], 4, "{rejected}");
    assert_eq!(
        running.bridges[0].health().starts,
        1,
        "the bridge was not restarted"
    );
    running.stop().await;
}

#[tokio::test]
async fn missing_bridge_packages_are_named_with_the_command_that_installs_them() {
    let root = tempfile::tempdir().unwrap();
    let bridge = root.path().join("bridge");
    std::fs::create_dir_all(&bridge).unwrap();
    std::fs::write(bridge.join("bridge.mjs"), "").unwrap();
    std::fs::write(bridge.join("package.json"), "{}").unwrap();
    let running = start(&config(root.path(), &bridge, "node = \"sh\""))
        .await
        .unwrap();
    let note = running
        .channel_notes
        .iter()
        .find(|n| n.contains("whatsapp"))
        .cloned()
        .unwrap_or_default();
    assert!(
        note.contains("npm ci --prefix"),
        "{:?}",
        running.channel_notes
    );
    assert!(running.bridges.is_empty());
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pairing_qr_code_is_shown_on_the_web_page_to_the_token_holder() {
    let root = tempfile::tempdir().unwrap();
    if which(&["node"]).is_none() {
        assert!(
            !openpista_tests::native::in_ci(),
            "node is required under CI"
        );
        return;
    }
    const TOKEN_ENV: &str = "OPENPISTA_TEST_WA_WEB_TOKEN";
    // SAFETY: only this test reads this variable.
    unsafe { std::env::set_var(TOKEN_ENV, "wa-web-token") };
    let mut config = config(root.path(), &fake_bridge(), "");
    config.server.enabled = true;
    config.server.listen = "127.0.0.1:0".into();
    config.channels.web.enabled = true;
    config.channels.web.token_env = Some(TOKEN_ENV.into());
    let running = start(&config).await.unwrap();
    let addr = running.local_addr().unwrap();
    let memory = running.runtime.memory().unwrap().clone();
    // Wait until the fake bridge linked, then put a fresh QR code in the
    // channel's state, as the bridge does while it is unpaired.
    let deadline = Instant::now() + Duration::from_secs(20);
    while memory_json(&running, "bridge/state")["state"] != "open" {
        assert!(Instant::now() < deadline, "the bridge never linked");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, body) = openpista_tests::http_get(addr, "/whatsapp/pair?token=wa-web-token").await;
    assert_eq!(status, 200);
    assert!(
        body.contains("Linked as <b>10000@s.whatsapp.net</b>"),
        "{body}"
    );
    let unpaired = json!({"state": "qr", "qr": "2@a-qr-to-scan,xyz", "pairing_code": null});
    memory
        .kv_set(
            "channel-whatsapp",
            "bridge/state",
            unpaired.to_string().as_bytes(),
        )
        .unwrap();
    let (status, body) = openpista_tests::http_get(addr, "/whatsapp/pair?token=wrong").await;
    assert_eq!(status, 401);
    assert!(!body.contains("<svg"));
    let (status, _) = openpista_tests::http_get(addr, "/whatsapp/pair").await;
    assert_eq!(status, 401);
    let (status, body) = openpista_tests::http_get(addr, "/whatsapp/pair?token=wa-web-token").await;
    assert_eq!(status, 200);
    assert!(
        body.contains("<svg") && body.contains("http-equiv=\"refresh\""),
        "{body}"
    );
    running.stop().await;
}

/// A tool call from WhatsApp waits for a numbered reply: `1` approves
/// (the command's side effect happens), `2` rejects (it does not, and the
/// model is told the user declined), and a number with nothing waiting is
/// an ordinary message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_numbered_reply_approves_or_rejects_a_tool_call() {
    let root = tempfile::tempdir().unwrap();
    let Some(running) = host(root.path()).await else {
        return;
    };
    let run = |file: &Path| {
        format!(
            r#"!tool system.run {{"command": "touch {}"}}"#,
            file.display()
        )
    };
    let approved = root.path().join("approved");
    bridge_says(
        root.path(),
        &message("a1", OWNER, &run(&approved), Value::Null),
    );
    let texts = sent_to(root.path(), OWNER, 1).await;
    assert!(
        texts[0].contains("Approval needed")
            && texts[0].contains("system.run")
            && texts[0].contains("Reply 1 to approve"),
        "{texts:?}"
    );
    assert!(!approved.exists(), "nothing runs before the answer");
    bridge_says(root.path(), &message("a2", OWNER, "1", Value::Null));
    let texts = sent_to(root.path(), OWNER, 2).await;
    assert!(texts[1].starts_with("tool said:"), "{texts:?}");
    assert!(approved.exists(), "approved: the file was created");

    let rejected = root.path().join("rejected");
    bridge_says(
        root.path(),
        &message("a3", OWNER, &run(&rejected), Value::Null),
    );
    let texts = sent_to(root.path(), OWNER, 3).await;
    assert!(texts[2].contains("Approval needed"), "{texts:?}");
    bridge_says(root.path(), &message("a4", OWNER, "2", Value::Null));
    let texts = sent_to(root.path(), OWNER, 4).await;
    assert!(texts[3].contains("declined"), "{texts:?}");
    assert!(!rejected.exists(), "rejected: nothing ran");

    // With nothing waiting, "1" is a message for the agent.
    bridge_says(root.path(), &message("a5", OWNER, "1", Value::Null));
    let texts = sent_to(root.path(), OWNER, 5).await;
    assert_eq!(texts[4], "echo: 1");
    let outcomes: Vec<String> = running
        .gateway
        .agent()
        .decisions(&format!("whatsapp:{OWNER}"))
        .unwrap()
        .into_iter()
        .map(|d| d.outcome)
        .collect();
    assert_eq!(outcomes, ["approved", "rejected"]);
    running.stop().await;
}
