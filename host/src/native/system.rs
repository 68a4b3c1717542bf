//! `system.run`: a bash command on the host, under a deadline that kills
//! its whole process group, with stdout, stderr and exit code returned and
//! the output cut at the configured limit with a marker. The working
//! directory may be chosen within the allowed folders; the environment is
//! the host's, scrubbed of secrets.

use super::args;
use super::env::EnvScrub;
use super::process::{self, ProcessSpec};
use super::settings::SystemSettings;
use crate::runtime::CallContext;
use crate::runtime::bindings::{ToolResult, ToolSpec, WitError};
use crate::runtime::secrets::SecretStore;
use crate::tools::NativeTool;
use serde::Deserialize;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;

pub const NAME: &str = "system.run";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {
    command: String,
    #[serde(default)]
    timeout_secs: Option<f64>,
    #[serde(default)]
    cwd: Option<String>,
}

/// The `system.run` tool.
pub struct SystemRun {
    settings: SystemSettings,
    allowed: Vec<PathBuf>,
    scrub: EnvScrub,
    secrets: SecretStore,
}

impl SystemRun {
    pub fn new(settings: SystemSettings, scrub: EnvScrub) -> SystemRun {
        let allowed = settings
            .allowed_dirs
            .iter()
            .map(|d| crate::paths::expand(d))
            .map(|d| d.canonicalize().unwrap_or(d))
            .collect();
        SystemRun {
            secrets: scrub.secrets.clone(),
            settings,
            allowed,
            scrub,
        }
    }

    /// The folder a call runs in: `cwd` (relative to the default folder),
    /// which must exist and lie inside an allowed folder when any are set.
    fn working_dir(&self, cwd: Option<&str>) -> Result<Option<PathBuf>, String> {
        let base = self.allowed.first().cloned();
        let wanted = match (cwd, &base) {
            (None, _) => return Ok(base),
            (Some(c), _) if Path::new(&crate::paths::expand(c)).is_absolute() => {
                crate::paths::expand(c)
            }
            (Some(c), Some(b)) => b.join(c),
            (Some(c), None) => std::env::current_dir().unwrap_or_default().join(c),
        };
        let real = wanted
            .canonicalize()
            .map_err(|e| format!("working directory {}: {e}", wanted.display()))?;
        if !real.is_dir() {
            return Err(format!(
                "working directory {} is not a folder",
                real.display()
            ));
        }
        if !self.allowed.is_empty() && !self.allowed.iter().any(|a| real.starts_with(a)) {
            return Err(format!(
                "working directory {} is outside the allowed folders ({}); see [native.system] allowed_dirs",
                real.display(),
                self.allowed
                    .iter()
                    .map(|a| a.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        Ok(Some(real))
    }
}

impl NativeTool for SystemRun {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: NAME.into(),
            description: format!(
                "Run a bash command on the host computer and return its exit code, stdout and stderr. \
                 Output beyond {} characters is cut. The command is killed with all its children after \
                 timeout_secs (default {}, at most {}).",
                self.settings.output_limit,
                self.settings.timeout_secs,
                self.settings.max_timeout_secs
            ),
            parameters: serde_json::json!({
                "type": "object",
                "properties": {
                    "command": {"type": "string", "description": "The bash command line."},
                    "timeout_secs": {"type": "number", "description": "Deadline in seconds."},
                    "cwd": {"type": "string", "description": "Working directory."}
                },
                "required": ["command"],
                "additionalProperties": false
            })
            .to_string(),
        }
    }

    fn invoke<'a>(
        &'a self,
        arguments: &'a str,
        _context: &'a CallContext,
    ) -> Pin<Box<dyn Future<Output = Result<ToolResult, WitError>> + Send + 'a>> {
        Box::pin(async move {
            let a: Args = args::parse(NAME, arguments)?;
            if a.command.trim().is_empty() {
                return Err(WitError::InvalidInput(format!("{NAME}: command is empty")));
            }
            let cwd = self
                .working_dir(a.cwd.as_deref())
                .map_err(WitError::Denied)?;
            let spec = ProcessSpec {
                program: "bash".into(),
                args: vec!["-c".into(), a.command],
                cwd,
                env: self.scrub.host_env(),
                stdin: None,
                timeout: args::deadline(
                    a.timeout_secs,
                    self.settings.timeout_secs,
                    self.settings.max_timeout_secs,
                ),
                keep_chars: self.settings.output_limit,
            };
            let output = process::run(&spec)
                .await
                .map_err(|e| WitError::Unavailable(format!("{NAME}: cannot start bash: {e}")))?;
            let text = process::render(&output, self.settings.output_limit);
            let text = self.secrets.redact(&text).into_owned();
            Ok(if output.exit_code == Some(0) {
                args::text(text)
            } else {
                args::failure(text)
            })
        })
    }
}
