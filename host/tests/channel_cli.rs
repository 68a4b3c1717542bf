//! `openpista telegram|discord|slack status` and `openpista pairing ...` on the real
//! binary: what the status says for the file and the environment, pairing
//! approved on the memory file with no server, and through the control
//! socket while `serve` holds the database.

use openpista::memory::MemoryStore;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_openpista");

fn cmd(home: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(BIN);
    c.args(args)
        .env("OPENPISTA_HOME", home)
        .env("OPENPISTA_LISTEN", "127.0.0.1:0")
        .env_remove("OPENPISTA_CONFIG");
    for var in [
        "TELEGRAM_BOT_TOKEN",
        "TELEGRAM_ALLOWED_USERS",
        "TELEGRAM_WEBHOOK_URL",
        "TELEGRAM_WEBHOOK_PORT",
        "DISCORD_BOT_TOKEN",
        "DISCORD_ALLOWED_USERS",
        "SLACK_BOT_TOKEN",
        "SLACK_APP_TOKEN",
        "SLACK_SIGNING_SECRET",
        "SLACK_ALLOWED_USERS",
    ] {
        c.env_remove(var);
    }
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A pending pairing request, as the Telegram component stores it.
fn pending(home: &Path, code: &str, user: i64) {
    let m = MemoryStore::open(&home.join("memory.redb")).unwrap();
    let record =
        serde_json::json!({"user_id": user, "chat_id": user, "username": "ann", "created_ms": 1});
    m.kv_set(
        "channel-telegram",
        &format!("pairing/pending/{code}"),
        record.to_string().as_bytes(),
    )
    .unwrap();
    m.kv_set(
        "channel-telegram",
        "bot",
        br#"{"id":777,"username":"pista_bot","first_name":"Pista"}"#,
    )
    .unwrap();
}

#[test]
fn telegram_status_reports_the_file_and_the_environment() {
    let home = tempfile::tempdir().unwrap();
    let out = cmd(home.path(), &["telegram", "status"], &[]);
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    assert!(text.contains("enabled:        no"), "{text}");
    assert!(text.contains("token present:  no"), "{text}");
    assert!(text.contains("mode:           polling"), "{text}");
    assert!(
        text.contains("state:          stopped"),
        "the channel's own report: {text}"
    );

    std::fs::write(
        home.path().join("config.toml"),
        "[channels.telegram]\nenabled = true\nallowed_users = [1]\n",
    )
    .unwrap();
    pending(home.path(), "ABCDEFGH", 5);
    let out = cmd(
        home.path(),
        &["telegram", "status"],
        &[
            ("TELEGRAM_BOT_TOKEN", "1:x"),
            ("TELEGRAM_ALLOWED_USERS", "1,2,3"),
            (
                "TELEGRAM_WEBHOOK_URL",
                "https://bot.example.com/telegram/webhook",
            ),
            ("TELEGRAM_WEBHOOK_PORT", "8444"),
        ],
    );
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    assert!(text.contains("enabled:        yes"), "{text}");
    assert!(text.contains("token present:  yes"), "{text}");
    assert!(!text.contains("1:x"), "the token is never printed: {text}");
    assert!(text.contains("mode:           webhook"), "{text}");
    assert!(
        text.contains("https://bot.example.com/telegram/webhook"),
        "{text}"
    );
    assert!(text.contains("127.0.0.1:8444"), "{text}");
    assert!(text.contains("allowed users:  3"), "{text}");
    assert!(text.contains("@pista_bot (id 777)"), "{text}");

    let out = cmd(
        home.path(),
        &["telegram", "status"],
        &[("TELEGRAM_ALLOWED_USERS", "1,bob")],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("TELEGRAM_ALLOWED_USERS") && err.contains("bob"),
        "{err}"
    );
}

#[test]
fn discord_status_reports_the_file_the_environment_and_the_channel() {
    let home = tempfile::tempdir().unwrap();
    let out = cmd(home.path(), &["discord", "status"], &[]);
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    assert!(text.contains("enabled:        no"), "{text}");
    assert!(text.contains("no (set DISCORD_BOT_TOKEN)"), "{text}");
    assert!(
        text.contains("api:            https://discord.com/api/v10"),
        "{text}"
    );
    // The channel's own report, from a fresh instance of its component.
    assert!(text.contains("state:          "), "{text}");
    assert!(!text.contains("state:          unknown"), "{text}");

    std::fs::write(
        home.path().join("config.toml"),
        "[channels.discord]\nenabled = true\n",
    )
    .unwrap();
    let token = "MTA.discord-status-secret";
    let out = cmd(
        home.path(),
        &["discord", "status"],
        &[
            ("DISCORD_BOT_TOKEN", token),
            ("DISCORD_ALLOWED_USERS", "80351110224678912,2"),
        ],
    );
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    assert!(text.contains("enabled:        yes"), "{text}");
    assert!(text.contains("token present:  yes"), "{text}");
    assert!(text.contains("allowed users:  2"), "{text}");
    assert!(!text.contains(token), "the token is never printed: {text}");

    let out = cmd(
        home.path(),
        &["discord", "status"],
        &[("DISCORD_ALLOWED_USERS", "1,bob")],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("DISCORD_ALLOWED_USERS") && err.contains("bob"),
        "{err}"
    );
}

#[test]
fn slack_status_names_the_mode_and_what_it_needs() {
    let home = tempfile::tempdir().unwrap();
    let out = cmd(home.path(), &["slack", "status"], &[]);
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    assert!(text.contains("enabled:        no"), "{text}");
    assert!(text.contains("mode:           events"), "{text}");
    assert!(text.contains("no (set SLACK_SIGNING_SECRET)"), "{text}");
    assert!(text.contains("state:          "), "{text}");
    assert!(!text.contains("state:          unknown"), "{text}");

    let app = "xapp-1-status-secret";
    let out = cmd(
        home.path(),
        &["slack", "status"],
        &[
            ("SLACK_BOT_TOKEN", "xoxb-status-secret"),
            ("SLACK_APP_TOKEN", app),
            ("SLACK_ALLOWED_USERS", "U012AB3CD"),
        ],
    );
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    assert!(text.contains("bot token:      yes"), "{text}");
    assert!(text.contains("mode:           socket"), "{text}");
    assert!(text.contains("app token:      yes"), "{text}");
    assert!(text.contains("allowed users:  1"), "{text}");
    assert!(
        !text.contains("status-secret"),
        "tokens are never printed: {text}"
    );

    // Enabled in events mode without the signing secret: a clear refusal.
    std::fs::write(
        home.path().join("config.toml"),
        "[channels.slack]\nenabled = true\nmode = \"events\"\n",
    )
    .unwrap();
    let out = cmd(
        home.path(),
        &["slack", "status"],
        &[("SLACK_BOT_TOKEN", "xoxb-status-secret")],
    );
    let all = format!("{}{}", stdout(&out), String::from_utf8_lossy(&out.stderr));
    assert!(all.contains("SLACK_SIGNING_SECRET"), "{all}");
}

#[test]
fn pairing_is_approved_on_the_memory_file_without_a_server() {
    let home = tempfile::tempdir().unwrap();
    pending(home.path(), "K7QMXPA2", 42);
    let out = cmd(home.path(), &["pairing", "list", "telegram"], &[]);
    let text = stdout(&out);
    assert!(
        text.contains("1 pending, 0 approved") && text.contains("K7QMXPA2"),
        "{text}"
    );

    let out = cmd(
        home.path(),
        &["pairing", "approve", "telegram", "WRONG123"],
        &[],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("WRONG123") && err.contains("K7QMXPA2"),
        "{err}"
    );

    let out = cmd(
        home.path(),
        &["pairing", "approve", "telegram", "k7qm-xpa2"],
        &[],
    );
    assert!(out.status.success(), "{out:?}");
    assert!(
        stdout(&out).contains("approved telegram user 42 (ann)"),
        "{out:?}"
    );
    let text = stdout(&cmd(home.path(), &["pairing", "list", "telegram"], &[]));
    assert!(text.contains("0 pending, 1 approved"), "{text}");

    let out = cmd(home.path(), &["pairing", "revoke", "telegram", "42"], &[]);
    assert!(out.status.success());
    let out = cmd(home.path(), &["pairing", "revoke", "telegram", "42"], &[]);
    assert_eq!(out.status.code(), Some(1), "nothing left to revoke");
}

#[test]
fn pairing_goes_through_the_running_server() {
    let home = tempfile::tempdir().unwrap();
    pending(home.path(), "SERVEAAA", 77);
    let mut child = Command::new(BIN)
        .arg("serve")
        .env("OPENPISTA_HOME", home.path())
        .env("OPENPISTA_LISTEN", "127.0.0.1:0")
        .env_remove("TELEGRAM_BOT_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert!(lines.next().unwrap().unwrap().contains("ready"));
    std::thread::spawn(move || for _ in lines {});
    let socket = home.path().join("control.sock");
    let start = Instant::now();
    while !socket.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no control socket"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // The server holds the database: the command must go through it.
    assert!(MemoryStore::open(&home.path().join("memory.redb")).is_err());
    let out = cmd(
        home.path(),
        &["pairing", "approve", "telegram", "SERVEAAA"],
        &[],
    );
    assert!(out.status.success(), "{out:?}");
    assert!(stdout(&out).contains("user 77"), "{out:?}");
    let text = stdout(&cmd(home.path(), &["telegram", "status"], &[]));
    assert!(text.contains("@pista_bot"), "{text}");
    child.kill().unwrap();
    child.wait().unwrap();
    let m = MemoryStore::open(&home.path().join("memory.redb")).unwrap();
    assert!(
        m.kv_get("channel-telegram", "pairing/approved/77")
            .unwrap()
            .is_some()
    );
}

#[test]
fn whatsapp_pair_links_with_a_bridge_of_its_own_and_status_shows_it() {
    if !std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .any(|d| Path::new(d).join("node").is_file())
    {
        assert!(std::env::var("CI").is_err(), "node is required under CI");
        eprintln!("!!!!!!!! SKIPPED: node is not on PATH !!!!!!!!");
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let bridge = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fake-bridge");
    std::fs::write(
        home.path().join("config.toml"),
        format!(
            "[channels.whatsapp]\nsession_dir = \"{}/wa\"\nbridge_path = \"{}\"\n",
            home.path().display(),
            bridge.display()
        ),
    )
    .unwrap();
    let out = cmd(home.path(), &["whatsapp", "status"], &[]);
    assert!(stdout(&out).contains("not paired"), "{out:?}");
    let out = cmd(
        home.path(),
        &["whatsapp", "pair", "--timeout-secs", "30"],
        &[],
    );
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    // The QR code drawn in block characters, then the link.
    assert!(text.contains('█') || text.contains('▀'), "{text}");
    assert!(text.contains("linked as 10000@s.whatsapp.net"), "{text}");
    let text = stdout(&cmd(home.path(), &["whatsapp", "status"], &[]));
    assert!(text.contains("credentials stored"), "{text}");
    let out = cmd(home.path(), &["whatsapp", "pair", "--phone", "12ab"], &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("digits only"));
}
