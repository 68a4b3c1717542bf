//! `channel-slack`: the Slack channel of openpista, over the Events API
//! (Slack posts to the host's routes `/slack/events` and
//! `/slack/interactions`) or Socket Mode (a WebSocket the host holds for
//! it), and the Web API.
//!
//! No secret enters the component: Web API calls carry `Authorization:
//! Bearer {{secret:slack_bot_token}}` (the app token only for
//! `apps.connections.open`), which the host fills in, and signatures are
//! checked by `host::secret_hmac_matches` with `slack_signing_secret`.
//!
//! The host calls it `slack`: conversations are `CHANNEL:THREAD_TS`, or
//! `CHANNEL` for a direct message outside threads ([`conversation`]).
//! Pairing requests and approvals are kept by `openpista_sdk::pairing`;
//! `report` describes the channel from what memory holds.
//!
//! This file is the glue the host calls; [`receive`], [`deliver`],
//! [`state`] and the transport in [`api`] call the host too. What can be
//! decided without it lives in modules that do not call it and are
//! unit-tested natively: [`config`], [`verify`], [`events`], [`dedup`],
//! [`inbound`], [`conversation`], [`files`], [`interactive`],
//! [`blocks`], [`socket`], [`mrkdwn`], [`split`], [`report`]
//! and the decisions of [`api`].

pub mod api;
pub mod blocks;
pub mod config;
pub mod conversation;
pub mod dedup;
pub mod deliver;
pub mod events;
pub mod files;
pub mod inbound;
pub mod interactive;
pub mod mrkdwn;
pub mod receive;
pub mod report;
pub mod socket;
pub mod split;
pub mod state;
pub mod verify;

use openpista_sdk::prelude::*;
use serde_json::Value;

use crate::api::{APP_AUTH, Api, Body};
use crate::config::{Mode, Settings};
use crate::events::Callback;
use crate::report::{Bot, Snapshot};
use crate::socket::{Action, Socket};

/// The routes of the Events API mode.
pub const ROUTES: [&str; 2] = ["events", "interactions"];

/// The component.
pub struct Slack;

fn api(settings: &Settings) -> Api<'_> {
    Api {
        base: &settings.api_url,
    }
}

