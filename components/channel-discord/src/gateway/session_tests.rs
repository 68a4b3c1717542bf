use serde_json::{Value, json};

use super::*;

const URL: &str = "wss://gateway.discord.gg";

fn sent(actions: &[Action]) -> Vec<Value> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send { text, .. } => Some(serde_json::from_str(text).unwrap()),
            _ => None,
        })
        .collect()
}

fn closes(actions: &[Action]) -> Vec<(u64, u16)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Close { id, code, .. } => Some((*id, *code)),
            _ => None,
        })
        .collect()
}

fn opens(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Open { url } => Some(url.clone()),
            _ => None,
        })
        .collect()
}

fn hello(interval: u64) -> String {
    json!({"op": 10, "d": {"heartbeat_interval": interval}}).to_string()
}

fn ready(seq: u64) -> String {
    json!({"op": 0, "s": seq, "t": "READY", "d": {
        "session_id": "sess1", "resume_gateway_url": "wss://resume.discord.gg",
        "user": {"id": "99", "username": "pista"}, "application": {"id": "555"}
    }})
    .to_string()
}

/// A gateway connected on socket 1 with session `sess1` at sequence 3.
fn connected() -> Gateway {
    let mut g = Gateway::new(URL, 513);
    assert_eq!(
        opens(&g.start()),
        vec![format!("{URL}/?v=10&encoding=json")]
    );
    g.opened(1, 0);
    let a = g.on_frame(1, &hello(40_000), 0, 0.5);
    assert_eq!(sent(&a)[0]["op"], 2);
    assert_eq!(sent(&a)[0]["d"]["intents"], 513);
    g.on_frame(1, &ready(3), 10, 0.5);
    assert_eq!(g.phase, Phase::Connected);
    g
}

