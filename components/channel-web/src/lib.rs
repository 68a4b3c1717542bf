//! `channel-web`: the web chat page's channel (`docs/WEB_PROTOCOL.md`).
//!
//! The host holds the HTTP listener and the WebSockets; this component owns
//! the protocol. It accepts or refuses handshakes on its route `ws` (served
//! at `/web/ws`, and at `/ws`, the host's first-party alias; the client's
//! token is checked with `host.secret-matches("web_token", …)`, so it never
//! sees the token's value), answers frames, turns messages into inbound
//! events of the conversation `CLIENT_ID` (the host's session
//! `web:CLIENT_ID`), sends answers, deltas and status to every open
//! connection of a conversation, keeps answers for conversations with none
//! in memory until they come back, and closes silent connections on
//! `live.tick`. Slash commands are the host's: a message that is one
//! travels with its `command` set, and the host answers it.
//!
//! This file is the glue that calls the host. The protocol itself is in
//! modules that do not, and are unit-tested natively: [`handshake`],
//! [`protocol`], [`registry`] and [`pending`] (attachments' base64 is
//! `openpista_sdk::base64`, commands are `openpista_sdk::command`).
//!
//! Approval requests and command buttons (WIT 0.2.1, world
//! `interactive-channel`) go to the open pages as `approval`, `settled` and
//! `choices` frames; the answers come back as command messages (`/approve
//! ID`, `/model NAME`), so the client needs no frame of its own for them.

pub mod handshake;
pub mod pending;
pub mod protocol;
pub mod registry;
pub mod sessions;

use std::sync::{Mutex, PoisonError};

use openpista_sdk::prelude::*;

use crate::handshake::Decision;
use crate::protocol::{ClientFrame, UserMessage};
use crate::registry::Registry;

/// The secret clients authenticate with.
pub const TOKEN_SECRET: &str = "web_token";

/// The connections this instance knows. The host calls a channel's one
/// long-lived instance serially, so the lock is never contended; it makes
/// the `static` safe all the same.
static REGISTRY: Mutex<Registry> = Mutex::new(Registry::new());

/// Runs `f` on the registry. The lock is released when `f` returns, so no
/// host call is ever made while it is held.
fn with_registry<R>(f: impl FnOnce(&mut Registry) -> R) -> R {
    let mut registry = REGISTRY.lock().unwrap_or_else(PoisonError::into_inner);
    f(&mut registry)
}

/// The component.
pub struct Web;

impl Channel for Web {
    fn start() -> Result<ChannelInfo, Error> {
        let mut info = ChannelInfo::new();
        info.routes.push(handshake::ROUTE.into());
        info.features = Features::TYPING | Features::ATTACHMENTS;
        Ok(info)
    }

    fn handle_http(request: HttpRequest) -> Result<(HttpResponse, Vec<InboundEvent>), Error> {
        let decision = handshake::decide(&request, |candidate| {
            host::secret_matches(TOKEN_SECRET, candidate)
        });
        let response = match decision {
            Decision::Accept {
                connection,
                client_id,
                response,
            } => {
                let now = host::now_ms();
                with_registry(|r| r.accept(connection, &client_id, now));
                let id = connection.to_string();
                host::log_with(
                    host::LogLevel::Debug,
                    "web client connected",
                    &[("connection", &id), ("client", &client_id)],
                );
                response
            }
            Decision::Respond(response) => response,
        };
        Ok((response, Vec::new()))
    }

