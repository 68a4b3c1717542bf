//! Slash commands every channel shares. A channel component recognises
//! them and passes them on as events with the typed `command`; the gateway
//! answers here, in the session's order. (`/stop` and the answers to
//! approval requests are handled on arrival, in `control`.)
//!
//! An answer may offer buttons for follow-up commands (`/model NAME`,
//! `/sessions N`); channels without buttons get the text, which names the
//! commands to type.

use super::Gateway;
use crate::runtime::bindings::Button;

/// The commands, as `/help` lists them.
pub const HELP: &str = "/new [TITLE] — start a new conversation (the old one is kept)\n/sessions — list this chat's conversations; /sessions N switches, /sessions rename N TITLE, /sessions delete N\n/clear — forget the current conversation\n/session — show the current conversation's id and size\n/model [NAME | PROVIDER/MODEL] — list the models, or use one for this conversation\n/stop — stop what the agent is doing\n/approve ID, /reject ID, /allow ID — answer an approval request\n/prompt [NAME ARGS] — list the MCP servers' prompts, or send one\n/help — this list";

/// A command's answer.
#[derive(Debug, Clone, Default)]
pub struct Reply {
    pub text: String,
    pub is_error: bool,
    /// Follow-up commands to offer as buttons.
    pub buttons: Vec<Button>,
    /// Then show the conversation's sessions where the channel lists them.
    pub list_sessions: bool,
    /// The list is the answer: no text when the channel showed it.
    pub list_is_answer: bool,
    /// The session the conversation switched to, whose history a channel
    /// that shows histories is sent.
    pub opened: Option<String>,
}

impl Reply {
    pub(super) fn ok(text: impl Into<String>) -> Reply {
        Reply {
            text: text.into(),
            ..Default::default()
        }
    }

    pub(super) fn error(text: impl Into<String>) -> Reply {
        Reply {
            text: text.into(),
            is_error: true,
            ..Default::default()
        }
    }
}

pub(super) fn button(label: impl Into<String>, name: &str, args: impl Into<String>) -> Button {
    Button {
        label: label.into(),
        name: name.into(),
        args: args.into(),
    }
}

/// Runs `command` for conversation `base`, whose active session is
/// `active`.
pub async fn run(gateway: &Gateway, base: &str, active: &str, command: &str, args: &str) -> Reply {
    let agent = gateway.agent();
    match command {
        "clear" => match agent.forget_session(active) {
            Ok(_) => Reply::ok("This conversation is cleared."),
            Err(e) => Reply::error(format!("could not clear the conversation: {e:#}")),
        },
        "session" => match agent.memory.session(active) {
            Ok(Some(s)) => Reply::ok(format!("Session {active}: {} messages stored.", s.messages)),
            Ok(None) => Reply::ok(format!("Session {active}: nothing stored yet.")),
            Err(e) => Reply::error(format!("could not read the session: {e:#}")),
        },
        "new" => match gateway.new_session(base, Some(args)) {
            Ok(id) => Reply {
                text: format!(
                    "A new conversation has started ({id}). /sessions lists the earlier ones."
                ),
                buttons: vec![button("Conversations", "sessions", "")],
                list_sessions: true,
                opened: Some(id),
                ..Default::default()
            },
            Err(e) => Reply::error(format!("could not start a conversation: {e:#}")),
        },
        "sessions" => sessions(gateway, base, args),
        "model" => super::model_command::run(gateway, active, args).await,
        "help" => Reply::ok(HELP),
        other => Reply::error(format!("unknown command /{other}\n{HELP}")),
    }
}

/// `/prompt NAME ARGS`: the prompt's text, which the turn then sends as
/// the message; `/prompt` alone (or an error) is answered as a reply.
pub async fn prompt(gateway: &Gateway, args: &str) -> Result<String, Reply> {
    let Some(mcp) = gateway.mcp() else {
        return Err(Reply::error(
            "no MCP servers are configured ([mcp.servers])",
        ));
    };
    let (name, rest) = args
        .trim()
        .split_once(char::is_whitespace)
        .unwrap_or((args.trim(), ""));
    if name.is_empty() {
        let prompts = mcp.prompts();
        if prompts.is_empty() {
            return Err(Reply::ok("The MCP servers offer no prompts."));
        }
        let mut text = String::from("Prompts of the MCP servers (/prompt NAME ARGS):\n");
        for p in prompts {
            let args: Vec<String> = p
                .arguments
                .iter()
                .map(|(n, required)| {
                    if *required {
                        n.clone()
                    } else {
                        format!("[{n}]")
                    }
                })
                .collect();
            text.push_str(&format!(
                "{}.{} {} — {}\n",
                p.server,
                p.name,
                args.join(" "),
                p.description.unwrap_or_default()
            ));
        }
        return Err(Reply::ok(text.trim_end()));
    }
    mcp.prompt_text(name, rest).await.map_err(Reply::error)
}

