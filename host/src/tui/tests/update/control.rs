//! Approvals, stopping and quitting, and selecting and copying messages.

use super::{
    alt, answered, approval, chat, ctrl, effects, event, notice, picker, press, sessions_picker,
    state, type_keys,
};
use crate::tui::action::{Action, Choice, Effect, Event, Query};
use crate::tui::state::{Busy, Screen};
use crate::tui::update::{Update, update};
use ratatui::crossterm::event::KeyCode;

// ---------------------------------------------------------------- approval

#[test]
fn approval_keys_answer_with_their_choice() {
    let cases = [
        (KeyCode::Char('y'), Choice::Approve),
        (KeyCode::Char('a'), Choice::Allow),
        (KeyCode::Char('n'), Choice::Reject),
        (KeyCode::Esc, Choice::Reject),
    ];
    for (code, choice) in cases {
        let mut s = chat();
        type_keys(&mut s, "ask");
        press(&mut s, KeyCode::Enter);
        let done = event(&mut s, Event::Approval(approval("42")));
        assert_eq!(done, effects(vec![]));
        let done = press(&mut s, code);
        assert_eq!(
            done,
            effects(vec![Effect::Answer {
                id: "42".into(),
                choice,
            }]),
            "{code:?}"
        );
        assert_eq!(s.approval, None);
        assert_eq!(s.busy, Busy::Thinking, "{code:?}: the turn goes on");
        assert!(s.input.is_empty(), "{code:?} is not typed");
    }
}

#[test]
fn other_keys_are_ignored_while_an_approval_waits() {
    let mut s = chat();
    type_keys(&mut s, "draft");
    press(&mut s, KeyCode::Tab);
    s.overlay = None;
    event(&mut s, Event::Approval(approval("42")));
    for code in [
        KeyCode::Char('x'),
        KeyCode::Char('q'),
        KeyCode::Char('/'),
        KeyCode::Enter,
        KeyCode::Tab,
        KeyCode::Backspace,
        KeyCode::Up,
        KeyCode::PageUp,
    ] {
        assert_eq!(press(&mut s, code), Update::none(), "{code:?}");
    }
    // Ctrl+ letters are not answers (Ctrl+Y is copy elsewhere).
    assert_eq!(ctrl(&mut s, 'y'), Update::none(), "Ctrl+Y is no approval");
    assert_eq!(ctrl(&mut s, 'd'), Update::none());
    assert_eq!(update(&mut s, Action::Scroll(-3)), effects(vec![]));
    assert!(s.approval.is_some());
    assert!(!s.quit);
    assert_eq!(s.input.text(), "draft");
    assert_eq!(s.overlay, None);
}

#[test]
fn an_approval_takes_the_keys_from_an_open_picker() {
    let mut s = sessions_picker();
    event(&mut s, Event::Approval(approval("9")));
    assert_eq!(
        press(&mut s, KeyCode::Char('n')).effects,
        vec![Effect::Answer {
            id: "9".into(),
            choice: Choice::Reject,
        }]
    );
    // The picker is still there, with its search untouched.
    assert_eq!(picker(&s), (String::new(), 0, None, None));
}

// ---------------------------------------------------------------- stop, quit

#[test]
fn esc_while_busy_stops_the_turn() {
    let mut s = chat();
    type_keys(&mut s, "go");
    press(&mut s, KeyCode::Enter);
    let done = press(&mut s, KeyCode::Esc);
    assert_eq!(done, effects(vec![Effect::Stop]));
    assert_eq!(s.busy, Busy::Stopping);
    assert_eq!(s.screen, Screen::Chat, "Esc stops, it does not go Home");
    assert!(!s.quit);
}

#[test]
fn esc_when_idle_clears_the_selection_then_goes_home() {
    let mut s = answered();
    alt(&mut s, KeyCode::Up);
    assert!(s.selected.is_some());
    assert_eq!(press(&mut s, KeyCode::Esc), effects(vec![]));
    assert_eq!(s.selected, None);
    assert_eq!(s.screen, Screen::Chat);
    assert_eq!(
        press(&mut s, KeyCode::Esc),
        effects(vec![Effect::Query(Query::Home)])
    );
    assert_eq!(s.screen, Screen::Home);
    assert_eq!(press(&mut s, KeyCode::Esc), Update::none());
}

#[test]
fn ctrl_c_while_busy_stops_and_a_second_ctrl_c_quits() {
    let mut s = chat();
    type_keys(&mut s, "go");
    press(&mut s, KeyCode::Enter);
    let done = ctrl(&mut s, 'c');
    assert_eq!(done, effects(vec![Effect::Stop]));
    assert_eq!(s.busy, Busy::Stopping);
    assert!(s.armed_quit);
    assert!(!s.quit);
    assert!(notice(&s).0.contains("Ctrl+C again quits"));
    assert_eq!(ctrl(&mut s, 'c'), effects(vec![Effect::Quit]));
    assert!(s.quit);
}

