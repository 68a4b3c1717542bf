//! Several sessions per conversation: `/new` starts one, `/sessions`
//! lists and switches them. A channel names only its conversation
//! (`telegram:42`); which session of it is active is the host's, kept in
//! memory so a restart keeps it. The first session is the conversation's
//! own id; later ones are `ID:CONVERSATION#N`. Answers always go to the
//! conversation, whichever session is active.

use super::Gateway;
use crate::runtime::bindings::{HistoryEntry, SessionEntry, Speaker};

/// The host's key-value namespace for this (no component can be named
/// with `@`).
const NS: &str = "@sessions";

/// How many of a session's last messages a channel that shows histories
/// is sent when the conversation switches to it.
const HISTORY_MESSAGES: usize = 200;
/// How much of each, in characters.
const HISTORY_CHARS: usize = 8000;

/// One session of a conversation, as `/sessions` lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRow {
    pub id: String,
    pub title: Option<String>,
    pub messages: u64,
    pub last_active_ms: u64,
    pub active: bool,
}

impl Gateway {
    fn kv_get(&self, key: &str) -> Option<String> {
        match self.agent.memory.kv_get(NS, key) {
            Ok(v) => v.map(|b| String::from_utf8_lossy(&b).into_owned()),
            Err(e) => {
                tracing::warn!("session state {key} unreadable: {e:#}");
                None
            }
        }
    }

    fn kv_set(&self, key: &str, value: &str) -> anyhow::Result<()> {
        self.agent.memory.kv_set(NS, key, value.as_bytes())
    }

    /// The session the conversation `base` (`ID:CONVERSATION`) talks in
    /// now.
    pub fn active_session(&self, base: &str) -> String {
        self.kv_get(&format!("active/{base}"))
            .filter(|s| s == base || s.starts_with(&format!("{base}#")))
            .unwrap_or_else(|| base.to_string())
    }

    /// Starts a new session in conversation `base` and makes it active.
    pub fn new_session(&self, base: &str, title: Option<&str>) -> anyhow::Result<String> {
        let n = self
            .kv_get(&format!("next/{base}"))
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(2);
        let id = format!("{base}#{n}");
        self.kv_set(&format!("next/{base}"), &(n + 1).to_string())?;
        self.agent.memory.create_session(&id)?;
        if let Some(title) = title.filter(|t| !t.trim().is_empty()) {
            self.kv_set(&format!("title/{id}"), title.trim())?;
        }
        self.kv_set(&format!("active/{base}"), &id)?;
        Ok(id)
    }

    /// The sessions of conversation `base`, oldest first.
    pub fn conversation_sessions(&self, base: &str) -> anyhow::Result<Vec<SessionRow>> {
        let active = self.active_session(base);
        let mut rows: Vec<SessionRow> = self
            .agent
            .memory
            .sessions()?
            .into_iter()
            .filter(|s| s.id == base || s.id.starts_with(&format!("{base}#")))
            .map(|s| SessionRow {
                title: self.kv_get(&format!("title/{}", s.id)),
                active: s.id == active,
                id: s.id,
                messages: s.messages,
                last_active_ms: s.last_active_ms,
            })
            .collect();
        if !rows.iter().any(|r| r.id == base) {
            rows.push(SessionRow {
                id: base.to_string(),
                title: None,
                messages: 0,
                last_active_ms: 0,
                active: active == base,
            });
        }
        let order = |id: &str| -> u64 {
            id.rsplit_once('#')
                .filter(|(b, _)| *b == base)
                .and_then(|(_, n)| n.parse().ok())
                .unwrap_or(1)
        };
        rows.sort_by_key(|r| order(&r.id));
        Ok(rows)
    }

    /// The sessions of conversation `base` as a channel lists them.
    pub fn session_entries(&self, base: &str) -> anyhow::Result<Vec<SessionEntry>> {
        Ok(self
            .conversation_sessions(base)?
            .into_iter()
            .enumerate()
            .map(|(i, r)| SessionEntry {
                number: u32::try_from(i + 1).unwrap_or(u32::MAX),
                title: r.title.unwrap_or(r.id),
                messages: u32::try_from(r.messages).unwrap_or(u32::MAX),
                active: r.active,
            })
            .collect())
    }

    /// Session `id`'s title and the history a channel shows when the
    /// conversation switches to it: what the person wrote and what the
    /// agent answered (not tool calls), the newest [`HISTORY_MESSAGES`],
    /// each cut at [`HISTORY_CHARS`].
    pub fn session_history(&self, id: &str) -> (String, Vec<HistoryEntry>) {
        let title = self
            .kv_get(&format!("title/{id}"))
            .unwrap_or_else(|| id.to_string());
        // Tool calls and results are most of a busy session: read more
        // than are shown.
        let stored = match self.agent.memory.messages(id, HISTORY_MESSAGES * 4) {
            Ok(stored) => stored,
            Err(e) => {
                tracing::warn!("the history of {id} is unreadable: {e:#}");
                Vec::new()
            }
        };
        let mut history: Vec<HistoryEntry> = stored
            .into_iter()
            .filter(|m| !m.content.trim().is_empty())
            .filter_map(|m| {
                let speaker = match m.role.as_str() {
                    "user" => Speaker::User,
                    "assistant" => Speaker::Assistant,
                    _ => return None,
                };
                let mut text: String = m.content.chars().take(HISTORY_CHARS).collect();
                if text.len() < m.content.len() {
                    text.push('…');
                }
                Some(HistoryEntry { speaker, text })
            })
            .collect();
        let start = history.len().saturating_sub(HISTORY_MESSAGES);
        history.drain(..start);
        (title, history)
    }

    /// Makes session `id` of conversation `base` active.
    pub fn switch_session(&self, base: &str, id: &str) -> anyhow::Result<()> {
        self.kv_set(&format!("active/{base}"), id)
    }

    /// Names session `id`.
    pub fn rename_session(&self, id: &str, title: &str) -> anyhow::Result<()> {
        self.kv_set(&format!("title/{id}"), title.trim())
    }

    /// Deletes session `id` of conversation `base`; the conversation's
    /// first session becomes active when it was the active one.
    pub fn delete_session(&self, base: &str, id: &str) -> anyhow::Result<()> {
        self.agent.forget_session(id)?;
        self.agent.memory.kv_delete(NS, &format!("title/{id}"))?;
        self.agent.memory.kv_delete(NS, &format!("model/{id}"))?;
        self.agent.memory.kv_delete(NS, &format!("provider/{id}"))?;
        if self.active_session(base) == id {
            self.kv_set(&format!("active/{base}"), base)?;
        }
        Ok(())
    }

    /// The provider and model chosen for session `id` with `/model`.
    pub fn session_model(&self, id: &str) -> ModelChoice {
        ModelChoice {
            provider: self.kv_get(&format!("provider/{id}")),
            model: self.kv_get(&format!("model/{id}")),
        }
    }

    /// Chooses `choice` for session `id`: its provider (none: the
    /// default) and its model (none: that provider's own default).
    pub fn set_session_model(&self, id: &str, choice: &ModelChoice) -> anyhow::Result<()> {
        for (key, value) in [("provider", &choice.provider), ("model", &choice.model)] {
            match value {
                Some(v) => self.kv_set(&format!("{key}/{id}"), v)?,
                None => {
                    self.agent.memory.kv_delete(NS, &format!("{key}/{id}"))?;
                }
            }
        }
        Ok(())
    }
}

/// What a conversation answers with: a provider by its config name and a
/// model of it; `None` in either means the configured default.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelChoice {
    pub provider: Option<String>,
    pub model: Option<String>,
}
