//! `update`: the one place the state changes. It is pure: it reads an
//! [`Action`], changes the [`State`] and returns the [`Effect`]s for the
//! loop to carry out, with whether the screen needs drawing again.

use super::action::{Action, Choice, Effect, Event, Query, Role, WORKERS_TITLE};
use super::commands;
use super::overlays;
use super::state::{Busy, Overlay, Screen, State};
use super::transcript::{Kind, Scroll};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

/// What an action did.
#[derive(Debug, Default, PartialEq)]
pub struct Update {
    /// The state changed and the screen must be drawn.
    pub redraw: bool,
    pub effects: Vec<Effect>,
}

impl Update {
    pub fn redraw(effects: Vec<Effect>) -> Update {
        Update {
            redraw: true,
            effects,
        }
    }

    pub fn none() -> Update {
        Update::default()
    }
}

pub fn update(state: &mut State, action: Action) -> Update {
    match action {
        Action::Key(key) if key.kind == KeyEventKind::Release => Update::none(),
        Action::Key(key) => key_event(state, key),
        Action::Paste(text) => {
            match &mut state.overlay {
                Some(o) => overlays::type_text(o, &text.replace(['\n', '\r'], " ")),
                None => state.input.insert(&text),
            }
            Update::redraw(vec![])
        }
        Action::Scroll(lines) => {
            if state.overlay.is_some() || state.screen != Screen::Chat {
                return Update::none();
            }
            let height = state.transcript_height();
            state.transcript.scroll_by(lines as i64, height);
            Update::redraw(vec![])
        }
        Action::Resize(width, height) => {
            state.width = width;
            state.height = height;
            state.transcript.set_width(width);
            Update::redraw(vec![])
        }
        Action::Tick => {
            if !state.animating() {
                return Update::none();
            }
            state.spinner = state.spinner.wrapping_add(1);
            Update::redraw(vec![])
        }
        Action::Backend(event) => backend_event(state, event),
    }
}

fn backend_event(state: &mut State, event: Event) -> Update {
    let mut effects = Vec::new();
    match event {
        Event::Delta(text) => {
            if matches!(state.busy, Busy::Idle | Busy::Tool(_)) {
                state.busy = Busy::Thinking;
            }
            state.transcript.append_delta(&text);
        }
        Event::ToolStarted { name, arguments } => {
            state.transcript.push(
                Kind::Tool {
                    name: name.clone(),
                    arguments,
                    ok: None,
                },
                "",
            );
            if state.busy != Busy::Stopping {
                state.busy = Busy::Tool(name);
            }
        }
        Event::ToolFinished { name, ok } => {
            state.transcript.finish_tool(&name, ok);
            if state.busy != Busy::Stopping {
                state.busy = Busy::Thinking;
            }
        }
        Event::TurnDone {
            answer,
            error,
            files,
        } => {
            if let Some(answer) = answer {
                state.transcript.finish_answer(&answer);
            }
            if let Some(error) = error {
                state.transcript.push(Kind::Error, error);
            }
            for (name, path) in files {
                state
                    .transcript
                    .push(Kind::Notice, format!("[image {name}] saved as {path}"));
            }
            // Calls the turn never finished (it was stopped) end with it.
            state.transcript.end_running_tools();
            state.busy = Busy::Idle;
            state.armed_quit = false;
            // An approval of the turn cannot be answered any more.
            state.approval = None;
        }
        Event::UserEcho(text) => {
            state.transcript.push(Kind::User, text);
            if state.busy == Busy::Idle {
                state.busy = Busy::Thinking;
            }
        }
        Event::Message { text, error } => {
            let kind = if error { Kind::Error } else { Kind::Assistant };
            state.transcript.push(kind, text);
        }
        Event::Opened {
            session,
            title,
            messages,
        } => {
            state.session = session;
            state.session_title = title;
            state.transcript.clear();
            for m in messages {
                let kind = match m.role {
                    Role::User => Kind::User,
                    Role::Assistant => Kind::Assistant,
                    Role::Tool => Kind::Notice,
                };
                state.transcript.push(kind, m.text);
            }
            state.screen = Screen::Chat;
            state.selected = None;
            state.model = None;
        }
        Event::Sessions(rows) => {
            state.sessions = rows;
            overlays::clamp(state);
        }
        Event::Models(rows) => {
            state.models = rows;
            overlays::clamp(state);
        }
        Event::Logins(rows) => {
            state.logins = rows;
            overlays::clamp(state);
        }
        Event::Home(info) => state.home = info,
        Event::Approval(request) => state.approval = Some(request),
        Event::Settled { id, how } => {
            if state.approval.as_ref().is_some_and(|a| a.id == id) {
                state.approval = None;
            }
            state.notice = Some((format!("request {id}: {how}"), false));
        }
        Event::Panel { title, lines } => {
            state.overlay = Some(Overlay::Panel {
                title,
                lines,
                scroll: 0,
            })
        }
        Event::ModelChanged(model) => {
            state.notice = Some((format!("this session now uses {model}"), false));
            state.model = Some(model);
        }
        Event::Connection(text) => {
            state.notice = Some((text.clone(), text != "attached"));
        }
        Event::Worker(line) => {
            state.notice = Some((format!("worker {line}"), false));
            // An open workers panel follows.
            if let Some(Overlay::Panel { title, .. }) = &state.overlay
                && title == WORKERS_TITLE
            {
                effects.push(Effect::Query(Query::Workers));
            }
        }
    }
    if state.quit {
        effects.push(Effect::Quit);
    }
    Update::redraw(effects)
}

