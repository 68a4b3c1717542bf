//! `channel-telegram`: the Telegram channel of openpista, over the Bot
//! API by long polling (`getUpdates`) or a webhook.
//!
//! The bot token never enters the component: every URL carries the
//! placeholder `{{secret:telegram_bot_token}}`, which the host fills in
//! on the way out, and the webhook's secret token is checked with
//! `host.secret-matches("telegram_webhook_secret", …)`.
//!
//! The host calls it `telegram`: it names conversations (`42`, `42:7` for
//! a forum topic) and the route `webhook` (served at `/telegram/webhook`).
//! Pairing requests and approvals are kept by `openpista_sdk::pairing`,
//! which also answers the host's `pairing` calls; `report` describes the
//! bot from what memory and configuration hold.
//!
//! This file is the glue the host calls; [`receive`], [`deliver`],
//! [`state`] and the transport in [`api`] call the host too. What can be
//! decided without it lives in modules that do not call it and are
//! unit-tested natively: [`config`], [`conversation`], [`update`],
//! [`inbound`], [`commands`], [`mention`], [`media`], [`report`],
//! [`webhook`], [`polling`], [`outbound`], [`keyboard`], [`split`],
//! [`markdown`], [`ratelimit`], [`bot`], [`api_error`] and
//! the retry decisions of [`api`].

pub mod api;
pub mod api_error;
pub mod bot;
pub mod commands;
pub mod config;
pub mod conversation;
pub mod deliver;
pub mod inbound;
pub mod keyboard;
pub mod markdown;
pub mod media;
pub mod mention;
pub mod outbound;
pub mod polling;
pub mod ratelimit;
pub mod receive;
pub mod report;
pub mod split;
pub mod state;
pub mod update;
pub mod webhook;

use openpista_sdk::prelude::*;
use serde_json::Value;

use crate::api::Api;
use crate::api_error::ApiError;
use crate::bot::BotIdentity;
use crate::config::Mode;
use crate::conversation::ChatRef;

/// The secret Telegram presents on webhook requests.
pub const WEBHOOK_SECRET_NAME: &str = "telegram_webhook_secret";

/// The component.
pub struct Telegram;

impl Channel for Telegram {
    // Pairing codes and approvals are the SDK's (`receive`), so the
    // host's pairing calls are answered from the same records.
    const SDK_PAIRING: bool = true;

    fn start() -> Result<ChannelInfo, Error> {
        let settings = state::settings()?;
        if settings.mode == Mode::Webhook {
            settings.require_webhook_url()?;
        }
        let api = Api {
            base: &settings.api_url,
        };
        let bot = state::get_me(&api)?;
        state::remember_bot(&bot)?;
        if let Err(e) = api.call("setMyCommands", &commands::menu_body()) {
            host::warn(&format!("{e}; the command menu stays as it was"));
        }
        let mut info = ChannelInfo::new();
        // Telegram counts UTF-16 units; the host's split comes first, and
        // `outbound::plan` splits again in Telegram's measure (a no-op for
        // text that already fits) so that nothing is ever refused.
        info.max_message_length = Some(split::MAX_UNITS as u32);
        info.features = Features::TYPING | Features::ATTACHMENTS;
        match settings.mode {
            Mode::Webhook => {
                let url = settings.require_webhook_url()?;
                let query = api::set_webhook_query(url, &polling::ALLOWED_UPDATES);
                api.call_query("setWebhook", &query)?;
                info.routes.push(webhook::ROUTE.into());
            }
            Mode::Polling => info.polls = true,
        }
        let mode = if info.polls { "polling" } else { "webhook" };
        host::info(&format!(
            "telegram: started as @{} (id {}) in {mode} mode",
            bot.username, bot.id
        ));
        Ok(info)
    }

    fn poll() -> Result<Vec<InboundEvent>, Error> {
        let settings = state::settings()?;
        let api = Api {
            base: &settings.api_url,
        };
        let offset = polling::parse_offset(memory::get(polling::OFFSET_KEY)?.as_deref());
        let timeout = settings.poll_timeout_secs;
        let body = polling::get_updates_body(offset, timeout);
        let request_ms = polling::request_timeout_ms(timeout);
        let result = match api.call_with("getUpdates", &body, request_ms, api::POLICY.max_attempts)
        {
            Ok(result) => result,
            Err(ApiError::Conflict { description, .. }) => {
                on_conflict(&api, &description);
                return Ok(Vec::new());
            }
            Err(e) => return Err(e.into()),
        };
        state::conflict_reset();
        let Value::Array(updates) = result else {
            let e = ApiError::Malformed {
                method: "getUpdates".into(),
                detail: "the result is not a list of updates".into(),
            };
            return Err(e.into());
        };
        if updates.is_empty() {
            return Ok(Vec::new());
        }
        let bot = state::bot(&api)?;
        let mut events = Vec::new();
        for raw in &updates {
            match update::parse(raw) {
                Ok(u) => events.extend(receive::process(&api, &settings, &bot, &u)?),
                Err(why) => host::warn(&format!("telegram: skipping an update: {why}")),
            }
        }
        // Stored before the events leave, so a restart repeats none.
        if let Some(next) = polling::next_offset(&updates, offset) {
            memory::set(polling::OFFSET_KEY, next.to_string().as_bytes())?;
        }
        Ok(events)
    }

