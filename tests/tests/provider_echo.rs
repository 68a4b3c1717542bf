//! The provider call path (models, chat, stream_chat) through the embedded
//! offline echo provider.

use openpista::runtime::bindings::{ChatRequest, FinishReason, Message, Role, StreamEvent};
use openpista::runtime::{Runtime, RuntimeConfig};

fn user(text: &str) -> Message {
    Message {
        role: Role::User,
        content: text.into(),
        tool_calls: Vec::new(),
        tool_call_id: None,
        attachments: Vec::new(),
    }
}

fn request(text: &str) -> ChatRequest {
    ChatRequest {
        model: None,
        messages: vec![user(text)],
        tools: Vec::new(),
        temperature: None,
        max_tokens: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_provider_chats_and_streams() {
    let root = tempfile::tempdir().unwrap();
    let rt = Runtime::new(RuntimeConfig {
        cache_dir: Some(root.path().join("cache")),
        ..RuntimeConfig::default()
    })
    .unwrap();
    assert!(rt.load_all().await.is_empty());
    let echo = rt.get("llm-echo").unwrap();

    let models = echo.models().await.unwrap();
    assert_eq!(models[0].id, "echo");

    let answer = echo.chat(&request("hello there")).await.unwrap();
    assert_eq!(answer.message.content, "echo: hello there");
    assert!(matches!(answer.finish_reason, FinishReason::Stop));

    let answer = echo
        .chat(&request(r#"/tool time.now {"offset_minutes": 60}"#))
        .await
        .unwrap();
    assert!(matches!(answer.finish_reason, FinishReason::ToolCalls));
    assert_eq!(answer.message.tool_calls[0].name, "time.now");

    let mut stream = echo.stream_chat(&request("one two three")).await.unwrap();
    let mut text = String::new();
    let mut finished = false;
    while let Some(event) = stream.next().await.unwrap() {
        match event {
            StreamEvent::Text(t) => text.push_str(&t),
            StreamEvent::Finished(end) => {
                finished = true;
                assert!(end.usage.is_some());
            }
            StreamEvent::ToolCall(_) => panic!("no tool call expected"),
        }
    }
    assert!(finished);
    assert_eq!(text, "echo: one two three");
    // A drained stream stays drained.
    assert!(stream.next().await.unwrap().is_none());

    // The tool world's calls are refused on a provider, clearly.
    let err = echo
        .invoke("x", "{}", &openpista_tests::ctx("c"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("llm-echo is a provider"), "{err}");
}
