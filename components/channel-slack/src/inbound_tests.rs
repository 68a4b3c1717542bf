use super::*;

const BOT: &str = "UBOT";

fn settings() -> Settings {
    Settings {
        allowed_users: vec!["U1".into()],
        ..Settings::default()
    }
}

fn mention(text: &str) -> Event {
    Event {
        kind: "app_mention".into(),
        channel: "C1".into(),
        user: Some("U1".into()),
        text: text.into(),
        ts: "100.000001".into(),
        ..Event::default()
    }
}

fn dm(text: &str) -> Event {
    Event {
        kind: "message".into(),
        channel_type: Some("im".into()),
        channel: "D1".into(),
        ..mention(text)
    }
}

fn forwarded(a: Action) -> Draft {
    match a {
        Action::Forward(d) => d,
        other => panic!("not forwarded: {other:?}"),
    }
}

#[test]
fn a_mention_starts_a_thread_at_its_ts_without_the_mention() {
    let d = forwarded(decide(
        &mention("<@UBOT>  what time is it?"),
        BOT,
        &settings(),
        false,
    ));
    assert_eq!(d.conversation, "C1:100.000001");
    assert_eq!(
        (d.sender.as_str(), d.text.as_str()),
        ("U1", "what time is it?")
    );
    assert_eq!(d.command, None);
}

#[test]
fn a_mention_in_a_thread_stays_in_it() {
    let mut e = mention("<@UBOT> and now?");
    e.thread_ts = Some("90.5".into());
    assert_eq!(
        forwarded(decide(&e, BOT, &settings(), false)).conversation,
        "C1:90.5"
    );
}

#[test]
fn direct_messages_are_the_channel_or_their_thread() {
    assert_eq!(
        forwarded(decide(&dm("hi"), BOT, &settings(), false)).conversation,
        "D1"
    );
    let mut e = dm("hi");
    e.thread_ts = Some("7.1".into());
    assert_eq!(
        forwarded(decide(&e, BOT, &settings(), false)).conversation,
        "D1:7.1"
    );
}

#[test]
fn bots_subtypes_self_and_channel_messages_are_ignored() {
    let mut bot = dm("hi");
    bot.bot_id = Some("B1".into());
    let mut changed = dm("hi");
    changed.subtype = Some("message_changed".into());
    let mut joined = mention("hi");
    joined.subtype = Some("channel_join".into());
    let mut own = dm("hi");
    own.user = Some(BOT.into());
    let mut channel_message = mention("<@UBOT> hi");
    channel_message.kind = "message".into();
    channel_message.channel_type = Some("channel".into());
    let mut reaction = mention("");
    reaction.kind = "reaction_added".into();
    for e in [
        bot,
        changed,
        joined,
        own,
        channel_message,
        reaction,
        dm("   "),
    ] {
        assert!(
            matches!(decide(&e, BOT, &settings(), true), Action::Ignore(_)),
            "{e:?}"
        );
    }
    let mut shared = dm("look");
    shared.subtype = Some("file_share".into());
    assert!(matches!(
        decide(&shared, BOT, &settings(), false),
        Action::Forward(_)
    ));
}

#[test]
fn unknown_users_pair_in_dms_and_are_ignored_in_channels() {
    let mut stranger = dm("hello");
    stranger.user = Some("U9".into());
    assert_eq!(
        decide(&stranger, BOT, &settings(), false),
        Action::Pair {
            channel: "D1".into(),
            user: "U9".into()
        }
    );
    assert!(matches!(
        decide(&stranger, BOT, &settings(), true),
        Action::Forward(_)
    ));
    let off = Settings {
        pairing: false,
        ..settings()
    };
    assert!(matches!(
        decide(&stranger, BOT, &off, false),
        Action::Ignore(_)
    ));
    let mut in_channel = mention("<@UBOT> hi");
    in_channel.user = Some("U9".into());
    assert!(matches!(
        decide(&in_channel, BOT, &settings(), false),
        Action::Ignore(_)
    ));
}

#[test]
fn commands_with_slash_or_bang() {
    let d = forwarded(decide(&mention("<@UBOT> /new"), BOT, &settings(), false));
    assert_eq!(d.command.map(|c| c.name), Some("new".to_string()));
    let d = forwarded(decide(&dm("!model gpt-5"), BOT, &settings(), false));
    let c = d.command.unwrap();
    assert_eq!((c.name.as_str(), c.args.as_str()), ("model", "gpt-5"));
    assert_eq!(command_of("! new"), None);
    assert_eq!(command_of("wow!"), None);
}

#[test]
fn mentions_are_stripped_in_both_forms_only_for_the_bot() {
    assert_eq!(strip_mention("<@UBOT|pista> hi <@U2>", BOT), "hi <@U2>");
    assert_eq!(strip_mention("hi <@UBOTX> there", BOT), "hi <@UBOTX> there");
    assert_eq!(strip_mention("a\n<@UBOT>  b", BOT), "a\nb");
}
