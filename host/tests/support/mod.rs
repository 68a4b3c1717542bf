//! What the binary's end-to-end tests share.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_openpista");

/// `openpista` on its own home, listening on a port of its own (tests run
/// in parallel), with no config file from the environment.
pub fn openpista(home: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env("OPENPISTA_HOME", home)
        .env("OPENPISTA_LISTEN", "127.0.0.1:0")
        .env_remove("OPENPISTA_CONFIG");
    cmd
}

/// `openpista serve` on `home`: the running child and its first line (the
/// ready line). The rest of stdout is drained, so the server never blocks
/// on a full pipe.
// Each test binary compiles this module anew and not every one uses it.
#[allow(dead_code)]
pub fn serve(home: &Path) -> (Child, String) {
    let mut child = openpista(home)
        .arg("serve")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let ready = lines.next().unwrap().unwrap();
    std::thread::spawn(move || for _ in lines {});
    (child, ready)
}
