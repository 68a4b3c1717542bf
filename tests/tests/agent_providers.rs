//! The agent end to end through real provider components configured the
//! way an operator does it (`[agent]` + `[providers.NAME]`), against the
//! local doubles of the services: a multi-round tool conversation over
//! SSE, the round limit, a 429 absorbed by the provider's retry, a
//! malformed stream and a rejected key reaching the user as clear errors.

use openpista::agent::Agent;
use openpista::config::Config;
use openpista::tools::ToolRegistry;
use openpista_tests::doubles::anthropic::{self, AnthropicDouble};
use openpista_tests::doubles::openai::{OpenAiDouble, Reply};
use std::sync::Arc;

const KEY_ENV: &str = "OPENPISTA_TEST_AGENT_KEY";
const KEY: &str = "sk-agent-test-98765";

async fn agent(root: &std::path::Path, provider: &str, rounds: u32) -> Agent {
    // SAFETY: every test sets the same value; nothing reads it concurrently
    // with a different expectation.
    unsafe { std::env::set_var(KEY_ENV, KEY) };
    let text = format!(
        r#"
[agent]
provider = "main"
max_tool_rounds = {rounds}
{provider}
[runtime]
plugin_dirs = []
cache_dir = "{root}/cache"
[memory]
path = "{root}/memory.redb"
"#,
        root = root.display()
    );
    let config = Config::parse(&text, "test config").unwrap();
    let (runtime, memory, setup) = openpista::cli::build(&config).unwrap();
    assert!(setup.key_present);
    let failures = runtime.load_all().await;
    assert!(failures.is_empty(), "{failures:?}");
    Agent {
        tools: Arc::new(ToolRegistry::new(runtime.clone())),
        runtime,
        memory,
        settings: config.agent_settings(&setup),
    }
}

