//! Streamed answers: typed server-sent events (`response.output_text.delta`,
//! `response.function_call_arguments.delta`, `response.completed`...).

use std::collections::VecDeque;

use openpista_sdk::openai_compat;
use openpista_sdk::openai_compat::stream::event_json;
use openpista_sdk::openai_compat::wire::service_error;
use openpista_sdk::prelude::*;
use openpista_sdk::serde_json::Value;
use openpista_sdk::sse::SseEvent;
use openpista_sdk::tool_names::ToolNames;

use crate::PROVIDER;
use crate::wire::{finish_reason, output, usage};

/// A function call seen in the stream.
#[derive(Debug)]
struct Call {
    /// `output_index` of its item.
    output_index: Option<u64>,
    /// The item's `id` (`fc_...`), which argument deltas name.
    item_id: Option<String>,
    /// The `call_id` a tool result must name.
    call_id: String,
    /// Whether any argument text went out already.
    sent_arguments: bool,
}

/// The events of a stream so far; no I/O.
#[derive(Debug, Default)]
pub struct StreamState {
    names: ToolNames,
    pending: VecDeque<StreamEvent>,
    calls: Vec<Call>,
    sent_text: bool,
    refused: bool,
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

    /// The position of the call an event names by `output_index` or
    /// `item_id`.
    fn find(&self, data: &Value) -> Option<usize> {
        let output_index = data.get("output_index").and_then(Value::as_u64);
        let item_id = data
            .get("item_id")
            .or_else(|| data.pointer("/item/id"))
            .and_then(Value::as_str);
        self.calls.iter().position(|c| {
            (item_id.is_some() && c.item_id.as_deref() == item_id)
                || (output_index.is_some() && c.output_index == output_index)
        })
    }

