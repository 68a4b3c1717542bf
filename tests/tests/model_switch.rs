//! Several providers at once: a conversation that began on an
//! OpenAI-style provider, with a tool call in its history, moves to
//! Anthropic with `/model PROVIDER/MODEL` and back, through the gateway,
//! the real provider components and the local doubles of both services.
//! Both doubles refuse what the real APIs refuse (an unanswered call, a
//! result for no call, an id outside Anthropic's pattern), so a history
//! that was not made to fit the new API fails the turn.

use openpista::agent::Agent;
use openpista::config::Config;
use openpista::gateway::channels::{BoxFuture, Delivery};
use openpista::gateway::{Gateway, GatewaySettings, Incoming, Origin};
use openpista::runtime::CallError;
use openpista::runtime::bindings::channel::exports::openpista::plugin::messenger::{
    Command, Outbound, StatusKind,
};
use openpista::tools::ToolRegistry;
use openpista_tests::doubles::anthropic::{self, AnthropicDouble};
use openpista_tests::doubles::openai::{OpenAiDouble, Reply};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const KEY_ENV: &str = "OPENPISTA_TEST_SWITCH_KEY";
const KEY: &str = "sk-switch-test-24680";

/// The answers the gateway sent, in order.
#[derive(Default)]
struct Answers(Mutex<Vec<(String, bool)>>);

impl Answers {
    async fn wait_for(&self, n: usize) -> Vec<(String, bool)> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let seen = self.0.lock().unwrap().clone();
            if seen.len() >= n || Instant::now() > deadline {
                assert!(seen.len() >= n, "only {seen:?}");
                return seen;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Delivery for Answers {
    fn send(&self, m: Outbound) -> BoxFuture<'_, Result<(), CallError>> {
        self.0.lock().unwrap().push((m.text, m.is_error));
        Box::pin(async { Ok(()) })
    }
    fn delta<'a>(&'a self, _: &'a str, _: &'a str) -> BoxFuture<'a, Result<(), CallError>> {
        Box::pin(async { Ok(()) })
    }
    fn status<'a>(&'a self, _: &'a str, _: StatusKind) -> BoxFuture<'a, Result<(), CallError>> {
        Box::pin(async { Ok(()) })
    }
}

/// A gateway whose default provider `gpt` is the OpenAI double and whose
/// second provider `claude` is the Anthropic double, given by its bare
/// origin (the form the official SDKs document).
async fn gateway(
    root: &std::path::Path,
    openai: &OpenAiDouble,
    claude: &AnthropicDouble,
) -> (Arc<Gateway>, Arc<Answers>) {
    // SAFETY: the only test in this binary that sets it.
    unsafe { std::env::set_var(KEY_ENV, KEY) };
    let origin = claude.base_url().trim_end_matches("/v1").to_string();
    let text = format!(
        r#"
[agent]
provider = "gpt"
[providers.gpt]
preset = "custom"
base_url = "{openai}"
model = "gpt-test"
api_key_env = "{KEY_ENV}"
[providers.claude]
preset = "anthropic"
base_url = "{origin}"
model = "claude-test"
api_key_env = "{KEY_ENV}"
[runtime]
plugin_dirs = []
cache_dir = "{root}/cache"
[memory]
path = "{root}/memory.redb"
"#,
        openai = openai.base_url(),
        root = root.display(),
    );
    let config = Config::parse(&text, "test config").unwrap();
    let (runtime, memory, setup) = openpista::cli::build(&config).unwrap();
    assert_eq!(setup.name, "gpt", "the default provider comes back");
    let failures = runtime.load_all().await;
    assert!(failures.is_empty(), "{failures:?}");
    assert!(runtime.get("provider-claude").is_some(), "both are loaded");
    let agent = Arc::new(Agent {
        tools: Arc::new(ToolRegistry::new(runtime.clone())),
        runtime,
        memory,
        settings: config.agent_settings(&setup),
    });
    let gateway = Gateway::with_settings(agent, &GatewaySettings::default());
    let answers = Arc::new(Answers::default());
    gateway.add_channel("test", answers.clone()).unwrap();
    (gateway, answers)
}

