//! Real backing services for the native-tool tests: an X server (Xvfb),
//! Chromium, a Docker engine. On a developer's machine a missing service
//! makes its tests say so loudly and skip; under CI (`CI=true`) nothing
//! skips, so a missing service fails the run.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// True when running under CI, where every service must be present.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Whether the test may go on: `Ok` when `what` is present; otherwise a
/// panic under CI and a loud skip elsewhere.
pub fn require(what: &str, present: Result<(), String>) -> bool {
    match present {
        Ok(()) => true,
        Err(why) if in_ci() => panic!("{what} is required under CI but absent: {why}"),
        Err(why) => {
            eprintln!(
                "\n!!!!!!!! SKIPPED: {what} is absent ({why}); run `bash .ci/run` or install it to run this test !!!!!!!!\n"
            );
            false
        }
    }
}

/// The first of `names` found on PATH.
pub fn which(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    names.iter().find_map(|n| {
        std::env::split_paths(&path)
            .map(|d| d.join(n))
            .find(|p| p.is_file())
    })
}

/// An Xvfb server on a display number it chose itself, stopped when
/// dropped.
pub struct Xvfb {
    pub display: String,
    child: Child,
}

impl Xvfb {
    /// Starts `Xvfb -displayfd 1 -screen 0 WxHx24` and waits until it
    /// reports its display.
    ///
    /// `-displayfd` makes the server take the first free display number
    /// under its own lock and write it only once it accepts connections.
    /// Picking a number here instead races with the other tests of the
    /// process: two servers started for one number, the loser exits, and
    /// its test goes on talking to the winner's display until the winner's
    /// test ends and takes it away.
    pub fn start(width: u32, height: u32) -> Result<Xvfb, String> {
        use std::io::{BufRead, BufReader};
        let bin = which(&["Xvfb"]).ok_or("Xvfb is not on PATH (Debian package xvfb)")?;
        let mut child = Command::new(&bin)
            .args([
                "-displayfd".into(),
                "1".into(),
                "-screen".into(),
                "0".into(),
                format!("{width}x{height}x24"),
                "-nolisten".into(),
                "tcp".into(),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start Xvfb: {e}"))?;
        let stdout = child.stdout.take().expect("piped stdout");
        // Read the number on a thread so a server that hangs before
        // writing it cannot hang the test past the deadline.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let fail = |mut child: Child, why: String| {
            let _ = child.kill();
            let _ = child.wait();
            Err(why)
        };
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(line) => match line.trim().parse::<u32>() {
                Ok(n) => Ok(Xvfb {
                    display: format!(":{n}"),
                    child,
                }),
                Err(_) => fail(child, format!("Xvfb exited without a display ({line:?})")),
            },
            Err(_) => fail(child, "Xvfb reported no display within 20 s".into()),
        }
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
