use serde_json::json;

use super::*;
use crate::message::Message;

const BOT: &str = "99";

fn msg(v: serde_json::Value) -> Message {
    let mut base = json!({
        "id": "1", "channel_id": "500", "author": {"id": "7", "username": "ann"},
        "content": "hello"
    });
    for (k, val) in v.as_object().unwrap() {
        base[k] = val.clone();
    }
    serde_json::from_value(base).unwrap()
}

fn settings(allowed: &[&str], pairing: bool) -> Settings {
    Settings {
        allowed_users: allowed.iter().map(|s| s.to_string()).collect(),
        pairing,
        ..Settings::default()
    }
}

fn run(m: &Message, s: &Settings, threads: &Threads, approved: bool) -> Action {
    let ctx = Context {
        bot_id: BOT,
        settings: s,
        threads,
    };
    decide(m, &ctx, approved)
}

fn forwarded(a: Action) -> Draft {
    match a {
        Action::Forward(d) => d,
        other => panic!("not forwarded: {other:?}"),
    }
}

#[test]
fn direct_messages_from_allowed_users_pass_whole() {
    let s = settings(&["7"], true);
    let d = forwarded(run(&msg(json!({})), &s, &Threads::new(), false));
    assert_eq!((d.conversation.as_str(), d.sender.as_str()), ("500", "7"));
    assert_eq!((d.text.as_str(), d.command), ("hello", None));
}

#[test]
fn bots_and_the_bot_itself_are_ignored() {
    let s = settings(&["7", BOT], true);
    let t = Threads::new();
    let bot = msg(json!({"author": {"id": "8", "username": "other", "bot": true}}));
    assert!(matches!(run(&bot, &s, &t, true), Action::Ignore(_)));
    let me = msg(json!({"author": {"id": BOT, "username": "pista"}}));
    assert!(matches!(run(&me, &s, &t, true), Action::Ignore(_)));
    let hook = msg(json!({"webhook_id": "3"}));
    assert!(matches!(run(&hook, &s, &t, true), Action::Ignore(_)));
}

#[test]
fn guild_messages_need_a_mention_or_a_reply() {
    let s = settings(&["7"], true);
    let t = Threads::new();
    let plain = msg(json!({"guild_id": "1"}));
    assert!(matches!(run(&plain, &s, &t, false), Action::Ignore(w) if w.contains("not addressed")));

    let mention = msg(json!({"guild_id": "1", "content": "<@99> what time is it?",
                             "mentions": [{"id": BOT, "username": "pista", "bot": true}]}));
    assert_eq!(
        forwarded(run(&mention, &s, &t, false)).text,
        "what time is it?"
    );

    let nick = msg(json!({"guild_id": "1", "content": "hey <@!99>  there"}));
    assert_eq!(forwarded(run(&nick, &s, &t, false)).text, "hey there");

    let reply = msg(json!({"guild_id": "1", "content": "and then?",
                           "referenced_message": {"author": {"id": BOT, "username": "pista"}}}));
    assert_eq!(forwarded(run(&reply, &s, &t, false)).text, "and then?");

    let other = msg(json!({"guild_id": "1", "content": "<@12> hi",
                           "referenced_message": {"author": {"id": "12", "username": "x"}}}));
    assert!(matches!(run(&other, &s, &t, false), Action::Ignore(_)));
}

#[test]
fn unknown_senders_pair_in_dms_and_are_ignored_in_guilds() {
    let t = Threads::new();
    let s = settings(&[], true);
    assert_eq!(
        run(&msg(json!({})), &s, &t, false),
        Action::Pair {
            channel: "500".into(),
            user: "7".into(),
            name: "ann".into()
        }
    );
    let guild = msg(json!({"guild_id": "1", "content": "<@99> hi"}));
    assert!(matches!(run(&guild, &s, &t, false), Action::Ignore(w) if w.contains("unknown")));
    // Pairing off: nothing for strangers; approved users pass.
    let off = settings(&[], false);
    assert!(
        matches!(run(&msg(json!({})), &off, &t, false), Action::Ignore(w) if w.contains("pairing is off"))
    );
    assert!(matches!(
        run(&msg(json!({})), &off, &t, true),
        Action::Forward(_)
    ));
    assert!(matches!(run(&guild, &s, &t, true), Action::Forward(_)));
}

#[test]
fn commands_are_read_after_the_mention() {
    let s = settings(&["7"], true);
    let t = Threads::new();
    let d = forwarded(run(&msg(json!({"content": "/model gpt-5"})), &s, &t, false));
    let c = d.command.unwrap();
    assert_eq!((c.name.as_str(), c.args.as_str()), ("model", "gpt-5"));
    let g = msg(json!({"guild_id": "1", "content": "<@99> /new"}));
    assert_eq!(
        forwarded(run(&g, &s, &t, false)).command.unwrap().name,
        "new"
    );
    let path = msg(json!({"content": "/etc/hosts is gone"}));
    assert_eq!(forwarded(run(&path, &s, &t, false)).command, None);
}

#[test]
fn threads_name_their_parent_in_the_conversation() {
    let s = settings(&["7"], true);
    let mut t = Threads::new();
    t.insert("600", "500");
    let m = msg(json!({"channel_id": "600", "guild_id": "1", "content": "<@99> hi"}));
    assert_eq!(forwarded(run(&m, &s, &t, false)).conversation, "500:600");
}

#[test]
fn empty_messages_without_files_are_ignored_but_files_alone_pass() {
    let s = settings(&["7"], true);
    let t = Threads::new();
    assert!(matches!(
        run(&msg(json!({"content": ""})), &s, &t, false),
        Action::Ignore(_)
    ));
    let file = msg(json!({"content": "", "attachments": [
        {"id": "1", "filename": "a.txt", "size": 3, "url": "https://cdn.discordapp.com/a.txt"}]}));
    let d = forwarded(run(&file, &s, &t, false));
    assert_eq!((d.text.as_str(), d.attachments.len()), ("", 1));
}

#[test]
fn mentions_strip_cleanly() {
    assert_eq!(strip_mention("<@99>", BOT), "");
    assert_eq!(strip_mention("<@99> a\n<@!99> b", BOT), "a\nb");
    assert_eq!(strip_mention("<@999> a", BOT), "<@999> a");
}
