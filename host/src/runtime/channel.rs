//! A channel component's long-lived instance. Unlike tools and providers,
//! which get a fresh instance per call, a channel keeps one instance for as
//! long as its version serves: it holds per-connection protocol state (who
//! is authenticated, when a client was last heard) between calls. Calls are
//! serial (`&mut self`); each re-arms the deadline. After a trap the
//! instance is poisoned and its driver makes a new one.
//!
//! The optional `live` interface (world `live-channel`, WIT 0.1.2) is found
//! by name in the component's exports at load time, so the same `channel`
//! bindings serve both worlds.

use super::bindings::WitError;
use super::bindings::channel::exports::openpista::plugin::messenger::{
    ChannelInfo, HttpRequest, HttpResponse, InboundEvent, Outbound, StatusKind,
};
use super::bindings::channel::openpista::plugin::connections::Frame;
use super::bindings::{WIT_VERSION, channel};
use super::call::{self, CallError};
use super::component::{LoadedComponent, Pre};
use super::state::CallState;
use std::time::Duration;
use wasmtime::Store;
use wasmtime::component::{ComponentExportIndex, TypedFunc};

/// Where the `live` functions are in a component that exports them.
#[derive(Clone)]
pub struct LiveIndices {
    send_delta: ComponentExportIndex,
    ws_closed: ComponentExportIndex,
    tick: ComponentExportIndex,
}

impl LiveIndices {
    /// Finds `openpista:plugin/live` in `component`'s exports; `None` for
    /// a plain channel.
    pub fn find(component: &wasmtime::component::Component) -> Option<LiveIndices> {
        let iface =
            component.get_export_index(None, &*format!("openpista:plugin/live@{WIT_VERSION}"))?;
        Some(LiveIndices {
            send_delta: component.get_export_index(Some(&iface), "send-delta")?,
            ws_closed: component.get_export_index(Some(&iface), "ws-closed")?,
            tick: component.get_export_index(Some(&iface), "tick")?,
        })
    }
}

type SendDelta = TypedFunc<(String, String), (Result<(), WitError>,)>;

struct LiveFuncs {
    send_delta: SendDelta,
    ws_closed: TypedFunc<(u64,), ()>,
    tick: TypedFunc<(u64,), ()>,
}

/// One running instance of a channel component.
pub struct ChannelInstance {
    store: Store<CallState>,
    bindings: channel::Channel,
    live: Option<LiveFuncs>,
    name: String,
    hash: String,
    timeout: Duration,
    timeout_ms: u64,
    memory_mb: u64,
    fuel: u64,
    metered: bool,
    poisoned: bool,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl LoadedComponent {
    /// Starts this channel component's long-lived instance.
    pub async fn channel_instance(&self) -> Result<ChannelInstance, CallError> {
        let Pre::Channel(pre, live) = &self.pre else {
            return Err(CallError::NotLoaded(format!(
                "{} is not a channel component",
                self.name()
            )));
        };
        let (permit, mut store) = self.owned_store().await?;
        let classify = |e, store: &Store<CallState>| self.classify(e, store);
        let instance = match pre.instance_pre().instantiate_async(&mut store).await {
            Ok(i) => i,
            Err(e) => return Err(classify(e, &store)),
        };
        let bindings = match channel::Channel::new(&mut store, &instance) {
            Ok(b) => b,
            Err(e) => return Err(classify(e, &store)),
        };
        let live = match live {
            None => None,
            Some(ix) => {
                let funcs = (|| -> wasmtime::Result<LiveFuncs> {
                    Ok(LiveFuncs {
                        send_delta: instance.get_typed_func(&mut store, ix.send_delta)?,
                        ws_closed: instance.get_typed_func(&mut store, ix.ws_closed)?,
                        tick: instance.get_typed_func(&mut store, ix.tick)?,
                    })
                })();
                match funcs {
                    Ok(f) => Some(f),
                    Err(e) => return Err(classify(e, &store)),
                }
            }
        };
        Ok(ChannelInstance {
            store,
            bindings,
            live,
            name: self.name().to_string(),
            hash: self.hash.clone(),
            timeout: self.timeout(),
            timeout_ms: self.ctx.grants.timeout_ms,
            memory_mb: self.ctx.grants.memory_mb,
            fuel: self.ctx.grants.fuel,
            metered: self.metered,
            poisoned: false,
            _permit: permit,
        })
    }
}

impl ChannelInstance {
    /// The component's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The content hash of the version this instance runs.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// Whether the component exports `live`.
    pub fn is_live(&self) -> bool {
        self.live.is_some()
    }

