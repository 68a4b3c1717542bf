//! `channel-discord`: the Discord channel of openpista, over the Gateway
//! (v10, JSON) on a WebSocket the host holds for it, and the REST API
//! (v10).
//!
//! The bot token never enters the component: REST calls carry
//! `Authorization: Bot {{secret:discord_bot_token}}` and the Gateway's
//! Identify and Resume frames the same placeholder, which the host fills
//! in on the way out.
//!
//! The host calls it `discord`: conversations are channel ids (`123`), or
//! `PARENT:THREAD` for threads. Pairing requests and approvals are kept by
//! `openpista_sdk::pairing`, which also answers the host's `pairing`
//! calls; `report` describes the connection from what memory holds.
//!
//! This file is the glue the host calls; [`receive`], [`deliver`],
//! [`state`] and the transport in [`api`] call the host too. What can be
//! decided without it lives in modules that do not call it and are
//! unit-tested natively: [`config`], [`gateway`] (payloads, close codes,
//! the send budget, the connection's state machine), [`message`],
//! [`conversation`], [`inbound`], [`attachments`], [`interaction`],
//! [`commands`], [`outbound`], [`split`], [`markdown`],
//! [`ratelimit`], [`report`] and the decisions of [`api`].

pub mod api;
pub mod attachments;
pub mod commands;
pub mod config;
pub mod conversation;
pub mod deliver;
pub mod gateway;
pub mod inbound;
pub mod interaction;
pub mod markdown;
pub mod message;
pub mod outbound;
pub mod ratelimit;
pub mod receive;
pub mod report;
pub mod split;
pub mod state;

use openpista_sdk::prelude::*;
use serde_json::Value;

use crate::api::Api;
use crate::gateway::session::{Action, Gateway};
use crate::report::Snapshot;
use crate::state::Bot;

/// The component.
pub struct Discord;

impl Channel for Discord {
    const SDK_PAIRING: bool = true;

    fn start() -> Result<ChannelInfo, Error> {
        let settings = state::settings()?;
        let api = Api {
            base: &settings.api_url,
        };
        let me = api.call("GET", "/users/@me", None)?;
        let bot = Bot {
            id: text(&me, "id")
                .ok_or_else(|| Error::upstream(None, "discord: /users/@me has no id"))?,
            username: text(&me, "username").unwrap_or_default(),
        };
        state::remember_bot(&bot);
        let gw = api.call("GET", "/gateway/bot", None)?;
        let url = text(&gw, "url")
            .ok_or_else(|| Error::upstream(None, "discord: /gateway/bot has no url"))?;
        // A second start replaces the first connection.
        let old = state::with(|l| l.gateway.as_mut().map(|g| g.stop("restarting")));
        run(&api, &settings, old.unwrap_or_default());
        let mut gateway = Gateway::new(&url, settings.intents);
        let actions = gateway.start();
        state::with(|l| l.gateway = Some(gateway));
        run(&api, &settings, actions);
        host::info(&format!(
            "discord: starting as @{} (id {}), Gateway {url}",
            bot.username, bot.id
        ));
        let mut info = ChannelInfo::new();
        info.polls = false;
        info.max_message_length = Some(split::MAX_CHARS as u32);
        info.features = Features::TYPING | Features::ATTACHMENTS;
        Ok(info)
    }

    fn handle_ws(id: u64, frame: Frame) -> Result<Vec<InboundEvent>, Error> {
        let Frame::Text(text) = frame else {
            host::debug("discord: ignoring a binary frame");
            return Ok(Vec::new());
        };
        let now = host::now_ms();
        let jitter = state::jitter();
        let actions = state::with(|l| {
            l.gateway
                .as_mut()
                .map(|g| g.on_frame(id, &text, now, jitter))
        });
        let Some(actions) = actions else {
            // A connection of an instance that is gone: close it.
            let _ = connections::ws_close(id, 1000, "unknown connection");
            return Ok(Vec::new());
        };
        let settings = state::settings()?;
        let api = Api {
            base: &settings.api_url,
        };
        Ok(run(&api, &settings, actions))
    }

    fn ws_closed(id: u64) {
        let status = connections::ws_close_status(id);
        let now = host::now_ms();
        let actions = state::with(|l| l.gateway.as_mut().map(|g| g.on_closed(id, status, now)));
        if let (Some(actions), Ok(settings)) = (actions, state::settings()) {
            let api = Api {
                base: &settings.api_url,
            };
            run(&api, &settings, actions);
        }
    }

