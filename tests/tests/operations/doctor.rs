//! `openpista doctor` on a healthy set-up (a real Docker engine, a
//! provider that answers) and on one with Docker away, a credentials file
//! others can read and a lapsed sign-in: the right lines fail, each with
//! its fix, and the exit status says so.

use super::{Served, Setup};
use openpista::auth::{Credential, CredentialStore, Method};
use openpista_tests::doubles::openai::{OpenAiDouble, Reply};
use std::os::unix::fs::PermissionsExt;

/// The line of `out` about `check`.
fn line<'a>(out: &'a str, check: &str) -> &'a str {
    out.lines()
        .find(|l| {
            l.strip_prefix("✓ ")
                .or_else(|| l.strip_prefix("✗ "))
                .is_some_and(|rest| {
                    rest.starts_with(&format!("{check}:"))
                        || rest.starts_with(&format!("{check} ("))
                })
        })
        .unwrap_or_else(|| panic!("no line for {check}:\n{out}"))
}

/// The `fix:` line under the line about `check` (whose detail may run
/// over several lines).
fn fix<'a>(out: &'a str, check: &str) -> &'a str {
    let at = out.find(line(out, check)).unwrap();
    out[at..]
        .lines()
        .skip(1)
        .find_map(|l| l.strip_prefix("    fix: "))
        .unwrap_or_else(|| panic!("no fix under {check}:\n{out}"))
}

fn docker_section(endpoint: &str) -> String {
    format!("[native.container]\nenabled = true\ndocker_host = \"{endpoint}\"\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_set_up_passes_every_required_check() {
    // A real engine, or a loud skip (a failure under CI).
    if openpista_tests::native::docker::engine().await.is_none() {
        return;
    }
    let double = OpenAiDouble::start().await;
    double.push(Reply::text("OK"));
    let setup = Setup::new(
        Some(&double.base_url()),
        "sk-doctor-good",
        &docker_section("unix:///var/run/docker.sock"),
    );
    // A server runs on the same config and holds its memory store: the
    // doctor loads the components on a store of its own.
    let _served = Served::start(&setup, &[]);
    let (code, out, err) = setup.output(&["doctor"]).await;
    assert_eq!(code, 0, "{out}\n{err}");
    for check in [
        "config",
        "file modes",
        "components",
        "provider main",
        "docker",
        "listener",
    ] {
        assert!(line(&out, check).starts_with('✓'), "{check}:\n{out}");
    }
    assert!(
        line(&out, "provider main").contains("gpt-test answered"),
        "{out}"
    );

    // The same as JSON.
    double.push(Reply::text("OK"));
    let (code, out, _) = setup.output(&["doctor", "--json"]).await;
    assert_eq!(code, 0);
    let report: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(report["ok"], true);
    let docker = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "docker")
        .unwrap();
    assert_eq!(
        (&docker["ok"], &docker["required"]),
        (&true.into(), &true.into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_away_a_readable_credentials_file_and_a_lapsed_sign_in_fail_with_their_fixes() {
    let double = OpenAiDouble::start().await;
    double.push(Reply::text("OK"));
    let setup = Setup::new(
        Some(&double.base_url()),
        "sk-doctor-bad",
        &docker_section("unix:///nonexistent/openpista-doctor/docker.sock"),
    );
    // A stored API key (fine) and a sign-in that lapsed with nothing to
    // refresh it, in a file others can read.
    let credentials = setup.home().join("credentials.toml");
    let store = CredentialStore::open(credentials.clone());
    store
        .put("anthropic", &Credential::api_key("sk-ant-stored".into()))
        .unwrap();
    let mut lapsed = Credential::api_key("at-lapsed".into());
    lapsed.method = Method::OAuth;
    lapsed.expires_at = Some(1_000);
    store.put("copilot", &lapsed).unwrap();
    std::fs::set_permissions(&credentials, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, out, err) = setup.output(&["doctor"]).await;
    assert_eq!(code, 1, "{out}\n{err}");

    assert!(line(&out, "docker").starts_with('✗'), "{out}");
    assert!(line(&out, "docker").contains("/nonexistent/openpista-doctor/docker.sock"));
    assert!(fix(&out, "docker").contains("dockerd"), "{out}");

    let modes = line(&out, "file modes");
    assert!(modes.starts_with('✗') && modes.contains("0644"), "{out}");
    assert!(modes.contains(&credentials.display().to_string()), "{out}");
    assert_eq!(
        fix(&out, "file modes"),
        format!("chmod 600 {}", credentials.display())
    );

    assert!(line(&out, "credential anthropic").starts_with('✓'), "{out}");
    assert!(line(&out, "credential copilot").starts_with('✗'), "{out}");
    assert_eq!(
        fix(&out, "credential copilot"),
        "openpista auth login --provider copilot"
    );
    // What works still says so.
    for check in ["config", "components", "provider main", "listener"] {
        assert!(line(&out, check).starts_with('✓'), "{check}:\n{out}");
    }
    assert!(
        out.trim_end().ends_with("not ready: 3 check(s) failed"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_that_does_not_parse_is_a_failed_check() {
    let setup = Setup::new(None, "unused", "[unheard_of]\nx = 1\n");
    let (code, out, _) = setup.output(&["doctor"]).await;
    assert_eq!(code, 1);
    let config = line(&out, "config");
    assert!(
        config.starts_with('✗') && config.contains("config.toml"),
        "{out}"
    );
    assert!(fix(&out, "config").contains("config.example.toml"), "{out}");
}
