//! `[native.*]`: what the operator lets each native tool do. Every tool
//! can be switched off; each has its own limits. Defaults are what a
//! single-user machine expects: every tool on, the shell with a 30 s
//! deadline, containers without network. (Outside the local terminal a
//! native call still waits for a person's approval by default:
//! `approvals::policy`.)

use serde::Deserialize;
use std::collections::BTreeMap;

/// The `[native]` table.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct NativeSection {
    pub system: SystemSettings,
    pub screen: ScreenSettings,
    pub browser: BrowserSettings,
    pub container: ContainerSettings,
    pub notify: NotifySettings,
}

/// `[native.system]`: `system.run`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SystemSettings {
    pub enabled: bool,
    /// Deadline when the call names none, seconds.
    pub timeout_secs: u64,
    /// Longest deadline a call may ask for, seconds.
    pub max_timeout_secs: u64,
    /// Characters of output kept (stdout and stderr together).
    pub output_limit: usize,
    /// Working directories a call may use (and their subfolders); empty
    /// means any. The first one is the default working directory.
    pub allowed_dirs: Vec<String>,
    /// Extra environment variables removed before the shell starts (the
    /// configured secrets' variables and names that look like keys,
    /// tokens and passwords are always removed).
    pub scrub_env: Vec<String>,
}

impl Default for SystemSettings {
    fn default() -> Self {
        SystemSettings {
            enabled: true,
            timeout_secs: 30,
            max_timeout_secs: 600,
            output_limit: 10_000,
            allowed_dirs: Vec::new(),
            scrub_env: Vec::new(),
        }
    }
}

/// `[native.screen]`: `screen.capture` and `screen.ocr`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScreenSettings {
    /// Both screen tools; `ocr` switches `screen.ocr` alone.
    pub enabled: bool,
    /// X display to capture (`:0`); `$DISPLAY` when unset.
    pub display: Option<String>,
    /// `screen.ocr` too (it runs the `tesseract` command).
    pub ocr: bool,
    /// Tesseract languages when a call names none (`eng`, `eng+deu`).
    pub ocr_lang: String,
    /// Deadline of one recognition, seconds.
    pub ocr_timeout_secs: u64,
}

impl Default for ScreenSettings {
    fn default() -> Self {
        ScreenSettings {
            enabled: true,
            display: None,
            ocr: true,
            ocr_lang: "eng".into(),
            ocr_timeout_secs: 60,
        }
    }
}

/// `[native.notify]`: `system.notify`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotifySettings {
    pub enabled: bool,
    /// D-Bus address of the session bus (`unix:path=/run/user/1000/bus`);
    /// `$DBUS_SESSION_BUS_ADDRESS`, else `$XDG_RUNTIME_DIR/bus`, when unset.
    pub bus_address: Option<String>,
    /// The application name notifications carry.
    pub app_name: String,
}

impl Default for NotifySettings {
    fn default() -> Self {
        NotifySettings {
            enabled: true,
            bus_address: None,
            app_name: "openpista".into(),
        }
    }
}

/// `[native.browser]`: `browser.*`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BrowserSettings {
    pub enabled: bool,
    /// Chromium or Chrome binary; searched on PATH when unset.
    pub executable: Option<String>,
    /// Run without a window (the default; a server has no display).
    pub headless: bool,
    /// Deadline of one browser call, seconds.
    pub timeout_secs: u64,
    /// Viewport size of new pages.
    pub width: u32,
    pub height: u32,
    /// Extra command-line flags for the browser.
    pub args: Vec<String>,
}

impl Default for BrowserSettings {
    fn default() -> Self {
        BrowserSettings {
            enabled: true,
            executable: None,
            headless: true,
            timeout_secs: 30,
            width: 1280,
            height: 800,
            args: Vec::new(),
        }
    }
}

/// What `container.run` does when no Docker daemon answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContainerFallback {
    /// Run the command as a subprocess of the host, with a warning in the
    /// result (no isolation: the operator accepts that by leaving this on).
    Subprocess,
    /// Fail the call.
    Off,
}

