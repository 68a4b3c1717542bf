//! Making a stored conversation sendable to whichever provider answers
//! now. Stored history is provider-neutral, but it can still hold what an
//! API refuses: tool calls another provider named with ids this one does
//! not accept, calls whose results never came (a stopped turn), results
//! whose call was cut off, and tool traffic for a model that takes no
//! tools. Every API rejects an orphaned call or result, so nothing is sent
//! orphaned: pairs are kept with ids every API accepts, the rest becomes
//! plain text the model can still read.

use crate::runtime::bindings::{Message, Role};
use std::collections::{HashMap, HashSet};

/// Longest tool output kept when tool traffic is turned into text.
const SUMMARY_LIMIT: usize = 2_000;
/// Longest id the strictest API takes (Anthropic: `^[a-zA-Z0-9_-]{1,64}$`).
const ID_LIMIT: usize = 64;

/// `messages` in a shape every provider API takes. With `tools` false
/// (the model takes none) every call and result becomes text.
pub fn sendable(messages: Vec<Message>, tools: bool) -> Vec<Message> {
    let mut ids = Ids::default();
    let mut out: Vec<Message> = Vec::with_capacity(messages.len());
    let mut i = 0;
    while i < messages.len() {
        let m = &messages[i];
        match m.role {
            Role::Assistant if !m.tool_calls.is_empty() => {
                // This call's results are the tool messages right after it.
                let end = messages[i + 1..]
                    .iter()
                    .position(|n| n.role != Role::Tool)
                    .map_or(messages.len(), |p| i + 1 + p);
                let results = &messages[i + 1..end];
                if tools {
                    paired(m, results, &mut ids, &mut out);
                } else {
                    as_text(m, results, &mut out);
                }
                i = end;
            }
            Role::Tool => {
                // A result without its call just before it.
                out.push(orphan_result(m));
                i += 1;
            }
            _ => {
                out.push(m.clone());
                i += 1;
            }
        }
    }
    out
}

/// The call and its results with safe ids: a call without a result gets
/// one saying so, a result for no call of this message becomes text.
fn paired(call: &Message, results: &[Message], ids: &mut Ids, out: &mut Vec<Message>) {
    let mut call = call.clone();
    let called: HashSet<&str> = call.tool_calls.iter().map(|c| c.id.as_str()).collect();
    let mut answered: HashSet<&str> = HashSet::new();
    let mut kept = Vec::new();
    let mut stray = Vec::new();
    for r in results {
        match r.tool_call_id.as_deref() {
            Some(id) if called.contains(id) && answered.insert(id) => kept.push(r.clone()),
            _ => stray.push(orphan_result(r)),
        }
    }
    for c in &call.tool_calls {
        if !answered.contains(c.id.as_str()) {
            kept.push(Message {
                role: Role::Tool,
                content: format!("{} did not run: the turn ended before it.", c.name),
                tool_calls: Vec::new(),
                tool_call_id: Some(c.id.clone()),
                attachments: Vec::new(),
            });
        }
    }
    for c in &mut call.tool_calls {
        c.id = ids.safe(&c.id);
    }
    for r in &mut kept {
        r.tool_call_id = r.tool_call_id.as_deref().map(|id| ids.safe(id));
    }
    // Results in the order of the calls, as the stricter APIs want them.
    let order: HashMap<&str, usize> = call
        .tool_calls
        .iter()
        .enumerate()
        .map(|(n, c)| (c.id.as_str(), n))
        .collect();
    kept.sort_by_key(|r| {
        r.tool_call_id
            .as_deref()
            .and_then(|id| order.get(id))
            .copied()
    });
    out.push(call);
    out.extend(kept);
    out.extend(stray);
}

/// A call and its results told in words, for a model that takes no tools.
fn as_text(call: &Message, results: &[Message], out: &mut Vec<Message>) {
    let mut said = call.content.clone();
    for c in &call.tool_calls {
        if !said.is_empty() {
            said.push('\n');
        }
        said.push_str(&format!(
            "[I called the tool {} with {}]",
            c.name,
            cut(&c.arguments)
        ));
    }
    out.push(Message {
        role: Role::Assistant,
        content: said,
        tool_calls: Vec::new(),
        tool_call_id: None,
        attachments: call.attachments.clone(),
    });
    for r in results {
        out.push(orphan_result(r));
    }
}

/// A tool result as a user message the model can read.
fn orphan_result(r: &Message) -> Message {
    Message {
        role: Role::User,
        content: format!("[a tool returned: {}]", cut(&r.content)),
        tool_calls: Vec::new(),
        tool_call_id: None,
        attachments: r.attachments.clone(),
    }
}

fn cut(text: &str) -> String {
    match text.char_indices().nth(SUMMARY_LIMIT) {
        Some((at, _)) => format!("{}… (cut)", &text[..at]),
        None => text.to_string(),
    }
}

/// Ids every API accepts, the same for a call and its result, distinct
/// for distinct originals.
#[derive(Default)]
struct Ids {
    map: HashMap<String, String>,
    used: HashSet<String>,
}