#[test]
fn a_finished_turn_disarms_the_second_ctrl_c() {
    let mut s = chat();
    type_keys(&mut s, "go");
    press(&mut s, KeyCode::Enter);
    ctrl(&mut s, 'c');
    event(
        &mut s,
        Event::TurnDone {
            answer: None,
            error: Some("stopped".into()),
            files: vec![],
        },
    );
    assert!(!s.armed_quit);
    type_keys(&mut s, "again");
    press(&mut s, KeyCode::Enter);
    assert_eq!(ctrl(&mut s, 'c'), effects(vec![Effect::Stop]));
    assert!(!s.quit);
}

#[test]
fn ctrl_c_when_idle_quits_even_from_a_picker() {
    let mut s = state();
    type_keys(&mut s, "unsent");
    assert_eq!(ctrl(&mut s, 'c'), effects(vec![Effect::Quit]));
    assert!(s.quit);

    let mut s = state();
    press(&mut s, KeyCode::Tab);
    assert_eq!(ctrl(&mut s, 'c'), effects(vec![Effect::Quit]));
    assert!(s.quit);
}

#[test]
fn ctrl_d_quits_on_an_empty_input_only() {
    let mut s = state();
    type_keys(&mut s, "x");
    assert_eq!(ctrl(&mut s, 'd'), Update::none());
    assert!(!s.quit);
    assert_eq!(s.input.text(), "x");
    press(&mut s, KeyCode::Backspace);
    assert_eq!(ctrl(&mut s, 'd'), effects(vec![Effect::Quit]));
    assert!(s.quit);
}

#[test]
fn stop_when_idle_is_a_notice() {
    let mut s = chat();
    s.input.set("/stop");
    assert_eq!(press(&mut s, KeyCode::Enter), effects(vec![]));
    assert_eq!(notice(&s), ("nothing is running".into(), false));
    assert_eq!(s.busy, Busy::Idle);
}

#[test]
fn a_backend_event_after_quitting_repeats_the_quit() {
    let mut s = state();
    ctrl(&mut s, 'c');
    assert_eq!(
        event(&mut s, Event::Delta("late".into())),
        effects(vec![Effect::Quit])
    );
}

// ---------------------------------------------------------------- selection

#[test]
fn alt_up_selects_messages_and_ctrl_y_copies_the_selected_one() {
    let mut s = chat();
    event(&mut s, Event::UserEcho("first question".into()));
    event(
        &mut s,
        Event::ToolStarted {
            name: "fs.list".into(),
            arguments: "{}".into(),
        },
    );
    event(
        &mut s,
        Event::ToolFinished {
            name: "fs.list".into(),
            ok: true,
        },
    );
    event(
        &mut s,
        Event::TurnDone {
            answer: Some("first answer".into()),
            error: Some("warning".into()),
            files: vec![],
        },
    );
    // Entries: 0 user, 1 tool, 2 assistant, 3 error.
    assert_eq!(alt(&mut s, KeyCode::Up), effects(vec![]));
    assert_eq!(s.selected, Some(2), "the last message, not the error");
    alt(&mut s, KeyCode::Up);
    assert_eq!(s.selected, Some(0), "the tool line is skipped");
    alt(&mut s, KeyCode::Up);
    assert_eq!(s.selected, Some(0), "stops at the first");
    let done = ctrl(&mut s, 'y');
    assert_eq!(done, effects(vec![Effect::Copy("first question".into())]));
    assert_eq!(notice(&s), ("copied 14 characters".into(), false));
    alt(&mut s, KeyCode::Down);
    assert_eq!(s.selected, Some(2));
    alt(&mut s, KeyCode::Down);
    assert_eq!(s.selected, Some(2), "stops at the last");
    assert_eq!(
        ctrl(&mut s, 'y').effects,
        vec![Effect::Copy("first answer".into())]
    );
}

#[test]
fn ctrl_y_without_a_selection_copies_the_last_answer() {
    let mut s = answered();
    event(&mut s, Event::UserEcho("a later question".into()));
    assert_eq!(
        ctrl(&mut s, 'y').effects,
        vec![Effect::Copy("the answer".into())]
    );
}

#[test]
fn alt_up_on_an_empty_transcript_selects_nothing() {
    let mut s = chat();
    assert_eq!(alt(&mut s, KeyCode::Up), effects(vec![]));
    assert_eq!(s.selected, None);
}

#[test]
fn ctrl_c_while_an_approval_waits_stops_the_turn() {
    let mut s = chat();
    s.busy = Busy::Thinking;
    event(&mut s, Event::Approval(approval("42")));
    let done = ctrl(&mut s, 'c');
    assert_eq!(done.effects, vec![Effect::Stop]);
    assert_eq!(s.busy, Busy::Stopping);
    assert!(!s.quit);
}