fn text(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

impl Channel for Slack {
    const SDK_PAIRING: bool = true;

    fn start() -> Result<ChannelInfo, Error> {
        let settings = state::settings()?;
        let api = api(&settings);
        let me = api.call("auth.test", Body::Empty)?;
        let bot = Bot {
            user_id: text(&me, "user_id"),
            user: text(&me, "user"),
            team: text(&me, "team"),
            team_id: text(&me, "team_id"),
            bot_id: text(&me, "bot_id"),
        };
        state::remember_bot(&bot);
        host::info(&format!(
            "slack: starting as @{} ({}) in {}, {} mode",
            bot.user,
            bot.user_id,
            bot.team,
            settings.mode.as_str()
        ));
        // A second start replaces the first connection.
        let old = state::with(|l| l.socket.take().map(|mut s| s.stop("restarting")));
        run(&api, &settings, old.unwrap_or_default());
        let mut info = ChannelInfo::new();
        match settings.mode {
            Mode::Events => {
                info.routes = ROUTES.iter().map(|r| r.to_string()).collect();
            }
            Mode::Socket => {
                let mut s = Socket::new();
                let actions = s.start(host::now_ms());
                state::with(|l| l.socket = Some(s));
                run(&api, &settings, actions);
            }
        }
        state::save_snapshot();
        info.max_message_length = Some(split::MAX_CHARS as u32);
        info.features = Features::ATTACHMENTS;
        Ok(info)
    }

    fn handle_http(req: HttpRequest) -> Result<(HttpResponse, Vec<InboundEvent>), Error> {
        let route = req.path.split(['?', '#']).next().unwrap_or("");
        if !ROUTES.contains(&route) {
            return Ok((HttpResponse::not_found(), Vec::new()));
        }
        if !req.method.eq_ignore_ascii_case("POST") {
            let r = HttpResponse::text(405, "method not allowed").with_header("allow", "POST");
            return Ok((r, Vec::new()));
        }
        let checked = verify::check(&req.headers, &req.body, host::now_ms(), |base, hex| {
            host::secret_hmac_matches("slack_signing_secret", base, hex)
        });
        if let Err(why) = checked {
            host::warn(&format!("slack: refused a request on /{route}: {why}"));
            return Ok((HttpResponse::text(401, "invalid signature"), Vec::new()));
        }
        if let Some(n) = verify::header(&req.headers, "x-slack-retry-num") {
            let why = verify::header(&req.headers, "x-slack-retry-reason").unwrap_or("");
            host::debug(&format!("slack: retry {n} ({why})"));
        }
        let settings = state::settings()?;
        let api = api(&settings);
        let ok = HttpResponse::new(200, Vec::new());
        if route == "events" {
            return match events::parse(&req.body) {
                Ok(Callback::UrlVerification { challenge }) => {
                    Ok((HttpResponse::text(200, challenge), Vec::new()))
                }
                Ok(cb) => Ok((ok, receive::callback(&api, &settings, cb))),
                Err(why) => {
                    host::warn(&format!("slack: a bad event body: {why}"));
                    Ok((HttpResponse::text(400, why), Vec::new()))
                }
            };
        }
        let pairs = interactive::form_decode(&String::from_utf8_lossy(&req.body));
        let events = if let Some(payload) = interactive::form_value(&pairs, "payload") {
            match serde_json::from_str::<Value>(payload) {
                Ok(v) => receive::presses(&settings, &v),
                Err(e) => {
                    host::warn(&format!("slack: an unreadable interaction payload: {e}"));
                    return Ok((HttpResponse::text(400, "bad payload"), Vec::new()));
                }
            }
        } else {
            interactive::slash(|k| interactive::form_value(&pairs, k).map(str::to_string))
                .map(|s| receive::slash(&settings, &s))
                .unwrap_or_default()
        };
        Ok((ok, events))
    }

    fn handle_ws(id: u64, frame: Frame) -> Result<Vec<InboundEvent>, Error> {
        let Frame::Text(text) = frame else {
            return Ok(Vec::new());
        };
        let now = host::now_ms();
        let actions = state::with(|l| l.socket.as_mut().map(|s| s.on_frame(id, &text, now)));
        let Some(actions) = actions else {
            // A connection of an instance that is gone: close it.
            let _ = connections::ws_close(id, 1000, "unknown connection");
            return Ok(Vec::new());
        };
        let settings = state::settings()?;
        Ok(run(&api(&settings), &settings, actions))
    }

    fn ws_closed(id: u64) {
        let status = connections::ws_close_status(id);
        let now = host::now_ms();
        let actions = state::with(|l| l.socket.as_mut().map(|s| s.on_closed(id, status, now)));
        if let (Some(actions), Ok(settings)) = (actions, state::settings()) {
            run(&api(&settings), &settings, actions);
        }
    }

    fn tick(now_ms: u64) {
        let actions = state::with(|l| l.socket.as_mut().map(|s| s.tick(now_ms)));
        if let Some(actions) = actions.filter(|a| !a.is_empty())
            && let Ok(settings) = state::settings()
        {
            run(&api(&settings), &settings, actions);
        }
    }

    fn send(message: Outbound) -> Result<(), Error> {
        let settings = state::settings()?;
        deliver::answer(&api(&settings), &message)
    }

    fn shutdown() {
        let actions = state::with(|l| l.socket.as_mut().map(|s| s.stop("shutdown")));
        if let (Some(actions), Ok(settings)) = (actions, state::settings()) {
            run(&api(&settings), &settings, actions);
        }
    }

    fn describe() -> Result<ChannelReport, Error> {
        let settings = state::settings();
        let live = state::with(|l| l.snapshot.clone());
        let snapshot = live.or_else(|| {
            memory::get_json::<Snapshot>(report::MEMORY_KEY).unwrap_or_else(|e| {
                host::warn(&format!("slack: ignoring the stored report: {e}"));
                None
            })
        });
        Ok(report::describe(settings.as_ref(), snapshot.as_ref()))
    }

    fn ask_approval(conversation: &str, request: ApprovalRequest) -> Result<(), Error> {
        let settings = state::settings()?;
        deliver::approval(&api(&settings), conversation, &request)
    }

    fn approval_settled(_conversation: &str, id: &str, how: Settlement) {
        match state::settings() {
            Ok(settings) => deliver::approval_settled(&api(&settings), id, how),
            Err(e) => host::warn(&format!("{e}")),
        }
    }

    fn offer_choices(conversation: &str, text: &str, buttons: Vec<Button>) -> Result<(), Error> {
        let settings = state::settings()?;
        deliver::choices(&api(&settings), conversation, text, &buttons)
    }
}

openpista_sdk::export_channel!(Slack);

/// Asks Slack for a Socket Mode URL and has the host open it.
fn open_socket(api: &Api) -> Result<u64, Error> {
    let answer = api.call_as("apps.connections.open", APP_AUTH, Body::Empty)?;
    let url = answer
        .get("url")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::upstream(None, "slack: apps.connections.open gave no url"))?;
    connections::ws_open(url, &[])
}

/// Carries out the state machine's actions (and those they lead to),
/// returning the events of its envelopes, then stores the report.
fn run(api: &Api, settings: &Settings, actions: Vec<Action>) -> Vec<InboundEvent> {
    let mut events = Vec::new();
    let mut todo: std::collections::VecDeque<Action> = actions.into();
    while let Some(action) = todo.pop_front() {
        match action {
            Action::Open => {
                let now = host::now_ms();
                match open_socket(api) {
                    Ok(id) => {
                        host::debug(&format!("slack: Socket Mode connection {id} opening"));
                        state::with(|l| l.socket.as_mut().map(|s| s.opened(id, now)));
                    }
                    Err(e) => {
                        let why = e.to_string();
                        let more =
                            state::with(|l| l.socket.as_mut().map(|s| s.open_failed(&why, now)));
                        todo.extend(more.unwrap_or_default());
                    }
                }
            }
            Action::Send { id, text } => {
                if let Err(e) = connections::ws_send_text(id, text) {
                    host::warn(&format!("slack: cannot acknowledge on {id}: {e}"));
                }
            }
            Action::Close { id, code, reason } => {
                if let Err(e) = connections::ws_close(id, code, &reason) {
                    host::debug(&format!("slack: closing connection {id}: {e}"));
                }
            }
            Action::Dispatch { kind, payload } => {
                events.extend(receive::envelope(api, settings, &kind, &payload));
            }
            Action::Log(m) => host::info(&m),
        }
    }
    state::save_snapshot();
    events
}
