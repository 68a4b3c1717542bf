//! Starting Chromium: finding the binary, the flags a locked-down machine
//! needs, and the private profile folder each browser gets.
//!
//! The flags turn off everything that reaches out on its own (component
//! updates, sync, metrics, QUIC probes): on a machine whose network is
//! closed Chromium would otherwise retry them without end. The profile is
//! fresh for every launch and removed when the browser stops; profiles
//! left by a host that was killed are removed by the next launch.

use crate::native::settings::BrowserSettings;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Binaries looked for on `PATH` when `[native.browser] executable` is unset.
pub const CANDIDATES: [&str; 4] = [
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
];

/// Flags every launch gets: no GPU, no background networking of any kind,
/// no first-run or sync machinery, and shared memory in `/tmp` (containers
/// give `/dev/shm` 64 MiB).
pub const LOCKED_DOWN: [&str; 8] = [
    "disable-gpu",
    "disable-background-networking",
    "disable-quic",
    "no-first-run",
    "disable-component-update",
    "disable-sync",
    "disable-dev-shm-usage",
    "no-default-browser-check",
];

/// Flags for a browser that a program drives: pages in the background keep
/// running their timers and rendering (every conversation's page is in the
/// background but one), no dialogs or crash reporter wait for a person, no
/// extensions, no keyring prompt for the profile's passwords, no sound,
/// and no scrollbars (a screenshot is of the page, at the viewport's full
/// width).
pub const AUTOMATION: [&str; 15] = [
    "disable-background-timer-throttling",
    "disable-backgrounding-occluded-windows",
    "disable-renderer-backgrounding",
    "disable-hang-monitor",
    "disable-prompt-on-repost",
    "disable-breakpad",
    "disable-client-side-phishing-detection",
    "disable-default-apps",
    "disable-extensions",
    "enable-automation",
    "password-store=basic",
    "use-mock-keychain",
    "force-color-profile=srgb",
    "mute-audio",
    "hide-scrollbars",
];

/// Start of the profile folders' names, followed by the host's process id.
const PROFILE_PREFIX: &str = "openpista-browser-";

