//! Slash commands typed in the input or picked in the palette.

use super::action::{Choice, Effect, Query};
use super::overlays;
use super::state::{Busy, Overlay, Screen, State};
use super::transcript::Kind;
use super::update::Update;

/// Runs `line` when it is a command (`/name args`); `None` when it is an
/// ordinary message (text such as `/etc/hosts` is one).
pub fn run(state: &mut State, line: &str) -> Option<Update> {
    let rest = line.strip_prefix('/')?;
    let (name, args) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    let args = args.trim();
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return None;
    }
    let session = state.session.clone();
    let name = name.to_ascii_lowercase();
    let update = match (name.as_str(), args) {
        ("help", _) => {
            state.overlay = Some(Overlay::Help);
            Update::redraw(vec![])
        }
        ("new", _) => Update::redraw(vec![Effect::NewSession]),
        ("session" | "sessions", "") => {
            overlays::open_sessions(state);
            Update::redraw(vec![Effect::ListSessions])
        }
        ("session" | "sessions", id) => Update::redraw(vec![Effect::OpenSession(id.to_string())]),
        ("model", "") => {
            state.overlay = Some(Overlay::Models {
                query: String::new(),
                selected: 0,
            });
            Update::redraw(vec![Effect::ListModels])
        }
        ("model", model) => Update::redraw(vec![Effect::UseModel {
            session,
            model: model.to_string(),
        }]),
        ("login", "") => {
            state.overlay = Some(Overlay::Login { selected: 0 });
            Update::redraw(vec![Effect::ListLogins])
        }
        ("login", provider) => Update::redraw(vec![Effect::Login(provider.to_string())]),
        ("clear", _) => {
            state.transcript.clear();
            state.selected = None;
            Update::redraw(vec![Effect::Clear(session)])
        }
        ("stop", _) => stop(state),
        ("copy", _) => copy(state),
        ("components", _) => Update::redraw(vec![Effect::Query(Query::Components)]),
        ("skills", _) => Update::redraw(vec![Effect::Query(Query::Skills)]),
        ("workers", _) => Update::redraw(vec![Effect::Query(Query::Workers)]),
        ("telegram", "status" | "") => Update::redraw(vec![Effect::Query(Query::TelegramStatus)]),
        ("whatsapp", "status" | "") => Update::redraw(vec![Effect::Query(Query::WhatsAppStatus)]),
        ("whatsapp", "pair") => Update::redraw(vec![Effect::Query(Query::WhatsAppPair)]),
        ("home", _) => {
            state.screen = Screen::Home;
            Update::redraw(vec![Effect::Query(Query::Home)])
        }
        ("quit" | "exit", _) => {
            state.quit = true;
            Update::redraw(vec![Effect::Quit])
        }
        ("approve" | "allow" | "reject", id) if !id.is_empty() => {
            let choice = match name.as_str() {
                "approve" => Choice::Approve,
                "allow" => Choice::Allow,
                _ => Choice::Reject,
            };
            if state.approval.as_ref().is_some_and(|a| a.id == id) {
                state.approval = None;
            }
            Update::redraw(vec![Effect::Answer {
                id: id.to_string(),
                choice,
            }])
        }
        _ => {
            state.notice = Some((format!("unknown command {line}; /help lists them"), true));
            Update::redraw(vec![])
        }
    };
    Some(update)
}

/// `/stop`, Esc: cancels the running turn.
pub fn stop(state: &mut State) -> Update {
    if state.busy == Busy::Idle {
        state.notice = Some(("nothing is running".into(), false));
        return Update::redraw(vec![]);
    }
    state.busy = Busy::Stopping;
    Update::redraw(vec![Effect::Stop])
}

/// Ctrl+Y, `/copy`: the selected message, else the last answer, to the
/// clipboard.
pub fn copy(state: &mut State) -> Update {
    let entries = state.transcript.entries();
    let chosen = state
        .selected
        .and_then(|i| entries.get(i))
        .or_else(|| entries.iter().rev().find(|e| e.kind == Kind::Assistant));
    match chosen {
        Some(entry) => {
            let text = entry.text.clone();
            state.notice = Some((format!("copied {} characters", text.chars().count()), false));
            Update::redraw(vec![Effect::Copy(text)])
        }
        None => {
            state.notice = Some(("nothing to copy yet".into(), true));
            Update::redraw(vec![])
        }
    }
}
