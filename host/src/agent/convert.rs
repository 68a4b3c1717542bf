//! Between stored messages and the WIT message type.

use crate::memory::sessions::{StoredMessage, StoredToolCall};
use crate::runtime::bindings::{Message, Role, ToolCall};

fn role_name(role: Role) -> &'static str {
    match role {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::Tool => "tool",
    }
}

fn role_of(name: &str) -> Role {
    match name {
        "system" => Role::System,
        "assistant" => Role::Assistant,
        "tool" => Role::Tool,
        _ => Role::User,
    }
}

/// A stored message as the provider sees it.
pub fn to_wit(m: &StoredMessage) -> Message {
    Message {
        role: role_of(&m.role),
        content: m.content.clone(),
        tool_calls: m
            .tool_calls
            .iter()
            .map(|c| ToolCall {
                id: c.id.clone(),
                name: c.name.clone(),
                arguments: c.arguments.clone(),
            })
            .collect(),
        tool_call_id: m.tool_call_id.clone(),
        attachments: Vec::new(),
    }
}

/// A WIT message as stored (attachments by name and type only).
pub fn to_stored(m: &Message, at_ms: u64) -> StoredMessage {
    StoredMessage {
        role: role_name(m.role).into(),
        content: m.content.clone(),
        tool_calls: m
            .tool_calls
            .iter()
            .map(|c| StoredToolCall {
                id: c.id.clone(),
                name: c.name.clone(),
                arguments: c.arguments.clone(),
            })
            .collect(),
        tool_call_id: m.tool_call_id.clone(),
        attachments: m
            .attachments
            .iter()
            .map(|a| format!("{} ({})", a.name.clone().unwrap_or_default(), a.mime))
            .collect(),
        at_ms,
        event: None,
    }
}

pub(super) fn system(text: String) -> Message {
    Message {
        role: Role::System,
        content: text,
        tool_calls: Vec::new(),
        tool_call_id: None,
        attachments: Vec::new(),
    }
}

pub(super) fn tool_message(call: &ToolCall, content: &str, at_ms: u64) -> StoredMessage {
    StoredMessage {
        role: "tool".into(),
        content: content.into(),
        tool_calls: Vec::new(),
        tool_call_id: Some(call.id.clone()),
        attachments: Vec::new(),
        at_ms,
        event: None,
    }
}
