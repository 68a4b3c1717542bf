//! The boxes over the screen (palette, sessions, models, sign-in, help,
//! panels): how each takes keys, and the lists they filter.

use super::action::{Effect, LoginRow, ModelRow, SessionRow};
use super::commands;
use super::palette;
use super::state::{Overlay, State};
use super::update::Update;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

pub fn open_palette(state: &mut State) {
    state.overlay = Some(Overlay::Palette {
        query: String::new(),
        selected: 0,
    });
}

pub fn open_sessions(state: &mut State) {
    state.overlay = Some(Overlay::Sessions {
        query: String::new(),
        selected: 0,
        rename: None,
        confirm_delete: None,
    });
}

/// The sessions matching `query` (id or title), in the order given.
pub fn sessions<'a>(rows: &'a [SessionRow], query: &str) -> Vec<&'a SessionRow> {
    let keys: Vec<String> = rows
        .iter()
        .map(|r| format!("{} {}", r.id, r.title.as_deref().unwrap_or("")))
        .collect();
    let mut hits = palette::filter(query, keys.iter().map(|s| s.as_str()));
    if query.trim().is_empty() {
        hits.sort();
    }
    hits.into_iter().map(|i| &rows[i]).collect()
}

pub fn models<'a>(rows: &'a [ModelRow], query: &str) -> Vec<&'a ModelRow> {
    palette::filter(query, rows.iter().map(|r| r.id.as_str()))
        .into_iter()
        .map(|i| &rows[i])
        .collect()
}

/// Keeps the selection inside the list after it changed.
pub fn clamp(state: &mut State) {
    let len = match &state.overlay {
        Some(Overlay::Sessions { query, .. }) => sessions(&state.sessions, query).len(),
        Some(Overlay::Models { query, .. }) => models(&state.models, query).len(),
        Some(Overlay::Login { .. }) => state.logins.len(),
        _ => return,
    };
    if let Some(
        Overlay::Sessions { selected, .. }
        | Overlay::Models { selected, .. }
        | Overlay::Login { selected },
    ) = &mut state.overlay
    {
        *selected = (*selected).min(len.saturating_sub(1));
    }
}

/// Text typed (or pasted) into the box's search field.
pub fn type_text(overlay: &mut Overlay, text: &str) {
    match overlay {
        Overlay::Palette { query, selected }
        | Overlay::Models { query, selected }
        | Overlay::Sessions {
            query,
            selected,
            rename: None,
            confirm_delete: None,
        } => {
            query.push_str(text);
            *selected = 0;
        }
        Overlay::Sessions {
            rename: Some(title),
            ..
        } => title.push_str(text),
        _ => {}
    }
}

fn move_selection(selected: &mut usize, len: usize, code: KeyCode) -> bool {
    match code {
        KeyCode::Up => *selected = selected.saturating_sub(1),
        KeyCode::Down => *selected = (*selected + 1).min(len.saturating_sub(1)),
        _ => return false,
    }
    true
}

