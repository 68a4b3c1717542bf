//! A turn of a signed-in provider through the real command line, with
//! every log line on (`OPENPISTA_LOG=trace`): the host refreshes the
//! Claude sign-in that is about to expire, the request carries the new
//! token the way a subscription token goes, and neither the old nor the
//! new tokens appear anywhere in what the command printed or logged.

use super::{BIN, Cli, Home, secrets_of};
use openpista_tests::doubles::anthropic::{self, AnthropicDouble};

#[tokio::test]
async fn a_signed_in_turn_refreshes_and_no_token_reaches_output_or_logs() {
    let api = AnthropicDouble::start().await;
    let home = Home::with_config(&format!(
        "[agent]\nprovider = \"claude\"\n\
         [providers.claude]\npreset = \"anthropic\"\nbase_url = \"{}\"\nmodel = \"claude-test\"\n",
        api.base_url()
    ))
    .await;
    let old = home
        .double
        .signed_in("anthropic", openpista::auth::now_unix() + 60);
    home.store().put("anthropic", &old).unwrap();
    api.push(anthropic::Reply::Json(anthropic::text_message(
        "an answer for a subscriber",
    )));

    let config = home.config.to_str().unwrap().to_string();
    let mut command = home.command(BIN, &["--config", &config, "run", "-e", "hello"]);
    // Everything of the host and its HTTP stack; the compiler's own trace
    // (every function it compiles) only at info.
    command.env(
        "OPENPISTA_LOG",
        "trace,wasmtime=info,wasmtime_internal_cranelift=info,cranelift_codegen=info,\
         cranelift_frontend=info,regalloc2=info,wasmtime_environ=info,wasmtime_internal_cache=info",
    );
    let mut cli = Cli::spawn(command);
    drop(cli.stdin.take());
    let (status, out) = cli.finish().await;
    assert!(status.success(), "{out}");
    assert!(out.contains("an answer for a subscriber"), "{out}");
    assert!(out.contains("TRACE"), "the logs were on: {out}");

    let new = home.stored("anthropic");
    assert_ne!(new.access_token, old.access_token, "refreshed");
    assert_eq!(home.double.refresh_grants("anthropic"), 1);
    let sent = api.requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].header("authorization"),
        Some(format!("Bearer {}", new.access_token).as_str())
    );
    assert_eq!(sent[0].header("anthropic-beta"), Some("oauth-2025-04-20"));
    for secret in secrets_of(&old).into_iter().chain(secrets_of(&new)) {
        assert!(!out.contains(&secret), "a token was printed or logged");
    }
}
