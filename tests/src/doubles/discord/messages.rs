//! Messages the bot posts or edits, whatever the route: Discord's checks
//! of a message body (length, components, empty messages), recording a
//! delivered message and applying an edit to it.

use std::collections::BTreeMap;
use std::time::Instant;

use serde_json::{Value, json};

use super::super::http1::Answer;
use super::errors::{api_error, invalid_form};
use super::payloads::{message_object, timestamp};
use super::{Delivered, DiscordDouble, MAX_CONTENT, Via};

impl DiscordDouble {
    /// Discord's checks of a message body (create, or edit when `!create`).
    pub(super) fn check_message(
        &self,
        body: &Value,
        files: &[(String, String, String, Vec<u8>)],
        create: bool,
    ) -> Result<(), Answer> {
        if !body.is_object() {
            return Err(api_error(
                400,
                50109,
                "The request body contains invalid JSON.",
            ));
        }
        if let Some(content) = body.get("content").and_then(Value::as_str)
            && content.chars().count() > MAX_CONTENT
        {
            return Err(invalid_form(
                "content",
                "BASE_TYPE_MAX_LENGTH",
                "Must be 2000 or fewer in length.",
            ));
        }
        if let Some(rows) = body.get("components").and_then(Value::as_array) {
            if rows.len() > 5 {
                return Err(invalid_form(
                    "components",
                    "BASE_TYPE_MAX_LENGTH",
                    "Must be 5 or fewer in length.",
                ));
            }
            for row in rows {
                let buttons = row["components"].as_array().map(Vec::len).unwrap_or(0);
                if row["type"] != 1 || buttons == 0 || buttons > 5 {
                    return Err(invalid_form(
                        "components",
                        "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                        "An action row needs 1 to 5 components.",
                    ));
                }
                for b in row["components"].as_array().unwrap() {
                    let id_len = b["custom_id"].as_str().map(|s| s.chars().count());
                    if b["type"] == 2 && b["style"] != 5 && !matches!(id_len, Some(1..=100)) {
                        return Err(invalid_form(
                            "components",
                            "BASE_TYPE_BAD_LENGTH",
                            "custom_id must be between 1 and 100 in length.",
                        ));
                    }
                }
            }
        }
        let empty = body["content"].as_str().unwrap_or("").is_empty()
            && body["embeds"].as_array().is_none_or(Vec::is_empty)
            && body["components"].as_array().is_none_or(Vec::is_empty)
            && body["sticker_ids"].as_array().is_none_or(Vec::is_empty)
            && body["poll"].is_null()
            && files.is_empty();
        if create && empty {
            return Err(api_error(400, 50006, "Cannot send an empty message"));
        }
        Ok(())
    }

    /// Records a message of the bot and answers it as a message object.
    pub(super) fn deliver(
        &self,
        channel: &str,
        body: &Value,
        files: &[(String, String, String, Vec<u8>)],
        via: Via,
        deferred: bool,
    ) -> Value {
        let mut state = self.state.lock().unwrap();
        let id = Self::next_id(&mut state);
        let guild = state
            .channels
            .get(channel)
            .and_then(|c| c["guild_id"].as_str().map(str::to_string));
        let reference = body["message_reference"]["message_id"]
            .as_str()
            .map(str::to_string);
        let delivered = Delivered {
            id: id.clone(),
            channel_id: channel.into(),
            content: body["content"].as_str().unwrap_or("").to_string(),
            components: body.get("components").cloned().unwrap_or(json!([])),
            embeds: body.get("embeds").cloned().unwrap_or(json!([])),
            files: files.iter().map(|f| f.1.clone()).collect(),
            reference: reference.clone(),
            via,
            deferred,
            edits: 0,
            at: Instant::now(),
        };
        state.delivered.push(delivered.clone());
        let attachments: Vec<Value> = files
            .iter()
            .enumerate()
            .map(|(i, (_, name, kind, bytes))| {
                let url = format!("http://{}/attachments/{channel}/{id}{i}/{name}", self.addr);
                json!({"id": format!("{id}{i}"), "filename": name, "size": bytes.len(),
                    "url": url, "proxy_url": url, "content_type": kind})
            })
            .collect();
        for (i, (_, name, kind, bytes)) in files.iter().enumerate() {
            state.files.insert(
                format!("{channel}/{id}{i}/{name}"),
                (kind.clone(), bytes.clone()),
            );
        }
        let mut m = message_object(&delivered, guild.as_deref());
        m["attachments"] = Value::Array(attachments);
        if deferred {
            m["flags"] = json!(128);
        }
        m
    }

    /// Applies an edit to a message the bot sent; its new object.
    pub(super) fn edit(&self, channel: Option<&str>, id: &str, body: &Value) -> Option<Value> {
        let mut state = self.state.lock().unwrap();
        let guilds: BTreeMap<String, Option<String>> = state
            .channels
            .iter()
            .map(|(k, c)| (k.clone(), c["guild_id"].as_str().map(str::to_string)))
            .collect();
        let m = state
            .delivered
            .iter_mut()
            .find(|m| m.id == id && channel.is_none_or(|c| c == m.channel_id))?;
        if let Some(c) = body.get("content") {
            m.content = c.as_str().unwrap_or("").to_string();
        }
        if let Some(c) = body.get("components") {
            m.components = c.clone();
        }
        if let Some(e) = body.get("embeds") {
            m.embeds = e.clone();
        }
        m.deferred = false;
        m.edits += 1;
        let guild = guilds.get(&m.channel_id).cloned().flatten();
        let mut object = message_object(m, guild.as_deref());
        object["edited_timestamp"] = json!(timestamp());
        Some(object)
    }
}
