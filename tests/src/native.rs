//! Real backing services for the native-tool tests: an X server (Xvfb),
//! a private D-Bus session bus with a notification daemon (dunst),
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

/// Waits up to `within` for a program's first stdout line, on a thread so
/// a program that hangs before writing it cannot hang the test.
fn first_line(child: &mut Child, within: Duration) -> Option<String> {
    use std::io::{BufRead, BufReader};
    let stdout = child.stdout.take()?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    rx.recv_timeout(within).ok()
}

/// A private session bus of its own (`dbus-daemon --nofork
/// --print-address`), stopped when dropped. Its configuration names no
/// service folders, so nothing is started on demand: a name is owned only
/// by what the test started.
pub struct SessionBus {
    pub address: String,
    child: Child,
}

impl SessionBus {
    /// Starts a bus listening on a socket in `dir`; it prints its address
    /// once it accepts connections.
    pub fn start(dir: &std::path::Path) -> Result<SessionBus, String> {
        let bin =
            which(&["dbus-daemon"]).ok_or("dbus-daemon is not on PATH (Debian package dbus)")?;
        let config = dir.join("bus.conf");
        std::fs::write(
            &config,
            format!(
                r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
                dir.join("bus").display()
            ),
        )
        .map_err(|e| e.to_string())?;
        let mut child = Command::new(bin)
            .arg(format!("--config-file={}", config.display()))
            .args(["--nofork", "--print-address=1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start dbus-daemon: {e}"))?;
        match first_line(&mut child, Duration::from_secs(20)) {
            Some(line) if line.starts_with("unix:") => Ok(SessionBus {
                address: line.trim().to_string(),
                child,
            }),
            other => {
                let _ = child.kill();
                let _ = child.wait();
                Err(format!("dbus-daemon reported no address ({other:?})"))
            }
        }
    }

    /// Whether `name` has an owner on this bus.
    pub fn has_owner(&self, name: &str) -> bool {
        Command::new("dbus-send")
            .arg(format!("--bus={}", self.address))
            .args([
                "--print-reply",
                "--dest=org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus.NameHasOwner",
            ])
            .arg(format!("string:{name}"))
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("boolean true"))
    }
}

impl Drop for SessionBus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The dunst notification daemon on `bus`, drawing on `display`, stopped
/// when dropped. Its configuration writes each notification's urgency
/// into its formatted message, which `dunstctl history` shows (dunst 1.9
/// does not list the urgency itself).
pub struct Dunst {
    child: Child,
    address: String,
    log: PathBuf,
}

impl Dunst {
    /// Starts dunst with its files in `dir` and waits (20 s at most) until
    /// it owns `org.freedesktop.Notifications`.
    pub fn start(bus: &SessionBus, display: &str, dir: &std::path::Path) -> Result<Dunst, String> {
        let bin = which(&["dunst"]).ok_or("dunst is not on PATH (Debian package dunst)")?;
        which(&["dunstctl"]).ok_or("dunstctl is not on PATH (Debian package dunst)")?;
        which(&["dbus-send"]).ok_or("dbus-send is not on PATH (Debian package dbus)")?;
        let config = dir.join("dunstrc");
        std::fs::write(
            &config,
            "[global]\n    idle_threshold = 0\n\
             [urgency_low]\n    format = \"urgency=low %s\"\n\
             [urgency_normal]\n    format = \"urgency=normal %s\"\n\
             [urgency_critical]\n    format = \"urgency=critical %s\"\n",
        )
        .map_err(|e| e.to_string())?;
        let log = dir.join("dunst.log");
        let out = std::fs::File::create(&log).map_err(|e| e.to_string())?;
        let child = Command::new(bin)
            .arg("-config")
            .arg(&config)
            .env("DISPLAY", display)
            .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
            .env("XDG_CONFIG_HOME", dir)
            .env("HOME", dir)
            .stdin(Stdio::null())
            .stdout(out.try_clone().map_err(|e| e.to_string())?)
            .stderr(out)
            .spawn()
            .map_err(|e| format!("cannot start dunst: {e}"))?;
        let mut dunst = Dunst {
            child,
            address: bus.address.clone(),
            log,
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            if bus.has_owner("org.freedesktop.Notifications") {
                return Ok(dunst);
            }
            if let Ok(Some(status)) = dunst.child.try_wait() {
                return Err(format!("dunst exited ({status}): {}", dunst.log_text()));
            }
            if std::time::Instant::now() > deadline {
                return Err(format!(
                    "dunst did not take its bus name within 20 s: {}",
                    dunst.log_text()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Runs `dunstctl ARGS` against this daemon's bus.
    pub fn ctl(&self, args: &[&str]) -> Result<String, String> {
        let out = Command::new("dunstctl")
            .args(args)
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .output()
            .map_err(|e| format!("dunstctl: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "dunstctl {args:?}: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The notifications in dunst's history (`dunstctl history`), each as
    /// a map of field to value.
    pub fn history(&self) -> Result<Vec<serde_json::Map<String, serde_json::Value>>, String> {
        let text = self.ctl(&["history"])?;
        let json: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| format!("{e}: {text}"))?;
        let list = json["data"][0]
            .as_array()
            .ok_or(format!("no list: {text}"))?;
        Ok(list
            .iter()
            .filter_map(|n| n.as_object())
            .map(|n| {
                n.iter()
                    .map(|(k, v)| (k.clone(), v["data"].clone()))
                    .collect()
            })
            .collect())
    }
}

impl Drop for Dunst {
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
