//! The sessions, models and sign-in pickers, the help and the panel overlays.

use super::{
    SESSION, chat, ctrl, effects, event, key_with, login_rows, model_rows, picker, press,
    sessions_picker, state, type_keys,
};
use crate::tui::action::{Action, Effect, Event};
use crate::tui::state::{Busy, Overlay, State};
use crate::tui::update::{Update, update};
use ratatui::crossterm::event::{KeyCode, KeyModifiers};

// ---------------------------------------------------------------- sessions

#[test]
fn the_sessions_picker_moves_and_opens_the_selected_session() {
    let mut s = sessions_picker();
    assert_eq!(picker(&s), (String::new(), 0, None, None));
    press(&mut s, KeyCode::Down);
    press(&mut s, KeyCode::Down);
    press(&mut s, KeyCode::Down);
    assert_eq!(picker(&s).1, 2, "Down stops at the last row");
    press(&mut s, KeyCode::Up);
    assert_eq!(picker(&s).1, 1);
    let done = press(&mut s, KeyCode::Enter);
    assert_eq!(done, effects(vec![Effect::OpenSession("tui:work".into())]));
    assert_eq!(s.overlay, None);
}

#[test]
fn the_sessions_picker_filters_by_id_and_title() {
    let mut s = sessions_picker();
    type_keys(&mut s, "notes");
    assert_eq!(picker(&s).0, "notes");
    assert_eq!(
        press(&mut s, KeyCode::Enter),
        effects(vec![Effect::OpenSession("tui:work".into())])
    );

    let mut s = sessions_picker();
    type_keys(&mut s, "web");
    press(&mut s, KeyCode::Down);
    assert_eq!(picker(&s).1, 0, "one match: Down stays on it");
    assert_eq!(
        press(&mut s, KeyCode::Enter),
        effects(vec![Effect::OpenSession("web:abc".into())])
    );

    // Backspace edits the search; nothing matching opens nothing.
    let mut s = sessions_picker();
    type_keys(&mut s, "zzz");
    press(&mut s, KeyCode::Backspace);
    assert_eq!(picker(&s).0, "zz");
    assert_eq!(press(&mut s, KeyCode::Enter), effects(vec![]));
    assert_eq!(s.overlay, None);
}

#[test]
fn the_sessions_picker_makes_a_new_session_and_esc_closes_it() {
    let mut s = sessions_picker();
    assert_eq!(ctrl(&mut s, 'n'), effects(vec![Effect::NewSession]));
    assert_eq!(s.overlay, None);

    let mut s = sessions_picker();
    assert_eq!(press(&mut s, KeyCode::Esc), effects(vec![]));
    assert_eq!(s.overlay, None);
    assert_eq!(s.busy, Busy::Idle);

    let mut s = sessions_picker();
    assert_eq!(ctrl(&mut s, 'x'), Update::none());
    assert_eq!(press(&mut s, KeyCode::F(1)), Update::none());
}

#[test]
fn ctrl_r_renames_the_selected_session() {
    let mut s = sessions_picker();
    press(&mut s, KeyCode::Down);
    ctrl(&mut s, 'r');
    assert_eq!(picker(&s).2.as_deref(), Some("Work notes"));
    for _ in 0.."notes".len() {
        press(&mut s, KeyCode::Backspace);
    }
    type_keys(&mut s, "log ");
    assert_eq!(picker(&s).2.as_deref(), Some("Work log "));
    // Keys that mean something elsewhere type into the title.
    press(&mut s, KeyCode::Char('q'));
    assert_eq!(picker(&s).2.as_deref(), Some("Work log q"));
    press(&mut s, KeyCode::Backspace);
    assert_eq!(ctrl(&mut s, 'x'), Update::none());
    let done = press(&mut s, KeyCode::Enter);
    assert_eq!(
        done,
        effects(vec![Effect::RenameSession {
            id: "tui:work".into(),
            title: "Work log".into(),
        }])
    );
    assert_eq!(picker(&s).2, None, "the picker stays, the rename ends");
    assert_eq!(s.sessions[1].title.as_deref(), Some("Work log"));
}

