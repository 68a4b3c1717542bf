//! Streamed answers: `data:` chunks of `chat.completion.chunk` objects,
//! ending with `data: [DONE]`.

use std::collections::VecDeque;

use openpista_sdk::openai_compat;
use openpista_sdk::openai_compat::stream::event_json;
use openpista_sdk::openai_compat::wire::arguments_text;
use openpista_sdk::prelude::*;
use openpista_sdk::serde_json::Value;
use openpista_sdk::sse::SseEvent;
use openpista_sdk::tool_names::ToolNames;

use crate::PROVIDER;
use crate::wire::{embedded_error, finish_reason, usage};

/// The events of a stream so far, from its chunks; no I/O.
#[derive(Debug, Default)]
pub struct StreamState {
    names: ToolNames,
    pending: VecDeque<StreamEvent>,
    finish: Option<FinishReason>,
    usage: Option<Usage>,
    saw_tool_calls: bool,
    done: bool,
}

impl StreamState {
    /// A stream whose tool names map back through `names`.
    pub fn new(names: ToolNames) -> Self {
        StreamState {
            names,
            ..StreamState::default()
        }
    }

    fn complete(&mut self) {
        let mut reason = self.finish.unwrap_or(if self.saw_tool_calls {
            FinishReason::ToolCalls
        } else {
            FinishReason::Stop
        });
        if self.saw_tool_calls && matches!(reason, FinishReason::Stop | FinishReason::Other) {
            reason = FinishReason::ToolCalls;
        }
        self.pending.push_back(StreamEvent::Finished(StreamEnd {
            finish_reason: reason,
            usage: self.usage,
        }));
        self.done = true;
    }
}

