//! Builders of Discord's JSON objects the double sends: users, the bot
//! user, Gateway frames and message objects, with a fixed timestamp.

use serde_json::{Value, json};

use super::{BOT_ID, BOT_USERNAME, Delivered};

pub(super) fn timestamp() -> String {
    "2024-05-01T12:00:00.000000+00:00".into()
}

pub(super) fn user(id: &str) -> Value {
    json!({
        "id": id, "username": format!("user{id}"), "global_name": format!("User {id}"),
        "discriminator": "0", "avatar": null, "public_flags": 0,
    })
}

/// The bot user object (`GET /users/@me`, READY, its messages' author).
pub fn bot_user() -> Value {
    json!({
        "id": BOT_ID, "username": BOT_USERNAME, "global_name": null, "discriminator": "0",
        "avatar": null, "bot": true, "verified": true, "mfa_enabled": false, "flags": 0,
        "public_flags": 0,
    })
}

pub(super) fn frame(op: u64, d: Value) -> Value {
    json!({"op": op, "d": d, "s": null, "t": null})
}

pub(super) fn message_object(d: &Delivered, guild: Option<&str>) -> Value {
    let mut m = json!({
        "id": d.id, "type": if d.reference.is_some() { 19 } else { 0 }, "channel_id": d.channel_id,
        "author": bot_user(), "content": d.content, "timestamp": timestamp(),
        "edited_timestamp": null, "tts": false, "mention_everyone": false, "mentions": [],
        "mention_roles": [], "attachments": [], "embeds": d.embeds, "pinned": false,
        "flags": 0, "components": d.components,
    });
    if let Some(g) = guild {
        m["guild_id"] = json!(g);
    }
    if let Some(r) = &d.reference {
        m["message_reference"] = json!({"type": 0, "message_id": r, "channel_id": d.channel_id});
    }
    m
}
