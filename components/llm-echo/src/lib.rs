//! `llm-echo`: an offline language-model provider for demos and tests.
//!
//! It serves one model, `echo`, and answers deterministically:
//!
//! - the last user message `TEXT` → `echo: TEXT`;
//! - the last user message `/tool NAME {json args}` (args optional, `{}` by
//!   default) → an assistant turn with one tool call (id `call_N`, N = the
//!   number of messages in the request) and finish reason `tool-calls`.
//!   `!tool NAME {json args}` means the same: channels pass a message
//!   starting with `/` to the host as a command, so that is the form to
//!   type in a messenger or the web page;
//! - a request whose last message is a tool result `R` → `tool said: R`.
//!
//! So an agent loop can be driven through a full tool round trip with no
//! network. Token counts are word counts.

use openpista_sdk::prelude::*;

/// The only model.
pub const MODEL: &str = "echo";

/// The component.
pub struct Echo;

/// What the provider answers to a request.
#[derive(Clone, Debug, PartialEq)]
pub enum Answer {
    /// Plain text, finish reason `stop`.
    Text(String),
    /// One tool call, finish reason `tool-calls`.
    ToolCall(ToolCall),
}

/// Picks the answer to `req` (see the crate docs).
pub fn decide(req: &ChatRequest) -> Result<Answer, Error> {
    if let Some(model) = req.model.as_deref()
        && model != MODEL
    {
        return Err(Error::not_found(format!(
            "llm-echo has no model `{model}` (it has: {MODEL})"
        )));
    }
    let last = req
        .messages
        .last()
        .ok_or_else(|| Error::invalid_input("the request has no messages"))?;
    if last.role == Role::Tool {
        return Ok(Answer::Text(format!("tool said: {}", last.content)));
    }
    let user = req
        .messages
        .iter()
        .rev()
        .find(|m| m.role == Role::User)
        .ok_or_else(|| Error::invalid_input("the request has no user message to echo"))?;
    match parse_tool_command(&user.content)? {
        Some((name, arguments)) => Ok(Answer::ToolCall(ToolCall::new(
            format!("call_{}", req.messages.len()),
            name,
            arguments,
        ))),
        None => Ok(Answer::Text(format!("echo: {}", user.content))),
    }
}

/// `/tool NAME {json}` → `(NAME, json)`; `None` for any other text.
fn parse_tool_command(text: &str) -> Result<Option<(String, String)>, Error> {
    let text = text.trim();
    let Some(rest) = text
        .strip_prefix("/tool")
        .or_else(|| text.strip_prefix("!tool"))
    else {
        return Ok(None);
    };
    if !(rest.is_empty() || rest.starts_with(char::is_whitespace)) {
        // `/toolbox` is ordinary text.
        return Ok(None);
    }
    let rest = rest.trim_start();
    let (name, args) = match rest.find(char::is_whitespace) {
        Some(i) => (&rest[..i], rest[i..].trim()),
        None => (rest, ""),
    };
    if name.is_empty() {
        return Err(Error::invalid_input(
            "`/tool` needs a tool name: `/tool NAME {json args}`",
        ));
    }
    let args = if args.is_empty() { "{}" } else { args };
    match serde_json::from_str::<serde_json::Value>(args) {
        Ok(serde_json::Value::Object(_)) => Ok(Some((name.to_string(), args.to_string()))),
        Ok(_) => Err(Error::invalid_input(format!(
            "`/tool {name}`: the arguments must be a JSON object, got `{args}`"
        ))),
        Err(e) => Err(Error::invalid_input(format!(
            "`/tool {name}`: the arguments are not valid JSON: {e}"
        ))),
    }
}

fn words(text: &str) -> u32 {
    text.split_whitespace().count() as u32
}

/// Word counts of the request and the answer, standing in for tokens.
fn usage(req: &ChatRequest, answer: &Answer) -> Usage {
    let input = req.messages.iter().map(|m| words(&m.content)).sum();
    let output = match answer {
        Answer::Text(text) => words(text),
        Answer::ToolCall(call) => 1 + words(&call.arguments),
    };
    Usage::new(input, output)
}

/// `text` cut into word-sized pieces that concatenate back to `text`: each
/// piece is the whitespace before a word plus the word.
fn word_pieces(text: &str) -> Vec<String> {
    let mut pieces: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut in_word = false;
    for c in text.chars() {
        let space = c.is_whitespace();
        if space && in_word {
            pieces.push(std::mem::take(&mut current));
        }
        in_word = !space;
        current.push(c);
    }
    if !current.is_empty() {
        match pieces.last_mut() {
            // Trailing whitespace joins the last word.
            Some(last) if current.chars().all(char::is_whitespace) => last.push_str(&current),
            _ => pieces.push(current),
        }
    }
    pieces
}

