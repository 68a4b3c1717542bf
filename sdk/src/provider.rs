//! The `provider` world: a language-model service behind the agent loop.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::marker::PhantomData;

use crate::bindings::provider::exports::openpista::plugin::llm;
use crate::{ChatRequest, ChatResponse, Error, ModelInfo, StreamEnd, StreamEvent, ToolCallDelta};

/// An answer being generated, event by event.
///
/// The host calls [`ChatStream::next`] until it returns `Ok(None)`. The last
/// event before that should be [`StreamEvent::Finished`]; the SDK returns
/// `None` by itself after a `Finished` event, so an implementation need not
/// remember that it ended.
pub trait ChatStream {
    /// The next event, waiting for the service as needed; `Ok(None)` when
    /// the answer is complete.
    fn next(&mut self) -> Result<Option<StreamEvent>, Error>;
}

/// A component that serves language models.
///
/// Implement it on a unit struct and export it with
/// [`export_provider!`](crate::export_provider). Speak the service's wire
/// format with [`http`](crate::http); its API key is a
/// `{{secret:NAME}}` placeholder in a header, which the host fills in.
///
/// ```no_run
/// use openpista_sdk::prelude::*;
///
/// struct Parrot;
///
/// impl Provider for Parrot {
///     fn models() -> Result<Vec<ModelInfo>, Error> {
///         Ok(vec![ModelInfo::new("parrot")])
///     }
///
///     fn chat(req: ChatRequest) -> Result<ChatResponse, Error> {
///         let last = req.messages.last().map(|m| m.content.clone()).unwrap_or_default();
///         Ok(ChatResponse::text(last))
///     }
/// }
///
/// openpista_sdk::export_provider!(Parrot);
/// ```
pub trait Provider {
    /// The models this provider offers with its current configuration.
    fn models() -> Result<Vec<ModelInfo>, Error>;

    /// Sends a request and waits for the whole answer.
    fn chat(req: ChatRequest) -> Result<ChatResponse, Error>;

    /// Sends a request and streams the answer.
    ///
    /// The default runs [`Provider::chat`] and replays its answer as events
    /// (see [`EventStream::from_response`]), so every provider streams,
    /// if only in one piece. Override it when the service streams.
    fn chat_stream(req: ChatRequest) -> Result<Box<dyn ChatStream>, Error> {
        Ok(Box::new(EventStream::from_response(Self::chat(req)?)))
    }
}

/// A [`ChatStream`] over events known in advance.
#[derive(Debug, Default)]
pub struct EventStream {
    events: VecDeque<StreamEvent>,
}

impl EventStream {
    /// A stream that yields `events` in order, then `None`.
    pub fn new(events: Vec<StreamEvent>) -> Self {
        EventStream {
            events: events.into(),
        }
    }

    /// A complete answer as a stream: its text (when there is any) as one
    /// [`StreamEvent::Text`], each tool call as one
    /// [`StreamEvent::ToolCall`] delta carrying its id, name and all its
    /// arguments (index = its position), then [`StreamEvent::Finished`]
    /// with the finish reason and usage.
    pub fn from_response(response: ChatResponse) -> Self {
        let ChatResponse {
            message,
            finish_reason,
            usage,
        } = response;
        let mut events = Vec::with_capacity(message.tool_calls.len() + 2);
        if !message.content.is_empty() {
            events.push(StreamEvent::Text(message.content));
        }
        for (index, call) in message.tool_calls.into_iter().enumerate() {
            events.push(StreamEvent::ToolCall(ToolCallDelta {
                index: index as u32,
                id: Some(call.id),
                name: Some(call.name),
                arguments: call.arguments,
            }));
        }
        events.push(StreamEvent::Finished(StreamEnd {
            finish_reason,
            usage,
        }));
        EventStream::new(events)
    }

    /// Appends an event.
    pub fn push(&mut self, event: StreamEvent) {
        self.events.push_back(event);
    }
}

impl From<Vec<StreamEvent>> for EventStream {
    fn from(events: Vec<StreamEvent>) -> Self {
        EventStream::new(events)
    }
}

impl ChatStream for EventStream {
    fn next(&mut self) -> Result<Option<StreamEvent>, Error> {
        Ok(self.events.pop_front())
    }
}

/// The `chat-stream` resource handed to the host: a boxed [`ChatStream`]
/// that answers `None` for good once it has finished.
#[doc(hidden)]
pub struct StreamResource {
    inner: RefCell<Option<Box<dyn ChatStream>>>,
}

impl StreamResource {
    fn new(stream: Box<dyn ChatStream>) -> Self {
        StreamResource {
            inner: RefCell::new(Some(stream)),
        }
    }

    /// One step of the stream, shared by the WIT glue and the tests.
    fn step(&self) -> Result<Option<StreamEvent>, Error> {
        let mut slot = self.inner.borrow_mut();
        let Some(stream) = slot.as_mut() else {
            return Ok(None);
        };
        let event = stream.next()?;
        if matches!(event, None | Some(StreamEvent::Finished(_))) {
            // Drop the inner stream (and whatever connection it holds) now.
            *slot = None;
        }
        Ok(event)
    }
}

impl llm::GuestChatStream for StreamResource {
    fn next(&self) -> Result<Option<StreamEvent>, Error> {
        self.step()
    }
}

