//! Interactions over REST: the callback (its 3 s deadline, only once,
//! the response types) and the interaction's webhook (`@original`,
//! follow-ups, reads and deletes).

use std::time::Duration;

use serde_json::Value;

use super::super::http1::{Answer, Recorded};
use super::answers::{json_answer, no_content};
use super::errors::{api_error, invalid_form};
use super::payloads::message_object;
use super::{Callback, DiscordDouble, INTERACTION_DEADLINE, Via, WebhookCall};

impl DiscordDouble {
    pub(super) fn callback(
        &self,
        request: &Recorded,
        id: &str,
        token: &str,
        body: Value,
        files: &[(String, String, String, Vec<u8>)],
    ) -> Answer {
        let kind = body["type"].as_u64().unwrap_or(0);
        let data = body["data"].clone();
        let (elapsed, known, already, channel, interaction_kind, original) = {
            let state = self.state.lock().unwrap();
            match state.interactions.get(id).filter(|i| i.token == token) {
                Some(i) => (
                    request.at.saturating_duration_since(i.dispatched),
                    true,
                    i.acked.is_some(),
                    i.channel_id.clone(),
                    i.original.is_some(),
                    i.original.clone(),
                ),
                None => (Duration::ZERO, false, false, String::new(), false, None),
            }
        };
        let late = known && elapsed > INTERACTION_DEADLINE;
        let is_component = interaction_kind;
        let answer = if !known || late {
            api_error(404, 10062, "Unknown interaction")
        } else if already {
            api_error(400, 40060, "Interaction has already been acknowledged.")
        } else {
            match kind {
                4..=7 => {
                    if (kind == 6 || kind == 7) && !is_component {
                        invalid_form(
                            "type",
                            "INTERACTION_RESPONSE_TYPE_INVALID",
                            "Interaction response type is not valid for this interaction",
                        )
                    } else if let (4 | 7, Err(a)) =
                        (kind, self.check_message(&data, files, kind == 4))
                    {
                        a
                    } else {
                        let original = match kind {
                            4 | 5 => {
                                let m = self.deliver(
                                    &channel,
                                    &data,
                                    files,
                                    Via::InteractionResponse,
                                    kind == 5,
                                );
                                m["id"].as_str().map(str::to_string)
                            }
                            7 => {
                                if let Some(o) = &original {
                                    self.edit(None, o, &data);
                                }
                                original
                            }
                            _ => original,
                        };
                        let mut state = self.state.lock().unwrap();
                        if let Some(i) = state.interactions.get_mut(id) {
                            i.acked = Some(kind);
                            i.original = original;
                        }
                        no_content()
                    }
                }
                1 => invalid_form(
                    "type",
                    "INTERACTION_RESPONSE_TYPE_INVALID",
                    "PONG is only for HTTP interactions",
                ),
                _ => invalid_form(
                    "type",
                    "BASE_TYPE_CHOICES",
                    "Value must be one of {1, 4, 5, 6, 7, 8, 9, 10, 12}.",
                ),
            }
        };
        let status = match &answer {
            Answer::Whole { status, .. } | Answer::Chunked { status, .. } => *status,
        };
        self.state.lock().unwrap().callbacks.push(Callback {
            interaction_id: id.into(),
            token: token.into(),
            kind,
            data,
            at: request.at,
            elapsed,
            late,
            status,
        });
        answer
    }

    pub(super) fn webhook(
        &self,
        request: &Recorded,
        method: &str,
        token: &str,
        rest: &[&str],
        body: Value,
        files: &[(String, String, String, Vec<u8>)],
    ) -> Answer {
        let interaction = {
            let state = self.state.lock().unwrap();
            state
                .interactions
                .values()
                .find(|i| i.token == token)
                .map(|i| (i.channel_id.clone(), i.acked.is_some(), i.original.clone()))
        };
        let target = rest.get(1).copied().unwrap_or("").to_string();
        let answer = match (interaction, method, rest) {
            (None, ..) => api_error(404, 10015, "Unknown Webhook"),
            (Some((_, false, _)), ..) => api_error(404, 10015, "Unknown Webhook"),
            (Some((channel, true, _)), "POST", []) => {
                match self.check_message(&body, files, true) {
                    Err(a) => a,
                    Ok(()) => json_answer(
                        200,
                        self.deliver(&channel, &body, files, Via::Followup, false),
                    ),
                }
            }
            (Some((_, true, original)), "PATCH" | "GET" | "DELETE", ["messages", which]) => {
                let id = if *which == "@original" {
                    original
                } else {
                    Some(which.to_string())
                };
                match (method, id) {
                    (_, None) => api_error(404, 10008, "Unknown Message"),
                    ("PATCH", Some(id)) => match self.check_message(&body, files, false) {
                        Err(a) => a,
                        Ok(()) => match self.edit(None, &id, &body) {
                            Some(m) => json_answer(200, m),
                            None => api_error(404, 10008, "Unknown Message"),
                        },
                    },
                    ("GET", Some(id)) => {
                        let state = self.state.lock().unwrap();
                        match state.delivered.iter().find(|m| m.id == id) {
                            Some(m) => json_answer(200, message_object(m, None)),
                            None => api_error(404, 10008, "Unknown Message"),
                        }
                    }
                    (_, Some(id)) => {
                        let mut state = self.state.lock().unwrap();
                        state.delivered.retain(|m| m.id != id);
                        no_content()
                    }
                }
            }
            _ => api_error(405, 0, "405: Method Not Allowed"),
        };
        let status = match &answer {
            Answer::Whole { status, .. } | Answer::Chunked { status, .. } => *status,
        };
        self.state.lock().unwrap().webhook_calls.push(WebhookCall {
            method: method.into(),
            token: token.into(),
            target,
            body,
            at: request.at,
            status,
        });
        answer
    }
}