    fn handle_ws(id: u64, frame: Frame) -> Result<Vec<InboundEvent>, Error> {
        let now = host::now_ms();
        let Some(touched) = with_registry(|r| r.touch(id, now)) else {
            refuse_unknown(id);
            return Ok(Vec::new());
        };
        if touched.first {
            let ready = protocol::ready(
                &touched.session,
                &touched.client_id,
                env!("CARGO_PKG_VERSION"),
            );
            if !send_to(id, ready) {
                return Ok(Vec::new());
            }
            if let Err(e) = flush_pending(&touched.session, &[id]) {
                host::warn(&format!(
                    "cannot deliver the kept answers of {}: {e}",
                    touched.session
                ));
            }
        }
        let text = match frame {
            Frame::Text(text) => text,
            Frame::Binary(_) => {
                let message = format!(
                    "frame {}: binary frames are not part of the protocol; send JSON text",
                    touched.frame
                );
                send_to(id, protocol::error(&message, None));
                return Ok(Vec::new());
            }
        };
        match protocol::parse_client_frame(&text) {
            Ok(ClientFrame::Ping { t }) => {
                send_to(id, protocol::pong(&t));
                Ok(Vec::new())
            }
            Ok(ClientFrame::Message(message)) => Ok(on_message(id, &touched, message)),
            Err(e) => {
                let message = format!("frame {}: {}", touched.frame, e.message);
                send_to(id, protocol::error(&message, e.id.as_deref()));
                Ok(Vec::new())
            }
        }
    }

    fn send(message: Outbound) -> Result<(), Error> {
        let frame = protocol::message(&message.text, &message.attachments, message.is_error);
        let session = registry::session_of(&message.conversation);
        let ids = with_registry(|r| r.ready_of(&session));
        if !ids.is_empty() {
            // Answers kept earlier go first; if some cannot be sent, this
            // one is kept behind them rather than overtaking them.
            let earlier_delivered = flush_pending(&session, &ids).unwrap_or_else(|e| {
                host::warn(&format!("cannot read the kept answers: {e}"));
                true
            });
            if earlier_delivered && broadcast(&ids, &frame) {
                return Ok(());
            }
        }
        keep(&session, &frame)
    }

    fn status(conversation: &str, kind: StatusKind) -> Result<(), Error> {
        let ids = with_registry(|r| r.ready_of(&registry::session_of(conversation)));
        broadcast(&ids, &protocol::status(kind));
        Ok(())
    }

    fn shutdown() {
        for id in with_registry(|r| std::mem::take(r).ids()) {
            // 1001: going away. The client reconnects to the next instance.
            let _ = connections::ws_close(id, 1001, "channel stopping");
        }
    }

    fn send_delta(conversation: &str, delta: &str) -> Result<(), Error> {
        // Deltas only matter while someone watches: not kept when offline,
        // since the whole answer follows through `send`.
        let ids = with_registry(|r| r.ready_of(&registry::session_of(conversation)));
        broadcast(&ids, &protocol::delta(delta));
        Ok(())
    }

    fn ask_approval(conversation: &str, request: ApprovalRequest) -> Result<(), Error> {
        // Only to an open page: with none, the host's text fallback is
        // kept and delivered like any answer, naming the commands.
        live_broadcast(conversation, &protocol::approval(&request))
    }

    fn approval_settled(conversation: &str, id: &str, how: Settlement) {
        let _ = live_broadcast(conversation, &protocol::settled(id, how));
    }

    fn offer_choices(conversation: &str, text: &str, buttons: Vec<Button>) -> Result<(), Error> {
        live_broadcast(conversation, &protocol::choices(text, &buttons))
    }

    fn show_sessions(conversation: &str, entries: Vec<SessionEntry>) -> Result<(), Error> {
        live_broadcast(conversation, &sessions::sessions(&entries))
    }

    fn session_opened(
        conversation: &str,
        title: &str,
        history: Vec<HistoryEntry>,
    ) -> Result<(), Error> {
        live_broadcast(conversation, &sessions::history(title, &history))
    }

    fn ws_closed(id: u64) {
        with_registry(|r| r.forget(id));
    }

    fn tick(now_ms: u64) {
        let timeout =
            registry::heartbeat_timeout_ms(host::config("heartbeat_timeout_secs").as_deref());
        let silent = with_registry(|r| {
            let ids = r.silent(now_ms, timeout);
            for id in &ids {
                r.forget(*id);
            }
            ids
        });
        for id in silent {
            host::debug(&format!("closing silent web connection {id}"));
            let _ = connections::ws_close(
                id,
                registry::HEARTBEAT_CLOSE_CODE,
                registry::HEARTBEAT_CLOSE_REASON,
            );
        }
    }
}

