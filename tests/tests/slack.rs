//! The Slack channel end to end: the real `channel-slack` component in a
//! host started as `serve` starts it, against the Slack double on
//! 127.0.0.1 (Web API, Socket Mode, file host), with Slack's own side of
//! the Events API played by signed requests to the host's `/slack/events`,
//! and the offline echo provider answering (`echo: TEXT`).

use openpista::cli::serve::{Running, start};
use openpista::gateway::channels::with_fresh;
use openpista_tests::doubles::slack::events_api::{
    Delivery, post_event, post_event_with, post_signed,
};
use openpista_tests::doubles::slack::{
    ACK_DEADLINE, BOT_TOKEN, SIGNING_SECRET, SlackDouble, SocketEvent, payloads, rate_limited,
};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

const OWNER: &str = "U0OWNER1";
const CHANNEL: &str = "C0GENERAL1";

async fn host(root: &Path, double: &SlackDouble, mode: &str) -> Running {
    let running = start(&double.host_config(root, mode, &[OWNER], ""))
        .await
        .unwrap();
    assert!(running.failures.is_empty(), "{:?}", running.failures);
    assert!(
        running
            .channel_notes
            .iter()
            .any(|n| n.contains("channel slack (channel-slack) started")),
        "{:?}",
        running.channel_notes
    );
    running
}

fn addr(running: &Running) -> SocketAddr {
    running.local_addr().expect("the host's server listens")
}

/// An `app_mention` of the bot by `user` in [`CHANNEL`], as an
/// `event_callback`.
fn mention(event_id: &str, user: &str, text: &str, ts: &str, thread: Option<&str>) -> String {
    payloads::callback(
        event_id,
        payloads::app_mention(user, CHANNEL, &format!("<@UBOT> {text}"), ts, thread),
    )
    .to_string()
}

fn texts(double: &SlackDouble, channel: &str) -> Vec<String> {
    double.posted(channel).into_iter().map(|p| p.text).collect()
}

fn turns(running: &Running) -> u64 {
    running.gateway.stats.turns.load(Ordering::SeqCst)
}