/// Adapts a [`Provider`] to the generated `llm` interface; used by
/// [`export_provider!`](crate::export_provider).
#[doc(hidden)]
pub struct ProviderExport<T>(PhantomData<T>);

impl<T: Provider> llm::Guest for ProviderExport<T> {
    type ChatStream = StreamResource;

    fn models() -> Result<Vec<ModelInfo>, Error> {
        T::models()
    }

    fn chat(request: ChatRequest) -> Result<ChatResponse, Error> {
        T::chat(request)
    }

    fn stream_chat(request: ChatRequest) -> Result<llm::ChatStream, Error> {
        let stream = T::chat_stream(request)?;
        Ok(llm::ChatStream::new(StreamResource::new(stream)))
    }
}

/// Exports a [`Provider`] implementation as this component's `llm`
/// interface.
///
/// Use it once, at the crate root of a `cdylib` crate:
/// `openpista_sdk::export_provider!(MyProvider);`
#[macro_export]
macro_rules! export_provider {
    ($component:ty) => {
        const _: () = {
            type __OpenpistaProviderExport = $crate::provider::ProviderExport<$component>;
            $crate::bindings::provider::export!(
                __OpenpistaProviderExport with_types_in $crate::bindings::provider
            );
        };
    };
}

/// Sends a model-list request (`models = "listed"`) and returns the body
/// of a successful answer; any other answer is an error naming the
/// provider and the status, with the start of what the service said.
pub fn fetch_model_list(provider: &str, request: crate::http::Request) -> Result<String, Error> {
    let response = request.send()?;
    let text = response.text();
    if !response.is_success() {
        return Err(Error::upstream(
            Some(response.status),
            format!(
                "{provider}: listing the models failed (HTTP {}): {}",
                response.status,
                text.chars().take(200).collect::<String>()
            ),
        ));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FinishReason, Message, ToolCall, Usage};

    struct Fixed;

    impl Provider for Fixed {
        fn models() -> Result<Vec<ModelInfo>, Error> {
            Ok(vec![ModelInfo::new("fixed")])
        }

        fn chat(req: ChatRequest) -> Result<ChatResponse, Error> {
            let calls = if req.tools.is_empty() {
                Vec::new()
            } else {
                vec![
                    ToolCall::new("c1", "time.now", "{}"),
                    ToolCall::new("c2", "text.stats", r#"{"text":"a b"}"#),
                ]
            };
            Ok(ChatResponse {
                message: Message::assistant_tool_calls("thinking", calls),
                finish_reason: FinishReason::ToolCalls,
                usage: Some(Usage::new(3, 4)),
            })
        }
    }

    fn request(with_tools: bool) -> ChatRequest {
        ChatRequest {
            model: None,
            messages: vec![Message::user("hi")],
            tools: if with_tools {
                vec![crate::ToolSpec::new(
                    "time.now",
                    "now",
                    serde_json::json!({}),
                )]
            } else {
                Vec::new()
            },
            temperature: None,
            max_tokens: None,
        }
    }

    fn drain(resource: &StreamResource) -> Vec<StreamEvent> {
        let mut out = Vec::new();
        while let Some(event) = resource.step().unwrap() {
            out.push(event);
        }
        out
    }

    #[test]
    fn default_stream_replays_text_tool_calls_then_finished() {
        let resource = StreamResource::new(Fixed::chat_stream(request(true)).unwrap());
        let events = drain(&resource);
        assert_eq!(
            events,
            vec![
                StreamEvent::Text("thinking".into()),
                StreamEvent::ToolCall(ToolCallDelta {
                    index: 0,
                    id: Some("c1".into()),
                    name: Some("time.now".into()),
                    arguments: "{}".into(),
                }),
                StreamEvent::ToolCall(ToolCallDelta {
                    index: 1,
                    id: Some("c2".into()),
                    name: Some("text.stats".into()),
                    arguments: r#"{"text":"a b"}"#.into(),
                }),
                StreamEvent::Finished(StreamEnd {
                    finish_reason: FinishReason::ToolCalls,
                    usage: Some(Usage::new(3, 4)),
                }),
            ]
        );
        // Ended for good.
        assert_eq!(resource.step().unwrap(), None);
    }

    #[test]
    fn empty_text_is_not_an_event() {
        let stream = EventStream::from_response(ChatResponse::new(
            Message::assistant(""),
            FinishReason::Stop,
        ));
        let events = drain(&StreamResource::new(Box::new(stream)));
        assert_eq!(
            events,
            vec![StreamEvent::Finished(StreamEnd {
                finish_reason: FinishReason::Stop,
                usage: None,
            })]
        );
    }

    #[test]
    fn nothing_follows_finished() {
        let stream = EventStream::new(vec![
            StreamEvent::Text("a".into()),
            StreamEvent::Finished(StreamEnd {
                finish_reason: FinishReason::Stop,
                usage: None,
            }),
            StreamEvent::Text("ignored".into()),
        ]);
        let events = drain(&StreamResource::new(Box::new(stream)));
        assert_eq!(events.len(), 2);
    }

    #[test]
    fn errors_pass_through() {
        struct Failing;
        impl ChatStream for Failing {
            fn next(&mut self) -> Result<Option<StreamEvent>, Error> {
                Err(Error::timeout("slow"))
            }
        }
        let resource = StreamResource::new(Box::new(Failing));
        assert_eq!(resource.step(), Err(Error::timeout("slow")));
    }
}
