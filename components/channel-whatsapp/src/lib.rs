//! `channel-whatsapp`: the WhatsApp channel of openpista, through the
//! Baileys bridge (`bridges/whatsapp`), a Node child process the host
//! supervises.
//!
//! The host registers the bridge as a host-held connection: every line
//! the bridge writes on stdout arrives here as a text frame of
//! `handle_ws`, besides two lines of the host's own (`bridge_started`,
//! `bridge_exited`); the component writes commands to the bridge's stdin
//! with `connections::ws_send`. The protocol is JSON lines, described in
//! `bridges/whatsapp/README.md`.
//!
//! The host calls it `whatsapp`: a conversation is the sender's JID.
//! Slash commands all go to the host. Pairing requests and approvals are
//! kept by `openpista_sdk::pairing`, which also answers the host's
//! `pairing` calls, and `report` tells the host the bridge's state, the QR
//! code or pairing code to link with, and the linked account.
//!
//! This file is the glue the host calls; [`receive`], [`link`] and
//! [`track`] call the host too. What can be decided without it lives in
//! modules that do not call it and are unit-tested natively: [`config`],
//! [`jid`], [`event`], [`inbound`], [`media`], [`outbound`], [`split`],
//! [`outbox`], [`bridge_state`] and [`report`].

pub mod bridge_state;
pub mod config;
pub mod event;
pub mod inbound;
pub mod jid;
pub mod link;
pub mod media;
pub mod outbound;
pub mod outbox;
pub mod receive;
pub mod report;
pub mod split;
pub mod track;

use openpista_sdk::prelude::*;

use crate::bridge_state::{BridgeState, Rejected};
use crate::config::Settings;
use crate::event::Event;

/// The component.
pub struct WhatsApp;

impl Channel for WhatsApp {
    // Pairing codes and approvals are the SDK's (`receive`), so the
    // host's pairing calls are answered from the same records.
    const SDK_PAIRING: bool = true;

    fn start() -> Result<ChannelInfo, Error> {
        let settings = Settings::from_lookup(host::config)?;
        let allowed = &settings.allowed_users;
        host::info(&format!(
            "whatsapp: started; {} phone number(s) and {} other JID(s) allowed, pairing {}",
            allowed.phones.len(),
            allowed.jids.len(),
            if settings.pairing { "on" } else { "off" }
        ));
        let mut info = ChannelInfo::new();
        info.max_message_length = Some(split::MAX_CHARS as u32);
        info.features = Features::ATTACHMENTS;
        Ok(info)
    }

    fn handle_ws(id: u64, frame: Frame) -> Result<Vec<InboundEvent>, Error> {
        if let Err(e) = link::remember(id) {
            host::warn(&format!(
                "whatsapp: the bridge connection id is not stored: {e}"
            ));
        }
        let line = match frame {
            Frame::Text(text) => text,
            Frame::Binary(bytes) => {
                track::reject("a binary frame", &String::from_utf8_lossy(&bytes));
                return Ok(Vec::new());
            }
        };
        let line = line.trim();
        match event::parse(line) {
            Ok(event) => on_event(event),
            Err(why) => {
                track::reject(&why, line);
                Ok(Vec::new())
            }
        }
    }

    fn send(message: Outbound) -> Result<(), Error> {
        let to = jid::recipient(&message.conversation)?;
        let plan = outbound::plan(to, &message, link::next_ref);
        if plan.empty_attachments > 0 {
            host::warn(&format!(
                "whatsapp: {} empty attachment(s) for {to} left out",
                plan.empty_attachments
            ));
        }
        link::deliver(&plan.commands)
    }

    /// WhatsApp has no buttons a linked device can send reliably: the
    /// request goes as text with numbered choices, and the next `1`, `2`
    /// or `3` in that chat answers it.
    fn ask_approval(conversation: &str, request: ApprovalRequest) -> Result<(), Error> {
        let text = openpista_sdk::approval::prompt_text(&request, true);
        Self::send(Outbound {
            conversation: conversation.to_string(),
            text,
            attachments: Vec::new(),
            is_error: false,
        })?;
        approval::Pending::new(&memory::Component).remember(conversation, &request.id)
    }

