//! Fitting the conversation into the model's context window. The
//! provider reports the window (`model-info.context-window`); the agent
//! sends the newest messages that fit in three quarters of it (the rest is
//! left for the answer), estimating four characters a token, and never
//! starts the history on a tool result whose call was cut off.

use crate::memory::sessions::StoredMessage;
use crate::runtime::bindings::{ModelInfo, ToolSpec};

/// Characters per token, a deliberately cautious estimate for English
/// and code (real tokenisers average three to four).
const CHARS_PER_TOKEN: usize = 4;
/// Per-message framing the services add (role, separators).
const MESSAGE_OVERHEAD: usize = 4;

/// Estimated tokens of `text`.
pub fn tokens(text: &str) -> usize {
    text.chars().count().div_ceil(CHARS_PER_TOKEN)
}

fn message_tokens(m: &StoredMessage) -> usize {
    MESSAGE_OVERHEAD
        + tokens(&m.content)
        + m.tool_calls
            .iter()
            .map(|c| tokens(&c.name) + tokens(&c.arguments))
            .sum::<usize>()
}

/// The index of the first message of `history` to send so that it fits in
/// `budget` tokens. The last user message and what follows it (this turn)
/// are always sent; earlier messages go oldest first, and the kept history
/// starts at a user message, so no tool result loses its call.
pub fn first_to_send(history: &[StoredMessage], budget: usize) -> usize {
    let this_turn = history.iter().rposition(|m| m.role == "user").unwrap_or(0);
    let mut used: usize = history[this_turn..].iter().map(message_tokens).sum();
    let mut start = this_turn;
    while start > 0 {
        let cost = message_tokens(&history[start - 1]);
        if used + cost > budget {
            break;
        }
        used += cost;
        start -= 1;
    }
    // Move forward to a user message: a cut must not orphan tool results
    // or split an assistant's calls from them.
    while start < this_turn && history[start].role != "user" {
        start += 1;
    }
    start
}

/// The budget for history in a window of `window` tokens, after the
/// system prompt and the tool specs (`fixed` tokens).
pub fn budget(window: u32, fixed: usize) -> usize {
    (window as usize * 3 / 4).saturating_sub(fixed)
}

/// The tools to offer a model the provider describes as `facts`: none
/// when it takes none, else `all`.
pub fn offered_tools(facts: Option<&ModelInfo>, all: Vec<ToolSpec>) -> Vec<ToolSpec> {
    match facts {
        Some(f) if !f.supports_tools => Vec::new(),
        _ => all,
    }
}

/// What the history may take of the model's window after `system_prompt`
/// and `tools`; `None` when the provider does not say how large it is.
pub fn history_budget(
    facts: Option<&ModelInfo>,
    system_prompt: &str,
    tools: &[ToolSpec],
) -> Option<usize> {
    let window = facts?.context_window?;
    let fixed = tokens(system_prompt)
        + tools
            .iter()
            .map(|t| tokens(&t.name) + tokens(&t.description) + tokens(&t.parameters))
            .sum::<usize>();
    Some(budget(window, fixed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::sessions::StoredToolCall;

    fn msg(role: &str, content: &str) -> StoredMessage {
        StoredMessage::text(role, content, 0)
    }

    #[test]
    fn everything_fits_in_a_large_window() {
        let h = vec![msg("user", "a"), msg("assistant", "b"), msg("user", "c")];
        assert_eq!(first_to_send(&h, 10_000), 0);
    }

    #[test]
    fn the_oldest_go_first_and_this_turn_always_stays() {
        let long = "x".repeat(400); // 100 tokens
        let h = vec![
            msg("user", &long),
            msg("assistant", &long),
            msg("user", "short"),
            msg("assistant", "short"),
            msg("user", "now"),
        ];
        // Room for the last three only.
        assert_eq!(first_to_send(&h, 30), 2);
        // No room at all: still this turn.
        assert_eq!(first_to_send(&h, 0), 4);
    }

    #[test]
    fn a_cut_never_orphans_a_tool_result() {
        let mut call = msg("assistant", "");
        call.tool_calls.push(StoredToolCall {
            id: "c1".into(),
            name: "time.now".into(),
            arguments: "{}".into(),
        });
        let mut result = msg("tool", &"r".repeat(40));
        result.tool_call_id = Some("c1".into());
        let h = vec![
            msg("user", &"q".repeat(400)),
            call,
            result,
            msg("assistant", "it is noon"),
            msg("user", "thanks"),
        ];
        // The budget would admit the tool result but not its call's user
        // message: the history starts at this turn instead.
        let start = first_to_send(&h, 40);
        assert!(h[start].role == "user", "starts at {start}");
        assert_eq!(start, 4);
    }

    #[test]
    fn the_budget_leaves_room_for_the_answer_and_fixed_parts() {
        assert_eq!(budget(1000, 100), 650);
        assert_eq!(budget(100, 1000), 0);
    }
}
