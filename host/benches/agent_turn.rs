//! One agent turn's overhead: everything but the provider's own latency.
//! A turn with one component tool call is two provider requests (the tool
//! call, then the answer), one tool call, and four memory appends (the
//! user message and the final answer durable, the two steps between not).
//! Measured beside the provider's two requests alone (the part a real
//! model's latency would replace) in the same run. Report: BENCHMARKS.md.
//!
//! cargo bench -p openpista --bench agent_turn

use openpista::agent::{Agent, AgentSettings};
use openpista::memory::MemoryStore;
use openpista::runtime::bindings::{ChatRequest, Message, Role};
use openpista::runtime::{Runtime, RuntimeConfig};
use openpista::tools::ToolRegistry;
use std::sync::Arc;
use std::time::{Duration, Instant};

const PROMPT: &str = r#"/tool text.stats {"text": "the quick brown fox"}"#;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn message(role: Role, content: &str) -> Message {
    Message {
        role,
        content: content.into(),
        tool_calls: Vec::new(),
        tool_call_id: None,
        attachments: Vec::new(),
    }
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let rounds = if full { 300 } else { 3 };
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let memory = Arc::new(MemoryStore::open(&dir.path().join("memory.redb")).unwrap());
    let runtime = Runtime::new(RuntimeConfig {
        cache_dir: Some(dir.path().join("cache")),
        memory: Some(memory.clone()),
        ..RuntimeConfig::default()
    })
    .unwrap();
    assert!(tokio.block_on(runtime.load_all()).is_empty());
    let agent = Agent {
        tools: Arc::new(ToolRegistry::new(runtime.clone())),
        runtime: runtime.clone(),
        memory: memory.clone(),
        settings: AgentSettings {
            history_limit: 8,
            ..AgentSettings::default()
        },
    };
    let echo = runtime.get("llm-echo").unwrap();
    let tools: Vec<_> = agent.tools.list().into_iter().map(|e| e.spec).collect();

    let mut turns = Vec::new();
    let mut provider_only = Vec::new();
    let mut appends = Vec::new();
    for i in 0..rounds {
        let session = format!("bench:{}", i % 16);
        let t = Instant::now();
        let outcome = tokio
            .block_on(agent.turn(&session, PROMPT, |_| {}))
            .unwrap();
        turns.push(t.elapsed());
        assert_eq!(outcome.tool_calls, 1);
        assert!(outcome.answer.contains("\"words\":4"), "{}", outcome.answer);

        // The provider's share: the same two streamed requests alone.
        let first = ChatRequest {
            model: None,
            messages: vec![message(Role::System, "s"), message(Role::User, PROMPT)],
            tools: tools.clone(),
            temperature: None,
            max_tokens: None,
        };
        let mut second = first.clone();
        second.messages.push(message(Role::Tool, "{\"words\":4}"));
        let t = Instant::now();
        tokio.block_on(async {
            for req in [&first, &second] {
                let mut s = echo.stream_chat(req).await.unwrap();
                while s.next().await.unwrap().is_some() {}
            }
        });
        provider_only.push(t.elapsed());

        // The memory's share: the same four appends, two of them durable.
        let t = Instant::now();
        let m = openpista::memory::sessions::StoredMessage {
            role: "user".into(),
            content: PROMPT.into(),
            tool_calls: Vec::new(),
            tool_call_id: None,
            attachments: Vec::new(),
            at_ms: 0,
        };
        for durable in [true, false, false, true] {
            memory.append_with("bench:appends", &m, durable).unwrap();
        }
        appends.push(t.elapsed());
    }
    let (turn, provider, append) = (median(turns), median(provider_only), median(appends));
    let overhead = turn.saturating_sub(provider);
    println!("agent turn with one component tool call ({rounds} rounds)");
    println!("  whole turn, median:                 {turn:?}");
    println!(
        "  provider's two requests alone:      {provider:?}  (what a real model's latency replaces)"
    );
    println!(
        "  overhead (turn - provider):         {overhead:?}  ({:.1}x the provider part)",
        overhead.as_secs_f64() / provider.as_secs_f64()
    );
    println!(
        "  of which the 4 appends (2 durable): {append:?}  ({:.0}% of the overhead)",
        100.0 * append.as_secs_f64() / overhead.as_secs_f64().max(1e-9)
    );
}
