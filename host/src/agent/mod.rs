//! The ReAct loop: the conversation and the tool list go to the provider
//! component; the tool calls it asks for run (concurrently within a round);
//! their results go back; the loop ends on a text answer or at the round
//! limit, and says so. Every message, call and result is stored.

pub mod control;
mod convert;
mod history;
mod spans;
pub mod window;

use crate::memory::sessions::StoredMessage;
use crate::memory::{MemoryStore, now_ms};
use crate::runtime::bindings::{Attachment, ChatRequest, Role, StreamEvent, ToolCall};
use crate::runtime::{CallContext, CallError, Runtime};
use crate::telemetry::metrics;
use crate::tools::ToolRegistry;
use std::collections::HashMap;
use std::sync::Arc;
use tracing::Instrument;

pub use control::{Decision, TurnControl};
pub use convert::{to_stored, to_wit};

/// What shapes the agent's behaviour (`[agent]` in the config).
#[derive(Debug, Clone)]
pub struct AgentSettings {
    /// The component (or provider alias) that answers by default.
    pub provider: String,
    /// The config's name for it (`[providers.NAME]`, or `echo`).
    pub provider_name: String,
    /// Every loaded provider, config name to component: a conversation
    /// may switch to any of them ([`TurnInput::provider`]).
    pub providers: std::collections::BTreeMap<String, String>,
    /// Model to ask for; `None`: the provider's configured default.
    pub model: Option<String>,
    pub max_tool_rounds: u32,
    /// Longest tool output the model sees, in characters.
    pub tool_output_limit: usize,
    /// The base system prompt.
    pub system_prompt: String,
    /// Skill instructions appended to the system prompt on every request;
    /// shared with the skill set, which replaces them when skills change.
    pub skill_context: crate::skills::SkillContext,
    /// Messages of history sent with each request.
    pub history_limit: usize,
    /// Which tool calls wait for a person (`[approvals]`).
    pub approvals: Arc<crate::approvals::Approvals>,
}

impl Default for AgentSettings {
    fn default() -> Self {
        AgentSettings {
            provider: "llm-echo".into(),
            provider_name: "echo".into(),
            providers: [("echo".to_string(), "llm-echo".to_string())].into(),
            model: None,
            max_tool_rounds: 10,
            tool_output_limit: 10_000,
            system_prompt: "You are openpista, an agent that acts on this computer for its owner \
                            through the tools you are given. Use tools when they help; answer \
                            plainly and briefly."
                .into(),
            skill_context: Default::default(),
            history_limit: 200,
            approvals: Default::default(),
        }
    }
}

/// Progress of a turn, for front ends that show it as it happens.
#[derive(Debug, Clone, PartialEq)]
pub enum TurnEvent {
    /// More answer text.
    Text(String),
    /// A tool call is starting.
    ToolStarted { name: String, arguments: String },
    /// A tool call ended.
    ToolFinished { name: String, ok: bool },
}

/// How a turn ended.
#[derive(Debug, Clone)]
pub struct TurnOutcome {
    /// The answer shown to the user (including a round-limit notice).
    pub answer: String,
    /// Files the turn's tool calls produced (screenshots, say), in call
    /// order, for the channel to show beside the answer.
    pub attachments: Vec<Attachment>,
    pub tool_calls: usize,
    pub rounds: u32,
    /// True when the round limit stopped the loop.
    pub hit_round_limit: bool,
}

/// What a user sent for one turn.
#[derive(Debug, Clone, Default)]
pub struct TurnInput {
    pub text: String,
    /// Files the user attached (a photo from the phone). The model sees
    /// them during this turn; memory keeps their names.
    pub attachments: Vec<Attachment>,
    /// A model for this turn instead of the configured one.
    pub model: Option<String>,
    /// A provider for this turn instead of the default, by its config
    /// name (a key of [`AgentSettings::providers`]); `model` is then that
    /// provider's model, or its own default when `None`.
    pub provider: Option<String>,
    /// Where the turn came from and who can approve its calls.
    pub control: TurnControl,
    /// The cluster event this turn answers, kept with the user message
    /// ([`Agent::attempt`] finds it again).
    pub event: Option<String>,
    /// True when an earlier attempt at this event stored the user message
    /// already (and was interrupted): it is not stored twice.
    pub redo: bool,
}

