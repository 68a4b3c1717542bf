//! `openpista doctor`: is this machine ready to run what the
//! configuration asks for? One line per check, ✓ or ✗, and for every ✗
//! the command or setting that fixes it. The exit status is non-zero when
//! a required check fails; `--json` prints the same as one object.
//!
//! A check is required when the configuration uses what it checks (Docker
//! when `[native.container]` is on, a display when `[native.screen]` is);
//! otherwise a failure is shown but does not fail the run. File modes are
//! read first, before anything else opens the files (every other command
//! makes the home private at start, and the credential store narrows its
//! file when it reads it), so a loose mode is reported with its fix.

use crate::config::Config;
use anyhow::Result;
use serde::Serialize;
use std::path::Path;

/// One check's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    /// A failure of a required check fails the run.
    pub required: bool,
    /// What was found.
    pub detail: String,
    /// For a failed check: what to do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    fn pass(name: impl Into<String>, detail: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            ok: true,
            required: true,
            detail: detail.into(),
            fix: None,
        }
    }

    fn fail(name: impl Into<String>, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            ok: false,
            required: true,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }

    /// Marks the check optional: its failure is shown, the run still passes.
    fn optional(mut self, optional: bool) -> Check {
        self.required = !optional;
        self
    }

    fn line(&self) -> String {
        let mark = if self.ok { "✓" } else { "✗" };
        let optional = if self.required { "" } else { " (optional)" };
        let mut line = format!("{mark} {}{optional}: {}", self.name, self.detail);
        if let Some(fix) = &self.fix {
            line.push_str(&format!("\n    fix: {fix}"));
        }
        line
    }
}

/// Runs every check; prints them; 1 when a required one failed.
pub async fn run(config_file: Option<&Path>, json: bool) -> Result<i32> {
    let checks = match Config::load(config_file) {
        Ok(config) => {
            let mut checks = vec![Check::pass(
                "config",
                match config_file {
                    Some(p) => format!("{} parses", p.display()),
                    None => "the configuration parses".into(),
                },
            )];
            checks.extend(all(&config, config_file).await);
            checks
        }
        Err(e) => vec![Check::fail(
            "config",
            format!("{e:#}"),
            "correct the file at the place the message names (config.example.toml lists every setting)",
        )],
    };
    let failed = checks.iter().any(|c| c.required && !c.ok);
    if json {
        println!("{}", serde_json::json!({ "ok": !failed, "checks": checks }));
    } else {
        for check in &checks {
            println!("{}", check.line());
        }
        let required = checks.iter().filter(|c| !c.ok && c.required).count();
        let optional = checks.iter().filter(|c| !c.ok && !c.required).count();
        println!(
            "{}",
            match (required, optional) {
                (0, 0) => "everything checked is ready".to_string(),
                (0, n) => format!("ready; {n} optional check(s) failed"),
                (n, _) => format!("not ready: {n} check(s) failed"),
            }
        );
    }
    Ok(if failed { 1 } else { 0 })
}

/// Every check after the config parsed, in the order they print.
async fn all(config: &Config, config_file: Option<&Path>) -> Vec<Check> {
    let mut checks = file_modes(config, config_file);
    checks.extend(credentials(config));
    checks.extend(components_and_providers(config).await);
    checks.push(docker(config).await);
    checks.push(chromium(config));
    checks.push(display(config));
    checks.push(whatsapp_bridge(config));
    checks.push(listener(config));
    checks
}

/// Secrets 0600 and their folders 0700.
fn file_modes(config: &Config, config_file: Option<&Path>) -> Vec<Check> {
    let private = super::private_paths(config, config_file);
    let mut loose = Vec::new();
    let mut fixes = Vec::new();
    let mode_of = crate::paths::mode;
    for file in &private.files {
        if let Some(mode) = mode_of(file)
            && mode & 0o077 != 0
        {
            loose.push(format!("{} is {mode:04o}", file.display()));
            fixes.push(format!("chmod 600 {}", file.display()));
        }
    }
    for dir in &private.dirs {
        if let Some(mode) = mode_of(dir)
            && mode & 0o077 != 0
        {
            loose.push(format!("{} is {mode:04o}", dir.display()));
            fixes.push(format!("chmod 700 {}", dir.display()));
        }
    }
    vec![if loose.is_empty() {
        Check::pass("file modes", "secrets are 0600 and their folders 0700")
    } else {
        Check::fail(
            "file modes",
            format!("readable by others: {}", loose.join(", ")),
            fixes.join(" && "),
        )
    }]
}

