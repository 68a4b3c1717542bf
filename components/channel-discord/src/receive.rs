//! Carrying out what the Gateway's dispatches say: READY (who the bot is,
//! slash command registration), threads (`GUILD_CREATE`,
//! `THREAD_CREATE`), messages ([`inbound::decide`], pairing codes,
//! attachment downloads) and interactions (slash commands, button
//! presses). Failures to answer Discord are logged; only what the host
//! must know becomes an error.

use openpista_sdk::{Attachment, InboundEvent, approval, host, memory, pairing};
use serde_json::Value;

use crate::api::Api;
use crate::attachments::{self, Plan, Skip};
use crate::commands;
use crate::config::Settings;
use crate::gateway::frames;
use crate::inbound::{self, Action, Context, Draft};
use crate::interaction::{self, APPLICATION_COMMAND, Interaction, MESSAGE_COMPONENT, Pending};
use crate::message;
use crate::message::{Channel, Message};
use crate::outbound;
use crate::state::{self, Bot};

/// The channel's id for the host, in pairing instructions.
const CHANNEL_ID: &str = "discord";

/// The events a dispatch gives the agent.
pub fn dispatch(api: &Api, settings: &Settings, name: &str, data: &Value) -> Vec<InboundEvent> {
    match name {
        "READY" => {
            on_ready(api, data);
            Vec::new()
        }
        "GUILD_CREATE" => {
            let threads = data.get("threads").and_then(Value::as_array);
            for t in threads.into_iter().flatten() {
                remember_thread(t);
            }
            Vec::new()
        }
        "THREAD_CREATE" | "THREAD_UPDATE" => {
            remember_thread(data);
            Vec::new()
        }
        "MESSAGE_CREATE" => match serde_json::from_value::<Message>(data.clone()) {
            Ok(m) => on_message(api, settings, &m).into_iter().collect(),
            Err(e) => {
                host::warn(&format!("discord: skipping a message: {e}"));
                Vec::new()
            }
        },
        "INTERACTION_CREATE" => match interaction::parse(data) {
            Ok(i) => on_interaction(api, settings, &i).into_iter().collect(),
            Err(why) => {
                host::warn(&format!("discord: skipping an interaction: {why}"));
                Vec::new()
            }
        },
        _ => Vec::new(),
    }
}

fn remember_thread(data: &Value) {
    if let Ok(c) = serde_json::from_value::<Channel>(data.clone())
        && c.is_thread()
        && let Some(parent) = &c.parent_id
    {
        state::with(|l| l.threads.insert(&c.id, parent));
    }
}

/// READY: the bot's identity, and the slash commands of its application
/// registered once (again only when they change).
fn on_ready(api: &Api, data: &Value) {
    let ready = match frames::ready(data) {
        Ok(r) => r,
        Err(why) => return host::warn(&format!("discord: {why}")),
    };
    state::remember_bot(&Bot {
        id: ready.user_id.clone(),
        username: ready.username.clone(),
    });
    host::info(&format!(
        "discord: ready as @{} (id {})",
        ready.username, ready.user_id
    ));
    let Some(app) = ready.application_id else {
        return;
    };
    state::with(|l| l.application_id = Some(app.clone()));
    let body = commands::registration();
    let key = format!("{}{app}", commands::MEMORY_PREFIX);
    let text = body.to_string();
    if memory::get(&key).ok().flatten().as_deref() == Some(text.as_bytes()) {
        return;
    }
    match api.call("PUT", &format!("/applications/{app}/commands"), Some(&body)) {
        Ok(_) => {
            host::info("discord: slash commands registered");
            if let Err(e) = memory::set(&key, text.as_bytes()) {
                host::warn(&format!("discord: {e}"));
            }
        }
        Err(e) => host::warn(&format!("{e}; slash commands stay as they were")),
    }
}

fn approved(settings: &Settings, user: &str) -> bool {
    if settings.is_allowed(user) {
        return true;
    }
    pairing::is_approved(user).unwrap_or_else(|e| {
        host::warn(&format!("discord: cannot read pairing approvals: {e}"));
        false
    })
}

fn on_message(api: &Api, settings: &Settings, m: &Message) -> Option<InboundEvent> {
    let bot_id = state::bot()?.id;
    let approved = approved(settings, &m.author.id);
    let action = state::with(|l| {
        let ctx = Context {
            bot_id: &bot_id,
            settings,
            threads: &l.threads,
        };
        inbound::decide(m, &ctx, approved)
    });
    match action {
        Action::Ignore(why) => {
            host::debug(&format!("discord: ignored {why}"));
            None
        }
        Action::Pair {
            channel,
            user,
            name,
        } => {
            match pairing::code_for(&user, Some(&name)) {
                Ok(code) => {
                    host::info(&format!(
                        "discord: user {user} ({name}) asked for access; pairing code {code}"
                    ));
                    let body = outbound::message(&pairing::ask_owner(CHANNEL_ID, &code), None);
                    let path = format!("/channels/{channel}/messages");
                    if let Err(e) = api.call("POST", &path, Some(&body)) {
                        host::warn(&format!("{e}"));
                    }
                }
                Err(e) => host::warn(&format!("discord: no pairing code: {e}")),
            }
            None
        }
        Action::Forward(draft) => Some(event(api, settings, draft)),
    }
}

