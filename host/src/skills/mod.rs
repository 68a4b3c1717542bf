//! Skills: folders with a `SKILL.md` whose instructions join the system
//! prompt and which may bring a tool, run one of four ways
//! ([`skill::Mode`]): `prompt` (instructions only), `wasm` (a tool
//! component beside the SKILL.md, the default for anything that runs),
//! `subprocess` (`run.sh` or `main.py`) and `container` (through
//! `container.run`).
//!
//! - [`skill`]: parsing a SKILL.md
//! - [`discover`]: finding them below the workspace and the skill folders
//! - [`check`]: requirements and grants; a skill that fails is listed as
//!   unavailable with the reason, never half-loaded
//! - [`tools`]: the `skill.NAME` tool of subprocess and container skills
//! - [`watch`]: reloading when a SKILL.md changes
//!
//! A wasm skill's component is loaded by the runtime like a plugin (its
//! folder is added to the plugin folders, so replacing the `.wasm` hot
//! swaps it) under a policy narrowed to the skill's grant.

pub mod check;
pub mod discover;
pub mod settings;
pub mod skill;
pub mod tools;
pub mod watch;

use crate::native::container::Containers;
use crate::native::env::EnvScrub;
use crate::runtime::Runtime;
use crate::runtime::capabilities::ComponentPolicy;
use crate::runtime::manifest::Manifest;
use crate::tools::NativeTool;
use check::HostFacts;
pub use settings::{SkillGrant, SkillsSection, SkillsSetup};
use skill::{Mode, SkillFile};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

/// The skills' instructions as the system prompt includes them; shared
/// with the agent's settings and replaced on reload.
#[derive(Debug, Clone, Default)]
pub struct SkillContext(Arc<RwLock<String>>);

impl SkillContext {
    pub fn get(&self) -> String {
        self.0.read().unwrap().clone()
    }

    pub fn set(&self, text: String) {
        *self.0.write().unwrap() = text;
    }
}

/// Longest skill context put in the system prompt, in characters.
const CONTEXT_LIMIT: usize = 24_000;

/// One skill as found.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Skill {
    pub name: String,
    pub path: PathBuf,
    pub mode: Option<Mode>,
    pub description: String,
    /// Why it cannot run; `None` when it is available.
    pub unavailable: Option<String>,
    /// What it may reach, in words.
    pub reach: String,
    /// The tools it brings (names), when available.
    pub tools: Vec<String>,
    /// Its component, for wasm skills.
    pub component: Option<String>,
    /// The instructions.
    pub body: String,
}

#[derive(Default)]
struct Snapshot {
    skills: Vec<Skill>,
    tools: Vec<Arc<dyn NativeTool>>,
    /// Components of unavailable wasm skills (component → why).
    hidden: BTreeMap<String, String>,
}

/// The skills of this host, reloadable.
pub struct SkillSet {
    roots: Vec<PathBuf>,
    /// Components of wasm skills the runtime was given at start.
    admitted: std::collections::BTreeSet<String>,
    /// Names of components that are not skills' (embedded, plugins).
    taken: std::collections::BTreeSet<String>,
    allow: BTreeMap<String, SkillGrant>,
    scrub: EnvScrub,
    containers: Option<Arc<Containers>>,
    runtime: Option<Arc<Runtime>>,
    context: SkillContext,
    current: RwLock<Snapshot>,
}

/// Where `config` looks for skills: the workspace (when enabled), then
/// `[skills] dirs`.
pub fn roots(config: &SkillsSetup) -> Vec<PathBuf> {
    if !config.section.enabled {
        return Vec::new();
    }
    // The operator's own skill folders first: a skill of the same name in
    // the workspace (a cloned repository, say) does not take its place, or
    // its grant.
    let mut roots: Vec<PathBuf> = config
        .section
        .dirs
        .iter()
        .map(|d| crate::paths::expand(d))
        .collect();
    if config.section.workspace
        && let Some(w) = &config.workspace
    {
        roots.push(w.clone());
    }
    roots
}

/// Whether `name` is already a component's: embedded or in a configured
/// plugin folder. A skill's component may not take such a name.
fn taken(config: &SkillsSetup, name: &str) -> bool {
    let embedded = config.embedded_components
        && crate::runtime::registry::EMBEDDED
            .iter()
            .any(|e| e.package == name);
    embedded
        || config
            .plugin_dirs
            .iter()
            .any(|d| d.join(format!("{name}.wasm")).is_file())
}

