//! Streamed answers: the Messages API's server-sent events → openpista's
//! stream events.
//!
//! | event | what we do |
//! | --- | --- |
//! | `message_start` | note the input tokens |
//! | `content_block_start` | `text`: its text, if any; `tool_use`: a tool-call delta with index, id and original name |
//! | `content_block_delta` | `text_delta` → text; `input_json_delta` → tool-call arguments |
//! | `content_block_stop` | a tool call that got no arguments gets `{}` |
//! | `message_delta` | note the stop reason and the output tokens |
//! | `message_stop` | `finished` |
//! | `ping`, unknown events, thinking | ignored |
//! | `error` | [`Error::RateLimited`] when overloaded, else [`Error::Upstream`] |
//!
//! Tool-call deltas are numbered 0, 1, ... in the order the calls start
//! (Anthropic's block index also counts text blocks).

use std::collections::{HashMap, VecDeque};

use openpista_sdk::http::StreamingResponse;
use openpista_sdk::serde_json::{self, Value};
use openpista_sdk::sse::{SseEvent, SseParser};
use openpista_sdk::{ChatStream, Error, StreamEnd, StreamEvent, ToolCallDelta, Usage};

use crate::PROVIDER;
use crate::response::{finish_reason, input_tokens, output_tokens, service_error};
use openpista_sdk::tool_names::ToolNames;

/// How much of a bad event or body an error message quotes.
const QUOTE: usize = 200;

/// A content block being streamed.
#[derive(Debug)]
enum Block {
    Tool {
        /// The call's position among the answer's tool calls.
        ordinal: u32,
        /// Whether any argument text was passed on.
        sent_arguments: bool,
        /// `input` as `content_block_start` gave it (normally `{}`).
        initial: Value,
    },
    Other,
}

/// The state of one streamed answer, fed event by event.
#[derive(Debug)]
pub struct StreamState {
    names: ToolNames,
    blocks: HashMap<u64, Block>,
    tool_calls: u32,
    input_tokens: Option<u32>,
    output_tokens: Option<u32>,
    stop_reason: Option<String>,
    finished: bool,
}

impl StreamState {
    /// A stream whose tool names map back through `names`.
    pub fn new(names: ToolNames) -> Self {
        StreamState {
            names,
            blocks: HashMap::new(),
            tool_calls: 0,
            input_tokens: None,
            output_tokens: None,
            stop_reason: None,
            finished: false,
        }
    }