/// `text` in pieces of at most `n` characters.
fn char_pieces(text: &str, n: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    chars.chunks(n).map(|c| c.iter().collect()).collect()
}

/// The streamed form of an answer: text word by word, or the tool call as
/// a first delta with its id and name followed by its arguments in pieces;
/// then `finished`.
pub fn stream_events(req: &ChatRequest, answer: &Answer) -> Vec<StreamEvent> {
    let usage = usage(req, answer);
    let mut events: Vec<StreamEvent> = Vec::new();
    let finish_reason = match answer {
        Answer::Text(text) => {
            events.extend(word_pieces(text).into_iter().map(StreamEvent::Text));
            FinishReason::Stop
        }
        Answer::ToolCall(call) => {
            events.push(StreamEvent::ToolCall(ToolCallDelta {
                index: 0,
                id: Some(call.id.clone()),
                name: Some(call.name.clone()),
                arguments: String::new(),
            }));
            events.extend(char_pieces(&call.arguments, 8).into_iter().map(|piece| {
                StreamEvent::ToolCall(ToolCallDelta {
                    index: 0,
                    id: None,
                    name: None,
                    arguments: piece,
                })
            }));
            FinishReason::ToolCalls
        }
    };
    events.push(StreamEvent::Finished(StreamEnd {
        finish_reason,
        usage: Some(usage),
    }));
    events
}

/// The complete (non-streamed) response for an answer.
pub fn response(req: &ChatRequest, answer: Answer) -> ChatResponse {
    let usage = usage(req, &answer);
    match answer {
        Answer::Text(text) => ChatResponse::text(text).with_usage(usage),
        Answer::ToolCall(call) => ChatResponse::new(
            Message::assistant_tool_calls("", vec![call]),
            FinishReason::ToolCalls,
        )
        .with_usage(usage),
    }
}

impl Provider for Echo {
    fn models() -> Result<Vec<ModelInfo>, Error> {
        Ok(vec![ModelInfo::new(MODEL).with_tools()])
    }

    fn chat(req: ChatRequest) -> Result<ChatResponse, Error> {
        let answer = decide(&req)?;
        Ok(response(&req, answer))
    }

    fn chat_stream(req: ChatRequest) -> Result<Box<dyn ChatStream>, Error> {
        let answer = decide(&req)?;
        Ok(Box::new(EventStream::new(stream_events(&req, &answer))))
    }
}

export_provider!(Echo);

#[cfg(test)]
mod tests {
    use super::*;

    fn request(messages: Vec<Message>) -> ChatRequest {
        ChatRequest {
            model: None,
            messages,
            tools: Vec::new(),
            temperature: None,
            max_tokens: None,
        }
    }

    #[test]
    fn echoes_the_last_user_message() {
        let req = request(vec![
            Message::system("be brief"),
            Message::user("first"),
            Message::assistant("echo: first"),
            Message::user("hello  world"),
        ]);
        assert_eq!(
            decide(&req).unwrap(),
            Answer::Text("echo: hello  world".into())
        );
        let resp = Echo::chat(req).unwrap();
        assert_eq!(resp.message.role, Role::Assistant);
        assert_eq!(resp.message.content, "echo: hello  world");
        assert_eq!(resp.finish_reason, FinishReason::Stop);
        // 2 + 1 + 2 + 2 words in, 3 out.
        assert_eq!(resp.usage, Some(Usage::new(7, 3)));
    }

