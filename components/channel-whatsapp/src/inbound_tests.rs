use super::*;

const ANN: &str = "15551234567@s.whatsapp.net";

fn settings(allowed: &str, pairing: bool) -> Settings {
    let pairing = pairing.to_string();
    Settings::from_lookup(|k| match k {
        "allowed_users" => Some(allowed.to_string()),
        "pairing" => Some(pairing.clone()),
        _ => None,
    })
    .unwrap()
}

fn message(text: &str) -> Incoming {
    Incoming {
        id: Some("3EB0A".into()),
        chat: ANN.into(),
        sender: ANN.into(),
        sender_lid: Some("999@lid".into()),
        push_name: Some("Ann".into()),
        timestamp: Some(1),
        is_group: false,
        text: text.into(),
        media: None,
    }
}

fn forwarded(action: Action) -> Draft {
    match action {
        Action::Forward(d) => d,
        other => panic!("not forwarded: {other:?}"),
    }
}

#[test]
fn allowed_senders_reach_the_agent_in_their_own_conversation() {
    let d = forwarded(decide(
        &message("hello"),
        &settings("+1 555 123 4567", true),
        false,
    ));
    assert_eq!(d.conversation, ANN);
    assert_eq!(d.sender, ANN);
    assert_eq!(d.text, "hello");
    assert_eq!(d.command, None);
}

#[test]
fn approval_or_the_lid_also_admit() {
    let s = settings("", true);
    assert!(matches!(
        decide(&message("x"), &s, true),
        Action::Forward(_)
    ));
    let by_lid = settings("999@lid", true);
    assert!(matches!(
        decide(&message("x"), &by_lid, false),
        Action::Forward(_)
    ));
    let lid_sender = Incoming {
        sender: "999@lid".into(),
        chat: "999@lid".into(),
        sender_lid: None,
        ..message("x")
    };
    let d = forwarded(decide(&lid_sender, &by_lid, false));
    assert_eq!(d.conversation, "999@lid");
}

#[test]
fn unknown_senders_get_a_code_or_nothing() {
    assert_eq!(
        decide(
            &message("hello"),
            &settings("+44 20 7946 0958", true),
            false
        ),
        Action::Pair {
            chat: ANN.into(),
            user_id: ANN.into(),
            username: Some("Ann".into()),
        }
    );
    // Commands do not get past the door either.
    assert!(matches!(
        decide(&message("/help"), &settings("", true), false),
        Action::Pair { .. }
    ));
    assert!(matches!(
        decide(&message("hello"), &settings("", false), false),
        Action::Ignore(_)
    ));
}

#[test]
fn groups_are_ignored_even_from_allowed_senders() {
    let group = Incoming {
        chat: "120363@g.us".into(),
        is_group: true,
        ..message("hello")
    };
    let Action::Ignore(why) = decide(&group, &settings("15551234567", true), true) else {
        panic!("a group message went through");
    };
    assert!(why.contains("group"), "{why}");
}

#[test]
fn commands_go_to_the_host_help_included() {
    let s = settings("15551234567", true);
    for (text, name, args) in [
        (" /Help", "help", ""),
        ("/clear", "clear", ""),
        ("/session", "session", ""),
        ("/model gpt-5", "model", "gpt-5"),
        ("/whatever", "whatever", ""),
    ] {
        let d = forwarded(decide(&message(text), &s, false));
        assert_eq!(d.text, text);
        let command = d.command.expect(text);
        assert_eq!(
            (command.name.as_str(), command.args.as_str()),
            (name, args),
            "{text}"
        );
    }
    let d = forwarded(decide(&message("/etc/hosts?"), &s, false));
    assert_eq!(d.command, None);
}

#[test]
fn the_pairing_reply_names_the_command() {
    assert_eq!(
        pairing_text("ABCD2345"),
        "This assistant is private. Your pairing code is ABCD2345. Ask the owner to run: \
         openpista pairing approve whatsapp ABCD2345"
    );
}

#[test]
fn empty_messages_are_ignored() {
    let s = settings("15551234567", true);
    assert!(matches!(
        decide(&message("  "), &s, false),
        Action::Ignore(_)
    ));
}

#[test]
fn files_are_attached_or_described() {
    let s = settings("15551234567", true);
    let media = Media {
        kind: "image".into(),
        mime: "image/png".into(),
        file_name: Some("dot.png".into()),
        size: Some(2),
        data_b64: Some("aGk=".into()),
        note: None,
    };
    let with = |media: Media, text: &str| Incoming {
        media: Some(media),
        ..message(text)
    };
    let e = event(
        forwarded(decide(&with(media.clone(), "look"), &s, false)),
        100,
    );
    assert_eq!(e.text, "look");
    assert_eq!(e.attachments.len(), 1);
    assert_eq!(e.attachments[0].name.as_deref(), Some("dot.png"));
    assert_eq!(e.attachments[0].data, b"hi");
    let e = event(
        forwarded(decide(&with(media.clone(), "look"), &s, false)),
        1,
    );
    assert!(e.attachments.is_empty());
    assert_eq!(
        e.text,
        "[image dot.png, image/png, 2 B — not attached: too large]\nlook"
    );
    let no_data = Media {
        data_b64: None,
        note: Some("download timed out".into()),
        ..media
    };
    let e = event(forwarded(decide(&with(no_data, ""), &s, false)), 100);
    assert_eq!(
        e.text,
        "[image dot.png, image/png, 2 B — not attached: download timed out]"
    );
    assert_eq!(e.conversation, ANN);
}