    /// Registers a function-call item (once) and sends its first delta.
    fn add_call(&mut self, data: &Value, item: &Value) -> usize {
        if let Some(i) = self.find(data) {
            return i;
        }
        let call_id = item
            .get("call_id")
            .or_else(|| item.get("id"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let name = item
            .get("name")
            .and_then(Value::as_str)
            .map(|n| self.names.from_wire(n));
        let arguments = item
            .get("arguments")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let index = self.calls.len();
        self.calls.push(Call {
            output_index: data.get("output_index").and_then(Value::as_u64),
            item_id: item.get("id").and_then(Value::as_str).map(str::to_string),
            call_id: call_id.clone(),
            sent_arguments: !arguments.is_empty(),
        });
        self.pending.push_back(StreamEvent::ToolCall(ToolCallDelta {
            index: index as u32,
            id: Some(call_id),
            name,
            arguments,
        }));
        index
    }

    fn arguments(&mut self, index: usize, text: &str) {
        if text.is_empty() {
            return;
        }
        self.calls[index].sent_arguments = true;
        self.pending.push_back(StreamEvent::ToolCall(ToolCallDelta {
            index: index as u32,
            id: None,
            name: None,
            arguments: text.to_string(),
        }));
    }

    /// Emits what the final response object holds but the deltas did not
    /// carry (a server that sends only the final object, say).
    fn catch_up(&mut self, response: &Value) {
        let (text, calls, refused) = output(response, &self.names);
        self.refused |= refused;
        if !self.sent_text && !text.is_empty() {
            self.sent_text = true;
            self.pending.push_back(StreamEvent::Text(text));
        }
        for call in calls {
            if self.calls.iter().any(|c| c.call_id == call.id) {
                continue;
            }
            let index = self.calls.len();
            self.calls.push(Call {
                output_index: None,
                item_id: None,
                call_id: call.id.clone(),
                sent_arguments: true,
            });
            self.pending.push_back(StreamEvent::ToolCall(ToolCallDelta {
                index: index as u32,
                id: Some(call.id),
                name: Some(call.name),
                arguments: call.arguments,
            }));
        }
    }
}

impl openai_compat::StreamState for StreamState {
    /// Handles one server-sent event.
    fn on_event(&mut self, event: &SseEvent) -> Result<(), Error> {
        if self.done {
            return Ok(());
        }
        let text = event.data.trim();
        if text.is_empty() || text == "[DONE]" {
            return Ok(());
        }
        let data = event_json(PROVIDER, text)?;
        let kind = data
            .get("type")
            .and_then(Value::as_str)
            .or(event.event.as_deref())
            .unwrap_or("")
            .to_string();
        match kind.as_str() {
            "response.output_text.delta" | "response.refusal.delta" => {
                if kind == "response.refusal.delta" {
                    self.refused = true;
                }
                if let Some(delta) = data.get("delta").and_then(Value::as_str)
                    && !delta.is_empty()
                {
                    self.sent_text = true;
                    self.pending.push_back(StreamEvent::Text(delta.to_string()));
                }
            }
            "response.output_item.added" | "response.output_item.done" => {
                let item = data.get("item").cloned().unwrap_or(Value::Null);
                if item.get("type").and_then(Value::as_str) == Some("function_call") {
                    let known = self.find(&data).is_some();
                    let index = self.add_call(&data, &item);
                    // A finished item whose arguments never streamed.
                    if known
                        && kind == "response.output_item.done"
                        && !self.calls[index].sent_arguments
                    {
                        let args = item.get("arguments").and_then(Value::as_str).unwrap_or("");
                        self.arguments(index, args);
                    }
                }
            }
            "response.function_call_arguments.delta" => {
                let delta = data.get("delta").and_then(Value::as_str).unwrap_or("");
                let index = match self.find(&data) {
                    Some(i) => i,
                    // A delta before its item: register it by what it names.
                    None => self.add_call(&data, &Value::Null),
                };
                self.arguments(index, delta);
            }
            "response.function_call_arguments.done" => {
                if let Some(index) = self.find(&data)
                    && !self.calls[index].sent_arguments
                {
                    let args = data.get("arguments").and_then(Value::as_str).unwrap_or("");
                    self.arguments(index, args);
                }
            }
            "response.completed" | "response.incomplete" => {
                let response = data.get("response").cloned().unwrap_or(Value::Null);
                self.catch_up(&response);
                let mut reason = finish_reason(&response, !self.calls.is_empty());
                if self.refused && reason == FinishReason::Stop {
                    reason = FinishReason::ContentFilter;
                }
                self.pending.push_back(StreamEvent::Finished(StreamEnd {
                    finish_reason: reason,
                    usage: usage(&response),
                }));
                self.done = true;
            }
            "response.failed" => {
                let error = data
                    .pointer("/response/error")
                    .cloned()
                    .filter(|e| !e.is_null())
                    .unwrap_or_else(|| json!({ "message": "no reason given" }));
                return Err(service_error(PROVIDER, &error, "the response failed"));
            }
            "error" => {
                let error = data.get("error").cloned().unwrap_or(data);
                return Err(service_error(
                    PROVIDER,
                    &error,
                    "the service reported an error",
                ));
            }
            // response.created, response.in_progress, content_part events,
            // reasoning summaries...: nothing for the conversation.
            _ => {}
        }
        Ok(())
    }

    /// The body ended; without `response.completed` the stream broke off.
    fn on_end(&mut self) -> Result<(), Error> {
        if self.done {
            return Ok(());
        }
        Err(Error::upstream(
            None,
            format!(
                "{PROVIDER}: the stream ended before the answer was complete \
                 (no response.completed event)"
            ),
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

    /// Typed events as the service frames them: `event:` + `data:`.
    fn sse(events: &[Value]) -> String {
        events
            .iter()
            .map(|e| format!("event: {}\ndata: {e}\n\n", e["type"].as_str().unwrap()))
            .collect()
    }

    fn delta(index: u32, id: Option<&str>, name: Option<&str>, args: &str) -> StreamEvent {
        StreamEvent::ToolCall(ToolCallDelta {
            index,
            id: id.map(str::to_string),
            name: name.map(str::to_string),
            arguments: args.into(),
        })
    }

    #[test]
    fn text_stream() {
        let mut s = StreamState::new(ToolNames::default());
        let text = sse(&[
            json!({"type": "response.created", "response": {"id": "resp_1", "status": "in_progress"}}),
            json!({"type": "response.output_item.added", "output_index": 0, "item": {"type": "message", "id": "msg_1", "role": "assistant", "content": []}}),
            json!({"type": "response.output_text.delta", "item_id": "msg_1", "output_index": 0, "content_index": 0, "delta": "Hel"}),
            json!({"type": "response.output_text.delta", "item_id": "msg_1", "output_index": 0, "content_index": 0, "delta": "lo"}),
            json!({"type": "response.output_text.done", "item_id": "msg_1", "output_index": 0, "content_index": 0, "text": "Hello"}),
            json!({"type": "response.completed", "response": {"id": "resp_1", "status": "completed",
                "output": [{"type": "message", "content": [{"type": "output_text", "text": "Hello"}]}],
                "usage": {"input_tokens": 4, "output_tokens": 2}}}),
        ]);
        assert_eq!(
            feed(&mut s, &text).unwrap(),
            vec![
                StreamEvent::Text("Hel".into()),
                StreamEvent::Text("lo".into()),
                StreamEvent::Finished(StreamEnd {
                    finish_reason: FinishReason::Stop,
                    usage: Some(Usage::new(4, 2)),
                }),
            ]
        );
        assert!(s.is_done());
    }

    #[test]
    fn function_call_stream() {
        let names = ToolNames::from_names(["time.now", "text.stats"]).unwrap();
        let mut s = StreamState::new(names);
        let text = sse(&[
            json!({"type": "response.output_item.added", "output_index": 0, "item": {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "time__now", "arguments": "", "status": "in_progress"}}),
            json!({"type": "response.function_call_arguments.delta", "item_id": "fc_1", "output_index": 0, "delta": "{\"tz\""}),
            json!({"type": "response.function_call_arguments.delta", "item_id": "fc_1", "output_index": 0, "delta": ":\"UTC\"}"}),
            json!({"type": "response.function_call_arguments.done", "item_id": "fc_1", "output_index": 0, "arguments": "{\"tz\":\"UTC\"}"}),
            json!({"type": "response.output_item.done", "output_index": 0, "item": {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "time__now", "arguments": "{\"tz\":\"UTC\"}", "status": "completed"}}),
            json!({"type": "response.output_item.added", "output_index": 1, "item": {"type": "function_call", "id": "fc_2", "call_id": "call_2", "name": "text__stats", "arguments": ""}}),
            // No deltas for this one: the arguments come with `done`.
            json!({"type": "response.function_call_arguments.done", "item_id": "fc_2", "output_index": 1, "arguments": "{}"}),
            json!({"type": "response.completed", "response": {"status": "completed", "output": [
                {"type": "function_call", "call_id": "call_1", "name": "time__now", "arguments": "{\"tz\":\"UTC\"}"},
                {"type": "function_call", "call_id": "call_2", "name": "text__stats", "arguments": "{}"}],
                "usage": {"input_tokens": 10, "output_tokens": 5}}}),
        ]);
        assert_eq!(
            feed(&mut s, &text).unwrap(),
            vec![
                delta(0, Some("call_1"), Some("time.now"), ""),
                delta(0, None, None, "{\"tz\""),
                delta(0, None, None, ":\"UTC\"}"),
                delta(1, Some("call_2"), Some("text.stats"), ""),
                delta(1, None, None, "{}"),
                StreamEvent::Finished(StreamEnd {
                    finish_reason: FinishReason::ToolCalls,
                    usage: Some(Usage::new(10, 5)),
                }),
            ]
        );
    }

    #[test]
    fn completed_alone_still_carries_the_answer() {
        let mut s = StreamState::new(ToolNames::from_names(["a.b"]).unwrap());
        let text = sse(&[
            json!({"type": "response.completed", "response": {"status": "completed", "output": [
            {"type": "message", "content": [{"type": "output_text", "text": "hi"}]},
            {"type": "function_call", "call_id": "c1", "name": "a__b", "arguments": "{}"}]}}),
        ]);
        assert_eq!(
            feed(&mut s, &text).unwrap(),
            vec![
                StreamEvent::Text("hi".into()),
                delta(0, Some("c1"), Some("a.b"), "{}"),
                StreamEvent::Finished(StreamEnd {
                    finish_reason: FinishReason::ToolCalls,
                    usage: None,
                }),
            ]
        );
    }

    #[test]
    fn incomplete_and_failed() {
        let mut s = StreamState::new(ToolNames::default());
        let text = sse(&[
            json!({"type": "response.output_text.delta", "delta": "cut"}),
            json!({"type": "response.incomplete", "response": {"status": "incomplete", "incomplete_details": {"reason": "max_output_tokens"}}}),
        ]);
        let events = feed(&mut s, &text).unwrap();
        assert_eq!(
            events.last(),
            Some(&StreamEvent::Finished(StreamEnd {
                finish_reason: FinishReason::Length,
                usage: None
            }))
        );

        let mut s = StreamState::new(ToolNames::default());
        let text = sse(&[
            json!({"type": "response.failed", "response": {"status": "failed",
            "error": {"code": "server_error", "message": "The model crashed"}}}),
        ]);
        assert_eq!(
            feed(&mut s, &text).unwrap_err(),
            Error::upstream(
                None,
                "llm-responses: the response failed (server_error): The model crashed"
            )
        );

        let mut s = StreamState::new(ToolNames::default());
        let text = sse(&[
            json!({"type": "error", "code": "rate_limit_exceeded", "message": "Too many", "param": null}),
        ]);
        assert!(
            matches!(feed(&mut s, &text).unwrap_err(), Error::RateLimited(r) if r.message.contains("Too many"))
        );

        let mut s = StreamState::new(ToolNames::default());
        let text = sse(&[json!({"type": "error", "code": "invalid_prompt", "message": "bad"})]);
        assert!(
            matches!(feed(&mut s, &text).unwrap_err(), Error::Upstream(u) if u.message.contains("invalid_prompt") && u.message.contains("bad"))
        );
    }

    #[test]
    fn malformed_and_truncated_streams() {
        let mut s = StreamState::new(ToolNames::default());
        let e = feed(
            &mut s,
            "event: response.output_text.delta\ndata: {\"delta\": nope}\n\n",
        )
        .unwrap_err();
        assert!(
            matches!(&e, Error::Upstream(u) if u.message.contains("llm-responses") && u.message.contains("{\"delta\": nope}"))
        );

        let mut s = StreamState::new(ToolNames::default());
        feed(
            &mut s,
            &sse(&[json!({"type": "response.output_text.delta", "delta": "a"})]),
        )
        .unwrap();
        assert!(
            matches!(s.on_end(), Err(Error::Upstream(u)) if u.message.contains("ended before"))
        );
    }

    #[test]
    fn type_can_come_from_the_event_line() {
        let mut s = StreamState::new(ToolNames::default());
        let events = feed(
            &mut s,
            "event: response.output_text.delta\ndata: {\"delta\": \"x\"}\n\n",
        )
        .unwrap();
        assert_eq!(events, vec![StreamEvent::Text("x".into())]);
    }
}
