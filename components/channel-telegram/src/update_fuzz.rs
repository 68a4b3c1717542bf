//! Fuzzing of update parsing (target `telegram_update`, seeds in
//! fuzz/corpus/telegram_update): webhook bodies and `getUpdates` results,
//! taken all the way to the decision about each update and the next
//! polling offset, the parts that run without the host.

use serde_json::Value;

use super::{Update, parse, parse_body};
use crate::bot::BotIdentity;
use crate::config::Settings;
use crate::conversation::ChatRef;
use crate::inbound::{self, Action, Context};
use crate::media::Skipped;
use crate::polling;

const BOT: i64 = 777;

/// The updates in `value`: a `getUpdates` response's `result`, a list of
/// updates, or one update (a webhook body).
fn updates(value: &Value) -> Vec<Value> {
    match value {
        Value::Array(list) => list.clone(),
        Value::Object(o) => match o.get("result") {
            Some(Value::Array(list)) => list.clone(),
            _ => vec![value.clone()],
        },
        _ => vec![value.clone()],
    }
}

/// A conversation id must name its chat and topic exactly.
fn round_trips(chat: ChatRef) {
    assert_eq!(ChatRef::parse(&chat.conversation()).ok(), Some(chat));
}

/// Decides about `update` as an allowed user, an approved one and a
/// stranger, with pairing on and off, and checks what comes out.
fn decide_every_way(update: &Update) {
    let bot = BotIdentity {
        id: BOT,
        username: "pista_bot".into(),
        first_name: "Pista".into(),
    };
    let sender = inbound::sender_id(update);
    for (allowed, pairing, approved) in [
        (true, false, false),
        (false, true, true),
        (false, true, false),
        (false, false, false),
    ] {
        let settings = Settings {
            allowed_users: sender.filter(|_| allowed).into_iter().collect(),
            pairing,
            ..Settings::default()
        };
        let ctx = Context {
            bot: &bot,
            settings: &settings,
        };
        let decision = inbound::decide(update, &ctx, approved);
        let permitted = allowed || approved;
        match decision.action {
            Action::Forward(draft) => {
                assert!(permitted, "a stranger's update was forwarded: {update:?}");
                assert_eq!(Some(draft.sender.parse().unwrap()), sender);
                assert_eq!(draft.text, draft.text.trim());
                let chat =
                    ChatRef::parse(&draft.conversation).expect("a forwarded conversation parses");
                round_trips(chat);
                if let Some(media) = &draft.media {
                    for why in [
                        Skipped::TooLarge,
                        Skipped::SizeUnknown,
                        Skipped::DownloadFailed,
                    ] {
                        assert!(media.describe(why).starts_with('['));
                    }
                    let _ = media.skip_reason(settings.max_file_bytes);
                }
            }
            Action::Reply { chat, text } => {
                round_trips(chat);
                assert!(!text.is_empty());
            }
            Action::Pair { chat, user_id, .. } => {
                assert!(!permitted && pairing);
                assert_eq!(Some(user_id), sender);
                round_trips(chat);
            }
            Action::Ignore(_) => {}
        }
    }
}

#[test]
fn fuzz_telegram_update() {
    openpista_fuzz::run("telegram_update", |body| {
        let Ok(value) = serde_json::from_slice::<Value>(body) else {
            assert!(parse_body(body).is_err());
            return;
        };
        // As a webhook body: the same as the value.
        assert_eq!(parse_body(body), parse(&value));
        // As a `getUpdates` result.
        let list = updates(&value);
        let mut ids = Vec::new();
        for raw in &list {
            if let Ok(update) = parse(raw) {
                ids.push(update.update_id);
                decide_every_way(&update);
            }
        }
        for current in [None, Some(0), Some(i64::MAX)] {
            if let Some(next) = polling::next_offset(&list, current) {
                // Past every update, unless one has the largest id.
                assert!(ids.iter().all(|id| *id < next) || next == i64::MAX);
                assert!(current.is_none_or(|c| next > c));
                let stored = next.to_string();
                assert_eq!(polling::parse_offset(Some(stored.as_bytes())), Some(next));
            }
        }
    });
}