fn openai_provider(double: &OpenAiDouble) -> String {
    format!(
        "[providers.main]\npreset = \"custom\"\nbase_url = \"{}\"\nmodel = \"gpt-test\"\napi_key_env = \"{KEY_ENV}\"\n",
        double.base_url()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_round_tool_conversation_over_sse() {
    let root = tempfile::tempdir().unwrap();
    let double = OpenAiDouble::start().await;
    double.expect_api_key(KEY);
    double.push(Reply::stream_tool_calls(&[(
        "call_1",
        "text__stats",
        &["{\"text\":", " \"one two three\"}"],
    )]));
    double.push(Reply::stream_text(&["It has ", "three words."]));
    let agent = agent(root.path(), &openai_provider(&double), 10).await;
    let mut streamed = String::new();
    let outcome = agent
        .turn("test:sse", "how many words?", |e| {
            if let openpista::agent::TurnEvent::Text(t) = e {
                streamed.push_str(&t)
            }
        })
        .await
        .unwrap();
    assert_eq!(outcome.answer, "It has three words.");
    assert_eq!(streamed, outcome.answer);
    assert_eq!(outcome.tool_calls, 1);

    let requests = double.requests();
    assert_eq!(requests.len(), 2);
    // The key reached the service only through the host's substitution.
    let auth = requests[0]
        .headers
        .iter()
        .find(|(k, _)| k == "authorization")
        .map(|(_, v)| v.clone())
        .unwrap();
    assert_eq!(auth, format!("Bearer {KEY}"));
    // The second request carries the tool result, linked to its call.
    let messages = requests[1].body["messages"].as_array().unwrap();
    let tool = messages.iter().find(|m| m["role"] == "tool").unwrap();
    assert_eq!(tool["tool_call_id"], "call_1");
    assert!(
        tool["content"].as_str().unwrap().contains("\"words\":3"),
        "{tool}"
    );
    assert_eq!(messages[0]["role"], "system");
    // The tools went out under their wire names.
    let tools = requests[0].body["tools"].as_array().unwrap();
    assert!(tools.iter().any(|t| t["function"]["name"] == "text__stats"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_limit_and_retry_after_through_a_real_provider() {
    let root = tempfile::tempdir().unwrap();
    let double = OpenAiDouble::start().await;
    double.push(Reply::rate_limited(1));
    for i in 0..3 {
        double.push(Reply::stream_tool_calls(&[(
            &format!("c{i}"),
            "time__now",
            &["{}"],
        )]));
    }
    let agent = agent(root.path(), &openai_provider(&double), 2).await;
    let started = std::time::Instant::now();
    let outcome = agent
        .turn("test:limit", "loop please", |_| {})
        .await
        .unwrap();
    assert!(started.elapsed() >= std::time::Duration::from_secs(1));
    assert!(outcome.hit_round_limit);
    assert!(
        outcome.answer.contains("stopped after 2 rounds"),
        "{}",
        outcome.answer
    );
    // 1 rate-limited + 3 answered requests.
    assert_eq!(double.requests().len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_stream_is_a_clear_error_for_the_user() {
    let root = tempfile::tempdir().unwrap();
    let double = OpenAiDouble::start().await;
    double.push(Reply::Sse(vec!["{not json".into()]));
    let agent = agent(root.path(), &openai_provider(&double), 10).await;
    let err = agent.turn("test:bad", "hi", |_| {}).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains("the model provider failed"), "{text}");
    assert!(text.contains("{not json"), "{text}");
    // The user's message is kept even though the turn failed.
    let history = agent.memory.messages("test:bad", usize::MAX).unwrap();
    assert_eq!(history[0].content, "hi");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_key_names_the_provider_and_what_to_fix() {
    let root = tempfile::tempdir().unwrap();
    let double = AnthropicDouble::start().await;
    double.push(anthropic::Reply::unauthorized());
    let provider = format!(
        "[providers.main]\npreset = \"claude\"\nbase_url = \"{}\"\nmodel = \"claude-test\"\napi_key_env = \"{KEY_ENV}\"\n",
        double.base_url()
    );
    let agent = agent(root.path(), &provider, 10).await;
    let err = agent
        .turn("test:401", "hi", |_| {})
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("Anthropic"), "{err}");
    assert!(err.to_lowercase().contains("key"), "{err}");
    assert!(!err.contains(KEY), "the key leaked into an error: {err}");
    let sent = double.requests();
    assert_eq!(
        sent[0]
            .headers
            .iter()
            .find(|(k, _)| k == "x-api-key")
            .map(|(_, v)| v.as_str()),
        Some(KEY)
    );
}

/// The model's context window, as the provider reports it from
/// `models()` (here from `context_window` in the operator's config), is
/// used for real: the oldest turns that no longer fit are not sent, and
/// the history sent starts at a user message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_is_trimmed_to_the_models_context_window() {
    use openpista_tests::doubles::anthropic::StreamBuilder;
    let root = tempfile::tempdir().unwrap();
    let double = AnthropicDouble::start().await;
    let provider = format!(
        "[providers.main]\npreset = \"claude\"\nbase_url = \"{}\"\nmodel = \"claude-test\"\napi_key_env = \"{KEY_ENV}\"\ncontext_window = 8000\n",
        double.base_url()
    );
    let agent = agent(root.path(), &provider, 10).await;
    // Each question is about 2000 tokens: three do not fit in the 6000
    // the history may take of an 8000-token window.
    let question = |n: usize| format!("question {n} {}", "word ".repeat(1600));
    for n in 1..=3 {
        double.push(StreamBuilder::new(5).text(&["ok"]).finish("end_turn", 1));
        let outcome = agent
            .turn("test:window", &question(n), |_| {})
            .await
            .unwrap();
        assert_eq!(outcome.answer, "ok");
    }
    let requests = double.requests();
    assert_eq!(requests.len(), 3);
    let sent = |i: usize| -> Vec<String> {
        requests[i].body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m.to_string())
            .collect()
    };
    // The second turn still carries the first question...
    assert!(sent(1).iter().any(|m| m.contains("question 1")));
    // ...the third no longer does, and starts at a user message.
    let third = sent(2);
    assert!(!third.iter().any(|m| m.contains("question 1")), "{third:?}");
    assert!(third.iter().any(|m| m.contains("question 2")));
    assert!(third.iter().any(|m| m.contains("question 3")));
    assert_eq!(requests[2].body["messages"][0]["role"], "user");
    // Memory keeps everything.
    let stored = agent.memory.messages("test:window", 100).unwrap();
    assert_eq!(stored.len(), 6);
}
