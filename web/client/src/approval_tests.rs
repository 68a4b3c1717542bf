//! Tests of [`super`]: the `approval`, `settled` and `choices` frames as
//! the page parses them, and the commands it answers with.

use super::*;
use crate::protocol::ServerFrame;

/// The error `ServerFrame::parse` gives for `json`, which must not parse.
fn refused(json: &str) -> String {
    match ServerFrame::parse(json) {
        Ok(frame) => panic!("{json} parsed as {frame:?}"),
        Err(e) => e,
    }
}

#[test]
fn approval_frame_of_the_spec() {
    let json = r#"{"type":"approval","id":"k3x9q2","tool":"system.run","arguments":"{\"command\":\"touch a\"}","folder":"/home/me","requester":null,"timeout_secs":120}"#;
    assert_eq!(
        ServerFrame::parse(json).unwrap(),
        ServerFrame::Approval {
            id: "k3x9q2".into(),
            tool: "system.run".into(),
            arguments: r#"{"command":"touch a"}"#.into(),
            folder: Some("/home/me".into()),
            requester: None,
            timeout_secs: 120,
        }
    );
}

#[test]
fn approval_folder_and_requester_may_be_null_or_missing() {
    let json = r#"{"type":"approval","id":"a1","tool":"fs.write","arguments":"","folder":null,"requester":"ana","timeout_secs":0}"#;
    let ServerFrame::Approval {
        folder, requester, ..
    } = ServerFrame::parse(json).unwrap()
    else {
        panic!("not an approval");
    };
    assert_eq!((folder, requester.as_deref()), (None, Some("ana")));
    let json = r#"{"type":"approval","id":"a1","tool":"t","arguments":"x","timeout_secs":5}"#;
    assert!(matches!(
        ServerFrame::parse(json),
        Ok(ServerFrame::Approval {
            folder: None,
            requester: None,
            ..
        })
    ));
}

