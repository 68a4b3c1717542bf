//! What a front end controls in a turn: where it came from (which decides
//! the approval policy), who can be asked to approve a call, and how a
//! stopped turn leaves its session valid.

use super::{Agent, TurnError, convert, now_ms};
use crate::approvals::policy::TERMINAL;
use crate::approvals::{Asker, Check, Outcome};
use crate::memory::MemoryStore;
use crate::memory::sessions::StoredMessage;
use crate::runtime::bindings::ToolCall;
use std::collections::HashSet;
use std::sync::Arc;

/// The component name under which the host keeps approval records in
/// memory's key-value table (no component can be named with `@`).
const DECISIONS: &str = "@approvals";

/// A front end's hold on a turn.
#[derive(Clone, Default)]
pub struct TurnControl {
    /// The channel the turn came through; `None` is the local terminal.
    pub channel: Option<String>,
    /// Shows approval requests and waits for answers. Without one, a call
    /// the policy says to ask about is not run.
    pub asker: Option<Arc<dyn Asker>>,
}

impl std::fmt::Debug for TurnControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TurnControl")
            .field("channel", &self.channel)
            .field("asker", &self.asker.is_some())
            .finish()
    }
}

/// One approval decision, as stored with its session.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Decision {
    pub at_ms: u64,
    pub tool: String,
    /// The arguments as they were shown (secrets redacted).
    pub arguments: String,
    /// `approved`, `allowed-for-session`, `rejected`, `expired`,
    /// `denied`...
    pub outcome: String,
    /// The channel the call came through.
    pub channel: String,
}

/// The approval decisions stored with `session` in `memory`, oldest
/// first.
pub fn decisions(memory: &MemoryStore, session: &str) -> anyhow::Result<Vec<Decision>> {
    let prefix = format!("{session}\u{1f}");
    let mut out = Vec::new();
    for key in memory.kv_list(DECISIONS, &prefix, 10_000)? {
        if let Some(bytes) = memory.kv_get(DECISIONS, &key)?
            && let Ok(d) = serde_json::from_slice(&bytes)
        {
            out.push(d);
        }
    }
    Ok(out)
}

/// Stores `decision` with `session`.
fn record(memory: &MemoryStore, session: &str, decision: &Decision) -> anyhow::Result<()> {
    let key = format!("{session}\u{1f}{:016}", decision.at_ms);
    // Two decisions in one millisecond keep both.
    let mut key_n = key.clone();
    let mut n = 0;
    while memory.kv_get(DECISIONS, &key_n)?.is_some() {
        n += 1;
        key_n = format!("{key}.{n}");
    }
    memory.kv_set(DECISIONS, &key_n, &serde_json::to_vec(decision)?)
}

/// Deletes the approval decisions stored with `session` (a deleted or
/// cleared session keeps no record of what was run in it); how many.
pub fn forget_decisions(memory: &MemoryStore, session: &str) -> anyhow::Result<usize> {
    let prefix = format!("{session}\u{1f}");
    let mut gone = 0;
    loop {
        let keys = memory.kv_list(DECISIONS, &prefix, 1000)?;
        if keys.is_empty() {
            return Ok(gone);
        }
        for key in keys {
            if memory.kv_delete(DECISIONS, &key)? {
                gone += 1;
            }
        }
    }
}

impl Agent {
    /// Decides whether `call` runs: the policy, then the session's
    /// allowances, then a person through `control`'s asker. Every decision
    /// but a plain `auto` is stored with the session.
    pub(super) async fn approve(
        &self,
        session: &str,
        control: &TurnControl,
        call: &ToolCall,
    ) -> Outcome {
        let approvals = &self.settings.approvals;
        let channel = control.channel.as_deref().unwrap_or(TERMINAL);
        let kind = self.tools.kind(&call.name);
        let (outcome, shown) =
            match approvals.check(session, channel, &call.name, kind, &call.arguments) {
                Check::Run(outcome) => (outcome, None),
                Check::Deny => (Outcome::Denied, None),
                Check::Ask(request) => {
                    let outcome = match &control.asker {
                        Some(asker) => asker.ask(approvals, &request).await,
                        None => Outcome::Unreachable(
                            "this front end cannot ask: no terminal or channel to show it".into(),
                        ),
                    };
                    (outcome, Some(request.arguments))
                }
            };
        if outcome != Outcome::Auto {
            let decision = Decision {
                at_ms: now_ms(),
                tool: call.name.clone(),
                arguments: shown.unwrap_or_default(),
                outcome: outcome.word().into(),
                channel: channel.into(),
            };
            if let Err(e) = self.record_decision(session, &decision) {
                tracing::warn!(%session, "approval decision not stored: {e:#}");
            }
            tracing::info!(%session, tool = %call.name, outcome = outcome.word(), "approval");
        }
        outcome
    }

    fn record_decision(&self, session: &str, decision: &Decision) -> anyhow::Result<()> {
        record(&self.memory, session, decision)
    }

    /// Deletes `session` with everything kept about it: its messages, its
    /// approval decisions and what it was allowed. True when it existed.
    pub fn forget_session(&self, session: &str) -> anyhow::Result<bool> {
        let existed = self.memory.delete_session(session)?;
        forget_decisions(&self.memory, session)?;
        self.settings.approvals.forget(session);
        Ok(existed)
    }

    /// The approval decisions stored with `session`, oldest first.
    pub fn decisions(&self, session: &str) -> anyhow::Result<Vec<Decision>> {
        decisions(&self.memory, session)
    }

