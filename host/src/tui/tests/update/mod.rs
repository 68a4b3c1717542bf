//! `update` as a plain function: an action in, the state and the effects
//! out. Every `Action` and every `Event` variant, and the paths a person
//! takes with the keys.

mod commands;
mod control;
mod events;
mod keys;
mod pickers;

use crate::tui::action::{Action, ApprovalRequest, Effect, Event, LoginRow, ModelRow, SessionRow};
use crate::tui::state::{Overlay, Screen, State};
use crate::tui::theme::Theme;
use crate::tui::transcript::Entry;
use crate::tui::update::{Update, update};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

pub(super) const SESSION: &str = "tui:default";

pub(super) fn state() -> State {
    State::new(SESSION, Screen::Home, Theme::plain(), 80, 24)
}

pub(super) fn chat() -> State {
    let mut s = state();
    s.screen = Screen::Chat;
    s
}

pub(super) fn key_with(code: KeyCode, modifiers: KeyModifiers) -> Action {
    Action::Key(KeyEvent::new(code, modifiers))
}

pub(super) fn press(s: &mut State, code: KeyCode) -> Update {
    update(s, key_with(code, KeyModifiers::NONE))
}

pub(super) fn ctrl(s: &mut State, c: char) -> Update {
    update(s, key_with(KeyCode::Char(c), KeyModifiers::CONTROL))
}

pub(super) fn alt(s: &mut State, code: KeyCode) -> Update {
    update(s, key_with(code, KeyModifiers::ALT))
}

/// Types `text` key by key.
pub(super) fn type_keys(s: &mut State, text: &str) {
    for c in text.chars() {
        let done = press(s, KeyCode::Char(c));
        assert!(done.redraw, "typing {c:?} must redraw");
        assert!(done.effects.is_empty(), "typing {c:?} has no effect");
    }
}

pub(super) fn event(s: &mut State, e: Event) -> Update {
    update(s, Action::Backend(e))
}

pub(super) fn effects(effects: Vec<Effect>) -> Update {
    Update::redraw(effects)
}

pub(super) fn last(s: &State) -> &Entry {
    s.transcript.entries().last().expect("an entry")
}

/// An entry's wrapped lines as text.
pub(super) fn lines(e: &Entry) -> Vec<String> {
    e.lines()
        .iter()
        .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
        .collect()
}

pub(super) fn notice(s: &State) -> (String, bool) {
    s.notice.clone().expect("a notice")
}

pub(super) fn session_rows() -> Vec<SessionRow> {
    vec![
        SessionRow {
            id: "tui:default".into(),
            title: Some("Scratch".into()),
            messages: 4,
            last_active_ms: 3,
            active: true,
        },
        SessionRow {
            id: "tui:work".into(),
            title: Some("Work notes".into()),
            messages: 12,
            last_active_ms: 2,
            active: false,
        },
        SessionRow {
            id: "web:abc".into(),
            title: None,
            messages: 2,
            last_active_ms: 1,
            active: false,
        },
    ]
}

pub(super) fn model_rows() -> Vec<ModelRow> {
    vec![
        ModelRow {
            id: "openai/gpt-5".into(),
            note: "default".into(),
            current: true,
        },
        ModelRow {
            id: "openai/gpt-5-mini".into(),
            note: "cheaper".into(),
            current: false,
        },
        ModelRow {
            id: "anthropic/claude-sonnet-4".into(),
            note: String::new(),
            current: false,
        },
    ]
}

pub(super) fn login_rows() -> Vec<LoginRow> {
    vec![
        LoginRow {
            provider: "openai".into(),
            state: "signed in".into(),
            ok: true,
            methods: "browser".into(),
        },
        LoginRow {
            provider: "anthropic".into(),
            state: "not signed in".into(),
            ok: false,
            methods: "paste".into(),
        },
    ]
}

pub(super) fn approval(id: &str) -> ApprovalRequest {
    ApprovalRequest {
        id: id.into(),
        tool: "system.run".into(),
        arguments: "{\"command\": \"rm -rf build\"}".into(),
        folder: Some("/home/me/project".into()),
        timeout_secs: 120,
    }
}

/// A chat with one answer, for `/copy` and `/clear`.
pub(super) fn answered() -> State {
    let mut s = chat();
    event(&mut s, Event::UserEcho("question".into()));
    event(
        &mut s,
        Event::TurnDone {
            answer: Some("the answer".into()),
            error: None,
            files: vec![],
        },
    );
    s
}

pub(super) fn sessions_picker() -> State {
    let mut s = chat();
    s.input.set("/session");
    assert_eq!(
        press(&mut s, KeyCode::Enter),
        effects(vec![Effect::ListSessions])
    );
    event(&mut s, Event::Sessions(session_rows()));
    s
}

pub(super) fn picker(s: &State) -> (String, usize, Option<String>, Option<String>) {
    match &s.overlay {
        Some(Overlay::Sessions {
            query,
            selected,
            rename,
            confirm_delete,
        }) => (
            query.clone(),
            *selected,
            rename.clone(),
            confirm_delete.clone(),
        ),
        other => panic!("not the sessions picker: {other:?}"),
    }
}