#[test]
fn malformed_approvals_say_what_is_wrong() {
    let e = refused(r#"{"type":"approval","id":"a1","arguments":"x","timeout_secs":5}"#);
    assert!(e.starts_with("approval frame: missing field `tool`"), "{e}");
    let e = refused(r#"{"type":"approval","id":"a1","tool":"t","arguments":"x"}"#);
    assert!(e.contains("missing field `timeout_secs`"), "{e}");
    let e =
        refused(r#"{"type":"approval","id":"a1","tool":"t","arguments":"x","timeout_secs":-1}"#);
    assert!(e.starts_with("approval frame: "), "{e}");
    let e = refused(r#"{"type":"approval","id":7,"tool":"t","arguments":"x","timeout_secs":5}"#);
    assert!(e.starts_with("approval frame: "), "{e}");
    for id in ["", "K3X9Q2", "a-1", "abcdefghijklm", "a\"]", "é"] {
        let json = serde_json::json!({
            "type": "approval", "id": id, "tool": "t", "arguments": "x", "timeout_secs": 5
        })
        .to_string();
        let e = refused(&json);
        assert!(
            e.contains("is not 1 to 12 characters of a-z and 0-9"),
            "{id:?}: {e}"
        );
    }
}

#[test]
fn settled_frames_of_every_kind() {
    for how in Settlement::ALL {
        let json = format!(
            r#"{{"type":"settled","id":"k3x9q2","how":"{}"}}"#,
            how.name()
        );
        assert_eq!(
            ServerFrame::parse(&json).unwrap(),
            ServerFrame::Settled {
                id: "k3x9q2".into(),
                how
            }
        );
    }
}

#[test]
fn malformed_settled_frames_say_what_is_wrong() {
    let e = refused(r#"{"type":"settled","id":"k3x9q2","how":"vetoed"}"#);
    assert!(
        e.starts_with("settled frame: unknown variant `vetoed`"),
        "{e}"
    );
    assert!(e.contains("`approved`") && e.contains("`cancelled`"), "{e}");
    let e = refused(r#"{"type":"settled","id":"k3x9q2"}"#);
    assert!(e.contains("missing field `how`"), "{e}");
    let e = refused(r#"{"type":"settled","id":"../x","how":"approved"}"#);
    assert!(e.contains("is not 1 to 12 characters"), "{e}");
}

#[test]
fn outcomes_and_states() {
    let shown: Vec<(&str, &str)> = Settlement::ALL
        .iter()
        .map(|s| (s.name(), s.outcome()))
        .collect();
    assert_eq!(
        shown,
        [
            ("approved", "Approved"),
            ("allowed", "Allowed for this session"),
            ("rejected", "Rejected"),
            ("expired", "Timed out"),
            ("cancelled", "Cancelled"),
        ]
    );
}

#[test]
fn choices_frame_of_the_spec() {
    let json = r#"{"type":"choices","text":"Models:","buttons":[{"label":"gpt-5","command":"/model gpt-5"},{"label":"Session 2","command":"/sessions switch 2"}]}"#;
    assert_eq!(
        ServerFrame::parse(json).unwrap(),
        ServerFrame::Choices {
            text: "Models:".into(),
            buttons: vec![
                ChoiceButton {
                    label: "gpt-5".into(),
                    command: "/model gpt-5".into(),
                },
                ChoiceButton {
                    label: "Session 2".into(),
                    command: "/sessions switch 2".into(),
                },
            ],
        }
    );
    let none = ServerFrame::parse(r#"{"type":"choices","text":"","buttons":[]}"#).unwrap();
    assert_eq!(
        none,
        ServerFrame::Choices {
            text: String::new(),
            buttons: vec![]
        }
    );
}

#[test]
fn malformed_choices_say_what_is_wrong() {
    let e = refused(r#"{"type":"choices","text":"Models:"}"#);
    assert!(
        e.starts_with("choices frame: missing field `buttons`"),
        "{e}"
    );
    let e = refused(r#"{"type":"choices","text":"x","buttons":[{"label":"a"}]}"#);
    assert!(e.contains("missing field `command`"), "{e}");
    let e = refused(r#"{"type":"choices","text":"x","buttons":{"label":"a"}}"#);
    assert!(e.starts_with("choices frame: "), "{e}");
    // A press sends the command unseen: only host commands may ride on it.
    for command in ["rm -rf /", "", "/", "/9lives", "/etc/hosts", " /model x"] {
        let json = serde_json::json!({
            "type": "choices", "text": "x",
            "buttons": [{"label": "ok", "command": command}]
        })
        .to_string();
        let e = refused(&json);
        assert!(e.contains("is not a slash command"), "{command:?}: {e}");
    }
}

#[test]
fn approval_ids() {
    assert!(is_valid_approval_id("k3x9q2"));
    assert!(is_valid_approval_id("a"));
    assert!(is_valid_approval_id("abcdefghij12"));
    assert!(!is_valid_approval_id(""));
    assert!(!is_valid_approval_id("abcdefghij123"));
    assert!(!is_valid_approval_id("K3X9Q2"));
    assert!(!is_valid_approval_id("k3 x9"));
    assert!(!is_valid_approval_id("k3x9q2\n"));
}

#[test]
fn commands() {
    for ok in [
        "/stop",
        "/model gpt-5",
        "/sessions\tswitch 2",
        "/a_b-c",
        "/Help",
    ] {
        assert!(is_command(ok), "{ok}");
    }
    for not in [
        "",
        "/",
        "stop",
        " /stop",
        "/9",
        "/_x",
        "/etc/hosts",
        "/:-)",
        "/é",
    ] {
        assert!(!is_command(not), "{not}");
    }
}

#[test]
fn answers_are_command_messages() {
    let texts: Vec<String> = Answer::ALL
        .iter()
        .map(|a| a.command("k3x9q2").unwrap())
        .collect();
    assert_eq!(
        texts,
        ["/approve k3x9q2", "/reject k3x9q2", "/allow k3x9q2"]
    );
    for a in Answer::ALL {
        assert_eq!(Answer::from_class(a.class()), Some(a));
        assert!(is_command(&a.command("x1").unwrap()));
    }
    assert_eq!(Answer::from_class("choice"), None);
    assert_eq!(
        Answer::ALL.map(Answer::label),
        ["Approve", "Reject", "Allow for this session"]
    );
    for bad in ["", "K3", "k3 x", "abcdefghij123", "k3;/stop"] {
        let e = Answer::Approve.command(bad).unwrap_err();
        assert!(e.contains("not 1 to 12 characters"), "{bad:?}: {e}");
    }
}

#[test]
fn command_frames_are_plain_message_frames() {
    let approve = Answer::Approve.command("k3x9q2").unwrap();
    assert_eq!(
        command_frame("m-1-4".into(), &approve),
        r#"{"type":"message","id":"m-1-4","text":"/approve k3x9q2"}"#
    );
    assert_eq!(
        command_frame("m-1-5".into(), STOP_COMMAND),
        r#"{"type":"message","id":"m-1-5","text":"/stop"}"#
    );
    assert_eq!(
        command_frame("m-1-6".into(), "/model \"gpt-5\""),
        r#"{"type":"message","id":"m-1-6","text":"/model \"gpt-5\""}"#
    );
}

#[test]
fn deadlines() {
    assert_eq!(deadline_text(0), None);
    assert_eq!(
        deadline_text(45).as_deref(),
        Some("Rejected unless answered within 45 s.")
    );
    assert_eq!(
        deadline_text(90).as_deref(),
        Some("Rejected unless answered within 90 s.")
    );
    assert_eq!(
        deadline_text(120).as_deref(),
        Some("Rejected unless answered within 2 min.")
    );
    assert_eq!(
        deadline_text(150).as_deref(),
        Some("Rejected unless answered within 150 s.")
    );
    assert_eq!(local_expiry_ms(0), None);
    assert_eq!(local_expiry_ms(120), Some(130_000));
    assert_eq!(local_expiry_ms(u64::MAX), Some(i32::MAX));
    assert_eq!(local_expiry_ms(3_000_000), Some(i32::MAX));
}
