//! The `openpista` binary end to end: `serve` on embedded defaults, hot
//! swap seen through `component list` over the control socket, a broken
//! component reported while the old one serves, `reload` on demand, a clean
//! SIGTERM, and `component new` writing a crate that builds and loads.

mod support;

use support::serve;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn cmd(home: &Path, args: &[&str]) -> Output {
    support::openpista(home).args(args).output().unwrap()
}

fn list(home: &Path) -> serde_json::Value {
    let out = cmd(home, &["component", "list", "--json"]);
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

fn row<'a>(rows: &'a serde_json::Value, name: &str) -> Option<&'a serde_json::Value> {
    rows.as_array().unwrap().iter().find(|r| r["name"] == name)
}

/// Polls `component list` until `check` holds (or 60 s pass).
fn wait_for(home: &Path, what: &str, check: impl Fn(&serde_json::Value) -> bool) {
    let start = Instant::now();
    loop {
        let rows = list(home);
        if check(&rows) {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "never saw {what}: {rows:#}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn embedded_wasm(name: &str) -> Vec<u8> {
    openpista::runtime::registry::EMBEDDED
        .iter()
        .find(|e| e.package == name)
        .unwrap()
        .wasm()
        .into_owned()
}

fn embedded_manifest(name: &str) -> String {
    openpista::runtime::registry::EMBEDDED
        .iter()
        .find(|e| e.package == name)
        .unwrap()
        .manifest
        .to_string()
}

#[test]
fn serve_hot_swaps_and_reports_through_the_control_socket() {
    let home = tempfile::tempdir().unwrap();
    let (mut child, ready) = serve(home.path());
    assert!(ready.starts_with("openpista ready"), "{ready}");
    assert!(
        ready.contains("llm-echo") && ready.contains("tool-basics"),
        "{ready}"
    );
    let socket = home.path().join("control.sock");
    let start = Instant::now();
    while !socket.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no control socket"
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    let rows = list(home.path());
    let basics = row(&rows, "tool-basics").unwrap();
    assert_eq!(basics["state"], "active");
    assert_eq!(basics["world"], "tool");
    assert_eq!(basics["source"], "embedded");
    assert!(
        basics["tools"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "time.now")
    );
    assert!(
        basics["capabilities"]
            .as_str()
            .unwrap()
            .contains("hosts: none")
    );

    // A new component dropped into the watched folder is picked up (a
    // provider: a second copy of tool-basics would list tools another
    // component already has, and be refused).
    let plugins = home.path().join("components");
    let manifest = embedded_manifest("llm-echo").replace("name = \"llm-echo\"", "name = \"extra\"");
    std::fs::write(plugins.join("extra.toml"), &manifest).unwrap();
    std::fs::write(plugins.join("extra.wasm"), embedded_wasm("llm-echo")).unwrap();
    wait_for(home.path(), "extra active", |rows| {
        row(rows, "extra").is_some_and(|r| r["state"] == "active")
    });

    // A broken replacement leaves the old version serving, error visible.
    std::fs::write(plugins.join("extra.wasm"), b"this is not wasm").unwrap();
    wait_for(home.path(), "extra stale", |rows| {
        row(rows, "extra").is_some_and(|r| {
            r["state"] == "stale"
                && r["last_error"]
                    .as_str()
                    .unwrap_or("")
                    .contains("not a valid WebAssembly")
        })
    });
    let out = cmd(home.path(), &["component", "reload", "extra"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("previous version keeps serving"));

    // Repaired, then reloaded on demand.
    std::fs::write(plugins.join("extra.wasm"), embedded_wasm("llm-echo")).unwrap();
    let out = cmd(home.path(), &["component", "reload", "extra"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(row(&list(home.path()), "extra").unwrap()["state"], "active");

    // SIGTERM: clean exit, socket removed.
    unsafe { kill(child.id() as i32, 15) };
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert!(!socket.exists());
}

unsafe extern "C" {
    fn kill(pid: i32, sig: i32) -> i32;
}

#[test]
fn list_without_a_server_loads_locally_and_inspect_reads_versions() {
    let home = tempfile::tempdir().unwrap();
    let out = cmd(home.path(), &["component", "list"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("no running server"), "{text}");
    assert!(
        text.contains("tool-basics") && text.contains("active"),
        "{text}"
    );

    let file = home.path().join("basics.wasm");
    std::fs::write(&file, embedded_wasm("tool-basics")).unwrap();
    let out = cmd(
        home.path(),
        &["component", "inspect", file.to_str().unwrap()],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("world:   tool (built against openpista:plugin@0.2.2)"),
        "{text}"
    );
    assert!(text.contains("openpista:plugin/tools@0.2.2"), "{text}");
}

#[test]
fn a_bad_config_is_rejected_with_file_key_and_reason() {
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("config.toml");
    std::fs::write(&config, "[runtime]\nmax_instances = -3\n").unwrap();
    let out = cmd(home.path(), &["serve", "--exit-when-ready"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        err.contains(config.to_str().unwrap()) && err.contains("max_instances"),
        "{err}"
    );
}

#[test]
fn component_new_writes_a_crate_that_builds_and_loads() {
    let work = tempfile::tempdir().unwrap();
    let home = work.path().join("home");
    let out = cmd(
        &home,
        &[
            "component",
            "new",
            "--kind",
            "tool",
            "my-greeter",
            "--dir",
            work.path().to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let crate_dir = work.path().join("my-greeter");
    // Refuses to overwrite.
    let again = cmd(
        &home,
        &[
            "component",
            "new",
            "--kind",
            "tool",
            "my-greeter",
            "--dir",
            work.path().to_str().unwrap(),
        ],
    );
    assert!(!again.status.success());

    // Build it exactly as its README says, sharing a target folder across
    // runs so the SDK's dependencies are compiled once.
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/wasm-templates");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let build = Command::new(cargo)
        .args(["build", "--release", "--target", "wasm32-wasip2"])
        .current_dir(&crate_dir)
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .output()
        .unwrap();
    assert!(
        build.status.success(),
        "{}",
        String::from_utf8_lossy(&build.stderr)
    );
    let wasm = target.join("wasm32-wasip2/release/my_greeter.wasm");

    // Install as the README says and call its tool through a running server.
    let plugins = home.join("components");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::copy(&wasm, plugins.join("my-greeter.wasm")).unwrap();
    std::fs::copy(
        crate_dir.join("manifest.toml"),
        plugins.join("my-greeter.toml"),
    )
    .unwrap();
    let rows = list(&home);
    let greeter = row(&rows, "my-greeter").unwrap_or_else(|| panic!("{rows:#}"));
    assert_eq!(greeter["state"], "active", "{greeter:#}");
    assert_eq!(greeter["tools"][0], "my_greeter.greet");
}
