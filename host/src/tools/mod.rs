//! One registry for every tool the agent can call: tools exported by
//! component (the default, sandboxed) and the host's few native tools
//! (shell, screen, browser, containers). The agent sees one list and calls
//! by name; it never needs to know which kind answered.

use crate::runtime::bindings::{ToolResult, ToolSpec, WitError};
use crate::runtime::{CallContext, CallError, Runtime};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// A tool implemented in the host itself.
pub trait NativeTool: Send + Sync + 'static {
    /// How the model sees the tool.
    fn spec(&self) -> ToolSpec;
    /// Runs the tool with JSON `arguments`.
    fn invoke<'a>(
        &'a self,
        arguments: &'a str,
        context: &'a CallContext,
    ) -> Pin<Box<dyn Future<Output = Result<ToolResult, WitError>> + Send + 'a>>;
    /// Whether it acts on the computer outside any sandbox (the default:
    /// native tools do; a skill in a container does not).
    fn outside_sandbox(&self) -> bool {
        true
    }
    /// Who answers it, as listings show; a provider's tool says so
    /// (the default: a skill named after the tool).
    fn source(&self) -> ToolSource {
        ToolSource::Skill {
            name: self.spec().name.trim_start_matches("skill.").to_string(),
        }
    }
}

/// What kind of tool a call goes to, which decides how careful the
/// approval policy is by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolKind {
    /// A tool a WASM component exports: sandboxed, capability-limited.
    Component,
    /// A native tool of the host (shell, screen, browser, containers).
    Native,
    /// A tool a [`ToolProvider`] serves (a skill's, an MCP server's);
    /// `outside_sandbox` when it runs as a plain process on this machine.
    Skill { outside_sandbox: bool },
}

/// A source of tools besides components and natives (the skill set, the
/// MCP servers). The
/// registry asks it on every listing, so a reloaded set shows at once; it
/// knows nothing else of it.
pub trait ToolProvider: Send + Sync {
    /// Its tools now.
    fn tools(&self) -> Vec<Arc<dyn NativeTool>>;
    /// Components it hides from the agent right now, with why (the wasm
    /// skill that lends them is unavailable).
    fn hidden_components(&self) -> BTreeMap<String, String> {
        BTreeMap::new()
    }
}

/// Who answers a tool.
#[derive(Debug, Clone, PartialEq)]
pub enum ToolSource {
    Native,
    Component {
        name: String,
        hash: String,
    },
    /// A subprocess or container skill's `skill.NAME`.
    Skill {
        name: String,
    },
    /// A tool of MCP server `server` (`mcp.SERVER.TOOL`).
    Mcp {
        server: String,
    },
}

/// A tool in the list the agent sees.
#[derive(Debug, Clone)]
pub struct ToolEntry {
    pub spec: ToolSpec,
    pub source: ToolSource,
}

/// A native tool with its entry, built once when it is added: its spec
/// depends only on settings fixed by then, and rebuilding the JSON schemas
/// on every listing was a sixth of the server's CPU per turn
/// (BENCHMARKS.md, issue 18).
struct Native {
    entry: ToolEntry,
    tool: Arc<dyn NativeTool>,
}

/// Component and native tools under one interface.
pub struct ToolRegistry {
    runtime: Arc<Runtime>,
    natives: BTreeMap<String, Native>,
    /// Further sources (the skills: their subprocess and container tools,
    /// and the components of unavailable wasm skills to hide).
    providers: Vec<Arc<dyn ToolProvider>>,
}

impl ToolRegistry {
    pub fn new(runtime: Arc<Runtime>) -> ToolRegistry {
        ToolRegistry {
            runtime,
            natives: BTreeMap::new(),
            providers: Vec::new(),
        }
    }

    /// Serves `provider`'s tools beside the others.
    pub fn add_provider(&mut self, provider: Arc<dyn ToolProvider>) {
        self.providers.push(provider);
    }

