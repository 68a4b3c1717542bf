//! One component's bad tool list takes out only that component. A tool
//! schema that is not even JSON used to make every request to an
//! OpenAI-style or Anthropic service fail; now the component is refused at
//! load, flagged in the status, and turns with and without the other tools
//! go on. A tool name another component (or the host) already holds is
//! refused for the later component, visibly.

use openpista::agent::Agent;
use openpista::runtime::SlotState;
use openpista::tools::ToolRegistry;
use openpista_tests::doubles::anthropic::{AnthropicDouble, StreamBuilder};
use openpista_tests::doubles::openai::{OpenAiDouble, Reply};
use openpista_tests::{install, manifest, wasm};
use std::path::Path;
use std::sync::Arc;

const KEY_ENV: &str = "OPENPISTA_TEST_ISOLATION_KEY";

/// Installs the shapeshifter fixture as component `name` listing `tool`
/// with `schema`.
fn shapeshifter(dir: &Path, name: &str, tool: &str, schema: &str) {
    let text = manifest("shapeshifter")
        .replace("name = \"shapeshifter\"", &format!("name = \"{name}\""))
        .replace("tool = \"shape.echo\"", &format!("tool = \"{tool}\""))
        .replace(
            r#"schema = '{"type":"object","properties":{"text":{"type":"string"}}}'"#,
            &format!("schema = '{schema}'"),
        );
    install(
        dir,
        name,
        &std::fs::read(wasm("shapeshifter")).unwrap(),
        &text,
    );
}

async fn agent(root: &Path, provider: &str) -> Agent {
    // SAFETY: every test sets the same value.
    unsafe { std::env::set_var(KEY_ENV, "sk-isolation") };
    let dir = root.join("components");
    shapeshifter(&dir, "bad-schema", "bad.tool", "not json {");
    shapeshifter(
        &dir,
        "shape-good",
        "shape.echo",
        r#"{"type":"object","properties":{"text":{"type":"string"}}}"#,
    );
    let config =
        openpista_tests::config_in(root, &format!("[agent]\nprovider = \"main\"\n{provider}"));
    let (runtime, memory, setup) = openpista::cli::build(&config).unwrap();
    let failures = runtime.load_all().await;
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0].0, "bad-schema");
    assert!(
        failures[0].1.contains("bad.tool") && failures[0].1.contains("is not JSON"),
        "the reason names the tool and the problem: {}",
        failures[0].1
    );
    let status = runtime.status();
    let bad = status.iter().find(|s| s.name == "bad-schema").unwrap();
    assert_eq!(bad.state, SlotState::Failed);
    assert!(bad.last_error.as_deref().unwrap().contains("left out"));
    assert!(runtime.get("shape-good").is_some());
    Agent {
        tools: Arc::new(ToolRegistry::new(runtime.clone())),
        runtime,
        memory,
        settings: config.agent_settings(&setup),
    }
}

fn tool_names(tools: &serde_json::Value, key: &str) -> Vec<String> {
    tools
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.pointer(key).unwrap().as_str().unwrap().to_string())
        .collect()
}