fn key_event(state: &mut State, key: KeyEvent) -> Update {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    // An approval request takes the keys first: it is what the turn waits for.
    if let Some(request) = &state.approval {
        if ctrl && key.code == KeyCode::Char('c') {
            return interrupt(state);
        }
        let plain = !ctrl && !key.modifiers.contains(KeyModifiers::ALT);
        let choice = match key.code {
            _ if !plain => None,
            KeyCode::Char('y') => Some(Choice::Approve),
            KeyCode::Char('a') => Some(Choice::Allow),
            KeyCode::Char('n') | KeyCode::Esc => Some(Choice::Reject),
            _ => None,
        };
        return match choice {
            Some(choice) => {
                let id = request.id.clone();
                state.approval = None;
                Update::redraw(vec![Effect::Answer { id, choice }])
            }
            None => Update::none(),
        };
    }
    if ctrl && key.code == KeyCode::Char('c') {
        return interrupt(state);
    }
    if state.overlay.is_some() {
        return overlays::key(state, key);
    }
    state.notice = None;
    let alt = key.modifiers.contains(KeyModifiers::ALT);
    let shift = key.modifiers.contains(KeyModifiers::SHIFT);
    let page = state.transcript_height().saturating_sub(2).max(1) as i64;
    match key.code {
        KeyCode::Enter if alt || shift => state.input.insert("\n"),
        KeyCode::Char('j') if ctrl => state.input.insert("\n"),
        KeyCode::Enter => return submit(state),
        KeyCode::Esc => {
            if state.busy != Busy::Idle {
                return commands::stop(state);
            }
            if state.selected.is_some() {
                state.selected = None;
            } else if state.screen == Screen::Chat {
                state.screen = Screen::Home;
                return Update::redraw(vec![Effect::Query(super::action::Query::Home)]);
            } else {
                return Update::none();
            }
        }
        KeyCode::Tab if state.input.is_empty() => overlays::open_palette(state),
        KeyCode::Char('/') if state.input.is_empty() && !ctrl && !alt => {
            overlays::open_palette(state)
        }
        KeyCode::Char('d') if ctrl && state.input.is_empty() => {
            state.quit = true;
            return Update::redraw(vec![Effect::Quit]);
        }
        KeyCode::Char('w') if ctrl => state.input.delete_word(),
        KeyCode::Char('u') if ctrl => state.input.clear(),
        KeyCode::Char('y') if ctrl => return commands::copy(state),
        KeyCode::Char(c) if !ctrl => state.input.insert(c.encode_utf8(&mut [0; 4])),
        KeyCode::Backspace => state.input.backspace(),
        KeyCode::Delete => state.input.delete(),
        KeyCode::Left => state.input.left(),
        KeyCode::Right => state.input.right(),
        KeyCode::Home => state.input.home(),
        KeyCode::End => state.input.end(),
        KeyCode::Up if alt => select(state, -1),
        KeyCode::Down if alt => select(state, 1),
        KeyCode::Up => state.input.up(),
        KeyCode::Down => state.input.down(),
        KeyCode::PageUp if state.screen == Screen::Chat => {
            let h = state.transcript_height();
            state.transcript.scroll_by(-page, h);
        }
        KeyCode::PageDown if state.screen == Screen::Chat => {
            let h = state.transcript_height();
            state.transcript.scroll_by(page, h);
        }
        _ => return Update::none(),
    }
    Update::redraw(vec![])
}

/// Ctrl+C: stops a running turn; pressed again (or when idle), quits.
fn interrupt(state: &mut State) -> Update {
    if state.busy != Busy::Idle && !state.armed_quit {
        state.armed_quit = true;
        let mut update = commands::stop(state);
        state.notice = Some(("stopping; Ctrl+C again quits".into(), false));
        update.redraw = true;
        return update;
    }
    state.quit = true;
    Update::redraw(vec![Effect::Quit])
}

/// Enter: a command, or a message for the agent.
fn submit(state: &mut State) -> Update {
    let text = state.input.text().trim().to_string();
    if text.is_empty() {
        if state.screen == Screen::Home {
            state.screen = Screen::Chat;
            return Update::redraw(vec![]);
        }
        return Update::none();
    }
    if let Some(update) = commands::run(state, &text) {
        state.input.take();
        return update;
    }
    if state.busy != Busy::Idle {
        state.notice = Some((
            "a turn is running: wait for it, or Esc to stop it".into(),
            true,
        ));
        return Update::redraw(vec![]);
    }
    state.input.take();
    state.screen = Screen::Chat;
    state.selected = None;
    state.transcript.scroll = Scroll::Follow;
    state.transcript.push(Kind::User, text.clone());
    state.busy = Busy::Thinking;
    Update::redraw(vec![Effect::Send {
        session: state.session.clone(),
        text,
    }])
}

/// Alt+↑/↓: moves the selection among the transcript's messages.
fn select(state: &mut State, step: i64) {
    let messages: Vec<usize> = state
        .transcript
        .entries()
        .iter()
        .enumerate()
        .filter(|(_, e)| matches!(e.kind, Kind::User | Kind::Assistant))
        .map(|(i, _)| i)
        .collect();
    if messages.is_empty() {
        return;
    }
    let at = state
        .selected
        .and_then(|s| messages.iter().position(|&i| i == s));
    let next = match (at, step < 0) {
        (None, _) => messages.len() - 1,
        (Some(i), true) => i.saturating_sub(1),
        (Some(i), false) => (i + 1).min(messages.len() - 1),
    };
    state.selected = Some(messages[next]);
}