    /// True after a trap: the instance must not be called again.
    pub fn is_poisoned(&self) -> bool {
        self.poisoned
    }

    /// Runs one call under the deadline; a trap poisons the instance.
    async fn run<R>(
        &mut self,
        body: impl AsyncFnOnce(&channel::Channel, &mut Store<CallState>) -> wasmtime::Result<R>,
    ) -> Result<R, CallError> {
        if self.poisoned {
            return Err(CallError::Trap {
                component: self.name.clone(),
                message: "the channel instance failed earlier and is being replaced".into(),
            });
        }
        call::arm(&mut self.store, self.timeout, self.fuel, self.metered);
        let outcome = tokio::time::timeout(
            self.timeout + Duration::from_millis(250),
            body(&self.bindings, &mut self.store),
        )
        .await;
        let result = match outcome {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(call::classify(
                e,
                self.store.data(),
                self.timeout_ms,
                self.memory_mb,
            )),
            Err(_) => Err(call::backstop_timeout(&self.name, self.timeout_ms)),
        };
        if result.is_err() {
            self.poisoned = true;
        }
        result
    }

    /// `messenger.start`.
    pub async fn start(&mut self) -> Result<ChannelInfo, CallError> {
        flatten(
            self.run(async |b, s| b.openpista_plugin_messenger().call_start(s).await)
                .await,
        )
    }

    /// `messenger.poll`.
    pub async fn poll(&mut self) -> Result<Vec<InboundEvent>, CallError> {
        flatten(
            self.run(async |b, s| b.openpista_plugin_messenger().call_poll(s).await)
                .await,
        )
    }

    /// `messenger.handle-http`.
    pub async fn handle_http(
        &mut self,
        request: HttpRequest,
    ) -> Result<(HttpResponse, Vec<InboundEvent>), CallError> {
        flatten(
            self.run(async |b, s| {
                b.openpista_plugin_messenger()
                    .call_handle_http(s, &request)
                    .await
            })
            .await,
        )
    }

    /// `messenger.handle-ws`.
    pub async fn handle_ws(
        &mut self,
        id: u64,
        frame: Frame,
    ) -> Result<Vec<InboundEvent>, CallError> {
        flatten(
            self.run(async |b, s| {
                b.openpista_plugin_messenger()
                    .call_handle_ws(s, id, &frame)
                    .await
            })
            .await,
        )
    }

    /// `messenger.send`.
    pub async fn send(&mut self, message: Outbound) -> Result<(), CallError> {
        flatten(
            self.run(async |b, s| b.openpista_plugin_messenger().call_send(s, &message).await)
                .await,
        )
    }

    /// `messenger.status`.
    pub async fn status(&mut self, session: &str, kind: StatusKind) -> Result<(), CallError> {
        flatten(
            self.run(async |b, s| {
                b.openpista_plugin_messenger()
                    .call_status(s, session, kind)
                    .await
            })
            .await,
        )
    }

    /// `messenger.shutdown`.
    pub async fn shutdown(&mut self) -> Result<(), CallError> {
        self.run(async |b, s| b.openpista_plugin_messenger().call_shutdown(s).await)
            .await
    }

    /// `live.send-delta`; does nothing for a plain channel.
    pub async fn send_delta(&mut self, session: &str, delta: &str) -> Result<(), CallError> {
        let Some(f) = self.live.as_ref().map(|l| l.send_delta) else {
            return Ok(());
        };
        let args = (session.to_string(), delta.to_string());
        flatten(
            self.run(async |_, s| {
                let (r,) = f.call_async(&mut *s, args).await?;
                Ok(r)
            })
            .await,
        )
    }

    /// `live.ws-closed`; does nothing for a plain channel.
    pub async fn ws_closed(&mut self, id: u64) -> Result<(), CallError> {
        let Some(f) = self.live.as_ref().map(|l| l.ws_closed) else {
            return Ok(());
        };
        self.run(async |_, s| f.call_async(&mut *s, (id,)).await)
            .await
    }

    /// `live.tick`; does nothing for a plain channel.
    pub async fn tick(&mut self, now_ms: u64) -> Result<(), CallError> {
        let Some(f) = self.live.as_ref().map(|l| l.tick) else {
            return Ok(());
        };
        self.run(async |_, s| f.call_async(&mut *s, (now_ms,)).await)
            .await
    }
}

fn flatten<T>(r: Result<Result<T, WitError>, CallError>) -> Result<T, CallError> {
    match r {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(CallError::Guest(e)),
        Err(e) => Err(e),
    }
}
