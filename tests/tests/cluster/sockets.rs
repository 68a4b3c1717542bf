//! A channel that holds a connection of its own (Discord's Gateway) in a
//! cluster: two `serve` nodes, one Discord double; exactly one node is
//! connected at any time, and when it is killed with SIGKILL the other
//! connects and answers.

use super::{DEADLINE, LEASE_SECS, Node, holder};
use openpista_tests::doubles::discord::{DiscordDouble, GatewayEvent, Incoming};
use std::time::{Duration, Instant};

const TOKEN: &str = "MTA5ODc2NTQzMjEwOTg3NjU0.GdCluster.discord-double-token";
const OWNER: &str = "100";
const DM: &str = "5100";

/// The most Gateway sockets the double had open at once.
fn most_open_at_once(double: &DiscordDouble) -> usize {
    let (mut open, mut most) = (std::collections::BTreeSet::new(), 0);
    for (_, event) in double.gateway_events() {
        match event {
            GatewayEvent::Connected { conn, .. } => {
                open.insert(conn);
            }
            GatewayEvent::Ended { conn } => {
                open.remove(&conn);
            }
            _ => {}
        }
        most = most.max(open.len());
    }
    most
}

async fn until_ready(what: &str, ready: impl FnMut() -> bool) {
    openpista_tests::until(what, DEADLINE, ready).await
}

fn answers(double: &DiscordDouble, text: &str) -> usize {
    double
        .delivered(DM)
        .iter()
        .filter(|d| d.content == text)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_node_holds_the_discord_gateway_and_another_takes_it_over() {
    let root = tempfile::tempdir().unwrap();
    let Some((server, watcher)) = super::server_and_watcher(root.path()).await else {
        return;
    };
    let double = DiscordDouble::start(TOKEN).await;
    let config = |dir: &std::path::Path| {
        double.host_config_text(dir, TOKEN, &[OWNER], "provider = \"echo\"", "")
    };
    let a = Node::start(root.path(), "gw-a", &server.url(), config);
    let b = Node::start(root.path(), "gw-b", &server.url(), config);
    until_ready("an identified Gateway session", || {
        double.counters().identifies >= 1 && double.bound_connection().is_some()
    })
    .await;
    double.dispatch_message(Incoming::dm(DM, OWNER, "hello"));
    until_ready("the answer", || answers(&double, "echo: hello") == 1).await;
    // Two lease times with both nodes up: the other never connects.
    tokio::time::sleep(Duration::from_secs_f64(LEASE_SECS * 2.0)).await;
    assert_eq!(double.counters().connections, 1, "{:?}", double.counters());
    let first = holder(&watcher, "socket.discord").await.expect("a holder");

    let (killed, survivor) = if first == a.name { (a, b) } else { (b, a) };
    drop(killed);
    let kill = Instant::now();
    until_ready("a second identify", || double.counters().identifies >= 2).await;
    let connected = kill.elapsed();
    double.dispatch_message(Incoming::dm(DM, OWNER, "still there?"));
    until_ready("the answer after the takeover", || {
        answers(&double, "echo: still there?") == 1
    })
    .await;
    eprintln!(
        "gateway takeover: {} connected {connected:?} after the holder was killed (lease {LEASE_SECS} s)",
        survivor.name
    );
    assert_eq!(
        holder(&watcher, "socket.discord").await.as_deref(),
        Some(survivor.name.as_str())
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(answers(&double, "echo: hello"), 1);
    assert_eq!(answers(&double, "echo: still there?"), 1);
    assert_eq!(
        most_open_at_once(&double),
        1,
        "{:?}",
        double.gateway_events()
    );
    assert_eq!(double.counters().identifies, 2, "{:?}", double.counters());
}
