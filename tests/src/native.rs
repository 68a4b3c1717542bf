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

/// A Docker engine with the test image: a busybox built here from the
/// host's static busybox (`docker import` of a tar made in memory), since
/// no registry is reachable.
pub mod docker {
    use bollard::Docker;
    use bollard::query_parameters::CreateImageOptionsBuilder;
    use futures::StreamExt;
    use std::time::Duration;

    pub const IMAGE: &str = "openpista-test/busybox:latest";
    /// Busybox applets linked in the test image.
    const APPLETS: &str =
        "sh ls cat echo sleep touch head tr id wc mkdir dd printf test grep tail pwd env";
    /// Folders of the test image.
    const FOLDERS: &str = "bin workspace openpista tmp proc sys dev etc";

    /// A client of the local engine with the test image present, or `None`
    /// (after a loud skip) when there is no engine.
    pub async fn engine() -> Option<Docker> {
        let found = probe().await;
        let present = found.as_ref().map(|_| ()).map_err(Clone::clone);
        if !super::require("a Docker engine", present) {
            return None;
        }
        Some(found.unwrap())
    }

    pub async fn probe() -> Result<Docker, String> {
        let text = |e: bollard::errors::Error| e.to_string();
        let docker = Docker::connect_with_defaults().map_err(text)?;
        let ping = tokio::time::timeout(Duration::from_secs(3), docker.ping()).await;
        ping.map_err(|_| "no answer to a ping within 3 s".to_string())?
            .map_err(text)?;
        let docker = docker.negotiate_version().await.map_err(text)?;
        if docker.inspect_image(IMAGE).await.is_err() {
            import_busybox(&docker).await?;
        }
        Ok(docker)
    }

    /// Imports a root file system of the host's static busybox as [`IMAGE`].
    async fn import_busybox(docker: &Docker) -> Result<(), String> {
        let busybox = std::fs::read("/bin/busybox")
            .map_err(|e| format!("/bin/busybox (Debian busybox-static): {e}"))?;
        let mut tar = Vec::new();
        for dir in FOLDERS.split(' ') {
            tar_entry(&mut tar, &format!("{dir}/"), b'5', b"", "");
        }
        tar_entry(&mut tar, "bin/busybox", b'0', &busybox, "");
        for applet in APPLETS.split(' ') {
            tar_entry(&mut tar, &format!("bin/{applet}"), b'2', b"", "busybox");
        }
        tar.extend_from_slice(&[0u8; 1024]);
        let (repo, tag) = IMAGE.split_once(':').unwrap();
        let options = CreateImageOptionsBuilder::default()
            .from_src("-")
            .repo(repo)
            .tag(tag)
            .build();
        let mut progress =
            docker.create_image(Some(options), Some(bollard::body_full(tar.into())), None);
        while let Some(step) = progress.next().await {
            step.map_err(|e| format!("importing {IMAGE}: {e}"))?;
        }
        docker
            .inspect_image(IMAGE)
            .await
            .map(|_| ())
            .map_err(|e| format!("{IMAGE} after import: {e}"))
    }

    /// One ustar entry: `kind` b'0' file, b'2' symlink to `link`, b'5' folder.
    fn tar_entry(tar: &mut Vec<u8>, name: &str, kind: u8, data: &[u8], link: &str) {
        let mut header = [0u8; 512];
        let octal = |field: &mut [u8], value: u64| {
            let text = format!("{value:0width$o}", width = field.len() - 1);
            field[..text.len()].copy_from_slice(text.as_bytes());
        };
        header[..name.len()].copy_from_slice(name.as_bytes());
        octal(
            &mut header[100..108],
            if kind == b'2' { 0o777 } else { 0o755 },
        );
        octal(&mut header[108..116], 0);
        octal(&mut header[116..124], 0);
        octal(&mut header[124..136], data.len() as u64);
        octal(&mut header[136..148], 1_700_000_000);
        header[156] = kind;
        header[157..157 + link.len()].copy_from_slice(link.as_bytes());
        header[257..263].copy_from_slice(b"ustar\0");
        header[263..265].copy_from_slice(b"00");
        header[148..156].copy_from_slice(b"        ");
        let sum: u32 = header.iter().map(|b| *b as u32).sum();
        let text = format!("{sum:06o}\0 ");
        header[148..156].copy_from_slice(text.as_bytes());
        tar.extend_from_slice(&header);
        tar.extend_from_slice(data);
        tar.resize(tar.len().div_ceil(512) * 512, 0);
    }
}