#[test]
fn a_rename_starts_empty_without_a_title_and_esc_or_a_blank_title_cancel_it() {
    let mut s = sessions_picker();
    press(&mut s, KeyCode::Down);
    press(&mut s, KeyCode::Down);
    ctrl(&mut s, 'r');
    assert_eq!(picker(&s).2.as_deref(), Some(""));
    type_keys(&mut s, "x");
    assert_eq!(press(&mut s, KeyCode::Esc), effects(vec![]));
    assert_eq!(picker(&s).2, None);
    assert!(s.overlay.is_some(), "Esc ends the rename, not the picker");

    ctrl(&mut s, 'r');
    type_keys(&mut s, "   ");
    assert_eq!(press(&mut s, KeyCode::Enter), effects(vec![]));
    assert_eq!(picker(&s).2, None);
    assert_eq!(s.sessions[2].title, None);
}

#[test]
fn a_paste_goes_into_the_rename() {
    let mut s = sessions_picker();
    ctrl(&mut s, 'r');
    update(&mut s, Action::Paste(" and\nmore".into()));
    assert_eq!(picker(&s).2.as_deref(), Some("Scratch and more"));
    assert_eq!(picker(&s).0, "", "not the search");
}

#[test]
fn ctrl_d_asks_before_deleting_and_y_deletes() {
    let mut s = sessions_picker();
    press(&mut s, KeyCode::Down);
    assert_eq!(ctrl(&mut s, 'd'), effects(vec![]));
    assert_eq!(picker(&s).3.as_deref(), Some("tui:work"));
    // Other keys wait for the answer.
    assert_eq!(press(&mut s, KeyCode::Enter), Update::none());
    assert_eq!(press(&mut s, KeyCode::Char('x')), Update::none());
    assert_eq!(picker(&s).3.as_deref(), Some("tui:work"));
    let done = press(&mut s, KeyCode::Char('y'));
    assert_eq!(
        done,
        effects(vec![Effect::DeleteSession("tui:work".into())])
    );
    assert_eq!(picker(&s).3, None);
    assert_eq!(s.sessions.len(), 2);
    assert!(s.sessions.iter().all(|r| r.id != "tui:work"));

    // Deleting the last row moves the selection into the list.
    press(&mut s, KeyCode::Down);
    assert_eq!(picker(&s).1, 1);
    update(&mut s, key_with(KeyCode::Delete, KeyModifiers::NONE));
    assert_eq!(picker(&s).3.as_deref(), Some("web:abc"));
    press(&mut s, KeyCode::Char('y'));
    assert_eq!(picker(&s).1, 0);
}

#[test]
fn n_or_esc_cancel_the_delete() {
    for cancel in [KeyCode::Char('n'), KeyCode::Esc] {
        let mut s = sessions_picker();
        ctrl(&mut s, 'd');
        assert_eq!(press(&mut s, cancel), effects(vec![]), "{cancel:?}");
        assert_eq!(picker(&s).3, None);
        assert!(s.overlay.is_some(), "{cancel:?} keeps the picker");
        assert_eq!(s.sessions.len(), 3);
    }
}

#[test]
fn ctrl_d_in_an_empty_picker_asks_nothing() {
    let mut s = sessions_picker();
    type_keys(&mut s, "zzz");
    ctrl(&mut s, 'd');
    assert_eq!(picker(&s).3, None);
    ctrl(&mut s, 'r');
    assert_eq!(picker(&s).2, None);
}

// ---------------------------------------------------------------- models, sign-in

#[test]
fn the_models_picker_uses_the_selected_model() {
    let mut s = chat();
    s.input.set("/model");
    assert_eq!(
        press(&mut s, KeyCode::Enter),
        effects(vec![Effect::ListModels])
    );
    event(&mut s, Event::Models(model_rows()));
    press(&mut s, KeyCode::Down);
    press(&mut s, KeyCode::Down);
    press(&mut s, KeyCode::Up);
    assert_eq!(
        s.overlay,
        Some(Overlay::Models {
            query: String::new(),
            selected: 1,
        })
    );
    let done = press(&mut s, KeyCode::Enter);
    assert_eq!(
        done,
        effects(vec![Effect::UseModel {
            session: SESSION.into(),
            model: "openai/gpt-5-mini".into(),
        }])
    );
    assert_eq!(s.overlay, None);
}

