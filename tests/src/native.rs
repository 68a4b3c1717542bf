//! Real backing services for the native-tool tests: an X server (Xvfb),
//! Chromium, a Docker engine. On a developer's machine a missing service
//! makes its tests say so loudly and skip; under CI (`CI=true`) nothing
//! skips, so a missing service fails the run.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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

/// An Xvfb server on a free display number, stopped when dropped.
pub struct Xvfb {
    pub display: String,
    child: Child,
}

impl Xvfb {
    /// Starts `Xvfb :N -screen 0 WxHx24` and waits until it accepts
    /// connections.
    pub fn start(width: u32, height: u32) -> Result<Xvfb, String> {
        let bin = which(&["Xvfb"]).ok_or("Xvfb is not on PATH (Debian package xvfb)")?;
        for n in 90..140 {
            if std::path::Path::new(&format!("/tmp/.X11-unix/X{n}")).exists()
                || std::path::Path::new(&format!("/tmp/.X{n}-lock")).exists()
            {
                continue;
            }
            let mut child = Command::new(&bin)
                .args([
                    format!(":{n}"),
                    "-screen".into(),
                    "0".into(),
                    format!("{width}x{height}x24"),
                    "-nolisten".into(),
                    "tcp".into(),
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| format!("cannot start Xvfb: {e}"))?;
            let socket = format!("/tmp/.X11-unix/X{n}");
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(10) {
                if let Ok(Some(_)) = child.try_wait() {
                    break; // lost a race for the display; try the next
                }
                if std::path::Path::new(&socket).exists() {
                    return Ok(Xvfb {
                        display: format!(":{n}"),
                        child,
                    });
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        Err("no free display number between :90 and :139".into())
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