    /// Whether `message_stop` arrived.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Handles one event; returns the stream events it produced.
    pub fn handle(&mut self, event: &SseEvent) -> Result<Vec<StreamEvent>, Error> {
        let name = event.event.as_deref().unwrap_or("");
        if name == "ping" || (event.data.trim().is_empty() && name != "error") {
            return Ok(Vec::new());
        }
        let data: Value = serde_json::from_str(&event.data).map_err(|e| {
            let what = if name.is_empty() {
                "a stream event".to_string()
            } else {
                format!("a malformed `{name}` event")
            };
            Error::upstream(
                None,
                format!(
                    "{PROVIDER}: Anthropic sent {what} that is not valid JSON ({e}): {}",
                    crate::snippet(&event.data, QUOTE)
                ),
            )
        })?;
        // The payload's `type` is authoritative; the SSE name is a copy.
        let kind = data
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or(name)
            .to_string();
        let mut out = Vec::new();
        match kind.as_str() {
            "message_start" => {
                if let Some(usage) = data.pointer("/message/usage") {
                    self.note_usage(usage);
                }
            }
            "content_block_start" => {
                let index = block_index(&data, &kind)?;
                let block = data.get("content_block").unwrap_or(&Value::Null);
                match block.get("type").and_then(Value::as_str) {
                    Some("text") => {
                        if let Some(text) = block.get("text").and_then(Value::as_str)
                            && !text.is_empty()
                        {
                            out.push(StreamEvent::Text(text.to_string()));
                        }
                        self.blocks.insert(index, Block::Other);
                    }
                    Some("tool_use") => {
                        let ordinal = self.tool_calls;
                        self.tool_calls += 1;
                        let id = block.get("id").and_then(Value::as_str).map(str::to_string);
                        let name = block
                            .get("name")
                            .and_then(Value::as_str)
                            .map(|n| self.names.from_wire(n));
                        out.push(StreamEvent::ToolCall(ToolCallDelta {
                            index: ordinal,
                            id,
                            name,
                            arguments: String::new(),
                        }));
                        self.blocks.insert(
                            index,
                            Block::Tool {
                                ordinal,
                                sent_arguments: false,
                                initial: block.get("input").cloned().unwrap_or(Value::Null),
                            },
                        );
                    }
                    _ => {
                        self.blocks.insert(index, Block::Other);
                    }
                }
            }
            "content_block_delta" => {
                let index = block_index(&data, &kind)?;
                let delta = data.get("delta").unwrap_or(&Value::Null);
                match delta.get("type").and_then(Value::as_str) {
                    Some("text_delta") => {
                        if let Some(text) = delta.get("text").and_then(Value::as_str)
                            && !text.is_empty()
                        {
                            out.push(StreamEvent::Text(text.to_string()));
                        }
                    }
                    Some("input_json_delta") => {
                        let piece = delta
                            .get("partial_json")
                            .and_then(Value::as_str)
                            .unwrap_or("");
                        if let Some(Block::Tool {
                            ordinal,
                            sent_arguments,
                            ..
                        }) = self.blocks.get_mut(&index)
                            && !piece.is_empty()
                        {
                            *sent_arguments = true;
                            out.push(StreamEvent::ToolCall(ToolCallDelta {
                                index: *ordinal,
                                id: None,
                                name: None,
                                arguments: piece.to_string(),
                            }));
                        }
                    }
                    // thinking_delta, signature_delta, citations_delta...
                    _ => {}
                }
            }
            "content_block_stop" => {
                let index = block_index(&data, &kind)?;
                if let Some(Block::Tool {
                    ordinal,
                    sent_arguments: false,
                    initial,
                }) = self.blocks.remove(&index)
                {
                    // A call without arguments still gets an object.
                    let arguments = match initial {
                        Value::Object(map) if !map.is_empty() => Value::Object(map).to_string(),
                        _ => "{}".to_string(),
                    };
                    out.push(StreamEvent::ToolCall(ToolCallDelta {
                        index: ordinal,
                        id: None,
                        name: None,
                        arguments,
                    }));
                }
            }
            "message_delta" => {
                if let Some(reason) = data.pointer("/delta/stop_reason").and_then(Value::as_str) {
                    self.stop_reason = Some(reason.to_string());
                }
                if let Some(usage) = data.get("usage") {
                    self.note_usage(usage);
                }
            }
            "message_stop" => {
                self.finished = true;
                let usage =
                    (self.input_tokens.is_some() || self.output_tokens.is_some()).then(|| {
                        Usage::new(
                            self.input_tokens.unwrap_or(0),
                            self.output_tokens.unwrap_or(0),
                        )
                    });
                out.push(StreamEvent::Finished(StreamEnd {
                    finish_reason: finish_reason(self.stop_reason.as_deref()),
                    usage,
                }));
            }
            "error" => return Err(service_error(&data)),
            // `ping`, and event types added after this was written.
            _ => {}
        }
        Ok(out)
    }

    /// Takes the counts a `usage` object has; `output_tokens` is
    /// cumulative, so the latest value wins.
    fn note_usage(&mut self, usage: &Value) {
        if let Some(n) = input_tokens(usage) {
            self.input_tokens = Some(n);
        }
        if let Some(n) = output_tokens(usage) {
            self.output_tokens = Some(n);
        }
    }
}

fn block_index(data: &Value, kind: &str) -> Result<u64, Error> {
    data.get("index").and_then(Value::as_u64).ok_or_else(|| {
        Error::upstream(
            None,
            format!(
                "{PROVIDER}: Anthropic sent a `{kind}` event without a block index: {}",
                crate::snippet(&data.to_string(), QUOTE)
            ),
        )
    })
}

/// A live answer: reads the response body as it arrives, parses its
/// events and hands out stream events one at a time.
pub struct AnthropicStream {
    response: StreamingResponse,
    parser: SseParser,
    state: StreamState,
    pending: VecDeque<StreamEvent>,
    /// The start of the body, kept while no event has come, for the error
    /// when the body holds none.
    head: Vec<u8>,
    saw_event: bool,
    ended: bool,
}

impl AnthropicStream {
    /// Streams `response` (a 2xx `text/event-stream` answer).
    pub fn new(response: StreamingResponse, names: ToolNames) -> Self {
        AnthropicStream {
            response,
            parser: SseParser::new(),
            state: StreamState::new(names),
            pending: VecDeque::new(),
            head: Vec::new(),
            saw_event: false,
            ended: false,
        }
    }

