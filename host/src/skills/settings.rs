//! `[skills]`: where SKILL.md skills are found and what each may reach.
//! A skill gets nothing its `[skills.allow.NAME]` table does not grant:
//! no host, secret or folder beyond it, and no run outside the WASM
//! sandbox (subprocess and container modes) without `outside_sandbox`.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// `[skills]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SkillsSection {
    pub enabled: bool,
    /// Folders searched for SKILL.md (recursively), besides the workspace.
    pub dirs: Vec<String>,
    /// Search the workspace too (`$OPENPISTA_WORKSPACE`, else the current
    /// folder).
    pub workspace: bool,
    /// What each skill may reach, by skill name.
    pub allow: BTreeMap<String, SkillGrant>,
}

impl Default for SkillsSection {
    fn default() -> Self {
        SkillsSection {
            enabled: true,
            dirs: vec!["~/.openpista/skills".into()],
            workspace: true,
            allow: BTreeMap::new(),
        }
    }
}

/// `[skills.allow.NAME]`: the operator's grant to one skill.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SkillGrant {
    /// Outbound hosts its component may reach.
    pub hosts: Vec<String>,
    /// Secrets its component may place in requests.
    pub secrets: Vec<String>,
    /// Folders its component may read (`$WORKSPACE` for the workspace).
    pub paths: Vec<String>,
    /// Let it run as a subprocess or in a container: outside the WASM
    /// sandbox, with what those give.
    pub outside_sandbox: bool,
    /// Container mode: let its container have network access.
    pub network: bool,
}

/// What finding and admitting skills needs from the rest of the
/// configuration, gathered by the wiring (`cli`): the skills module reads
/// no other module's settings.
#[derive(Debug, Clone, Default)]
pub struct SkillsSetup {
    pub section: SkillsSection,
    /// The folder `$WORKSPACE` stands for; none at the file system's root.
    pub workspace: Option<PathBuf>,
    /// Whether the embedded components load (their names are taken).
    pub embedded_components: bool,
    /// The plugin folders (the names of their components are taken).
    pub plugin_dirs: Vec<PathBuf>,
}