fn events(running: &Running) -> u64 {
    running.gateway.stats.events.load(Ordering::SeqCst)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mention_in_a_thread_is_acknowledged_at_once_and_answered_in_the_thread() {
    let root = tempfile::tempdir().unwrap();
    let double = SlackDouble::start().await;
    let running = host(root.path(), &double, "events").await;
    let thread = "1700000500.000100";

    let r = post_event_with(
        addr(&running),
        SIGNING_SECRET,
        &mention(
            "Ev0A1",
            OWNER,
            "what time is it",
            "1700000600.000200",
            Some(thread),
        ),
        &Delivery::default(),
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.took() < ACK_DEADLINE, "answered after {:?}", r.took());

    let posted = double.wait_posted(CHANNEL, 1, 30).await;
    assert_eq!(posted[0].text, "echo: what time is it", "{posted:?}");
    assert_eq!(posted[0].thread_ts.as_deref(), Some(thread), "{posted:?}");
    let call = double
        .calls_of("chat.postMessage")
        .into_iter()
        .find(|c| c.succeeded())
        .unwrap();
    assert_eq!(
        call.header("authorization"),
        Some(format!("Bearer {BOT_TOKEN}").as_str())
    );
    assert!(
        r.at <= call.at,
        "the event was acknowledged {:?} after the answer was posted",
        r.at - call.at
    );
    assert_eq!(turns(&running), 1);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_replayed_events_are_refused() {
    let root = tempfile::tempdir().unwrap();
    let double = SlackDouble::start().await;
    let running = host(root.path(), &double, "events").await;
    let addr = addr(&running);

    // A signature made with another secret.
    let body = mention("Ev0B1", OWNER, "forged", "1700000600.000100", None);
    let r = post_event_with(addr, "not-the-signing-secret", &body, &Delivery::default()).await;
    assert_eq!(r.status, 401, "{r:?}");
    // The right secret over another body.
    let other = mention("Ev0B1", OWNER, "tampered", "1700000600.000100", None);
    let signature =
        openpista_tests::doubles::slack::events_api::sign(SIGNING_SECRET, payloads::now(), &other);
    let r = post_event_with(
        addr,
        SIGNING_SECRET,
        &body,
        &Delivery::signed_as(&signature),
    )
    .await;
    assert_eq!(r.status, 401, "{r:?}");
    // No signature at all.
    let r = openpista_tests::doubles::slack::events_api::post(
        addr,
        "/slack/events",
        &[("Content-Type".into(), "application/json".into())],
        body.as_bytes(),
    )
    .await;
    assert_eq!(r.status, 401, "{r:?}");
    // Correctly signed, but six minutes old: a replay.
    let old = mention("Ev0B2", OWNER, "replayed", "1700000600.000200", None);
    let r = post_event_with(
        addr,
        SIGNING_SECRET,
        &old,
        &Delivery::at(payloads::now() - 360),
    )
    .await;
    assert_eq!(r.status, 401, "{r:?}");

    // The positive control: a good event after them is the only one
    // answered.
    let good = mention("Ev0B3", OWNER, "genuine", "1700000600.000300", None);
    let r = post_event_with(addr, SIGNING_SECRET, &good, &Delivery::default()).await;
    assert_eq!(r.status, 200, "{r:?}");
    double.wait_posted(CHANNEL, 1, 30).await;
    assert_eq!(texts(&double, CHANNEL), ["echo: genuine"]);
    assert_eq!(double.all_posted().len(), 1, "{}", double.summary());
    assert_eq!(turns(&running), 1);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivered_event_is_answered_once() {
    let root = tempfile::tempdir().unwrap();
    let double = SlackDouble::start().await;
    let running = host(root.path(), &double, "events").await;
    let addr = addr(&running);

    let body = mention("Ev0C1", OWNER, "once", "1700000600.000100", None);
    let first = post_event_with(addr, SIGNING_SECRET, &body, &Delivery::default()).await;
    assert_eq!(first.status, 200, "{first:?}");
    // Slack thought the first delivery failed and sends it again.
    let again = post_event_with(
        addr,
        SIGNING_SECRET,
        &body,
        &Delivery::retry(1, "http_timeout"),
    )
    .await;
    assert_eq!(again.status, 200, "a retry is acknowledged too: {again:?}");

    let control = mention("Ev0C2", OWNER, "control", "1700000600.000200", None);
    let r = post_event_with(addr, SIGNING_SECRET, &control, &Delivery::default()).await;
    assert_eq!(r.status, 200, "{r:?}");
    double.wait_posted(CHANNEL, 2, 30).await;
    let mut got = texts(&double, CHANNEL);
    got.sort();
    assert_eq!(got, ["echo: control", "echo: once"], "{}", double.summary());
    assert_eq!(turns(&running), 2);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_verification_gets_its_challenge_back() {
    let root = tempfile::tempdir().unwrap();
    let double = SlackDouble::start().await;
    let running = host(root.path(), &double, "events").await;
    let challenge = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P";

    let r = post_event(
        addr(&running),
        SIGNING_SECRET,
        &payloads::url_verification(challenge),
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    // Slack takes the challenge as plain text, a form or JSON.
    let body = r.body.trim();
    assert!(
        body == challenge
            || r.json()["challenge"] == challenge
            || body == format!("challenge={challenge}"),
        "{r:?}"
    );
    // Unsigned, it is refused like any other request.
    let r = post_signed(
        addr(&running),
        "/slack/events",
        "application/json",
        "wrong-secret",
        &payloads::url_verification(challenge).to_string(),
        &Delivery::default(),
    )
    .await;
    assert_eq!(r.status, 401, "{r:?}");
    assert_eq!(events(&running), 0);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_mode_acknowledges_answers_and_reconnects_on_refresh() {
    let root = tempfile::tempdir().unwrap();
    let double = SlackDouble::start().await;
    // The double leaves the old socket open long after `disconnect`: the
    // channel must not wait for Slack to close it.
    double.set_disconnect_grace(Duration::from_secs(60));
    let running = host(root.path(), &double, "socket").await;

    let first = double.wait_connected(1, 30).await;
    let opens = double.calls_of("apps.connections.open");
    assert_eq!(opens.len(), 1, "{}", double.summary());
    assert_eq!(
        opens[0].header("authorization"),
        Some(format!("Bearer {}", openpista_tests::doubles::slack::APP_TOKEN).as_str())
    );

    let thread = "1700000500.000100";
    let id = double.push_event(payloads::callback(
        "Ev0D1",
        payloads::app_mention(
            OWNER,
            CHANNEL,
            "<@UBOT> over the socket",
            "1700000600.000100",
            Some(thread),
        ),
    ));
    let ack = double.wait_ack(&id, 10).await;
    assert_eq!(ack.conn, first);
    let after = ack.after.unwrap();
    assert!(after < ACK_DEADLINE, "acknowledged after {after:?}");
    let posted = double.wait_posted(CHANNEL, 1, 30).await;
    assert_eq!(posted[0].text, "echo: over the socket", "{posted:?}");
    assert_eq!(posted[0].thread_ts.as_deref(), Some(thread));

    // Slack asks for a refresh: a new URL, a new socket.
    assert_eq!(double.send_disconnect("refresh_requested"), Some(first));
    let second = double.wait_connected(2, 30).await;
    assert_ne!(second, first);
    assert_eq!(double.calls_of("apps.connections.open").len(), 2);
    assert_eq!(double.counters().refused, 0);

    let id = double.push_event(payloads::callback(
        "Ev0D2",
        payloads::app_mention(
            OWNER,
            CHANNEL,
            "<@UBOT> after the refresh",
            "1700000600.000200",
            Some(thread),
        ),
    ));
    let ack = double.wait_ack(&id, 10).await;
    assert_eq!(ack.conn, second);
    let posted = double.wait_posted(CHANNEL, 2, 30).await;
    assert_eq!(posted[1].text, "echo: after the refresh", "{posted:?}");
    assert_eq!(posted[1].thread_ts.as_deref(), Some(thread));
    assert_eq!(posted.len(), 2, "{}", double.summary());
    // Each envelope acknowledged once.
    assert_eq!(double.acks().len(), 2, "{:?}", double.acks());
    // The old socket is let go (by the client: the double waits 60 s).
    double
        .wait_until("the refreshed socket to end", 20, |d| {
            d.socket_events()
                .iter()
                .any(|(_, e)| *e == SocketEvent::Ended { conn: first })
        })
        .await;
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limited_post_waits_retry_after_and_posts_once() {
    let root = tempfile::tempdir().unwrap();
    let double = SlackDouble::start().await;
    let running = host(root.path(), &double, "events").await;
    let addr = addr(&running);
    double.fail_next("chat.postMessage", rate_limited(1));

    let body = mention("Ev0E1", OWNER, "slowly", "1700000600.000100", None);
    let r = post_event_with(addr, SIGNING_SECRET, &body, &Delivery::default()).await;
    assert_eq!(r.status, 200, "{r:?}");
    let calls = double
        .wait_for("chat.postMessage", 30, |c| c.iter().any(|c| c.succeeded()))
        .await;
    assert_eq!(calls[0].status, 429, "{}", double.summary());
    let retry = calls.iter().find(|c| c.succeeded()).unwrap();
    let waited = retry.at - calls[0].at;
    assert!(
        waited >= Duration::from_secs(1),
        "retried {waited:?} after a 429 with Retry-After: 1"
    );

    // The positive control: the next answer arrives, and the first was
    // posted once.
    let control = mention("Ev0E2", OWNER, "control", "1700000600.000200", None);
    let r = post_event_with(addr, SIGNING_SECRET, &control, &Delivery::default()).await;
    assert_eq!(r.status, 200, "{r:?}");
    double.wait_posted(CHANNEL, 2, 30).await;
    assert_eq!(
        texts(&double, CHANNEL),
        ["echo: slowly", "echo: control"],
        "{}",
        double.summary()
    );
    assert_eq!(double.calls_of("chat.postMessage").len(), 3);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_users_dm_gets_a_pairing_code_and_nothing_else() {
    let root = tempfile::tempdir().unwrap();
    let double = SlackDouble::start().await;
    let running = host(root.path(), &double, "events").await;
    let addr = addr(&running);
    const STRANGER: &str = "U0STRANGER9";
    const DM: &str = "D0STRANGER9";

    let body = payloads::callback(
        "Ev0F1",
        payloads::dm(STRANGER, DM, "let me in", "1700000600.000100"),
    )
    .to_string();
    let r = post_event_with(addr, SIGNING_SECRET, &body, &Delivery::default()).await;
    assert_eq!(r.status, 200, "{r:?}");
    let posted = double.wait_posted(DM, 1, 30).await;
    let (pending, approved) =
        with_fresh(&running.runtime.get("channel-slack").unwrap(), async |i| {
            i.list_pairings().await
        })
        .await
        .unwrap();
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert!(approved.is_empty());
    let code = pending[0].code.clone();
    assert!(
        posted[0].text.contains(&code),
        "{:?} vs {code}",
        posted[0].text
    );
    assert!(!posted[0].text.contains("echo:"), "{:?}", posted[0].text);
    assert_eq!(turns(&running), 0, "nothing reached the agent");
    assert_eq!(events(&running), 0, "nothing reached the agent");

    // The owner's DM, sent after, is answered: the channel works, and the
    // stranger still got only the code.
    let body = payloads::callback(
        "Ev0F2",
        payloads::dm(OWNER, "D0OWNER1", "hello", "1700000600.000200"),
    )
    .to_string();
    let r = post_event_with(addr, SIGNING_SECRET, &body, &Delivery::default()).await;
    assert_eq!(r.status, 200, "{r:?}");
    let owner = double.wait_posted("D0OWNER1", 1, 30).await;
    assert_eq!(owner[0].text, "echo: hello");
    assert_eq!(double.posted(DM).len(), 1, "{}", double.summary());
    assert_eq!(turns(&running), 1);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_file_is_downloaded_with_the_bot_token() {
    let root = tempfile::tempdir().unwrap();
    let double = SlackDouble::start().await;
    let running = host(root.path(), &double, "events").await;
    let file = double.add_file(
        "F0PHOTO1",
        "photo.png",
        "image/png",
        vec![0x89, b'P', b'N', b'G', 13, 10, 26, 10, 1, 2, 3],
    );

    let body = payloads::callback(
        "Ev0G1",
        payloads::dm_with_files(
            OWNER,
            "D0OWNER1",
            "look at this",
            "1700000600.000100",
            vec![file],
        ),
    )
    .to_string();
    let r = post_event_with(addr(&running), SIGNING_SECRET, &body, &Delivery::default()).await;
    assert_eq!(r.status, 200, "{r:?}");
    let posted = double.wait_posted("D0OWNER1", 1, 30).await;
    assert_eq!(posted[0].text, "echo: look at this", "{posted:?}");
    let downloads = double.calls_of("files.download");
    assert_eq!(downloads.len(), 1, "{}", double.summary());
    assert_eq!(downloads[0].token.as_deref(), Some(BOT_TOKEN));
    assert!(downloads[0].succeeded(), "{:?}", downloads[0]);
    running.stop().await;
}