    /// What an earlier attempt at the turn for cluster event `event` left
    /// in `session`: nothing (a new event), a user message and no final
    /// answer (the node handling it died or lost it), or a final answer.
    pub fn attempt(&self, session: &str, event: &str) -> Result<Attempt, TurnError> {
        let unreadable =
            |e: anyhow::Error| TurnError(format!("could not read the conversation: {e:#}"));
        self.memory.flush().map_err(unreadable)?;
        let history = self
            .memory
            .messages(session, self.settings.history_limit.max(50))
            .map_err(unreadable)?;
        Ok(attempt_in(&history, event))
    }

    /// Leaves `session` valid after its turn was stopped part-way: every
    /// tool call the model asked for gets a result saying it was stopped,
    /// and the turn ends with an assistant message saying so. Returns how
    /// many calls were closed.
    pub fn close_interrupted(&self, session: &str) -> Result<usize, TurnError> {
        self.memory
            .flush()
            .map_err(|e| TurnError(format!("could not read the conversation: {e:#}")))?;
        let history = self
            .memory
            .messages(session, self.settings.history_limit.max(50))
            .map_err(|e| TurnError(format!("could not read the conversation: {e:#}")))?;
        let Some(last_user) = history.iter().rposition(|m| m.role == "user") else {
            return Ok(0);
        };
        let turn = &history[last_user..];
        let answered: HashSet<&str> = turn
            .iter()
            .filter(|m| m.role == "tool")
            .filter_map(|m| m.tool_call_id.as_deref())
            .collect();
        let mut closed = 0;
        let dangling: Vec<ToolCall> = turn
            .iter()
            .filter(|m| m.role == "assistant")
            .flat_map(|m| m.tool_calls.iter())
            .filter(|c| !answered.contains(c.id.as_str()))
            .map(|c| ToolCall {
                id: c.id.clone(),
                name: c.name.clone(),
                arguments: c.arguments.clone(),
            })
            .collect();
        for call in &dangling {
            self.store_blocking(
                session,
                &convert::tool_message(call, "stopped: the user stopped the turn", now_ms()),
                false,
            )?;
            closed += 1;
        }
        let ends_with_answer = turn
            .last()
            .is_some_and(|m| m.role == "assistant" && m.tool_calls.is_empty());
        if !ends_with_answer || closed > 0 {
            self.store_blocking(
                session,
                &StoredMessage::text("assistant", "[stopped by the user]", now_ms()),
                true,
            )?;
        }
        Ok(closed)
    }
}

/// What became of an earlier attempt at a cluster event's turn
/// ([`Agent::attempt`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// None: the event is new here.
    New,
    /// Its user message is stored, its answer is not: run the turn again
    /// without storing the message twice.
    Interrupted,
    /// Answered with this text: deliver it again (an edge delivers an
    /// event's answer once), do not run the turn.
    Answered(String),
}

/// [`Agent::attempt`] over a session's latest messages.
fn attempt_in(history: &[StoredMessage], event: &str) -> Attempt {
    let Some(at) = history
        .iter()
        .rposition(|m| m.role == "user" && m.event.as_deref() == Some(event))
    else {
        return Attempt::New;
    };
    // The turn's messages end where the next user message starts.
    let turn = &history[at + 1..];
    let end = turn
        .iter()
        .position(|m| m.role == "user")
        .unwrap_or(turn.len());
    match turn[..end]
        .iter()
        .rev()
        .find(|m| m.role == "assistant" && m.tool_calls.is_empty())
    {
        Some(answer) => Attempt::Answered(answer.content.clone()),
        None => Attempt::Interrupted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decision(at_ms: u64, outcome: &str) -> Decision {
        Decision {
            at_ms,
            tool: "system.run".into(),
            arguments: "{}".into(),
            outcome: outcome.into(),
            channel: "web".into(),
        }
    }

    #[test]
    fn decisions_are_kept_per_session_and_forgotten_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let memory = MemoryStore::open(&dir.path().join("m.redb")).unwrap();
        record(&memory, "web:a", &decision(1, "approved")).unwrap();
        record(&memory, "web:a", &decision(1, "rejected")).unwrap();
        record(&memory, "web:a#2", &decision(2, "approved")).unwrap();
        let outcomes = |s: &str| -> Vec<String> {
            decisions(&memory, s)
                .unwrap()
                .into_iter()
                .map(|d| d.outcome)
                .collect()
        };
        assert_eq!(outcomes("web:a"), ["approved", "rejected"]);
        assert_eq!(forget_decisions(&memory, "web:a").unwrap(), 2);
        assert!(outcomes("web:a").is_empty());
        assert_eq!(
            outcomes("web:a#2"),
            ["approved"],
            "another session keeps its own"
        );
    }

    #[test]
    fn an_earlier_attempt_is_found_by_its_event_and_read_to_its_answer() {
        let user = |text: &str, event: Option<&str>| StoredMessage {
            event: event.map(str::to_string),
            ..StoredMessage::text("user", text, 1)
        };
        let mut calling = StoredMessage::text("assistant", "", 2);
        calling
            .tool_calls
            .push(crate::memory::sessions::StoredToolCall {
                id: "c1".into(),
                name: "system.run".into(),
                arguments: "{}".into(),
            });
        let history = vec![
            user("one", Some("e1")),
            calling.clone(),
            StoredMessage::text("tool", "ok", 3),
            StoredMessage::text("assistant", "done one", 4),
            user("two", Some("e2")),
            calling,
            user("three", None),
            StoredMessage::text("assistant", "done three", 5),
        ];
        assert_eq!(
            attempt_in(&history, "e1"),
            Attempt::Answered("done one".into())
        );
        // e2's turn stopped after a tool call: the answer after the next
        // user message is that message's, not e2's.
        assert_eq!(attempt_in(&history, "e2"), Attempt::Interrupted);
        assert_eq!(attempt_in(&history, "e3"), Attempt::New);
    }
}