    fn take(&mut self, events: Vec<SseEvent>) -> Result<(), Error> {
        for event in events {
            self.saw_event = true;
            if self.state.is_finished() {
                break;
            }
            self.pending.extend(self.state.handle(&event)?);
        }
        Ok(())
    }
}

impl ChatStream for AnthropicStream {
    fn next(&mut self) -> Result<Option<StreamEvent>, Error> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Ok(Some(event));
            }
            if self.ended || self.state.is_finished() {
                return Ok(None);
            }
            let chunk = self.response.next_chunk().map_err(|e| match e {
                Error::Upstream(mut u) => {
                    u.message =
                        format!("{PROVIDER}: the Anthropic stream broke off: {}", u.message);
                    Error::Upstream(u)
                }
                other => other,
            })?;
            match chunk {
                Some(bytes) => {
                    if !self.saw_event && self.head.len() < QUOTE {
                        self.head
                            .extend_from_slice(&bytes[..bytes.len().min(QUOTE)]);
                    }
                    let events = self.parser.push(&bytes);
                    self.take(events)?;
                }
                None => {
                    self.ended = true;
                    let events = self.parser.finish();
                    self.take(events)?;
                    if !self.state.is_finished() {
                        return Err(ended_early(self.saw_event, &self.head));
                    }
                }
            }
        }
    }
}

