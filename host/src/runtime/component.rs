//! A loaded component version: its manifest and grants, the compiled
//! component and one `InstancePre`, and the calls that run it, each in a
//! fresh instance.

use super::bindings::{
    ChatRequest, ChatResponse, ModelInfo, StreamEvent, ToolResult, ToolSpec, channel, provider,
    tool,
};
use super::call::{self, CallError};
use super::manifest::{Manifest, World};
use super::state::{CallState, ComponentContext};
use semver::Version;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use wasmtime::Store;

pub use tool::exports::openpista::plugin::tools::CallContext;

/// Where a component came from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// Built into the binary.
    Embedded,
    /// A plugin folder's `NAME.wasm`.
    File(PathBuf),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Embedded => f.write_str("embedded"),
            Source::File(p) => write!(f, "{}", p.display()),
        }
    }
}

/// The pre-instantiated component, typed by world and contract version.
pub enum Pre {
    Tool(tool::ToolPre<CallState>),
    Provider(provider::ProviderPre<CallState>),
    /// A 0.2 channel, and where its optional 0.2.1 exports are.
    Channel(
        channel::ChannelPre<CallState>,
        super::channel::InteractiveIndices,
    ),
    /// Built against WIT 0.1.x: driven through the adapter.
    Legacy(super::v0_1::Pre),
}

/// One version of one component, ready to run.
pub struct LoadedComponent {
    pub manifest: Manifest,
    pub hash: String,
    pub wit_version: Version,
    pub source: Source,
    /// Embedded, unsigned, or signed by a trusted key.
    pub provenance: super::signing::Provenance,
    pub pre: Pre,
    /// For tool components: the tools, listed once at load.
    pub tools: Vec<ToolSpec>,
    pub(crate) ctx: Arc<ComponentContext>,
    pub(crate) engine: wasmtime::Engine,
    pub(crate) metered: bool,
    pub(crate) permits: Arc<tokio::sync::Semaphore>,
    /// A provider's `models()`, asked once per loaded version (`None`
    /// when it failed).
    pub(crate) models_cache: tokio::sync::OnceCell<Option<Vec<ModelInfo>>>,
}

impl LoadedComponent {
    pub fn name(&self) -> &str {
        &self.manifest.name
    }

    pub fn world(&self) -> World {
        self.manifest.world
    }

    /// Capabilities as granted, one line.
    /// What this version was granted (hosts, secrets, folders, limits).
    pub fn grants(&self) -> &super::capabilities::Grants {
        &self.ctx.grants
    }

    pub fn describe_grants(&self) -> String {
        self.ctx.grants.describe()
    }

    pub(crate) fn timeout(&self) -> Duration {
        Duration::from_millis(self.ctx.grants.timeout_ms)
    }

    pub(crate) fn new_store(&self) -> Result<Store<CallState>, CallError> {
        let state = CallState::new(self.ctx.clone()).map_err(|e| CallError::Trap {
            component: self.name().to_string(),
            message: format!("cannot prepare the call: {e:#}"),
        })?;
        let mut store = Store::new(&self.engine, state);
        crate::telemetry::metrics::instance(self.name());
        store.limiter(|s| &mut s.limits);
        // The store's own guard: a one-call store holds it until dropped.
        let running = call::arm(
            &mut store,
            self.timeout(),
            self.ctx.grants.fuel,
            self.metered,
        );
        store.data_mut().call = Some(running);
        Ok(store)
    }

    /// A pool permit and a fresh store for an instance that outlives one
    /// call (a stream, a channel's long-lived instance).
    pub(crate) async fn owned_store(
        &self,
    ) -> Result<(tokio::sync::OwnedSemaphorePermit, Store<CallState>), CallError> {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .expect("semaphore is never closed");
        Ok((permit, self.new_store()?))
    }

    /// A failed call on `store` as a [`CallError`].
    pub(crate) fn classify(&self, e: wasmtime::Error, store: &Store<CallState>) -> CallError {
        call::classify(
            e,
            store.data(),
            self.ctx.grants.timeout_ms,
            self.ctx.grants.memory_mb,
        )
    }