/// `[native.container]`: `container.run`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ContainerSettings {
    pub enabled: bool,
    /// Docker API endpoint (`unix:///var/run/docker.sock`,
    /// `tcp://127.0.0.1:2375`); `$DOCKER_HOST` or the local socket when unset.
    pub docker_host: Option<String>,
    /// Image for tasks that name none.
    pub image: String,
    /// Further images a call (or a skill) may ask for, by short name.
    pub images: BTreeMap<String, String>,
    /// Whether a call may ask for network access at all.
    pub allow_network: bool,
    /// Memory cap per container, MiB.
    pub memory_mb: u64,
    /// CPU cap per container, in cores.
    pub cpus: f64,
    /// Process cap per container.
    pub pids_limit: i64,
    /// Deadline when the call names none, seconds.
    pub timeout_secs: u64,
    /// Longest deadline a call may ask for, seconds.
    pub max_timeout_secs: u64,
    /// Folder mounted read-only at `/workspace`; the workspace
    /// (`$OPENPISTA_WORKSPACE`, else the current folder) when unset.
    pub workspace: Option<String>,
    /// Characters of output kept.
    pub output_limit: usize,
    pub fallback: ContainerFallback,
    /// The program mounted at `/openpista/bin/openpista` so a worker can
    /// run `openpista worker report`: `"auto"` (this program, when it is
    /// statically linked, as release builds are), `"off"`, or the path of
    /// a static build.
    pub worker_client: String,
    /// Seconds after a task ended (or the host stopped under it) during
    /// which its reports are still taken.
    pub report_grace_secs: u64,
    /// Worker tasks kept in the history (`openpista worker list`).
    pub worker_history: usize,
}

impl Default for ContainerSettings {
    fn default() -> Self {
        ContainerSettings {
            enabled: true,
            docker_host: None,
            image: "debian:stable-slim".into(),
            images: BTreeMap::new(),
            allow_network: false,
            memory_mb: 512,
            cpus: 1.0,
            pids_limit: 256,
            timeout_secs: 300,
            max_timeout_secs: 3600,
            workspace: None,
            output_limit: 10_000,
            fallback: ContainerFallback::Subprocess,
            worker_client: "auto".into(),
            report_grace_secs: 86_400,
            worker_history: 500,
        }
    }
}

impl NativeSection {
    /// Checks values serde cannot: `origin` names the file in errors.
    pub fn validate(&self, origin: &str) -> anyhow::Result<()> {
        let positive = [
            ("native.system.timeout_secs", self.system.timeout_secs),
            (
                "native.system.max_timeout_secs",
                self.system.max_timeout_secs,
            ),
            ("native.browser.timeout_secs", self.browser.timeout_secs),
            ("native.container.timeout_secs", self.container.timeout_secs),
            (
                "native.container.max_timeout_secs",
                self.container.max_timeout_secs,
            ),
            ("native.container.memory_mb", self.container.memory_mb),
            (
                "native.screen.ocr_timeout_secs",
                self.screen.ocr_timeout_secs,
            ),
        ];
        for (key, value) in positive {
            if value == 0 {
                anyhow::bail!("{origin}: {key} must be at least 1");
            }
        }
        if self.system.timeout_secs > self.system.max_timeout_secs {
            anyhow::bail!(
                "{origin}: native.system.timeout_secs ({}) exceeds native.system.max_timeout_secs ({})",
                self.system.timeout_secs,
                self.system.max_timeout_secs
            );
        }
        if let Err(why) = super::ocr::check_lang(&self.screen.ocr_lang) {
            anyhow::bail!("{origin}: native.screen.ocr_lang: {why}");
        }
        if !(self.container.cpus > 0.0 && self.container.cpus.is_finite()) {
            anyhow::bail!("{origin}: native.container.cpus must be a positive number of cores");
        }
        if self.container.memory_mb < 6 {
            // Docker refuses caps under 6 MiB with a less clear message.
            anyhow::bail!("{origin}: native.container.memory_mb must be at least 6");
        }
        Ok(())
    }
}
