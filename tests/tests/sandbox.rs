//! The hostile-component suite: a real compiled component attacks its
//! sandbox, one attack per test, while a stream of well-behaved calls keeps
//! running beside it. Each attack must be contained with a clear error and
//! none of the other calls may fail.

use openpista::runtime::secrets::SecretStore;
use openpista::runtime::{CallError, Runtime};
use openpista_tests::{Listener, ctx, install, manifest, runtime_with, wasm};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

const SECRET: &str = "tok-8f3a91c2-secret-value";

/// Installs the hostile component with extra manifest text and loads it.
async fn hostile(extra: &str, secrets: &[(&str, &str)]) -> (tempfile::TempDir, Arc<Runtime>) {
    let store = SecretStore::new(
        secrets
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    );
    hostile_with(extra, store).await
}

/// [`hostile`] with a secret store of the test's making.
async fn hostile_with(extra: &str, secrets: SecretStore) -> (tempfile::TempDir, Arc<Runtime>) {
    let root = tempfile::tempdir().unwrap();
    let text = format!("{}\n{extra}", manifest("hostile"));
    install(
        &root.path().join("components"),
        "hostile",
        &std::fs::read(wasm("hostile")).unwrap(),
        &text,
    );
    let rt = runtime_with(root.path(), secrets);
    let failures = rt.load_all().await;
    assert!(failures.is_empty(), "{failures:?}");
    (root, rt)
}

