//! `system.run` for real: bash under a deadline that kills the whole
//! process group, exit codes, the truncation marker, working folders
//! inside the allowed ones, a scrubbed environment, and the audit record.
//! `system.notify` for real: a private session bus, dunst on its own Xvfb,
//! what dunst received, and the errors without a service or a bus.

use openpista::native::audit::{AuditLog, Audited};
use openpista::native::env::EnvScrub;
use openpista::native::notify::SystemNotify;
use openpista::native::settings::{NotifySettings, SystemSettings};
use openpista::native::system::SystemRun;
use openpista::runtime::CallContext;
use openpista::runtime::bindings::{ToolResult, WitError, error_text};
use openpista::runtime::secrets::SecretStore;
use openpista::tools::NativeTool;
use openpista_tests::native::{Dunst, SessionBus, Xvfb, require};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn ctx() -> CallContext {
    CallContext {
        session: Some("test:system".into()),
        call_id: "c1".into(),
    }
}

fn tool(settings: SystemSettings) -> SystemRun {
    SystemRun::new(settings, EnvScrub::default())
}

async fn call(tool: &dyn NativeTool, args: serde_json::Value) -> Result<ToolResult, WitError> {
    tool.invoke(&args.to_string(), &ctx()).await
}

/// Whether process `pid` still runs (a zombie does not count).
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat.rsplit(')').next().unwrap_or("").trim_start();
            !state.starts_with('Z') && !state.starts_with('X')
        }
        Err(_) => false,
    }
}

#[tokio::test]
async fn the_deadline_kills_the_shell_and_its_children() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("child.pid");
    let t = tool(SystemSettings::default());
    let started = Instant::now();
    let r = call(
        &t,
        serde_json::json!({
            "command": format!("sleep 60 & echo $! > {}; echo waiting; wait", pidfile.display()),
            "timeout_secs": 1,
        }),
    )
    .await
    .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(r.is_error);
    assert!(r.content.starts_with("timed out after 1."), "{}", r.content);
    assert!(
        r.content.contains("process group was killed"),
        "{}",
        r.content
    );
    assert!(
        r.content.contains("waiting"),
        "output before the deadline is kept: {}",
        r.content
    );
    let child: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let gone_by = Instant::now() + Duration::from_secs(5);
    while alive(child) && Instant::now() < gone_by {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        !alive(child),
        "the background child {child} outlived the deadline"
    );
}

#[tokio::test]
async fn exit_codes_and_both_streams_come_back() {
    let t = tool(SystemSettings::default());
    let r = call(
        &t,
        serde_json::json!({"command": "echo out; echo err >&2; exit 7"}),
    )
    .await
    .unwrap();
    assert!(
        r.is_error,
        "a non-zero exit is a tool failure the model sees"
    );
    assert_eq!(
        r.content,
        "exit code: 7\n--- stdout ---\nout\n--- stderr ---\nerr\n"
    );
    let r = call(&t, serde_json::json!({"command": "true"}))
        .await
        .unwrap();
    assert!(!r.is_error);
    assert_eq!(r.content, "exit code: 0\n(no output)\n");
}

#[tokio::test]
async fn long_output_is_cut_with_a_marker_saying_how_much() {
    let t = tool(SystemSettings::default());
    let r = call(
        &t,
        serde_json::json!({"command": "head -c 25000 /dev/zero | tr '\\0' a"}),
    )
    .await
    .unwrap();
    assert!(
        r.content
            .contains("[output cut: showing 10000 of 25000 characters, 15000 omitted]"),
        "{}",
        &r.content[r.content.len() - 200..]
    );
    assert!(r.content.chars().count() < 10_200);
    let small = tool(SystemSettings {
        output_limit: 100,
        ..Default::default()
    });
    let r = call(&small, serde_json::json!({"command": "seq 1 1000"}))
        .await
        .unwrap();
    assert!(
        r.content
            .contains("showing 100 of 3893 characters, 3793 omitted"),
        "{}",
        r.content
    );
}

