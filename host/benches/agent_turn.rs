//! One agent turn's overhead: everything but the provider's own latency.
//! A turn with one component tool call is two provider requests (the tool
//! call, then the answer), one tool call, and four memory appends (the
//! user message and the final answer durable, the two steps between not).
//!
//! Each turn is paired with its own baseline, measured right after it: the
//! provider's two requests alone (the part a real model's latency would
//! replace), rebuilt from what the turn stored so that they carry exactly
//! the turn's system prompt, history, tool call, tool result and tool
//! specs. The overhead reported is the median of the per-turn differences
//! (turn minus its own baseline pair). The provider's models() answer,
//! which the agent asks once per loaded version, is cached before any turn
//! is measured. Report: BENCHMARKS.md.
//!
//! cargo bench -p openpista --bench agent_turn

use openpista::agent::{Agent, AgentSettings, to_wit, window};
use openpista::memory::MemoryStore;
use openpista::runtime::bindings::{ChatRequest, Message, Role, StreamEvent};
use openpista::runtime::{LoadedComponent, Runtime, RuntimeConfig};
use openpista::tools::ToolRegistry;
use std::sync::Arc;
use std::time::{Duration, Instant};

const PROMPT: &str = r#"/tool text.stats {"text": "the quick brown fox"}"#;
const HISTORY_LIMIT: usize = 8;

fn median<T: Ord + Copy>(mut v: Vec<T>) -> T {
    v.sort();
    v[v.len() / 2]
}

fn system(content: String) -> Message {
    Message {
        role: Role::System,
        content,
        tool_calls: Vec::new(),
        tool_call_id: None,
        attachments: Vec::new(),
    }
}

/// The two requests the turn just made in `session`, rebuilt as the agent
/// builds them: the system prompt, then the last `HISTORY_LIMIT` stored
/// messages up to the user's message (first request) and up to the tool
/// result (second), cut to the model's window if it reports one.
fn turn_requests(
    agent: &Agent,
    session: &str,
    window_budget: Option<usize>,
    tools: &[openpista::runtime::bindings::ToolSpec],
) -> [ChatRequest; 2] {
    // After the turn: ..., user, assistant (tool call), tool, assistant.
    let stored = agent.memory.messages(session, HISTORY_LIMIT + 3).unwrap();
    let n = stored.len();
    assert!(n >= 4, "the turn stored {n} messages");
    assert_eq!(stored[n - 4].role, "user");
    assert_eq!(stored[n - 2].role, "tool");
    [3, 1].map(|dropped| {
        let upto = &stored[..n - dropped];
        let history = &upto[upto.len().saturating_sub(HISTORY_LIMIT)..];
        let history = match window_budget {
            Some(budget) => &history[window::first_to_send(history, budget)..],
            None => history,
        };
        let mut messages = vec![system(agent.settings.system_prompt.clone())];
        messages.extend(history.iter().map(to_wit));
        ChatRequest {
            model: agent.settings.model.clone(),
            messages,
            tools: tools.to_vec(),
            temperature: None,
            max_tokens: None,
        }
    })
}

/// Streams one request to the end; returns (text, tool calls seen).
async fn stream(provider: &LoadedComponent, request: &ChatRequest) -> (String, usize) {
    let mut s = provider.stream_chat(request).await.unwrap();
    let (mut text, mut calls) = (String::new(), 0);
    while let Some(event) = s.next().await.unwrap() {
        match event {
            StreamEvent::Text(t) => text.push_str(&t),
            StreamEvent::ToolCall(d) => calls += usize::from(d.name.is_some()),
            StreamEvent::Finished(_) => {}
        }
    }
    (text, calls)
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
            history_limit: HISTORY_LIMIT,
            ..AgentSettings::default()
        },
    };
    assert!(agent.settings.skill_context.get().is_empty());
    let echo = runtime.get(&agent.settings.provider).unwrap();

    // The agent asks models() once per loaded version; ask it now so that
    // no measured turn pays for it, and use its answer as the turn does.
    let facts = tokio.block_on(echo.model_info(agent.settings.model.as_deref()));
    let all = agent.tools.list().into_iter().map(|e| e.spec).collect();
    let tools = window::offered_tools(facts.as_ref(), all);
    let window_budget =
        window::history_budget(facts.as_ref(), &agent.settings.system_prompt, &tools);
    // A few unmeasured turns warm the instance pool and the store.
    for i in 0..4 {
        tokio
            .block_on(agent.turn(&format!("warm:{i}"), PROMPT, |_| {}))
            .unwrap();
    }

    let mut turns = Vec::new();
    let mut provider_only = Vec::new();
    let mut differences = Vec::new();
    let mut appends = Vec::new();
    for i in 0..rounds {
        let session = format!("bench:{}", i % 16);
        let t = Instant::now();
        let outcome = tokio
            .block_on(agent.turn(&session, PROMPT, |_| {}))
            .unwrap();
        let turn = t.elapsed();
        assert_eq!(outcome.tool_calls, 1);
        assert!(outcome.answer.contains("\"words\":4"), "{}", outcome.answer);

        // The provider's share: the turn's own two requests, alone.
        let [first, second] = turn_requests(&agent, &session, window_budget, &tools);
        let t = Instant::now();
        let (a, b) =
            tokio.block_on(async { (stream(&echo, &first).await, stream(&echo, &second).await) });
        let provider = t.elapsed();
        assert_eq!(a.1, 1, "the first request asks for the tool");
        assert_eq!(
            b,
            (outcome.answer.clone(), 0),
            "the second gives the answer"
        );
        turns.push(turn);
        provider_only.push(provider);
        differences.push(turn.as_nanos() as i128 - provider.as_nanos() as i128);

        // The memory's share: the same four appends, two of them durable.
        let t = Instant::now();
        let m = openpista::memory::sessions::StoredMessage {
            role: "user".into(),
            content: PROMPT.into(),
            tool_calls: Vec::new(),
            tool_call_id: None,
            attachments: Vec::new(),
            at_ms: 0,
            event: None,
        };
        for durable in [true, false, false, true] {
            memory.append_with("bench:appends", &m, durable).unwrap();
        }
        appends.push(t.elapsed());
    }
    let (turn, provider, append) = (median(turns), median(provider_only), median(appends));
    let overhead = Duration::from_nanos(median(differences).max(0) as u64);
    println!("agent turn with one component tool call ({rounds} rounds, paired)");
    println!("  whole turn, median:                 {turn:?}");
    println!(
        "  the turn's two requests alone:      {provider:?}  (what a real model's latency replaces)"
    );
    println!(
        "  overhead, median of (turn - its own requests): {overhead:?}  ({:.1}x the provider part)",
        overhead.as_secs_f64() / provider.as_secs_f64()
    );
    println!(
        "  of which the 4 appends (2 durable): {append:?}  ({:.0}% of the overhead)",
        100.0 * append.as_secs_f64() / overhead.as_secs_f64().max(1e-9)
    );
}
