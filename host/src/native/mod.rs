//! The host's native tools, the only tools not written as components:
//! `system.run` (bash), `system.notify` (desktop notifications over
//! D-Bus), `screen.capture` and `screen.ocr` (the X display), `browser.*`
//! (Chromium over CDP) and `container.run` (Docker through its API). They
//! need what a sandbox cannot give (processes, a display, the session
//! bus, a browser, the Docker socket), so each is switched and limited by
//! `[native.*]` in the configuration instead of by a component manifest,
//! and every call is recorded by [`audit`].
//!
//! - [`settings`]: the `[native]` configuration
//! - [`process`], [`env`]: running a program under a deadline with a
//!   scrubbed environment
//! - the tools: [`system`], [`notify`], [`screen`], [`ocr`],
//!   [`browser`], [`container`]
//! - [`audit`]: the call record

pub mod args;
pub mod audit;
pub mod browser;
pub mod container;
pub mod env;
pub mod notify;
pub mod ocr;
pub mod process;
pub mod screen;
pub mod settings;
pub mod system;

use crate::tools::{NativeTool, ToolRegistry};
use audit::{AuditLog, Audited};
use env::EnvScrub;
use settings::NativeSection;
use std::path::PathBuf;
use std::sync::Arc;

/// The first executable called `name` on `$PATH`.
pub fn which(name: &str) -> Option<PathBuf> {
    which_in(name, &std::env::var_os("PATH")?)
}

/// The first executable called `name` in the folders of `path` (a
/// `PATH` value).
pub fn which_in(name: &str, path: &std::ffi::OsStr) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    std::env::split_paths(path)
        .filter(|d| d.is_absolute())
        .map(|d| d.join(name))
        .find(|p| {
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// What the native tools share.
#[derive(Clone)]
pub struct NativeContext {
    pub audit: Arc<AuditLog>,
    /// Environment scrubbing, with the configured secrets for redaction.
    pub scrub: EnvScrub,
    /// The folder `container.run` mounts read-only.
    pub workspace: PathBuf,
}

/// The native tools that hold resources, for shutdown and status.
#[derive(Default)]
pub struct NativeTools {
    pub browser: Option<Arc<browser::BrowserPool>>,
    pub containers: Option<Arc<container::Containers>>,
    /// Names of the tools registered.
    pub names: Vec<String>,
}

impl NativeTools {
    /// Closes the browser and removes running containers.
    pub async fn shutdown(&self) {
        if let Some(b) = &self.browser {
            b.shutdown().await;
        }
        if let Some(c) = &self.containers {
            c.shutdown().await;
        }
    }
}

/// Adds the enabled native tools to `registry`, each wrapped in the audit
/// record. Nothing is started here: the browser launches on first use and
/// Docker is first asked on the first `container.run`.
pub fn register(
    registry: &mut ToolRegistry,
    section: &NativeSection,
    context: &NativeContext,
) -> NativeTools {
    let mut tools: Vec<Arc<dyn NativeTool>> = Vec::new();
    let mut handles = NativeTools::default();
    if section.system.enabled {
        tools.push(Arc::new(system::SystemRun::new(
            section.system.clone(),
            context.scrub.clone(),
        )));
    }
    if section.notify.enabled {
        tools.push(Arc::new(notify::SystemNotify::new(section.notify.clone())));
    }
    if section.screen.enabled {
        tools.push(Arc::new(screen::ScreenCapture::new(section.screen.clone())));
        if section.screen.ocr {
            tools.push(Arc::new(ocr::ScreenOcr::new(
                section.screen.clone(),
                context.scrub.clone(),
            )));
        }
    }
    if section.browser.enabled {
        let pool = browser::BrowserPool::new(section.browser.clone());
        tools.extend(browser::tools(&pool));
        handles.browser = Some(pool);
    }
    if section.container.enabled {
        let containers = container::Containers::new(
            section.container.clone(),
            context.scrub.clone(),
            context.workspace.clone(),
        );
        tools.extend(container::tools(&containers));
        handles.containers = Some(containers);
    }
    for tool in tools {
        handles.names.push(tool.spec().name);
        registry.add_native(Arc::new(Audited::new(
            tool,
            context.audit.clone(),
            context.scrub.secrets.clone(),
        )));
    }
    handles
}
