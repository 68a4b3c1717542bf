//! Tests of [`super`]: access, groups, commands, media and button presses.

use super::*;
use crate::media::Kind;
use crate::update;
use serde_json::{Value, json};

const BOT_ID: i64 = 999;

fn bot() -> BotIdentity {
    BotIdentity {
        id: BOT_ID,
        username: "pista_bot".into(),
        first_name: "Pista".into(),
    }
}

fn settings(allowed: &[i64], pairing: bool) -> Settings {
    Settings {
        allowed_users: allowed.to_vec(),
        pairing,
        ..Settings::default()
    }
}

fn private(text: &str) -> Value {
    json!({"update_id": 1, "message": {
        "message_id": 10, "from": {"id": 42, "is_bot": false, "first_name": "Ann", "username": "ann"},
        "chat": {"id": 42, "type": "private"}, "text": text}})
}

fn group(message: Value) -> Value {
    let mut m = json!({"message_id": 11, "from": {"id": 42, "first_name": "Ann"},
                       "chat": {"id": -100, "type": "supergroup"}});
    for (k, v) in message.as_object().unwrap() {
        m[k] = v.clone();
    }
    json!({"update_id": 2, "message": m})
}

fn run(update: Value, s: &Settings, approved: bool) -> Decision {
    let u = update::parse(&update).unwrap();
    let bot = bot();
    decide(
        &u,
        &Context {
            bot: &bot,
            settings: s,
        },
        approved,
    )
}

fn forward(update: Value, s: &Settings) -> Draft {
    match run(update, s, false).action {
        Action::Forward(d) => d,
        other => panic!("not forwarded: {other:?}"),
    }
}

fn is_ignored(d: &Decision) -> bool {
    matches!(d.action, Action::Ignore(_))
}

#[test]
fn allowed_private_text_is_forwarded_in_the_chats_conversation() {
    let d = forward(private("hello"), &settings(&[42], true));
    assert_eq!(
        (d.conversation.as_str(), d.sender.as_str(), d.text.as_str()),
        ("42", "42", "hello")
    );
    assert!(d.command.is_none() && d.media.is_none());
}

#[test]
fn approval_by_pairing_lets_through() {
    let s = settings(&[], true);
    assert!(matches!(
        run(private("hi"), &s, true).action,
        Action::Forward(_)
    ));
    assert!(matches!(
        run(private("hi"), &s, false).action,
        Action::Pair { .. }
    ));
}

