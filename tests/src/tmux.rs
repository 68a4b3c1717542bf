//! A real terminal for end-to-end tests of full-screen programs: a tmux
//! server of the test's own (its socket in the test's folder, no user
//! configuration), one session of a fixed size running `sh`, typed into
//! with `send-keys` and read with `capture-pane`.
//!
//! The screen is read by polling until it shows what the test waits for
//! (every 50 ms, up to a deadline), never after a fixed sleep; a test that
//! times out fails with the last screen it saw. The server (and with it
//! the shell and whatever runs in it, by SIGHUP) is killed when the
//! [`Tmux`] is dropped, a failing test included.
//!
//! Without tmux, [`Tmux::available`] skips loudly, and fails under CI
//! (`CI=true`).

use crate::native::{require, which};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// How often the screen is read while waiting.
const POLL: Duration = Duration::from_millis(50);

/// A tmux server with one session (`main`) running `sh`.
pub struct Tmux {
    socket: PathBuf,
    target: String,
}

impl Tmux {
    /// True when tmux is on PATH; otherwise a loud skip (false), or a
    /// panic under CI.
    pub fn available() -> bool {
        let present = which(&["tmux"])
            .map(|_| ())
            .ok_or_else(|| "tmux is not on PATH".to_string());
        require("tmux (Debian package tmux)", present)
    }

    /// Starts a server on `dir/tmux.sock` with no configuration file
    /// (`-f /dev/null`), the status bar off (so the pane is the whole
    /// `width` × `height` window), `TERM=xterm-256color` in the pane, and
    /// a session running `sh` in `dir`.
    ///
    /// The server (and so the shell) gets exactly `env` plus `PATH` and
    /// `LANG=C.UTF-8`: nothing of the test process's own environment (no
    /// `TMUX`, no `OPENPISTA_*`, no `HOME`) leaks into what runs there.
    pub fn start(dir: &Path, width: u16, height: u16, env: &[(&str, OsString)]) -> Tmux {
        let tmux = Tmux {
            socket: dir.join("tmux.sock"),
            target: "main".into(),
        };
        let mut command = Command::new("tmux");
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("LANG", "C.UTF-8")
            .env("TERM", "xterm-256color");
        for (name, value) in env {
            command.env(name, value);
        }
        // `default-terminal` decides the pane's TERM, so it is set before
        // the session (and its first pane) exists; `escape-time 0` hands
        // a lone Escape on at once.
        command
            .arg("-u")
            .arg("-f")
            .arg("/dev/null")
            .arg("-S")
            .arg(&tmux.socket)
            .args(["start-server", ";"])
            .args([
                "set-option",
                "-g",
                "default-terminal",
                "xterm-256color",
                ";",
            ])
            .args(["set-option", "-g", "status", "off", ";"])
            .args(["set-option", "-g", "escape-time", "0", ";"])
            .args(["set-option", "-g", "history-limit", "5000", ";"])
            .args(["new-session", "-d", "-s", &tmux.target])
            .args(["-x", &width.to_string(), "-y", &height.to_string()])
            .arg("-c")
            .arg(dir)
            .arg("sh");
        let out = run(&mut command);
        assert!(
            out.status.success(),
            "tmux did not start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let size = tmux.display("#{pane_width}x#{pane_height}");
        assert_eq!(
            size,
            format!("{width}x{height}"),
            "the pane has the size asked for"
        );
        tmux
    }

    /// `tmux -u -S SOCKET args…`, run to its end; panics when it fails.
    pub fn command(&self, args: &[&str]) -> String {
        let out = run(Command::new("tmux")
            .arg("-u")
            .arg("-S")
            .arg(&self.socket)
            .args(args));
        assert!(
            out.status.success(),
            "tmux {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Types `text` as it is (`send-keys -l`: no key names).
    pub fn type_text(&self, text: &str) {
        self.command(&["send-keys", "-t", &self.target, "-l", "--", text]);
    }

    /// Presses one key by tmux's name: `Enter`, `Tab`, `Escape`, `C-c`,
    /// `C-d`, `M-Enter`, `Up`, `Down`…
    pub fn key(&self, key: &str) {
        self.command(&["send-keys", "-t", &self.target, key]);
    }

    /// Types `text`, then Enter.
    pub fn type_line(&self, text: &str) {
        self.type_text(text);
        self.key("Enter");
    }

    /// What the pane shows now: one line per row (never joined: `-J`
    /// would glue two rows of a full-screen program together where one
    /// ends in the last column), trailing blanks cut.
    pub fn screen(&self) -> String {
        let raw = self.command(&["capture-pane", "-p", "-t", &self.target]);
        let mut lines: Vec<&str> = raw.lines().map(str::trim_end).collect();
        while lines.last().is_some_and(|l| l.is_empty()) {
            lines.pop();
        }
        lines.join("\n")
    }

    /// `display-message -p FORMAT` for the pane: `#{alternate_on}`,
    /// `#{pane_width}`…
    pub fn display(&self, format: &str) -> String {
        self.command(&["display-message", "-p", "-t", &self.target, format])
            .trim()
            .to_string()
    }

    /// Whether the pane is in the alternate screen.
    pub fn alternate_on(&self) -> bool {
        self.display("#{alternate_on}") == "1"
    }

    /// Reads the screen every 50 ms until `check` holds for it, and
    /// returns that screen; after `timeout`, panics saying what was
    /// awaited and showing the last screen.
    pub async fn wait_for(
        &self,
        what: &str,
        timeout: Duration,
        check: impl Fn(&str) -> bool,
    ) -> String {
        let started = Instant::now();
        loop {
            let screen = self.screen();
            if check(&screen) {
                return screen;
            }
            if started.elapsed() > timeout {
                panic!(
                    "waited {timeout:?} for {what}; the screen:\n{}",
                    framed(&screen)
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// [`Tmux::wait_for`] until the screen contains every one of
    /// `needles`; the panic names the ones missing.
    pub async fn wait_for_all(&self, what: &str, timeout: Duration, needles: &[&str]) -> String {
        let started = Instant::now();
        loop {
            let screen = self.screen();
            let missing: Vec<&str> = needles
                .iter()
                .copied()
                .filter(|n| !screen.contains(n))
                .collect();
            if missing.is_empty() {
                return screen;
            }
            if started.elapsed() > timeout {
                panic!(
                    "waited {timeout:?} for {what}; missing {missing:?}; the screen:\n{}",
                    framed(&screen)
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .arg("kill-server")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// `screen` between two rules, with row numbers, for failure messages.
pub fn framed(screen: &str) -> String {
    let rule = "-".repeat(104);
    let mut out = format!("{rule}\n");
    for (i, line) in screen.lines().enumerate() {
        out.push_str(&format!("{i:>2}|{line}\n"));
    }
    out.push_str(&rule);
    out
}

fn run(command: &mut Command) -> Output {
    command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("tmux cannot be run: {e}"))
}