    /// Runs `body` against a fresh store, under the deadline, with the
    /// instance pool's permit held.
    async fn with_fresh_store<R>(
        &self,
        body: impl AsyncFnOnce(&mut Store<CallState>) -> wasmtime::Result<R>,
    ) -> Result<R, CallError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .expect("semaphore is never closed");
        let mut store = self.new_store()?;
        let timeout = self.timeout();
        // The epoch deadline stops running guest code; this backstop also
        // covers a guest blocked in a host call (a slow HTTP response).
        let outcome =
            tokio::time::timeout(timeout + Duration::from_millis(250), body(&mut store)).await;
        match outcome {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(call::classify(
                e,
                store.data(),
                self.ctx.grants.timeout_ms,
                self.ctx.grants.memory_mb,
            )),
            Err(_) => Err(call::backstop_timeout(
                self.name(),
                self.ctx.grants.timeout_ms,
            )),
        }
    }

    /// Lists a tool component's tools (in a fresh instance).
    pub(crate) async fn list_tools(&self) -> Result<Vec<ToolSpec>, CallError> {
        // The same call through either contract's bindings.
        macro_rules! list_with {
            ($pre:expr) => {
                self.with_fresh_store(async |store| {
                    let instance = $pre.instantiate_async(&mut *store).await?;
                    instance
                        .openpista_plugin_tools()
                        .call_list_tools(&mut *store)
                        .await
                })
                .await
            };
        }
        match &self.pre {
            Pre::Tool(pre) => list_with!(pre),
            Pre::Legacy(super::v0_1::Pre::Tool(pre)) => list_with!(pre),
            _ => Ok(Vec::new()),
        }
    }

    /// Whether this is a tool component (of any contract version).
    pub fn is_tool(&self) -> bool {
        matches!(
            self.pre,
            Pre::Tool(_) | Pre::Legacy(super::v0_1::Pre::Tool(_))
        )
    }

    /// Invokes tool `name` in a fresh instance.
    pub async fn invoke(
        &self,
        name: &str,
        arguments: &str,
        context: &CallContext,
    ) -> Result<ToolResult, CallError> {
        if !self.is_tool() {
            return Err(CallError::NotLoaded(format!(
                "tool {name} (component {} is a {})",
                self.name(),
                self.world()
            )));
        }
        let mut note = None;
        let result = self
            .with_fresh_store(async |store| {
                let r = match &self.pre {
                    Pre::Tool(pre) => {
                        let instance = pre.instantiate_async(&mut *store).await?;
                        instance
                            .openpista_plugin_tools()
                            .call_invoke(&mut *store, name, arguments, context)
                            .await
                    }
                    Pre::Legacy(super::v0_1::Pre::Tool(pre)) => {
                        let instance = pre.instantiate_async(&mut *store).await?;
                        let context = super::v0_1::tool_context(context);
                        instance
                            .openpista_plugin_tools()
                            .call_invoke(&mut *store, name, arguments, &context)
                            .await
                    }
                    _ => unreachable!("checked above"),
                };
                note = denials_note(store);
                r
            })
            .await?;
        match result {
            Ok(mut value) => {
                value.content = self
                    .ctx
                    .grants
                    .outbound
                    .secrets
                    .redact(&value.content)
                    .into_owned();
                Ok(value)
            }
            Err(e) => Err(CallError::Guest(self.annotate(e, note))),
        }
    }

    /// Adds the host's record of denied requests to a guest error, so the
    /// person reading it learns which grant was missing.
    fn annotate(
        &self,
        error: super::bindings::WitError,
        note: Option<String>,
    ) -> super::bindings::WitError {
        use super::bindings::WitError as E;
        let redact = |s: String| self.ctx.grants.outbound.secrets.redact(&s).into_owned();
        let add = |m: String| match &note {
            Some(n) => redact(format!("{m} (host: {n})")),
            None => redact(m),
        };
        match error {
            E::Denied(m) => E::Denied(add(m)),
            E::InvalidInput(m) => E::InvalidInput(add(m)),
            E::NotFound(m) => E::NotFound(add(m)),
            E::Timeout(m) => E::Timeout(add(m)),
            E::Unavailable(m) => E::Unavailable(add(m)),
            E::Internal(m) => E::Internal(add(m)),
            E::Upstream(mut u) => {
                u.message = add(u.message);
                E::Upstream(u)
            }
            E::RateLimited(mut r) => {
                r.message = add(r.message);
                E::RateLimited(r)
            }
        }
    }

    fn provider_pre(&self) -> Result<ProviderPre<'_>, CallError> {
        match &self.pre {
            Pre::Provider(pre) => Ok(ProviderPre::Now(pre)),
            Pre::Legacy(super::v0_1::Pre::Provider(pre)) => Ok(ProviderPre::Old(pre)),
            _ => Err(CallError::NotLoaded(format!(
                "provider {} (it is a {} component)",
                self.name(),
                self.world()
            ))),
        }
    }

    fn guest_result<T>(
        &self,
        result: Result<T, super::bindings::WitError>,
    ) -> Result<T, CallError> {
        result.map_err(|e| CallError::Guest(self.annotate(e, None)))
    }

    /// The models a provider component offers (fresh instance).
    pub async fn models(&self) -> Result<Vec<ModelInfo>, CallError> {
        let pre = self.provider_pre()?;
        let result = self
            .with_fresh_store(async |store| match pre {
                ProviderPre::Now(pre) => {
                    let instance = pre.instantiate_async(&mut *store).await?;
                    instance
                        .openpista_plugin_llm()
                        .call_models(&mut *store)
                        .await
                }
                ProviderPre::Old(pre) => {
                    let instance = pre.instantiate_async(&mut *store).await?;
                    Ok(instance
                        .openpista_plugin_llm()
                        .call_models(&mut *store)
                        .await?
                        .map(|m| m.into_iter().map(super::v0_1::model_info).collect()))
                }
            })
            .await?;
        self.guest_result(result)
    }

    /// What the provider says of `model` (or of its default, the first it
    /// lists, when `None`): asked once per loaded version. `None` when the
    /// provider cannot say.
    pub async fn model_info(&self, model: Option<&str>) -> Option<ModelInfo> {
        let models = self
            .models_cache
            .get_or_init(async || match self.models().await {
                Ok(m) => Some(m),
                Err(e) => {
                    tracing::debug!(component = self.name(), "models() failed: {e}");
                    None
                }
            })
            .await
            .as_ref()?;
        match model {
            Some(id) => models.iter().find(|m| m.id == id).cloned(),
            None => models.first().cloned(),
        }
    }

    /// One complete answer from a provider component (fresh instance).
    pub async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, CallError> {
        let pre = self.provider_pre()?;
        let mut note = None;
        let result = self
            .with_fresh_store(async |store| {
                let r = match pre {
                    ProviderPre::Now(pre) => {
                        let instance = pre.instantiate_async(&mut *store).await?;
                        instance
                            .openpista_plugin_llm()
                            .call_chat(&mut *store, request)
                            .await
                    }
                    ProviderPre::Old(pre) => {
                        let instance = pre.instantiate_async(&mut *store).await?;
                        instance
                            .openpista_plugin_llm()
                            .call_chat(&mut *store, &super::v0_1::chat_request(request))
                            .await
                            .map(|r| r.map(super::v0_1::chat_response))
                    }
                };
                note = denials_note(store);
                r
            })
            .await?;
        result.map_err(|e| CallError::Guest(self.annotate(e, note)))
    }

    /// Starts a streamed answer. The returned stream owns its instance and
    /// store (and a pool permit) until it is dropped; each `next` has the
    /// component's full deadline.
    pub async fn stream_chat(&self, request: &ChatRequest) -> Result<ChatStream, CallError> {
        let pre = self.provider_pre()?;
        let (permit, mut store) = self.owned_store().await?;
        let classify = |e, store: &Store<CallState>| self.classify(e, store);
        let instance = match pre {
            ProviderPre::Now(pre) => pre
                .instantiate_async(&mut store)
                .await
                .map(StreamInstance::Now),
            ProviderPre::Old(pre) => pre
                .instantiate_async(&mut store)
                .await
                .map(StreamInstance::Old),
        };
        let instance = match instance {
            Ok(i) => i,
            Err(e) => return Err(classify(e, &store)),
        };
        let started = tokio::time::timeout(
            self.timeout() + Duration::from_millis(250),
            instance.start(&mut store, request),
        )
        .await
        .map_err(|_| call::backstop_timeout(self.name(), self.ctx.grants.timeout_ms))?;
        let handle = match started {
            Ok(Ok(handle)) => handle,
            Ok(Err(e)) => {
                // The request is sent while starting: a denial (say, a
                // sign-in that could not be refreshed) is named here.
                let note = denials_note(&store);
                return Err(CallError::Guest(self.annotate(e, note)));
            }
            Err(e) => return Err(classify(e, &store)),
        };
        call::settle(&mut store);
        Ok(ChatStream {
            store,
            instance,
            handle: Some(handle),
            _permit: permit,
            timeout: self.timeout(),
            fuel: self.ctx.grants.fuel,
            metered: self.metered,
            name: self.name().to_string(),
            timeout_ms: self.ctx.grants.timeout_ms,
            memory_mb: self.ctx.grants.memory_mb,
        })
    }

    /// A long-lived instance for repeated calls (a channel's poll loop, or
    /// measuring reuse). Its store lives until it is dropped; each call
    /// re-arms the deadline.
    pub async fn reusable(&self) -> Result<ReusableTool, CallError> {
        let Pre::Tool(pre) = &self.pre else {
            return Err(CallError::NotLoaded(format!(
                "{} is not a tool component of the current contract",
                self.name()
            )));
        };
        let mut store = self.new_store()?;
        let instance = pre.instantiate_async(&mut store).await.map_err(|e| {
            call::classify(
                e,
                store.data(),
                self.ctx.grants.timeout_ms,
                self.ctx.grants.memory_mb,
            )
        })?;
        call::settle(&mut store);
        Ok(ReusableTool {
            store,
            instance,
            timeout: self.timeout(),
            fuel: self.ctx.grants.fuel,
            metered: self.metered,
            timeout_ms: self.ctx.grants.timeout_ms,
            memory_mb: self.ctx.grants.memory_mb,
        })
    }
}

