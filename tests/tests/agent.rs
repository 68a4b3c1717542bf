//! The ReAct loop with real components: a scripted provider (`looper`)
//! asks for tools; `tool-basics` (embedded) answers. Several calls in one
//! round, a failing tool fed back to the model, the round limit said out
//! loud, tool output cut with a marker, and the history left consistent.

use openpista::agent::{Agent, AgentSettings, TurnEvent};
use openpista::memory::MemoryStore;
use openpista::runtime::{Runtime, RuntimeConfig};
use openpista::tools::ToolRegistry;
use openpista_tests::{install, manifest, wasm};
use std::sync::Arc;

async fn agent(root: &std::path::Path, settings: AgentSettings) -> Agent {
    let plugins = root.join("components");
    install(
        &plugins,
        "looper",
        &std::fs::read(wasm("looper")).unwrap(),
        &manifest("looper"),
    );
    let memory = Arc::new(MemoryStore::open(&root.join("memory.redb")).unwrap());
    let runtime = Runtime::new(RuntimeConfig {
        cache_dir: Some(root.join("cache")),
        plugin_dirs: vec![plugins],
        memory: Some(memory.clone()),
        ..RuntimeConfig::default()
    })
    .unwrap();
    assert!(runtime.load_all().await.is_empty());
    Agent {
        tools: Arc::new(ToolRegistry::new(runtime.clone())),
        runtime,
        memory,
        settings: AgentSettings {
            provider: "looper".into(),
            ..settings
        },
    }
}

/// Every assistant tool call in the stored history has its tool result.
fn assert_history_consistent(agent: &Agent, session: &str) {
    let history = agent.memory.messages(session, usize::MAX).unwrap();
    for (i, m) in history.iter().enumerate() {
        for call in &m.tool_calls {
            assert!(
                history[i + 1..]
                    .iter()
                    .any(|r| r.role == "tool" && r.tool_call_id.as_deref() == Some(&call.id)),
                "call {} has no result",
                call.id
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_tools_in_one_round_and_a_failing_one_fed_back() {
    let root = tempfile::tempdir().unwrap();
    let agent = agent(root.path(), AgentSettings::default()).await;
    let mut events = Vec::new();
    let outcome = agent
        .turn("test:once", "once", |e| events.push(e))
        .await
        .unwrap();
    assert_eq!(outcome.tool_calls, 2);
    assert_eq!(outcome.rounds, 1);
    assert!(!outcome.hit_round_limit);
    // The working tool's result and the missing tool's error both reached
    // the model, which answered with them.
    assert!(outcome.answer.contains("\"words\":2"), "{}", outcome.answer);
    assert!(
        outcome
            .answer
            .contains("error: tool no.such.tool is not loaded"),
        "{}",
        outcome.answer
    );
    assert!(events.contains(&TurnEvent::ToolFinished {
        name: "no.such.tool".into(),
        ok: false
    }));
    assert!(events.contains(&TurnEvent::ToolFinished {
        name: "text.stats".into(),
        ok: true
    }));
    assert!(
        events
            .iter()
            .any(|e| matches!(e, TurnEvent::Text(t) if t.contains("results")))
    );
    let history = agent.memory.messages("test:once", usize::MAX).unwrap();
    let roles: Vec<&str> = history.iter().map(|m| m.role.as_str()).collect();
    assert_eq!(roles, ["user", "assistant", "tool", "tool", "assistant"]);
    assert_history_consistent(&agent, "test:once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_round_limit_stops_the_loop_and_says_so() {
    let root = tempfile::tempdir().unwrap();
    let agent = agent(
        root.path(),
        AgentSettings {
            max_tool_rounds: 3,
            ..AgentSettings::default()
        },
    )
    .await;
    let outcome = agent.turn("test:loop", "loop", |_| {}).await.unwrap();
    assert!(outcome.hit_round_limit);
    assert_eq!(outcome.rounds, 3);
    assert_eq!(outcome.tool_calls, 3);
    assert!(
        outcome
            .answer
            .contains("stopped after 3 rounds of tool calls"),
        "{}",
        outcome.answer
    );
    assert!(
        outcome.answer.contains("max_tool_rounds"),
        "{}",
        outcome.answer
    );
    assert_history_consistent(&agent, "test:loop");
    // The next turn still works on that history.
    let next = agent.turn("test:loop", "hello", |_| {}).await.unwrap();
    assert_eq!(next.answer, "looper heard: hello");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_tool_output_is_cut_with_a_marker() {
    let root = tempfile::tempdir().unwrap();
    let agent = agent(
        root.path(),
        AgentSettings {
            tool_output_limit: 20,
            ..AgentSettings::default()
        },
    )
    .await;
    agent.turn("test:big", "big", |_| {}).await.unwrap();
    let history = agent.memory.messages("test:big", usize::MAX).unwrap();
    let tool = history.iter().find(|m| m.role == "tool").unwrap();
    assert!(
        tool.content.contains("[output cut: showing 20 of"),
        "{}",
        tool.content
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_provider_is_a_clear_error() {
    let root = tempfile::tempdir().unwrap();
    let mut agent = agent(root.path(), AgentSettings::default()).await;
    agent.settings.provider = "provider-nowhere".into();
    let err = agent.turn("test:x", "hi", |_| {}).await.unwrap_err();
    assert!(err.to_string().contains("provider-nowhere"), "{err}");
    assert!(err.to_string().contains("component list"), "{err}");
}
