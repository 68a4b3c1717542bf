//! `openpista model list | test | use` through the real command line,
//! against the local doubles of OpenAI's and Anthropic's model lists
//! (`GET /v1/models`, Anthropic's paged by `limit` and `after_id`) and
//! chat endpoints. Each test has its own doubles, folder and config.

use openpista_tests::doubles::anthropic::{self, AnthropicDouble};
use openpista_tests::doubles::openai::{OpenAiDouble, Reply};
use serde_json::json;
use std::path::PathBuf;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_openpista-cli");
const KEY_ENV: &str = "OPENPISTA_TEST_CATALOGUE_KEY";
const KEY: &str = "sk-catalogue-test-13579";

struct Setup {
    dir: tempfile::TempDir,
    config: PathBuf,
    openai: OpenAiDouble,
    claude: AnthropicDouble,
}

const COMMENTED: &str = "# The team's setup: keep this comment.\n";

async fn setup() -> Setup {
    let openai = OpenAiDouble::start().await;
    openai.expect_api_key(KEY);
    let claude = AnthropicDouble::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    let root = dir.path().display();
    std::fs::write(
        &config,
        format!(
            r#"{COMMENTED}[agent]
provider = "gpt"   # the everyday one
[providers.gpt]
preset = "openai"
base_url = "{openai}"
model = "gpt-test"
api_key_env = "{KEY_ENV}"
[providers.claude]
preset = "anthropic"
base_url = "{claude}"
model = "claude-test"
api_key_env = "{KEY_ENV}"
[runtime]
plugin_dirs = []
cache_dir = "{root}/cache"
[memory]
path = "{root}/memory.redb"
"#,
            openai = openai.base_url(),
            claude = claude.base_url().trim_end_matches("/v1"),
        ),
    )
    .unwrap();
    Setup {
        dir,
        config,
        openai,
        claude,
    }
}

/// Runs `openpista --config CONFIG args…` off the test's runtime; the exit
/// code and what it printed on stdout.
async fn cli(s: &Setup, args: &[&str]) -> (i32, String) {
    let mut command = Command::new(BIN);
    command
        .arg("--config")
        .arg(&s.config)
        .args(args)
        .env("OPENPISTA_HOME", s.dir.path().join("home"))
        .env("HOME", s.dir.path())
        .env("OPENPISTA_LOG", "warn")
        .env(KEY_ENV, KEY)
        .env_remove("OPENPISTA_CONFIG");
    let out = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stdout.contains(KEY) && !stderr.contains(KEY),
        "the key never reaches the output"
    );
    (out.status.code().unwrap_or(-1), format!("{stdout}{stderr}"))
}

/// The line of `out` listing `model`, which must exist.
fn line<'a>(out: &'a str, model: &str) -> &'a str {
    out.lines()
        .find(|l| l.split_whitespace().next() == Some(model))
        .unwrap_or_else(|| panic!("no line for {model} in:\n{out}"))
}