/// The wire name under which the service was offered `shape.echo`.
fn wire_name(tools: &serde_json::Value, key: &str) -> String {
    tool_names(tools, key)
        .into_iter()
        .find(|n| n.starts_with("shape"))
        .expect("shape.echo is offered")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_schema_is_isolated_and_openai_turns_go_on() {
    let root = tempfile::tempdir().unwrap();
    let double = OpenAiDouble::start().await;
    let provider = format!(
        "[providers.main]\npreset = \"custom\"\nbase_url = \"{}\"\nmodel = \"gpt-test\"\napi_key_env = \"{KEY_ENV}\"\n",
        double.base_url()
    );
    let agent = agent(root.path(), &provider).await;

    double.push(Reply::stream_text(&["plain ", "answer"]));
    let outcome = agent.turn("iso:o1", "hello", |_| {}).await.unwrap();
    assert_eq!(outcome.answer, "plain answer");

    // The model calls the good tool by the name it was offered.
    let shape = wire_name(&double.requests()[0].body["tools"], "/function/name");
    double.push(Reply::stream_tool_calls(&[(
        "c1",
        &shape,
        &[r#"{"text":"hi"}"#],
    )]));
    double.push(Reply::stream_text(&["done"]));
    let outcome = agent.turn("iso:o2", "use the tool", |_| {}).await.unwrap();
    assert_eq!(outcome.answer, "done");
    assert_eq!(outcome.tool_calls, 1);

    let requests = double.requests();
    assert_eq!(requests.len(), 3);
    for r in &requests {
        let names = tool_names(&r.body["tools"], "/function/name");
        assert!(names.contains(&shape), "{names:?}");
        assert!(!names.iter().any(|n| n.contains("bad")), "{names:?}");
    }
    let messages = requests[2].body["messages"].as_array().unwrap();
    let tool = messages.iter().find(|m| m["role"] == "tool").unwrap();
    assert!(
        tool["content"]
            .as_str()
            .unwrap()
            .contains("shapeshifter got"),
        "{tool}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_schema_is_isolated_and_anthropic_turns_go_on() {
    let root = tempfile::tempdir().unwrap();
    let double = AnthropicDouble::start().await;
    let provider = format!(
        "[providers.main]\npreset = \"claude\"\nbase_url = \"{}\"\nmodel = \"claude-test\"\napi_key_env = \"{KEY_ENV}\"\n",
        double.base_url()
    );
    let agent = agent(root.path(), &provider).await;

    double.push(StreamBuilder::new(3).text(&["plain"]).finish("end_turn", 1));
    let outcome = agent.turn("iso:a1", "hello", |_| {}).await.unwrap();
    assert_eq!(outcome.answer, "plain");

    let shape = wire_name(&double.requests()[0].body["tools"], "/name");
    double.push(
        StreamBuilder::new(3)
            .tool_use("tu_1", &shape, &[r#"{"text":"#, r#""hi"}"#])
            .finish("tool_use", 5),
    );
    double.push(StreamBuilder::new(9).text(&["done"]).finish("end_turn", 1));
    let outcome = agent.turn("iso:a2", "use the tool", |_| {}).await.unwrap();
    assert_eq!(outcome.answer, "done");
    assert_eq!(outcome.tool_calls, 1);

    let requests = double.requests();
    assert_eq!(requests.len(), 3);
    for r in &requests {
        let names = tool_names(&r.body["tools"], "/name");
        assert!(names.contains(&shape), "{names:?}");
        assert!(!names.iter().any(|n| n.contains("bad")), "{names:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_tool_name_is_refused_for_the_later_component() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("components");
    let schema = r#"{"type":"object"}"#;
    shapeshifter(&dir, "aaa-first", "shape.echo", schema);
    shapeshifter(&dir, "zzz-second", "shape.echo", schema);
    shapeshifter(&dir, "impostor", "system.run", schema);
    let runtime = openpista_tests::runtime(root.path(), &[]);
    let failures = runtime.load_all().await;
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0].0, "zzz-second");
    assert!(
        failures[0]
            .1
            .contains("already provided by component aaa-first"),
        "{}",
        failures[0].1
    );
    assert!(runtime.get("aaa-first").is_some());
    assert!(runtime.get("impostor").is_some(), "no native tool yet");

    // The host's native system.run takes its name back from the impostor.
    let mut tools = ToolRegistry::new(runtime.clone());
    tools.add_native(Arc::new(openpista::native::system::SystemRun::new(
        Default::default(),
        Default::default(),
    )));
    assert!(runtime.get("impostor").is_none());
    let status = runtime.status();
    let impostor = status.iter().find(|s| s.name == "impostor").unwrap();
    assert_eq!(impostor.state, SlotState::Refused);
    assert!(
        impostor
            .last_error
            .as_deref()
            .unwrap()
            .contains("native tools"),
        "{impostor:?}"
    );
    let listed: Vec<_> = tools.list().into_iter().map(|t| t.source).collect();
    assert_eq!(
        listed
            .iter()
            .filter(|s| matches!(s, openpista::tools::ToolSource::Component { .. }))
            .count(),
        1,
        "only aaa-first's tool: {listed:?}"
    );
    // A reload of the impostor is refused too: the name stays reserved.
    assert!(runtime.reload("impostor").await.is_err());
}
