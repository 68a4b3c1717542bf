//! A channel component's long-lived instance. Unlike tools and providers,
//! which get a fresh instance per call, a channel keeps one instance for as
//! long as its version serves: it holds per-connection protocol state (who
//! is authenticated, when a client was last heard) between calls. Calls are
//! serial (`&mut self`); each re-arms the deadline. After a trap the
//! instance is poisoned and its driver makes a new one.
//!
//! The calls speak WIT 0.2 whatever the component was built against: a
//! 0.1.x channel is driven through the adapter in [`super::v0_1::channel`].

use super::bindings::WitError;
use super::bindings::channel;
use super::bindings::channel::exports::openpista::plugin::messenger::{
    ChannelInfo, HttpRequest, HttpResponse, InboundEvent, Outbound, StatusKind,
};
use super::bindings::channel::exports::openpista::plugin::pairing::{PairedUser, PairingRequest};
use super::bindings::channel::exports::openpista::plugin::report::ChannelReport;
use super::bindings::channel::openpista::plugin::connections::Frame;
use super::bindings::interactive::exports::openpista::plugin::choices::Button;
use super::bindings::interactive::exports::openpista::plugin::sessions::{
    HistoryEntry, SessionEntry,
};
use super::bindings::interactive::exports::openpista::plugin::{approvals, choices, sessions};
use super::bindings::{ApprovalRequest, Settlement};
use super::call::{self, CallError};
use super::component::{LoadedComponent, Pre};
use super::state::CallState;
use super::v0_1;
use std::time::Duration;
use wasmtime::Store;

/// What `start` told the host.
#[derive(Debug, Clone)]
pub struct Started {
    /// In 0.2 terms; routes as the component declared them.
    pub info: ChannelInfo,
    /// A 0.1 channel's name for itself (0.2 channels have none: the host
    /// names them).
    pub claimed_name: Option<String>,
    /// True for 0.1 channels, whose routes are absolute paths rather than
    /// paths under their prefix.
    pub absolute_routes: bool,
}

/// Where a 0.2.1 channel's optional exports (`approvals`, `choices`,
/// `sessions`) are; found by name, so a 0.2.0 channel without them still
/// loads.
#[derive(Clone, Default)]
pub struct InteractiveIndices {
    approvals: Option<approvals::GuestIndices>,
    choices: Option<choices::GuestIndices>,
    sessions: Option<sessions::GuestIndices>,
}

impl InteractiveIndices {
    pub fn find(pre: &wasmtime::component::InstancePre<CallState>) -> InteractiveIndices {
        InteractiveIndices {
            approvals: approvals::GuestIndices::new(pre).ok(),
            choices: choices::GuestIndices::new(pre).ok(),
            sessions: sessions::GuestIndices::new(pre).ok(),
        }
    }
}

/// The optional exports of one instance.
struct Interactive {
    approvals: Option<approvals::Guest>,
    choices: Option<choices::Guest>,
    sessions: Option<sessions::Guest>,
}

/// The bindings an instance is driven through.
enum Bindings {
    /// A 0.2 channel, with its optional 0.2.1 exports.
    Now(channel::Channel, Interactive),
    Old(v0_1::channel::OldChannel),
}