/// Stored sign-ins: valid, expiring (refreshed on use), or lapsed.
fn credentials(config: &Config) -> Vec<Check> {
    use crate::auth::store::State;
    let store = config.auth.store();
    let stored = match store.load() {
        Ok(stored) => stored,
        Err(e) => {
            return vec![Check::fail(
                "credentials",
                format!("{} is unreadable: {e:#}", store.path().display()),
                "sign in again: openpista auth logout --provider NAME, then auth login",
            )];
        }
    };
    if stored.is_empty() {
        return vec![Check::pass("credentials", "none stored")];
    }
    let now = crate::auth::now_unix();
    stored
        .iter()
        .map(|(slot, credential)| {
            let name = format!("credential {slot}");
            let described = super::auth_cmds::describe(credential, now);
            match credential.state(now) {
                State::Expired if credential.refresh_token.is_none() => Check::fail(
                    name,
                    described,
                    format!("openpista auth login --provider {slot}"),
                ),
                _ => Check::pass(name, described),
            }
        })
        .collect()
}

/// Every component loads (first-party and plugins), and every provider
/// answers a one-word request.
async fn components_and_providers(config: &Config) -> Vec<Check> {
    let mut checks = Vec::new();
    let scratch = match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(e) => {
            return vec![Check::fail(
                "components",
                format!("no temporary folder: {e}"),
                "set TMPDIR to a writable folder",
            )];
        }
    };
    let runtime = match super::probe_runtime(config, scratch.path()) {
        Ok(runtime) => runtime,
        Err(e) => {
            return vec![Check::fail(
                "components",
                format!("the runtime cannot start: {e:#}"),
                "correct the setting the message names",
            )];
        }
    };
    let failures = runtime.load_all().await;
    if failures.is_empty() {
        checks.push(Check::pass(
            "components",
            format!(
                "{} loaded and compatible with this host",
                runtime.components().len()
            ),
        ));
    }
    for (name, why) in failures {
        checks.push(Check::fail(
            format!("component {name}"),
            why,
            format!(
                "rebuild it against openpista:plugin@{} (openpista component new shows the template), or remove it from the plugin folder",
                crate::runtime::bindings::WIT_VERSION
            ),
        ));
    }
    let setups = match config.provider_setups() {
        Ok(setups) => setups,
        Err(e) => {
            checks.push(Check::fail(
                "providers",
                format!("{e:#}"),
                "correct [providers] in the config",
            ));
            return checks;
        }
    };
    for (i, setup) in setups.iter().enumerate() {
        let name = format!("provider {}", setup.name);
        // The default provider is what every turn needs; the others are
        // only needed when a conversation switches to them.
        let optional = i > 0;
        let Some(provider) = runtime.get(&setup.component) else {
            checks.push(
                Check::fail(
                    name,
                    "not loaded",
                    "see `openpista component list` for its error",
                )
                .optional(optional),
            );
            continue;
        };
        let model = setup.model.as_deref().unwrap_or("its default model");
        let started = std::time::Instant::now();
        checks.push(
            match provider.chat(&super::model_cmds::probe_request()).await {
                Ok(_) => Check::pass(
                    name,
                    format!("{model} answered in {} ms", started.elapsed().as_millis()),
                ),
                Err(e) => Check::fail(
                    name,
                    format!("{model}: {e}"),
                    match (&setup.key_env, &setup.credential, setup.key_present) {
                        (Some(var), _, false) => format!("set {var}"),
                        (_, Some(slot), _) => format!(
                            "check the key, or sign in: openpista auth login --provider {slot}"
                        ),
                        _ => "check the provider's base_url, key and model (openpista model test)"
                            .into(),
                    },
                ),
            }
            .optional(optional),
        );
    }
    checks
}

/// The Docker daemon the container tool uses answers a ping.
async fn docker(config: &Config) -> Check {
    let settings = &config.native.container;
    let endpoint = crate::native::container::endpoint(settings);
    let engine =
        crate::native::container::docker::Engine::new(endpoint.clone(), std::time::Duration::ZERO);
    match engine.client().await {
        Ok(_) => Check::pass("docker", format!("{endpoint} answers")),
        Err(why) => Check::fail(
            "docker",
            format!("{endpoint}: {why}"),
            "start the daemon (systemctl start docker, or dockerd &), or set [native.container] docker_host; \
             [native.container] enabled = false turns the container tool off",
        ),
    }
    .optional(!settings.enabled)
}

