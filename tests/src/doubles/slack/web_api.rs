//! The Web API's entry: the token, a scripted failure or the method's
//! answer, and the record of the call; the methods that need no more
//! than a few lines are answered here.

use std::collections::VecDeque;

use serde_json::{Value, json};

use super::super::http1::{Answer, Recorded};
use super::answers::{api_error, ok, status_and_error};
use super::form::params_of;
use super::messages::is_channel_id;
use super::{BOT_ID, BOT_NAME, BOT_USER_ID, Call, SlackDouble, TEAM, TEAM_ID, Upload, Via};

impl SlackDouble {
    pub(super) fn web_api(&self, method: &str, request: Recorded) -> Answer {
        let (params, encoding) = params_of(&request);
        let token = request
            .header("authorization")
            .and_then(|h| {
                h.strip_prefix("Bearer ")
                    .or_else(|| h.strip_prefix("bearer "))
            })
            .map(|t| t.trim().to_string())
            .or_else(|| {
                (encoding != "json")
                    .then(|| params["token"].as_str().map(str::to_string))
                    .flatten()
            });
        let failure = self
            .state
            .lock()
            .unwrap()
            .failures
            .get_mut(method)
            .and_then(VecDeque::pop_front);
        let answer = match failure {
            Some(answer) => answer,
            None => self.method_answer(method, token.as_deref(), &params),
        };
        let (status, error) = status_and_error(&answer);
        self.state.lock().unwrap().calls.push(Call {
            method: method.to_string(),
            http_method: request.method.clone(),
            headers: request.headers.clone(),
            params,
            encoding,
            token,
            raw: request.raw.clone(),
            at: request.at,
            status,
            error,
        });
        answer
    }

    fn method_answer(&self, method: &str, token: Option<&str>, params: &Value) -> Answer {
        let Some(token) = token.filter(|t| !t.is_empty()) else {
            return api_error("not_authed");
        };
        let app_method = method == "apps.connections.open";
        if token == self.app_token {
            if !app_method {
                return api_error("not_allowed_token_type");
            }
        } else if token == self.bot_token {
            if app_method {
                return api_error("not_allowed_token_type");
            }
        } else {
            return api_error("invalid_auth");
        }
        let s = |name: &str| -> Option<String> {
            match &params[name] {
                Value::String(s) if !s.is_empty() => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            }
        };
        match method {
            "api.test" => ok(json!({"args": params})),
            "auth.test" => ok(json!({
                "url": "https://pista-test.slack.com/", "team": TEAM, "user": BOT_NAME,
                "team_id": TEAM_ID, "user_id": BOT_USER_ID, "bot_id": BOT_ID,
                "is_enterprise_install": false,
            })),
            "apps.connections.open" => {
                let mut state = self.state.lock().unwrap();
                let ticket = state.socket.next_ticket;
                state.socket.next_ticket += 1;
                state.socket.tickets.push(ticket);
                state.socket.counters.opens += 1;
                ok(json!({"url": format!("ws://{}/socket?ticket={ticket}", self.addr)}))
            }
            "chat.postMessage" => self.post_message(params, Via::PostMessage),
            "chat.postEphemeral" => {
                if s("user").is_none() {
                    return api_error("user_not_found");
                }
                self.post_message(params, Via::Ephemeral)
            }
            "chat.update" => self.update(params),
            "chat.delete" => {
                let (Some(channel), Some(ts)) = (s("channel"), s("ts")) else {
                    return api_error("message_not_found");
                };
                let mut state = self.state.lock().unwrap();
                let before = state.posted.len();
                state
                    .posted
                    .retain(|p| !(p.channel == channel && p.ts == ts));
                if state.posted.len() == before {
                    return api_error("message_not_found");
                }
                ok(json!({"channel": channel, "ts": ts}))
            }
            "reactions.add" | "reactions.remove" => {
                if s("channel").is_none() || s("timestamp").is_none() {
                    return api_error("message_not_found");
                }
                if s("name").is_none() {
                    return api_error("invalid_name");
                }
                ok(json!({}))
            }
            "users.info" => {
                let user = s("user").unwrap_or_default();
                match self.state.lock().unwrap().users.get(&user) {
                    Some(u) => ok(json!({"user": u})),
                    None => api_error("user_not_found"),
                }
            }
            "conversations.info" => match s("channel") {
                Some(c) if is_channel_id(&c) => ok(json!({"channel": {
                    "id": c, "name": c.to_lowercase(), "is_channel": c.starts_with('C'),
                    "is_im": c.starts_with('D'), "is_private": !c.starts_with('C'),
                    "is_member": true,
                }})),
                _ => api_error("channel_not_found"),
            },
            "conversations.open" => match s("users") {
                Some(u) => {
                    ok(json!({"channel": {"id": format!("D{}", u.trim_start_matches(['U', 'W']))}}))
                }
                None => api_error("users_list_not_supplied"),
            },
            "files.getUploadURLExternal" => {
                let Some(filename) = s("filename") else {
                    return api_error("invalid_arguments");
                };
                let Some(length) = s("length").and_then(|l| l.parse::<u64>().ok()) else {
                    return api_error("invalid_arguments");
                };
                let mut state = self.state.lock().unwrap();
                let file_id = format!("F{}", state.next_file);
                state.next_file += 1;
                state.uploads.insert(
                    file_id.clone(),
                    Upload {
                        file_id: file_id.clone(),
                        filename,
                        length,
                        bytes: None,
                        completed: false,
                    },
                );
                ok(json!({
                    "upload_url": format!("http://{}/upload/{file_id}", self.addr),
                    "file_id": file_id,
                }))
            }
            "files.completeUploadExternal" => self.complete_upload(params),
            _ => api_error("unknown_method"),
        }
    }
}