impl TurnInput {
    pub fn text(text: impl Into<String>) -> TurnInput {
        TurnInput {
            text: text.into(),
            ..Default::default()
        }
    }
}

/// Why a turn failed; the message is for the user.
#[derive(Debug, Clone, PartialEq)]
pub struct TurnError(pub String);

impl std::fmt::Display for TurnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TurnError {}

/// The agent: a provider, the tools and the memory.
pub struct Agent {
    pub runtime: Arc<Runtime>,
    pub tools: Arc<ToolRegistry>,
    pub memory: Arc<MemoryStore>,
    pub settings: AgentSettings,
}

/// Cuts `text` to `limit` characters with a marker saying how much went.
pub fn truncate_output(text: &str, limit: usize) -> String {
    let total = text.chars().count();
    if total <= limit {
        return text.to_string();
    }
    let kept: String = text.chars().take(limit).collect();
    format!(
        "{kept}\n[output cut: showing {limit} of {total} characters, {} omitted]",
        total - limit
    )
}

/// An append's outcome as the turn reports it.
fn stored(appended: anyhow::Result<u64>) -> Result<(), TurnError> {
    appended.map(|_| ()).map_err(|e| {
        metrics::error(metrics::ErrorKind::Storage);
        TurnError(format!("could not store the conversation: {e:#}"))
    })
}

impl Agent {
    /// Stores a message durably (the user's message, the final answer).
    async fn store(&self, session: &str, message: &StoredMessage) -> Result<(), TurnError> {
        self.store_with(session, message, true).await
    }

    /// Stores a step inside the turn; made durable by the turn's last write.
    async fn store_step(&self, session: &str, message: &StoredMessage) -> Result<(), TurnError> {
        self.store_with(session, message, false).await
    }

    async fn store_with(
        &self,
        session: &str,
        message: &StoredMessage,
        durable: bool,
    ) -> Result<(), TurnError> {
        stored(self.memory.append_async(session, message, durable).await)
    }

    /// [`store_with`](Self::store_with) for callers outside the runtime
    /// (it blocks the thread until the commit).
    fn store_blocking(
        &self,
        session: &str,
        message: &StoredMessage,
        durable: bool,
    ) -> Result<(), TurnError> {
        stored(self.memory.append_with(session, message, durable))
    }

    fn system_prompt(&self) -> String {
        let mut prompt = self.settings.system_prompt.clone();
        let skills = self.settings.skill_context.get();
        if !skills.is_empty() {
            prompt.push_str("\n\n");
            prompt.push_str(&skills);
        }
        prompt
    }

    /// Runs one user turn in `session`, reporting progress to `on_event`.
    pub async fn turn(
        &self,
        session: &str,
        user_text: &str,
        on_event: impl FnMut(TurnEvent),
    ) -> Result<TurnOutcome, TurnError> {
        self.turn_with(session, TurnInput::text(user_text), on_event)
            .await
    }

