//! Leases between nodes of one process (each its own NATS client), under
//! the conditions that decide them: a clean release, a holder cut off
//! from the server, a key taken from under its holder, a server restart.

use super::connect;
use openpista::cluster::LEASES_BUCKET;
use openpista::cluster::lease::Lease;
use openpista_tests::nats::NatsServer;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Long enough that a loaded CI machine's stalls stay well inside the
/// holder's margin (an eighth).
const TTL: Duration = Duration::from_millis(1500);

/// Waits until `held` reads `want`; returns when it did.
async fn until(held: &mut watch::Receiver<bool>, want: bool, within: Duration) -> Instant {
    tokio::time::timeout(within, held.wait_for(|h| *h == want))
        .await
        .unwrap_or_else(|_| panic!("the lease did not turn {want} within {within:?}"))
        .unwrap();
    Instant::now()
}

/// Two nodes on one server wanting lease `name`: `a` holds it, `b` waits.
struct Pair {
    server: NatsServer,
    a: openpista::cluster::Cluster,
    b: openpista::cluster::Cluster,
    lease_a: Lease,
    held_a: watch::Receiver<bool>,
    lease_b: Lease,
    held_b: watch::Receiver<bool>,
}

impl Pair {
    async fn start(dir: &std::path::Path, prefix: &str, name: &str) -> Option<Pair> {
        let server = NatsServer::start(dir)?;
        let a = connect(&server.url(), &format!("{prefix}-a"), TTL).await;
        let b = connect(&server.url(), &format!("{prefix}-b"), TTL).await;
        let lease_a = Lease::want(&a, name).await.unwrap();
        let mut held_a = lease_a.held();
        until(&mut held_a, true, Duration::from_secs(5)).await;
        let lease_b = Lease::want(&b, name).await.unwrap();
        let held_b = lease_b.held();
        Some(Pair {
            server,
            a,
            b,
            lease_a,
            held_a,
            lease_b,
            held_b,
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_node_holds_a_lease_and_a_release_passes_it_on_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let Some(mut pair) = Pair::start(dir.path(), "node", "poll.telegram").await else {
        return;
    };
    // Three lease times: b keeps seeing a's renewals, so never takes it.
    let watch_until = Instant::now() + TTL * 3;
    while Instant::now() < watch_until {
        assert!(*pair.held_a.borrow(), "a lost a lease it was renewing");
        assert!(!*pair.held_b.borrow(), "b took a lease a was renewing");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let status = openpista::cluster::nodes::status(&pair.a).await.unwrap();
    assert_eq!(status.leases.len(), 1, "{status:?}");
    assert_eq!(status.leases[0].holder, "node-a");

    let released = Instant::now();
    pair.lease_a.release().await;
    assert!(!*pair.held_a.borrow());
    let taken = until(&mut pair.held_b, true, Duration::from_secs(5)).await;
    // A deleted key is taken on the contender's next look (a quarter of a
    // lease time), not after a whole lease time.
    assert!(
        taken - released < TTL,
        "a released lease took {:?} to pass on",
        taken - released
    );
    let status = openpista::cluster::nodes::status(&pair.b).await.unwrap();
    assert_eq!(status.leases[0].holder, "node-b");
    drop(pair.lease_b);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_holder_cut_off_stops_before_another_starts() {
    let dir = tempfile::tempdir().unwrap();
    let Some(mut pair) = Pair::start(dir.path(), "cut", "cron").await else {
        return;
    };
    // a's connection goes; its keeper can neither renew nor know why.
    pair.a.client.drain().await.unwrap();
    let cut = Instant::now();
    // Each flip timed as it happens, side by side.
    let (stopped, started) = tokio::join!(
        until(&mut pair.held_a, false, TTL * 4),
        until(&mut pair.held_b, true, TTL * 4)
    );
    assert!(
        stopped <= started,
        "b started {:?} before a stopped",
        stopped - started
    );
    // b needs a whole lease time without renewals, and takes it within
    // about one and a half.
    let takeover = started - cut;
    assert!(takeover >= TTL, "taken over after only {takeover:?}");
    eprintln!("takeover after the holder was cut off: {takeover:?} (lease {TTL:?})");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_taken_from_under_its_holder_is_given_up() {
    let dir = tempfile::tempdir().unwrap();
    let Some(server) = NatsServer::start(dir.path()) else {
        return;
    };
    let a = connect(&server.url(), "own-a", TTL).await;
    let lease = Lease::want(&a, "poll.x").await.unwrap();
    let mut held = lease.held();
    until(&mut held, true, Duration::from_secs(5)).await;
    // Another writer changes the key: a's next renewal, a compare-and-set
    // on the revision it wrote, fails, and a stops at once.
    let store = a.bucket(LEASES_BUCKET).await.unwrap();
    store.put("poll.x", "intruder".into()).await.unwrap();
    until(&mut held, false, TTL).await;
    // And it does not take it back while the intruder keeps it fresh.
    for _ in 0..4 {
        store.put("poll.x", "intruder".into()).await.unwrap();
        tokio::time::sleep(TTL / 3).await;
        assert!(!*held.borrow(), "took back a lease that was being renewed");
    }
    // Once the intruder stops, it is a's again.
    until(&mut held, true, TTL * 3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leases_survive_a_restart_of_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let Some(mut pair) = Pair::start(dir.path(), "restart", "poll.telegram").await else {
        return;
    };
    pair.server.restart();
    // Both clients reconnect; the stored lease survived the restart, and
    // within a few lease times exactly one node holds it, for good.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut steady_since: Option<Instant> = None;
    loop {
        let (ha, hb) = (*pair.held_a.borrow(), *pair.held_b.borrow());
        assert!(!(ha && hb), "both nodes held the lease");
        if ha ^ hb {
            let since = *steady_since.get_or_insert_with(Instant::now);
            if since.elapsed() > TTL * 3 {
                break;
            }
        } else {
            steady_since = None;
        }
        assert!(
            Instant::now() < deadline,
            "no steady holder after the restart"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let status = openpista::cluster::nodes::status(&pair.b).await.unwrap();
    let holder = if *pair.held_a.borrow() {
        "restart-a"
    } else {
        "restart-b"
    };
    assert_eq!(status.leases[0].holder, holder, "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_with_a_token_refuses_a_node_without_it() {
    let dir = tempfile::tempdir().unwrap();
    let token = "lease-test-token-4f2a";
    let Some(server) = NatsServer::start_with(dir.path(), Some(token)) else {
        return;
    };
    let wrong = "not-the-token-77";
    for given in [None, Some(wrong)] {
        let e = super::connect_with(&server.url(), "no-token", TTL, given)
            .await
            .err()
            .unwrap_or_else(|| panic!("connected with {given:?}"));
        let text = format!("{e:#}");
        assert!(text.contains(&server.url()), "{text}");
        assert!(!text.contains(wrong), "the token is in the error: {text}");
    }
    let a = super::connect_with(&server.url(), "with-token", TTL, Some(token))
        .await
        .unwrap();
    let lease = Lease::want(&a, "cron").await.unwrap();
    until(&mut lease.held(), true, Duration::from_secs(5)).await;
}