    #[test]
    fn tool_command_becomes_a_tool_call() {
        let req = request(vec![
            Message::system("s"),
            Message::user(r#"/tool text.stats {"text": "a b"}"#),
        ]);
        assert_eq!(
            decide(&req).unwrap(),
            Answer::ToolCall(ToolCall::new("call_2", "text.stats", r#"{"text": "a b"}"#))
        );
        let resp = Echo::chat(req).unwrap();
        assert_eq!(resp.finish_reason, FinishReason::ToolCalls);
        assert_eq!(resp.message.content, "");
        assert_eq!(resp.message.tool_calls.len(), 1);
    }

    #[test]
    fn the_bang_form_is_the_same_tool_call() {
        let req = request(vec![Message::user("!tool time.now")]);
        assert_eq!(
            decide(&req).unwrap(),
            Answer::ToolCall(ToolCall::new("call_1", "time.now", "{}"))
        );
        let req = request(vec![Message::user("!toolbox")]);
        assert_eq!(decide(&req).unwrap(), Answer::Text("echo: !toolbox".into()));
    }

    #[test]
    fn tool_command_arguments_default_to_empty_object() {
        let req = request(vec![Message::user("/tool time.now")]);
        assert_eq!(
            decide(&req).unwrap(),
            Answer::ToolCall(ToolCall::new("call_1", "time.now", "{}"))
        );
    }

    #[test]
    fn bad_tool_commands_are_invalid_input() {
        for text in ["/tool", "/tool x {nope", "/tool x [1]"] {
            let e = decide(&request(vec![Message::user(text)])).unwrap_err();
            assert!(matches!(e, Error::InvalidInput(_)), "{text}: {e}");
        }
        // Not a command at all.
        assert_eq!(
            decide(&request(vec![Message::user("/toolbox")])).unwrap(),
            Answer::Text("echo: /toolbox".into())
        );
    }

    #[test]
    fn a_tool_result_is_reported() {
        let req = request(vec![
            Message::user("/tool time.now"),
            Message::assistant_tool_calls("", vec![ToolCall::new("call_1", "time.now", "{}")]),
            Message::tool("call_1", "12:00"),
        ]);
        assert_eq!(
            decide(&req).unwrap(),
            Answer::Text("tool said: 12:00".into())
        );
        assert_eq!(Echo::chat(req).unwrap().finish_reason, FinishReason::Stop);
    }

    #[test]
    fn unknown_models_and_empty_requests() {
        let mut req = request(vec![Message::user("x")]);
        req.model = Some("gpt".into());
        assert!(matches!(decide(&req), Err(Error::NotFound(m)) if m.contains("`gpt`")));
        req.model = Some("echo".into());
        assert!(decide(&req).is_ok());
        assert!(matches!(
            decide(&request(vec![])),
            Err(Error::InvalidInput(_))
        ));
        assert!(matches!(
            decide(&request(vec![Message::system("only")])),
            Err(Error::InvalidInput(_))
        ));
    }

    fn drain(mut stream: Box<dyn ChatStream>) -> Vec<StreamEvent> {
        let mut out = Vec::new();
        while let Some(e) = stream.next().unwrap() {
            out.push(e);
        }
        out
    }

    #[test]
    fn streams_text_word_by_word() {
        let req = request(vec![Message::user("hello big  world ")]);
        let events = drain(Echo::chat_stream(req).unwrap());
        assert_eq!(
            events,
            vec![
                StreamEvent::Text("echo:".into()),
                StreamEvent::Text(" hello".into()),
                StreamEvent::Text(" big".into()),
                StreamEvent::Text("  world ".into()),
                StreamEvent::Finished(StreamEnd {
                    finish_reason: FinishReason::Stop,
                    usage: Some(Usage::new(3, 4)),
                }),
            ]
        );
    }

    #[test]
    fn streams_tool_calls_as_deltas() {
        let args = r#"{"text": "one two three"}"#;
        let req = request(vec![Message::user(format!("/tool text.stats {args}"))]);
        let events = drain(Echo::chat_stream(req).unwrap());
        let StreamEvent::ToolCall(first) = &events[0] else {
            panic!("{events:?}")
        };
        assert_eq!(first.id.as_deref(), Some("call_1"));
        assert_eq!(first.name.as_deref(), Some("text.stats"));
        let mut joined = String::new();
        for e in &events[..events.len() - 1] {
            let StreamEvent::ToolCall(d) = e else {
                panic!("{e:?}")
            };
            assert_eq!(d.index, 0);
            joined.push_str(&d.arguments);
        }
        assert_eq!(joined, args);
        assert!(events.len() > 3, "arguments come in several pieces");
        assert_eq!(
            events.last(),
            Some(&StreamEvent::Finished(StreamEnd {
                finish_reason: FinishReason::ToolCalls,
                usage: Some(Usage::new(6, 5)),
            }))
        );
    }

    #[test]
    fn word_pieces_concatenate_back() {
        for text in ["", " ", "a", " a", "a ", "echo: a  b\tc\n", "é ü"] {
            assert_eq!(word_pieces(text).concat(), text, "{text:?}");
        }
        assert_eq!(word_pieces("a b"), vec!["a", " b"]);
    }

    #[test]
    fn models_lists_echo() {
        let models = Echo::models().unwrap();
        assert_eq!(models.len(), 1);
        assert_eq!(models[0].id, "echo");
        assert!(models[0].supports_tools);
    }
}