/// The browser tool finds Chromium.
fn chromium(config: &Config) -> Check {
    let settings = &config.native.browser;
    match crate::native::browser::launch::find_executable(settings, std::env::var_os("PATH")) {
        Ok(path) => Check::pass("chromium", format!("{}", path.display())),
        Err(why) => Check::fail(
            "chromium",
            why,
            "install it (Debian: apt-get install chromium) or set [native.browser] executable",
        ),
    }
    .optional(!settings.enabled)
}

/// The screen tools have an X display to connect to. With none named (a
/// server without a screen) the tools say they are unavailable, so that
/// is optional; a display that is named but does not answer is not.
fn display(config: &Config) -> Check {
    let settings = &config.native.screen;
    let display = match crate::native::screen::display(settings, None) {
        Ok(d) => d,
        Err(e) => {
            return Check::fail(
                "display",
                crate::runtime::bindings::error_text(&e),
                "run under a desktop session, start Xvfb (Xvfb :99 &) and set DISPLAY=:99, or set [native.screen] display",
            )
            .optional(true);
        }
    };
    match x11rb::connect(Some(&display)) {
        Ok(_) => Check::pass("display", format!("{display} accepts connections")),
        Err(e) => Check::fail(
            "display",
            format!("{display}: {e}"),
            "start the X server for that display, or set [native.screen] display to one that runs",
        ),
    }
    .optional(!settings.enabled)
}

/// Node.js and the WhatsApp bridge's packages, when WhatsApp is on.
fn whatsapp_bridge(config: &Config) -> Check {
    let enabled = config.channels.whatsapp.enabled;
    match config.channels.whatsapp.resolve() {
        Ok(settings) => match settings.preflight() {
            Ok(()) => Check::pass(
                "whatsapp bridge",
                format!("Node.js and {} are ready", settings.bridge_path.display()),
            ),
            Err(why) => Check::fail("whatsapp bridge", why.clone(), fix_of(&why)),
        },
        Err(e) => Check::fail(
            "whatsapp bridge",
            format!("{e:#}"),
            "correct [channels.whatsapp]",
        ),
    }
    .optional(!enabled)
}

/// The part of a preflight message after its last `;` or `:` that says
/// what to run, or the whole message.
fn fix_of(why: &str) -> String {
    why.rsplit_once("; ")
        .or_else(|| why.rsplit_once(": run "))
        .map(|(_, fix)| fix.to_string())
        .unwrap_or_else(|| why.to_string())
}

/// The listener's port is free, or held by this host's own server.
fn listener(config: &Config) -> Check {
    let listen = &config.server.listen;
    if !config.server.enabled {
        return Check::pass("listener", "[server] is off").optional(true);
    }
    match std::net::TcpListener::bind(listen) {
        Ok(_) => Check::pass("listener", format!("{listen} is free")),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => match running_pid() {
            Some(pid) => Check::pass(
                "listener",
                format!("{listen} is served by the running openpista (pid {pid})"),
            ),
            None => Check::fail(
                "listener",
                format!("{listen} is taken by another program"),
                format!(
                    "stop what listens there (ss -ltnp 'sport = :{}'), or set [server] listen to a free port",
                    listen.rsplit(':').next().unwrap_or("PORT")
                ),
            ),
        },
        Err(e) => Check::fail(
            "listener",
            format!("cannot listen on {listen}: {e}"),
            "set [server] listen to an address of this machine",
        ),
    }
}

/// The pid in `~/.openpista/openpista.pid` when that process lives.
fn running_pid() -> Option<u32> {
    let text = std::fs::read_to_string(crate::paths::home_dir().join("openpista.pid")).ok()?;
    let pid: u32 = text.trim().parse().ok()?;
    Path::new(&format!("/proc/{pid}")).exists().then_some(pid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_line_names_its_fix_and_an_optional_one_says_so() {
        let line = Check::fail("docker", "no answer", "start it").line();
        assert_eq!(line, "✗ docker: no answer\n    fix: start it");
        let line = Check::fail("display", "none", "Xvfb").optional(true).line();
        assert!(line.starts_with("✗ display (optional): none"), "{line}");
        assert_eq!(Check::pass("config", "parses").line(), "✓ config: parses");
    }

    #[test]
    fn the_fix_is_taken_from_a_preflight_message() {
        assert_eq!(
            fix_of("the WhatsApp bridge's packages are not installed: run `npm ci --prefix /b`"),
            "`npm ci --prefix /b`"
        );
        assert_eq!(
            fix_of("Node.js (node) is not installed or not on PATH; install Node.js 20 or newer"),
            "install Node.js 20 or newer"
        );
    }
}
