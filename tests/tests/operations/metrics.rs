//! `/metrics` scraped around real turns (a tool call that works, one that
//! fails) and read by `prometheus_client`'s parser: the counters move by
//! what happened, no more.

use super::{Served, Setup, TOKEN, get, parse_prometheus};
use openpista_tests::doubles::openai::{OpenAiDouble, Reply};
use std::collections::BTreeMap;

type Sample = (String, BTreeMap<String, String>, f64);

/// The sum of the samples named `name` whose labels include `labels`.
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|(n, l, _)| {
            n == name
                && labels
                    .iter()
                    .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|(_, _, v)| v)
        .sum()
}

async fn scrape(addr: std::net::SocketAddr) -> Vec<Sample> {
    let (status, body) = get(addr, "/metrics").await;
    assert_eq!(status, 200, "{body}");
    parse_prometheus(&body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turn_with_tool_calls_moves_the_counters_by_what_happened() {
    let double = OpenAiDouble::start().await;
    let key = "sk-ops-metrics-key-77";
    double.expect_api_key(key);
    // Turn 1: one tool call that works, then the answer.
    double.push(Reply::stream_tool_calls(&[(
        "call_1",
        "text__stats",
        &["{\"text\": \"one two three\"}"],
    )]));
    double.push(Reply::stream_text(&["three words"]));
    // Turn 2: one that fails (not JSON to query), then the answer.
    double.push(Reply::stream_tool_calls(&[(
        "call_2",
        "text__json_query",
        &["{\"json\": \"{not json\", \"path\": \"/a\"}"],
    )]));
    double.push(Reply::stream_text(&["that failed"]));
    let setup = Setup::new(Some(&double.base_url()), key, "");
    let served = Served::start(&setup, &[]);

    let before = scrape(served.addr).await;
    assert_eq!(value(&before, "openpista_turns_total", &[]), 0.0);
    assert!(
        value(&before, "openpista_compile_cache_total", &[]) >= 3.0,
        "every component loaded at start counts as built-in, a hit or a miss: {before:?}"
    );
    assert!(value(&before, "process_resident_memory_bytes", &[]) > 1_048_576.0);

    let answer =
        openpista_tests::web_chat(served.addr, TOKEN, "metrics-client", "how many words?").await;
    assert_eq!(answer, "three words");
    let mid = scrape(served.addr).await;
    let answer = openpista_tests::web_chat(served.addr, TOKEN, "metrics-client", "query it").await;
    assert_eq!(answer, "that failed");
    let after = scrape(served.addr).await;

    // Turns, by provider component and outcome.
    let turns = |s: &[Sample]| {
        value(
            s,
            "openpista_turns_total",
            &[("provider", "provider-main"), ("outcome", "ok")],
        )
    };
    assert_eq!((turns(&mid), turns(&after)), (1.0, 2.0));
    // Tool calls by tool and outcome; the failure is also an error.
    let calls = |s: &[Sample], tool: &str, outcome: &str| {
        value(
            s,
            "openpista_tool_calls_total",
            &[("tool", tool), ("outcome", outcome)],
        )
    };
    assert_eq!(calls(&mid, "text.stats", "ok"), 1.0, "{mid:?}");
    assert_eq!(calls(&mid, "text.json_query", "error"), 0.0);
    assert_eq!(calls(&after, "text.stats", "ok"), 1.0);
    assert_eq!(calls(&after, "text.json_query", "error"), 1.0, "{after:?}");
    assert_eq!(
        value(&after, "openpista_errors_total", &[("kind", "tool")]),
        1.0
    );
    assert_eq!(
        value(
            &after,
            "openpista_tool_call_duration_seconds_count",
            &[("tool", "text.stats")]
        ),
        1.0
    );
    // Four provider requests, each timed; the tokens the double reported
    // (8 in and 3 out per tool-call stream, 5 in and 1 out per answer).
    let requests = value(
        &after,
        "openpista_provider_request_duration_seconds_count",
        &[("provider", "provider-main"), ("model", "gpt-test")],
    );
    assert_eq!(requests, 4.0, "{after:?}");
    let tokens = |kind: &str| {
        value(
            &after,
            "openpista_tokens_total",
            &[("provider", "provider-main"), ("kind", kind)],
        )
    };
    assert_eq!((tokens("input"), tokens("output")), (26.0, 8.0));
    assert_eq!(
        value(&after, "openpista_turn_duration_seconds_count", &[]),
        2.0
    );
    // Messages through the web channel: two in, two answers out.
    let messages = |direction: &str| {
        value(
            &after,
            "openpista_channel_messages_total",
            &[("channel", "web"), ("direction", direction)],
        )
    };
    assert_eq!((messages("in"), messages("out")), (2.0, 2.0));
    // Each provider request and tool call ran in an instance of its own.
    let instances = |s: &[Sample], component: &str| {
        value(
            s,
            "openpista_component_instances_total",
            &[("component", component)],
        )
    };
    assert!(
        instances(&after, "tool-basics") >= instances(&before, "tool-basics") + 2.0,
        "{after:?}"
    );
    assert!(instances(&after, "provider-main") >= instances(&before, "provider-main") + 4.0);
    // Nothing trapped, nothing was retried.
    assert_eq!(value(&after, "openpista_component_traps_total", &[]), 0.0);
    assert_eq!(
        value(&after, "openpista_retryable_responses_total", &[]),
        0.0
    );
    // Gauges read at the scrape.
    let names: Vec<&str> = after.iter().map(|(n, _, _)| n.as_str()).collect();
    for gauge in [
        "openpista_active_sessions",
        "openpista_websocket_connections",
        "process_virtual_memory_bytes",
        "process_cpu_seconds_total",
    ] {
        assert!(names.contains(&gauge), "{gauge} missing: {names:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_of_its_own_serves_metrics_and_the_main_one_does_not() {
    let double = OpenAiDouble::start().await;
    // A service that answers 429 twice: the provider retries, and the
    // retryable answers are counted for it.
    double.push(Reply::rate_limited(0));
    double.push(Reply::rate_limited(0));
    double.push(Reply::stream_text(&["after two tries"]));
    let setup = Setup::new(
        Some(&double.base_url()),
        "sk-ops-metrics-own",
        "[metrics]\nlisten = \"127.0.0.1:0\"\n",
    );
    let served = Served::start(&setup, &[]);
    let line = served.line_starting("metrics: http://");
    let addr: std::net::SocketAddr = line
        .trim_start_matches("metrics: http://")
        .trim_end_matches("/metrics")
        .parse()
        .unwrap();
    let (status, _) = get(served.addr, "/metrics").await;
    assert_ne!(status, 200, "the main listener does not serve metrics");
    let (status, _) = get(addr, "/other").await;
    assert_eq!(status, 404);
    let (status, _) = get(addr, "/health").await;
    assert_eq!(
        status, 404,
        "anyone reaches it: metrics only, not the host's health"
    );

    let answer = openpista_tests::web_chat(served.addr, TOKEN, "own-client", "hi").await;
    assert_eq!(answer, "after two tries");
    let samples = scrape(addr).await;
    assert_eq!(
        value(
            &samples,
            "openpista_retryable_responses_total",
            &[("component", "provider-main")]
        ),
        2.0,
        "{samples:?}"
    );
}
