//! Driving one channel component: its long-lived instance, replaced when a
//! new version starts serving (hot swap) or after a trap; `start` on every
//! new instance; the `live` calls; the poll and tick loops.

use super::delivery::DeliveryLimits;
use crate::runtime::bindings::channel::exports::openpista::plugin::messenger::{
    Features, HttpRequest, HttpResponse, InboundEvent, Outbound, StatusKind,
};
use crate::runtime::bindings::channel::exports::openpista::plugin::report::ChannelReport;
use crate::runtime::bindings::channel::openpista::plugin::connections::Frame;
use crate::runtime::bindings::{ApprovalRequest, Button, HistoryEntry, SessionEntry, Settlement};
use crate::runtime::channel::Started;
use crate::runtime::manifest::{World, channel_id};
use crate::runtime::{CallError, ChannelInstance, LoadedComponent, Runtime};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Where the gateway delivers answers: a channel driver, or a test's
/// recorder.
pub trait Delivery: Send + Sync {
    /// Delivers one message of an answer (already fitted to
    /// [`Delivery::limits`]).
    fn send(&self, message: Outbound) -> BoxFuture<'_, Result<(), CallError>>;
    /// Delivers a piece of an answer being generated.
    fn delta<'a>(
        &'a self,
        conversation: &'a str,
        delta: &'a str,
    ) -> BoxFuture<'a, Result<(), CallError>>;
    /// Shows an indicator.
    fn status<'a>(
        &'a self,
        conversation: &'a str,
        kind: StatusKind,
    ) -> BoxFuture<'a, Result<(), CallError>>;
    /// What the channel can carry.
    fn limits(&self) -> DeliveryLimits {
        DeliveryLimits::default()
    }
    /// Shows an approval request with its choices; `Ok(false)` when the
    /// channel cannot (the gateway then sends it as text).
    fn ask_approval<'a>(
        &'a self,
        conversation: &'a str,
        request: &'a ApprovalRequest,
    ) -> BoxFuture<'a, Result<bool, CallError>> {
        let _ = (conversation, request);
        Box::pin(async { Ok(false) })
    }
    /// Shows `text` with buttons for host commands; `Ok(false)` when the
    /// channel has no buttons (the gateway then sends the text alone).
    fn offer<'a>(
        &'a self,
        conversation: &'a str,
        text: &'a str,
        buttons: &'a [Button],
    ) -> BoxFuture<'a, Result<bool, CallError>> {
        let _ = (conversation, text, buttons);
        Box::pin(async { Ok(false) })
    }
    /// Tells the channel how request `id` ended.
    fn approval_settled<'a>(
        &'a self,
        conversation: &'a str,
        id: &'a str,
        how: Settlement,
    ) -> BoxFuture<'a, ()> {
        let _ = (conversation, id, how);
        Box::pin(async {})
    }
    /// Shows the conversation's sessions as a list; `Ok(false)` when the
    /// channel has no list (the gateway then answers with text).
    fn show_sessions<'a>(
        &'a self,
        conversation: &'a str,
        entries: &'a [SessionEntry],
    ) -> BoxFuture<'a, Result<bool, CallError>> {
        let _ = (conversation, entries);
        Box::pin(async { Ok(false) })
    }
    /// Shows the history of the session the conversation now uses;
    /// `Ok(false)` when the channel cannot.
    fn session_opened<'a>(
        &'a self,
        conversation: &'a str,
        title: &'a str,
        history: &'a [HistoryEntry],
    ) -> BoxFuture<'a, Result<bool, CallError>> {
        let _ = (conversation, title, history);
        Box::pin(async { Ok(false) })
    }
}

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One channel component, driven by the host.
pub struct ChannelDriver {
    component: String,
    runtime: Arc<Runtime>,
    slot: tokio::sync::Mutex<Option<ChannelInstance>>,
    /// The poll loop's own instance: a long poll may wait half a minute,
    /// and answers must not queue behind it.
    poll_slot: tokio::sync::Mutex<Option<ChannelInstance>>,
    info: RwLock<Option<Started>>,
    /// Set by `shutdown`: no new instance is started after it.
    stopped: std::sync::atomic::AtomicBool,
    /// `live.tick` calls made.
    ticks: std::sync::atomic::AtomicU64,
}