fn say(gateway: &Arc<Gateway>, text: &str) {
    let command = text.strip_prefix('/').map(|c| {
        let (name, args) = c.split_once(' ').unwrap_or((c, ""));
        Command {
            name: name.into(),
            args: args.into(),
        }
    });
    gateway.dispatch(
        Origin::channel("test"),
        Incoming {
            session: "test:switch".into(),
            sender: "tester".into(),
            text: text.into(),
            attachments: Vec::new(),
            command,
        },
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conversation_with_tool_calls_moves_to_anthropic_and_back() {
    let root = tempfile::tempdir().unwrap();
    let openai = OpenAiDouble::start().await;
    openai.expect_api_key(KEY);
    let claude = AnthropicDouble::start().await;
    let (gateway, answers) = gateway(root.path(), &openai, &claude).await;

    // On the OpenAI-style provider: a tool call with an id of the kind
    // some OpenAI-compatible services give (Anthropic refuses it as is).
    openai.push(Reply::stream_tool_calls(&[(
        "functions.time__now:0",
        "time__now",
        &["{}"],
    )]));
    openai.push(Reply::stream_text(&["It is noon."]));
    say(&gateway, "what time is it?");
    let seen = answers.wait_for(1).await;
    assert_eq!(seen[0], ("It is noon.".to_string(), false));

    // An unknown model of the current provider is refused with the list.
    say(&gateway, "/model claude-test");
    let seen = answers.wait_for(2).await;
    assert!(seen[1].1 && seen[1].0.contains("gpt-test"), "{seen:?}");

    say(&gateway, "/model claude/claude-test");
    let seen = answers.wait_for(3).await;
    assert_eq!(
        seen[2],
        (
            "This conversation now uses claude/claude-test.".into(),
            false
        )
    );
    claude.push(anthropic::Reply::Json(anthropic::text_message(
        "It was noon; now it is later.",
    )));
    say(&gateway, "and now?");
    let seen = answers.wait_for(4).await;
    assert_eq!(
        seen[3],
        ("It was noon; now it is later.".to_string(), false),
        "{seen:?}"
    );
    let sent = claude.requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].path, "/v1/messages", "the bare origin gained /v1");
    assert_eq!(sent[0].status, 200, "{:?}", sent[0].body);
    assert_eq!(sent[0].body["model"], "claude-test");
    let messages = sent[0].body["messages"].as_array().unwrap();
    // user, assistant tool_use, user tool_result, assistant, user.
    assert_eq!(messages.len(), 5, "{messages:#?}");
    let call = &messages[1]["content"].as_array().unwrap()[0];
    assert_eq!(call["type"], "tool_use");
    assert_eq!(call["name"], "time__now");
    let id = call["id"].as_str().unwrap();
    assert_eq!(id, "functions_time__now_0");
    let result = &messages[2]["content"].as_array().unwrap()[0];
    assert_eq!(result["type"], "tool_result");
    assert_eq!(result["tool_use_id"], id);
    assert_eq!(openai.requests().len(), 2, "nothing more went to OpenAI");

    // Back to the default provider by its name alone.
    say(&gateway, "/model gpt");
    let seen = answers.wait_for(5).await;
    assert!(!seen[4].1, "{seen:?}");
    openai.push(Reply::stream_text(&["Back here."]));
    say(&gateway, "still there?");
    let seen = answers.wait_for(6).await;
    assert_eq!(seen[5], ("Back here.".to_string(), false), "{seen:?}");
    let sent = openai.requests();
    assert_eq!(sent.len(), 3);
    assert_eq!(sent[2].body["model"], "gpt-test");
    let roles: Vec<&str> = sent[2].body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(
        roles,
        [
            "system",
            "user",
            "assistant",
            "tool",
            "assistant",
            "user",
            "assistant",
            "user"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conversation_on_a_provider_the_config_dropped_is_told_what_to_do() {
    let root = tempfile::tempdir().unwrap();
    let openai = OpenAiDouble::start().await;
    let claude = AnthropicDouble::start().await;
    let (gateway, answers) = gateway(root.path(), &openai, &claude).await;
    // A choice stored earlier, for a provider no longer configured.
    gateway
        .set_session_model(
            "test:switch",
            &openpista::gateway::sessions::ModelChoice {
                provider: Some("gone".into()),
                model: Some("m".into()),
            },
        )
        .unwrap();
    say(&gateway, "hello");
    let seen = answers.wait_for(1).await;
    assert!(seen[0].1, "{seen:?}");
    assert!(
        seen[0].0.contains("\"gone\"") && seen[0].0.contains("claude, gpt"),
        "{seen:?}"
    );
    assert!(openai.requests().is_empty() && claude.requests().is_empty());
}