/// The event of a draft, its files attached or described.
fn event(api: &Api, settings: &Settings, draft: Draft) -> InboundEvent {
    let mut files = Vec::new();
    let mut notes = Vec::new();
    for plan in attachments::plan(&draft.attachments, settings.max_attachment_bytes) {
        match plan {
            Plan::Describe(f, why) => notes.push(attachments::describe(&f, why)),
            Plan::Fetch(f) => match fetch(api, &f, settings.max_attachment_bytes) {
                Ok(a) => files.push(a),
                Err(why) => notes.push(attachments::describe(&f, why)),
            },
        }
    }
    InboundEvent {
        conversation: draft.conversation,
        sender: draft.sender,
        text: attachments::compose(&notes, &draft.text),
        attachments: files,
        command: draft.command,
    }
}

fn fetch(api: &Api, f: &message::Attachment, max: u64) -> Result<Attachment, Skip> {
    let data = api.download(&f.url).map_err(|e| {
        host::warn(&format!("discord: cannot download {}: {e}", f.filename));
        Skip::Failed
    })?;
    if data.len() as u64 > max {
        return Err(Skip::TooLarge);
    }
    Ok(Attachment::new(attachments::mime(f), data).with_name(f.filename.clone()))
}

fn callback(api: &Api, i: &Interaction, body: &Value) {
    let path = format!("/interactions/{}/{}/callback", i.id, i.token);
    if let Err(e) = api.call("POST", &path, Some(body)) {
        host::warn(&format!("{e}"));
    }
}

fn on_interaction(api: &Api, settings: &Settings, i: &Interaction) -> Option<InboundEvent> {
    if !approved(settings, &i.user.id) {
        let text = if i.guild_id.is_none() && settings.pairing {
            match pairing::code_for(&i.user.id, Some(i.user.display())) {
                Ok(code) => pairing::ask_owner(CHANNEL_ID, &code),
                Err(e) => {
                    host::warn(&format!("discord: no pairing code: {e}"));
                    "You are not allowed to use this bot.".to_string()
                }
            }
        } else {
            "You are not allowed to use this bot.".to_string()
        };
        host::info(&format!(
            "discord: refused an interaction from user {}",
            i.user.id
        ));
        callback(api, i, &outbound::callback_ephemeral(&text));
        return None;
    }
    let conversation = state::with(|l| l.threads.conversation_of(&i.channel_id));
    let sender = i.user.id.clone();
    match i.kind {
        APPLICATION_COMMAND => {
            let name = i.name.as_deref().unwrap_or("");
            let (text, command) = interaction::slash_event(name, &i.options);
            let now = host::now_ms();
            state::with(|l| {
                if l.application_id.is_none() && !i.application_id.is_empty() {
                    l.application_id = Some(i.application_id.clone());
                }
                l.pending.insert(conversation.clone(), Pending::new(i, now));
            });
            Some(InboundEvent::new(conversation, sender, text).with_command(command))
        }
        MESSAGE_COMPONENT => {
            callback(api, i, &outbound::callback_deferred_update());
            let command = i.custom_id.as_deref().and_then(approval::parse_press)?;
            let text = format!("/{} {}", command.name, command.args)
                .trim_end()
                .to_string();
            Some(InboundEvent::new(conversation, sender, text).with_command(Some(command)))
        }
        other => {
            host::debug(&format!("discord: interaction type {other} ignored"));
            None
        }
    }
}

/// Defers slash commands still unanswered, and forgets expired ones
/// (from `tick`).
pub fn defer_due(api: &Api, now_ms: u64) {
    let due: Vec<Pending> = state::with(|l| {
        l.pending.retain(|_, p| !p.expired(now_ms));
        l.pending
            .values_mut()
            .filter(|p| p.needs_deferral(now_ms))
            .map(|p| {
                p.deferred = true;
                p.clone()
            })
            .collect()
    });
    for p in due {
        let path = format!("/interactions/{}/{}/callback", p.id, p.token);
        if let Err(e) = api.call("POST", &path, Some(&outbound::callback_deferred())) {
            host::warn(&format!("{e}"));
        }
    }
}
