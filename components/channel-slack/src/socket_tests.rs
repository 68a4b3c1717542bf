use super::*;

fn connected(id: u64) -> Socket {
    let mut s = Socket::new();
    assert_eq!(s.start(0), vec![Action::Open]);
    s.opened(id, 0);
    s.on_frame(id, r#"{"type":"hello","num_connections":1}"#, 10);
    assert_eq!(s.phase, Phase::Connected);
    s
}

#[test]
fn envelopes_are_acknowledged_before_dispatch() {
    let mut s = connected(1);
    let frame = r#"{"type":"events_api","envelope_id":"env-1","accepts_response_payload":false,
        "payload":{"type":"event_callback","event_id":"Ev1","event":{"type":"app_mention"}}}"#;
    let actions = s.on_frame(1, frame, 20);
    assert_eq!(
        actions[0],
        Action::Send {
            id: 1,
            text: r#"{"envelope_id":"env-1"}"#.into()
        }
    );
    assert!(matches!(&actions[1], Action::Dispatch { kind, payload }
        if kind == "events_api" && payload["event_id"] == "Ev1"));
    for kind in ["interactive", "slash_commands"] {
        let f = format!(r#"{{"type":"{kind}","envelope_id":"e","payload":{{"a":1}}}}"#);
        let a = s.on_frame(1, &f, 30);
        assert!(matches!(&a[0], Action::Send { .. }));
        assert!(matches!(&a[1], Action::Dispatch { kind: k, .. } if k == kind));
    }
}

#[test]
fn frames_of_unknown_connections_close_them() {
    let mut s = connected(1);
    assert_eq!(
        s.on_frame(9, r#"{"type":"hello"}"#, 0),
        vec![Action::Close {
            id: 9,
            code: 1000,
            reason: "unknown connection".into()
        }]
    );
}

#[test]
fn a_refresh_opens_a_new_connection_then_closes_the_old() {
    let mut s = connected(1);
    let a = s.on_frame(
        1,
        r#"{"type":"disconnect","reason":"refresh_requested"}"#,
        100,
    );
    assert!(a.contains(&Action::Open), "{a:?}");
    assert!(!a.iter().any(|x| matches!(x, Action::Close { .. })));
    s.opened(2, 110);
    // The old one still delivers until the new one is live.
    assert!(matches!(
        &s.on_frame(
            1,
            r#"{"type":"events_api","envelope_id":"x","payload":{}}"#,
            120
        )[0],
        Action::Send { id: 1, .. }
    ));
    let a = s.on_frame(2, r#"{"type":"hello"}"#, 130);
    assert!(a.contains(&Action::Close {
        id: 1,
        code: 1000,
        reason: "replaced".into()
    }));
    assert_eq!(s.phase, Phase::Connected);
    // The old one's close changes nothing.
    assert!(
        s.on_closed(1, Some((1000, "replaced".into())), 140)
            .is_empty()
    );
    assert_eq!((s.phase.clone(), s.current), (Phase::Connected, Some(2)));
}

#[test]
fn link_disabled_stops() {
    let mut s = connected(1);
    let a = s.on_frame(1, r#"{"type":"disconnect","reason":"link_disabled"}"#, 100);
    assert!(a.iter().any(|x| matches!(x, Action::Close { id: 1, .. })));
    assert_eq!(s.phase, Phase::Stopped("link_disabled".into()));
    assert!(
        s.on_closed(1, Some((1000, "link_disabled".into())), 110)
            .is_empty()
    );
    assert!(s.tick(1_000_000).is_empty());
}

#[test]
fn a_closed_connection_reconnects_with_backoff_on_tick() {
    let mut s = connected(1);
    s.on_closed(1, Some((1006, "reset".into())), 1_000);
    assert_eq!(s.phase, Phase::Waiting { at_ms: 2_000 });
    assert!(s.tick(1_500).is_empty());
    assert_eq!(s.tick(2_000), vec![Action::Open]);
    s.open_failed("HTTP 503", 2_100);
    assert_eq!(s.phase, Phase::Waiting { at_ms: 4_100 });
    assert_eq!(s.tick(4_100), vec![Action::Open]);
    s.open_failed("HTTP 503", 4_200);
    assert_eq!(s.phase, Phase::Waiting { at_ms: 8_200 });
    // A fatal error stops.
    s.tick(9_000);
    s.open_failed("slack: apps.connections.open: invalid_auth", 9_100);
    assert!(matches!(s.phase, Phase::Stopped(ref r) if r.contains("invalid_auth")));
}

#[test]
fn a_connection_without_hello_is_closed() {
    let mut s = Socket::new();
    s.start(0);
    s.opened(3, 0);
    assert!(s.tick(HELLO_TIMEOUT_MS).is_empty());
    assert_eq!(
        s.tick(HELLO_TIMEOUT_MS + 1),
        vec![Action::Close {
            id: 3,
            code: 1000,
            reason: "no hello".into()
        }]
    );
}

#[test]
fn the_ack_frame() {
    assert_eq!(ack("57d6a792-4d35"), r#"{"envelope_id":"57d6a792-4d35"}"#);
}
