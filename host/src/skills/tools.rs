//! The tool a subprocess or container skill offers, `skill.NAME`: its
//! JSON arguments go to the program's stdin, its stdout is the result, a
//! non-zero exit or the deadline makes it an error the model sees.

use super::skill::{Mode, SkillFile};
use crate::native::container::{Containers, TaskRequest};
use crate::native::env::EnvScrub;
use crate::native::process::{self, ProcessSpec};
use crate::runtime::CallContext;
use crate::runtime::bindings::{ToolResult, ToolSpec, WitError};
use crate::tools::NativeTool;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// The deadline when the skill names none.
pub const DEFAULT_TIMEOUT_SECS: u64 = 30;
/// The longest deadline a skill may ask for.
pub const MAX_TIMEOUT_SECS: u64 = 600;
/// Characters of output the model sees.
const OUTPUT_LIMIT: usize = 10_000;

/// How a skill's tool runs.
pub enum Runner {
    /// `interpreter script` in the skill's folder.
    Subprocess {
        interpreter: &'static str,
        script: std::path::PathBuf,
        scrub: EnvScrub,
    },
    /// `command` in a fresh container.
    Container(Arc<Containers>),
}

/// `skill.NAME`.
pub struct SkillTool {
    skill: SkillFile,
    runner: Runner,
}

impl SkillTool {
    pub fn new(skill: SkillFile, runner: Runner) -> SkillTool {
        SkillTool { skill, runner }
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(
            self.skill
                .front
                .timeout_secs
                .unwrap_or(DEFAULT_TIMEOUT_SECS)
                .clamp(1, MAX_TIMEOUT_SECS),
        )
    }
}

impl NativeTool for SkillTool {
    fn outside_sandbox(&self) -> bool {
        self.skill.front.mode.outside_sandbox()
    }

    fn spec(&self) -> ToolSpec {
        let how = match self.skill.front.mode {
            Mode::Container => "runs in a container",
            _ => "runs as a program on this computer",
        };
        ToolSpec {
            name: self.skill.tool_name(),
            description: format!(
                "{} (skill {}; {how}; arguments as JSON)",
                self.skill.front.description.trim(),
                self.skill.front.name
            ),
            parameters: self
                .skill
                .front
                .parameters
                .clone()
                .unwrap_or_else(|| serde_json::json!({"type": "object"}))
                .to_string(),
        }
    }

    fn invoke<'a>(
        &'a self,
        arguments: &'a str,
        context: &'a CallContext,
    ) -> Pin<Box<dyn Future<Output = Result<ToolResult, WitError>> + Send + 'a>> {
        Box::pin(async move {
            let name = self.skill.tool_name();
            let args: serde_json::Value = serde_json::from_str(arguments).map_err(|e| {
                WitError::InvalidInput(format!("{name}: arguments are not JSON: {e}"))
            })?;
            if !args.is_object() {
                return Err(WitError::InvalidInput(format!(
                    "{name}: arguments must be a JSON object"
                )));
            }
            let stdin = args.to_string().into_bytes();
            match &self.runner {
                Runner::Subprocess {
                    interpreter,
                    script,
                    scrub,
                } => {
                    let spec = ProcessSpec {
                        program: interpreter.to_string(),
                        args: vec![script.display().to_string()],
                        cwd: Some(self.skill.dir().to_path_buf()),
                        env: scrub.host_env(),
                        stdin: Some(stdin),
                        timeout: self.timeout(),
                        keep_chars: OUTPUT_LIMIT,
                    };
                    let out = process::run(&spec).await.map_err(|e| {
                        WitError::Unavailable(format!("{name}: cannot start {interpreter}: {e}"))
                    })?;
                    let redact = |t: &str| scrub.secrets.redact(t).into_owned();
                    if out.exit_code == Some(0) {
                        let text = process::with_marker(
                            &out.stdout.text,
                            out.stdout.total_chars,
                            OUTPUT_LIMIT,
                        );
                        Ok(crate::native::args::text(redact(text.trim_end())))
                    } else {
                        Ok(crate::native::args::failure(redact(&process::render(
                            &out,
                            OUTPUT_LIMIT,
                        ))))
                    }
                }
                Runner::Container(containers) => {
                    let request = TaskRequest {
                        command: self.skill.front.command.clone().unwrap_or_default(),
                        image: self.skill.front.image.clone(),
                        task: None,
                        timeout: Some(self.timeout()),
                        network: self.skill.front.network,
                        memory_mb: None,
                        stdin: Some(stdin),
                        out_dir: None,
                        session: context.session.clone(),
                    };
                    let outcome = containers.run_task(request).await?;
                    let text = crate::native::container::tool::render(&outcome, OUTPUT_LIMIT);
                    let text = containers.scrub_secrets(&text);
                    Ok(if outcome.succeeded() {
                        crate::native::args::text(text)
                    } else {
                        crate::native::args::failure(text)
                    })
                }
            }
        })
    }
}
