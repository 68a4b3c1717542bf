//! Stored sign-ins reaching provider requests, through the real
//! `llm-anthropic` component against the local doubles of Anthropic's
//! Messages API and of its OAuth token endpoint:
//!
//! - twenty turns at once, with an access token about to expire, cause
//!   exactly one refresh; every request carries the new token the way a
//!   subscription token goes (Bearer plus the OAuth beta flag), and the
//!   credentials file holds it afterwards, still private;
//! - an expired refresh token reaches the person as an error that names
//!   the command that signs in again, and nothing is sent to the API.
//!
//! That a guest never sees the token it sends is shown in sandbox.rs.

use openpista::agent::Agent;
use openpista::auth::{CredentialStore, now_unix};
use openpista::config::Config;
use openpista::tools::ToolRegistry;
use openpista_tests::doubles::anthropic::{self, AnthropicDouble};
use openpista_tests::doubles::oauth::OAuthDouble;
use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

/// An agent whose only provider is Anthropic at `api`, signed in through
/// `oauth`'s endpoints with the credentials file under `root`.
async fn agent(root: &std::path::Path, api: &AnthropicDouble, oauth: &OAuthDouble) -> Agent {
    let text = format!(
        r#"
[agent]
provider = "claude"
[providers.claude]
preset = "anthropic"
base_url = "{api}"
model = "claude-test"
[runtime]
plugin_dirs = []
cache_dir = "{root}/cache"
[memory]
path = "{root}/memory.redb"
[auth]
credentials_file = "{root}/credentials.toml"
{auth}
"#,
        api = api.base_url(),
        root = root.display(),
        auth = oauth.auth_config(),
    );
    let config = Config::parse(&text, "test config").unwrap();
    let (runtime, memory, setup) = openpista::cli::build(&config).unwrap();
    assert!(setup.key_present, "the sign-in stands for the key");
    let failures = runtime.load_all().await;
    assert!(failures.is_empty(), "{failures:?}");
    Agent {
        tools: Arc::new(ToolRegistry::new(runtime.clone())),
        runtime,
        memory,
        settings: config.agent_settings(&setup),
    }
}

fn store(root: &std::path::Path) -> CredentialStore {
    CredentialStore::open(root.join("credentials.toml"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_turns_at_once_refresh_an_expiring_sign_in_exactly_once() {
    let root = tempfile::tempdir().unwrap();
    let oauth = OAuthDouble::start().await;
    let api = AnthropicDouble::start().await;
    // Two minutes left: inside the five-minute margin, so it is refreshed.
    let old = oauth.signed_in("anthropic", now_unix() + 120);
    store(root.path()).put("anthropic", &old).unwrap();
    let agent = Arc::new(agent(root.path(), &api, &oauth).await);
    for _ in 0..20 {
        api.push(anthropic::Reply::Json(anthropic::text_message("hi")));
    }

    let turns: Vec<_> = (0..20)
        .map(|i| {
            let agent = agent.clone();
            tokio::spawn(async move { agent.turn(&format!("test:{i}"), "hello", |_| {}).await })
        })
        .collect();
    for turn in turns {
        let outcome = turn.await.unwrap().expect("the turn succeeds");
        assert_eq!(outcome.answer, "hi");
    }

    assert_eq!(oauth.refresh_grants("anthropic"), 1, "one refresh for all");
    let stored = store(root.path()).get("anthropic").unwrap().unwrap();
    assert_ne!(stored.access_token, old.access_token);
    assert_ne!(stored.refresh_token, old.refresh_token, "rotated");
    assert!(stored.expires_at.unwrap() > now_unix() + 3600);
    let mode = std::fs::metadata(root.path().join("credentials.toml"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    let requests = api.requests();
    assert_eq!(requests.len(), 20);
    let bearer = format!("Bearer {}", stored.access_token);
    for r in &requests {
        assert_eq!(r.header("authorization"), Some(bearer.as_str()));
        assert_eq!(r.header("anthropic-beta"), Some("oauth-2025-04-20"));
        assert_eq!(r.header("x-api-key"), None);
        let body = String::from_utf8_lossy(&r.raw_body);
        assert!(
            !body.contains(&stored.access_token),
            "the token only in the header"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_refresh_token_names_the_command_that_signs_in_again() {
    let root = tempfile::tempdir().unwrap();
    let oauth = OAuthDouble::start().await;
    let api = AnthropicDouble::start().await;
    let old = oauth.signed_in("anthropic", now_unix() - 10);
    store(root.path()).put("anthropic", &old).unwrap();
    oauth.expire_refresh_tokens("anthropic");
    let agent = agent(root.path(), &api, &oauth).await;
    api.push(anthropic::Reply::Json(anthropic::text_message("unused")));

    let err = agent
        .turn("test:expired", "hello", |_| {})
        .await
        .expect_err("the turn cannot reach the API");
    let text = format!("{err:#}");
    assert!(
        text.contains("openpista auth login --provider anthropic"),
        "{text}"
    );
    assert!(!text.contains(&old.access_token), "{text}");
    assert!(
        !text.contains(old.refresh_token.as_deref().unwrap()),
        "{text}"
    );
    assert_eq!(oauth.refresh_grants("anthropic"), 1);
    assert!(api.requests().is_empty(), "nothing went to the API");
    // The stored sign-in is left for `auth status` to show as expired.
    assert_eq!(
        store(root.path()).get("anthropic").unwrap().unwrap(),
        old,
        "a failed refresh changes nothing"
    );
}
