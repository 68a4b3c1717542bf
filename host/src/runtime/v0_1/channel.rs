//! Driving a 0.1.x channel in 0.2 terms.
//!
//! - A 0.1 channel names whole sessions (`telegram:42`); the adapter hands
//!   the gateway the conversation after the channel's own `ID:`. An event
//!   for another channel's session gets no conversation, and the gateway
//!   refuses it.
//! - Its routes are absolute paths; the host checks them against its
//!   prefix ([`Started::absolute_routes`]).
//! - Commands rode in `command`/`args` metadata; they become the typed
//!   `command`.
//! - `live` was optional (0.1.2): it is found by name; without it the
//!   calls do nothing. `pairing` and `report` did not exist: the host says
//!   so.

use super::bindings::channel as old;
use super::bindings::channel::exports::openpista::plugin::messenger as old_messenger;
use super::convert::frame_old;
use crate::runtime::bindings::WitError;
use crate::runtime::bindings::channel::exports::openpista::plugin::messenger::{
    ChannelInfo, Command, Features, HttpRequest, HttpResponse, InboundEvent, Outbound, StatusKind,
};
use crate::runtime::bindings::channel::openpista::plugin::connections::Frame;
use crate::runtime::channel::Started;
use crate::runtime::state::CallState;
use wasmtime::Store;
use wasmtime::component::{ComponentExportIndex, TypedFunc};

/// Where the optional 0.1.2 `live` functions are in a component that
/// exports them.
#[derive(Clone)]
pub struct LiveIndices {
    send_delta: ComponentExportIndex,
    ws_closed: ComponentExportIndex,
    tick: ComponentExportIndex,
}

impl LiveIndices {
    /// Finds `openpista:plugin/live@0.1.x` in `component`'s exports.
    pub fn find(component: &wasmtime::component::Component) -> Option<LiveIndices> {
        let iface = component.get_export_index(None, "openpista:plugin/live@0.1.2")?;
        Some(LiveIndices {
            send_delta: component.get_export_index(Some(&iface), "send-delta")?,
            ws_closed: component.get_export_index(Some(&iface), "ws-closed")?,
            tick: component.get_export_index(Some(&iface), "tick")?,
        })
    }
}

struct LiveFuncs {
    send_delta: TypedFunc<(String, String), (Result<(), WitError>,)>,
    ws_closed: TypedFunc<(u64,), ()>,
    tick: TypedFunc<(u64,), ()>,
}

/// A 0.1 channel instance, and the channel id the host gave it.
pub struct OldChannel {
    bindings: old::Channel,
    live: Option<LiveFuncs>,
    id: String,
}

/// The error for an interface 0.1 lacks.
pub fn lacks(interface: &str) -> WitError {
    WitError::Unavailable(format!(
        "this channel was built against openpista:plugin 0.1, which has no {interface} interface; rebuild it against 0.2"
    ))
}

type R<T> = wasmtime::Result<Result<T, WitError>>;

impl OldChannel {
    /// Instantiates a 0.1 channel for channel id `id`.
    pub async fn instantiate(
        pre: &old::ChannelPre<CallState>,
        live: Option<&LiveIndices>,
        id: String,
        store: &mut Store<CallState>,
    ) -> wasmtime::Result<OldChannel> {
        let instance = pre.instance_pre().instantiate_async(&mut *store).await?;
        let bindings = old::Channel::new(&mut *store, &instance)?;
        let live = match live {
            None => None,
            Some(ix) => Some(LiveFuncs {
                send_delta: instance.get_typed_func(&mut *store, ix.send_delta)?,
                ws_closed: instance.get_typed_func(&mut *store, ix.ws_closed)?,
                tick: instance.get_typed_func(&mut *store, ix.tick)?,
            }),
        };
        Ok(OldChannel { bindings, live, id })
    }

    fn session(&self, conversation: &str) -> String {
        format!("{}:{conversation}", self.id)
    }

    /// An old event in 0.2 terms. An event for another channel's session
    /// keeps an empty conversation, which the gateway refuses (and counts).
    fn event(&self, e: old_messenger::InboundEvent) -> InboundEvent {
        let conversation = match e
            .session
            .strip_prefix(&self.id)
            .and_then(|r| r.strip_prefix(':'))
            .filter(|c| !c.is_empty())
        {
            Some(c) => c.to_string(),
            None => {
                tracing::warn!(
                    channel = %self.id,
                    session = %e.session,
                    "a 0.1 channel named another channel's session ({}:… are its own)",
                    self.id
                );
                String::new()
            }
        };
        let meta = |key: &str| {
            e.metadata
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
        };
        let command = meta("command").map(|name| Command {
            name,
            args: meta("args").unwrap_or_default(),
        });
        InboundEvent {
            conversation,
            sender: e.sender,
            text: e.text,
            attachments: e.attachments,
            command,
        }
    }