/// The Chromium binary to run: `[native.browser] executable` (a path, or a
/// name looked up on `path_var`), else the first of [`CANDIDATES`] found.
pub fn find_executable(
    settings: &BrowserSettings,
    path_var: Option<OsString>,
) -> Result<PathBuf, String> {
    let dirs: Vec<PathBuf> = path_var
        .as_ref()
        .map(|p| std::env::split_paths(p).collect())
        .unwrap_or_default();
    let on_path = |name: &str| dirs.iter().map(|d| d.join(name)).find(|p| is_executable(p));
    match settings.executable.as_deref() {
        Some(configured) => {
            let configured = crate::paths::expand(configured);
            let found = if configured.components().count() > 1 {
                Some(configured.clone()).filter(|p| is_executable(p))
            } else {
                on_path(&configured.to_string_lossy())
            };
            found.ok_or_else(|| {
                format!(
                    "the browser configured in [native.browser] executable ({}) was not found or is not executable; install Chromium or fix the setting",
                    configured.display()
                )
            })
        }
        None => CANDIDATES.iter().find_map(|n| on_path(n)).ok_or_else(|| {
            format!(
                "no Chromium or Chrome found: looked for {} on PATH ({}); install Chromium (Debian: apt-get install chromium) or set [native.browser] executable to its path",
                CANDIDATES.join(", "),
                path_var
                    .as_ref()
                    .map(|p| p.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "unset".into())
            )
        }),
    }
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The command line after the binary: the locked-down and automation
/// flags, headless mode, the window size and profile, the debugging pipe,
/// then the operator's own flags (`[native.browser] args`). A flag given
/// more than once with values keeps one, its values joined with commas
/// (`--disable-features=A,B`), which is how Chromium reads lists.
pub fn args(settings: &BrowserSettings, profile: &Path) -> Vec<String> {
    let mut flags: Vec<(String, Option<String>)> = Vec::new();
    let mut add = |flag: &str| {
        let bare = flag.trim().trim_start_matches('-');
        if bare.is_empty() {
            return;
        }
        let (name, value) = match bare.split_once('=') {
            Some((name, value)) => (name.to_owned(), Some(value.to_owned())),
            None => (bare.to_owned(), None),
        };
        let Some(at) = flags.iter().position(|(n, _)| *n == name) else {
            flags.push((name, value));
            return;
        };
        match (&mut flags[at].1, value) {
            (Some(old), Some(value)) => {
                old.push(',');
                old.push_str(&value);
            }
            (slot, value @ Some(_)) => *slot = value,
            (_, None) => {}
        }
    };
    LOCKED_DOWN
        .iter()
        .chain(AUTOMATION.iter())
        .for_each(|f| add(f));
    // Plain `--headless` is the new headless mode since Chromium 132.
    if settings.headless {
        add("headless");
    }
    add("no-sandbox");
    add(&format!(
        "window-size={},{}",
        settings.width, settings.height
    ));
    add(&format!("user-data-dir={}", profile.display()));
    add("remote-debugging-pipe");
    settings.args.iter().for_each(|f| add(f));
    flags
        .into_iter()
        .map(|(name, value)| match value {
            Some(value) => format!("--{name}={value}"),
            None => format!("--{name}"),
        })
        .chain(["about:blank".to_owned()])
        .collect()
}

/// The process to start: `executable` with [`args`], no standard input or
/// output, its standard error piped (kept for the error when the launch
/// fails), killed if the host drops it.
pub(super) fn command(
    settings: &BrowserSettings,
    executable: &Path,
    profile: &Path,
) -> Result<tokio::process::Command, String> {
    if settings.width == 0 || settings.height == 0 {
        return Err(format!(
            "[native.browser] width and height must be above 0 (they are {} and {})",
            settings.width, settings.height
        ));
    }
    let mut command = tokio::process::Command::new(executable);
    command
        .args(args(settings, profile))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    Ok(command)
}

/// The first `max` characters of `text`, marked when cut.
pub(super) fn cut(text: &str, max: usize) -> String {
    let mut out: String = text.chars().take(max).collect();
    if out.len() < text.len() {
        out.push_str(" […]");
    }
    out
}

/// A private profile folder under the system's temporary folder, removed
/// when the browser stops.
pub(super) struct Profile {
    pub(super) path: PathBuf,
}

impl Profile {
    pub(super) fn create() -> std::io::Result<Profile> {
        use std::os::unix::fs::DirBuilderExt;
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let base = std::env::temp_dir();
        remove_stale(&base);
        let mut last = None;
        for _ in 0..16 {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0);
            let path = base.join(format!(
                "{PROFILE_PREFIX}{}-{}-{nanos:08x}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
            match std::fs::DirBuilder::new().mode(0o700).create(&path) {
                Ok(()) => return Ok(Profile { path }),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| std::io::Error::other("no free profile folder name")))
    }

    /// Removes the folder, retrying briefly while the browser's last helper
    /// processes may still write to it.
    pub(super) async fn remove(mut self) {
        let path = std::mem::take(&mut self.path);
        for attempt in 0..5 {
            match tokio::fs::remove_dir_all(&path).await {
                Ok(()) => return,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
                Err(e) if attempt == 4 => {
                    tracing::warn!("cannot remove browser profile {}: {e}", path.display())
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }
}

/// Removes the profiles that hosts which no longer run (killed before
/// they could clean up) left in `base`.
fn remove_stale(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(owner) = name
            .to_str()
            .and_then(|n| n.strip_prefix(PROFILE_PREFIX))
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<i32>().ok())
        else {
            continue;
        };
        // Signal 0 checks that the process exists without touching it.
        let gone = owner > 0
            && unsafe { libc::kill(owner, 0) } != 0
            && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
        if gone {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

impl Drop for Profile {
    fn drop(&mut self) {
        if !self.path.as_os_str().is_empty() {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_bin(dir: &Path, name: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join(name);
        std::fs::write(&path, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    #[test]
    fn finds_the_first_candidate_on_path() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        fake_bin(b.path(), "google-chrome");
        let chromium = fake_bin(b.path(), "chromium");
        // Not executable: skipped.
        std::fs::write(a.path().join("chromium-browser"), "").unwrap();
        let path = std::env::join_paths([a.path(), b.path()]).unwrap();
        let found = find_executable(&BrowserSettings::default(), Some(path)).unwrap();
        assert_eq!(found, chromium);
    }

    #[test]
    fn a_missing_browser_says_what_was_searched_and_how_to_configure() {
        let empty = tempfile::tempdir().unwrap();
        let e = find_executable(
            &BrowserSettings::default(),
            Some(empty.path().as_os_str().to_owned()),
        )
        .unwrap_err();
        assert!(
            e.contains("chromium, chromium-browser, google-chrome"),
            "{e}"
        );
        assert!(e.contains("[native.browser] executable"), "{e}");
        let settings = BrowserSettings {
            executable: Some("/nonexistent/chrome".into()),
            ..BrowserSettings::default()
        };
        let e = find_executable(&settings, None).unwrap_err();
        assert!(e.contains("/nonexistent/chrome"), "{e}");
    }

    #[test]
    fn a_configured_name_is_looked_up_on_path() {
        let dir = tempfile::tempdir().unwrap();
        let bin = fake_bin(dir.path(), "my-chrome");
        let settings = BrowserSettings {
            executable: Some("my-chrome".into()),
            ..BrowserSettings::default()
        };
        let found = find_executable(&settings, Some(dir.path().as_os_str().to_owned()));
        assert_eq!(found.unwrap(), bin);
        let settings = BrowserSettings {
            executable: Some(bin.display().to_string()),
            ..BrowserSettings::default()
        };
        assert_eq!(find_executable(&settings, None).unwrap(), bin);
    }

    #[test]
    fn profiles_are_unique_and_removed() {
        let a = Profile::create().unwrap();
        let b = Profile::create().unwrap();
        assert_ne!(a.path, b.path);
        assert!(a.path.is_dir());
        let path = a.path.clone();
        drop(a);
        assert!(!path.exists());
    }

    #[test]
    fn profiles_of_hosts_that_died_are_removed() {
        let base = tempfile::tempdir().unwrap();
        // Process ids above the kernel's maximum (4194304) never exist.
        let stale = base.path().join(format!("{PROFILE_PREFIX}2000000000-0-0"));
        let ours = base
            .path()
            .join(format!("{PROFILE_PREFIX}{}-0-0", std::process::id()));
        let other = base.path().join("unrelated-2000000000");
        for dir in [&stale, &ours, &other] {
            std::fs::create_dir_all(dir.join("Default")).unwrap();
        }
        remove_stale(base.path());
        assert!(!stale.exists());
        assert!(ours.exists() && other.exists());
    }

    #[test]
    fn the_command_line_has_the_pipe_the_profile_and_merged_operator_flags() {
        let settings = BrowserSettings {
            args: vec![
                "--disable-features=Translate".into(),
                "disable-features=MediaRouter".into(),
                "--lang=de".into(),
                " ".into(),
            ],
            ..BrowserSettings::default()
        };
        let args = args(&settings, Path::new("/tmp/p"));
        for expected in [
            "--remote-debugging-pipe",
            "--user-data-dir=/tmp/p",
            "--no-sandbox",
            "--disable-background-networking",
            "--password-store=basic",
            "--disable-features=Translate,MediaRouter",
            "--lang=de",
        ] {
            assert!(args.iter().any(|a| a == expected), "{expected} in {args:?}");
        }
        assert_eq!(
            args.iter()
                .filter(|a| a.starts_with("--disable-features"))
                .count(),
            1
        );
        assert!(!args.iter().any(|a| a == "--" || a.is_empty()), "{args:?}");
        assert_eq!(args.last().map(String::as_str), Some("about:blank"));
        let headless = args.iter().any(|a| a == "--headless");
        assert_eq!(headless, BrowserSettings::default().headless);
        let windowed = BrowserSettings {
            headless: false,
            ..BrowserSettings::default()
        };
        assert!(
            !super::args(&windowed, Path::new("/p"))
                .iter()
                .any(|a| a == "--headless")
        );
    }

    #[test]
    fn long_errors_are_cut() {
        assert_eq!(cut("abc", 5), "abc");
        assert_eq!(cut("abcdef", 3), "abc […]");
    }
}