#[test]
fn hello_identifies_and_schedules_a_jittered_first_heartbeat() {
    let g0 = connected();
    let mut g = g0.clone();
    // First heartbeat at 40 000 · 0.5 = 20 000.
    assert!(sent(&g.tick(19_999)).is_empty());
    let beat = sent(&g.tick(20_000));
    assert_eq!(beat, vec![json!({"op": 1, "d": 3})]);
    // Then every interval, if acknowledged.
    g.on_frame(1, r#"{"op":11}"#, 20_100, 0.5);
    assert!(sent(&g.tick(59_999)).is_empty());
    assert_eq!(sent(&g.tick(60_000)), vec![json!({"op": 1, "d": 3})]);
}

#[test]
fn a_missing_ack_makes_a_zombie_that_is_closed_and_resumed() {
    let mut g = connected();
    g.tick(20_000); // heartbeat, no ACK
    let a = g.tick(60_000);
    assert_eq!(closes(&a), vec![(1, 4000)]);
    assert!(sent(&a).is_empty(), "no heartbeat on a zombie");
    assert_eq!(
        opens(&a),
        vec!["wss://resume.discord.gg/?v=10&encoding=json"]
    );
    g.opened(2, 60_000);
    let a = g.on_frame(2, &hello(40_000), 60_100, 0.0);
    assert_eq!(
        sent(&a),
        vec![
            json!({"op": 6, "d": {"token": "{{secret:discord_bot_token}}",
                                  "session_id": "sess1", "seq": 3}})
        ]
    );
    let a = g.on_frame(2, r#"{"op":0,"s":4,"t":"RESUMED","d":null}"#, 60_200, 0.0);
    assert!(
        a.iter()
            .any(|x| matches!(x, Action::Dispatch { name, .. } if name == "RESUMED"))
    );
    assert_eq!(
        (g.phase.clone(), g.resumes, g.seq),
        (Phase::Connected, 1, Some(4))
    );
    // The old socket's close is not this connection's.
    assert!(
        g.on_closed(1, Some((4000, String::new())), 60_300)
            .is_empty()
    );
    assert_eq!(g.connection(), Some(2));
}

#[test]
fn a_heartbeat_request_is_answered_at_once() {
    let mut g = connected();
    let a = g.on_frame(1, r#"{"op":1,"d":null}"#, 500, 0.5);
    assert_eq!(sent(&a), vec![json!({"op": 1, "d": 3})]);
}

#[test]
fn sequences_follow_dispatches() {
    let mut g = connected();
    let a = g.on_frame(
        1,
        r#"{"op":0,"s":9,"t":"MESSAGE_CREATE","d":{"id":"1"}}"#,
        100,
        0.5,
    );
    assert_eq!(g.seq, Some(9));
    assert!(
        matches!(&a[..], [Action::Dispatch { name, data }] if name == "MESSAGE_CREATE" && data["id"] == "1")
    );
}

#[test]
fn reconnect_closes_resumably_and_reopens_at_once() {
    let mut g = connected();
    let a = g.on_frame(1, r#"{"op":7,"d":null}"#, 1_000, 0.5);
    assert_eq!(closes(&a), vec![(1, 4000)]);
    assert_eq!(opens(&a).len(), 1);
    assert!(g.session.is_some());
}

#[test]
fn invalid_session_resumes_or_identifies_after_a_short_wait() {
    let mut g = connected();
    let a = g.on_frame(1, r#"{"op":9,"d":true}"#, 1_000, 0.5);
    assert_eq!(closes(&a), vec![(1, 4000)]);
    assert!(opens(&a).is_empty() && g.session.is_some());
    assert!(opens(&g.tick(3_999)).is_empty());
    assert_eq!(opens(&g.tick(4_000)).len(), 1);

    let mut g = connected();
    g.on_frame(1, r#"{"op":9,"d":false}"#, 1_000, 0.0);
    assert_eq!((g.session.clone(), g.seq), (None, None));
    let urls = opens(&g.tick(2_000));
    assert_eq!(urls, vec![format!("{URL}/?v=10&encoding=json")]);
    g.opened(2, 2_000);
    let a = g.on_frame(2, &hello(40_000), 2_100, 0.5);
    assert_eq!(sent(&a)[0]["op"], 2, "a fresh Identify");
}

#[test]
fn closes_resume_identify_or_stop() {
    let mut g = connected();
    let a = g.on_closed(1, Some((1006, "reset".into())), 1_000);
    assert!(matches!(&a[..], [Action::Log(m)] if m.contains("resuming in 1000 ms")));
    assert_eq!(g.phase, Phase::Waiting);
    assert!(opens(&g.tick(1_999)).is_empty());
    assert_eq!(
        opens(&g.tick(2_000)),
        vec!["wss://resume.discord.gg/?v=10&encoding=json"]
    );

    let mut g = connected();
    g.on_closed(1, Some((4009, "session timed out".into())), 1_000);
    assert!(g.session.is_none());
    assert_eq!(
        opens(&g.tick(2_000)),
        vec![format!("{URL}/?v=10&encoding=json")]
    );

    let mut g = connected();
    g.on_closed(1, Some((4004, "Authentication failed.".into())), 1_000);
    assert!(matches!(&g.phase, Phase::Stopped(why) if why.contains("4004")));
    assert!(g.tick(100_000).is_empty());
    assert_eq!(g.last_close, Some((4004, "Authentication failed.".into())));
}

#[test]
fn backoff_doubles_to_a_minute_and_resets_when_ready() {
    let mut g = Gateway::new(URL, 1);
    g.start();
    let mut now = 0;
    let mut waits = Vec::new();
    for id in 1..=8 {
        g.opened(id, now);
        g.on_closed(id, None, now);
        let Some(at) = g.reconnect_at else { panic!() };
        waits.push(at - now);
        now = at;
        assert_eq!(opens(&g.tick(now)).len(), 1);
    }
    assert_eq!(
        waits,
        vec![1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000]
    );
    g.opened(9, now);
    g.on_frame(9, &hello(40_000), now, 0.5);
    g.on_frame(9, &ready(1), now, 0.5);
    g.on_closed(9, None, now);
    assert_eq!(g.reconnect_at, Some(now + 1_000));
}

#[test]
fn a_silent_new_connection_is_dropped() {
    let mut g = Gateway::new(URL, 1);
    g.start();
    g.opened(1, 0);
    assert!(g.tick(29_999).is_empty());
    let a = g.tick(30_000);
    assert_eq!(closes(&a), vec![(1, 4000)]);
    assert_eq!(g.phase, Phase::Waiting);
}

#[test]
fn frames_on_unknown_connections_are_closed() {
    let mut g = connected();
    let a = g.on_frame(7, &hello(1), 0, 0.5);
    assert_eq!(closes(&a), vec![(7, 1000)]);
}

#[test]
fn frames_over_the_budget_wait_but_heartbeats_do_not() {
    let mut g = connected(); // Identify used one place.
    let mut went = 1;
    for i in 0..200 {
        went += sent(&g.send(format!("{{\"op\":3,\"n\":{i}}}"), 1_000, false)).len();
    }
    assert_eq!(
        went,
        crate::gateway::budget::LIMIT - crate::gateway::budget::RESERVED
    );
    assert_eq!(sent(&g.on_frame(1, r#"{"op":1}"#, 2_000, 0.5)).len(), 1);
    // A minute later the queue drains in order, within the budget.
    let later = sent(&g.tick(61_000));
    assert!(!later.is_empty() && later.len() <= 115);
    assert!(later.iter().all(|f| f["op"] == 3 || f["op"] == 1));
}

#[test]
fn stop_closes_normally_and_never_reconnects() {
    let mut g = connected();
    let a = g.stop("shutdown");
    assert_eq!(closes(&a), vec![(1, 1000)]);
    assert!(g.tick(1_000_000).is_empty());
}

/// A small deterministic random walk over frames, ticks and closes: the
/// machine never holds two connections, never sends on a connection it
/// does not hold, and never goes over the send limit in any window.
#[test]
fn random_walks_keep_the_invariants() {
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        seed >> 33
    };
    let frames = [
        hello(41_250),
        ready(1),
        r#"{"op":11}"#.to_string(),
        r#"{"op":1}"#.to_string(),
        r#"{"op":7}"#.to_string(),
        r#"{"op":9,"d":true}"#.to_string(),
        r#"{"op":9,"d":false}"#.to_string(),
        r#"{"op":0,"s":5,"t":"RESUMED","d":null}"#.to_string(),
        r#"{"op":0,"s":6,"t":"MESSAGE_CREATE","d":{}}"#.to_string(),
        "garbage".to_string(),
    ];
    for _ in 0..50 {
        let mut g = Gateway::new(URL, 1);
        let mut pending_open = !opens(&g.start()).is_empty();
        let mut next_id = 1;
        let mut now = 0u64;
        let mut sends: Vec<(u64, u64)> = Vec::new();
        for _ in 0..400 {
            now += next() % 5_000;
            if pending_open {
                g.opened(next_id, now);
                next_id += 1;
                pending_open = false;
            }
            let current = g.connection();
            let actions = match (next() % 10, current) {
                (0..=5, Some(id)) => {
                    let f = &frames[(next() % frames.len() as u64) as usize];
                    g.on_frame(id, f, now, (next() % 1000) as f64 / 1000.0)
                }
                (6, Some(id)) => {
                    let code = [1006u16, 4000, 4007, 4009, 1000][(next() % 5) as usize];
                    g.on_closed(id, Some((code, String::new())), now)
                }
                (7, _) => g.send("{\"op\":3}".into(), now, false),
                _ => g.tick(now),
            };
            for a in &actions {
                match a {
                    Action::Send { id, .. } => {
                        assert_eq!(Some(*id), g.connection(), "a send on a connection not held");
                        sends.push((*id, now));
                    }
                    Action::Open { .. } => {
                        assert!(g.connection().is_none(), "two connections at once");
                        pending_open = true;
                    }
                    _ => {}
                }
            }
            if let Some(id) = g.connection() {
                let in_window = sends
                    .iter()
                    .filter(|(c, t)| *c == id && t + 60_000 > now)
                    .count();
                assert!(in_window <= crate::gateway::budget::LIMIT);
            }
        }
        assert!(
            !matches!(g.phase, Phase::Stopped(_)),
            "no fatal code was used"
        );
    }
}
