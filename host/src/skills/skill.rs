//! One SKILL.md: YAML front matter between `---` lines, then the Markdown
//! instructions that go into the system prompt.
//!
//! ```text
//! ---
//! name: weather-js
//! description: Current weather for a city.
//! mode: wasm                 # prompt | wasm | subprocess | container
//! component: weather-js      # wasm: NAME.wasm + NAME.toml beside SKILL.md
//! entry: run.sh              # subprocess: run.sh (bash) or main.py (python3)
//! image: tools               # container: an image of [native.container]
//! command: /skill/run.sh     # container: what runs (JSON arguments on stdin)
//! parameters: {type: object} # subprocess/container: the tool's JSON Schema
//! timeout_secs: 30           # subprocess/container deadline
//! network: false             # container: ask for network access
//! requires:
//!   bins: [jq]
//!   env: [WEATHER_KEY]
//! ---
//! When the user asks about the weather, call `weather.current`.
//! ```
//!
//! Unknown keys are kept out of the way (SKILL.md files written for other
//! agents carry their own), but the known ones are checked, and a file
//! that does not parse is reported with its path and the reason.

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// How a skill runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Instructions only.
    #[default]
    Prompt,
    /// A tool component with its capability manifest (the default for
    /// anything that runs, and the recommended one).
    Wasm,
    /// `run.sh` through bash or `main.py` through python3, on the host.
    Subprocess,
    /// A command in a fresh container through `container.run`.
    Container,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Prompt => "prompt",
            Mode::Wasm => "wasm",
            Mode::Subprocess => "subprocess",
            Mode::Container => "container",
        }
    }

    /// Whether it runs outside the WASM sandbox.
    pub fn outside_sandbox(self) -> bool {
        matches!(self, Mode::Subprocess | Mode::Container)
    }
}

/// What a skill needs from the machine.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Requires {
    /// Programs that must be on PATH.
    pub bins: Vec<String>,
    /// Environment variables that must be set.
    pub env: Vec<String>,
}

/// The front matter.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct FrontMatter {
    pub name: String,
    pub description: String,
    #[serde(default)]
    pub mode: Mode,
    /// Wasm: the component's name (default: the skill's name).
    #[serde(default)]
    pub component: Option<String>,
    /// Subprocess: the script (default: `run.sh`, else `main.py`).
    #[serde(default)]
    pub entry: Option<String>,
    /// Container: the image, a short name of `[native.container] images`
    /// (default: the configured default image).
    #[serde(default)]
    pub image: Option<String>,
    /// Container: the command run with `sh -c`.
    #[serde(default)]
    pub command: Option<String>,
    /// Subprocess/container: the tool's arguments schema.
    #[serde(default)]
    pub parameters: Option<serde_json::Value>,
    #[serde(default)]
    pub timeout_secs: Option<u64>,
    /// Container: ask for network access.
    #[serde(default)]
    pub network: bool,
    #[serde(default)]
    pub requires: Requires,
}

/// A parsed SKILL.md.
#[derive(Debug, Clone)]
pub struct SkillFile {
    /// The SKILL.md itself.
    pub path: PathBuf,
    pub front: FrontMatter,
    /// The instructions, trimmed.
    pub body: String,
}

impl SkillFile {
    /// The folder the skill lives in.
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    /// The component a wasm skill runs.
    pub fn component(&self) -> &str {
        self.front.component.as_deref().unwrap_or(&self.front.name)
    }

    /// The name of the tool a subprocess or container skill offers.
    pub fn tool_name(&self) -> String {
        format!("skill.{}", self.front.name)
    }

    /// Reads and parses `path`.
    pub fn read(path: &Path) -> Result<SkillFile> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        Self::parse(&text, path)
    }

    /// Parses SKILL.md text; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<SkillFile> {
        let origin = path.display();
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let rest = text
            .strip_prefix("---\n")
            .or_else(|| text.strip_prefix("---\r\n"))
            .with_context(|| {
                format!("{origin}: a SKILL.md starts with front matter between `---` lines")
            })?;
        let end = rest
            .find("\n---")
            .with_context(|| format!("{origin}: the front matter has no closing `---` line"))?;
        let yaml = &rest[..end];
        let body = rest[end + 4..].trim_start_matches(['-']).trim().to_string();
        let front: FrontMatter = serde_norway::from_str(yaml)
            .map_err(|e| anyhow::anyhow!("{origin}: front matter: {e}"))?;
        crate::runtime::manifest::validate_name(&front.name)
            .with_context(|| format!("{origin}: name {:?}", front.name))?;
        if front.description.trim().is_empty() {
            bail!("{origin}: description is empty; the model chooses skills by it");
        }
        if let Some(c) = &front.component {
            crate::runtime::manifest::validate_name(c)
                .with_context(|| format!("{origin}: component {c:?}"))?;
        }
        match front.mode {
            Mode::Container if front.command.as_deref().is_none_or(|c| c.trim().is_empty()) => {
                bail!("{origin}: mode container needs `command` (what the container runs)")
            }
            Mode::Subprocess => {
                if let Some(e) = &front.entry
                    && (e.contains('/') || e.contains(".."))
                {
                    bail!("{origin}: entry {e:?} must be a file beside SKILL.md");
                }
            }
            _ => {}
        }
        if let Some(p) = &front.parameters
            && p.get("type").and_then(|t| t.as_str()) != Some("object")
        {
            bail!("{origin}: parameters must be a JSON Schema of type object");
        }
        Ok(SkillFile {
            path: path.to_path_buf(),
            front,
            body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<SkillFile> {
        SkillFile::parse(text, Path::new("/s/x/SKILL.md"))
    }

    #[test]
    fn front_matter_and_body_are_read() {
        let s = parse(
            "---\nname: weather\ndescription: The weather.\nmode: wasm\nrequires:\n  bins: [curl]\n  env: [KEY]\nlicense: MIT\n---\n\nCall `weather.current`.\n",
        )
        .unwrap();
        assert_eq!(s.front.mode, Mode::Wasm);
        assert_eq!(s.component(), "weather");
        assert_eq!(s.front.requires.bins, ["curl"]);
        assert_eq!(s.front.requires.env, ["KEY"]);
        assert_eq!(s.body, "Call `weather.current`.");
        assert_eq!(s.dir(), Path::new("/s/x"));
        let p = parse("---\nname: notes\ndescription: d\n---\nbody").unwrap();
        assert_eq!(p.front.mode, Mode::Prompt, "prompt is the default");
    }

    #[test]
    fn bad_files_say_where_and_what() {
        let e = |t: &str| format!("{:#}", parse(t).unwrap_err());
        assert!(e("no front matter").contains("starts with front matter"));
        assert!(e("---\nname: a\n").contains("no closing"));
        let m = e("---\nname: a\ndescription: d\nmode: teleport\n---\n");
        assert!(m.contains("/s/x/SKILL.md") && m.contains("teleport"), "{m}");
        assert!(e("---\nname: A B\ndescription: d\n---\n").contains("name"));
        assert!(e("---\nname: a\ndescription: \"\"\n---\n").contains("description"));
        assert!(e("---\nname: a\ndescription: d\nmode: container\n---\n").contains("command"));
        assert!(
            e("---\nname: a\ndescription: d\nmode: subprocess\nentry: ../x.sh\n---\n")
                .contains("beside SKILL.md")
        );
        assert!(
            e("---\nname: a\ndescription: d\nparameters: {type: string}\n---\n").contains("object")
        );
    }
}
