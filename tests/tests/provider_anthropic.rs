//! The real compiled `llm-anthropic` component against a local double of
//! Anthropic's Messages API (`openpista_tests::doubles::anthropic`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use openpista::runtime::bindings::{
    ChatRequest, FinishReason, Message, Role, StreamEvent, ToolCall, ToolSpec, Usage, WitError,
};
use openpista::runtime::capabilities::ComponentPolicy;
use openpista::runtime::secrets::SecretStore;
use openpista::runtime::{CallError, LoadedComponent, Runtime, RuntimeConfig};
use openpista_tests::doubles::anthropic::{
    AnthropicDouble, Reply, StreamBuilder, message, text_message,
};
use serde_json::{Value, json};

const KEY: &str = "sk-ant-test-123456";

/// A runtime whose `llm-anthropic` talks to `double`; the runtime and the
/// temporary folder must live as long as the component is used.
struct Setup {
    _dir: tempfile::TempDir,
    _rt: Arc<Runtime>,
    provider: Arc<LoadedComponent>,
}

async fn setup(double: &AnthropicDouble) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let port = double.port();
    let policy = ComponentPolicy {
        hosts: Some(vec![format!("127.0.0.1:{port}")]),
        config: [
            (
                "base_url".to_string(),
                toml::Value::String(double.base_url()),
            ),
            (
                "model".to_string(),
                toml::Value::String("claude-test".into()),
            ),
        ]
        .into(),
        ..ComponentPolicy::default()
    };
    let rt = Runtime::new(RuntimeConfig {
        policies: [("llm-anthropic".to_string(), policy)].into(),
        secrets: SecretStore::new([("api_key".to_string(), KEY.to_string())].into()),
        cache_dir: Some(dir.path().join("cache")),
        ..RuntimeConfig::default()
    })
    .unwrap();
    rt.reload("llm-anthropic").await.unwrap();
    let provider = rt.get("llm-anthropic").unwrap();
    Setup {
        _dir: dir,
        _rt: rt,
        provider,
    }
}

fn msg(role: Role, content: &str) -> Message {
    Message {
        role,
        content: content.into(),
        tool_calls: Vec::new(),
        tool_call_id: None,
        attachments: Vec::new(),
    }
}

fn tool_result(id: &str, content: &str) -> Message {
    Message {
        tool_call_id: Some(id.into()),
        ..msg(Role::Tool, content)
    }
}

