//! The Discord channel end to end: the real `channel-discord` component in
//! a host started as `serve` starts it, against the Discord double
//! (Gateway over WebSocket + REST) on 127.0.0.1, with the offline echo
//! provider answering (or the OpenAI double, when an answer must be slow
//! or long).

use openpista::cli::serve::{Running, start};
use openpista::config::Config;
use openpista::gateway::channels::with_fresh;
use openpista_tests::doubles::discord::{
    BOT_ID, DiscordDouble, GatewayEvent, INTENT_DIRECT_MESSAGES, INTENT_GUILD_MESSAGES,
    INTENT_MESSAGE_CONTENT, Incoming, MAX_CONTENT, rate_limited,
};
use openpista_tests::doubles::openai::{OpenAiDouble, Reply};
use serde_json::json;
use std::path::Path;
use std::time::{Duration, Instant};

const TOKEN: &str = "MTA5ODc2NTQzMjEwOTg3NjU0.GdTest.discord-double-secret-token";
const OWNER: &str = "100";
/// The owner's DM channel with the bot.
const DM: &str = "5100";
const GUILD: &str = "7000";
const GENERAL: &str = "7001";
const KEY_ENV: &str = "OPENPISTA_TEST_DISCORD_KEY";

async fn started(config: &Config) -> Running {
    let running = start(config).await.unwrap();
    assert!(running.failures.is_empty(), "{:?}", running.failures);
    assert!(
        running
            .channel_notes
            .iter()
            .any(|n| n.contains("channel discord (channel-discord) started")),
        "{:?}",
        running.channel_notes
    );
    running
}

/// A host on the double with the echo provider; returns once the
/// Gateway session is READY.
async fn host(root: &Path, double: &DiscordDouble, extra: &str) -> Running {
    let running = started(&double.host_config(root, TOKEN, &[OWNER], extra)).await;
    double.wait_ready(30).await;
    running
}

/// A host whose model is the OpenAI double.
async fn host_on_openai(root: &Path, double: &DiscordDouble, openai: &OpenAiDouble) -> Running {
    // SAFETY: every test sets the same value.
    unsafe { std::env::set_var(KEY_ENV, "sk-discord-test") };
    let providers = format!(
        "[providers.main]\npreset = \"custom\"\nbase_url = \"{}\"\nmodel = \"gpt-test\"\napi_key_env = \"{KEY_ENV}\"\n",
        openai.base_url()
    );
    let config =
        double.host_config_with_agent(root, TOKEN, &[OWNER], "provider = \"main\"", &providers);
    let running = started(&config).await;
    double.wait_ready(30).await;
    running
}

fn contents(double: &DiscordDouble, channel: &str) -> Vec<String> {
    double
        .delivered(channel)
        .into_iter()
        .map(|d| d.content)
        .collect()
}

/// Lets the component catch up: waits until it has heartbeated `n` more
/// times (an event, not a guess at a duration).
async fn settle(double: &DiscordDouble, n: u32) {
    let from = double.counters().heartbeats;
    double
        .wait_until("heartbeats", 30, |d| d.counters().heartbeats >= from + n)
        .await;
}