#[test]
fn the_models_picker_filters_and_closes() {
    let mut s = chat();
    s.input.set("/model");
    press(&mut s, KeyCode::Enter);
    event(&mut s, Event::Models(model_rows()));
    type_keys(&mut s, "sonnet");
    assert_eq!(
        press(&mut s, KeyCode::Enter).effects,
        vec![Effect::UseModel {
            session: SESSION.into(),
            model: "anthropic/claude-sonnet-4".into(),
        }]
    );

    s.input.set("/model");
    press(&mut s, KeyCode::Enter);
    type_keys(&mut s, "zz");
    press(&mut s, KeyCode::Backspace);
    assert_eq!(
        s.overlay,
        Some(Overlay::Models {
            query: "z".into(),
            selected: 0,
        })
    );
    assert_eq!(press(&mut s, KeyCode::Enter), effects(vec![]));
    assert_eq!(s.overlay, None, "Enter with nothing matching closes");

    s.input.set("/model");
    press(&mut s, KeyCode::Enter);
    assert_eq!(ctrl(&mut s, 'x'), Update::none());
    assert_eq!(press(&mut s, KeyCode::Esc), effects(vec![]));
    assert_eq!(s.overlay, None);
}

#[test]
fn the_login_picker_signs_in_to_the_selected_provider() {
    let mut s = state();
    s.input.set("/login");
    assert_eq!(
        press(&mut s, KeyCode::Enter),
        effects(vec![Effect::ListLogins])
    );
    assert_eq!(s.overlay, Some(Overlay::Login { selected: 0 }));
    event(&mut s, Event::Logins(login_rows()));
    press(&mut s, KeyCode::Down);
    press(&mut s, KeyCode::Down);
    assert_eq!(s.overlay, Some(Overlay::Login { selected: 1 }));
    // Letters do not search this list.
    assert_eq!(press(&mut s, KeyCode::Char('x')), Update::none());
    let done = press(&mut s, KeyCode::Enter);
    assert_eq!(done, effects(vec![Effect::Login("anthropic".into())]));
    assert_eq!(s.overlay, None);
}

#[test]
fn the_login_picker_closes_with_esc_or_q_and_enter_on_nothing() {
    for close in [KeyCode::Esc, KeyCode::Char('q'), KeyCode::Enter] {
        let mut s = state();
        s.input.set("/login");
        press(&mut s, KeyCode::Enter);
        assert_eq!(press(&mut s, close), effects(vec![]), "{close:?}");
        assert_eq!(s.overlay, None, "{close:?}");
    }
}

// ---------------------------------------------------------------- help, panel

#[test]
fn help_closes_with_esc_enter_or_q_and_ignores_the_rest() {
    for close in [KeyCode::Esc, KeyCode::Enter, KeyCode::Char('q')] {
        let mut s = state();
        s.input.set("/help");
        press(&mut s, KeyCode::Enter);
        assert_eq!(s.overlay, Some(Overlay::Help));
        assert_eq!(press(&mut s, KeyCode::Char('x')), Update::none());
        assert_eq!(press(&mut s, KeyCode::Down), Update::none());
        assert_eq!(s.overlay, Some(Overlay::Help));
        assert_eq!(press(&mut s, close), effects(vec![]));
        assert_eq!(s.overlay, None);
        assert!(s.input.is_empty(), "{close:?} is not typed");
    }
}

#[test]
fn a_panel_scrolls_within_its_lines_and_closes() {
    let mut s = chat();
    let done = event(
        &mut s,
        Event::Panel {
            title: "Skills".into(),
            lines: vec!["one".into(), "two".into(), "three".into()],
        },
    );
    assert_eq!(done, effects(vec![]));
    let scroll = |s: &State| match &s.overlay {
        Some(Overlay::Panel { scroll, .. }) => *scroll,
        other => panic!("no panel: {other:?}"),
    };
    assert_eq!(scroll(&s), 0);
    press(&mut s, KeyCode::Up);
    assert_eq!(scroll(&s), 0);
    for _ in 0..5 {
        press(&mut s, KeyCode::Down);
    }
    assert_eq!(scroll(&s), 2);
    press(&mut s, KeyCode::PageUp);
    assert_eq!(scroll(&s), 1);
    press(&mut s, KeyCode::PageDown);
    assert_eq!(scroll(&s), 2);
    assert_eq!(press(&mut s, KeyCode::Char('x')), Update::none());
    for close in [KeyCode::Esc, KeyCode::Enter, KeyCode::Char('q')] {
        s.overlay = Some(Overlay::Panel {
            title: "t".into(),
            lines: vec![],
            scroll: 0,
        });
        press(&mut s, KeyCode::Down);
        assert_eq!(scroll(&s), 0, "an empty panel does not scroll");
        assert_eq!(press(&mut s, close), effects(vec![]));
        assert_eq!(s.overlay, None);
    }
}