    fn approval_settled(conversation: &str, id: &str, _how: Settlement) {
        if let Err(e) = approval::Pending::new(&memory::Component).settle(conversation, id) {
            host::warn(&format!("whatsapp: approval {id} not forgotten: {e}"));
        }
    }

    // `status` keeps the default (nothing to show: the bridge has no
    // typing command) and so does `shutdown` (the host stops the bridge).

    fn describe() -> Result<ChannelReport, Error> {
        let state = memory::get_json::<BridgeState>(bridge_state::KEY).unwrap_or_else(|e| {
            host::warn(&format!("whatsapp: ignoring {}: {e}", bridge_state::KEY));
            None
        });
        let rejected = memory::get_json::<Rejected>(bridge_state::REJECTED_KEY)
            .ok()
            .flatten();
        Ok(report::describe(state.as_ref(), rejected.as_ref()))
    }
}

openpista_sdk::export_channel!(WhatsApp);

/// A numbered reply to a waiting approval request becomes the host's
/// answer command.
fn numbered_answer(event: &mut InboundEvent) -> Result<(), Error> {
    if event.command.is_none()
        && let Some(command) =
            approval::Pending::new(&memory::Component).answer(&event.conversation, &event.text)?
    {
        event.command = Some(command);
    }
    Ok(())
}

/// Acts on one understood line.
fn on_event(event: Event) -> Result<Vec<InboundEvent>, Error> {
    track::state(&event);
    match event {
        Event::Message(m) => {
            let mut events: Vec<InboundEvent> = receive::message(&m)?.into_iter().collect();
            for event in &mut events {
                numbered_answer(event)?;
            }
            return Ok(events);
        }
        Event::Sent { reference } => link::on_sent(&reference)?,
        Event::Error {
            reference: Some(reference),
            message,
        } => link::on_error(&reference, &message)?,
        Event::Error {
            reference: None,
            message,
        } => host::warn(&format!("whatsapp: the bridge reports: {message}")),
        Event::Connected { jid, .. } => {
            let jid = jid.as_deref().unwrap_or("an unknown account");
            host::info(&format!("whatsapp: connected as {jid}"));
            link::resend_all()?;
        }
        Event::Disconnected(d) => host::info(&format!(
            "whatsapp: disconnected ({}, code {}); {}",
            d.reason,
            d.code.map_or("none".to_string(), |c| c.to_string()),
            if d.reconnect {
                format!("reconnecting in {} ms", d.delay_ms)
            } else {
                "not reconnecting".to_string()
            }
        )),
        Event::Qr(_) => host::info(
            "whatsapp: not linked; a new QR code is ready to scan (WhatsApp → Linked devices)",
        ),
        Event::PairingCode { code } => {
            host::info(&format!("whatsapp: the linking code is {code}"));
        }
        Event::Status { state, .. } => host::debug(&format!("whatsapp: the bridge is {state}")),
        Event::Ready => host::debug("whatsapp: the bridge loaded its auth state"),
        Event::BridgeStarted { pid } => host::info(&format!(
            "whatsapp: the bridge started (pid {})",
            pid.map_or("unknown".to_string(), |p| p.to_string())
        )),
        Event::BridgeExited {
            code,
            signal,
            restart_in_ms,
        } => host::warn(&format!(
            "whatsapp: the bridge exited (code {}, signal {}); {}",
            code.map_or("none".to_string(), |c| c.to_string()),
            signal.as_deref().unwrap_or("none"),
            restart_in_ms.map_or("no restart planned".to_string(), |ms| format!(
                "restarting in {ms} ms"
            ))
        )),
    }
    Ok(Vec::new())
}
