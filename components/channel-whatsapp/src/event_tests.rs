use super::*;

fn ok(line: &str) -> Event {
    parse(line).unwrap_or_else(|e| panic!("{line}: {e}"))
}

fn bad(line: &str) -> String {
    match parse(line) {
        Ok(e) => panic!("{line} parsed as {e:?}"),
        Err(why) => why,
    }
}

#[test]
fn lifecycle_events() {
    assert_eq!(ok(r#"{"type":"ready"}"#), Event::Ready);
    assert_eq!(
        ok(r#"{"type":"qr","qr":"2@abc,def"}"#),
        Event::Qr("2@abc,def".into())
    );
    assert_eq!(
        ok(r#"{"type":"pairing_code","ref":"p1","code":"ABCD-1234"}"#),
        Event::PairingCode {
            code: "ABCD-1234".into()
        }
    );
    assert_eq!(
        ok(r#"{"type":"connected","jid":"15550001111@s.whatsapp.net","name":"Pista"}"#),
        Event::Connected {
            jid: Some("15550001111@s.whatsapp.net".into()),
            name: Some("Pista".into())
        }
    );
    assert_eq!(
        ok(r#"{"type":"connected","jid":null,"name":null}"#),
        Event::Connected {
            jid: None,
            name: None
        }
    );
    assert_eq!(
        ok(
            r#"{"type":"disconnected","reason":"timed_out","code":408,"reconnect":true,"delay_ms":2000}"#
        ),
        Event::Disconnected(Disconnect {
            reason: "timed_out".into(),
            code: Some(408),
            reconnect: true,
            delay_ms: 2000
        })
    );
    assert_eq!(
        ok(
            r#"{"type":"disconnected","reason":"connection_lost","code":null,"reconnect":false,"delay_ms":0}"#
        ),
        Event::Disconnected(Disconnect {
            reason: "connection_lost".into(),
            code: None,
            reconnect: false,
            delay_ms: 0
        })
    );
    assert_eq!(
        ok(
            r#"{"type":"status","ref":"s1","state":"open","jid":"1@s.whatsapp.net","registered":true}"#
        ),
        Event::Status {
            state: "open".into(),
            jid: Some("1@s.whatsapp.net".into())
        }
    );
}

#[test]
fn replies_to_commands() {
    assert_eq!(
        ok(r#"{"type":"sent","ref":"o-1-1","id":"3EB0"}"#),
        Event::Sent {
            reference: "o-1-1".into()
        }
    );
    assert_eq!(
        ok(r#"{"type":"error","ref":"o-1-2","message":"send: no connection (state qr)"}"#),
        Event::Error {
            reference: Some("o-1-2".into()),
            message: "send: no connection (state qr)".into()
        }
    );
    assert_eq!(
        ok(r#"{"type":"error","ref":null,"message":"stdin line 3: not JSON"}"#),
        Event::Error {
            reference: None,
            message: "stdin line 3: not JSON".into()
        }
    );
}

#[test]
fn host_events() {
    assert_eq!(
        ok(r#"{"type":"bridge_started","pid":123}"#),
        Event::BridgeStarted { pid: Some(123) }
    );
    assert_eq!(
        ok(r#"{"type":"bridge_exited","code":1,"signal":null,"restart_in_ms":2000}"#),
        Event::BridgeExited {
            code: Some(1),
            signal: None,
            restart_in_ms: Some(2000)
        }
    );
    assert_eq!(
        ok(r#"{"type":"bridge_exited","code":null,"signal":"SIGKILL","restart_in_ms":null}"#),
        Event::BridgeExited {
            code: None,
            signal: Some("SIGKILL".into()),
            restart_in_ms: None
        }
    );
    assert_eq!(
        ok(r#"{"type":"bridge_exited","code":null,"signal":9,"restart_in_ms":1000}"#),
        Event::BridgeExited {
            code: None,
            signal: Some("9".into()),
            restart_in_ms: Some(1000)
        }
    );
    assert_eq!(
        bad(r#"{"type":"bridge_exited","signal":[]}"#),
        "field `signal` is neither a string nor a number"
    );
}

#[test]
fn messages_with_and_without_media() {
    let line = r#"{"type":"message","id":"ABC","chat":"15551234567@s.whatsapp.net",
        "sender":"15551234567@s.whatsapp.net","sender_lid":"999@lid","push_name":"Ann",
        "timestamp":1700000000,"is_group":false,"text":"hi","media":null}"#
        .replace('\n', "");
    let Event::Message(m) = ok(&line) else {
        panic!("not a message")
    };
    assert_eq!(
        *m,
        Incoming {
            id: Some("ABC".into()),
            chat: "15551234567@s.whatsapp.net".into(),
            sender: "15551234567@s.whatsapp.net".into(),
            sender_lid: Some("999@lid".into()),
            push_name: Some("Ann".into()),
            timestamp: Some(1_700_000_000),
            is_group: false,
            text: "hi".into(),
            media: None,
        }
    );
    let line = r#"{"type":"message","id":null,"chat":"1@g.us","sender":"2@lid",
        "sender_lid":null,"push_name":null,"timestamp":1,"is_group":true,"text":"",
        "media":{"kind":"image","mime":"image/jpeg","file_name":null,"size":4,
        "data_b64":"aGk=","note":null}}"#
        .replace('\n', "");
    let Event::Message(m) = ok(&line) else {
        panic!("not a message")
    };
    assert!(m.is_group && m.text.is_empty() && m.id.is_none());
    assert_eq!(
        m.media,
        Some(Media {
            kind: "image".into(),
            mime: "image/jpeg".into(),
            file_name: None,
            size: Some(4),
            data_b64: Some("aGk=".into()),
            note: None,
        })
    );
}

#[test]
fn malformed_lines_say_what_is_wrong() {
    assert!(bad("hello").starts_with("not JSON"));
    assert!(bad("").starts_with("not JSON"));
    assert_eq!(bad("[1,2]"), "not a JSON object");
    assert_eq!(bad("\"ready\""), "not a JSON object");
    assert_eq!(bad("{}"), "no `type`");
    assert_eq!(bad(r#"{"type":7}"#), "`type` is not a string");
    assert_eq!(bad(r#"{"type":"dance"}"#), "unknown type \"dance\"");
    assert_eq!(bad(r#"{"type":"qr"}"#), "missing field `qr`");
    assert_eq!(bad(r#"{"type":"qr","qr":""}"#), "field `qr` is empty");
    assert_eq!(bad(r#"{"type":"qr","qr":5}"#), "field `qr` is not a string");
    assert_eq!(bad(r#"{"type":"sent","id":"x"}"#), "missing field `ref`");
    assert_eq!(
        bad(r#"{"type":"error","ref":null}"#),
        "missing field `message`"
    );
    assert_eq!(
        bad(r#"{"type":"disconnected","reason":"x","reconnect":"yes"}"#),
        "field `reconnect` is not true or false"
    );
    assert_eq!(
        bad(r#"{"type":"bridge_started","pid":-1}"#),
        "field `pid` is not a whole number"
    );
    assert_eq!(bad(r#"{"type":"status"}"#), "missing field `state`");
}

#[test]
fn malformed_messages_name_the_field() {
    let base = r#"{"type":"message","chat":"1@s.whatsapp.net","sender":"1@s.whatsapp.net","is_group":false,"text":"x""#;
    assert!(parse(&format!("{base}}}")).is_ok());
    assert_eq!(
        bad(r#"{"type":"message","sender":"1@s.whatsapp.net","is_group":false,"text":""}"#),
        "message: missing field `chat`"
    );
    assert_eq!(
        bad(r#"{"type":"message","chat":"1@s.whatsapp.net","is_group":false,"text":""}"#),
        "message: missing field `sender`"
    );
    assert_eq!(
        bad(r#"{"type":"message","chat":"c@lid","sender":"c@lid","text":""}"#),
        "message: missing field `is_group`"
    );
    assert_eq!(
        bad(&format!("{base},\"media\":[]}}")),
        "`media` is neither an object nor null"
    );
    assert_eq!(
        bad(&format!("{base},\"media\":{{\"mime\":\"image/png\"}}}}")),
        "media: missing field `kind`"
    );
    assert_eq!(
        bad(&format!(
            "{base},\"media\":{{\"kind\":\"image\",\"mime\":\"image/png\",\"size\":\"big\"}}}}"
        )),
        "media: field `size` is not a whole number"
    );
}

#[test]
fn excerpts_stop_at_120_characters() {
    assert_eq!(excerpt("short"), "short");
    let long = "é".repeat(200);
    let e = excerpt(&long);
    assert_eq!(e.chars().count(), 121);
    assert!(e.ends_with('…'));
    assert_eq!(excerpt(&"a".repeat(120)), "a".repeat(120));
}
