//! The conversation store behind the memory store, on its two back ends:
//! one redb file, and JetStream shared by two nodes (each its own
//! connection and memory store). The same conformance checks run on both;
//! the JetStream one also across a server restart and with the server
//! gone.

use openpista::memory::MemoryStore;
use openpista::memory::sessions::StoredMessage;
use openpista_tests::nats::NatsServer;
use std::path::Path;
use std::time::{Duration, Instant};

fn shared_store(dir: &Path, url: &str, node: &str) -> MemoryStore {
    super::shared_store(dir, url, node, None)
}

fn text(role: &str, content: &str) -> StoredMessage {
    StoredMessage::text(role, content, openpista::memory::now_ms())
}

fn contents(messages: &[StoredMessage]) -> Vec<&str> {
    messages.iter().map(|m| m.content.as_str()).collect()
}

/// What every back end must do; `a` and `b` are two nodes' views (the same
/// store for one file).
fn conformance(a: &MemoryStore, b: &MemoryStore) {
    // Sessions: made once, read from either side.
    let odd = "web:ü/x y.z*>";
    let made = a.create_session("telegram:42").unwrap();
    assert_eq!(made.messages, 0);
    assert_eq!(
        b.create_session("telegram:42").unwrap().created_ms,
        made.created_ms
    );
    assert!(b.session("telegram:43").unwrap().is_none());
    // Appends in order, sequence numbers per session, from both sides.
    assert_eq!(a.append("telegram:42", &text("user", "one")).unwrap(), 0);
    assert_eq!(
        b.append("telegram:42", &text("assistant", "two")).unwrap(),
        1
    );
    assert_eq!(
        a.append_with("telegram:42", &text("user", "three"), false)
            .unwrap(),
        2
    );
    a.flush().unwrap();
    assert_eq!(a.append(odd, &text("user", "elsewhere")).unwrap(), 0);
    assert_eq!(
        contents(&b.messages("telegram:42", usize::MAX).unwrap()),
        ["one", "two", "three"]
    );
    assert_eq!(
        contents(&b.messages("telegram:42", 2).unwrap()),
        ["two", "three"]
    );
    assert_eq!(contents(&a.messages(odd, 10).unwrap()), ["elsewhere"]);
    assert!(a.messages("never:1", 10).unwrap().is_empty());
    assert_eq!(b.session("telegram:42").unwrap().unwrap().messages, 3);
    // Most recently active first.
    std::thread::sleep(Duration::from_millis(5));
    b.append("telegram:42", &text("assistant", "four")).unwrap();
    let ids: Vec<String> = a.sessions().unwrap().into_iter().map(|s| s.id).collect();
    assert_eq!(ids, ["telegram:42", odd]);
    // The host's namespaces.
    a.kv_set("@sessions", "chat/2", b"s2").unwrap();
    a.kv_set("@sessions", "chat/1", b"s1").unwrap();
    a.kv_set("@sessions", "other", b"x").unwrap();
    a.kv_set("@approvals", "chat/9", b"y").unwrap();
    assert_eq!(
        b.kv_get("@sessions", "chat/1").unwrap().as_deref(),
        Some(&b"s1"[..])
    );
    assert_eq!(
        b.kv_list("@sessions", "chat/", 10).unwrap(),
        ["chat/1", "chat/2"]
    );
    assert_eq!(b.kv_list("@sessions", "chat/", 1).unwrap(), ["chat/1"]);
    assert!(b.kv_delete("@sessions", "other").unwrap());
    assert!(!a.kv_delete("@sessions", "other").unwrap());
    assert_eq!(a.kv_get("@sessions", "other").unwrap(), None);
    // Deleting a session takes its messages.
    assert!(b.delete_session("telegram:42").unwrap());
    assert!(!a.delete_session("telegram:42").unwrap());
    assert!(a.session("telegram:42").unwrap().is_none());
    assert!(a.messages("telegram:42", 10).unwrap().is_empty());
    assert_eq!(contents(&b.messages(odd, 10).unwrap()), ["elsewhere"]);
}

#[test]
fn one_file_keeps_conversations_as_the_contract_says() {
    let dir = tempfile::tempdir().unwrap();
    let store = MemoryStore::open(&dir.path().join("m.redb")).unwrap();
    conformance(&store, &store);
}

#[test]
fn two_nodes_share_conversations_through_jetstream() {
    let dir = tempfile::tempdir().unwrap();
    let Some(server) = NatsServer::start(&dir.path().join("nats")) else {
        return;
    };
    let a = shared_store(dir.path(), &server.url(), "mem-a");
    let b = shared_store(dir.path(), &server.url(), "mem-b");
    conformance(&a, &b);
    // A long conversation: the latest messages are read by their index,
    // older ones through a scan of the session's subject; both in order.
    for i in 0..300 {
        a.append("web:long", &text("user", &format!("m{i}")))
            .unwrap();
    }
    let want = |from: usize| (from..300).map(|i| format!("m{i}")).collect::<Vec<_>>();
    assert_eq!(contents(&b.messages("web:long", 10).unwrap()), want(290));
    assert_eq!(contents(&b.messages("web:long", 280).unwrap()), want(20));
    assert_eq!(
        contents(&b.messages("web:long", usize::MAX).unwrap()),
        want(0)
    );
    // A channel's own memory stays with its node; a tool's is the
    // cluster's, as the wiring selects (tools and providers, not channels).
    for store in [&a, &b] {
        store.share_components(std::sync::Arc::new(|name: &str| name.starts_with("tool-")));
    }
    a.kv_set("channel-telegram", "offset", b"7").unwrap();
    assert_eq!(b.kv_get("channel-telegram", "offset").unwrap(), None);
    a.kv_set("tool-notes", "todo", b"milk").unwrap();
    assert_eq!(
        b.kv_get("tool-notes", "todo").unwrap().as_deref(),
        Some(&b"milk"[..])
    );
    assert_eq!(b.kv_list("tool-notes", "", 10).unwrap(), ["todo"]);
    assert!(b.kv_delete("tool-notes", "todo").unwrap());
    assert_eq!(a.kv_get("tool-notes", "todo").unwrap(), None);
}

#[test]
fn stored_messages_survive_a_restart_and_a_missing_server_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let Some(mut server) = NatsServer::start(&dir.path().join("nats")) else {
        return;
    };
    let a = shared_store(dir.path(), &server.url(), "restart-a");
    a.append("web:1", &text("user", "before")).unwrap();
    server.restart();
    // The client reconnects; what was acknowledged was kept.
    let b = shared_store(dir.path(), &server.url(), "restart-b");
    assert_eq!(contents(&b.messages("web:1", 10).unwrap()), ["before"]);
    a.append("web:1", &text("assistant", "after")).unwrap();
    assert_eq!(
        contents(&b.messages("web:1", 10).unwrap()),
        ["before", "after"]
    );

    server.kill();
    let asked = Instant::now();
    let e = a.append("web:1", &text("user", "lost?")).unwrap_err();
    let e = format!("{e:#}");
    assert!(e.contains("cluster memory: store a message"), "{e}");
    assert!(e.contains("NATS"), "{e}");
    assert!(
        asked.elapsed() < Duration::from_secs(15),
        "{:?}",
        asked.elapsed()
    );
}
