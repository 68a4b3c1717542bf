//! Slash commands every channel shares. A channel component recognises
//! them and passes them on as events with `command` (and `args`)
//! metadata; the gateway answers here, in the session's order.

use super::Gateway;

/// The commands, as `/help` lists them.
pub const HELP: &str = "/clear — forget this conversation\n/session — show this conversation's id and size\n/model [NAME] — show the model, or use NAME for this conversation\n/stop — stop what the agent is doing\n/approve ID, /reject ID, /allow ID — answer an approval request\n/help — this list";

/// Runs `command` for `session`; returns the answer and whether it is an
/// error.
pub async fn run(gateway: &Gateway, session: &str, command: &str, args: &str) -> (String, bool) {
    let agent = gateway.agent();
    match command {
        "clear" => match agent.memory.delete_session(session) {
            Ok(_) => {
                agent.settings.approvals.forget(session);
                ("This conversation is cleared.".into(), false)
            }
            Err(e) => (format!("could not clear the conversation: {e:#}"), true),
        },
        "session" => match agent.memory.session(session) {
            Ok(Some(s)) => (
                format!("Session {session}: {} messages stored.", s.messages),
                false,
            ),
            Ok(None) => (format!("Session {session}: nothing stored yet."), false),
            Err(e) => (format!("could not read the session: {e:#}"), true),
        },
        "model" => {
            let name = args.trim();
            if name.is_empty() {
                let chosen = gateway.models.lock().unwrap().get(session).cloned();
                let model = chosen
                    .or_else(|| agent.settings.model.clone())
                    .unwrap_or_else(|| "the provider's default".into());
                (
                    format!("Provider {}, model {model}.", agent.settings.provider),
                    false,
                )
            } else {
                gateway
                    .models
                    .lock()
                    .unwrap()
                    .insert(session.to_string(), name.to_string());
                (
                    format!("This conversation now uses the model {name}."),
                    false,
                )
            }
        }
        "help" => (HELP.into(), false),
        other => (format!("unknown command /{other}\n{HELP}"), true),
    }
}