/// One running instance of a channel component.
pub struct ChannelInstance {
    store: Store<CallState>,
    bindings: Bindings,
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
    /// Starts this channel component's long-lived instance (`start` is
    /// the caller's to call).
    pub async fn channel_instance(&self) -> Result<ChannelInstance, CallError> {
        let (permit, mut store) = self.owned_store().await?;
        let classify = |e, store: &Store<CallState>| self.classify(e, store);
        let bindings = match &self.pre {
            Pre::Channel(pre, indices) => {
                let made = async {
                    let instance = pre.instance_pre().instantiate_async(&mut store).await?;
                    let bindings = channel::Channel::new(&mut store, &instance)?;
                    let extras = Interactive {
                        approvals: match &indices.approvals {
                            Some(ix) => Some(ix.load(&mut store, &instance)?),
                            None => None,
                        },
                        choices: match &indices.choices {
                            Some(ix) => Some(ix.load(&mut store, &instance)?),
                            None => None,
                        },
                        sessions: match &indices.sessions {
                            Some(ix) => Some(ix.load(&mut store, &instance)?),
                            None => None,
                        },
                    };
                    wasmtime::Result::Ok(Bindings::Now(bindings, extras))
                };
                match made.await {
                    Ok(b) => b,
                    Err(e) => return Err(classify(e, &store)),
                }
            }
            Pre::Legacy(v0_1::Pre::Channel(pre, live)) => {
                let id = super::manifest::channel_id(self.name()).to_string();
                match v0_1::channel::OldChannel::instantiate(pre, live.as_ref(), id, &mut store)
                    .await
                {
                    Ok(b) => Bindings::Old(b),
                    Err(e) => return Err(classify(e, &store)),
                }
            }
            _ => {
                return Err(CallError::NotLoaded(format!(
                    "{} is not a channel component",
                    self.name()
                )));
            }
        };
        call::settle(&mut store);
        Ok(ChannelInstance {
            store,
            bindings,
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

    /// True after a trap: the instance must not be called again.
    pub fn is_poisoned(&self) -> bool {
        self.poisoned
    }

    /// Runs one call under the deadline; a trap poisons the instance.
    async fn run<R>(
        &mut self,
        body: impl AsyncFnOnce(&Bindings, &mut Store<CallState>) -> wasmtime::Result<R>,
    ) -> Result<R, CallError> {
        if self.poisoned {
            return Err(CallError::Trap {
                component: self.name.clone(),
                message: "the channel instance failed earlier and is being replaced".into(),
            });
        }
        let _running = call::arm(&mut self.store, self.timeout, self.fuel, self.metered);
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
    pub async fn start(&mut self) -> Result<Started, CallError> {
        flatten(
            self.run(async |b, s| match b {
                Bindings::Now(b, _) => {
                    Ok(b.openpista_plugin_messenger()
                        .call_start(s)
                        .await?
                        .map(|info| Started {
                            info,
                            claimed_name: None,
                            absolute_routes: false,
                        }))
                }
                Bindings::Old(b) => b.start(s).await,
            })
            .await,
        )
    }

    /// `messenger.poll`.
    pub async fn poll(&mut self) -> Result<Vec<InboundEvent>, CallError> {
        flatten(
            self.run(async |b, s| match b {
                Bindings::Now(b, _) => b.openpista_plugin_messenger().call_poll(s).await,
                Bindings::Old(b) => b.poll(s).await,
            })
            .await,
        )
    }

    /// `messenger.handle-http`.
    pub async fn handle_http(
        &mut self,
        request: HttpRequest,
    ) -> Result<(HttpResponse, Vec<InboundEvent>), CallError> {
        flatten(
            self.run(async |b, s| match b {
                Bindings::Now(b, _) => {
                    b.openpista_plugin_messenger()
                        .call_handle_http(s, &request)
                        .await
                }
                Bindings::Old(b) => b.handle_http(s, request).await,
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
            self.run(async |b, s| match b {
                Bindings::Now(b, _) => {
                    b.openpista_plugin_messenger()
                        .call_handle_ws(s, id, &frame)
                        .await
                }
                Bindings::Old(b) => b.handle_ws(s, id, frame).await,
            })
            .await,
        )
    }

    /// `messenger.send`.
    pub async fn send(&mut self, message: Outbound) -> Result<(), CallError> {
        flatten(
            self.run(async |b, s| match b {
                Bindings::Now(b, _) => b.openpista_plugin_messenger().call_send(s, &message).await,
                Bindings::Old(b) => b.send(s, message).await,
            })
            .await,
        )
    }

    /// `messenger.status`.
    pub async fn status(&mut self, conversation: &str, kind: StatusKind) -> Result<(), CallError> {
        flatten(
            self.run(async |b, s| match b {
                Bindings::Now(b, _) => {
                    b.openpista_plugin_messenger()
                        .call_status(s, conversation, kind)
                        .await
                }
                Bindings::Old(b) => b.status(s, conversation, kind).await,
            })
            .await,
        )
    }

    /// `messenger.shutdown`.
    pub async fn shutdown(&mut self) -> Result<(), CallError> {
        self.run(async |b, s| match b {
            Bindings::Now(b, _) => b.openpista_plugin_messenger().call_shutdown(s).await,
            Bindings::Old(b) => b.shutdown(s).await,
        })
        .await
    }

    /// `live.send-delta`.
    pub async fn send_delta(&mut self, conversation: &str, delta: &str) -> Result<(), CallError> {
        flatten(
            self.run(async |b, s| match b {
                Bindings::Now(b, _) => {
                    b.openpista_plugin_live()
                        .call_send_delta(s, conversation, delta)
                        .await
                }
                Bindings::Old(b) => b.send_delta(s, conversation, delta).await,
            })
            .await,
        )
    }

    /// `live.ws-closed`.
    pub async fn ws_closed(&mut self, id: u64) -> Result<(), CallError> {
        self.run(async |b, s| match b {
            Bindings::Now(b, _) => b.openpista_plugin_live().call_ws_closed(s, id).await,
            Bindings::Old(b) => b.ws_closed(s, id).await,
        })
        .await
    }

    /// `live.tick`.
    pub async fn tick(&mut self, now_ms: u64) -> Result<(), CallError> {
        self.run(async |b, s| match b {
            Bindings::Now(b, _) => b.openpista_plugin_live().call_tick(s, now_ms).await,
            Bindings::Old(b) => b.tick(s, now_ms).await,
        })
        .await
    }

    /// `pairing.list-pairings`.
    pub async fn list_pairings(
        &mut self,
    ) -> Result<(Vec<PairingRequest>, Vec<PairedUser>), CallError> {
        flatten(
            self.run(async |b, s| match b {
                Bindings::Now(b, _) => b.openpista_plugin_pairing().call_list_pairings(s).await,
                Bindings::Old(_) => Ok(Err(v0_1::channel::lacks("pairing"))),
            })
            .await,
        )
    }

    /// `pairing.approve`.
    pub async fn approve(&mut self, code: &str) -> Result<PairingRequest, CallError> {
        flatten(
            self.run(async |b, s| match b {
                Bindings::Now(b, _) => b.openpista_plugin_pairing().call_approve(s, code).await,
                Bindings::Old(_) => Ok(Err(v0_1::channel::lacks("pairing"))),
            })
            .await,
        )
    }

    /// `pairing.revoke`.
    pub async fn revoke(&mut self, user: &str) -> Result<bool, CallError> {
        flatten(
            self.run(async |b, s| match b {
                Bindings::Now(b, _) => b.openpista_plugin_pairing().call_revoke(s, user).await,
                Bindings::Old(_) => Ok(Err(v0_1::channel::lacks("pairing"))),
            })
            .await,
        )
    }

    /// `report.describe`.
    pub async fn describe(&mut self) -> Result<ChannelReport, CallError> {
        flatten(
            self.run(async |b, s| match b {
                Bindings::Now(b, _) => b.openpista_plugin_report().call_describe(s).await,
                Bindings::Old(_) => Ok(Err(v0_1::channel::lacks("report"))),
            })
            .await,
        )
    }
}

impl ChannelInstance {
    /// Whether the channel shows approval requests itself
    /// (`approvals`, 0.2.1); otherwise the host sends them as text.
    pub fn asks_approvals(&self) -> bool {
        matches!(&self.bindings, Bindings::Now(_, i) if i.approvals.is_some())
    }

    /// `approvals.ask`; `unavailable` for a channel without the interface.
    pub async fn ask_approval(
        &mut self,
        conversation: &str,
        request: &ApprovalRequest,
    ) -> Result<(), CallError> {
        flatten(
            self.run(async |b, s| match b {
                Bindings::Now(
                    _,
                    Interactive {
                        approvals: Some(a), ..
                    },
                ) => a.call_ask(s, conversation, request).await,
                _ => Ok(Err(WitError::Unavailable(
                    "this channel does not show approval requests".into(),
                ))),
            })
            .await,
        )
    }

    /// Whether the channel shows buttons for host commands (`choices`).
    pub fn offers_choices(&self) -> bool {
        matches!(&self.bindings, Bindings::Now(_, i) if i.choices.is_some())
    }

    /// `choices.offer`; `unavailable` for a channel without the interface.
    pub async fn offer_choices(
        &mut self,
        conversation: &str,
        text: &str,
        buttons: &[Button],
    ) -> Result<(), CallError> {
        flatten(
            self.run(async |b, s| match b {
                Bindings::Now(
                    _,
                    Interactive {
                        choices: Some(c), ..
                    },
                ) => c.call_offer(s, conversation, text, buttons).await,
                _ => Ok(Err(WitError::Unavailable(
                    "this channel has no buttons".into(),
                ))),
            })
            .await,
        )
    }

    /// Whether the channel lists sessions (`sessions`).
    pub fn lists_sessions(&self) -> bool {
        matches!(&self.bindings, Bindings::Now(_, i) if i.sessions.is_some())
    }

    /// `sessions.show`; `unavailable` for a channel without the interface.
    pub async fn show_sessions(
        &mut self,
        conversation: &str,
        entries: &[SessionEntry],
    ) -> Result<(), CallError> {
        flatten(
            self.run(async |b, s| match b {
                Bindings::Now(
                    _,
                    Interactive {
                        sessions: Some(x), ..
                    },
                ) => x.call_show(s, conversation, entries).await,
                _ => Ok(Err(WitError::Unavailable(
                    "this channel does not list sessions".into(),
                ))),
            })
            .await,
        )
    }

    /// `sessions.opened`; `unavailable` for a channel without the
    /// interface.
    pub async fn session_opened(
        &mut self,
        conversation: &str,
        title: &str,
        history: &[HistoryEntry],
    ) -> Result<(), CallError> {
        flatten(
            self.run(async |b, s| match b {
                Bindings::Now(
                    _,
                    Interactive {
                        sessions: Some(x), ..
                    },
                ) => x.call_opened(s, conversation, title, history).await,
                _ => Ok(Err(WitError::Unavailable(
                    "this channel does not show histories".into(),
                ))),
            })
            .await,
        )
    }

    /// `approvals.settled`; nothing for a channel without the interface.
    pub async fn approval_settled(
        &mut self,
        conversation: &str,
        id: &str,
        how: Settlement,
    ) -> Result<(), CallError> {
        self.run(async |b, s| match b {
            Bindings::Now(
                _,
                Interactive {
                    approvals: Some(a), ..
                },
            ) => a.call_settled(s, conversation, id, how).await,
            _ => Ok(()),
        })
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