/// One tool instance kept across calls. State leaks between its calls by
/// design; use it only where that is wanted.
pub struct ReusableTool {
    store: Store<CallState>,
    instance: tool::Tool,
    timeout: Duration,
    fuel: u64,
    metered: bool,
    timeout_ms: u64,
    memory_mb: u64,
}

impl ReusableTool {
    pub async fn invoke(
        &mut self,
        name: &str,
        arguments: &str,
        context: &CallContext,
    ) -> Result<ToolResult, CallError> {
        let _running = call::arm(&mut self.store, self.timeout, self.fuel, self.metered);
        match self
            .instance
            .openpista_plugin_tools()
            .call_invoke(&mut self.store, name, arguments, context)
            .await
        {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(CallError::Guest(e)),
            Err(e) => Err(call::classify(
                e,
                self.store.data(),
                self.timeout_ms,
                self.memory_mb,
            )),
        }
    }
}

/// A provider's pre-instantiated form, of either contract.
enum ProviderPre<'a> {
    Now(&'a provider::ProviderPre<CallState>),
    Old(&'a super::v0_1::bindings::provider::ProviderPre<CallState>),
}

/// The instance a stream runs in, of either contract.
enum StreamInstance {
    Now(provider::Provider),
    Old(super::v0_1::bindings::provider::Provider),
}

impl StreamInstance {
    async fn start(
        &self,
        store: &mut Store<CallState>,
        request: &ChatRequest,
    ) -> wasmtime::Result<Result<wasmtime::component::ResourceAny, super::bindings::WitError>> {
        match self {
            StreamInstance::Now(i) => {
                i.openpista_plugin_llm()
                    .call_stream_chat(store, request)
                    .await
            }
            StreamInstance::Old(i) => {
                i.openpista_plugin_llm()
                    .call_stream_chat(store, &super::v0_1::chat_request(request))
                    .await
            }
        }
    }

    async fn next(
        &self,
        store: &mut Store<CallState>,
        handle: wasmtime::component::ResourceAny,
    ) -> wasmtime::Result<Result<Option<StreamEvent>, super::bindings::WitError>> {
        match self {
            StreamInstance::Now(i) => {
                i.openpista_plugin_llm()
                    .chat_stream()
                    .call_next(store, handle)
                    .await
            }
            StreamInstance::Old(i) => Ok(i
                .openpista_plugin_llm()
                .chat_stream()
                .call_next(store, handle)
                .await?
                .map(|e| e.map(super::v0_1::stream_event))),
        }
    }
}

/// A streamed answer from a provider component.
pub struct ChatStream {
    store: Store<CallState>,
    instance: StreamInstance,
    handle: Option<wasmtime::component::ResourceAny>,
    _permit: tokio::sync::OwnedSemaphorePermit,
    timeout: Duration,
    fuel: u64,
    metered: bool,
    name: String,
    timeout_ms: u64,
    memory_mb: u64,
}

impl ChatStream {
    /// The next event; `None` once the answer is complete.
    pub async fn next(&mut self) -> Result<Option<StreamEvent>, CallError> {
        let Some(handle) = self.handle else {
            return Ok(None);
        };
        let _running = call::arm(&mut self.store, self.timeout, self.fuel, self.metered);
        let outcome = tokio::time::timeout(
            self.timeout + Duration::from_millis(250),
            self.instance.next(&mut self.store, handle),
        )
        .await;
        let result = match outcome {
            Err(_) => Err(call::backstop_timeout(&self.name, self.timeout_ms)),
            Ok(Err(e)) => Err(call::classify(
                e,
                self.store.data(),
                self.timeout_ms,
                self.memory_mb,
            )),
            Ok(Ok(Err(e))) => Err(CallError::Guest(e)),
            Ok(Ok(Ok(event))) => Ok(event),
        };
        if !matches!(result, Ok(Some(_))) {
            // Finished or failed: release the guest resource now.
            if let Some(h) = self.handle.take() {
                let _ = h.resource_drop_async(&mut self.store).await;
            }
        }
        result
    }
}

/// The host's record of what it denied during a call, for [`LoadedComponent::annotate`].
fn denials_note(store: &Store<CallState>) -> Option<String> {
    let denials = store.data().denials.lock().unwrap();
    (!denials.is_empty()).then(|| denials.join("; "))
}