impl Ids {
    fn safe(&mut self, id: &str) -> String {
        if let Some(s) = self.map.get(id) {
            return s.clone();
        }
        let mut s: String = id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .take(ID_LIMIT)
            .collect();
        if s.is_empty() || self.used.contains(&s) {
            s = format!("call_{}", self.used.len() + 1);
            while self.used.contains(&s) {
                s.push('_');
            }
        }
        self.used.insert(s.clone());
        self.map.insert(id.to_string(), s.clone());
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::bindings::ToolCall;

    fn text(role: Role, content: &str) -> Message {
        Message {
            role,
            content: content.into(),
            tool_calls: Vec::new(),
            tool_call_id: None,
            attachments: Vec::new(),
        }
    }

    fn calls(ids: &[&str]) -> Message {
        let mut m = text(Role::Assistant, "");
        m.tool_calls = ids
            .iter()
            .map(|id| ToolCall {
                id: id.to_string(),
                name: "time.now".into(),
                arguments: "{}".into(),
            })
            .collect();
        m
    }

    fn result(id: &str, content: &str) -> Message {
        let mut m = text(Role::Tool, content);
        m.tool_call_id = Some(id.into());
        m
    }

    /// Every tool result answers a call of the assistant message just
    /// before its run of results, and every call is answered once.
    fn assert_valid(ms: &[Message]) {
        let mut open: Vec<String> = Vec::new();
        for m in ms {
            match m.role {
                Role::Tool => {
                    let id = m.tool_call_id.clone().unwrap();
                    assert!(open.contains(&id), "orphan result {id} in {ms:#?}");
                    open.retain(|o| *o != id);
                }
                _ => {
                    assert!(open.is_empty(), "unanswered {open:?} in {ms:#?}");
                    open = m.tool_calls.iter().map(|c| c.id.clone()).collect();
                    for id in &open {
                        assert!(
                            !id.is_empty()
                                && id.len() <= ID_LIMIT
                                && id
                                    .chars()
                                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'),
                            "id {id:?}"
                        );
                    }
                }
            }
        }
        assert!(open.is_empty(), "unanswered {open:?} at the end");
    }

    #[test]
    fn a_valid_history_passes_unchanged() {
        let h = vec![
            text(Role::User, "time?"),
            calls(&["call_1", "call_2"]),
            result("call_1", "noon"),
            result("call_2", "noon"),
            text(Role::Assistant, "noon"),
        ];
        assert_eq!(format!("{:?}", sendable(h.clone(), true)), format!("{h:?}"));
    }

    #[test]
    fn foreign_ids_are_made_safe_the_same_for_call_and_result() {
        let h = vec![
            text(Role::User, "time?"),
            calls(&["functions.time:0", "functions.time:1"]),
            result("functions.time:1", "b"),
            result("functions.time:0", "a"),
        ];
        let out = sendable(h, true);
        assert_valid(&out);
        assert_eq!(out[1].tool_calls[0].id, "functions_time_0");
        // Results follow the calls' order.
        assert_eq!(out[2].content, "a");
        assert_eq!(out[2].tool_call_id.as_deref(), Some("functions_time_0"));
    }

    #[test]
    fn ids_that_collide_or_vanish_when_cleaned_stay_distinct() {
        let h = vec![
            calls(&["a.b", "a:b", "…"]),
            result("a.b", "1"),
            result("a:b", "2"),
            result("…", "3"),
        ];
        let out = sendable(h, true);
        assert_valid(&out);
        let ids: HashSet<_> = out[0].tool_calls.iter().map(|c| c.id.clone()).collect();
        assert_eq!(ids.len(), 3, "{ids:?}");
        let long = "x".repeat(100);
        let out = sendable(vec![calls(&[&long]), result(&long, "r")], true);
        assert_valid(&out);
    }

    #[test]
    fn a_stopped_turn_and_a_cut_call_send_nothing_orphaned() {
        let h = vec![
            result("gone", "from a call that was cut off"),
            text(Role::User, "go"),
            calls(&["c1", "c2"]),
            result("c1", "done"),
            result("elsewhere", "stray"),
            text(Role::User, "stop that"),
        ];
        let out = sendable(h, true);
        assert_valid(&out);
        assert_eq!(out[0].role, Role::User);
        assert!(out[0].content.contains("from a call that was cut off"));
        assert!(out.iter().any(|m| m.content.contains("did not run")));
        assert!(
            out.iter()
                .any(|m| m.role == Role::User && m.content.contains("stray"))
        );
    }

    #[test]
    fn a_model_without_tools_reads_the_calls_as_text() {
        let long = "y".repeat(SUMMARY_LIMIT + 50);
        let h = vec![
            text(Role::User, "time?"),
            calls(&["c1"]),
            result("c1", &long),
            text(Role::Assistant, "noon"),
        ];
        let out = sendable(h, false);
        assert!(
            out.iter()
                .all(|m| m.tool_calls.is_empty() && m.role != Role::Tool)
        );
        assert!(
            out[1]
                .content
                .contains("[I called the tool time.now with {}]")
        );
        assert!(out[2].content.ends_with("… (cut)]"), "{}", out[2].content);
        assert_eq!(out.len(), 4);
    }
}