    fn handle_http(request: HttpRequest) -> Result<(HttpResponse, Vec<InboundEvent>), Error> {
        if let Err(response) = webhook::check_route(&request.method, &request.path) {
            return Ok((response, Vec::new()));
        }
        let authorized = webhook::secret_token(&request.headers)
            .is_some_and(|token| host::secret_matches(WEBHOOK_SECRET_NAME, token));
        if !authorized {
            host::warn("telegram: refused a webhook request without the right secret token");
            return Ok((webhook::unauthorized(), Vec::new()));
        }
        let update = match update::parse_body(&request.body) {
            Ok(update) => update,
            Err(why) => return Ok((webhook::bad_request(&why), Vec::new())),
        };
        let mut seen: Vec<i64> = memory::get_json(webhook::SEEN_KEY)
            .unwrap_or_else(|e| {
                host::warn(&format!(
                    "telegram: starting a new list of seen updates: {e}"
                ));
                None
            })
            .unwrap_or_default();
        if !webhook::record(&mut seen, update.update_id) {
            host::debug(&format!(
                "telegram: update {} again; ignored",
                update.update_id
            ));
            return Ok((webhook::accepted(), Vec::new()));
        }
        let settings = state::settings()?;
        let api = Api {
            base: &settings.api_url,
        };
        let bot = state::bot(&api)?;
        let events: Vec<InboundEvent> = receive::process(&api, &settings, &bot, &update)?
            .into_iter()
            .collect();
        memory::set_json(webhook::SEEN_KEY, &seen)?;
        Ok((webhook::accepted(), events))
    }

    fn send(message: Outbound) -> Result<(), Error> {
        let chat = ChatRef::parse(&message.conversation)?;
        let settings = state::settings()?;
        let api = Api {
            base: &settings.api_url,
        };
        deliver::answer(&api, &settings, chat, &message)
    }

    fn ask_approval(conversation: &str, request: ApprovalRequest) -> Result<(), Error> {
        let chat = ChatRef::parse(conversation)?;
        let settings = state::settings()?;
        let api = Api {
            base: &settings.api_url,
        };
        deliver::approval(&api, chat, &request).map_err(Error::from)
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
        let chat = ChatRef::parse(conversation)?;
        let settings = state::settings()?;
        let api = Api {
            base: &settings.api_url,
        };
        deliver::choices(&api, chat, text, &buttons).map_err(Error::from)
    }

    fn status(conversation: &str, kind: StatusKind) -> Result<(), Error> {
        if matches!(kind, StatusKind::Idle) {
            return Ok(());
        }
        let settings = match state::settings() {
            Ok(s) => s,
            Err(e) => {
                host::warn(&format!("{e}"));
                return Ok(());
            }
        };
        match ChatRef::parse(conversation) {
            Ok(chat) => deliver::typing(
                &Api {
                    base: &settings.api_url,
                },
                chat,
            ),
            Err(e) => host::warn(&format!("telegram: no typing indicator: {e}")),
        }
        Ok(())
    }

    fn shutdown() {
        let Ok(settings) = state::settings() else {
            return;
        };
        if settings.mode != Mode::Webhook {
            return;
        }
        let api = Api {
            base: &settings.api_url,
        };
        match api.call(
            "deleteWebhook",
            &serde_json::json!({ "drop_pending_updates": false }),
        ) {
            Ok(_) => host::info("telegram: webhook deleted"),
            Err(e) => host::error(&format!("{e}")),
        }
    }

    fn describe() -> Result<ChannelReport, Error> {
        let settings = state::settings();
        let bot = memory::get_json::<BotIdentity>(bot::MEMORY_KEY).unwrap_or_else(|e| {
            host::warn(&format!("telegram: ignoring the stored bot identity: {e}"));
            None
        });
        Ok(report::describe(settings.as_ref(), bot.as_ref()))
    }
}

openpista_sdk::export_channel!(Telegram);

/// Another consumer holds the updates: drop any webhook (polling is what
/// this instance is configured for) and wait before polling again.
fn on_conflict(api: &Api, description: &str) {
    let drop = serde_json::json!({ "drop_pending_updates": false });
    if let Err(e) = api.call("deleteWebhook", &drop) {
        host::warn(&format!("{e}"));
    }
    let wait = state::conflict_wait_ms();
    host::warn(&format!(
        "telegram: getUpdates conflict ({description}); another instance or a webhook \
         receives this bot's updates; polling again in {wait} ms"
    ));
    openpista_sdk::retry::sleep_ms(wait);
}
