//! The `llm-responses` provider component, compiled and run by the host,
//! against a local Responses API double: answers, function calls, a tool
//! round trip with `call_id`s, streaming, retries, errors, tool-name
//! collisions, and the API key that only the host ever sees.

use std::sync::Arc;
use std::time::{Duration, Instant};

use openpista::runtime::bindings::{
    ChatRequest, FinishReason, Message, Role, StreamEvent, ToolCall, ToolSpec, Usage, WitError,
};
use openpista::runtime::capabilities::ComponentPolicy;
use openpista::runtime::secrets::SecretStore;
use openpista::runtime::{CallError, LoadedComponent, Runtime, RuntimeConfig};
use openpista_tests::doubles::responses::{Reply, ResponsesDouble};
use serde_json::json;

const KEY: &str = "sk-test-123456";
const NAME: &str = "llm-responses";

struct Setup {
    double: ResponsesDouble,
    component: Arc<LoadedComponent>,
    _runtime: Arc<Runtime>,
}

async fn setup() -> Setup {
    let double = ResponsesDouble::start().await;
    let mut policy = ComponentPolicy {
        hosts: Some(vec![format!("127.0.0.1:{}", double.port())]),
        ..ComponentPolicy::default()
    };
    for (k, v) in [
        ("preset", "custom".to_string()),
        ("base_url", double.base_url()),
        ("model", "gpt-test".to_string()),
    ] {
        policy.config.insert(k.into(), toml::Value::String(v));
    }
    let runtime = Runtime::new(RuntimeConfig {
        policies: [(NAME.to_string(), policy)].into(),
        secrets: SecretStore::new([("api_key".to_string(), KEY.to_string())].into()),
        cache_dir: Some(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("provider-cache")),
        ..RuntimeConfig::default()
    })
    .unwrap();
    runtime.reload(NAME).await.unwrap();
    let component = runtime.get(NAME).unwrap();
    Setup {
        double,
        component,
        _runtime: runtime,
    }
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

fn request(messages: Vec<Message>, tools: Vec<ToolSpec>) -> ChatRequest {
    ChatRequest {
        model: None,
        messages,
        tools,
        temperature: None,
        max_tokens: None,
    }
}

fn spec(name: &str, description: &str) -> ToolSpec {
    ToolSpec {
        name: name.into(),
        description: description.into(),
        parameters: r#"{"type":"object","properties":{"tz":{"type":"string"}}}"#.into(),
    }
}

fn tools() -> Vec<ToolSpec> {
    vec![
        spec("time.now", "The current time."),
        spec("text.stats", "Counts words."),
    ]
}

fn tokens(usage: &Option<Usage>) -> Option<(u32, u32)> {
    usage.as_ref().map(|u| (u.input_tokens, u.output_tokens))
}

fn calls_of(calls: &[ToolCall]) -> Vec<(&str, &str, &str)> {
    calls
        .iter()
        .map(|c| (c.id.as_str(), c.name.as_str(), c.arguments.as_str()))
        .collect()
}

fn guest(error: CallError) -> WitError {
    match error {
        CallError::Guest(e) => e,
        other => panic!("expected a guest error, got {other}"),
    }
}

async fn drain(stream: &mut openpista::runtime::ChatStream) -> Vec<StreamEvent> {
    let mut events = Vec::new();
    while let Some(event) = stream.next().await.unwrap() {
        events.push(event);
    }
    events
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_answer_and_what_was_sent() {
    let s = setup().await;
    let models = s.component.models().await.unwrap();
    assert_eq!(models[0].id, "gpt-test");
    assert!(s.double.requests().is_empty());

    s.double.push(Reply::text("Hello there!"));
    let mut req = request(
        vec![
            message(Role::System, "Be brief."),
            message(Role::User, "Say hello."),
        ],
        Vec::new(),
    );
    req.max_tokens = Some(99);
    let answer = s.component.chat(&req).await.unwrap();
    assert_eq!(answer.message.content, "Hello there!");
    assert!(matches!(answer.finish_reason, FinishReason::Stop));
    assert_eq!(tokens(&answer.usage), Some((11, 7)));
    let requests = s.double.requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("POST", "/v1/responses")
    );
    assert_eq!(
        r.body,
        json!({
            "model": "gpt-test",
            "instructions": "Be brief.",
            "input": [{"type": "message", "role": "user", "content": "Say hello."}],
            "max_output_tokens": 99,
            "store": false,
        })
    );
    // The host, not the component, put the key in.
    assert_eq!(r.header("authorization"), Some("Bearer sk-test-123456"));
    assert!(!String::from_utf8_lossy(&r.raw).contains(KEY));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn function_calls_and_round_trip() {
    let s = setup().await;
    s.double.expect_api_key(KEY);
    s.double.push(Reply::function_calls(&[
        ("call_abc", "time__now", r#"{"tz":"UTC"}"#),
        ("call_def", "text__stats", "{}"),
    ]));
    s.double.push(Reply::text("Noon, and two words."));

    let mut messages = vec![
        message(Role::System, "Use tools."),
        message(Role::User, "Time and stats?"),
    ];
    let first = s
        .component
        .chat(&request(messages.clone(), tools()))
        .await
        .unwrap();
    assert!(matches!(first.finish_reason, FinishReason::ToolCalls));
    assert_eq!(
        calls_of(&first.message.tool_calls),
        vec![
            ("call_abc", "time.now", r#"{"tz":"UTC"}"#),
            ("call_def", "text.stats", "{}"),
        ]
    );
    let calls = first.message.tool_calls.clone();
    messages.push(first.message);
    for (call, output) in calls.iter().zip(["12:00", "2 words"]) {
        messages.push(Message {
            tool_call_id: Some(call.id.clone()),
            ..message(Role::Tool, output)
        });
    }
    let second = s.component.chat(&request(messages, tools())).await.unwrap();
    assert_eq!(second.message.content, "Noon, and two words.");

    let requests = s.double.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests[0].body["tools"],
        json!([
            {"type": "function", "name": "time__now", "description": "The current time.",
             "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}}, "strict": false},
            {"type": "function", "name": "text__stats", "description": "Counts words.",
             "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}}, "strict": false},
        ])
    );
    assert_eq!(
        requests[1].body["input"],
        json!([
            {"type": "message", "role": "user", "content": "Time and stats?"},
            {"type": "function_call", "call_id": "call_abc", "name": "time__now", "arguments": "{\"tz\":\"UTC\"}"},
            {"type": "function_call", "call_id": "call_def", "name": "text__stats", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "call_abc", "output": "12:00"},
            {"type": "function_call_output", "call_id": "call_def", "output": "2 words"},
        ])
    );
    assert_eq!(requests[1].body["instructions"], "Use tools.");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_text() {
    let s = setup().await;
    s.double.push(Reply::stream_text(&["Str", "eam", "ed."]));
    let mut stream = s
        .component
        .stream_chat(&request(vec![message(Role::User, "Go.")], Vec::new()))
        .await
        .unwrap();
    let events = drain(&mut stream).await;
    let texts: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::Text(t) => Some(t.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(texts, vec!["Str", "eam", "ed."]);
    match events.last() {
        Some(StreamEvent::Finished(end)) => {
            assert!(matches!(end.finish_reason, FinishReason::Stop));
            assert_eq!(tokens(&end.usage), Some((5, 3)));
        }
        other => panic!("{other:?}"),
    }
    assert!(stream.next().await.unwrap().is_none());
    assert_eq!(s.double.requests()[0].body["stream"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_function_calls() {
    let s = setup().await;
    s.double.push(Reply::stream_function_calls(&[
        (
            "call_1",
            "time__now",
            &["{\"tz\"", ":\"Asia/", "Tokyo\"}"][..],
        ),
        ("call_2", "text__stats", &["{}"][..]),
    ]));
    let mut stream = s
        .component
        .stream_chat(&request(vec![message(Role::User, "Go.")], tools()))
        .await
        .unwrap();
    let events = drain(&mut stream).await;
    let mut calls: Vec<(String, String, String)> = Vec::new();
    for event in &events {
        if let StreamEvent::ToolCall(d) = event {
            let i = d.index as usize;
            if calls.len() <= i {
                calls.resize(i + 1, Default::default());
            }
            if let Some(id) = &d.id {
                calls[i].0 = id.clone();
            }
            if let Some(name) = &d.name {
                calls[i].1 = name.clone();
            }
            calls[i].2.push_str(&d.arguments);
        }
    }
    assert_eq!(
        calls,
        vec![
            (
                "call_1".to_string(),
                "time.now".to_string(),
                r#"{"tz":"Asia/Tokyo"}"#.to_string()
            ),
            (
                "call_2".to_string(),
                "text.stats".to_string(),
                "{}".to_string()
            ),
        ]
    );
    assert!(matches!(
        events.last(),
        Some(StreamEvent::Finished(end))
            if matches!(end.finish_reason, FinishReason::ToolCalls) && end.usage.is_some()
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_honours_retry_after() {
    let s = setup().await;
    s.double.push(Reply::rate_limited(1));
    s.double.push(Reply::stream_text(&["after ", "waiting"]));
    let started = Instant::now();
    let mut stream = s
        .component
        .stream_chat(&request(vec![message(Role::User, "hi")], Vec::new()))
        .await
        .unwrap();
    let events = drain(&mut stream).await;
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert!(matches!(&events[0], StreamEvent::Text(t) if t == "after "));
    let requests = s.double.requests();
    assert_eq!(requests.len(), 2);
    assert!(requests[1].at.duration_since(requests[0].at) >= Duration::from_secs(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_error_is_retried() {
    let s = setup().await;
    s.double.push(Reply::server_error());
    s.double.push(Reply::text("recovered"));
    let answer = s
        .component
        .chat(&request(vec![message(Role::User, "hi")], Vec::new()))
        .await
        .unwrap();
    assert_eq!(answer.message.content, "recovered");
    assert_eq!(s.double.requests().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_key_is_a_clear_error() {
    let s = setup().await;
    s.double.expect_api_key("sk-the-right-one-999");
    let error = guest(
        s.component
            .stream_chat(&request(vec![message(Role::User, "hi")], Vec::new()))
            .await
            .err()
            .expect("a 401 fails the call"),
    );
    let WitError::Unavailable(text) = &error else {
        panic!("{error:?}")
    };
    assert!(text.contains("llm-responses"), "{text}");
    assert!(text.contains("API key"), "{text}");
    assert!(text.contains("HTTP 401"), "{text}");
    assert!(!text.contains(KEY), "{text}");
    assert_eq!(s.double.requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_and_malformed_streams_are_clear_errors() {
    let s = setup().await;
    s.double.push(Reply::Sse(vec![
        json!({"type": "response.created", "response": {"status": "in_progress"}}),
        json!({"type": "response.output_text.delta", "delta": "Par"}),
        json!({"type": "response.failed", "response": {"status": "failed",
            "error": {"code": "server_error", "message": "The model produced invalid content."}}}),
    ]));
    let mut stream = s
        .component
        .stream_chat(&request(vec![message(Role::User, "hi")], Vec::new()))
        .await
        .unwrap();
    assert!(matches!(stream.next().await.unwrap(), Some(StreamEvent::Text(t)) if t == "Par"));
    let error = guest(stream.next().await.unwrap_err());
    assert!(
        matches!(&error, WitError::Upstream(u) if u.message.contains("llm-responses")
            && u.message.contains("The model produced invalid content.")),
        "{error:?}"
    );

    s.double.push(Reply::Raw(
        b"event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\n\n"
            .to_vec(),
    ));
    let mut stream = s
        .component
        .stream_chat(&request(vec![message(Role::User, "hi")], Vec::new()))
        .await
        .unwrap();
    let error = guest(stream.next().await.unwrap_err());
    let WitError::Upstream(u) = &error else {
        panic!("{error:?}")
    };
    assert!(u.message.contains("llm-responses"), "{}", u.message);
    assert!(u.message.contains("not valid JSON"), "{}", u.message);
    assert!(u.message.contains("\"delta\":"), "{}", u.message);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn colliding_tool_names_are_refused_before_sending() {
    let s = setup().await;
    let error = guest(
        s.component
            .chat(&request(
                vec![message(Role::User, "hi")],
                vec![spec("files.read", "a"), spec("files__read", "b")],
            ))
            .await
            .unwrap_err(),
    );
    let WitError::InvalidInput(text) = &error else {
        panic!("{error:?}")
    };
    assert!(
        text.contains("`files.read`") && text.contains("`files__read`"),
        "{text}"
    );
    assert!(s.double.requests().is_empty());
}