/// Runs `attack` while a loop of echo calls runs beside it; returns the
/// attack's outcome after checking every echo call succeeded.
async fn contained(
    rt: &Arc<Runtime>,
    tool: &str,
    args: &str,
) -> Result<openpista::runtime::bindings::ToolResult, CallError> {
    let component = rt.get("hostile").unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let served = Arc::new(AtomicUsize::new(0));
    let bystander = {
        let (component, done, served) = (component.clone(), done.clone(), served.clone());
        tokio::spawn(async move {
            let mut i = 0;
            while !done.load(Ordering::SeqCst) || i < 3 {
                let args = format!(r#"{{"n":{i}}}"#);
                let out = component
                    .invoke("hostile.echo", &args, &ctx("echo"))
                    .await
                    .expect("a well-behaved call failed while another was attacking");
                assert_eq!(out.content, args);
                served.fetch_add(1, Ordering::SeqCst);
                i += 1;
            }
        })
    };
    let outcome = component.invoke(tool, args, &ctx("attack")).await;
    done.store(true, Ordering::SeqCst);
    bystander.await.unwrap();
    assert!(served.load(Ordering::SeqCst) >= 3);
    outcome
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn infinite_loop_ends_at_its_deadline() {
    let (_root, rt) = hostile("", &[]).await;
    let started = std::time::Instant::now();
    let err = contained(&rt, "hostile.spin", "{}").await.unwrap_err();
    assert!(
        matches!(err, CallError::Timeout { ms: 1000, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("deadline of 1000 ms"), "{err}");
    // Stopped near its deadline, not by some later safety net.
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_bomb_traps_at_its_cap() {
    let (_root, rt) = hostile("", &[]).await;
    let err = contained(&rt, "hostile.grow", "{}").await.unwrap_err();
    assert!(
        matches!(err, CallError::MemoryLimit { mb: 16, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("memory limit of 16 MiB"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_recursion_traps() {
    let (_root, rt) = hostile("", &[]).await;
    for stack in ["native", "linear"] {
        let err = contained(&rt, "hostile.recurse", &format!(r#"{{"stack":"{stack}"}}"#))
            .await
            .unwrap_err();
        assert!(
            matches!(err, CallError::StackOverflow { .. }),
            "{stack}: {err:?}"
        );
        assert!(err.to_string().contains("overflowed its stack"), "{err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panicking_guest_returns_an_error_with_its_message() {
    let (_root, rt) = hostile("", &[]).await;
    let err = contained(&rt, "hostile.panic", r#"{"message":"boom"}"#)
        .await
        .unwrap_err();
    match &err {
        CallError::Panic { message, .. } => {
            assert!(message.contains("hostile panic: boom"), "{message}")
        }
        other => panic!("expected a panic error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_to_ungranted_host_is_denied_and_never_arrives() {
    let listener = Listener::start().await;
    // Granted: another port on the same address. Not granted: the listener.
    let other = format!("127.0.0.1:{}", listener.addr.port() + 1);
    let (_root, rt) = hostile(&format!("[capabilities]\nhosts = [\"{other}\"]"), &[]).await;
    let url = format!("http://{}/steal", listener.addr);
    let out = contained(&rt, "hostile.fetch", &format!(r#"{{"url":"{url}"}}"#))
        .await
        .unwrap();
    assert!(out.content.contains("HttpRequestDenied"), "{}", out.content);
    // A loopback name is refused too unless granted literally.
    let out = contained(
        &rt,
        "hostile.fetch",
        &format!(r#"{{"url":"http://localhost:{}/"}}"#, listener.addr.port()),
    )
    .await
    .unwrap();
    assert!(out.content.contains("HttpRequestDenied"), "{}", out.content);
    // Raw TCP is no way around it.
    let err = contained(
        &rt,
        "hostile.tcp",
        &format!(r#"{{"addr":"{}"}}"#, listener.addr),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("connect failed"), "{err}");
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(
        listener.connection_count(),
        0,
        "a denied request reached the listener"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn granted_host_is_reached_with_the_secret_substituted_outside_the_guest() {
    let listener = Listener::start().await;
    let (_root, rt) = hostile(
        &format!(
            "[capabilities]\nhosts = [\"{}\"]\nsecrets = [\"api_token\"]",
            listener.addr
        ),
        &[
            ("api_token", SECRET),
            ("other_token", "other-secret-value-77"),
        ],
    )
    .await;
    let url = format!("http://{}/v1/items", listener.addr);
    let args = serde_json::json!({
        "url": url,
        "headers": { "authorization": "Bearer {{secret:api_token}}" }
    });
    let out = contained(&rt, "hostile.fetch", &args.to_string())
        .await
        .unwrap();
    assert!(out.content.starts_with("status 200"), "{}", out.content);
    assert!(!out.content.contains(SECRET), "the guest saw the secret");
    let seen = listener.requests.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert!(seen[0].starts_with("GET /v1/items HTTP/1.1"), "{}", seen[0]);
    assert!(
        seen[0].to_ascii_lowercase().contains(&format!(
            "authorization: bearer {}",
            SECRET.to_ascii_lowercase()
        )),
        "{}",
        seen[0]
    );

    // A secret the component did not declare is never substituted: the
    // request is refused and nothing is sent.
    let args = serde_json::json!({
        "url": url,
        "headers": { "x-key": "{{secret:other_token}}" }
    });
    let out = contained(&rt, "hostile.fetch", &args.to_string())
        .await
        .unwrap();
    assert!(out.content.contains("HttpRequestDenied"), "{}", out.content);
    assert!(!out.content.contains("other-secret-value-77"));
    assert_eq!(listener.requests.lock().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_in_token_is_refreshed_and_substituted_outside_the_guest() {
    use openpista::auth::source::{Field, SignIn};
    use openpista::auth::{CredentialStore, now_unix};
    let listener = Listener::start().await;
    let oauth = openpista_tests::doubles::oauth::OAuthDouble::start().await;
    let files = tempfile::tempdir().unwrap();
    let store = CredentialStore::open(files.path().join("credentials.toml"));
    let old = oauth.signed_in("anthropic", now_unix() + 60);
    store.put("anthropic", &old).unwrap();
    let settings = openpista::config::Config::parse(&oauth.auth_config(), "auth")
        .unwrap()
        .auth;
    let sign_in = SignIn::new("anthropic", store.clone(), Arc::new(settings));
    let secrets =
        SecretStore::default().with_source("hostile/api_token", sign_in.source(Field::Token));
    let (_root, rt) = hostile_with(
        &format!(
            "[capabilities]\nhosts = [\"{}\"]\nsecrets = [\"api_token\"]",
            listener.addr
        ),
        secrets,
    )
    .await;
    let args = serde_json::json!({
        "url": format!("http://{}/v1/me", listener.addr),
        "headers": { "authorization": "Bearer {{secret:api_token}}" }
    });
    let out = contained(&rt, "hostile.fetch", &args.to_string())
        .await
        .unwrap();
    assert!(out.content.starts_with("status 200"), "{}", out.content);
    let fresh = store.get("anthropic").unwrap().unwrap();
    assert_ne!(fresh.access_token, old.access_token, "refreshed before use");
    for token in [&fresh.access_token, &old.access_token] {
        assert!(
            !out.content.contains(token.as_str()),
            "the guest saw a token"
        );
    }
    let seen = listener.requests.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert!(
        seen[0].contains(&format!("Bearer {}", fresh.access_token)),
        "{}",
        seen[0]
    );
    assert_eq!(oauth.refresh_grants("anthropic"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_outside_the_preopens_are_unreachable() {
    let data = tempfile::tempdir().unwrap();
    let allowed = data.path().join("allowed");
    std::fs::create_dir(&allowed).unwrap();
    std::fs::write(allowed.join("note.txt"), "readable").unwrap();
    std::fs::write(data.path().join("private.txt"), "not for guests").unwrap();
    let (_root, rt) = hostile(
        &format!("[capabilities]\npaths = [\"{}\"]", allowed.display()),
        &[],
    )
    .await;
    let read = |p: std::path::PathBuf| format!(r#"{{"path":"{}"}}"#, p.display());
    let out = contained(&rt, "hostile.read", &read(allowed.join("note.txt")))
        .await
        .unwrap();
    assert_eq!(out.content, "readable");
    for path in [
        data.path().join("private.txt"),
        allowed.join("../private.txt"),
        "/etc/hostname".into(),
    ] {
        let err = contained(&rt, "hostile.read", &read(path.clone()))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("read failed"), "{path:?}: {err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guest_sees_no_host_environment_or_secrets() {
    // SAFETY: set before any thread of this test reads the environment.
    unsafe { std::env::set_var("OPENPISTA_TEST_LEAK", SECRET) };
    let (_root, rt) = hostile("", &[("api_token", SECRET)]).await;
    let out = contained(&rt, "hostile.env", "{}").await.unwrap();
    assert_eq!(out.content, "env=[] args=[]");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fuel_budget_stops_a_loop_when_metering_is_on() {
    use openpista::runtime::RuntimeConfig;
    use openpista::runtime::engine::EngineSettings;
    let root = tempfile::tempdir().unwrap();
    let text = format!("{}\n", manifest("hostile"))
        .replace("timeout_ms = 1000", "timeout_ms = 30000\nfuel = 5000000");
    install(
        &root.path().join("components"),
        "hostile",
        &std::fs::read(wasm("hostile")).unwrap(),
        &text,
    );
    let rt = Runtime::new(RuntimeConfig {
        engine: EngineSettings {
            fuel: true,
            ..EngineSettings::default()
        },
        plugin_dirs: vec![root.path().join("components")],
        embedded: false,
        ..RuntimeConfig::default()
    })
    .unwrap();
    assert!(rt.load_all().await.is_empty());
    let started = std::time::Instant::now();
    let err = contained(&rt, "hostile.spin", "{}").await.unwrap_err();
    assert!(matches!(err, CallError::OutOfFuel { .. }), "{err:?}");
    // Fuel, not the 30 s deadline, stopped it.
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
}