/// The error for a body that ended before `message_stop`.
pub fn ended_early(saw_event: bool, head: &[u8]) -> Error {
    if saw_event {
        Error::upstream(
            None,
            format!(
                "{PROVIDER}: the Anthropic stream ended before `message_stop`; the answer is \
                 incomplete"
            ),
        )
    } else {
        Error::upstream(
            None,
            format!(
                "{PROVIDER}: Anthropic's answer held no stream events: {}",
                crate::snippet(&String::from_utf8_lossy(head), QUOTE)
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openpista_sdk::serde_json::json;
    use openpista_sdk::{FinishReason, ToolSpec};

    fn ev(name: &str, data: Value) -> SseEvent {
        SseEvent {
            event: Some(name.to_string()),
            data: data.to_string(),
            id: None,
        }
    }

    fn state() -> StreamState {
        StreamState::new(ToolNames::new(&[ToolSpec::new("time.now", "", json!({}))]).unwrap())
    }

    fn run(state: &mut StreamState, events: &[SseEvent]) -> Vec<StreamEvent> {
        events
            .iter()
            .flat_map(|e| state.handle(e).unwrap())
            .collect()
    }

    fn start(input: u32) -> SseEvent {
        ev(
            "message_start",
            json!({"type": "message_start", "message": {
                "id": "msg_1", "type": "message", "role": "assistant", "content": [],
                "model": "claude-x", "stop_reason": null,
                "usage": {"input_tokens": input, "output_tokens": 1}
            }}),
        )
    }

    fn stop(reason: &str, output: u32) -> [SseEvent; 2] {
        [
            ev(
                "message_delta",
                json!({"type": "message_delta", "delta": {"stop_reason": reason, "stop_sequence": null},
                       "usage": {"output_tokens": output}}),
            ),
            ev("message_stop", json!({"type": "message_stop"})),
        ]
    }

    #[test]
    fn text_stream() {
        let mut s = state();
        let mut events = vec![
            start(25),
            ev(
                "content_block_start",
                json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            ),
            ev("ping", json!({"type": "ping"})),
            ev(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hel"}}),
            ),
            ev(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "lo"}}),
            ),
            ev(
                "content_block_stop",
                json!({"type": "content_block_stop", "index": 0}),
            ),
        ];
        events.extend(stop("end_turn", 9));
        let out = run(&mut s, &events);
        assert_eq!(
            out,
            vec![
                StreamEvent::Text("Hel".into()),
                StreamEvent::Text("lo".into()),
                StreamEvent::Finished(StreamEnd {
                    finish_reason: FinishReason::Stop,
                    usage: Some(Usage::new(25, 9)),
                }),
            ]
        );
        assert!(s.is_finished());
    }

    #[test]
    fn tool_use_stream_is_numbered_by_call_and_named_back() {
        let mut s = state();
        let mut events = vec![
            start(5),
            ev(
                "content_block_start",
                json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            ),
            ev(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Checking."}}),
            ),
            ev(
                "content_block_stop",
                json!({"type": "content_block_stop", "index": 0}),
            ),
            ev(
                "content_block_start",
                json!({"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "toolu_1", "name": "time__now", "input": {}}}),
            ),
            ev(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": ""}}),
            ),
            ev(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{\"tz\": "}}),
            ),
            ev(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "\"UTC\"}"}}),
            ),
            ev(
                "content_block_stop",
                json!({"type": "content_block_stop", "index": 1}),
            ),
            ev(
                "content_block_start",
                json!({"type": "content_block_start", "index": 2, "content_block": {"type": "tool_use", "id": "toolu_2", "name": "other_tool", "input": {}}}),
            ),
            ev(
                "content_block_stop",
                json!({"type": "content_block_stop", "index": 2}),
            ),
        ];
        events.extend(stop("tool_use", 40));
        let out = run(&mut s, &events);
        let delta = |index, id: Option<&str>, name: Option<&str>, arguments: &str| {
            StreamEvent::ToolCall(ToolCallDelta {
                index,
                id: id.map(str::to_string),
                name: name.map(str::to_string),
                arguments: arguments.to_string(),
            })
        };
        assert_eq!(
            out,
            vec![
                StreamEvent::Text("Checking.".into()),
                delta(0, Some("toolu_1"), Some("time.now"), ""),
                delta(0, None, None, "{\"tz\": "),
                delta(0, None, None, "\"UTC\"}"),
                delta(1, Some("toolu_2"), Some("other_tool"), ""),
                delta(1, None, None, "{}"),
                StreamEvent::Finished(StreamEnd {
                    finish_reason: FinishReason::ToolCalls,
                    usage: Some(Usage::new(5, 40)),
                }),
            ]
        );
    }

    #[test]
    fn thinking_and_unknown_events_are_ignored() {
        let mut s = state();
        let events = vec![
            ev(
                "content_block_start",
                json!({"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}}),
            ),
            ev(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "hmm"}}),
            ),
            ev(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "x"}}),
            ),
            ev(
                "content_block_stop",
                json!({"type": "content_block_stop", "index": 0}),
            ),
            ev("brand_new_event", json!({"type": "brand_new_event"})),
        ];
        assert!(run(&mut s, &events).is_empty());
        assert!(!s.is_finished());
        // The SSE name is enough when the payload has no type.
        let out = s.handle(&ev("message_stop", json!({}))).unwrap();
        assert_eq!(
            out,
            vec![StreamEvent::Finished(StreamEnd {
                finish_reason: FinishReason::Other,
                usage: None,
            })]
        );
    }

    #[test]
    fn error_events() {
        let mut s = state();
        let e = s
            .handle(&ev(
                "error",
                json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
            ))
            .unwrap_err();
        assert!(
            matches!(&e, Error::RateLimited(r) if r.message.contains("Overloaded")),
            "{e}"
        );
        let e = s
            .handle(&ev(
                "error",
                json!({"type": "error", "error": {"type": "api_error", "message": "Internal server error"}}),
            ))
            .unwrap_err();
        assert!(
            matches!(&e, Error::Upstream(u) if u.message.contains("Internal server error")),
            "{e}"
        );
    }

    #[test]
    fn malformed_json_is_quoted() {
        let mut s = state();
        let bad = SseEvent {
            event: Some("content_block_delta".into()),
            data: format!("{{\"type\": \"content_block_delta\", {}", "x".repeat(500)),
            id: None,
        };
        let e = s.handle(&bad).unwrap_err();
        let Error::Upstream(u) = &e else {
            panic!("{e:?}")
        };
        assert!(u.message.contains("Anthropic"), "{e}");
        assert!(u.message.contains("content_block_delta"), "{e}");
        assert!(u.message.contains("{\"type\""), "{e}");
        assert!(
            u.message.len() < 400,
            "quoted text is cut: {}",
            u.message.len()
        );
        let e = s
            .handle(&ev(
                "content_block_delta",
                json!({"type": "content_block_delta"}),
            ))
            .unwrap_err();
        assert!(
            matches!(&e, Error::Upstream(u) if u.message.contains("index")),
            "{e}"
        );
    }

    #[test]
    fn early_end_errors_say_what_came() {
        let e = ended_early(false, b"<html>bad gateway</html>");
        assert!(
            matches!(&e, Error::Upstream(u) if u.message.contains("<html>")),
            "{e}"
        );
        let e = ended_early(true, b"");
        assert!(
            matches!(&e, Error::Upstream(u) if u.message.contains("message_stop")),
            "{e}"
        );
    }
}
