//! Messages: `chat.postMessage`, `chat.postEphemeral` and `chat.update`,
//! with Slack's checks of channel ids, text and blocks.

use std::time::Instant;

use serde_json::{Value, json};

use super::super::http1::Answer;
use super::answers::{api_error, json_answer, ok};
use super::{
    APP_ID, BOT_ID, BOT_USER_ID, MAX_BLOCKS, MAX_SECTION_TEXT, MAX_TEXT, Posted, SlackDouble,
    TEAM_ID, Via,
};

pub(super) fn is_channel_id(id: &str) -> bool {
    id.len() >= 2
        && matches!(id.as_bytes()[0], b'C' | b'D' | b'G' | b'U' | b'W')
        && id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// Checks `blocks` as `chat.postMessage` does; the error list on failure.
pub fn check_blocks(blocks: &Value) -> Result<(), Vec<String>> {
    let Some(list) = blocks.as_array() else {
        return Err(vec!["must be an array [json-pointer:/blocks]".into()]);
    };
    let mut errors = Vec::new();
    if list.len() > MAX_BLOCKS {
        errors.push(format!(
            "no more than {MAX_BLOCKS} items allowed [json-pointer:/blocks]"
        ));
    }
    for (i, block) in list.iter().enumerate() {
        let Some(kind) = block["type"].as_str() else {
            errors.push(format!(
                "missing required field: type [json-pointer:/blocks/{i}]"
            ));
            continue;
        };
        if kind == "section" {
            let text = block["text"]["text"].as_str();
            let fields = block["fields"].as_array();
            if text.is_none() && fields.is_none() {
                errors.push(format!(
                    "must provide text or fields [json-pointer:/blocks/{i}]"
                ));
            }
            if text.is_some_and(|t| t.chars().count() > MAX_SECTION_TEXT) {
                errors.push(format!(
                    "must be less than {} characters [json-pointer:/blocks/{i}/text/text]",
                    MAX_SECTION_TEXT + 1
                ));
            }
        }
        if kind == "actions"
            && block["elements"]
                .as_array()
                .is_none_or(|e| e.is_empty() || e.len() > 25)
        {
            errors.push(format!(
                "must provide 1 to 25 elements [json-pointer:/blocks/{i}/elements]"
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

impl SlackDouble {
    pub(super) fn post_message(&self, params: &Value, via: Via) -> Answer {
        let channel = params["channel"].as_str().unwrap_or_default().to_string();
        if !is_channel_id(&channel) {
            return api_error("channel_not_found");
        }
        let text = params["text"].as_str().unwrap_or_default().to_string();
        let mut blocks = params["blocks"].clone();
        if let Value::String(s) = &blocks {
            match serde_json::from_str(s) {
                Ok(v) => blocks = v,
                Err(_) => return api_error("invalid_blocks_format"),
            }
        }
        if !blocks.is_null()
            && let Err(errors) = check_blocks(&blocks)
        {
            return json_answer(
                200,
                json!({"ok": false, "error": "invalid_blocks", "errors": errors}),
            );
        }
        let has_blocks = blocks.as_array().is_some_and(|b| !b.is_empty());
        let has_attachments = !params["attachments"].is_null();
        if text.trim().is_empty() && !has_blocks && !has_attachments {
            return api_error("no_text");
        }
        if text.chars().count() > MAX_TEXT {
            return api_error("msg_too_long");
        }
        let thread_ts = match &params["thread_ts"] {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        };
        let user = params["user"].as_str().map(str::to_string);
        let mut state = self.state.lock().unwrap();
        let ts = SlackDouble::next_ts(&mut state);
        state.posted.push(Posted {
            channel: channel.clone(),
            ts: ts.clone(),
            thread_ts: thread_ts.clone(),
            text: text.clone(),
            blocks: blocks.clone(),
            via: via.clone(),
            user,
            files: Vec::new(),
            edits: 0,
            at: Instant::now(),
        });
        if via == Via::Ephemeral {
            return ok(json!({"message_ts": ts}));
        }
        let mut message = json!({
            "type": "message", "subtype": "bot_message", "text": text, "user": BOT_USER_ID,
            "bot_id": BOT_ID, "app_id": APP_ID, "team": TEAM_ID, "ts": ts,
        });
        if has_blocks {
            message["blocks"] = blocks;
        }
        if let Some(t) = &thread_ts {
            message["thread_ts"] = json!(t);
        }
        ok(json!({"channel": channel, "ts": ts, "message": message}))
    }

    pub(super) fn update(&self, params: &Value) -> Answer {
        let channel = params["channel"].as_str().unwrap_or_default();
        let ts = params["ts"].as_str().unwrap_or_default();
        let text = params["text"].as_str();
        let mut blocks = params["blocks"].clone();
        if let Value::String(s) = &blocks {
            match serde_json::from_str(s) {
                Ok(v) => blocks = v,
                Err(_) => return api_error("invalid_blocks_format"),
            }
        }
        if !blocks.is_null()
            && let Err(errors) = check_blocks(&blocks)
        {
            return json_answer(
                200,
                json!({"ok": false, "error": "invalid_blocks", "errors": errors}),
            );
        }
        if text.is_some_and(|t| t.chars().count() > MAX_TEXT) {
            return api_error("msg_too_long");
        }
        if !is_channel_id(channel) {
            return api_error("channel_not_found");
        }
        let mut state = self.state.lock().unwrap();
        let Some(posted) = state
            .posted
            .iter_mut()
            .find(|p| p.channel == channel && p.ts == ts && p.via != Via::Ephemeral)
        else {
            return api_error("message_not_found");
        };
        if text.is_none_or(|t| t.trim().is_empty())
            && blocks.as_array().is_none_or(|b| b.is_empty())
        {
            return api_error("no_text");
        }
        if let Some(t) = text {
            posted.text = t.to_string();
        }
        if !blocks.is_null() {
            posted.blocks = blocks;
        }
        posted.edits += 1;
        let text = posted.text.clone();
        ok(json!({"channel": channel, "ts": ts, "text": text,
                  "message": {"type": "message", "text": text, "user": BOT_USER_ID, "bot_id": BOT_ID}}))
    }
}
