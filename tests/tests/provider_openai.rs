//! The `llm-openai` provider component, compiled and run by the host,
//! against a local Chat Completions double: answers, tool calls, a tool
//! round trip, streaming, retries, errors, and the API key that only the
//! host ever sees.

use std::sync::Arc;
use std::time::{Duration, Instant};

use openpista::runtime::bindings::{
    ChatRequest, FinishReason, Message, Role, StreamEvent, ToolCall, ToolSpec, Usage, WitError,
};
use openpista::runtime::capabilities::ComponentPolicy;
use openpista::runtime::secrets::SecretStore;
use openpista::runtime::{CallError, LoadedComponent, Runtime, RuntimeConfig};
use openpista_tests::doubles::openai::{OpenAiDouble, Reply};
use serde_json::json;

const KEY: &str = "sk-test-123456";
const NAME: &str = "llm-openai";

struct Setup {
    double: OpenAiDouble,
    component: Arc<LoadedComponent>,
    _runtime: Arc<Runtime>,
}

/// A double and the component configured against it (preset custom,
/// model gpt-test, the key in the host's secret store), plus `extra`
/// configuration.
async fn setup(extra: &[(&str, &str)]) -> Setup {
    let double = OpenAiDouble::start().await;
    let mut policy = ComponentPolicy {
        hosts: Some(vec![format!("127.0.0.1:{}", double.port())]),
        ..ComponentPolicy::default()
    };
    let mut config = vec![
        ("preset", "custom".to_string()),
        ("base_url", double.base_url()),
        ("model", "gpt-test".to_string()),
    ];
    config.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
    for (k, v) in config {
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

fn tools() -> Vec<ToolSpec> {
    vec![
        ToolSpec {
            name: "time.now".into(),
            description: "The current time.".into(),
            parameters: r#"{"type":"object","properties":{"tz":{"type":"string"}}}"#.into(),
        },
        ToolSpec {
            name: "text.stats".into(),
            description: "Counts words.".into(),
            parameters:
                r#"{"type":"object","properties":{"text":{"type":"string"}},"required":["text"]}"#
                    .into(),
        },
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

/// Events until the end of the stream, failing on an error.
async fn drain(stream: &mut openpista::runtime::ChatStream) -> Vec<StreamEvent> {
    let mut events = Vec::new();
    while let Some(event) = stream.next().await.unwrap() {
        events.push(event);
    }
    events
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_answer_and_what_was_sent() {
    let s = setup(&[]).await;
    // models() answers from the configuration, without the network.
    let models = s.component.models().await.unwrap();
    assert_eq!(models.len(), 1);
    assert_eq!(models[0].id, "gpt-test");
    assert!(models[0].supports_tools);
    assert!(s.double.requests().is_empty());

    s.double.push(Reply::text("Hello there!"));
    let mut req = request(
        vec![
            message(Role::System, "Be brief."),
            message(Role::User, "Say hello."),
        ],
        Vec::new(),
    );
    req.temperature = Some(0.25);
    req.max_tokens = Some(42);
    let answer = s.component.chat(&req).await.unwrap();
    assert_eq!(answer.message.role, Role::Assistant);
    assert_eq!(answer.message.content, "Hello there!");
    assert!(answer.message.tool_calls.is_empty());
    assert!(matches!(answer.finish_reason, FinishReason::Stop));
    assert_eq!(tokens(&answer.usage), Some((11, 7)));

    let requests = s.double.requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/v1/chat/completions");
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(
        r.body,
        json!({
            "model": "gpt-test",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Say hello."},
            ],
            "temperature": 0.25,
            "max_tokens": 42,
        })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_key_is_substituted_by_the_host_only() {
    let s = setup(&[]).await;
    s.double.expect_api_key(KEY);
    s.double.push(Reply::text("ok"));
    s.component
        .chat(&request(vec![message(Role::User, "hi")], Vec::new()))
        .await
        .unwrap();
    let r = &s.double.requests()[0];
    // What arrived carries the real key: the host put it there, in place of
    // the `{{secret:api_key}}` placeholder the component wrote...
    assert_eq!(r.header("authorization"), Some("Bearer sk-test-123456"));
    // ...and nothing the component produced itself (the body) has it.
    let body = String::from_utf8_lossy(&r.raw);
    assert!(!body.contains(KEY) && !body.contains("secret:"), "{body}");
    // The component's configuration never carries it either.
    let models = s.component.models().await.unwrap();
    assert!(!format!("{models:?}").contains(KEY));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tool_call_answer() {
    let s = setup(&[]).await;
    s.double.push(Reply::tool_calls(&[
        ("call_abc", "time__now", r#"{"tz":"UTC"}"#),
        ("call_def", "text__stats", r#"{"text":"a b c"}"#),
    ]));
    let answer = s
        .component
        .chat(&request(
            vec![message(Role::User, "What time is it?")],
            tools(),
        ))
        .await
        .unwrap();
    assert!(matches!(answer.finish_reason, FinishReason::ToolCalls));
    assert_eq!(answer.message.content, "");
    assert_eq!(
        calls_of(&answer.message.tool_calls),
        vec![
            ("call_abc", "time.now", r#"{"tz":"UTC"}"#),
            ("call_def", "text.stats", r#"{"text":"a b c"}"#),
        ]
    );
    // The tools went out in the wire format, names mapped, schemas as JSON.
    let r = &s.double.requests()[0];
    assert_eq!(
        r.body["tools"],
        json!([
            {"type": "function", "function": {
                "name": "time__now",
                "description": "The current time.",
                "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}},
            }},
            {"type": "function", "function": {
                "name": "text__stats",
                "description": "Counts words.",
                "parameters": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
            }},
        ])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tool_round_trip() {
    let s = setup(&[]).await;
    s.double.push(Reply::tool_calls(&[(
        "call_abc",
        "time__now",
        r#"{"tz":"UTC"}"#,
    )]));
    s.double.push(Reply::text("It is noon (UTC)."));

    let mut messages = vec![
        message(Role::System, "You can tell the time."),
        message(Role::User, "What time is it?"),
    ];
    let first = s
        .component
        .chat(&request(messages.clone(), tools()))
        .await
        .unwrap();
    assert!(matches!(first.finish_reason, FinishReason::ToolCalls));
    let call = first.message.tool_calls[0].clone();
    messages.push(first.message);
    messages.push(Message {
        tool_call_id: Some(call.id.clone()),
        ..message(Role::Tool, "12:00:00 UTC")
    });
    let second = s.component.chat(&request(messages, tools())).await.unwrap();
    assert_eq!(second.message.content, "It is noon (UTC).");
    assert!(matches!(second.finish_reason, FinishReason::Stop));

    let requests = s.double.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests[1].body["messages"],
        json!([
            {"role": "system", "content": "You can tell the time."},
            {"role": "user", "content": "What time is it?"},
            {"role": "assistant", "content": null, "tool_calls": [{
                "id": "call_abc", "type": "function",
                "function": {"name": "time__now", "arguments": "{\"tz\":\"UTC\"}"},
            }]},
            {"role": "tool", "tool_call_id": "call_abc", "content": "12:00:00 UTC"},
        ])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_text() {
    let s = setup(&[]).await;
    s.double
        .push(Reply::stream_text(&["Hel", "lo, ", "wor", "ld!"]));
    let mut stream = s
        .component
        .stream_chat(&request(vec![message(Role::User, "Greet.")], Vec::new()))
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
    assert_eq!(texts, vec!["Hel", "lo, ", "wor", "ld!"]);
    match events.last() {
        Some(StreamEvent::Finished(end)) => {
            assert!(matches!(end.finish_reason, FinishReason::Stop));
            assert_eq!(tokens(&end.usage), Some((5, 4)));
        }
        other => panic!("{other:?}"),
    }
    assert!(stream.next().await.unwrap().is_none());
    let r = &s.double.requests()[0];
    assert_eq!(r.body["stream"], true);
    assert_eq!(r.body["stream_options"], json!({"include_usage": true}));
    assert_eq!(r.header("accept"), Some("text/event-stream"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_arrive_while_the_body_is_still_coming() {
    let s = setup(&[]).await;
    let Reply::Sse(events) = Reply::stream_text(&["one ", "two ", "three"]) else {
        unreachable!()
    };
    s.double
        .push(Reply::SsePaced(events, Duration::from_millis(150)));
    let mut stream = s
        .component
        .stream_chat(&request(vec![message(Role::User, "Count.")], Vec::new()))
        .await
        .unwrap();
    let mut first_text = None;
    let mut finished = None;
    while let Some(event) = stream.next().await.unwrap() {
        match event {
            StreamEvent::Text(_) if first_text.is_none() => first_text = Some(Instant::now()),
            StreamEvent::Finished(_) => finished = Some(Instant::now()),
            _ => {}
        }
    }
    // Six more chunks, 150 ms apart, were still to come after the first
    // text: it was handed over before they were sent.
    let gap = finished.unwrap().duration_since(first_text.unwrap());
    assert!(gap >= Duration::from_millis(600), "{gap:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_tool_calls() {
    let s = setup(&[]).await;
    s.double.push(Reply::stream_tool_calls(&[
        (
            "call_1",
            "time__now",
            &["{\"tz\"", ":\"Europe/", "Paris\"}"][..],
        ),
        ("call_2", "text__stats", &["{\"text\":", "\"x\"}"][..]),
    ]));
    let mut stream = s
        .component
        .stream_chat(&request(vec![message(Role::User, "Go.")], tools()))
        .await
        .unwrap();
    let events = drain(&mut stream).await;
    // Reassemble the calls by index, as the agent loop does.
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
                r#"{"tz":"Europe/Paris"}"#.to_string()
            ),
            (
                "call_2".to_string(),
                "text.stats".to_string(),
                r#"{"text":"x"}"#.to_string()
            ),
        ]
    );
    let deltas = events
        .iter()
        .filter(|e| matches!(e, StreamEvent::ToolCall(_)))
        .count();
    assert!(deltas >= 5, "arguments arrive in pieces: {events:?}");
    assert!(matches!(
        events.last(),
        Some(StreamEvent::Finished(end)) if matches!(end.finish_reason, FinishReason::ToolCalls)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_honours_retry_after() {
    let s = setup(&[]).await;
    s.double.push(Reply::rate_limited(1));
    s.double.push(Reply::text("finally"));
    let started = Instant::now();
    let answer = s
        .component
        .chat(&request(vec![message(Role::User, "hi")], Vec::new()))
        .await
        .unwrap();
    assert_eq!(answer.message.content, "finally");
    assert!(started.elapsed() >= Duration::from_secs(1));
    let requests = s.double.requests();
    assert_eq!(requests.len(), 2);
    assert!(requests[1].at.duration_since(requests[0].at) >= Duration::from_secs(1));
    // The retry is the same request.
    assert_eq!(requests[0].body, requests[1].body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_error_is_retried() {
    let s = setup(&[]).await;
    s.double.push(Reply::server_error());
    s.double.push(Reply::stream_text(&["recovered"]));
    let mut stream = s
        .component
        .stream_chat(&request(vec![message(Role::User, "hi")], Vec::new()))
        .await
        .unwrap();
    let events = drain(&mut stream).await;
    assert!(matches!(&events[0], StreamEvent::Text(t) if t == "recovered"));
    assert_eq!(s.double.requests().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_key_is_a_clear_error() {
    let s = setup(&[]).await;
    s.double.expect_api_key("sk-the-right-one-999");
    let error = guest(
        s.component
            .chat(&request(vec![message(Role::User, "hi")], Vec::new()))
            .await
            .unwrap_err(),
    );
    let WitError::Unavailable(text) = &error else {
        panic!("{error:?}")
    };
    assert!(text.contains("llm-openai"), "{text}");
    assert!(text.contains("API key"), "{text}");
    assert!(text.contains("HTTP 401"), "{text}");
    assert!(text.contains("Incorrect API key provided"), "{text}");
    assert!(!text.contains(KEY), "{text}");
    // Never retried.
    assert_eq!(s.double.requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_request_carries_the_service_message() {
    let s = setup(&[]).await;
    // A tool result answering no tool call: the service refuses it.
    let orphan = Message {
        tool_call_id: Some("call_missing".into()),
        ..message(Role::Tool, "12:00")
    };
    let error = guest(
        s.component
            .chat(&request(
                vec![message(Role::User, "hi"), orphan],
                Vec::new(),
            ))
            .await
            .unwrap_err(),
    );
    let WitError::InvalidInput(text) = &error else {
        panic!("{error:?}")
    };
    assert!(
        text.contains("llm-openai") && text.contains("HTTP 400"),
        "{text}"
    );
    assert!(
        text.contains("messages with role 'tool' must be a response"),
        "{text}"
    );
    assert_eq!(s.double.requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_stream_is_a_clear_error() {
    let s = setup(&[]).await;
    s.double.push(Reply::Raw(
        b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n\
          data: {\"choices\": [this is not json\n\n"
            .to_vec(),
    ));
    let mut stream = s
        .component
        .stream_chat(&request(vec![message(Role::User, "hi")], Vec::new()))
        .await
        .unwrap();
    let first = stream.next().await.unwrap();
    assert!(matches!(first, Some(StreamEvent::Text(t)) if t == "Hi"));
    let error = guest(stream.next().await.unwrap_err());
    let WitError::Upstream(u) = &error else {
        panic!("{error:?}")
    };
    assert!(u.message.contains("llm-openai"), "{}", u.message);
    assert!(u.message.contains("not valid JSON"), "{}", u.message);
    assert!(u.message.contains("this is not json"), "{}", u.message);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_configuration_names_the_key() {
    let s = setup(&[("base_url", "")]).await;
    let error = guest(
        s.component
            .chat(&request(vec![message(Role::User, "hi")], Vec::new()))
            .await
            .unwrap_err(),
    );
    assert!(
        matches!(&error, WitError::Unavailable(m) if m.contains("`base_url`") && m.contains("custom")),
        "{error:?}"
    );
    assert!(s.double.requests().is_empty());
}