/// Wasm skills whose component may be loaded: (folder, component name,
/// policy narrowed to the grant). The runtime is built with these before
/// any skill is checked in full, and loads only `NAME.wasm` from each
/// folder. The first skill of a name wins, as in [`SkillSet::reload`].
pub fn components(config: &SkillsSetup) -> Vec<(PathBuf, String, ComponentPolicy)> {
    let mut out = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for path in discover::find(&roots(config)) {
        let Ok(file) = SkillFile::read(&path) else {
            continue;
        };
        if !seen.insert(file.front.name.clone()) || file.front.mode != Mode::Wasm {
            continue;
        }
        if taken(config, file.component()) {
            tracing::warn!(
                skill = %file.front.name,
                "the skill's component name {} is already taken; the skill is not loaded",
                file.component()
            );
            continue;
        }
        let grant = config
            .section
            .allow
            .get(&file.front.name)
            .cloned()
            .unwrap_or_default();
        let facts = HostFacts {
            has_bin: &|_| true,
            has_env: &|_| true,
            container: &|_| Ok(()),
        };
        if check::check(&file, &grant, &facts).is_ok() {
            let policy = ComponentPolicy {
                hosts: Some(grant.hosts.clone()),
                secrets: Some(grant.secrets.clone()),
                paths: Some(grant.paths.iter().map(PathBuf::from).collect()),
                ..ComponentPolicy::default()
            };
            out.push((
                file.dir().to_path_buf(),
                file.component().to_string(),
                policy,
            ));
        }
    }
    out
}

impl SkillSet {
    /// Finds and checks the skills `config` describes. `containers` runs
    /// container skills (none when `container.run` is disabled); `runtime`
    /// tells whether a wasm skill's component loaded.
    pub fn load(
        config: &SkillsSetup,
        scrub: EnvScrub,
        containers: Option<Arc<Containers>>,
        runtime: Option<Arc<Runtime>>,
    ) -> Arc<SkillSet> {
        let admitted: std::collections::BTreeSet<String> =
            components(config).into_iter().map(|(_, c, _)| c).collect();
        let mut taken_names = std::collections::BTreeSet::new();
        for path in discover::find(&roots(config)) {
            if let Ok(f) = SkillFile::read(&path)
                && f.front.mode == Mode::Wasm
                && taken(config, f.component())
            {
                taken_names.insert(f.component().to_string());
            }
        }
        let set = Arc::new(SkillSet {
            roots: roots(config),
            admitted,
            taken: taken_names,
            allow: config.section.allow.clone(),
            scrub,
            containers,
            runtime,
            context: SkillContext::default(),
            current: RwLock::new(Snapshot::default()),
        });
        set.reload();
        set
    }

    /// The instructions for the system prompt (shared: reloads replace
    /// them in place).
    pub fn context(&self) -> SkillContext {
        self.context.clone()
    }

    /// The folders searched.
    pub fn roots(&self) -> &[PathBuf] {
        &self.roots
    }

    /// Reads every SKILL.md again and replaces what is served.
    pub fn reload(&self) {
        let mut skills = Vec::new();
        let mut tools: Vec<Arc<dyn NativeTool>> = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for path in discover::find(&self.roots) {
            let skill = match SkillFile::read(&path) {
                Ok(file) if !seen.insert(file.front.name.clone()) => Skill {
                    unavailable: Some(format!(
                        "another skill is already called {}; this one is ignored",
                        file.front.name
                    )),
                    ..self.describe(&file, None)
                },
                Ok(file) => self.admit(file, &mut tools),
                Err(e) => Skill {
                    name: path
                        .parent()
                        .and_then(|d| d.file_name())
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                    path: path.clone(),
                    mode: None,
                    description: String::new(),
                    unavailable: Some(format!("{e:#}")),
                    reach: "nothing (not loaded)".into(),
                    tools: Vec::new(),
                    component: None,
                    body: String::new(),
                },
            };
            if let Some(why) = &skill.unavailable {
                tracing::info!(skill = %skill.name, "skill unavailable: {why}");
            }
            skills.push(skill);
        }
        // A skill component the runtime loaded is callable only while its
        // skill is available: unavailable, or its SKILL.md gone, it is
        // hidden with the reason.
        let hidden = self
            .admitted
            .iter()
            .filter_map(|c| {
                let owner = skills.iter().find(|s| s.component.as_deref() == Some(c));
                match owner {
                    Some(s) if s.unavailable.is_none() => None,
                    Some(s) => Some((
                        c.clone(),
                        format!(
                            "skill {} is unavailable: {}",
                            s.name,
                            s.unavailable.as_deref().unwrap_or("")
                        ),
                    )),
                    None => Some((c.clone(), format!("the skill of {c} is gone"))),
                }
            })
            .collect();
        self.context.set(render_context(&skills));
        *self.current.write().unwrap() = Snapshot {
            skills,
            tools,
            hidden,
        };
    }

    fn describe(&self, file: &SkillFile, manifest: Option<&Manifest>) -> Skill {
        let grant = self.grant(&file.front.name);
        Skill {
            name: file.front.name.clone(),
            path: file.path.clone(),
            mode: Some(file.front.mode),
            description: file.front.description.trim().to_string(),
            unavailable: None,
            reach: check::describe_reach(file, manifest, &grant),
            tools: Vec::new(),
            component: (file.front.mode == Mode::Wasm).then(|| file.component().to_string()),
            body: file.body.clone(),
        }
    }

