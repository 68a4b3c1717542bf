//! A provider that scripts the agent loop for tests, keyed on the last
//! user message:
//! - `once`: asks for two tools in one round (`text.stats` and a tool that
//!   does not exist), then answers with what the tools returned;
//! - `loop`: asks for a tool in every round, never answering.
//! - `big`: asks for `text.stats` on a long text, then repeats the result.

use openpista_sdk::prelude::*;

struct Looper;

fn last_user(req: &ChatRequest) -> String {
    req.messages
        .iter()
        .rev()
        .find(|m| matches!(m.role, Role::User))
        .map(|m| m.content.clone())
        .unwrap_or_default()
}

fn call(id: String, name: &str, args: serde_json::Value) -> ToolCall {
    ToolCall {
        id,
        name: name.into(),
        arguments: args.to_string(),
    }
}

fn answer(text: String, calls: Vec<ToolCall>) -> ChatResponse {
    let finish = if calls.is_empty() {
        FinishReason::Stop
    } else {
        FinishReason::ToolCalls
    };
    let mut message = Message::assistant(text);
    message.tool_calls = calls;
    ChatResponse {
        message,
        finish_reason: finish,
        usage: None,
    }
}

impl Provider for Looper {
    fn models() -> Result<Vec<ModelInfo>, Error> {
        Ok(vec![ModelInfo {
            id: "looper".into(),
            context_window: None,
            supports_tools: true,
        }])
    }

    fn chat(req: ChatRequest) -> Result<ChatResponse, Error> {
        let n = req.messages.len();
        let tool_results: Vec<&Message> = req
            .messages
            .iter()
            .rev()
            .take_while(|m| !matches!(m.role, Role::User))
            .filter(|m| matches!(m.role, Role::Tool))
            .collect();
        match last_user(&req).as_str() {
            "once" if tool_results.is_empty() => Ok(answer(
                String::new(),
                vec![
                    call(format!("a{n}"), "text.stats", json!({"text": "two words"})),
                    call(format!("b{n}"), "no.such.tool", json!({})),
                ],
            )),
            "once" | "big" if !tool_results.is_empty() => {
                let mut seen: Vec<String> = tool_results
                    .iter()
                    .map(|m| {
                        format!(
                            "{}={}",
                            m.tool_call_id.clone().unwrap_or_default(),
                            m.content
                        )
                    })
                    .collect();
                seen.sort();
                Ok(answer(format!("results: {}", seen.join(" | ")), Vec::new()))
            }
            "big" => Ok(answer(
                String::new(),
                vec![call(format!("c{n}"), "time.now", json!({}))],
            )),
            "loop" => Ok(answer(
                format!("round {}", tool_results.len()),
                vec![call(
                    format!("l{n}"),
                    "text.stats",
                    json!({"text": "again"}),
                )],
            )),
            other => Ok(answer(format!("looper heard: {other}"), Vec::new())),
        }
    }
}

export_provider!(Looper);