impl ChannelDriver {
    pub fn new(runtime: Arc<Runtime>, component: &str) -> Arc<ChannelDriver> {
        Arc::new(ChannelDriver {
            component: component.to_string(),
            runtime,
            slot: tokio::sync::Mutex::new(None),
            poll_slot: tokio::sync::Mutex::new(None),
            info: RwLock::new(None),
            stopped: std::sync::atomic::AtomicBool::new(false),
            ticks: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// The component's name (`channel-web`).
    pub fn component(&self) -> &str {
        &self.component
    }

    /// What the running instance's `start` reported.
    pub fn info(&self) -> Option<Started> {
        self.info.read().unwrap().clone()
    }

    /// Starts the instance now (it would start on first use otherwise) and
    /// returns what the channel reported.
    pub async fn start(&self) -> Result<Started, CallError> {
        self.call(async |_| Ok(())).await?;
        Ok(self.info().expect("set by a successful start"))
    }

    /// Runs `f` on the current instance, first replacing it when a newer
    /// version serves or it failed.
    async fn call<R>(
        &self,
        f: impl AsyncFnOnce(&mut ChannelInstance) -> Result<R, CallError>,
    ) -> Result<R, CallError> {
        self.call_in(&self.slot, f).await
    }

    /// [`ChannelDriver::call`] on the instance in `slot`.
    async fn call_in<R>(
        &self,
        slot: &tokio::sync::Mutex<Option<ChannelInstance>>,
        f: impl AsyncFnOnce(&mut ChannelInstance) -> Result<R, CallError>,
    ) -> Result<R, CallError> {
        let mut slot = slot.lock().await;
        if self.stopped.load(std::sync::atomic::Ordering::Acquire) {
            return Err(CallError::NotLoaded(format!(
                "channel {} is stopped",
                self.component
            )));
        }
        let current = self
            .runtime
            .get(&self.component)
            .ok_or_else(|| CallError::NotLoaded(format!("channel {}", self.component)))?;
        let stale = match &*slot {
            None => true,
            Some(i) => i.is_poisoned() || i.hash() != current.hash,
        };
        if stale {
            if slot.take().is_some() {
                tracing::info!(component = %self.component, "channel instance replaced");
            }
            let mut instance = current.channel_instance().await?;
            let info = instance.start().await?;
            *self.info.write().unwrap() = Some(info);
            *slot = Some(instance);
        }
        f(slot.as_mut().expect("just set")).await
    }

    pub async fn handle_http(
        &self,
        request: HttpRequest,
    ) -> Result<(HttpResponse, Vec<InboundEvent>), CallError> {
        self.call(async |i| i.handle_http(request).await).await
    }

    pub async fn handle_ws(&self, id: u64, frame: Frame) -> Result<Vec<InboundEvent>, CallError> {
        self.call(async |i| i.handle_ws(id, frame).await).await
    }

    pub async fn ws_closed(&self, id: u64) -> Result<(), CallError> {
        self.call(async |i| i.ws_closed(id).await).await
    }

    pub async fn tick(&self, now_ms: u64) -> Result<(), CallError> {
        self.call(async |i| i.tick(now_ms).await).await
    }

    /// `report.describe` on the running instance.
    pub async fn describe(&self) -> Result<ChannelReport, CallError> {
        self.call(async |i| i.describe().await).await
    }

    /// Polls on the poll loop's own instance (started like the other), so
    /// sends and webhooks are never held up by a long poll.
    pub async fn poll(&self) -> Result<Vec<InboundEvent>, CallError> {
        self.call_in(&self.poll_slot, async |i| i.poll().await)
            .await
    }

    /// Drops the poll instance after its call was abandoned mid-way (its
    /// future dropped): it is never called again; the next poll starts a
    /// fresh one.
    pub fn abandon_poll(&self) {
        if let Ok(mut poll) = self.poll_slot.try_lock() {
            poll.take();
        }
    }

    /// Calls `shutdown` on the running instance, if any. A poll in
    /// progress is the caller's to abort (its task); its instance is
    /// dropped without `shutdown`, which the main instance has done.
    pub async fn shutdown(&self) {
        self.stopped
            .store(true, std::sync::atomic::Ordering::Release);
        if let Ok(mut poll) = self.poll_slot.try_lock() {
            poll.take();
        }
        self.restart().await;
    }

    /// Calls `tick` about once a second while the returned task runs.
    pub fn spawn_ticker(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        self.spawn_ticker_every(Duration::from_secs(1))
    }

    /// Calls `tick` every `period` while the returned task runs and
    /// [`ChannelDriver::tick_wanted`] holds.
    pub fn spawn_ticker_every(self: &Arc<Self>, period: Duration) -> tokio::task::JoinHandle<()> {
        let driver = self.clone();
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(period);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                interval.tick().await;
                if !driver.tick_wanted() {
                    continue;
                }
                driver
                    .ticks
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if let Err(e) = driver.tick(super::now_ms()).await {
                    tracing::warn!(component = %driver.component, "tick failed: {e}");
                }
            }
        })
    }

    /// Whether `live.tick` has anything to look after: connections the
    /// channel holds (heartbeats, idle timeouts), or ones it may open
    /// itself (`websockets` in its manifest: it reconnects and heartbeats
    /// from `tick`, with or without a connection up). An idle host then
    /// runs no guest code once a second for nothing, and the code and
    /// memory that call would touch stay out of its resident set.
    pub fn tick_wanted(&self) -> bool {
        let Some(current) = self.runtime.get(&self.component) else {
            return false;
        };
        let hub = self.runtime.connections();
        (current.grants().websockets > 0 && hub.outbound_allowed(&self.component))
            || hub.holds_any(&self.component)
    }