    fn skill_tools(&self) -> Vec<Arc<dyn NativeTool>> {
        self.providers.iter().flat_map(|p| p.tools()).collect()
    }

    fn hidden(&self) -> BTreeMap<String, String> {
        self.providers
            .iter()
            .flat_map(|p| p.hidden_components())
            .collect()
    }

    /// Adds a native tool. Native names are reserved: a component listing
    /// the same name is refused (visibly, in `component list`), so no
    /// plugin can impersonate `system.run`.
    pub fn add_native(&mut self, tool: Arc<dyn NativeTool>) {
        let spec = tool.spec();
        let name = spec.name.clone();
        self.runtime.reserve_tool(&name);
        let entry = ToolEntry {
            spec,
            source: ToolSource::Native,
        };
        self.natives.insert(name, Native { entry, tool });
    }

    /// Every tool, sorted by name.
    pub fn list(&self) -> Vec<ToolEntry> {
        let mut entries: BTreeMap<String, ToolEntry> = self
            .natives
            .iter()
            .map(|(name, native)| (name.clone(), native.entry.clone()))
            .collect();
        for tool in self.skill_tools() {
            let spec = tool.spec();
            if entries.contains_key(&spec.name) {
                continue;
            }
            entries.insert(
                spec.name.clone(),
                ToolEntry {
                    spec,
                    source: tool.source(),
                },
            );
        }
        let hidden = self.hidden();
        for component in self.runtime.components() {
            if hidden.contains_key(component.name()) {
                continue;
            }
            for spec in &component.tools {
                if let Some(existing) = entries.get(&spec.name) {
                    tracing::warn!(
                        "tool {} of component {} is hidden by {:?}",
                        spec.name,
                        component.name(),
                        existing.source
                    );
                    continue;
                }
                entries.insert(
                    spec.name.clone(),
                    ToolEntry {
                        spec: spec.clone(),
                        source: ToolSource::Component {
                            name: component.name().to_string(),
                            hash: component.hash.clone(),
                        },
                    },
                );
            }
        }
        entries.into_values().collect()
    }

    /// What kind of tool `name` is, as [`ToolRegistry::invoke`] would
    /// find it.
    pub fn kind(&self, name: &str) -> ToolKind {
        if self.natives.contains_key(name) {
            return ToolKind::Native;
        }
        if let Some(tool) = self
            .skill_tools()
            .into_iter()
            .find(|t| t.spec().name == name)
        {
            return ToolKind::Skill {
                outside_sandbox: tool.outside_sandbox(),
            };
        }
        ToolKind::Component
    }

    /// Calls tool `name`. A component tool runs in a fresh instance of the
    /// component version serving at the moment of the call.
    pub async fn invoke(
        &self,
        name: &str,
        arguments: &str,
        context: &CallContext,
    ) -> Result<ToolResult, CallError> {
        if let Some(native) = self.natives.get(name) {
            return native
                .tool
                .invoke(arguments, context)
                .await
                .map_err(CallError::Guest);
        }
        if let Some(tool) = self
            .skill_tools()
            .into_iter()
            .find(|t| t.spec().name == name)
        {
            return tool
                .invoke(arguments, context)
                .await
                .map_err(CallError::Guest);
        }
        let hidden = self.hidden();
        let mut owners = self
            .runtime
            .components()
            .into_iter()
            .filter(|c| c.tools.iter().any(|t| t.name == name));
        let (visible, hidden_owner): (Vec<_>, Vec<_>) = owners
            .by_ref()
            .partition(|c| !hidden.contains_key(c.name()));
        match visible.into_iter().next() {
            Some(component) => component.invoke(name, arguments, context).await,
            None if !hidden_owner.is_empty() => Err(CallError::NotLoaded(format!(
                "tool {name}: {}",
                hidden[hidden_owner[0].name()]
            ))),
            None => Err(CallError::NotLoaded(format!("tool {name}"))),
        }
    }
}
