//! Fuzzing of the server frames as the browser reads them (target
//! `web_server_frame`, seeds in fuzz/corpus/web_server_frame): a frame
//! that parses, written back as JSON, parses to the same frame, and an
//! attachment becomes an image only through a well-formed `data:` URL; an
//! approval's id can be answered, a choice's command is a command, and so
//! are the commands a listed session's buttons send.

use serde_json::{Value, json};

use crate::approval::{Answer, is_command};
use crate::sessions::{HistoryRole, history_entries, rename_command};

use super::{AgentState, Attachment, ServerFrame, data_url, split_data_url};

/// `frame` as the JSON the server would send for it.
fn server_json(frame: &ServerFrame) -> Value {
    match frame {
        ServerFrame::Ready {
            session,
            client_id,
            version,
        } => {
            json!({"type": "ready", "session": session, "client_id": client_id, "version": version})
        }
        ServerFrame::Ack { id } => json!({"type": "ack", "id": id}),
        ServerFrame::Status { state } => {
            let state = match state {
                AgentState::Thinking => "thinking",
                AgentState::Typing => "typing",
                AgentState::Idle => "idle",
                AgentState::Unknown => "some-future-state",
            };
            json!({"type": "status", "state": state})
        }
        ServerFrame::Delta { text } => json!({"type": "delta", "text": text}),
        ServerFrame::User { text, attachments } => {
            json!({"type": "user", "text": text, "attachments": attachments})
        }
        ServerFrame::Message {
            text,
            attachments,
            error,
        } => json!({"type": "message", "text": text, "attachments": attachments, "error": error}),
        ServerFrame::Pong { t } => json!({"type": "pong", "t": t}),
        ServerFrame::Error { message } => json!({"type": "error", "message": message}),
        ServerFrame::Approval {
            id,
            tool,
            arguments,
            folder,
            requester,
            timeout_secs,
        } => json!({
            "type": "approval", "id": id, "tool": tool, "arguments": arguments,
            "folder": folder, "requester": requester, "timeout_secs": timeout_secs
        }),
        ServerFrame::Settled { id, how } => json!({"type": "settled", "id": id, "how": how.name()}),
        ServerFrame::Choices { text, buttons } => {
            let buttons: Vec<Value> = buttons
                .iter()
                .map(|b| json!({"label": b.label, "command": b.command}))
                .collect();
            json!({"type": "choices", "text": text, "buttons": buttons})
        }
        ServerFrame::Sessions { items } => json!({"type": "sessions", "items": items}),
        ServerFrame::History { title, messages } => {
            let messages: Vec<Value> = messages
                .iter()
                .map(|m| {
                    let role = match m.role {
                        HistoryRole::User => "user",
                        HistoryRole::Assistant => "assistant",
                        HistoryRole::Unknown => "some-future-role",
                    };
                    json!({"role": role, "text": m.text})
                })
                .collect();
            json!({"type": "history", "title": title, "messages": messages})
        }
        ServerFrame::Unknown => json!({"type": "some-future-frame"}),
    }
}

/// What showing `a` as an image must satisfy.
fn check_image(a: &Attachment) {
    let Some(url) = data_url(a) else { return };
    assert!(
        !url.contains(|c: char| c.is_whitespace() || "\"'<>`\\".contains(c)),
        "{url}"
    );
    assert_eq!(
        split_data_url(&url),
        Some((a.mime.as_str(), a.data.as_str()))
    );
}

#[test]
fn fuzz_web_server_frame() {
    openpista_fuzz::run_str("web_server_frame", |text| {
        let Ok(frame) = ServerFrame::parse(text) else {
            return;
        };
        let again = server_json(&frame).to_string();
        assert_eq!(ServerFrame::parse(&again), Ok(frame.clone()), "{again}");
        match &frame {
            ServerFrame::Message { attachments, .. } => attachments.iter().for_each(check_image),
            ServerFrame::Approval { id, .. } | ServerFrame::Settled { id, .. } => {
                // The id goes into a command and a CSS selector unescaped.
                assert!(Answer::Approve.command(id).is_ok(), "{id:?}");
            }
            ServerFrame::Choices { buttons, .. } => {
                assert!(
                    buttons.iter().all(|b| is_command(&b.command)),
                    "{buttons:?}"
                );
            }
            ServerFrame::Sessions { items } => {
                // A session's buttons send commands made of its number and
                // whatever title the person types.
                for item in items {
                    for command in [item.switch_command(), item.delete_command()] {
                        assert!(is_command(&command), "{command:?}");
                    }
                    if let Some(command) = rename_command(item.number, &item.title) {
                        assert!(
                            is_command(&command) && !command.contains('\n'),
                            "{command:?}"
                        );
                    }
                }
            }
            ServerFrame::History { messages, .. } => {
                let known = messages
                    .iter()
                    .filter(|m| m.role != HistoryRole::Unknown)
                    .count();
                assert_eq!(history_entries(messages).len(), known);
            }
            _ => {}
        }
    });
}

#[test]
fn every_seed_parses() {
    for (name, seed) in openpista_fuzz::corpus("web_server_frame") {
        let text = String::from_utf8(seed).expect("seeds are UTF-8");
        let frame = ServerFrame::parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            frame == ServerFrame::Unknown,
            name.starts_with("unknown"),
            "{name}: {frame:?}"
        );
    }
}
