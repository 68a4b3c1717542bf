//! The set of loaded components. Each name has a slot holding the version
//! that serves new calls; calls hold an `Arc` of the version they started
//! on, so a swap never disturbs a call in flight.

use super::bindings::{channel, provider, tool};
use super::cache::{CompileCache, content_hash};
use super::capabilities::{Bounds, ComponentPolicy, Grants};
use super::component::{LoadedComponent, Pre, Source};
use super::engine::{self, Allocator, EngineSettings, EpochTicker};
use super::manifest::{Manifest, World};
use super::net::{self, Resolver};
use super::secrets::SecretStore;
use super::signing::Provenance;
use super::state::{CallState, ComponentContext};
use super::version;
use crate::memory::MemoryStore;
use anyhow::{Context, Result, bail};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use wasmtime::Engine;
use wasmtime::component::{HasSelf, Linker};

/// A first-party component built into the binary.
pub struct EmbeddedComponent {
    pub package: &'static str,
    /// Its WebAssembly: as built when it is precompiled (a start reads
    /// it for its hash and shape), gzip-compressed otherwise (a third of
    /// the size, unpacked only when the component loads).
    wasm: &'static [u8],
    gzipped: bool,
    pub manifest: &'static str,
    /// Its compiled form for the default engine settings, LZ4-compressed
    /// (host/build/precompile.rs): present for the components the default
    /// configuration loads.
    pub precompiled: Option<&'static [u8]>,
}

impl EmbeddedComponent {
    /// The component's WebAssembly bytes.
    pub fn wasm(&self) -> std::borrow::Cow<'static, [u8]> {
        if !self.gzipped {
            return self.wasm.into();
        }
        use std::io::Read;
        let mut out = Vec::with_capacity(self.wasm.len() * 3);
        flate2::read::GzDecoder::new(self.wasm)
            .read_to_end(&mut out)
            .expect("the build script's gzip of an embedded component unpacks");
        out.into()
    }
}

include!(concat!(env!("OUT_DIR"), "/embedded_components.rs"));

mod loading;
mod refusals;

/// Everything the runtime needs from the operator.
pub struct RuntimeConfig {
    pub engine: EngineSettings,
    /// Compiled-artifact cache; `None` compiles every time.
    pub cache_dir: Option<PathBuf>,
    /// Plugin folders, later ones overriding earlier ones and the embedded set.
    pub plugin_dirs: Vec<PathBuf>,
    /// Load the components built into the binary.
    pub embedded: bool,
    pub policies: BTreeMap<String, ComponentPolicy>,
    pub secrets: SecretStore,
    pub memory: Option<Arc<MemoryStore>>,
    /// DNS for outbound requests (tests substitute their own).
    pub resolver: Option<Resolver>,
    /// Extra names under which a component is loaded again with its own
    /// policy (alias → component): each configured LLM provider is one.
    pub aliases: BTreeMap<String, String>,
    /// Connections the host holds for channel components (shared with
    /// the HTTP listener).
    pub connections: Arc<super::connections::ConnectionHub>,
    /// The folder `$WORKSPACE` in a path grant stands for.
    pub workspace: Option<PathBuf>,
    /// Components taken by name from a folder that is not a plugin folder
    /// (a wasm skill's): only `NAME.wasm` is loaded from `DIR`, nothing
    /// else that lies there.
    pub single_components: Vec<(String, PathBuf)>,
    /// Whose signatures plugin components may carry, and whether they
    /// must carry one.
    pub trust: super::signing::TrustPolicy,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            engine: EngineSettings::default(),
            cache_dir: None,
            plugin_dirs: Vec::new(),
            embedded: true,
            policies: BTreeMap::new(),
            secrets: SecretStore::default(),
            memory: None,
            resolver: None,
            aliases: BTreeMap::new(),
            connections: Arc::default(),
            workspace: None,
            single_components: Vec::new(),
            trust: Default::default(),
        }
    }
}

/// Whether a slot's component serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotState {
    /// The latest version loaded and serves.
    Active,
    /// The latest version failed; an earlier one still serves.
    Stale,
    /// Nothing serves under this name.
    Failed,
    /// The operator disabled it.
    Disabled,
    /// It loaded, but the host refused to serve it: it claimed something
    /// another component (or the host) already has. `last_error` says what.
    Refused,
}

struct Slot {
    active: Option<Arc<LoadedComponent>>,
    last_error: Option<String>,
    disabled: bool,
    /// Set by [`Runtime::refuse`]; cleared by the next successful load.
    refused: bool,
}

impl Slot {
    fn empty() -> Slot {
        Slot {
            active: None,
            last_error: None,
            disabled: false,
            refused: false,
        }
    }
}