    fn events(&self, events: Vec<old_messenger::InboundEvent>) -> Vec<InboundEvent> {
        events.into_iter().map(|e| self.event(e)).collect()
    }

    fn messenger(&self) -> &old_messenger::Guest {
        self.bindings.openpista_plugin_messenger()
    }

    pub async fn start(&self, s: &mut Store<CallState>) -> R<Started> {
        Ok(self.messenger().call_start(s).await?.map(|info| {
            let mut features = Features::empty();
            if info.features.contains(old_messenger::Features::TYPING) {
                features |= Features::TYPING;
            }
            if info.features.contains(old_messenger::Features::ATTACHMENTS) {
                features |= Features::ATTACHMENTS;
            }
            Started {
                info: ChannelInfo {
                    routes: info.routes,
                    polls: info.polls,
                    max_message_length: info.max_message_length,
                    features,
                },
                claimed_name: Some(info.name),
                absolute_routes: true,
            }
        }))
    }

    pub async fn poll(&self, s: &mut Store<CallState>) -> R<Vec<InboundEvent>> {
        Ok(self
            .messenger()
            .call_poll(s)
            .await?
            .map(|events| self.events(events)))
    }

    pub async fn handle_http(
        &self,
        s: &mut Store<CallState>,
        r: HttpRequest,
    ) -> R<(HttpResponse, Vec<InboundEvent>)> {
        let request = old_messenger::HttpRequest {
            method: r.method,
            path: r.path,
            headers: r.headers,
            body: r.body,
        };
        Ok(self
            .messenger()
            .call_handle_http(s, &request)
            .await?
            .map(|(response, events)| {
                (
                    HttpResponse {
                        status: response.status,
                        headers: response.headers,
                        body: response.body,
                    },
                    self.events(events),
                )
            }))
    }

    pub async fn handle_ws(
        &self,
        s: &mut Store<CallState>,
        id: u64,
        frame: Frame,
    ) -> R<Vec<InboundEvent>> {
        Ok(self
            .messenger()
            .call_handle_ws(s, id, &frame_old(frame))
            .await?
            .map(|events| self.events(events)))
    }

    pub async fn send(&self, s: &mut Store<CallState>, m: Outbound) -> R<()> {
        let message = old_messenger::Outbound {
            session: self.session(&m.conversation),
            text: m.text,
            attachments: m.attachments,
            is_error: m.is_error,
        };
        self.messenger().call_send(s, &message).await
    }

    pub async fn status(
        &self,
        s: &mut Store<CallState>,
        conversation: &str,
        kind: StatusKind,
    ) -> R<()> {
        let kind = match kind {
            StatusKind::Typing => old_messenger::StatusKind::Typing,
            StatusKind::Thinking => old_messenger::StatusKind::Thinking,
            StatusKind::Idle => old_messenger::StatusKind::Idle,
        };
        self.messenger()
            .call_status(s, &self.session(conversation), kind)
            .await
    }

    pub async fn shutdown(&self, s: &mut Store<CallState>) -> wasmtime::Result<()> {
        self.messenger().call_shutdown(s).await
    }

    pub async fn send_delta(
        &self,
        s: &mut Store<CallState>,
        conversation: &str,
        delta: &str,
    ) -> R<()> {
        let Some(f) = self.live.as_ref().map(|l| l.send_delta) else {
            return Ok(Ok(()));
        };
        let (r,) = f
            .call_async(&mut *s, (self.session(conversation), delta.to_string()))
            .await?;
        Ok(r)
    }

    pub async fn ws_closed(&self, s: &mut Store<CallState>, id: u64) -> wasmtime::Result<()> {
        match self.live.as_ref().map(|l| l.ws_closed) {
            Some(f) => f.call_async(&mut *s, (id,)).await,
            None => Ok(()),
        }
    }

    pub async fn tick(&self, s: &mut Store<CallState>, now_ms: u64) -> wasmtime::Result<()> {
        match self.live.as_ref().map(|l| l.tick) {
            Some(f) => f.call_async(&mut *s, (now_ms,)).await,
            None => Ok(()),
        }
    }
}