    /// Ends the running instance (`shutdown`, unless it failed), so the
    /// next call starts a fresh one, whose `start` connects anew: what a
    /// node does when it takes over a channel's connection, instead of
    /// waiting out the backoff the old instance's refused attempts built.
    pub async fn restart(&self) {
        let mut slot = self.slot.lock().await;
        if let Some(mut instance) = slot.take()
            && !instance.is_poisoned()
            && let Err(e) = instance.shutdown().await
        {
            tracing::warn!(component = %self.component, "channel shutdown failed: {e}");
        }
    }

    /// `live.tick` calls made so far.
    pub fn ticks(&self) -> u64 {
        self.ticks.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Delivery for ChannelDriver {
    fn send(&self, message: Outbound) -> BoxFuture<'_, Result<(), CallError>> {
        Box::pin(self.call(async |i| i.send(message).await))
    }

    fn delta<'a>(
        &'a self,
        conversation: &'a str,
        delta: &'a str,
    ) -> BoxFuture<'a, Result<(), CallError>> {
        Box::pin(self.call(async |i| i.send_delta(conversation, delta).await))
    }

    fn status<'a>(
        &'a self,
        conversation: &'a str,
        kind: StatusKind,
    ) -> BoxFuture<'a, Result<(), CallError>> {
        Box::pin(self.call(async move |i| i.status(conversation, kind).await))
    }

    fn ask_approval<'a>(
        &'a self,
        conversation: &'a str,
        request: &'a ApprovalRequest,
    ) -> BoxFuture<'a, Result<bool, CallError>> {
        Box::pin(self.call(async move |i| {
            if !i.asks_approvals() {
                return Ok(false);
            }
            i.ask_approval(conversation, request).await.map(|()| true)
        }))
    }

    fn offer<'a>(
        &'a self,
        conversation: &'a str,
        text: &'a str,
        buttons: &'a [Button],
    ) -> BoxFuture<'a, Result<bool, CallError>> {
        Box::pin(self.call(async move |i| {
            if !i.offers_choices() {
                return Ok(false);
            }
            i.offer_choices(conversation, text, buttons)
                .await
                .map(|()| true)
        }))
    }

    fn show_sessions<'a>(
        &'a self,
        conversation: &'a str,
        entries: &'a [SessionEntry],
    ) -> BoxFuture<'a, Result<bool, CallError>> {
        Box::pin(self.call(async move |i| {
            if !i.lists_sessions() {
                return Ok(false);
            }
            i.show_sessions(conversation, entries).await.map(|()| true)
        }))
    }

    fn session_opened<'a>(
        &'a self,
        conversation: &'a str,
        title: &'a str,
        history: &'a [HistoryEntry],
    ) -> BoxFuture<'a, Result<bool, CallError>> {
        Box::pin(self.call(async move |i| {
            if !i.lists_sessions() {
                return Ok(false);
            }
            i.session_opened(conversation, title, history)
                .await
                .map(|()| true)
        }))
    }

    fn approval_settled<'a>(
        &'a self,
        conversation: &'a str,
        id: &'a str,
        how: Settlement,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            if let Err(e) = self
                .call(async move |i| i.approval_settled(conversation, id, how).await)
                .await
            {
                tracing::debug!(component = %self.component, "approval settlement not shown: {e}");
            }
        })
    }

    fn limits(&self) -> DeliveryLimits {
        match self.info() {
            Some(s) => DeliveryLimits {
                max_message_length: s.info.max_message_length,
                typing: s.info.features.contains(Features::TYPING),
                attachments: s.info.features.contains(Features::ATTACHMENTS),
            },
            None => DeliveryLimits::default(),
        }
    }
}

/// Pairing and reports through a fresh instance of channel `component`:
/// what `openpista pairing …` and `… status` run, with or without a
/// server (the channel keeps its state in its memory, not its instance).
pub async fn with_fresh<R>(
    component: &LoadedComponent,
    f: impl AsyncFnOnce(&mut ChannelInstance) -> Result<R, CallError>,
) -> Result<R, CallError> {
    let mut instance = component.channel_instance().await?;
    f(&mut instance).await
}

/// The component of channel id `channel`: the one serving, else one
/// loaded aside for the question (a channel the operator has turned off
/// still answers for its own records).
pub async fn channel_component(
    runtime: &Arc<Runtime>,
    channel: &str,
) -> Result<Arc<LoadedComponent>, String> {
    let serving = runtime
        .components()
        .into_iter()
        .find(|c| c.world() == World::Channel && channel_id(c.name()) == channel);
    if let Some(c) = serving {
        return Ok(c);
    }
    for name in [format!("channel-{channel}"), channel.to_string()] {
        if let Ok(Some(c)) = runtime.load_detached(&name).await
            && c.world() == World::Channel
        {
            return Ok(Arc::new(c));
        }
    }
    let ids: Vec<String> = runtime
        .components()
        .into_iter()
        .filter(|c| c.world() == World::Channel)
        .map(|c| channel_id(c.name()).to_string())
        .collect();
    Err(format!(
        "there is no channel {channel:?} (channels: {})",
        if ids.is_empty() {
            "none".to_string()
        } else {
            ids.join(", ")
        }
    ))
}