/// Every stored message of every session.
fn all_stored(running: &Running) -> Vec<(String, String)> {
    let memory = running.runtime.memory().unwrap().clone();
    let mut out = Vec::new();
    for session in memory.sessions().unwrap() {
        for m in memory.messages(&session.id, 1000).unwrap() {
            out.push((session.id.clone(), m.content));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_direct_message_reaches_the_agent_and_the_answer_comes_back() {
    let root = tempfile::tempdir().unwrap();
    let double = DiscordDouble::start(TOKEN).await;
    let running = host(root.path(), &double, "").await;

    // Start-up: identity, Gateway URL, Identify with the intents it needs
    // and the token the host filled in.
    assert!(!double.calls_of("GET /users/@me").is_empty());
    assert!(!double.calls_of("GET /gateway/bot").is_empty());
    let me = &double.calls_of("GET /users/@me")[0];
    assert_eq!(me.header("authorization"), Some(&*format!("Bot {TOKEN}")));
    let identify = &double.received_op(2)[0];
    let intents = identify["intents"].as_u64().unwrap();
    for bit in [
        INTENT_GUILD_MESSAGES,
        INTENT_DIRECT_MESSAGES,
        INTENT_MESSAGE_CONTENT,
    ] {
        assert_ne!(intents & bit, 0, "intents {intents:#b} lack {bit:#b}");
    }
    let first = double.gateway_events();
    assert!(
        matches!(&first[0].1, GatewayEvent::Connected { path, .. } if path.starts_with("/gateway") && path.contains("v=10") && path.contains("encoding=json")),
        "{:?}",
        first[0]
    );
    // Slash commands registered after READY.
    let registered = double
        .wait_for("PUT /applications/{id}/commands", 30, |c| {
            c.iter().any(|c| c.status == 200)
        })
        .await;
    assert!(registered[0].body.as_array().is_some_and(|a| !a.is_empty()));

    double.dispatch_message(Incoming::dm(DM, OWNER, "hello there"));
    let answers = double.wait_delivered(DM, 1, 30).await;
    assert_eq!(answers[0].content, "echo: hello there");
    assert!(
        all_stored(&running)
            .iter()
            .any(|(id, m)| *id == format!("discord:{DM}") && m == "hello there"),
        "{:?}",
        all_stored(&running)
    );

    // It heartbeats with the last sequence number it saw, and is ACKed.
    settle(&double, 2).await;
    let beats = double.received_op(1);
    let last = beats.last().unwrap();
    assert!(last.as_u64().is_some_and(|s| s >= 2), "heartbeat d {last}");
    assert_eq!(double.counters().identifies, 1);
    settle(&double, 1).await;
    assert_eq!(contents(&double, DM), ["echo: hello there"]);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_socket_is_resumed_and_no_event_is_lost_or_repeated() {
    let root = tempfile::tempdir().unwrap();
    let double = DiscordDouble::start(TOKEN).await;
    let running = host(root.path(), &double, "").await;
    let session = double.current_session().unwrap();
    let first_conn = double.bound_connection().unwrap();

    for i in 1..=2 {
        double.dispatch_message(Incoming::dm(DM, OWNER, &format!("m{i}")));
    }
    double.wait_delivered(DM, 2, 30).await;

    // The network drops; new sockets wait before Hello, so what follows
    // surely happens while the client is away.
    double.hold_gateway();
    assert_eq!(double.drop_connection(), 1);
    for i in 3..=4 {
        double.dispatch_message(Incoming::dm(DM, OWNER, &format!("m{i}")));
    }
    double.release_gateway();

    double
        .wait_until("a resume", 30, |d| d.counters().resumes == 1)
        .await;
    double.wait_delivered(DM, 4, 30).await;
    let c = double.counters();
    assert_eq!((c.identifies, c.resumes, c.refused_resumes), (1, 1, 0));
    assert_eq!(double.current_session().unwrap(), session);

    // It resumed at READY's resume_gateway_url with the last seq it saw,
    // and got exactly what it had missed.
    let conn = double.bound_connection().unwrap();
    assert_ne!(conn, first_conn);
    let connected = double
        .gateway_events()
        .into_iter()
        .find_map(|(_, e)| match e {
            GatewayEvent::Connected { conn: c, path } if c == conn => Some(path),
            _ => None,
        });
    let connected = connected.unwrap();
    assert!(connected.starts_with("/gateway/resume"), "{connected}");
    let resume = &double.received_op(6)[0];
    assert_eq!(resume["session_id"], session.as_str());
    let seen: Vec<u64> = double
        .written_dispatches(first_conn)
        .iter()
        .map(|(s, _)| *s)
        .collect();
    assert_eq!(resume["seq"].as_u64(), seen.last().copied());
    let replayed = double.written_dispatches(conn);
    let log = double.session_log(&session);
    let expected: Vec<(u64, String)> = log[seen.len()..]
        .iter()
        .map(|f| {
            (
                f["s"].as_u64().unwrap(),
                f["t"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        &replayed[..expected.len().min(replayed.len())],
        &expected[..]
    );
    assert!(
        replayed
            .iter()
            .filter(|(_, t)| t == "MESSAGE_CREATE")
            .count()
            >= 2,
        "m3 and m4 came by replay: {replayed:?}"
    );

    settle(&double, 2).await;
    assert_eq!(
        contents(&double, DM),
        ["echo: m1", "echo: m2", "echo: m3", "echo: m4"],
        "each answered exactly once"
    );
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_session_leads_to_a_fresh_identify() {
    let root = tempfile::tempdir().unwrap();
    let double = DiscordDouble::start(TOKEN).await;
    let running = host(root.path(), &double, "").await;
    let old = double.current_session().unwrap();

    assert!(double.send_invalid_session(false));
    double
        .wait_until("a second Identify", 30, |d| d.counters().identifies == 2)
        .await;
    double.wait_ready(30).await;
    assert_ne!(double.current_session().unwrap(), old);
    assert_eq!(
        double.counters().resumes,
        0,
        "a dead session is not resumed"
    );

    double.dispatch_message(Incoming::dm(DM, OWNER, "still there?"));
    let answers = double.wait_delivered(DM, 1, 30).await;
    assert_eq!(answers[0].content, "echo: still there?");
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zombie_connection_is_closed_and_resumed() {
    let root = tempfile::tempdir().unwrap();
    let double = DiscordDouble::start_with(TOKEN, 1000).await;
    let running = host(root.path(), &double, "").await;
    settle(&double, 1).await;
    let zombie = double.bound_connection().unwrap();

    let stopped = Instant::now();
    double.stop_acks();
    double
        .wait_until("the zombie socket to end", 30, |d| {
            d.gateway_events()
                .iter()
                .any(|(_, e)| *e == GatewayEvent::Ended { conn: zombie })
        })
        .await;
    let events = double.gateway_events();
    let ended = events
        .iter()
        .find(|(_, e)| *e == GatewayEvent::Ended { conn: zombie })
        .unwrap()
        .0;
    // Noticed at the first heartbeat without an ACK: a few intervals.
    assert!(
        ended - stopped < Duration::from_millis(4 * 1000 + 500),
        "closed after {:?}",
        ended - stopped
    );
    // Discord asks for any close code but 1000/1001 (those end the session).
    for (_, e) in &events {
        if let GatewayEvent::ClientClosed {
            conn,
            code: Some(code),
        } = e
            && *conn == zombie
        {
            assert!(![1000, 1001].contains(code), "closed with {code}");
        }
    }

    // The new socket resumes the same session and is ACKed again.
    double
        .wait_until("a resume", 30, |d| d.counters().resumes == 1)
        .await;
    assert_eq!(double.counters().identifies, 1);
    let conn = double.bound_connection().unwrap();
    assert_ne!(conn, zombie);
    double.resume_acks();
    let acks = double.counters().acks;
    double
        .wait_until("an ACK on the new socket", 30, |d| d.counters().acks > acks)
        .await;
    double.dispatch_message(Incoming::dm(DM, OWNER, "after the zombie"));
    let answers = double.wait_delivered(DM, 1, 30).await;
    assert_eq!(answers[0].content, "echo: after the zombie");
    settle(&double, 2).await;
    assert_eq!(
        double.bound_connection(),
        Some(conn),
        "no further reconnect"
    );
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_is_waited_exactly_then_the_reply_is_delivered_once() {
    let root = tempfile::tempdir().unwrap();
    let double = DiscordDouble::start(TOKEN).await;
    let running = host(root.path(), &double, "").await;
    const ROUTE: &str = "POST /channels/{id}/messages";
    const RETRY_AFTER: f64 = 1.5;

    double.fail_next(ROUTE, rate_limited(RETRY_AFTER, "41f9c2c8a0b1d2e3"));
    double.dispatch_message(Incoming::dm(DM, OWNER, "slow down"));
    let calls = double.wait_for(ROUTE, 30, |c| c.len() >= 2).await;
    assert_eq!(calls[0].status, 429);
    assert_eq!(calls[1].status, 200);
    let waited = calls[1].at - calls[0].at;
    assert!(
        waited >= Duration::from_secs_f64(RETRY_AFTER),
        "retried after {waited:?}"
    );
    assert!(
        waited < Duration::from_secs_f64(RETRY_AFTER + 2.0),
        "retried only after {waited:?}"
    );
    assert_eq!(calls[1].body["content"], "echo: slow down");
    settle(&double, 2).await;
    assert_eq!(contents(&double, DM), ["echo: slow down"]);
    assert_eq!(double.calls_of(ROUTE).len(), 2);
    running.stop().await;
}

/// The registered command whose required string option is the prompt
/// (`/ask text`), and that option.
fn prompt_command(double: &DiscordDouble) -> (String, String) {
    let commands = double.commands();
    commands
        .iter()
        .find_map(|c| {
            let option = c["options"]
                .as_array()?
                .iter()
                .find(|o| o["type"] == 3 && o["required"] == true)?;
            Some((
                c["name"].as_str()?.to_string(),
                option["name"].as_str()?.to_string(),
            ))
        })
        .unwrap_or_else(|| panic!("no command takes a required string option: {commands:#?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_slash_command_is_deferred_then_the_original_is_edited() {
    let root = tempfile::tempdir().unwrap();
    let double = DiscordDouble::start(TOKEN).await;
    let openai = OpenAiDouble::start().await;
    // About 3 s of streaming: longer than the 1.5 s the channel waits
    // before deferring.
    let Reply::Sse(events) = Reply::stream_text(&["a slow ", "answer"]) else {
        unreachable!()
    };
    openai.push(Reply::SsePaced(events, Duration::from_millis(500)));
    let running = host_on_openai(root.path(), &double, &openai).await;
    double
        .wait_until("commands", 30, |d| !d.commands().is_empty())
        .await;
    let (command, option) = prompt_command(&double);

    let (id, _token) = double.dispatch_command(
        DM,
        OWNER,
        None,
        &command,
        json!([{"name": option, "type": 3, "value": "take your time"}]),
    );
    double
        .wait_until("the @original edit", 30, |d| {
            d.webhook_calls().iter().any(|w| {
                w.target == "@original"
                    && w.status == 200
                    && w.body["content"]
                        .as_str()
                        .is_some_and(|c| c.contains("a slow answer"))
            })
        })
        .await;
    let callbacks = double.callbacks();
    assert_eq!(callbacks.len(), 1, "{callbacks:?}");
    let callback = &callbacks[0];
    assert_eq!(callback.interaction_id, id);
    assert_eq!(callback.kind, 5, "deferred: {callback:?}");
    assert_eq!(callback.status, 204);
    assert!(!callback.late);
    assert!(
        callback.elapsed < Duration::from_secs(3),
        "{:?}",
        callback.elapsed
    );
    let edit = double
        .webhook_calls()
        .into_iter()
        .find(|w| w.target == "@original")
        .unwrap();
    assert!(edit.at > callback.at);
    assert_eq!(edit.method, "PATCH");
    // The user sees one message: the deferred response, now the answer.
    let shown = double.delivered(DM);
    assert_eq!(shown.len(), 1, "{shown:?}");
    assert!(!shown[0].deferred);
    assert!(shown[0].content.contains("a slow answer"), "{shown:?}");
    assert!(!double.any_late_callback());
    // The prompt reached the model.
    let asked = openai.requests();
    assert!(asked[0].body.to_string().contains("take your time"));
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_guilds_only_mentions_and_replies_to_the_bot_pass() {
    let root = tempfile::tempdir().unwrap();
    let double = DiscordDouble::start(TOKEN).await;
    let running = host(root.path(), &double, "").await;

    double.dispatch_message(Incoming::guild(
        GUILD,
        GENERAL,
        OWNER,
        "people talking among themselves",
    ));
    double.dispatch_message(
        Incoming::guild(
            GUILD,
            GENERAL,
            OWNER,
            &format!("<@{BOT_ID}> what time is it"),
        )
        .mentioning(BOT_ID),
    );
    let answers = double.wait_delivered(GENERAL, 1, 30).await;
    assert!(
        answers[0].content.contains("what time is it"),
        "{answers:?}"
    );
    assert!(
        !answers[0].content.contains("people talking"),
        "{answers:?}"
    );

    // A reply to the bot's own message passes without a mention.
    double.dispatch_message(
        Incoming::guild(GUILD, GENERAL, OWNER, "and tomorrow?").replying_to(&answers[0].id),
    );
    let answers = double.wait_delivered(GENERAL, 2, 30).await;
    assert_eq!(answers[1].content, "echo: and tomorrow?");

    // A reply to someone else's message does not.
    double.dispatch_message(
        Incoming::guild(GUILD, GENERAL, OWNER, "ignored too").replying_to("1234567890"),
    );
    settle(&double, 2).await;
    assert_eq!(
        contents(&double, GENERAL).len(),
        2,
        "the chatter got nothing: {:?}",
        contents(&double, GENERAL)
    );
    assert!(
        !all_stored(&running)
            .iter()
            .any(|(_, m)| m.contains("people talking") || m.contains("ignored too")),
        "unaddressed messages never reach the agent"
    );
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_answer_is_split_under_the_limit() {
    let root = tempfile::tempdir().unwrap();
    let double = DiscordDouble::start(TOKEN).await;
    let openai = OpenAiDouble::start().await;
    // 5,000 characters of words and paragraphs, as a model writes them.
    let mut long = String::new();
    let mut n = 0;
    while long.chars().count() < 5000 {
        n += 1;
        long.push_str(&format!("word{n} "));
        if n % 40 == 0 {
            long.push_str("\n\n");
        }
    }
    let long: String = long.chars().take(5000).collect();
    let long = long.trim_end().to_string();
    let pieces: Vec<&str> = long.split_inclusive(' ').collect();
    openai.push(Reply::stream_text(&pieces));
    let running = host_on_openai(root.path(), &double, &openai).await;

    double.dispatch_message(Incoming::dm(DM, OWNER, "write a lot"));
    let answers = double.wait_delivered(DM, 3, 60).await;
    settle(&double, 2).await;
    let answers_now = double.delivered(DM);
    assert_eq!(answers_now.len(), 3, "{answers:?}");
    for a in &answers_now {
        assert!(a.content.chars().count() <= MAX_CONTENT);
        assert!(!a.content.trim().is_empty());
    }
    let joined: Vec<String> = answers_now.iter().map(|a| a.content.clone()).collect();
    let words = |s: &str| s.split_whitespace().map(str::to_string).collect::<Vec<_>>();
    assert_eq!(words(&joined.join(" ")), words(&long));
    // No rejected post on the way.
    assert!(
        double
            .calls_of("POST /channels/{id}/messages")
            .iter()
            .all(|c| c.status == 200)
    );
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_get_a_pairing_code_and_nothing_reaches_the_agent() {
    let root = tempfile::tempdir().unwrap();
    let double = DiscordDouble::start(TOKEN).await;
    let running = host(root.path(), &double, "").await;
    const STRANGER: &str = "555";
    const STRANGER_DM: &str = "5555";

    double.dispatch_message(Incoming::dm(STRANGER_DM, STRANGER, "let me in"));
    let answers = double.wait_delivered(STRANGER_DM, 1, 30).await;
    assert!(
        answers[0].content.contains("pairing code"),
        "{}",
        answers[0].content
    );
    let (pending, approved) = with_fresh(
        &running.runtime.get("channel-discord").unwrap(),
        async |i| i.list_pairings().await,
    )
    .await
    .unwrap();
    assert_eq!(pending.len(), 1);
    assert!(approved.is_empty());
    let code = pending[0].code.clone();
    assert!(
        answers[0].content.contains(&code),
        "{} vs {code}",
        answers[0].content
    );
    assert!(
        !all_stored(&running)
            .iter()
            .any(|(_, m)| m.contains("let me in")),
        "nothing reached the agent: {:?}",
        all_stored(&running)
    );

    // Asking again gives the same code, still no agent.
    double.dispatch_message(Incoming::dm(STRANGER_DM, STRANGER, "please"));
    let answers = double.wait_delivered(STRANGER_DM, 2, 30).await;
    assert!(answers[1].content.contains(&code));
    assert!(
        all_stored(&running).is_empty(),
        "{:?}",
        all_stored(&running)
    );

    // Approved by the owner: now the agent answers.
    let approved = with_fresh(
        &running.runtime.get("channel-discord").unwrap(),
        async |i| i.approve(&code.to_lowercase()).await,
    )
    .await
    .unwrap();
    assert_eq!(approved.user, STRANGER);
    double.dispatch_message(Incoming::dm(STRANGER_DM, STRANGER, "now?"));
    let answers = double.wait_delivered(STRANGER_DM, 3, 30).await;
    assert_eq!(answers[2].content, "echo: now?");
    running.stop().await;
}