/// One row of `openpista component list`.
#[derive(Debug, Clone)]
pub struct ComponentStatus {
    pub name: String,
    pub version: Option<String>,
    pub hash: Option<String>,
    pub world: Option<World>,
    pub wit_version: Option<String>,
    pub source: Option<String>,
    /// `embedded`, `unsigned` or `signed by ed25519:…`.
    pub provenance: Option<String>,
    pub capabilities: Option<String>,
    pub tools: Vec<String>,
    pub state: SlotState,
    pub last_error: Option<String>,
}

/// Where a candidate component's bytes and manifest come from.
struct Candidate {
    wasm: std::borrow::Cow<'static, [u8]>,
    manifest: std::borrow::Cow<'static, str>,
    origin: String,
    source: Source,
    /// `NAME.sig` beside a plugin's files.
    signature: Option<String>,
    /// The build's compiled form, for an embedded component.
    precompiled: Option<&'static [u8]>,
}

/// The component runtime.
pub struct Runtime {
    engine: Engine,
    allocator: Allocator,
    _ticker: EpochTicker,
    cache: CompileCache,
    linkers: BTreeMap<World, Linker<CallState>>,
    config: RuntimeConfig,
    bounds: Bounds,
    permits: Arc<tokio::sync::Semaphore>,
    slots: RwLock<BTreeMap<String, Slot>>,
    generation: AtomicU64,
    /// The generation, for those who wait for a change ([`Runtime::changes`]).
    changed: tokio::sync::watch::Sender<u64>,
    reload_lock: tokio::sync::Mutex<()>,
    /// Tool names the host's own (native) tools hold: no component may
    /// list them.
    reserved_tools: RwLock<std::collections::BTreeSet<String>>,
}

fn linker(engine: &Engine, world: World) -> Result<Linker<CallState>> {
    use channel::openpista::plugin::{connections, host, memory};
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    host::add_to_linker::<_, HasSelf<CallState>>(&mut linker, |s| s)?;
    memory::add_to_linker::<_, HasSelf<CallState>>(&mut linker, |s| s)?;
    if world == World::Channel {
        connections::add_to_linker::<_, HasSelf<CallState>>(&mut linker, |s| s)?;
    }
    // Components built against 0.1.x import the same services under
    // their old names.
    super::v0_1::add_to_linker(&mut linker, world == World::Channel)?;
    Ok(linker)
}

impl Runtime {
    /// Builds the engine and linkers; loads nothing yet (see [`Runtime::load_all`]).
    pub fn new(config: RuntimeConfig) -> Result<Arc<Runtime>> {
        let (engine, allocator) = engine::build(&config.engine)?;
        let cache = CompileCache::new(&engine, config.cache_dir.clone())?;
        let mut linkers = BTreeMap::new();
        for world in [World::Tool, World::Provider, World::Channel] {
            linkers.insert(world, linker(&engine, world)?);
        }
        let bounds = Bounds {
            max_memory_mb: config.engine.max_memory_mb,
            resolver: config.resolver.clone().unwrap_or_else(net::system_resolver),
            tls: net::default_tls(),
            workspace: config.workspace.clone(),
        };
        Ok(Arc::new(Runtime {
            _ticker: EpochTicker::start(&engine),
            permits: Arc::new(tokio::sync::Semaphore::new(
                config.engine.max_instances as usize,
            )),
            engine,
            allocator,
            cache,
            linkers,
            config,
            bounds,
            slots: RwLock::new(BTreeMap::new()),
            generation: AtomicU64::new(0),
            changed: tokio::sync::watch::Sender::new(0),
            reload_lock: tokio::sync::Mutex::new(()),
            reserved_tools: RwLock::new(Default::default()),
        }))
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn allocator(&self) -> Allocator {
        self.allocator
    }

    pub fn cache(&self) -> &CompileCache {
        &self.cache
    }

    pub fn plugin_dirs(&self) -> &[PathBuf] {
        &self.config.plugin_dirs
    }

    /// Every folder a component may come from: the plugin folders and the
    /// folders of single components (wasm skills), for the watcher.
    pub fn watched_dirs(&self) -> Vec<PathBuf> {
        let mut dirs = self.config.plugin_dirs.clone();
        dirs.extend(self.config.single_components.iter().map(|(_, d)| d.clone()));
        dirs.sort();
        dirs.dedup();
        dirs
    }

    /// Connections held for channel components.
    pub fn connections(&self) -> &Arc<super::connections::ConnectionHub> {
        &self.config.connections
    }

    /// The memory store components' `memory` calls use, when there is one.
    pub fn memory(&self) -> Option<&Arc<MemoryStore>> {
        self.config.memory.as_ref()
    }

    /// The operator's secrets (shared: values components' grants add are
    /// seen here too, so redaction knows every one).
    pub fn secrets(&self) -> &SecretStore {
        &self.config.secrets
    }

    /// Bumped on every change of what serves; registries rebuild on change.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Changes whenever a component is loaded, swapped, refused or
    /// removed (the new generation).
    pub fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// A component's slot changed: a new generation.
    pub(crate) fn bump_generation(&self) {
        let next = self.generation.fetch_add(1, Ordering::AcqRel) + 1;
        self.changed.send_replace(next);
    }

    /// The version of `name` that serves new calls.
    pub fn get(&self, name: &str) -> Option<Arc<LoadedComponent>> {
        self.slots.read().unwrap().get(name)?.active.clone()
    }

    /// Every serving component.
    pub fn components(&self) -> Vec<Arc<LoadedComponent>> {
        self.slots
            .read()
            .unwrap()
            .values()
            .filter_map(|s| s.active.clone())
            .collect()
    }

    /// Names of every candidate: embedded and in the plugin folders.
    fn candidate_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        if self.config.embedded {
            for e in EMBEDDED {
                if let Ok(m) = Manifest::parse(e.manifest, e.package) {
                    names.push(m.name);
                }
            }
        }
        for dir in &self.config.plugin_dirs {
            names.extend(plugin_names(dir));
        }
        names.extend(self.config.single_components.iter().map(|(n, _)| n.clone()));
        names.extend(self.config.aliases.keys().cloned());
        names.sort();
        names.dedup();
        names
    }

