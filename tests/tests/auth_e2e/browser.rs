//! The loopback flows in a real headless Chromium: the command prints the
//! authorisation address (`--no-browser`), the browser opens it, clicks
//! Allow on the double's consent page, follows the redirect to the
//! command's listener on 127.0.0.1 and gets its "close this tab" page;
//! the command exchanges the code and stores the credential.

use super::{Home, assert_status_shows, mode};
use openpista::auth::Method;
use openpista_tests::chrome::{Chrome, page_text, poll};

/// Opens `url`, clicks `#allow`, and waits for the listener's page.
async fn allow_in_browser(chrome: &Chrome, url: &str) -> String {
    let page = chrome.open(url).await;
    if let Err(last) = poll(
        &page,
        "document.getElementById('allow') !== null",
        super::WAIT,
    )
    .await
    {
        panic!("no Allow button ({last}): {}", page_text(&page).await);
    }
    page.evaluate_expression("document.getElementById('allow').click()")
        .await
        .unwrap();
    let landed = poll(
        &page,
        "document.getElementById('message') && location.href.startsWith('http://localhost:') \
         && document.getElementById('message').textContent",
        super::WAIT,
    )
    .await;
    match landed {
        Ok(v) => v.as_str().unwrap_or_default().to_string(),
        Err(last) => panic!(
            "the browser did not reach the listener ({last}): {}",
            page_text(&page).await
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_signs_in_through_the_browser_and_the_loopback_redirect() {
    let home = Home::new().await;
    let Some(chrome) = Chrome::launch().await else {
        return;
    };
    let mut cli = home.spawn(&["auth", "login", "--provider", "openai", "--no-browser"]);
    let url = cli.url(&home.double.url("/openai/oauth/authorize")).await;
    for part in [
        "code_challenge_method=S256",
        "response_type=code",
        "scope=openid+profile+email+offline_access",
        "redirect_uri=http%3A%2F%2Flocalhost%3A",
    ] {
        assert!(url.contains(part), "{part} missing from {url}");
    }
    let message = allow_in_browser(&chrome, &url).await;
    assert!(message.contains("close this tab"), "{message}");
    let (status, out) = cli.finish().await;
    assert!(status.success(), "{out}");
    assert!(out.contains("Signed in to OpenAI"), "{out}");
    chrome.close().await;

    assert_eq!(mode(&home.credentials()), 0o600);
    let c = home.stored("openai");
    assert_eq!(c.method, Method::OAuth);
    assert_eq!(
        c.account_id.as_deref(),
        Some(format!("acct-{}", home.double.addr.port()).as_str()),
        "chatgpt_account_id from the id_token claim"
    );
    assert!(c.refresh_token.is_some() && c.extra.contains_key("id_token"));
    assert!(
        !c.extra.contains_key("api_key"),
        "no API billing unless asked"
    );
    let left = c.expires_at.unwrap() - openpista::auth::now_unix();
    assert!((3500..=3600).contains(&left), "expires_in 3600 → {left}");
    assert_eq!(home.double.count("/openai/oauth/token"), 1);
    assert_status_shows(&home, "openai", &["oauth", "person@example.com", "expires"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openrouter_signs_in_through_the_browser_for_an_api_key() {
    let home = Home::new().await;
    let Some(chrome) = Chrome::launch().await else {
        return;
    };
    let mut cli = home.spawn(&["auth", "login", "--provider", "openrouter", "--no-browser"]);
    let url = cli.url(&home.double.url("/openrouter/auth")).await;
    assert!(
        url.contains("callback_url=http%3A%2F%2Flocalhost%3A") && url.contains("%2Fcallback"),
        "{url}"
    );
    let message = allow_in_browser(&chrome, &url).await;
    assert!(message.contains("close this tab"), "{message}");
    let (status, out) = cli.finish().await;
    assert!(status.success(), "{out}");
    chrome.close().await;

    assert_eq!(mode(&home.credentials()), 0o600);
    let c = home.stored("openrouter");
    assert_eq!(c.method, Method::ApiKey);
    assert!(c.access_token.starts_with("sk-or-v1_"), "the issued key");
    assert_eq!(c.expires_at, None, "OpenRouter keys do not expire");
    assert_eq!(home.double.count("/openrouter/api/v1/auth/keys"), 1);
    assert_status_shows(&home, "openrouter", &["api_key", "API key"]).await;
}