#[tokio::test]
async fn working_folders_stay_inside_the_allowed_ones() {
    let root = tempfile::tempdir().unwrap();
    let root_path = root.path().canonicalize().unwrap();
    std::fs::create_dir(root_path.join("sub")).unwrap();
    let t = tool(SystemSettings {
        allowed_dirs: vec![root_path.display().to_string()],
        ..Default::default()
    });
    let r = call(&t, serde_json::json!({"command": "pwd"}))
        .await
        .unwrap();
    assert!(
        r.content.contains(&format!("{}\n", root_path.display())),
        "{}",
        r.content
    );
    let r = call(&t, serde_json::json!({"command": "pwd", "cwd": "sub"}))
        .await
        .unwrap();
    assert!(
        r.content
            .contains(&format!("{}/sub\n", root_path.display())),
        "{}",
        r.content
    );
    for outside in ["/", "..", "sub/../.."] {
        let e = call(&t, serde_json::json!({"command": "pwd", "cwd": outside}))
            .await
            .unwrap_err();
        let text = error_text(&e);
        assert!(
            matches!(e, WitError::Denied(_)) && text.contains("outside the allowed folders"),
            "{outside}: {text}"
        );
    }
    let e = call(&t, serde_json::json!({"command": "pwd", "cwd": "missing"}))
        .await
        .unwrap_err();
    assert!(error_text(&e).contains("missing"), "{}", error_text(&e));
}

#[tokio::test]
async fn bad_arguments_are_refused_with_the_reason() {
    let t = tool(SystemSettings::default());
    for (args, says) in [
        (serde_json::json!({}), "missing field `command`"),
        (serde_json::json!({"command": "  "}), "command is empty"),
        (
            serde_json::json!({"command": "x", "shell": "zsh"}),
            "unknown field `shell`",
        ),
    ] {
        let e = call(&t, args).await.unwrap_err();
        assert!(
            matches!(&e, WitError::InvalidInput(m) if m.contains(says)),
            "{says}: {e:?}"
        );
    }
}

#[tokio::test]
async fn secrets_are_scrubbed_from_the_environment_and_redacted_from_output_and_log() {
    let secrets = SecretStore::new(BTreeMap::from([(
        "db".to_string(),
        "hunter2-very-secret".to_string(),
    )]));
    let scrub = EnvScrub {
        names: ["MY_SERVICE_URL".to_string()].into(),
        secrets: secrets.clone(),
    };
    let vars = [
        ("MY_SERVICE_URL", "https://u:p@example"),
        ("OPENAI_API_KEY", "sk-abc"),
        ("HARMLESS_NAME", "hunter2-very-secret"),
        ("LANG", "C.UTF-8"),
    ]
    .map(|(a, b)| (a.to_string(), b.to_string()));
    assert_eq!(
        scrub.filter(vars),
        vec![("LANG".to_string(), "C.UTF-8".to_string())]
    );

    // The real call path, wrapped in the audit record as the registry does.
    let log = AuditLog::new();
    let t = Audited::new(
        Arc::new(SystemRun::new(SystemSettings::default(), scrub)),
        log.clone(),
        secrets,
    );
    let r = call(
        &t,
        serde_json::json!({"command": "echo 'token hunter2-very-secret'; env | grep -c . >/dev/null"}),
    )
    .await
    .unwrap();
    assert!(r.content.contains("token [redacted:db]"), "{}", r.content);
    assert!(!r.content.contains("hunter2"));
    let _ = call(&t, serde_json::json!({"command": "exit 3"}))
        .await
        .unwrap();
    let _ = call(&t, serde_json::json!({"nope": 1})).await.unwrap_err();
    let records = log.records();
    assert_eq!(records.len(), 3);
    assert_eq!(records[0].tool, "system.run");
    assert_eq!(records[0].session.as_deref(), Some("test:system"));
    assert!(records[0].ok);
    assert!(
        records[0].arguments.contains("[redacted:db]"),
        "{}",
        records[0].arguments
    );
    assert!(!records[0].arguments.contains("hunter2"));
    assert!(
        !records[1].ok && records[1].outcome.starts_with("tool error: exit code: 3"),
        "{:?}",
        records[1]
    );
    assert!(
        records[2].outcome.starts_with("error: invalid input"),
        "{:?}",
        records[2]
    );
}

/// A bus of its own, or `None` (skipped).
fn session_bus(dir: &std::path::Path) -> Option<SessionBus> {
    let bus = SessionBus::start(dir);
    if !require(
        "a D-Bus session bus (Debian package dbus)",
        bus.as_ref().map(|_| ()).map_err(Clone::clone),
    ) {
        return None;
    }
    bus.ok()
}