    fn grant(&self, name: &str) -> SkillGrant {
        self.allow.get(name).cloned().unwrap_or_default()
    }

    /// Checks `file` and, when it passes, makes its tool.
    fn admit(&self, file: SkillFile, tools: &mut Vec<Arc<dyn NativeTool>>) -> Skill {
        let grant = self.grant(&file.front.name);
        let containers = self.containers.clone();
        let container_check = move |image: Option<&str>| match &containers {
            None => Err("container.run is disabled ([native.container] enabled = false)".into()),
            Some(c) => c
                .resolve_image(image)
                .map(|_| ())
                .map_err(|e| crate::runtime::bindings::error_text(&e)),
        };
        let facts = HostFacts {
            has_bin: &|b| crate::native::which(b).is_some(),
            has_env: &|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()),
            container: &container_check,
        };
        let manifest = match check::check(&file, &grant, &facts) {
            Ok(m) => m,
            Err(why) => {
                return Skill {
                    unavailable: Some(why),
                    ..self.describe(&file, None)
                };
            }
        };
        let mut skill = self.describe(&file, manifest.as_ref());
        match file.front.mode {
            Mode::Prompt => {}
            Mode::Wasm => {
                let component = file.component().to_string();
                if self.taken.contains(&component) {
                    skill.unavailable = Some(format!(
                        "its component name {component} is already an embedded or plugin component's; rename it"
                    ));
                    return skill;
                }
                if self.runtime.is_some() && !self.admitted.contains(&component) {
                    skill.unavailable = Some(format!(
                        "its component {component} was not there at start; restart the host to load new skill folders"
                    ));
                    return skill;
                }
                let loaded = self.runtime.as_ref().and_then(|r| r.get(&component));
                match (loaded, &self.runtime) {
                    (Some(c), _) => skill.tools = c.tools.iter().map(|t| t.name.clone()).collect(),
                    (None, Some(runtime)) => {
                        let why = runtime
                            .status()
                            .into_iter()
                            .find(|s| s.name == component)
                            .and_then(|s| s.last_error)
                            .unwrap_or_else(|| {
                                "it was not there at start; restart the host to load new skill folders"
                                    .into()
                            });
                        skill.unavailable =
                            Some(format!("its component {component} is not loaded: {why}"));
                    }
                    (None, None) => {}
                }
            }
            Mode::Subprocess => match check::subprocess_entry(&file) {
                Ok((interpreter, script)) => {
                    skill.tools = vec![file.tool_name()];
                    tools.push(Arc::new(tools::SkillTool::new(
                        file,
                        tools::Runner::Subprocess {
                            interpreter,
                            script,
                            scrub: self.scrub.clone(),
                        },
                    )));
                }
                Err(why) => skill.unavailable = Some(why),
            },
            Mode::Container => {
                if let Some(c) = &self.containers {
                    skill.tools = vec![file.tool_name()];
                    tools.push(Arc::new(tools::SkillTool::new(
                        file,
                        tools::Runner::Container(c.clone()),
                    )));
                }
            }
        }
        skill
    }

    /// Every skill found, available or not.
    pub fn skills(&self) -> Vec<Skill> {
        self.current.read().unwrap().skills.clone()
    }

    /// The tools of the available subprocess and container skills.
    pub fn tools(&self) -> Vec<Arc<dyn NativeTool>> {
        self.current.read().unwrap().tools.clone()
    }

    /// Components of wasm skills that are not available now: their tools
    /// are hidden from the agent, with the reason.
    pub fn hidden_components(&self) -> BTreeMap<String, String> {
        self.current.read().unwrap().hidden.clone()
    }
}

/// The system prompt's skills section: each available skill's name,
/// description and instructions.
fn render_context(skills: &[Skill]) -> String {
    let available: Vec<&Skill> = skills.iter().filter(|s| s.unavailable.is_none()).collect();
    if available.is_empty() {
        return String::new();
    }
    let mut text = String::from(
        "# Skills\nYou have these skills. When a request matches one, follow its instructions.\n",
    );
    for s in available {
        let mut section = format!("\n## {}\n{}\n", s.name, s.description);
        if !s.tools.is_empty() {
            section.push_str(&format!("Tools: {}\n", s.tools.join(", ")));
        }
        if !s.body.is_empty() {
            section.push('\n');
            section.push_str(&s.body);
            section.push('\n');
        }
        if text.chars().count() + section.chars().count() > CONTEXT_LIMIT {
            text.push_str("\n(more skills are installed than fit here)\n");
            break;
        }
        text.push_str(&section);
    }
    text
}

impl crate::tools::ToolProvider for SkillSet {
    fn tools(&self) -> Vec<Arc<dyn NativeTool>> {
        SkillSet::tools(self)
    }

    fn hidden_components(&self) -> BTreeMap<String, String> {
        SkillSet::hidden_components(self)
    }
}