    /// The component and model a turn asks: the input's provider and
    /// model when it names them, else the configured default.
    fn provider_for(&self, input: &TurnInput) -> Result<(String, Option<String>), TurnError> {
        match &input.provider {
            Some(name) if *name != self.settings.provider_name => {
                let component = self.settings.providers.get(name).ok_or_else(|| {
                    TurnError(format!(
                        "this conversation uses the provider {name:?}, which the config no longer \
                         names; /model PROVIDER/MODEL picks another (configured: {})",
                        self.settings
                            .providers
                            .keys()
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                })?;
                Ok((component.clone(), input.model.clone()))
            }
            _ => Ok((
                self.settings.provider.clone(),
                input.model.clone().or_else(|| self.settings.model.clone()),
            )),
        }
    }

    /// [`Agent::turn`] with attachments and a model override.
    pub async fn turn_with(
        &self,
        session: &str,
        input: TurnInput,
        on_event: impl FnMut(TurnEvent),
    ) -> Result<TurnOutcome, TurnError> {
        let started = std::time::Instant::now();
        let (component, model) = self.provider_for(&input)?;
        let labels = (
            component.clone(),
            model.clone().unwrap_or_else(|| "default".into()),
        );
        let span = spans::turn(session, &labels.0, &labels.1, &input.text);
        let outcome = self
            .run_turn(session, input, component, model, on_event)
            .instrument(span.clone())
            .await;
        spans::turn_ended(&span, &outcome);
        metrics::turn(&labels.0, &labels.1, outcome.is_ok(), started.elapsed());
        outcome
    }

    /// [`turn_with`](Self::turn_with) once the provider is chosen.
    async fn run_turn(
        &self,
        session: &str,
        input: TurnInput,
        component: String,
        model: Option<String>,
        mut on_event: impl FnMut(TurnEvent),
    ) -> Result<TurnOutcome, TurnError> {
        let user_text = input.text.as_str();
        let provider = self.runtime.get(&component).ok_or_else(|| {
            TurnError(format!(
                "the provider {component:?} is not loaded; check `openpista component list` for its error",
            ))
        })?;
        if !input.redo {
            self.store(
                session,
                &StoredMessage {
                    role: "user".into(),
                    content: user_text.into(),
                    tool_calls: Vec::new(),
                    tool_call_id: None,
                    attachments: input
                        .attachments
                        .iter()
                        .map(|a| format!("{} ({})", a.name.clone().unwrap_or_default(), a.mime))
                        .collect(),
                    at_ms: now_ms(),
                    event: input.event.clone(),
                },
            )
            .await?;
        }
        let facts = provider.model_info(model.as_deref()).await;
        // A model that takes no tools is offered none; the history is cut
        // to what its window holds after the system prompt and the tools.
        let all = self.tools.list().into_iter().map(|e| e.spec).collect();
        let tools = window::offered_tools(facts.as_ref(), all);
        let history_budget = window::history_budget(facts.as_ref(), &self.system_prompt(), &tools);
        let mut tool_calls_run = 0;
        let mut round = 0u32;
        // Files tool calls of this turn returned, by call id. Memory keeps
        // only their names; within the turn the model sees the files
        // themselves (a screenshot it asked for), later turns do not pay
        // for them again.
        let mut files: HashMap<String, Vec<Attachment>> = HashMap::new();
        let mut produced: Vec<Attachment> = Vec::new();
        loop {
            let history = self
                .memory
                .messages(session, self.settings.history_limit)
                .map_err(|e| {
                    metrics::error(metrics::ErrorKind::Storage);
                    TurnError(format!("could not read the conversation: {e:#}"))
                })?;
            let history = match history_budget {
                Some(budget) => &history[window::first_to_send(&history, budget)..],
                None => &history[..],
            };
            let mut messages = vec![convert::system(self.system_prompt())];
            // This turn's user message is the last user message stored.
            let this_turn = history.iter().rposition(|m| m.role == "user");
            let sent = history.iter().enumerate().map(|(i, stored)| {
                let mut m = to_wit(stored);
                if m.role == Role::Tool
                    && let Some(found) = m.tool_call_id.as_ref().and_then(|id| files.get(id))
                {
                    m.attachments = found.clone();
                }
                if Some(i) == this_turn {
                    m.attachments = input.attachments.clone();
                }
                m
            });
            // The history may come from another provider (the session
            // switched) or from a stopped turn: send it in a shape every
            // API takes.
            messages.extend(history::sendable(sent.collect(), !tools.is_empty()));
            let request = ChatRequest {
                model: model.clone(),
                messages,
                tools: tools.clone(),
                temperature: None,
                max_tokens: None,
            };
            let (text, calls) = self
                .ask(&provider, &request, &mut on_event)
                .await
                .map_err(|e| TurnError(format!("the model provider failed: {e}")))?;
            self.store_with(
                session,
                &StoredMessage {
                    role: "assistant".into(),
                    content: text.clone(),
                    tool_calls: calls
                        .iter()
                        .map(|c| crate::memory::sessions::StoredToolCall {
                            id: c.id.clone(),
                            name: c.name.clone(),
                            arguments: c.arguments.clone(),
                        })
                        .collect(),
                    tool_call_id: None,
                    attachments: Vec::new(),
                    at_ms: now_ms(),
                    event: None,
                },
                // The final answer ends the turn durably; a tool-calling
                // step is made durable by that final write.
                calls.is_empty(),
            )
            .await?;
            if calls.is_empty() {
                return Ok(TurnOutcome {
                    answer: text,
                    attachments: produced,
                    tool_calls: tool_calls_run,
                    rounds: round,
                    hit_round_limit: false,
                });
            }
            if round >= self.settings.max_tool_rounds {
                let notice = format!(
                    "I stopped after {} rounds of tool calls (the limit is max_tool_rounds = {}) without a final answer. Ask me to continue, or raise the limit.",
                    round, self.settings.max_tool_rounds
                );
                let answer = if text.is_empty() {
                    notice
                } else {
                    format!("{text}\n\n{notice}")
                };
                // Answer the dangling calls so the stored history stays valid.
                for call in &calls {
                    self.store(
                        session,
                        &convert::tool_message(
                            call,
                            "not run: the tool-round limit was reached",
                            now_ms(),
                        ),
                    )
                    .await?;
                }
                return Ok(TurnOutcome {
                    answer,
                    attachments: produced,
                    tool_calls: tool_calls_run,
                    rounds: round,
                    hit_round_limit: true,
                });
            }
            round += 1;
            tool_calls_run += calls.len();
            for call in &calls {
                on_event(TurnEvent::ToolStarted {
                    name: call.name.clone(),
                    arguments: call.arguments.clone(),
                });
            }
            let results = self.run_tools(session, &input.control, &calls).await;
            for (call, (content, ok, attachments)) in calls.iter().zip(results) {
                on_event(TurnEvent::ToolFinished {
                    name: call.name.clone(),
                    ok,
                });
                let mut stored = convert::tool_message(call, &content, now_ms());
                stored.attachments = attachments
                    .iter()
                    .map(|a| format!("{} ({})", a.name.clone().unwrap_or_default(), a.mime))
                    .collect();
                self.store_step(session, &stored).await?;
                if !attachments.is_empty() {
                    produced.extend(attachments.iter().cloned());
                    files.insert(call.id.clone(), attachments);
                }
            }
        }
    }

    /// Streams one answer from the provider: text and assembled tool calls.
    async fn ask(
        &self,
        provider: &crate::runtime::LoadedComponent,
        request: &ChatRequest,
        on_event: &mut impl FnMut(TurnEvent),
    ) -> Result<(String, Vec<ToolCall>), CallError> {
        let started = std::time::Instant::now();
        let model = request.model.as_deref().unwrap_or("default");
        let base = self.runtime.base_of(provider.name());
        let span = spans::chat(provider.name(), base, model);
        let answer = self
            .read_answer(provider, request, on_event)
            .instrument(span.clone())
            .await;
        if let Err(e) = &answer {
            spans::failed(&span, e);
        }
        metrics::provider_request(provider.name(), model, answer.is_ok(), started.elapsed());
        answer
    }

    /// [`ask`](Self::ask) without the timing.
    async fn read_answer(
        &self,
        provider: &crate::runtime::LoadedComponent,
        request: &ChatRequest,
        on_event: &mut impl FnMut(TurnEvent),
    ) -> Result<(String, Vec<ToolCall>), CallError> {
        let mut stream = provider.stream_chat(request).await?;
        let mut text = String::new();
        let mut calls: Vec<ToolCall> = Vec::new();
        while let Some(event) = stream.next().await? {
            match event {
                StreamEvent::Text(delta) => {
                    text.push_str(&delta);
                    on_event(TurnEvent::Text(delta));
                }
                StreamEvent::ToolCall(delta) => {
                    let i = delta.index as usize;
                    while calls.len() <= i {
                        calls.push(ToolCall {
                            id: String::new(),
                            name: String::new(),
                            arguments: String::new(),
                        });
                    }
                    if let Some(id) = delta.id {
                        calls[i].id = id;
                    }
                    if let Some(name) = delta.name {
                        calls[i].name.push_str(&name);
                    }
                    calls[i].arguments.push_str(&delta.arguments);
                }
                StreamEvent::Finished(end) => {
                    spans::finished(&end);
                    if let Some(usage) = end.usage {
                        metrics::tokens(
                            provider.name(),
                            request.model.as_deref().unwrap_or("default"),
                            usage.input_tokens,
                            usage.output_tokens,
                        );
                    }
                }
            }
        }
        calls.retain(|c| !c.name.is_empty());
        for (i, call) in calls.iter_mut().enumerate() {
            if call.id.is_empty() {
                call.id = format!("call_{i}");
            }
            if call.arguments.trim().is_empty() {
                call.arguments = "{}".into();
            }
        }
        Ok((text, calls))
    }

    /// Runs a round's tool calls concurrently, once each has its approval
    /// (asked one after another, in call order); returns (content, ok,
    /// attachments) in call order. A call that may not run answers the
    /// model with why.
    async fn run_tools(
        &self,
        session: &str,
        control: &TurnControl,
        calls: &[ToolCall],
    ) -> Vec<(String, bool, Vec<Attachment>)> {
        let mut results = vec![(String::new(), false, Vec::new()); calls.len()];
        let mut set = tokio::task::JoinSet::new();
        for (i, call) in calls.iter().enumerate() {
            let outcome = self.approve(session, control, call).await;
            if !outcome.runs() {
                results[i] = (outcome.for_model(&call.name), false, Vec::new());
                continue;
            }
            let tools = self.tools.clone();
            let call = call.clone();
            let context = CallContext {
                session: Some(session.to_string()),
                call_id: call.id.clone(),
            };
            let span = spans::tool(&call.name, &call.id);
            let traced = span.clone();
            set.spawn(
                async move {
                    let started = std::time::Instant::now();
                    let outcome = tools.invoke(&call.name, &call.arguments, &context).await;
                    let ok = outcome.as_ref().is_ok_and(|r| !r.is_error);
                    metrics::tool_call(&call.name, ok, started.elapsed());
                    if !ok {
                        traced.record("error.type", "tool_error");
                    }
                    tracing::info!(tool = %call.name, ok, "tool call");
                    (i, outcome)
                }
                .instrument(span),
            );
        }
        while let Some(joined) = set.join_next().await {
            let Ok((i, outcome)) = joined else { continue };
            results[i] = match outcome {
                Ok(r) => (
                    truncate_output(&r.content, self.settings.tool_output_limit),
                    !r.is_error,
                    r.attachments,
                ),
                Err(e) => (format!("error: {e}"), false, Vec::new()),
            };
        }
        results
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_marker_says_how_much_was_cut() {
        assert_eq!(truncate_output("short", 10), "short");
        let cut = truncate_output(&"é".repeat(25), 10);
        assert!(cut.starts_with(&"é".repeat(10)));
        assert!(cut.ends_with("[output cut: showing 10 of 25 characters, 15 omitted]"));
    }
}