fn notifier(address: &str) -> SystemNotify {
    SystemNotify::new(NotifySettings {
        bus_address: Some(address.to_string()),
        ..Default::default()
    })
}

/// The notification id in the tool's answer ("Notification 7 shown: …").
fn id_of(r: &ToolResult) -> i64 {
    r.content
        .strip_prefix("Notification ")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no id in {:?}", r.content))
}

#[tokio::test]
async fn notifications_reach_a_real_daemon_with_their_fields() {
    let dir = tempfile::tempdir().unwrap();
    let Some(bus) = session_bus(dir.path()) else {
        return;
    };
    let x = Xvfb::start(640, 480);
    if !require(
        "Xvfb (Debian package xvfb)",
        x.as_ref().map(|_| ()).map_err(Clone::clone),
    ) {
        return;
    }
    let x = x.unwrap();
    let dunst = Dunst::start(&bus, &x.display, dir.path());
    if !require(
        "dunst (Debian package dunst)",
        dunst.as_ref().map(|_| ()).map_err(Clone::clone),
    ) {
        return;
    }
    let dunst = dunst.unwrap();
    let t = notifier(&bus.address);

    let critical = call(
        &t,
        serde_json::json!({
            "title": "Build finished",
            "body": "All 212 tests passed",
            "urgency": "critical",
            "timeout_secs": 90,
        }),
    )
    .await
    .unwrap();
    assert!(!critical.is_error, "{}", critical.content);
    let low = call(
        &t,
        serde_json::json!({"title": "Low news", "urgency": "low", "timeout_secs": 2.5}),
    )
    .await
    .unwrap();
    let plain = call(&t, serde_json::json!({"title": "Plain"}))
        .await
        .unwrap();
    let ids = [id_of(&critical), id_of(&low), id_of(&plain)];
    assert!(ids[0] != ids[1] && ids[1] != ids[2], "{ids:?}");

    // dunst lists a notification once it is closed: close them all, then
    // read the history until all three are there.
    dunst.ctl(&["close-all"]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let history = loop {
        let history = dunst.history().unwrap();
        if history.len() >= 3 || Instant::now() > deadline {
            break history;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let by_id = |id: i64| {
        history
            .iter()
            .find(|n| n["id"].as_i64() == Some(id))
            .unwrap_or_else(|| {
                panic!(
                    "notification {id} not in {history:?}; log: {}",
                    dunst.log_text()
                )
            })
    };
    let n = by_id(ids[0]);
    assert_eq!(n["summary"], "Build finished");
    assert_eq!(n["body"], "All 212 tests passed");
    assert_eq!(n["appname"], "openpista");
    assert_eq!(n["timeout"], 90_000_000, "microseconds");
    assert!(
        n["message"]
            .as_str()
            .unwrap()
            .starts_with("urgency=critical "),
        "{n:?}"
    );
    let n = by_id(ids[1]);
    assert_eq!(n["summary"], "Low news");
    assert_eq!(n["body"], "");
    assert_eq!(n["timeout"], 2_500_000);
    assert!(
        n["message"].as_str().unwrap().starts_with("urgency=low "),
        "{n:?}"
    );
    let n = by_id(ids[2]);
    assert!(
        n["message"]
            .as_str()
            .unwrap()
            .starts_with("urgency=normal Plain"),
        "{n:?}"
    );
}

#[tokio::test]
async fn without_a_notification_service_or_a_bus_the_error_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let Some(bus) = session_bus(dir.path()) else {
        return;
    };
    let e = call(
        &notifier(&bus.address),
        serde_json::json!({"title": "hello"}),
    )
    .await
    .unwrap_err();
    let text = error_text(&e);
    assert!(matches!(e, WitError::Unavailable(_)), "{e:?}");
    assert!(
        text.starts_with(
            "unavailable: system.notify: no notification service on the session bus (org.freedesktop.Notifications)"
        ),
        "{text}"
    );

    // A bus address nobody listens on.
    let gone = dir.path().join("no-bus-here");
    let address = format!("unix:path={}", gone.display());
    let e = call(&notifier(&address), serde_json::json!({"title": "hello"}))
        .await
        .unwrap_err();
    let text = error_text(&e);
    assert!(matches!(e, WitError::Unavailable(_)), "{e:?}");
    assert!(
        text.starts_with(&format!(
            "unavailable: system.notify: no session bus at {address}"
        )),
        "{text}"
    );
}
