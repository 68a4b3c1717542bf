//! Sign-ins a person drives from the terminal: the Anthropic code paste
//! and API keys through a pty (`script`, so stdin is a terminal: the
//! picker shows and a typed key is not echoed), the Copilot device flow
//! with `authorization_pending` and `slow_down`, and what `status` and
//! `logout` say about the stored file.

use super::{Home, assert_status_shows, consent_over_http, mode};
use openpista::auth::Method;
use openpista_tests::doubles::oauth::DeviceStep;

/// The `CODE#STATE` the double's code page shows after consent.
async fn code_from_page(home: &Home, authorize_url: &str) -> String {
    let page_url = consent_over_http(&home.double, authorize_url).await;
    let (status, page) = super::get(&page_url).await;
    assert_eq!(status, 200, "{page}");
    page.split("<code id=\"code\">")
        .nth(1)
        .and_then(|r| r.split("</code>").next())
        .unwrap_or_else(|| panic!("no code on {page}"))
        .to_string()
}

#[tokio::test]
async fn anthropic_code_is_pasted_in_the_terminal() {
    let home = Home::new().await;
    let mut cli = home.spawn_in_pty(&["auth", "login", "--provider", "anthropic", "--no-browser"]);
    let url = cli
        .url(&home.double.url("/anthropic/oauth/authorize"))
        .await;
    assert!(
        url.contains("code=true")
            && url.contains("scope=org%3Acreate_api_key+user%3Aprofile+user%3Ainference"),
        "{url}"
    );
    let pasted = code_from_page(&home, &url).await;
    cli.line_where("the paste prompt", |l| l.contains("CODE#STATE"))
        .await;
    cli.type_line(&pasted).await;
    let (status, out) = cli.finish().await;
    assert!(status.success(), "{out}");

    let c = home.stored("anthropic");
    assert_eq!(c.method, Method::OAuth);
    assert_eq!(c.account_id.as_deref(), Some("anthropic-account-1"));
    assert!(c.access_token.starts_with("sk-ant-oat01_") && c.refresh_token.is_some());
    let exchange = home
        .double
        .requests()
        .into_iter()
        .find(|r| r.path == "/anthropic/v1/oauth/token")
        .expect("the code exchange");
    assert_eq!(exchange.header("content-type"), Some("application/json"));
    for key in [
        "code",
        "state",
        "client_id",
        "redirect_uri",
        "code_verifier",
    ] {
        assert!(
            exchange.body[key].is_string(),
            "{key} missing: {}",
            exchange.body
        );
    }
    assert_status_shows(&home, "anthropic", &["oauth", "person@example.com"]).await;
}

#[tokio::test]
async fn anthropic_refuses_a_pasted_code_of_another_sign_in() {
    let home = Home::new().await;
    let mut cli = home.spawn(&["auth", "login", "--provider", "anthropic", "--no-browser"]);
    let url = cli
        .url(&home.double.url("/anthropic/oauth/authorize"))
        .await;
    let pasted = code_from_page(&home, &url).await;
    let code = pasted.split('#').next().unwrap();
    cli.type_line(&format!("{code}#some-other-state")).await;
    let (status, out) = cli.finish().await;
    assert!(!status.success(), "{out}");
    assert!(out.contains("state does not match"), "{out}");
    assert!(!home.credentials().exists());
    assert_eq!(home.double.count("/anthropic/v1/oauth/token"), 0);
}

#[tokio::test]
async fn the_picker_lists_states_and_a_typed_key_is_not_echoed() {
    let home = Home::new().await;
    home.store()
        .put(
            "openai",
            &home
                .double
                .signed_in("openai", openpista::auth::now_unix() + 3600),
        )
        .unwrap();
    let mut cli = home.spawn_in_pty(&["auth", "login"]);
    let openai = cli
        .line_where("the OpenAI row", |l| l.contains("OpenAI (ChatGPT"))
        .await;
    assert!(openai.contains("signed in, expires"), "{openai}");
    let gemini = cli
        .line_where("the Gemini row", |l| l.contains("Google Gemini"))
        .await;
    assert!(
        gemini.trim_start().starts_with("5.") && gemini.ends_with("none"),
        "{gemini}"
    );
    cli.line_where("the number prompt", |l| l.starts_with("Number"))
        .await;
    cli.type_line("5").await;
    cli.line_where("the key prompt", |l| l.contains("(it is not shown)"))
        .await;
    let key = "gm-key-5b1e77c0d4a9";
    cli.type_line(key).await;
    let (status, out) = cli.finish().await;
    assert!(status.success(), "{out}");
    assert!(!out.contains(key), "the key was echoed:\n{out}");
    let c = home.stored("gemini");
    assert_eq!((c.method, c.access_token.as_str()), (Method::ApiKey, key));
    assert_status_shows(&home, "gemini", &["api_key", "API key"]).await;
}