#[test]
fn unknown_private_users_get_pairing_even_for_start() {
    let s = settings(&[7], true);
    for text in ["hello", "/start", "/clear", "/help"] {
        let d = run(private(text), &s, false);
        assert_eq!(
            d.action,
            Action::Pair {
                chat: ChatRef::chat(42),
                user_id: 42,
                username: Some("ann".into())
            },
            "{text}"
        );
    }
    // /status says they are not allowed, without reaching the agent.
    match run(private("/status"), &s, false).action {
        Action::Reply { chat, text } => {
            assert_eq!(chat, ChatRef::chat(42));
            assert!(text.contains("not allowed"), "{text}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn without_pairing_unknown_users_are_ignored() {
    let s = settings(&[], false);
    assert!(is_ignored(&run(private("hello"), &s, false)));
    assert!(is_ignored(&run(private("/status"), &s, false)));
}

#[test]
fn unknown_senders_in_groups_are_ignored_silently() {
    let s = settings(&[], true);
    let d = run(group(json!({"text": "@pista_bot hi"})), &s, false);
    assert!(is_ignored(&d), "{d:?}");
}

#[test]
fn groups_pass_only_mentions_and_replies_to_the_bot() {
    let s = settings(&[42], true);
    assert!(is_ignored(&run(
        group(json!({"text": "hi all"})),
        &s,
        false
    )));
    let d = forward(group(json!({"text": "hey @Pista_Bot what's up"})), &s);
    assert_eq!(
        (d.conversation.as_str(), d.text.as_str()),
        ("-100", "hey what's up")
    );
    let reply = json!({"text": "and then?", "reply_to_message": {
        "message_id": 3, "chat": {"id": -100, "type": "supergroup"}, "from": {"id": BOT_ID, "is_bot": true}}});
    assert_eq!(forward(group(reply), &s).text, "and then?");
    let to_other = json!({"text": "and then?", "reply_to_message": {
        "message_id": 3, "chat": {"id": -100, "type": "supergroup"}, "from": {"id": 5}}});
    assert!(is_ignored(&run(group(to_other), &s, false)));
    // Captions count as text for mentions.
    let photo = json!({"caption": "@pista_bot look", "photo": [{"file_id": "p", "width": 1, "height": 1, "file_size": 3}]});
    let d = forward(group(photo), &s);
    assert_eq!(d.text, "look");
    assert_eq!(d.media.unwrap().kind, Kind::Photo);
}

#[test]
fn group_commands_need_the_bot_suffix_or_a_reply() {
    let s = settings(&[42], true);
    assert!(is_ignored(&run(
        group(json!({"text": "/status"})),
        &s,
        false
    )));
    assert!(matches!(
        run(group(json!({"text": "/status@pista_bot"})), &s, false).action,
        Action::Reply { .. }
    ));
    let d = forward(group(json!({"text": "/model@pista_bot gpt-5"})), &s);
    let command = d.command.unwrap();
    assert_eq!(
        (command.name.as_str(), command.args.as_str()),
        ("model", "gpt-5")
    );
    // Addressed to another bot (and mentioning this one): text.
    let d = forward(group(json!({"text": "/model@other_bot @pista_bot"})), &s);
    assert_eq!((d.text.as_str(), d.command), ("/model@other_bot", None));
}

#[test]
fn topics_get_their_own_session() {
    let s = settings(&[42], true);
    let d = forward(
        group(json!({"text": "@pista_bot hi", "is_topic_message": true, "message_thread_id": 7})),
        &s,
    );
    assert_eq!(d.conversation, "-100:7");
}

#[test]
fn local_commands_are_answered() {
    let s = settings(&[42], true);
    for (text, needle) in [("/start", "Pista"), ("/status", "@pista_bot")] {
        match run(private(text), &s, false).action {
            Action::Reply { chat, text: answer } => {
                assert_eq!(chat, ChatRef::chat(42));
                assert!(answer.contains(needle), "{text}: {answer}");
            }
            other => panic!("{text}: {other:?}"),
        }
    }
    match run(private("/status"), &s, false).action {
        Action::Reply { text, .. } => assert!(text.contains("are allowed"), "{text}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn host_commands_become_events() {
    let s = settings(&[42], true);
    for (text, name, args) in [
        ("/help", "help", ""),
        ("/clear", "clear", ""),
        ("/session", "session", ""),
        ("/model  big one", "model", "big one"),
        ("/nonsense", "nonsense", ""),
    ] {
        let d = forward(private(text), &s);
        assert_eq!(d.text, text.trim());
        let command = d.command.expect(text);
        assert_eq!(
            (command.name.as_str(), command.args.as_str()),
            (name, args),
            "{text}"
        );
    }
    let d = forward(private("/etc/hosts is gone"), &s);
    assert_eq!(d.command, None);
}

#[test]
fn commands_in_captions_are_text() {
    let s = settings(&[42], true);
    let u = json!({"update_id": 3, "message": {"message_id": 1, "from": {"id": 42},
        "chat": {"id": 42, "type": "private"}, "caption": "/start",
        "document": {"file_id": "d", "file_size": 1}}});
    let d = forward(u, &s);
    assert_eq!(d.text, "/start");
    assert!(d.media.is_some() && d.command.is_none());
}

#[test]
fn bots_channels_and_empty_messages_are_ignored() {
    let s = settings(&[42], true);
    let from_bot = json!({"update_id": 1, "message": {"message_id": 1, "from": {"id": 42, "is_bot": true},
        "chat": {"id": 42, "type": "private"}, "text": "x"}});
    assert!(is_ignored(&run(from_bot, &s, false)));
    let sticker = json!({"update_id": 1, "message": {"message_id": 1, "from": {"id": 42},
        "chat": {"id": 42, "type": "private"}, "sticker": {"file_id": "s"}}});
    assert!(is_ignored(&run(sticker, &s, false)));
    for kind in ["edited_message", "channel_post"] {
        let u = json!({"update_id": 1, kind: {"message_id": 1, "chat": {"id": 42, "type": "private"}, "text": "x"}});
        let d = run(u, &s, false);
        assert!(is_ignored(&d) && d.answer_callback.is_none(), "{kind}");
    }
}

fn press(user: i64) -> Value {
    json!({"update_id": 5, "callback_query": {"id": "cb1", "from": {"id": user, "username": "ann"},
        "data": "approve:7", "message": {"message_id": 30, "chat": {"id": -100, "type": "supergroup"},
        "is_topic_message": true, "message_thread_id": 4}}})
}

#[test]
fn button_presses_are_always_answered() {
    let s = settings(&[42], true);
    let d = run(press(42), &s, false);
    assert_eq!(d.answer_callback.as_deref(), Some("cb1"));
    let Action::Forward(draft) = d.action else {
        panic!("{d:?}")
    };
    assert_eq!(draft.text, "[callback:approve:7]");
    assert_eq!(draft.conversation, "-100:4");
    assert_eq!(draft.sender, "42");
    assert_eq!(draft.command, None);
    // Denied users' presses are answered but go nowhere.
    let d = run(press(5), &s, false);
    assert_eq!(d.answer_callback.as_deref(), Some("cb1"));
    assert!(is_ignored(&d));
    assert!(matches!(run(press(5), &s, true).action, Action::Forward(_)));
}

#[test]
fn sender_ids() {
    assert_eq!(sender_id(&update::parse(&private("x")).unwrap()), Some(42));
    assert_eq!(sender_id(&update::parse(&press(8)).unwrap()), Some(8));
    assert_eq!(
        sender_id(&update::parse(&json!({"update_id": 1})).unwrap()),
        None
    );
}

#[test]
fn approval_buttons_become_the_hosts_answer_commands() {
    let s = settings(&[42], true);
    let mut update = press(42);
    update["callback_query"]["data"] = json!("ap:k3x9q2ab01:s");
    let d = run(update, &s, false);
    assert_eq!(d.answer_callback.as_deref(), Some("cb1"));
    let Action::Forward(draft) = d.action else {
        panic!("{d:?}")
    };
    let command = draft.command.expect("a command");
    assert_eq!(
        (command.name.as_str(), command.args.as_str()),
        ("allow", "k3x9q2ab01")
    );
    assert_eq!(draft.sender, "42", "the presser, for the host to check");
    assert_eq!(draft.conversation, "-100:4");
}

#[test]
fn command_buttons_become_commands() {
    let s = settings(&[42], true);
    let mut update = press(42);
    update["callback_query"]["data"] = json!("c:/model gpt-4o");
    let Action::Forward(draft) = run(update, &s, false).action else {
        panic!()
    };
    let command = draft.command.expect("a command");
    assert_eq!(
        (command.name.as_str(), command.args.as_str()),
        ("model", "gpt-4o")
    );
}