openpista_sdk::export_channel!(Web);

/// Answers a validated `message` frame with an `ack`, shows it to the
/// session's other open connections (another tab, the terminal UI), and
/// passes it on.
fn on_message(id: u64, touched: &registry::Touched, message: UserMessage) -> Vec<InboundEvent> {
    send_to(id, protocol::ack(message.id.as_deref()));
    let event = protocol::event(&touched.client_id, message);
    if event.command.is_none() {
        let others: Vec<u64> =
            with_registry(|r| r.ready_of(&registry::session_of(&touched.client_id)))
                .into_iter()
                .filter(|other| *other != id)
                .collect();
        let names: Vec<String> = event
            .attachments
            .iter()
            .filter_map(|a| a.name.clone())
            .collect();
        broadcast(&others, &protocol::user(&event.text, &names));
    }
    vec![event]
}

/// Answers a frame of a connection this instance does not know (it was
/// accepted by an instance since replaced) with an `error` and closes it,
/// so that the client reconnects and authenticates again.
fn refuse_unknown(id: u64) {
    let message = "unknown connection: the channel restarted since it was opened; reconnect";
    let _ = connections::ws_send_text(id, protocol::error(message, None));
    let _ = connections::ws_close(
        id,
        registry::UNKNOWN_CLOSE_CODE,
        registry::UNKNOWN_CLOSE_REASON,
    );
}

/// Sends a text frame on connection `id`; `false` when it could not be
/// sent. A connection the host reports closed is forgotten.
fn send_to(id: u64, frame: String) -> bool {
    match connections::ws_send_text(id, frame) {
        Ok(()) => true,
        Err(Error::NotFound(_)) => {
            with_registry(|r| r.forget(id));
            false
        }
        Err(e) => {
            host::warn(&format!("cannot send on web connection {id}: {e}"));
            false
        }
    }
}

/// Sends `frame` on each of `ids`; `true` when at least one took it.
fn broadcast(ids: &[u64], frame: &str) -> bool {
    let mut delivered = false;
    for &id in ids {
        delivered |= send_to(id, frame.to_string());
    }
    delivered
}

/// Sends `frame` to every open connection of `conversation`; an error when
/// none took it, so the host falls back to a kept text message.
fn live_broadcast(conversation: &str, frame: &str) -> Result<(), Error> {
    let ids = with_registry(|r| r.ready_of(&registry::session_of(conversation)));
    if broadcast(&ids, frame) {
        Ok(())
    } else {
        Err(Error::unavailable("no page of this session is open"))
    }
}

/// Keeps an undeliverable answer (a whole `message` frame) for `session`.
fn keep(session: &str, frame: &str) -> Result<(), Error> {
    let counter_key = pending::counter_key(session);
    let counter = memory::get(&counter_key)?;
    let listed = memory::list_keys(&pending::session_prefix(session), pending::LIST_MAX)?;
    let seq = pending::next_seq(counter.as_deref(), &listed);
    memory::set(&pending::key(session, seq), frame.as_bytes())?;
    memory::set(&counter_key, (seq + 1).to_string().as_bytes())
}

/// Sends `session`'s kept answers, in order, on `ids`, deleting each once a
/// connection took it. `Ok(true)` when none is left; `Ok(false)` when one
/// could not be sent (it and those after it stay kept).
fn flush_pending(session: &str, ids: &[u64]) -> Result<bool, Error> {
    let prefix = pending::session_prefix(session);
    loop {
        let keys = memory::list_keys(&prefix, pending::LIST_BATCH)?;
        if keys.is_empty() {
            return Ok(true);
        }
        for key in keys {
            if let Some(frame) = memory::get(&key)? {
                let frame = String::from_utf8_lossy(&frame);
                if !broadcast(ids, &frame) {
                    return Ok(false);
                }
            }
            memory::delete(&key)?;
        }
    }
}