fn sessions(gateway: &Gateway, base: &str, args: &str) -> Reply {
    let rows = match gateway.conversation_sessions(base) {
        Ok(rows) => rows,
        Err(e) => return Reply::error(format!("could not list the conversations: {e:#}")),
    };
    let pick = |n: &str| -> Result<&super::sessions::SessionRow, Reply> {
        n.trim()
            .parse::<usize>()
            .ok()
            .and_then(|n| n.checked_sub(1))
            .and_then(|i| rows.get(i))
            .ok_or_else(|| {
                Reply::error(format!(
                    "no conversation {:?}: /sessions lists them, numbered 1 to {}",
                    n.trim(),
                    rows.len()
                ))
            })
    };
    let mut words = args.split_whitespace();
    let result = match (words.next(), words.next()) {
        (None, _) => {
            let mut text = String::from("Conversations in this chat:\n");
            let mut buttons = Vec::new();
            for (i, r) in rows.iter().enumerate() {
                let title = r.title.clone().unwrap_or_else(|| r.id.clone());
                text.push_str(&format!(
                    "{}. {title} — {} messages{}\n",
                    i + 1,
                    r.messages,
                    if r.active { " (current)" } else { "" }
                ));
                if !r.active {
                    buttons.push(button(
                        format!("{}. {title}", i + 1),
                        "sessions",
                        (i + 1).to_string(),
                    ));
                }
            }
            text.push_str("/sessions N switches, /new starts another.");
            buttons.push(button("New", "new", ""));
            return Reply {
                text,
                buttons,
                list_sessions: true,
                list_is_answer: true,
                ..Default::default()
            };
        }
        (Some("rename"), Some(n)) => pick(n).and_then(|r| {
            let title = args
                .trim()
                .strip_prefix("rename")
                .unwrap_or("")
                .trim()
                .strip_prefix(n)
                .unwrap_or("")
                .trim();
            if title.is_empty() {
                return Err(Reply::error("/sessions rename N TITLE needs a title"));
            }
            gateway
                .rename_session(&r.id, title)
                .map(|()| Reply::ok(format!("Conversation {n} is now called {title:?}.")))
                .map_err(|e| Reply::error(format!("{e:#}")))
        }),
        (Some("delete"), Some(n)) => pick(n).and_then(|r| {
            gateway
                .delete_session(base, &r.id)
                .map(|()| Reply::ok(format!("Conversation {n} ({}) is deleted.", r.id)))
                .map_err(|e| Reply::error(format!("{e:#}")))
        }),
        (Some(n), None) => pick(n).and_then(|r| {
            gateway
                .switch_session(base, &r.id)
                .map(|()| {
                    let mut text = format!(
                        "Now in conversation {n}: {} ({} messages).",
                        r.title.clone().unwrap_or_else(|| r.id.clone()),
                        r.messages
                    );
                    text.push_str(&recap(gateway, &r.id));
                    Reply {
                        opened: Some(r.id.clone()),
                        ..Reply::ok(text)
                    }
                })
                .map_err(|e| Reply::error(format!("{e:#}")))
        }),
        _ => Err(Reply::error(
            "/sessions, /sessions N, /sessions rename N TITLE or /sessions delete N",
        )),
    };
    // Renamed, deleted or switched: a channel's list shows it.
    let mut reply = result.unwrap_or_else(|e| e);
    reply.list_sessions = !reply.is_error;
    reply
}

/// How many of a session's last messages a switch shows.
const RECAP_MESSAGES: usize = 6;
/// How much of each one, in characters.
const RECAP_CHARS: usize = 200;

/// The last words of session `id`, so that a person switching to it in a
/// messenger or on the web page sees where it stood: user and assistant
/// text only, each cut short. Empty when there is nothing to show.
fn recap(gateway: &Gateway, id: &str) -> String {
    let Ok(stored) = gateway.agent().memory.messages(id, RECAP_MESSAGES * 3) else {
        return String::new();
    };
    let shown: Vec<String> = stored
        .iter()
        .filter(|m| (m.role == "user" || m.role == "assistant") && !m.content.trim().is_empty())
        .map(|m| {
            let who = if m.role == "user" { "you" } else { "agent" };
            let line = m.content.split_whitespace().collect::<Vec<_>>().join(" ");
            let cut: String = line.chars().take(RECAP_CHARS).collect();
            let more = if cut.len() < line.len() { "…" } else { "" };
            format!("{who}: {cut}{more}")
        })
        .collect();
    let start = shown.len().saturating_sub(RECAP_MESSAGES);
    if shown[start..].is_empty() {
        return String::new();
    }
    format!("\n\nWhere it stood:\n{}", shown[start..].join("\n"))
}