fn spec(name: &str) -> ToolSpec {
    ToolSpec {
        name: name.into(),
        description: format!("The {name} tool."),
        parameters: json!({"type": "object", "properties": {"tz": {"type": "string"}}}).to_string(),
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

fn guest_error(e: CallError) -> WitError {
    match e {
        CallError::Guest(e) => e,
        other => panic!("expected an error from the component, got: {other}"),
    }
}

fn args(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("arguments {text:?}: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_answer_with_system_at_the_top_level() {
    let double = AnthropicDouble::with_replies([Reply::Json(text_message("Hello there."))]).await;
    let s = setup(&double).await;

    // models() answers from the configuration, without the network.
    let models = s.provider.models().await.unwrap();
    assert_eq!(models[0].id, "claude-test", "the configured model first");
    assert!(
        models.iter().any(|m| m.id == "claude-opus-4-1"),
        "then the built-in list"
    );
    assert!(models[0].supports_tools);
    assert!(double.requests().is_empty());

    let answer = s
        .provider
        .chat(&request(
            vec![msg(Role::System, "You are terse."), msg(Role::User, "hi")],
            vec![],
        ))
        .await
        .unwrap();
    assert_eq!(answer.message.role, Role::Assistant);
    assert_eq!(answer.message.content, "Hello there.");
    assert!(answer.message.tool_calls.is_empty());
    assert!(matches!(answer.finish_reason, FinishReason::Stop));
    let usage = answer.usage.expect("usage");
    assert_eq!((usage.input_tokens, usage.output_tokens), (10, 3));

    let requests = double.requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(r.status, 200, "the double accepted the request");
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("POST", "/v1/messages")
    );
    // The host put the key in; the component only wrote the placeholder.
    assert_eq!(r.header("x-api-key"), Some(KEY));
    assert_eq!(r.header("anthropic-version"), Some("2023-06-01"));
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    assert!(r.header("authorization").is_none());
    assert_eq!(r.body["system"], "You are terse.");
    assert_eq!(r.body["model"], "claude-test");
    assert_eq!(r.body["max_tokens"], 4096);
    assert!(r.body.get("stream").is_none());
    assert_eq!(
        r.body["messages"],
        json!([{"role": "user", "content": [{"type": "text", "text": "hi"}]}])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tool_use_is_mapped_back_to_dotted_names() {
    let double = AnthropicDouble::with_replies([Reply::Json(message(
        json!([
            {"type": "text", "text": "Let me look."},
            {"type": "tool_use", "id": "toolu_01A", "name": "time__now", "input": {"tz": "UTC"}},
        ]),
        "tool_use",
        20,
        15,
    ))])
    .await;
    let s = setup(&double).await;
    let answer = s
        .provider
        .chat(&request(
            vec![msg(Role::User, "what time is it?")],
            vec![spec("time.now"), spec("notes.add")],
        ))
        .await
        .unwrap();
    assert!(matches!(answer.finish_reason, FinishReason::ToolCalls));
    assert_eq!(answer.message.content, "Let me look.");
    assert_eq!(answer.message.tool_calls.len(), 1);
    let call = &answer.message.tool_calls[0];
    assert_eq!(call.id, "toolu_01A");
    assert_eq!(call.name, "time.now");
    assert_eq!(args(&call.arguments), json!({"tz": "UTC"}));

    let body = &double.requests()[0].body;
    let names: Vec<&str> = body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["time__now", "notes__add"]);
    assert_eq!(body["tools"][0]["description"], "The time.now tool.");
    assert_eq!(body["tools"][0]["input_schema"]["type"], "object");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consecutive_tool_results_go_in_one_user_turn() {
    let double = AnthropicDouble::with_replies([Reply::Json(text_message(
        "It is noon and the note is saved.",
    ))])
    .await;
    let s = setup(&double).await;
    let assistant = Message {
        tool_calls: vec![
            ToolCall {
                id: "toolu_1".into(),
                name: "time.now".into(),
                arguments: r#"{"tz": "UTC"}"#.into(),
            },
            ToolCall {
                id: "toolu_2".into(),
                name: "notes.add".into(),
                arguments: String::new(),
            },
        ],
        ..msg(Role::Assistant, "Doing both.")
    };
    let answer = s
        .provider
        .chat(&request(
            vec![
                msg(Role::System, "Be helpful."),
                msg(Role::User, "time, and save a note"),
                assistant,
                tool_result("toolu_1", "12:00"),
                tool_result("toolu_2", "saved"),
            ],
            vec![spec("time.now"), spec("notes.add")],
        ))
        .await
        .unwrap();
    assert_eq!(answer.message.content, "It is noon and the note is saved.");

    let r = &double.requests()[0];
    assert_eq!(r.status, 200, "the double accepted the request");
    assert_eq!(r.body["system"], "Be helpful.");
    assert_eq!(
        r.body["messages"],
        json!([
            {"role": "user", "content": [{"type": "text", "text": "time, and save a note"}]},
            {"role": "assistant", "content": [
                {"type": "text", "text": "Doing both."},
                {"type": "tool_use", "id": "toolu_1", "name": "time__now", "input": {"tz": "UTC"}},
                {"type": "tool_use", "id": "toolu_2", "name": "notes__add", "input": {}},
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "12:00", "is_error": false},
                {"type": "tool_result", "tool_use_id": "toolu_2", "content": "saved", "is_error": false},
            ]},
        ])
    );
}

/// Drains a stream: (text, tool calls by index as (id, name, arguments),
/// the finish event).
async fn drain(
    stream: &mut openpista::runtime::ChatStream,
) -> Result<
    (
        String,
        Vec<(String, String, String)>,
        Option<(FinishReason, Option<Usage>)>,
    ),
    CallError,
> {
    let mut text = String::new();
    let mut calls: Vec<(String, String, String)> = Vec::new();
    let mut end = None;
    while let Some(event) = stream.next().await? {
        match event {
            StreamEvent::Text(t) => text.push_str(&t),
            StreamEvent::ToolCall(d) => {
                let i = d.index as usize;
                if calls.len() <= i {
                    calls.resize(i + 1, Default::default());
                }
                if let Some(id) = d.id {
                    calls[i].0 = id;
                }
                if let Some(name) = d.name {
                    calls[i].1 = name;
                }
                calls[i].2.push_str(&d.arguments);
            }
            StreamEvent::Finished(e) => end = Some((e.finish_reason, e.usage)),
        }
    }
    Ok((text, calls, end))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamed_text_and_tool_use_are_reassembled() {
    let stream = StreamBuilder::new(31)
        .text(&["Let me ", "check ", "the time."])
        .tool_use(
            "toolu_S1",
            "time__now",
            &["{\"tz\"", ": \"Europe/", "Paris\"}"],
        )
        .tool_use("toolu_S2", "notes__add", &[])
        .finish("tool_use", 42);
    let double = AnthropicDouble::with_replies([stream]).await;
    let s = setup(&double).await;
    let mut stream = s
        .provider
        .stream_chat(&request(
            vec![msg(Role::System, "sys"), msg(Role::User, "time?")],
            vec![spec("time.now"), spec("notes.add")],
        ))
        .await
        .unwrap();
    let (text, calls, end) = drain(&mut stream).await.unwrap();
    assert_eq!(text, "Let me check the time.");
    assert_eq!(calls.len(), 2);
    assert_eq!(
        (calls[0].0.as_str(), calls[0].1.as_str()),
        ("toolu_S1", "time.now")
    );
    assert_eq!(args(&calls[0].2), json!({"tz": "Europe/Paris"}));
    assert_eq!(
        (calls[1].0.as_str(), calls[1].1.as_str()),
        ("toolu_S2", "notes.add")
    );
    assert_eq!(args(&calls[1].2), json!({}));
    let (reason, usage) = end.expect("a finished event");
    assert!(matches!(reason, FinishReason::ToolCalls));
    let usage = usage.expect("usage");
    assert_eq!((usage.input_tokens, usage.output_tokens), (31, 42));
    assert!(stream.next().await.unwrap().is_none());

    let r = &double.requests()[0];
    assert_eq!(r.body["stream"], true);
    assert_eq!(r.body["system"], "sys");
    assert_eq!(r.header("x-api-key"), Some(KEY));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_is_retried_after_the_wait_asked_for() {
    let double = AnthropicDouble::with_replies([
        Reply::rate_limited(1),
        Reply::Json(text_message("finally")),
    ])
    .await;
    let s = setup(&double).await;
    let started = Instant::now();
    let answer = s
        .provider
        .chat(&request(vec![msg(Role::User, "hi")], vec![]))
        .await
        .unwrap();
    assert_eq!(answer.message.content, "finally");
    assert!(started.elapsed() >= Duration::from_secs(1));
    let requests = double.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].status, 429);
    assert!(requests[1].at.duration_since(requests[0].at) >= Duration::from_secs(1));
    // The retry is the same request.
    assert_eq!(requests[0].body, requests[1].body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overloaded_is_retried_for_plain_and_streamed_answers() {
    let double = AnthropicDouble::with_replies([
        Reply::overloaded(),
        Reply::Json(text_message("after the storm")),
        Reply::overloaded(),
        StreamBuilder::new(3)
            .text(&["streamed ", "anyway"])
            .finish("end_turn", 2),
    ])
    .await;
    let s = setup(&double).await;
    let answer = s
        .provider
        .chat(&request(vec![msg(Role::User, "hi")], vec![]))
        .await
        .unwrap();
    assert_eq!(answer.message.content, "after the storm");

    let mut stream = s
        .provider
        .stream_chat(&request(vec![msg(Role::User, "hi")], vec![]))
        .await
        .unwrap();
    let (text, calls, end) = drain(&mut stream).await.unwrap();
    assert_eq!(text, "streamed anyway");
    assert!(calls.is_empty());
    assert!(matches!(end, Some((FinishReason::Stop, _))));

    let statuses: Vec<u16> = double.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [529, 200, 529, 200]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_key_names_anthropic_and_the_key() {
    let double = AnthropicDouble::with_replies([Reply::unauthorized()]).await;
    let s = setup(&double).await;
    let e = guest_error(
        s.provider
            .chat(&request(vec![msg(Role::User, "hi")], vec![]))
            .await
            .unwrap_err(),
    );
    let WitError::Unavailable(message) = &e else {
        panic!("expected unavailable, got {e:?}")
    };
    assert!(message.contains("Anthropic"), "{message}");
    assert!(message.contains("llm-anthropic"), "{message}");
    assert!(message.contains("API key"), "{message}");
    assert!(message.contains("invalid x-api-key"), "{message}");
    assert!(!message.contains(KEY), "the key never shows: {message}");
    // A wrong key is not retried.
    assert_eq!(double.requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_stream_is_a_clear_error() {
    let double = AnthropicDouble::with_replies([
        Reply::Raw(
            b"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":1}}}\n\n\
              event: content_block_delta\ndata: {this is not json\n\n"
                .to_vec(),
        ),
        Reply::Raw(b"<html><body>502 Bad Gateway</body></html>".to_vec()),
        StreamBuilder::new(1).text(&["cut "]).unfinished(),
        Reply::sse(&[(
            "error",
            json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
        )]),
    ])
    .await;
    let s = setup(&double).await;
    let req = request(vec![msg(Role::User, "hi")], vec![]);

    // Bad JSON in an event: named, quoted.
    let mut stream = s.provider.stream_chat(&req).await.unwrap();
    let e = guest_error(drain(&mut stream).await.unwrap_err());
    let WitError::Upstream(u) = &e else {
        panic!("expected upstream, got {e:?}")
    };
    assert!(u.message.contains("Anthropic"), "{}", u.message);
    assert!(u.message.contains("content_block_delta"), "{}", u.message);
    assert!(u.message.contains("{this is not json"), "{}", u.message);

    // No events at all: the start of the body is quoted.
    let mut stream = s.provider.stream_chat(&req).await.unwrap();
    let e = guest_error(drain(&mut stream).await.unwrap_err());
    assert!(
        matches!(&e, WitError::Upstream(u) if u.message.contains("502 Bad Gateway")),
        "{e:?}"
    );

    // A stream that ends before message_stop is incomplete, not a success.
    let mut stream = s.provider.stream_chat(&req).await.unwrap();
    let mut text = String::new();
    let e = loop {
        match stream.next().await {
            Ok(Some(StreamEvent::Text(t))) => text.push_str(&t),
            Ok(other) => panic!("unexpected {other:?}"),
            Err(e) => break guest_error(e),
        }
    };
    assert_eq!(text, "cut ");
    assert!(
        matches!(&e, WitError::Upstream(u) if u.message.contains("message_stop")),
        "{e:?}"
    );

    // An error event mid-stream.
    let mut stream = s.provider.stream_chat(&req).await.unwrap();
    let e = guest_error(drain(&mut stream).await.unwrap_err());
    assert!(
        matches!(&e, WitError::RateLimited(r) if r.message.contains("Overloaded")),
        "{e:?}"
    );
    assert_eq!(double.requests().len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_arguments_and_name_collisions_are_refused_before_sending() {
    let double = AnthropicDouble::start().await;
    let s = setup(&double).await;
    let bad_call = Message {
        tool_calls: vec![ToolCall {
            id: "toolu_X".into(),
            name: "time.now".into(),
            arguments: "{\"tz\": ".into(),
        }],
        ..msg(Role::Assistant, "")
    };
    let e = guest_error(
        s.provider
            .chat(&request(
                vec![msg(Role::User, "hi"), bad_call, tool_result("toolu_X", "?")],
                vec![spec("time.now")],
            ))
            .await
            .unwrap_err(),
    );
    assert!(
        matches!(&e, WitError::InvalidInput(m) if m.contains("toolu_X") && m.contains("time.now")),
        "{e:?}"
    );

    let e = guest_error(
        s.provider
            .chat(&request(
                vec![msg(Role::User, "hi")],
                vec![spec("time.now"), spec("time__now")],
            ))
            .await
            .unwrap_err(),
    );
    assert!(
        matches!(&e, WitError::InvalidInput(m) if m.contains("`time.now`") && m.contains("`time__now`")),
        "{e:?}"
    );
    assert!(double.requests().is_empty());
}