pub fn key(state: &mut State, key: KeyEvent) -> Update {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    let Some(overlay) = state.overlay.as_mut() else {
        return Update::none();
    };
    match overlay {
        Overlay::Palette { query, selected } => {
            let found = palette::commands(query);
            if move_selection(selected, found.len(), key.code) {
                return Update::redraw(vec![]);
            }
            match key.code {
                KeyCode::Esc => state.overlay = None,
                KeyCode::Backspace if query.is_empty() => state.overlay = None,
                KeyCode::Backspace => {
                    query.pop();
                    *selected = 0;
                }
                // Tab puts the command in the input, to add arguments.
                KeyCode::Tab => {
                    if let Some((command, _)) = found.get(*selected) {
                        let command = format!("{command} ");
                        state.overlay = None;
                        state.input.set(&command);
                    }
                }
                KeyCode::Enter => {
                    // "model gpt-5": a command with its arguments typed out.
                    let typed = format!("/{}", query.trim().trim_start_matches('/'));
                    let line = match found.get(*selected) {
                        Some((command, _)) if !query.contains(' ') => command.to_string(),
                        _ => typed,
                    };
                    state.overlay = None;
                    return commands::run(state, &line).unwrap_or_else(|| Update::redraw(vec![]));
                }
                KeyCode::Char(c) if !ctrl => type_text(overlay, &c.to_string()),
                _ => return Update::none(),
            }
        }
        Overlay::Sessions {
            query,
            selected,
            rename,
            confirm_delete,
        } => {
            if let Some(id) = confirm_delete.clone() {
                match key.code {
                    KeyCode::Char('y') => {
                        *confirm_delete = None;
                        state.sessions.retain(|s| s.id != id);
                        clamp(state);
                        return Update::redraw(vec![Effect::DeleteSession(id)]);
                    }
                    KeyCode::Char('n') | KeyCode::Esc => *confirm_delete = None,
                    _ => return Update::none(),
                }
                return Update::redraw(vec![]);
            }
            let shown: Vec<SessionRow> = sessions(&state.sessions, query)
                .into_iter()
                .cloned()
                .collect();
            let current = shown.get(*selected).cloned();
            if let Some(title) = rename {
                match key.code {
                    KeyCode::Esc => *rename = None,
                    KeyCode::Backspace => {
                        title.pop();
                    }
                    KeyCode::Enter => {
                        let title = title.trim().to_string();
                        *rename = None;
                        if let Some(row) = current
                            && !title.is_empty()
                        {
                            if let Some(r) = state.sessions.iter_mut().find(|r| r.id == row.id) {
                                r.title = Some(title.clone());
                            }
                            return Update::redraw(vec![Effect::RenameSession {
                                id: row.id,
                                title,
                            }]);
                        }
                    }
                    KeyCode::Char(c) if !ctrl => title.push(c),
                    _ => return Update::none(),
                }
                return Update::redraw(vec![]);
            }
            if move_selection(selected, shown.len(), key.code) {
                return Update::redraw(vec![]);
            }
            match key.code {
                KeyCode::Esc => state.overlay = None,
                KeyCode::Enter => {
                    state.overlay = None;
                    if let Some(row) = current {
                        return Update::redraw(vec![Effect::OpenSession(row.id)]);
                    }
                }
                KeyCode::Char('n') if ctrl => {
                    state.overlay = None;
                    return Update::redraw(vec![Effect::NewSession]);
                }
                KeyCode::Char('r') if ctrl => {
                    if let Some(row) = current {
                        *rename = Some(row.title.unwrap_or_default());
                    }
                }
                KeyCode::Char('d') if ctrl => *confirm_delete = current.map(|r| r.id),
                KeyCode::Delete => *confirm_delete = current.map(|r| r.id),
                KeyCode::Backspace => {
                    query.pop();
                    *selected = 0;
                }
                KeyCode::Char(c) if !ctrl => type_text(overlay, &c.to_string()),
                _ => return Update::none(),
            }
        }
        Overlay::Models { query, selected } => {
            let shown: Vec<String> = models(&state.models, query)
                .into_iter()
                .map(|m| m.id.clone())
                .collect();
            if move_selection(selected, shown.len(), key.code) {
                return Update::redraw(vec![]);
            }
            match key.code {
                KeyCode::Esc => state.overlay = None,
                KeyCode::Backspace => {
                    query.pop();
                    *selected = 0;
                }
                KeyCode::Enter => {
                    let pick = shown.get(*selected).cloned();
                    state.overlay = None;
                    if let Some(model) = pick {
                        return Update::redraw(vec![Effect::UseModel {
                            session: state.session.clone(),
                            model,
                        }]);
                    }
                }
                KeyCode::Char(c) if !ctrl => type_text(overlay, &c.to_string()),
                _ => return Update::none(),
            }
        }
        Overlay::Login { selected } => {
            let rows: &[LoginRow] = &state.logins;
            if move_selection(selected, rows.len(), key.code) {
                return Update::redraw(vec![]);
            }
            match key.code {
                KeyCode::Esc | KeyCode::Char('q') => state.overlay = None,
                KeyCode::Enter => {
                    let pick = rows.get(*selected).map(|r| r.provider.clone());
                    state.overlay = None;
                    if let Some(provider) = pick {
                        return Update::redraw(vec![Effect::Login(provider)]);
                    }
                }
                _ => return Update::none(),
            }
        }
        Overlay::Help => match key.code {
            KeyCode::Esc | KeyCode::Enter | KeyCode::Char('q') => state.overlay = None,
            _ => return Update::none(),
        },
        Overlay::Panel { lines, scroll, .. } => match key.code {
            KeyCode::Esc | KeyCode::Enter | KeyCode::Char('q') => state.overlay = None,
            KeyCode::Up | KeyCode::PageUp => *scroll = scroll.saturating_sub(1),
            KeyCode::Down | KeyCode::PageDown => {
                *scroll = (*scroll + 1).min(lines.len().saturating_sub(1))
            }
            _ => return Update::none(),
        },
    }
    Update::redraw(vec![])
}
