//! A real NATS server with JetStream for the cluster tests: Debian's
//! `nats-server`, on 127.0.0.1 with a port it picks itself and a store
//! folder of the test's own. Stopped (SIGKILL) when dropped. Absent, its
//! tests skip loudly, or fail under CI.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where Debian puts the server (it is not on a user's PATH).
const DEBIAN_PATH: &str = "/usr/sbin/nats-server";

/// The server binary, when installed.
pub fn binary() -> Result<PathBuf, String> {
    super::native::which(&["nats-server"])
        .or_else(|| Some(PathBuf::from(DEBIAN_PATH)).filter(|p| p.is_file()))
        .ok_or_else(|| "nats-server is not installed (Debian package nats-server)".into())
}

/// A running `nats-server -js`.
pub struct NatsServer {
    child: Option<Child>,
    pub port: u16,
    dir: PathBuf,
    token: Option<String>,
}

impl NatsServer {
    /// Starts a server keeping its JetStream data under `dir`; `None`
    /// (after a loud skip) when the binary is absent outside CI.
    pub fn start(dir: &Path) -> Option<NatsServer> {
        Self::start_with(dir, None)
    }

    /// [`NatsServer::start`], refusing clients without `token` when given.
    pub fn start_with(dir: &Path, token: Option<&str>) -> Option<NatsServer> {
        let present = binary().map(|_| ());
        if !super::native::require("nats-server", present) {
            return None;
        }
        let mut server = NatsServer {
            child: None,
            port: 0,
            dir: dir.to_path_buf(),
            token: token.map(str::to_string),
        };
        server.spawn().expect("nats-server starts");
        Some(server)
    }

    /// `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Kills the server (SIGKILL) and starts it again on the same port and
    /// store: what was stored survives, clients see a disconnection.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn().expect("nats-server restarts");
    }

    /// Kills the server (SIGKILL).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn spawn(&mut self) -> Result<(), String> {
        let bin = binary()?;
        let store = self.dir.join("jetstream");
        let ports = self.dir.join("ports");
        std::fs::create_dir_all(&ports).map_err(|e| e.to_string())?;
        for entry in std::fs::read_dir(&ports)
            .map_err(|e| e.to_string())?
            .flatten()
        {
            let _ = std::fs::remove_file(entry.path());
        }
        // Port -1: the server takes a free one and writes it down once it
        // listens; a restart asks for the same one again.
        let port = if self.port == 0 {
            "-1".to_string()
        } else {
            self.port.to_string()
        };
        let log =
            std::fs::File::create(self.dir.join("nats-server.log")).map_err(|e| e.to_string())?;
        let mut command = Command::new(bin);
        command
            .args(["-js", "-a", "127.0.0.1", "-p", &port, "-sd"])
            .arg(&store);
        if let Some(token) = &self.token {
            command.args(["--auth", token]);
        }
        let child = command
            .arg("--ports_file_dir")
            .arg(&ports)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| e.to_string())?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let written = std::fs::read_dir(&ports)
                .ok()
                .and_then(|mut d| d.next())
                .and_then(|e| e.ok())
                .and_then(|e| std::fs::read_to_string(e.path()).ok());
            if let Some(text) = written
                && let Ok(value) = serde_json::from_str::<serde_json::Value>(&text)
                && let Some(url) = value["nats"][0].as_str()
                && let Some(port) = url.rsplit(':').next().and_then(|p| p.parse().ok())
            {
                self.port = port;
                return Ok(());
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                return Err(format!(
                    "nats-server exited ({status}): {}",
                    std::fs::read_to_string(self.dir.join("nats-server.log")).unwrap_or_default()
                ));
            }
            if Instant::now() > deadline {
                return Err("nats-server wrote no ports file within 20 s".into());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}