impl openai_compat::StreamState for StreamState {
    /// Handles one server-sent event.
    fn on_event(&mut self, event: &SseEvent) -> Result<(), Error> {
        if self.done {
            return Ok(());
        }
        let data = event.data.trim();
        if data.is_empty() {
            return Ok(());
        }
        if data == "[DONE]" {
            self.complete();
            return Ok(());
        }
        let chunk = event_json(PROVIDER, data)?;
        if let Some(error) = embedded_error(&chunk) {
            return Err(error);
        }
        if let Some(u) = usage(&chunk) {
            self.usage = Some(u);
        }
        let Some(choice) = chunk
            .get("choices")
            .and_then(Value::as_array)
            .and_then(|c| c.first())
        else {
            // The usage-only chunk, or a keep-alive.
            return Ok(());
        };
        let delta = choice.get("delta").cloned().unwrap_or(Value::Null);
        if let Some(text) = delta.get("content").and_then(Value::as_str)
            && !text.is_empty()
        {
            self.pending.push_back(StreamEvent::Text(text.to_string()));
        }
        if let Some(calls) = delta.get("tool_calls").and_then(Value::as_array) {
            for (position, call) in calls.iter().enumerate() {
                self.saw_tool_calls = true;
                let index = call
                    .get("index")
                    .and_then(Value::as_u64)
                    .and_then(|i| u32::try_from(i).ok())
                    .unwrap_or(position as u32);
                let function = call.get("function").cloned().unwrap_or(Value::Null);
                let id = call
                    .get("id")
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string);
                let name = function
                    .get("name")
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                    .map(|n| self.names.from_wire(n));
                let arguments = arguments_text(function.get("arguments"));
                if id.is_none() && name.is_none() && arguments.is_empty() {
                    continue;
                }
                self.pending.push_back(StreamEvent::ToolCall(ToolCallDelta {
                    index,
                    id,
                    name,
                    arguments,
                }));
            }
        }
        if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
            self.finish = Some(finish_reason(Some(reason)));
        }
        Ok(())
    }

    /// The body ended. Without `[DONE]` the answer still counts as complete
    /// when the service had said why it stopped; otherwise the stream broke
    /// off.
    fn on_end(&mut self) -> Result<(), Error> {
        if self.done {
            return Ok(());
        }
        if self.finish.is_some() {
            self.complete();
            return Ok(());
        }
        Err(Error::upstream(
            None,
            format!("{PROVIDER}: the stream ended before the answer was complete (no [DONE])"),
        ))
    }

    /// The next queued event.
    fn pop(&mut self) -> Option<StreamEvent> {
        self.pending.pop_front()
    }

    /// Whether the answer is complete (the `Finished` event is queued).
    fn is_done(&self) -> bool {
        self.done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openpista_sdk::openai_compat::StreamState as _;
    use openpista_sdk::openai_compat::stream::feed;

    fn sse(chunks: &[Value]) -> String {
        chunks.iter().map(|c| format!("data: {c}\n\n")).collect()
    }

    #[test]
    fn text_deltas_then_usage_then_done() {
        let mut s = StreamState::new(ToolNames::default());
        let text = sse(&[
            json!({"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}),
            json!({"choices": [{"index": 0, "delta": {"content": "Hel"}}]}),
            json!({"choices": [{"index": 0, "delta": {"content": "lo"}}]}),
            json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
            json!({"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 2}}),
        ]) + "data: [DONE]\n\n";
        let events = feed(&mut s, &text).unwrap();
        assert_eq!(
            events,
            vec![
                StreamEvent::Text("Hel".into()),
                StreamEvent::Text("lo".into()),
                StreamEvent::Finished(StreamEnd {
                    finish_reason: FinishReason::Stop,
                    usage: Some(Usage::new(5, 2)),
                }),
            ]
        );
        assert!(s.is_done());
        // Anything after the end is ignored.
        assert!(feed(&mut s, "data: not json\n\n").unwrap().is_empty());
    }

    #[test]
    fn tool_call_deltas_keep_index_id_name_and_fragments() {
        let names = ToolNames::from_names(["time.now", "text.stats"]).unwrap();
        let mut s = StreamState::new(names);
        let text = sse(&[
            json!({"choices": [{"index": 0, "delta": {"role": "assistant", "content": null, "tool_calls": [
                {"index": 0, "id": "call_1", "type": "function", "function": {"name": "time__now", "arguments": ""}}]}}]}),
            json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "{\"tz\""}}]}}]}),
            json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": ":\"UTC\"}"}}]}}]}),
            json!({"choices": [{"index": 0, "delta": {"tool_calls": [
                {"index": 1, "id": "call_2", "type": "function", "function": {"name": "text__stats", "arguments": "{}"}}]}}]}),
            json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}),
        ]) + "data: [DONE]\n\n";
        let events = feed(&mut s, &text).unwrap();
        let delta = |index, id: Option<&str>, name: Option<&str>, args: &str| {
            StreamEvent::ToolCall(ToolCallDelta {
                index,
                id: id.map(str::to_string),
                name: name.map(str::to_string),
                arguments: args.into(),
            })
        };
        assert_eq!(
            events,
            vec![
                delta(0, Some("call_1"), Some("time.now"), ""),
                delta(0, None, None, "{\"tz\""),
                delta(0, None, None, ":\"UTC\"}"),
                delta(1, Some("call_2"), Some("text.stats"), "{}"),
                StreamEvent::Finished(StreamEnd {
                    finish_reason: FinishReason::ToolCalls,
                    usage: None,
                }),
            ]
        );
    }

    #[test]
    fn malformed_chunks_are_named() {
        let mut s = StreamState::new(ToolNames::default());
        let e = feed(&mut s, "data: {\"choices\": [oops\n\n").unwrap_err();
        let Error::Upstream(u) = &e else {
            panic!("{e:?}")
        };
        assert!(
            u.message
                .starts_with("llm-openai: the stream sent an event that is not valid JSON")
        );
        assert!(u.message.ends_with("{\"choices\": [oops"), "{}", u.message);
        // Long text is cut.
        let mut s = StreamState::new(ToolNames::default());
        let long = format!("data: {}\n\n", "x".repeat(1000));
        let e = feed(&mut s, &long).unwrap_err();
        assert!(e.message().len() < 400 && e.message().ends_with("..."));
    }

    #[test]
    fn errors_inside_the_stream() {
        let mut s = StreamState::new(ToolNames::default());
        let e = feed(
            &mut s,
            "data: {\"error\": {\"message\": \"overloaded\", \"type\": \"server_error\"}}\n\n",
        )
        .unwrap_err();
        assert!(matches!(&e, Error::Upstream(u) if u.message.contains("overloaded")));
    }

    #[test]
    fn ending_without_done() {
        let mut s = StreamState::new(ToolNames::default());
        feed(
            &mut s,
            "data: {\"choices\": [{\"delta\": {\"content\": \"a\"}}]}\n\n",
        )
        .unwrap();
        let e = s.on_end().unwrap_err();
        assert!(matches!(&e, Error::Upstream(u) if u.message.contains("ended before")));

        let mut s = StreamState::new(ToolNames::default());
        feed(
            &mut s,
            "data: {\"choices\": [{\"delta\": {\"content\": \"a\"}, \"finish_reason\": \"length\"}]}\n\n",
        )
        .unwrap();
        s.on_end().unwrap();
        assert_eq!(
            s.pop(),
            Some(StreamEvent::Finished(StreamEnd {
                finish_reason: FinishReason::Length,
                usage: None
            }))
        );
    }

    #[test]
    fn comments_and_blank_data_are_skipped() {
        let mut s = StreamState::new(ToolNames::default());
        let events = feed(
            &mut s,
            ": OPENROUTER PROCESSING\n\ndata: \n\ndata: [DONE]\n\n",
        )
        .unwrap();
        assert_eq!(
            events,
            vec![StreamEvent::Finished(StreamEnd {
                finish_reason: FinishReason::Stop,
                usage: None
            })]
        );
    }
}