    fn tick(now_ms: u64) {
        let Ok(settings) = state::settings() else {
            return;
        };
        let api = Api {
            base: &settings.api_url,
        };
        receive::defer_due(&api, now_ms);
        let actions = state::with(|l| l.gateway.as_mut().map(|g| g.tick(now_ms)));
        if let Some(actions) = actions {
            run(&api, &settings, actions);
        }
    }

    fn send(message: Outbound) -> Result<(), Error> {
        let settings = state::settings()?;
        deliver::answer(
            &Api {
                base: &settings.api_url,
            },
            &message,
        )
    }

    fn status(conversation: &str, kind: StatusKind) -> Result<(), Error> {
        if matches!(kind, StatusKind::Idle) {
            return Ok(());
        }
        let settings = state::settings()?;
        if let Err(e) = deliver::typing(
            &Api {
                base: &settings.api_url,
            },
            conversation,
        ) {
            host::warn(&format!("discord: no typing indicator: {e}"));
        }
        Ok(())
    }

    fn shutdown() {
        let actions = state::with(|l| l.gateway.as_mut().map(|g| g.stop("shutdown")));
        if let (Some(actions), Ok(settings)) = (actions, state::settings()) {
            let api = Api {
                base: &settings.api_url,
            };
            run(&api, &settings, actions);
        }
    }

    fn describe() -> Result<ChannelReport, Error> {
        let settings = state::settings();
        let live = state::with(|l| l.snapshot.clone());
        let snapshot = live.or_else(|| {
            memory::get_json::<Snapshot>(report::MEMORY_KEY).unwrap_or_else(|e| {
                host::warn(&format!("discord: ignoring the stored report: {e}"));
                None
            })
        });
        Ok(report::describe(settings.as_ref(), snapshot.as_ref()))
    }

    fn ask_approval(conversation: &str, request: ApprovalRequest) -> Result<(), Error> {
        let settings = state::settings()?;
        deliver::approval(
            &Api {
                base: &settings.api_url,
            },
            conversation,
            &request,
        )
    }

    fn approval_settled(_conversation: &str, id: &str, how: Settlement) {
        match state::settings() {
            Ok(settings) => deliver::approval_settled(
                &Api {
                    base: &settings.api_url,
                },
                id,
                how,
            ),
            Err(e) => host::warn(&format!("{e}")),
        }
    }

    fn offer_choices(conversation: &str, text: &str, buttons: Vec<Button>) -> Result<(), Error> {
        let settings = state::settings()?;
        deliver::choices(
            &Api {
                base: &settings.api_url,
            },
            conversation,
            text,
            &buttons,
        )
    }
}

openpista_sdk::export_channel!(Discord);

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

/// Carries out the state machine's actions (and those they lead to),
/// returning the events of its dispatches, then stores the report.
fn run(api: &Api, settings: &config::Settings, actions: Vec<Action>) -> Vec<InboundEvent> {
    let mut events = Vec::new();
    let mut todo: std::collections::VecDeque<Action> = actions.into();
    while let Some(action) = todo.pop_front() {
        match action {
            Action::Open { url } => {
                let now = host::now_ms();
                match connections::ws_open(&url, &[]) {
                    Ok(id) => {
                        host::debug(&format!("discord: opening {url} as connection {id}"));
                        state::with(|l| l.gateway.as_mut().map(|g| g.opened(id, now)));
                    }
                    Err(e) => {
                        let why = e.to_string();
                        let more =
                            state::with(|l| l.gateway.as_mut().map(|g| g.open_failed(&why, now)));
                        todo.extend(more.unwrap_or_default());
                    }
                }
            }
            Action::Send { id, text } => {
                if let Err(e) = connections::ws_send_text(id, text) {
                    host::warn(&format!("discord: cannot send on the Gateway: {e}"));
                }
            }
            Action::Close { id, code, reason } => {
                if let Err(e) = connections::ws_close(id, code, &reason) {
                    host::debug(&format!("discord: closing connection {id}: {e}"));
                }
            }
            Action::Dispatch { name, data } => {
                events.extend(receive::dispatch(api, settings, &name, &data));
            }
            Action::Log(m) => host::info(&m),
            Action::Warn(m) => host::warn(&m),
        }
    }
    state::save_snapshot();
    events
}