fn openai_listing(ids: &[&str]) -> Reply {
    Reply::Json(json!({
        "object": "list",
        "data": ids.iter().map(|id| json!({
            "id": id, "object": "model", "created": 1_700_000_000, "owned_by": "system"
        })).collect::<Vec<_>>(),
    }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_merges_built_in_and_listed_models_and_keeps_the_listing_a_while() {
    let s = setup().await;
    s.openai.push(openai_listing(&[
        "gpt-4o",
        "ft:gpt-4o-mini:acme::abc123",
        "text-embedding-3-small",
    ]));
    // More than one page (the component asks for 100 at a time).
    let mut ids: Vec<String> = (0..130).map(|i| format!("claude-listed-{i:03}")).collect();
    ids.insert(0, "claude-opus-4-1".into());
    s.claude
        .set_models(&ids.iter().map(String::as_str).collect::<Vec<_>>());

    let (code, out) = cli(&s, &["model", "list"]).await;
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("gpt (default): listed by the service just now"),
        "{out}"
    );
    assert!(line(&out, "gpt/gpt-test").ends_with("configured"), "{out}");
    let gpt4o = line(&out, "gpt/gpt-4o");
    let cells: Vec<&str> = gpt4o.split_whitespace().collect();
    assert_eq!(
        cells,
        [
            "gpt/gpt-4o",
            "128000",
            "tools",
            "images",
            "built-in,",
            "listed"
        ],
        "{out}"
    );
    assert!(line(&out, "gpt/gpt-4.1").ends_with("built-in"), "{out}");
    assert!(
        line(&out, "gpt/ft:gpt-4o-mini:acme::abc123").ends_with("listed"),
        "{out}"
    );
    assert!(!out.contains("text-embedding"), "not a chat model: {out}");
    assert!(
        line(&out, "claude/claude-opus-4-1").ends_with("built-in, listed"),
        "{out}"
    );
    assert!(
        line(&out, "claude/claude-listed-129").contains("200000  tools    images "),
        "the second page arrived: {out}"
    );
    assert!(line(&out, "claude/claude-sonnet-4-5").ends_with("built-in"));
    // Anthropic's list went page by page with its cursor and the key.
    let pages = s.claude.requests();
    assert_eq!(pages.len(), 2, "{pages:?}");
    assert_eq!(pages[0].path, "/v1/models?limit=100");
    assert_eq!(
        pages[1].path,
        "/v1/models?limit=100&after_id=claude-listed-098"
    );
    assert_eq!(pages[0].header("x-api-key"), Some(KEY));
    assert!(pages[0].header("anthropic-version").is_some());

    // Again within ten minutes: the saved listings, no request.
    let (code, again) = cli(&s, &["model", "list"]).await;
    assert_eq!(code, 0, "{again}");
    assert!(again.contains("gpt (default): listed "), "{again}");
    assert!(again.contains(" ago"), "{again}");
    assert!(line(&again, "gpt/ft:gpt-4o-mini:acme::abc123").ends_with("listed"));
    assert_eq!(s.openai.requests().len(), 1);
    assert_eq!(s.claude.requests().len(), 2);

    // --refresh asks again; a failing service leaves what is known.
    let (code, refreshed) = cli(&s, &["model", "list", "--refresh"]).await;
    assert_eq!(code, 0, "{refreshed}");
    assert_eq!(s.openai.requests().len(), 2);
    assert!(
        refreshed.contains("gpt (default): the service's list failed") && refreshed.contains("500"),
        "{refreshed}"
    );
    assert!(line(&refreshed, "gpt/gpt-test").ends_with("configured"));
    assert!(line(&refreshed, "gpt/gpt-4o").ends_with("built-in"));
    assert!(!refreshed.contains("acme"), "{refreshed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_asks_every_provider_and_fails_when_one_does() {
    let s = setup().await;
    s.openai.push(Reply::text("OK"));
    s.claude
        .push(anthropic::Reply::Json(anthropic::text_message("OK")));
    let (code, out) = cli(&s, &["model", "test"]).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("✅ gpt (gpt-test) answered in"), "{out}");
    assert!(out.contains("✅ claude (claude-test) answered in"), "{out}");
    assert_eq!(s.claude.requests()[0].body["model"], "claude-test");

    s.openai.push(Reply::text("OK"));
    s.claude.push(anthropic::Reply::unauthorized());
    let (code, out) = cli(&s, &["model", "test"]).await;
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("✅ gpt"), "{out}");
    assert!(
        out.contains("❌ claude (claude-test)") && out.contains("401"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn use_writes_the_choice_into_the_config_keeping_its_comments() {
    let s = setup().await;
    let (code, out) = cli(&s, &["model", "use", "claude/claude-opus-4-1"]).await;
    assert_eq!(code, 0, "{out}");
    let text = std::fs::read_to_string(&s.config).unwrap();
    assert!(text.starts_with(COMMENTED), "{text}");
    assert!(
        text.contains("provider = \"claude\"   # the everyday one"),
        "{text}"
    );
    assert!(text.contains("model = \"claude-opus-4-1\""), "{text}");
    assert!(text.contains("model = \"gpt-test\""), "{text}");

    // The next command runs on the new choice.
    s.claude
        .push(anthropic::Reply::Json(anthropic::text_message(
            "from claude",
        )));
    let (code, out) = cli(&s, &["run", "-e", "hello"]).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("from claude"), "{out}");
    assert_eq!(s.claude.requests()[0].body["model"], "claude-opus-4-1");

    // A provider the config lacks changes nothing.
    let before = std::fs::read_to_string(&s.config).unwrap();
    let (code, out) = cli(&s, &["model", "use", "mistral/large"]).await;
    assert_ne!(code, 0);
    assert!(out.contains("no provider \"mistral\""), "{out}");
    assert_eq!(std::fs::read_to_string(&s.config).unwrap(), before);
}