#[tokio::test]
async fn without_a_terminal_the_picker_asks_for_provider() {
    let home = Home::new().await;
    let (status, out) = home.run(&["auth", "login"]).await;
    assert!(!status.success(), "{out}");
    assert!(
        out.contains("--provider NAME") && out.contains("not a terminal"),
        "{out}"
    );
}

#[tokio::test]
async fn copilot_device_flow_waits_through_pending_and_slow_down() {
    let home = Home::new().await;
    let mut cli = home.spawn(&["auth", "login", "--provider", "copilot", "--no-browser"]);
    cli.line_where("the user code", |l| l.contains("WDJB-MJHT"))
        .await;
    let (status, out) = cli.finish().await;
    assert!(status.success(), "{out}");
    // The double answers `slow_down` to any poll that comes before the
    // interval in force (1 s, then 2 s after its own slow_down): exactly
    // these three answers mean the command waited as told each time.
    assert_eq!(
        home.double.device_polls(),
        (
            vec![
                "authorization_pending".to_string(),
                "slow_down".to_string(),
                "token".to_string()
            ],
            0
        )
    );
    let device = &home.double.requests()[0];
    assert_eq!(device.path, "/github/login/device/code");
    assert_eq!(device.header("accept"), Some("application/json"));

    let c = home.stored("copilot");
    assert_eq!(c.method, Method::OAuth);
    assert!(
        c.access_token.starts_with("tid=copilot_"),
        "the Copilot token"
    );
    assert!(
        c.refresh_token.as_deref().unwrap().starts_with("gho_"),
        "the GitHub token"
    );
    assert_eq!(
        c.extra.get("api_endpoint").map(String::as_str),
        Some(home.double.url("/copilot-api").as_str())
    );
    let left = c.expires_at.unwrap() - openpista::auth::now_unix();
    assert!((1700..=1800).contains(&left), "{left}");
    assert_status_shows(&home, "copilot", &["oauth", "expires"]).await;
}

#[tokio::test]
async fn copilot_access_denied_stores_nothing() {
    let home = Home::new().await;
    home.double
        .script_device_flow(vec![DeviceStep::Pending, DeviceStep::Denied]);
    let (status, out) = home
        .run(&["auth", "login", "--provider", "copilot", "--no-browser"])
        .await;
    assert!(!status.success(), "{out}");
    assert!(out.contains("refused on GitHub"), "{out}");
    assert!(!home.credentials().exists());
}

#[tokio::test]
async fn a_piped_key_logout_and_a_repaired_file_mode() {
    let home = Home::new().await;
    let mut cli = home.spawn(&["auth", "login", "--provider", "openai", "--api-key"]);
    cli.type_line("sk-piped-2f9d1c").await;
    let (status, out) = cli.finish().await;
    assert!(status.success(), "{out}");
    assert_eq!(home.stored("openai").method, Method::ApiKey);

    std::fs::set_permissions(
        home.credentials(),
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .unwrap();
    let (status, out) = home.run(&["auth", "status"]).await;
    assert!(status.success(), "{out}");
    assert!(
        out.contains("made private") && out.contains("credentials.toml") && out.contains("0644"),
        "{out}"
    );
    assert_eq!(mode(&home.credentials()), 0o600);

    let (status, out) = home.run(&["auth", "logout", "openai"]).await;
    assert!(
        status.success() && out.contains("Signed out of openai"),
        "{out}"
    );
    let (status, out) = home.run(&["auth", "logout", "openai"]).await;
    assert!(
        status.success() && out.contains("no stored credentials"),
        "{out}"
    );
    assert!(home.store().get("openai").unwrap().is_none());
}

#[tokio::test]
async fn a_broken_file_or_config_is_reported_with_where() {
    let home = Home::new().await;
    std::fs::create_dir_all(home.home()).unwrap();
    std::fs::write(
        home.credentials(),
        "[openai]\nmethod = \"oauth\"\naccess_token = \n",
    )
    .unwrap();
    let (status, out) = home.run(&["auth", "status"]).await;
    assert!(!status.success(), "{out}");
    assert!(out.contains("credentials.toml:3"), "{out}");

    std::fs::write(
        &home.config,
        "[auth.copilot]\ndevice_code_url = \"ftp://example.com/x\"\n",
    )
    .unwrap();
    let (status, out) = home.run(&["auth", "status"]).await;
    assert!(!status.success(), "{out}");
    assert!(
        out.contains("[auth.copilot]") && out.contains("device_code_url"),
        "{out}"
    );
}
