//! What Slack sends: `event_callback`s and their events, `url_verification`,
//! `block_actions`.

use super::{APP_ID, BOT_USER_ID, TEAM_ID};
use serde_json::{Value, json};

/// The verification token Slack puts in payloads (deprecated, still
/// sent).
pub const VERIFICATION_TOKEN: &str = "Jhj5dZrVaK7ZwHHjRyZWjbDl";

/// The Unix second now.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// `event` wrapped in an `event_callback` with id `event_id`.
pub fn callback(event_id: &str, event: Value) -> Value {
    json!({
        "token": VERIFICATION_TOKEN, "team_id": TEAM_ID, "context_team_id": TEAM_ID,
        "api_app_id": APP_ID, "event": event, "type": "event_callback",
        "event_id": event_id, "event_time": now(), "is_ext_shared_channel": false,
        "authorizations": [{"enterprise_id": null, "team_id": TEAM_ID, "user_id": BOT_USER_ID,
                            "is_bot": true, "is_enterprise_install": false}],
        "event_context": format!("4-eyJldCI6ImFwcF9tZW50aW9uIn0-{event_id}"),
    })
}

/// An `app_mention` by `user` in `channel`: `text` as Slack writes it
/// (`<@UBOT> hi`), in the thread of `thread_ts` if given.
pub fn app_mention(
    user: &str,
    channel: &str,
    text: &str,
    ts: &str,
    thread_ts: Option<&str>,
) -> Value {
    let mut e = json!({
        "type": "app_mention", "user": user, "text": text, "ts": ts,
        "client_msg_id": format!("c0ffee00-{}", ts.replace('.', "-")),
        "team": TEAM_ID, "channel": channel, "event_ts": ts,
        "blocks": [{"type": "rich_text", "block_id": "b1", "elements": [
            {"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}]}],
    });
    if let Some(t) = thread_ts {
        e["thread_ts"] = json!(t);
        e["parent_user_id"] = json!(user);
    }
    e
}

/// A direct message (`message`, `channel_type: im`) from `user` in DM
/// channel `channel` (`D...`).
pub fn dm(user: &str, channel: &str, text: &str, ts: &str) -> Value {
    json!({
        "type": "message", "channel_type": "im", "user": user, "text": text, "ts": ts,
        "client_msg_id": format!("d0ffee00-{}", ts.replace('.', "-")),
        "team": TEAM_ID, "channel": channel, "event_ts": ts,
    })
}

/// A direct message sharing `files` (objects from
/// [`super::SlackDouble::add_file`]): `subtype: file_share`.
pub fn dm_with_files(user: &str, channel: &str, text: &str, ts: &str, files: Vec<Value>) -> Value {
    let mut e = dm(user, channel, text, ts);
    e["subtype"] = json!("file_share");
    e["files"] = Value::Array(files);
    e["upload"] = json!(false);
    e["display_as_bot"] = json!(false);
    e
}

/// A channel message (`message`, `channel_type: channel`), no mention.
pub fn channel_message(
    user: &str,
    channel: &str,
    text: &str,
    ts: &str,
    thread_ts: Option<&str>,
) -> Value {
    let mut e = json!({
        "type": "message", "channel_type": "channel", "user": user, "text": text, "ts": ts,
        "team": TEAM_ID, "channel": channel, "event_ts": ts,
    });
    if let Some(t) = thread_ts {
        e["thread_ts"] = json!(t);
    }
    e
}

/// `url_verification`, what Slack posts when the Request URL is set.
pub fn url_verification(challenge: &str) -> Value {
    json!({"token": VERIFICATION_TOKEN, "challenge": challenge, "type": "url_verification"})
}

/// A `block_actions` payload: `user` pressed the button `action_id`
/// (value `value`) on the bot's message `message_ts` in `channel`.
pub fn block_actions(
    user: &str,
    channel: &str,
    message_ts: &str,
    action_id: &str,
    value: &str,
) -> Value {
    json!({
        "type": "block_actions",
        "user": {"id": user, "username": format!("user{user}"), "name": format!("user{user}"), "team_id": TEAM_ID},
        "api_app_id": APP_ID, "token": VERIFICATION_TOKEN,
        "container": {"type": "message", "message_ts": message_ts, "channel_id": channel, "is_ephemeral": false},
        "trigger_id": "13345224609.738474920.8088930838d88f008e0",
        "team": {"id": TEAM_ID, "domain": "pista-test"},
        "channel": {"id": channel, "name": channel.to_lowercase()},
        "message": {"type": "message", "user": BOT_USER_ID, "ts": message_ts, "text": "Proceed?"},
        "response_url": "https://hooks.slack.com/actions/T0TEAM001/1/abc",
        "actions": [{"action_id": action_id, "block_id": "approval", "type": "button",
                     "value": value, "text": {"type": "plain_text", "text": value},
                     "action_ts": format!("{}.000100", now())}],
    })
}
