//! The REST API under `/api/v10` (and attachment downloads): routing a
//! request, recording it as a [`Call`], checking the bot token, scripted
//! failures, and the answers of the routes that need no helper file
//! (users, gateway, channels, commands).

use std::collections::VecDeque;

use serde_json::{Value, json};

use super::super::http1::{Answer, Recorded};
use super::answers::{add_rate_headers, json_answer, no_content};
use super::errors::{api_error, invalid_form};
use super::multipart::body_of;
use super::payloads::bot_user;
use super::{APP_ID, Call, DiscordDouble, Via};

impl DiscordDouble {
    /// The route of a path under `/api/v10`: ids as `{id}`, interaction
    /// and webhook tokens as `{token}`.
    fn route(method: &str, segments: &[&str]) -> String {
        let mut out = String::new();
        for (i, s) in segments.iter().enumerate() {
            out.push('/');
            let token = i == 2 && matches!(segments[0], "interactions" | "webhooks");
            if token {
                out.push_str("{token}");
            } else if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
                out.push_str("{id}");
            } else {
                out.push_str(s);
            }
        }
        format!("{method} {out}")
    }

    pub(super) fn answer(&self, request: Recorded) -> Answer {
        let full = request.path.clone();
        let path = full.split('?').next().unwrap_or("").to_string();
        if let Some(rest) = path.strip_prefix("/attachments/") {
            let state = self.state.lock().unwrap();
            return match state.files.get(rest) {
                Some((kind, bytes)) if request.method == "GET" => Answer::Whole {
                    status: 200,
                    headers: vec![("content-type".into(), kind.clone())],
                    body: bytes.clone(),
                },
                _ => Answer::Whole {
                    status: 404,
                    headers: vec![("content-type".into(), "text/plain".into())],
                    body: b"404: Not Found".to_vec(),
                },
            };
        }
        let Some(api) = path.strip_prefix("/api/v10") else {
            return api_error(404, 0, "404: Not Found");
        };
        let segments: Vec<&str> = api.trim_start_matches('/').split('/').collect();
        let route = Self::route(&request.method, &segments);
        let (body, files) = body_of(&request);
        let index = {
            let mut state = self.state.lock().unwrap();
            state.calls.push(Call {
                method: request.method.clone(),
                path: full.strip_prefix("/api/v10").unwrap_or(&full).to_string(),
                route: route.clone(),
                body: body.clone(),
                files: files.clone(),
                headers: request.headers.clone(),
                at: request.at,
                status: 0,
            });
            state.calls.len() - 1
        };
        let answer = self.route_answer(&request, &route, &segments, body, files);
        let status = match &answer {
            Answer::Whole { status, .. } | Answer::Chunked { status, .. } => *status,
        };
        self.state.lock().unwrap().calls[index].status = status;
        answer
    }

    fn route_answer(
        &self,
        request: &Recorded,
        route: &str,
        segments: &[&str],
        body: Value,
        files: Vec<(String, String, String, Vec<u8>)>,
    ) -> Answer {
        let tokened = matches!(segments.first(), Some(&"interactions" | &"webhooks"));
        if !tokened && request.header("authorization") != Some(&format!("Bot {}", self.token)) {
            return api_error(401, 0, "401: Unauthorized");
        }
        if let Some(answer) = self
            .state
            .lock()
            .unwrap()
            .failures
            .get_mut(route)
            .and_then(VecDeque::pop_front)
        {
            return answer;
        }
        let answer = match (request.method.as_str(), segments) {
            ("GET", ["users", "@me"]) => json_answer(200, bot_user()),
            ("GET", ["gateway"]) => json_answer(200, json!({"url": self.gateway_url()})),
            ("GET", ["gateway", "bot"]) => json_answer(
                200,
                json!({
                    "url": self.gateway_url(), "shards": 1,
                    "session_start_limit": {"total": 1000, "remaining": 999,
                        "reset_after": 14_400_000, "max_concurrency": 1},
                }),
            ),
            ("GET", ["channels", id]) => match self.state.lock().unwrap().channels.get(*id) {
                Some(c) => json_answer(200, c.clone()),
                None => api_error(404, 10003, "Unknown Channel"),
            },
            ("POST", ["channels", id, "typing"]) => {
                if self.state.lock().unwrap().channels.contains_key(*id) {
                    no_content()
                } else {
                    api_error(404, 10003, "Unknown Channel")
                }
            }
            ("POST", ["channels", id, "messages"]) => {
                if !self.state.lock().unwrap().channels.contains_key(*id) {
                    return api_error(404, 10003, "Unknown Channel");
                }
                match self.check_message(&body, &files, true) {
                    Err(a) => a,
                    Ok(()) => {
                        let m = self.deliver(id, &body, &files, Via::Message, false);
                        json_answer(200, m)
                    }
                }
            }
            ("PATCH", ["channels", id, "messages", mid]) => {
                if let Err(a) = self.check_message(&body, &files, false) {
                    return a;
                }
                match self.edit(Some(id), mid, &body) {
                    Some(m) => json_answer(200, m),
                    None => api_error(404, 10008, "Unknown Message"),
                }
            }
            ("PUT", ["applications", app, "commands"])
            | ("PUT", ["applications", app, "guilds", _, "commands"]) => {
                if *app != APP_ID {
                    return api_error(403, 50001, "Missing Access");
                }
                self.put_commands(body)
            }
            ("GET", ["applications", app, "commands"]) if *app == APP_ID => {
                json_answer(200, Value::Array(self.commands()))
            }
            ("POST", ["interactions", id, token, "callback"]) => {
                self.callback(request, id, token, body, &files)
            }
            (method, ["webhooks", app, token, rest @ ..]) => {
                if *app != APP_ID {
                    return api_error(404, 10015, "Unknown Webhook");
                }
                self.webhook(request, method, token, rest, body, &files)
            }
            _ => api_error(404, 0, "404: Not Found"),
        };
        add_rate_headers(answer, route)
    }

    fn put_commands(&self, body: Value) -> Answer {
        let Some(list) = body.as_array() else {
            return invalid_form(
                "_errors",
                "ARRAY_TYPE_CONVERT",
                "Only iterables may be used in a ListType",
            );
        };
        let mut echoed = Vec::new();
        let mut state = self.state.lock().unwrap();
        for (i, c) in list.iter().enumerate() {
            let name = c["name"].as_str().unwrap_or("");
            let kind = c["type"].as_u64().unwrap_or(1);
            let name_ok = (1..=32).contains(&name.chars().count())
                && name
                    .chars()
                    .all(|ch| ch == '-' || ch == '_' || ch.is_alphanumeric())
                && (kind != 1 || name.chars().all(|ch| !ch.is_uppercase()));
            if !name_ok {
                return invalid_form(
                    &format!("{i}.name"),
                    "APPLICATION_COMMAND_INVALID_NAME",
                    "Command name is invalid",
                );
            }
            let description = c["description"].as_str().unwrap_or("");
            if kind == 1 && !(1..=100).contains(&description.chars().count()) {
                return invalid_form(
                    &format!("{i}.description"),
                    "BASE_TYPE_BAD_LENGTH",
                    "Must be between 1 and 100 in length.",
                );
            }
            let mut command = c.clone();
            let id = Self::next_id(&mut state);
            let fill = json!({
                "id": id, "application_id": APP_ID, "version": id, "type": kind,
                "default_member_permissions": null, "nsfw": false, "options": [],
                "integration_types": [0], "contexts": null,
            });
            for (k, v) in fill.as_object().unwrap() {
                if command.get(k).is_none() || k == "id" || k == "version" || k == "application_id"
                {
                    command[k] = v.clone();
                }
            }
            echoed.push(command);
        }
        state.commands = echoed.clone();
        json_answer(200, Value::Array(echoed))
    }
}
