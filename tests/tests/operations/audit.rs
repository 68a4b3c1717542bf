//! `openpista security audit` finds each weakness planted in a set-up,
//! with its severity and fix, and nothing in a careful one.

use super::{Setup, TOKEN_ENV};
use std::os::unix::fs::PermissionsExt;

/// `(severity, id)` of every finding in the JSON report, and the report.
async fn audit(setup: &Setup) -> (i32, Vec<(String, String)>, serde_json::Value) {
    let (code, out, err) = setup.output(&["security", "audit", "--json"]).await;
    let report: serde_json::Value =
        serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {out}\n{err}"));
    let found = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["severity"].as_str().unwrap().to_string(),
                f["id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    (code, found, report)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_planted_weakness_is_found_with_its_severity() {
    let setup = Setup::new(
        None,
        "unused",
        r#"
[channels.telegram]
enabled = true
token = "123456:AAH-planted_token"
pairing = false

[components.tool-basics]
hosts = ["*.example.com"]

[components.tool-files]
writable_paths = ["WRITABLE"]

[[approvals.rules]]
tool = "system.run"
channel = "*"
action = "auto"
"#,
    );
    // A public listener without TLS; a folder a component may write.
    let writable = setup.dir.path().join("planted-writable");
    std::fs::create_dir_all(&writable).unwrap();
    let text = std::fs::read_to_string(&setup.config)
        .unwrap()
        .replace("127.0.0.1:0", "0.0.0.0:0")
        .replace("WRITABLE", &writable.display().to_string());
    std::fs::write(&setup.config, text).unwrap();
    // A short web token in a file others can read (token_env dropped).
    let text = std::fs::read_to_string(&setup.config)
        .unwrap()
        .replace(&format!("token_env = \"{TOKEN_ENV}\"\n"), "");
    std::fs::write(&setup.config, text).unwrap();
    std::fs::create_dir_all(setup.home()).unwrap();
    let token = setup.home().join("web-token");
    std::fs::write(&token, "guessable1").unwrap();
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o644)).unwrap();

    let (code, found, report) = audit(&setup).await;
    assert_eq!(code, 1, "a high finding fails the run: {report}");
    for (severity, id) in [
        ("high", "listener-plaintext"),
        ("high", "channel-open"),
        ("medium", "component-wildcard-host"),
        ("medium", "component-writes"),
        ("high", "native-auto"),
        ("high", "secret-readable"),
        ("medium", "web-token-short"),
    ] {
        assert!(
            found.contains(&(severity.to_string(), id.to_string())),
            "{id} ({severity}) not found: {report}"
        );
    }
    let finding = |id: &str| {
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["id"] == id)
            .unwrap()
            .clone()
    };
    assert!(
        finding("channel-open")["what"]
            .as_str()
            .unwrap()
            .contains("telegram")
    );
    assert!(
        finding("component-wildcard-host")["what"]
            .as_str()
            .unwrap()
            .contains("tool-basics may reach every host under *.example.com")
    );
    assert!(
        finding("component-writes")["what"]
            .as_str()
            .unwrap()
            .contains(&writable.display().to_string())
    );
    assert!(
        finding("native-auto")["what"]
            .as_str()
            .unwrap()
            .starts_with("system.run")
    );
    assert_eq!(
        finding("secret-readable")["fix"],
        format!("chmod 600 {}", token.display())
    );
    // Most severe first.
    let severities: Vec<&str> = found.iter().map(|(s, _)| s.as_str()).collect();
    let mut sorted = severities.clone();
    sorted.sort_by_key(|s| match *s {
        "high" => 0,
        "medium" => 1,
        _ => 2,
    });
    assert_eq!(severities, sorted);

    // The text form says the same, with a fix under each.
    let (_, out, _) = setup.output(&["security", "audit"]).await;
    assert!(out.contains("[HIGH] listener-plaintext:"), "{out}");
    assert!(out.contains("    fix: set [server] tls_cert"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_careful_set_up_has_no_findings() {
    let setup = Setup::new(
        None,
        "unused",
        "[channels.telegram]\nenabled = true\ntoken = \"123456:AAH-careful_token\"\nallowed_users = [42]\n",
    );
    let (code, found, report) = audit(&setup).await;
    assert_eq!((code, found.len()), (0, 0), "{report}");
    let (code, out, _) = setup.output(&["security", "audit"]).await;
    assert_eq!((code, out.trim()), (0, "no findings"));
}
