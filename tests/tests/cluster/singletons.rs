//! Two `openpista serve` nodes as separate processes, one NATS server, one
//! Bot API double: one node at a time polls Telegram and fires cron; the
//! holder is killed with SIGKILL and the other takes over, every update
//! answered once.

use super::{DEADLINE, LEASE_SECS, Node, holder};
use openpista_tests::doubles::telegram::{TelegramDouble, updates};
use std::path::Path;
use std::time::{Duration, Instant};

const TOKEN: &str = "424242:CLUSTER-test-token";
const OWNER: i64 = 100;

/// A node's config apart from `[cluster]`: Telegram on the double, cron
/// every second to the owner, the echo provider.
fn telegram_node(double: &TelegramDouble) -> impl Fn(&Path) -> String {
    let api = double.api_url();
    move |dir| {
        let d = dir.display();
        format!(
            "[agent]\nprovider = \"echo\"\n[runtime]\nplugin_dirs = []\ncache_dir = \"{d}/cache\"\n\
             [memory]\npath = \"{d}/memory.redb\"\n[server]\nenabled = false\n\
             [channels.web]\nenabled = false\n[channels.telegram]\nenabled = true\n\
             token = \"{TOKEN}\"\napi_url = \"{api}\"\nallowed_users = [{OWNER}]\n\
             [[cron]]\nschedule = \"* * * * * *\"\nsession = \"telegram:{OWNER}\"\nmessage = \"tick\"\n"
        )
    }
}

/// Waits until `text` has been delivered to the owner; returns how often.
async fn delivered(double: &TelegramDouble, text: &str) -> usize {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let n = count(double, text);
        if n > 0 {
            return n;
        }
        assert!(
            Instant::now() < deadline,
            "{text:?} was never delivered; got {:?}",
            double
                .delivered(OWNER)
                .iter()
                .map(|d| &d.text)
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Field `field` of each object in the JSON list `list`.
fn strings<'a>(list: &'a serde_json::Value, field: &str) -> Vec<&'a str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|item| item[field].as_str().unwrap())
        .collect()
}

fn count(double: &TelegramDouble, text: &str) -> usize {
    double
        .delivered(OWNER)
        .iter()
        .filter(|d| d.text == text)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_poll_and_cron_move_to_another_node_when_their_holder_is_killed() {
    let root = tempfile::tempdir().unwrap();
    let Some((server, watcher)) = super::server_and_watcher(root.path()).await else {
        return;
    };
    let double = TelegramDouble::start(TOKEN).await;
    let mut a = Some(Node::start(
        root.path(),
        "edge-a",
        &server.url(),
        telegram_node(&double),
    ));
    // The first node takes both leases before the second starts.
    let deadline = Instant::now() + DEADLINE;
    while holder(&watcher, "poll.telegram").await.as_deref() != Some("edge-a")
        || holder(&watcher, "cron").await.as_deref() != Some("edge-a")
    {
        assert!(Instant::now() < deadline, "edge-a took no leases");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut b = Some(Node::start(
        root.path(),
        "edge-b",
        &server.url(),
        telegram_node(&double),
    ));

    // One of them polls, and answers a message once.
    double.push_update(updates::text(1, OWNER, "first"));
    assert_eq!(delivered(&double, "echo: first").await, 1);
    let first = holder(&watcher, "poll.telegram")
        .await
        .expect("a poll lease");
    assert!(["edge-a", "edge-b"].contains(&first.as_str()), "{first}");
    let status = a.as_ref().unwrap().status();
    assert_eq!(
        strings(&status["nodes"], "node"),
        ["edge-a", "edge-b"],
        "{status}"
    );
    assert!(
        status["nodes"][0]["channels"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "channel-telegram"),
        "{status}"
    );

    // Cron fires on one node at a time: at most once a second, plus the
    // edges of the window and an answer late from before it, while both
    // run (both firing would be twice that: 8 in 4 s).
    let (from, ticks_before) = (Instant::now(), count(&double, "echo: tick"));
    tokio::time::sleep(Duration::from_secs(4)).await;
    let window = from.elapsed().as_secs_f64();
    let ticks = count(&double, "echo: tick") - ticks_before;
    eprintln!("cron: {ticks} answers in {window:.1} s with both nodes up");
    assert!(ticks >= 1, "cron never fired");
    assert!(
        (ticks as f64) <= window + 2.5,
        "{ticks} cron answers in {window:.1} s: more than one node fired"
    );

    assert_eq!(first, "edge-a");

    // SIGKILL the holder: it neither answers nor lets its leases go.
    let (killed, survivor) = if first == "edge-a" {
        (a.take().unwrap(), b.take().unwrap())
    } else {
        (b.take().unwrap(), a.take().unwrap())
    };
    let killed_name = killed.name.clone();
    drop(killed);
    let kill = Instant::now();
    double.push_update(updates::text(2, OWNER, "second"));
    assert_eq!(delivered(&double, "echo: second").await, 1);
    let answered = kill.elapsed();
    let taken = holder(&watcher, "poll.telegram").await;
    assert_eq!(taken.as_deref(), Some(survivor.name.as_str()));
    eprintln!(
        "poll takeover: {killed_name} killed, {} answered an update sent at the kill after {answered:?} (lease {LEASE_SECS} s)",
        survivor.name
    );
    // The holder's last renewal was at most about a quarter of a lease
    // time before the kill; the lease passes a whole lease time after it.
    assert!(
        answered >= Duration::from_secs_f64(LEASE_SECS / 2.0),
        "answered after {answered:?}: before the lease could have passed"
    );

    double.push_update(updates::text(3, OWNER, "third"));
    assert_eq!(delivered(&double, "echo: third").await, 1);
    // Cron went over with the poll.
    let ticks_then = count(&double, "echo: tick");
    let deadline = Instant::now() + DEADLINE;
    while count(&double, "echo: tick") == ticks_then {
        assert!(Instant::now() < deadline, "cron stopped with its holder");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        holder(&watcher, "cron").await.as_deref(),
        Some(survivor.name.as_str())
    );

    // Nothing answered twice after a quiet second.
    tokio::time::sleep(Duration::from_secs(1)).await;
    for text in ["echo: first", "echo: second", "echo: third"] {
        assert_eq!(count(&double, text), 1, "{text}");
    }
    // One conversation, the same on both nodes: its turns from before the
    // kill and after it, in order, in the cluster's memory.
    let view = tokio::task::spawn_blocking({
        let (dir, url) = (root.path().to_path_buf(), server.url());
        move || super::shared_store(&dir, &url, "test-view", Some(super::NATS_TOKEN))
    })
    .await
    .unwrap();
    let turns: Vec<String> = view
        .sessions()
        .unwrap()
        .iter()
        .flat_map(|s| view.messages(&s.id, usize::MAX).unwrap())
        .map(|m| m.content)
        .filter(|c| !c.contains("tick"))
        .collect();
    assert_eq!(
        turns,
        [
            "first",
            "echo: first",
            "second",
            "echo: second",
            "third",
            "echo: third"
        ]
    );

    // The killed node leaves the status after three lease times without a
    // beat; the survivor holds both leases.
    let deadline = Instant::now() + DEADLINE;
    loop {
        let status = survivor.status();
        if strings(&status["nodes"], "node") == [survivor.name.as_str()] {
            let holders = strings(&status["leases"], "holder");
            assert_eq!(holders, [survivor.name.as_str(); 2], "{status}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{killed_name} still listed: {status}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