    /// The candidate that should serve `name`: the last plugin folder that
    /// has it, else the embedded one.
    fn candidate(&self, name: &str) -> Result<Option<Candidate>> {
        if let Some(base) = self.config.aliases.get(name) {
            return self.candidate(base);
        }
        let singles = self
            .config
            .single_components
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, d)| d);
        for dir in singles.chain(self.config.plugin_dirs.iter().rev()) {
            if let Some(found) = file_candidate(dir, name)? {
                return Ok(Some(found));
            }
        }
        if self.config.embedded {
            for e in EMBEDDED {
                if Manifest::parse(e.manifest, e.package).is_ok_and(|m| m.name == name) {
                    return Ok(Some(Candidate {
                        wasm: e.wasm(),
                        manifest: e.manifest.into(),
                        origin: format!("embedded {}", e.package),
                        source: Source::Embedded,
                        signature: None,
                        precompiled: e.precompiled,
                    }));
                }
            }
        }
        Ok(None)
    }

    /// Checks and compiles a candidate (CPU-bound: run off the async path).
    fn compile(&self, name: &str, candidate: &Candidate) -> Result<LoadedComponent> {
        let mut manifest = Manifest::parse(&candidate.manifest, &candidate.origin)?;
        // Before anything is compiled: a refused signature costs nothing.
        // The signature names the component's own name, not an alias.
        let provenance = match &candidate.source {
            Source::Embedded => Provenance::Embedded,
            Source::File(_) => super::signing::verify(
                &self.config.trust,
                &manifest.name,
                &candidate.wasm,
                &candidate.manifest,
                candidate.signature.as_deref(),
            )
            .map_err(|why| anyhow::anyhow!("refused: {why}"))?,
        };
        if self.config.aliases.get(name) == Some(&manifest.name) {
            // The same component under another name and policy.
            manifest.name = name.to_string();
        }
        if manifest.name != name {
            bail!(
                "manifest {} names the component {:?}, but its file is {name}.wasm",
                candidate.origin,
                manifest.name
            );
        }
        let shape = version::read_shape(&candidate.wasm)?;
        let compat = version::check(&shape)?;
        if compat.world != manifest.world {
            bail!(
                "manifest says world {:?} but the component implements the {} world",
                manifest.world.as_str(),
                compat.world
            );
        }
        let policy = self.config.policies.get(name).cloned().unwrap_or_default();
        let grants = Grants::resolve(&manifest, &policy, &self.config.secrets, &self.bounds)
            .with_context(|| format!("[components.{name}] in the config"))?;
        let hash = content_hash(&candidate.wasm);
        let component =
            self.cache
                .load(&self.engine, &candidate.wasm, &hash, candidate.precompiled)?;
        let linker = &self.linkers[&manifest.world];
        let instance_pre = linker.instantiate_pre(&component).map_err(|e| {
            anyhow::anyhow!(
                "the component's imports cannot be satisfied: {e:#} (this host offers openpista:plugin@{} and WASI 0.2)",
                super::bindings::WIT_VERSION
            )
        })?;
        let pre = if compat.is_v0_1() {
            use super::v0_1::{self, bindings as old};
            Pre::Legacy(match manifest.world {
                World::Tool => v0_1::Pre::Tool(old::tool::ToolPre::new(instance_pre)?),
                World::Provider => {
                    v0_1::Pre::Provider(old::provider::ProviderPre::new(instance_pre)?)
                }
                World::Channel => v0_1::Pre::Channel(
                    old::channel::ChannelPre::new(instance_pre)?,
                    v0_1::channel::LiveIndices::find(&component),
                ),
            })
        } else {
            match manifest.world {
                World::Tool => Pre::Tool(tool::ToolPre::new(instance_pre)?),
                World::Provider => Pre::Provider(provider::ProviderPre::new(instance_pre)?),
                World::Channel => {
                    // Optional: a 0.2.0 channel has neither.
                    let extras = super::channel::InteractiveIndices::find(&instance_pre);
                    Pre::Channel(channel::ChannelPre::new(instance_pre)?, extras)
                }
            }
        };
        let mut config = manifest.config_strings();
        for (k, v) in &policy.config {
            config.insert(k.clone(), super::manifest::toml_to_string(v));
        }
        // A component granted the workspace learns where it is mounted.
        if let Some(w) = &self.config.workspace
            && grants.read_paths.contains(w)
        {
            config.insert("workspace".into(), w.display().to_string());
        }
        let ctx = Arc::new(ComponentContext {
            name: manifest.name.as_str().into(),
            grants,
            config,
            memory: self.config.memory.clone(),
            connections: self.config.connections.clone(),
        });
        Ok(LoadedComponent {
            manifest,
            hash,
            wit_version: compat.wit_version,
            source: candidate.source.clone(),
            provenance,
            pre,
            tools: Vec::new(),
            ctx,
            engine: self.engine.clone(),
            metered: self.config.engine.fuel,
            permits: self.permits.clone(),
            models_cache: Default::default(),
        })
    }

    /// Aliases of `name` (which must be reloaded when it changes).
    pub fn aliases_of(&self, name: &str) -> Vec<String> {
        self.config
            .aliases
            .iter()
            .filter(|(_, base)| base.as_str() == name)
            .map(|(alias, _)| alias.clone())
            .collect()
    }

    /// The component `name` is an alias of (itself when it is none).
    pub fn base_of<'a>(&'a self, name: &'a str) -> &'a str {
        self.config.aliases.get(name).map_or(name, String::as_str)
    }

    /// Status of every known name, for `openpista component list`.
    pub fn status(&self) -> Vec<ComponentStatus> {
        self.slots
            .read()
            .unwrap()
            .iter()
            .map(|(name, slot)| {
                let a = slot.active.as_ref();
                ComponentStatus {
                    name: name.clone(),
                    version: a.and_then(|c| c.manifest.version.clone()),
                    hash: a.map(|c| c.hash.clone()),
                    world: a.map(|c| c.world()),
                    wit_version: a.map(|c| c.wit_version.to_string()),
                    source: a.map(|c| c.source.to_string()),
                    provenance: a.map(|c| c.provenance.to_string()),
                    capabilities: a.map(|c| c.describe_grants()),
                    tools: a
                        .map(|c| c.tools.iter().map(|t| t.name.clone()).collect())
                        .unwrap_or_default(),
                    state: match (slot.disabled, a.is_some(), slot.last_error.is_some()) {
                        (true, _, _) => SlotState::Disabled,
                        _ if slot.refused => SlotState::Refused,
                        (_, true, false) => SlotState::Active,
                        (_, true, true) => SlotState::Stale,
                        (_, false, _) => SlotState::Failed,
                    },
                    last_error: slot.last_error.clone(),
                }
            })
            .collect()
    }
}

/// Component names (`NAME.wasm`) in a plugin folder.
/// `dir/NAME.wasm` with its manifest, when the file is there.
fn file_candidate(dir: &Path, name: &str) -> Result<Option<Candidate>> {
    let wasm = dir.join(format!("{name}.wasm"));
    if !wasm.is_file() {
        return Ok(None);
    }
    let toml = dir.join(format!("{name}.toml"));
    let manifest = std::fs::read_to_string(&toml).with_context(|| {
        format!(
            "{} has no readable manifest {} beside it",
            wasm.display(),
            toml.display()
        )
    })?;
    let bytes = std::fs::read(&wasm).with_context(|| format!("cannot read {}", wasm.display()))?;
    let sig = dir.join(format!("{name}.sig"));
    let signature = match std::fs::read_to_string(&sig) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", sig.display())),
    };
    Ok(Some(Candidate {
        wasm: bytes.into(),
        manifest: manifest.into(),
        origin: toml.display().to_string(),
        source: Source::File(wasm),
        signature,
        precompiled: None,
    }))
}

pub fn plugin_names(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let path = e.path();
            (path.extension()? == "wasm").then(|| path.file_stem()?.to_str().map(String::from))?
        })
        .collect();
    names.sort();
    names
}
