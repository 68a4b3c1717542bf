//! `openpista skill list|show` and `openpista component install` on the
//! real binary: what is shown for available and unavailable skills, and a
//! component installed only after its capabilities were shown and the
//! operator confirmed.

use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_openpista");

fn cmd(home: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("OPENPISTA_HOME", home)
        .env("OPENPISTA_LISTEN", "127.0.0.1:0")
        .env("RUST_LOG", "warn")
        .env_remove("OPENPISTA_CONFIG")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn write(path: &Path, body: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, body).unwrap();
}

#[test]
fn skill_list_and_show_say_what_each_may_reach_and_why_not() {
    let home = tempfile::tempdir().unwrap();
    let skills = home.path().join("skills");
    write(
        &home.path().join("config.toml"),
        &format!(
            "[skills]\nworkspace = false\ndirs = [\"{}\"]\n",
            skills.display()
        ),
    );
    write(
        &skills.join("tone/SKILL.md"),
        "---\nname: tone\ndescription: How to talk.\n---\nAnswer briefly.\n",
    );
    write(
        &skills.join("runner/SKILL.md"),
        "---\nname: runner\ndescription: Runs a script.\nmode: subprocess\n---\n",
    );
    write(&skills.join("runner/run.sh"), "echo hi\n");
    let out = cmd(home.path(), &["skill", "list"]);
    assert!(out.status.success(), "{}", text(&out));
    let listing = text(&out);
    assert!(
        listing.contains("tone") && listing.contains("instructions only"),
        "{listing}"
    );
    assert!(
        listing.contains("runner") && listing.contains("unavailable"),
        "{listing}"
    );
    assert!(listing.contains("outside_sandbox = true"), "{listing}");

    let out = cmd(home.path(), &["skill", "show", "tone"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("Answer briefly."));
    let out = cmd(home.path(), &["skill", "show", "runner"]);
    assert_eq!(out.status.code(), Some(1), "unavailable: {}", text(&out));
    assert!(text(&out).contains("outside the sandbox"), "{}", text(&out));
    let out = cmd(home.path(), &["skill", "show", "nope"]);
    assert!(!out.status.success());
    assert!(text(&out).contains("runner, tone"), "{}", text(&out));

    let out = cmd(home.path(), &["skill", "list", "--json"]);
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 2);
}

#[test]
fn component_install_shows_the_capabilities_and_needs_a_yes() {
    let home = tempfile::tempdir().unwrap();
    let src = home.path().join("download");
    let basics = openpista::runtime::registry::EMBEDDED
        .iter()
        .find(|e| e.package == "tool-basics")
        .unwrap();
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("basics.wasm"), &basics.wasm()[..]).unwrap();
    let file = src.join("basics.wasm");
    let file = file.to_str().unwrap();

    // No manifest beside it: refused, naming the file it looked for.
    let out = cmd(home.path(), &["component", "install", file, "--yes"]);
    assert!(!out.status.success());
    assert!(text(&out).contains("basics.toml"), "{}", text(&out));

    std::fs::write(src.join("basics.toml"), basics.manifest).unwrap();
    // Without a terminal to ask on, nothing is installed without --yes.
    let out = cmd(home.path(), &["component", "install", file]);
    assert!(!out.status.success());
    let shown = text(&out);
    assert!(
        shown.contains("asks for:") && shown.contains("outbound hosts:"),
        "{shown}"
    );
    assert!(shown.contains("--yes"), "{shown}");
    let plugins = home.path().join("components");
    assert!(!plugins.join("tool-basics.wasm").exists());

    let out = cmd(home.path(), &["component", "install", file, "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        std::fs::read(plugins.join("tool-basics.wasm")).unwrap(),
        basics.wasm().into_owned()
    );
    assert!(plugins.join("tool-basics.toml").is_file());
    let out = cmd(home.path(), &["component", "list", "--json"]);
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let row = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "tool-basics")
        .unwrap();
    assert!(
        row["source"].as_str().unwrap_or("").contains("components"),
        "served from the plugin folder now: {row}"
    );

    // Not a component at all.
    std::fs::write(src.join("junk.wasm"), b"not wasm").unwrap();
    let out = cmd(
        home.path(),
        &[
            "component",
            "install",
            src.join("junk.wasm").to_str().unwrap(),
            "--yes",
        ],
    );
    assert!(!out.status.success());
    assert!(
        text(&out).contains("not a WebAssembly component"),
        "{}",
        text(&out)
    );
}
