//! Typing, editing and sending in the input, pasting, scrolling, resizing and ticks.

use super::{
    SESSION, alt, chat, ctrl, effects, event, key_with, last, notice, press, state, type_keys,
};
use crate::tui::action::{Action, Effect, Event, Role, StoredLine};
use crate::tui::state::{Busy, Overlay, Screen, State};
use crate::tui::transcript::{Kind, Scroll};
use crate::tui::update::{Update, update};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

/// A chat with `n` user messages and answers, long enough to scroll.
fn long_chat(n: usize) -> State {
    let mut s = chat();
    for i in 0..n {
        event(&mut s, Event::UserEcho(format!("question {i}")));
        event(
            &mut s,
            Event::TurnDone {
                answer: Some(format!("answer {i}\nsecond line of answer {i}")),
                error: None,
                files: vec![],
            },
        );
    }
    s
}

fn top_entry(s: &State) -> usize {
    match s.transcript.scroll {
        Scroll::At { entry, .. } => entry,
        Scroll::Follow => panic!("the transcript follows the end"),
    }
}

// ---------------------------------------------------------------- typing

#[test]
fn typing_fills_the_input_and_editing_keys_change_it() {
    let mut s = state();
    type_keys(&mut s, "héllo wörld");
    assert_eq!(s.input.text(), "héllo wörld");
    assert!(s.transcript.is_empty(), "typing sends nothing");

    press(&mut s, KeyCode::Backspace);
    assert_eq!(s.input.text(), "héllo wörl");
    press(&mut s, KeyCode::Home);
    press(&mut s, KeyCode::Delete);
    assert_eq!(s.input.text(), "éllo wörl");
    press(&mut s, KeyCode::Right);
    press(&mut s, KeyCode::Char('X'));
    assert_eq!(s.input.text(), "éXllo wörl");
    press(&mut s, KeyCode::End);
    press(&mut s, KeyCode::Left);
    press(&mut s, KeyCode::Char('!'));
    assert_eq!(s.input.text(), "éXllo wör!l");
    press(&mut s, KeyCode::End);

    // Ctrl+W deletes a word, Ctrl+U everything.
    assert_eq!(ctrl(&mut s, 'w'), effects(vec![]));
    assert_eq!(s.input.text(), "éXllo ");
    assert_eq!(ctrl(&mut s, 'u'), effects(vec![]));
    assert!(s.input.is_empty());

    // Shift gives capitals; Alt with a letter still types it.
    update(&mut s, key_with(KeyCode::Char('A'), KeyModifiers::SHIFT));
    alt(&mut s, KeyCode::Char('b'));
    assert_eq!(s.input.text(), "Ab");
}

#[test]
fn up_and_down_recall_what_was_sent() {
    let mut s = chat();
    type_keys(&mut s, "first");
    press(&mut s, KeyCode::Enter);
    event(
        &mut s,
        Event::TurnDone {
            answer: None,
            error: None,
            files: vec![],
        },
    );
    type_keys(&mut s, "draft");
    press(&mut s, KeyCode::Up);
    assert_eq!(s.input.text(), "first");
    press(&mut s, KeyCode::Down);
    assert_eq!(s.input.text(), "draft");
}

#[test]
fn enter_sends_the_message_and_shows_it() {
    let mut s = state();
    type_keys(&mut s, "  hi there ");
    let done = press(&mut s, KeyCode::Enter);
    assert_eq!(
        done,
        effects(vec![Effect::Send {
            session: SESSION.into(),
            text: "hi there".into(),
        }])
    );
    assert_eq!(s.screen, Screen::Chat, "sending from Home opens the chat");
    assert_eq!(s.busy, Busy::Thinking);
    assert!(s.input.is_empty());
    assert_eq!(s.transcript.len(), 1);
    assert_eq!(last(&s).kind, Kind::User);
    assert_eq!(last(&s).text, "hi there");
    assert_eq!(s.transcript.scroll, Scroll::Follow);
    assert!(s.animating(), "the spinner runs while the turn does");
}

#[test]
fn enter_sends_to_the_current_session_and_follows_the_end_again() {
    let mut s = long_chat(20);
    event(
        &mut s,
        Event::Opened {
            session: "tui:other".into(),
            title: None,
            messages: (0..30)
                .map(|i| StoredLine {
                    role: Role::User,
                    text: format!("old {i}"),
                })
                .collect(),
        },
    );
    press(&mut s, KeyCode::PageUp);
    assert!(matches!(s.transcript.scroll, Scroll::At { .. }));
    alt(&mut s, KeyCode::Up);
    assert!(s.selected.is_some());
    type_keys(&mut s, "new question");
    let done = press(&mut s, KeyCode::Enter);
    assert_eq!(
        done.effects,
        vec![Effect::Send {
            session: "tui:other".into(),
            text: "new question".into(),
        }]
    );
    assert_eq!(s.transcript.scroll, Scroll::Follow);
    assert_eq!(s.selected, None);
}

#[test]
fn enter_on_an_empty_input_opens_the_chat_from_home_and_else_does_nothing() {
    let mut s = state();
    assert_eq!(press(&mut s, KeyCode::Enter), effects(vec![]));
    assert_eq!(s.screen, Screen::Chat);
    assert_eq!(press(&mut s, KeyCode::Enter), Update::none());
    // Blank text counts as empty.
    type_keys(&mut s, "   ");
    assert_eq!(press(&mut s, KeyCode::Enter), Update::none());
    assert!(s.transcript.is_empty());
}

#[test]
fn alt_shift_enter_and_ctrl_j_insert_a_new_line() {
    let mut s = state();
    type_keys(&mut s, "a");
    assert_eq!(alt(&mut s, KeyCode::Enter), effects(vec![]));
    type_keys(&mut s, "b");
    update(&mut s, key_with(KeyCode::Enter, KeyModifiers::SHIFT));
    type_keys(&mut s, "c");
    ctrl(&mut s, 'j');
    type_keys(&mut s, "d");
    assert_eq!(s.input.text(), "a\nb\nc\nd");
    assert_eq!(s.input_height(), 4);
    assert_eq!(s.transcript_height(), 24 - 4 - 2);
    assert!(s.transcript.is_empty(), "nothing was sent");
    let done = press(&mut s, KeyCode::Enter);
    assert_eq!(
        done.effects,
        vec![Effect::Send {
            session: SESSION.into(),
            text: "a\nb\nc\nd".into(),
        }]
    );
}

#[test]
fn enter_while_a_turn_runs_is_refused_and_keeps_the_input() {
    let mut s = chat();
    type_keys(&mut s, "one");
    press(&mut s, KeyCode::Enter);
    type_keys(&mut s, "two");
    let done = press(&mut s, KeyCode::Enter);
    assert_eq!(done, effects(vec![]));
    assert_eq!(s.input.text(), "two");
    let (text, error) = notice(&s);
    assert!(text.contains("a turn is running"), "{text}");
    assert!(error);
    assert_eq!(s.transcript.len(), 1, "only the first message is shown");

    // The next key clears the notice.
    type_keys(&mut s, "!");
    assert_eq!(s.notice, None);

    // Commands still run while busy.
    s.input.set("/stop");
    assert_eq!(press(&mut s, KeyCode::Enter), effects(vec![Effect::Stop]));
    assert_eq!(s.busy, Busy::Stopping);
    assert!(s.input.is_empty());
}

#[test]
fn a_key_release_is_ignored_and_a_repeat_types() {
    let mut s = state();
    let release = KeyEvent::new_with_kind(
        KeyCode::Char('a'),
        KeyModifiers::NONE,
        KeyEventKind::Release,
    );
    assert_eq!(update(&mut s, Action::Key(release)), Update::none());
    let enter = KeyEvent::new_with_kind(KeyCode::Enter, KeyModifiers::NONE, KeyEventKind::Release);
    assert_eq!(update(&mut s, Action::Key(enter)), Update::none());
    assert_eq!(s.screen, Screen::Home);
    assert!(s.input.is_empty());
    let repeat =
        KeyEvent::new_with_kind(KeyCode::Char('a'), KeyModifiers::NONE, KeyEventKind::Repeat);
    update(&mut s, Action::Key(repeat));
    assert_eq!(s.input.text(), "a");
}

#[test]
fn unbound_keys_change_nothing() {
    let mut s = state();
    for code in [
        KeyCode::F(5),
        KeyCode::Insert,
        KeyCode::PageUp,
        KeyCode::PageDown,
    ] {
        assert_eq!(press(&mut s, code), Update::none(), "{code:?} on Home");
    }
    // Ctrl with a letter that means nothing does not type it.
    assert_eq!(ctrl(&mut s, 'x'), Update::none());
    // Tab with text in the input neither opens the palette nor types.
    type_keys(&mut s, "abc");
    assert_eq!(press(&mut s, KeyCode::Tab), Update::none());
    assert_eq!(s.overlay, None);
    assert_eq!(s.input.text(), "abc");
}

// ---------------------------------------------------------------- paste

#[test]
fn a_paste_inserts_its_text_with_the_newlines() {
    let mut s = state();
    type_keys(&mut s, "<>");
    press(&mut s, KeyCode::Left);
    let done = update(&mut s, Action::Paste("one\r\ntwo\nthree".into()));
    assert_eq!(done, effects(vec![]));
    assert_eq!(s.input.text(), "<one\ntwo\nthree>");
    assert_eq!(s.input.line_count(), 3);
    assert!(s.transcript.is_empty(), "a paste is not sent");
}

#[test]
fn a_paste_into_a_picker_becomes_its_search_on_one_line() {
    let mut s = state();
    press(&mut s, KeyCode::Tab);
    update(&mut s, Action::Paste("mo\nde\r\nl".into()));
    assert_eq!(
        s.overlay,
        Some(Overlay::Palette {
            query: "mo de  l".into(),
            selected: 0,
        })
    );
    assert!(s.input.is_empty());
}

// ---------------------------------------------------------------- scrolling

#[test]
fn page_up_and_page_down_move_the_transcript() {
    let mut s = long_chat(30);
    assert_eq!(s.transcript.scroll, Scroll::Follow);
    assert_eq!(press(&mut s, KeyCode::PageUp), effects(vec![]));
    let first = top_entry(&s);
    press(&mut s, KeyCode::PageUp);
    let second = top_entry(&s);
    assert!(second < first, "{second} < {first}");
    press(&mut s, KeyCode::PageDown);
    assert_eq!(top_entry(&s), first);
    press(&mut s, KeyCode::PageDown);
    assert_eq!(s.transcript.scroll, Scroll::Follow, "back at the end");
    for _ in 0..100 {
        press(&mut s, KeyCode::PageUp);
    }
    assert_eq!(s.transcript.scroll, Scroll::At { entry: 0, line: 0 });
}

#[test]
fn the_wheel_scrolls_the_chat_only() {
    let mut s = long_chat(30);
    assert_eq!(update(&mut s, Action::Scroll(-3)), effects(vec![]));
    let Scroll::At { entry, line } = s.transcript.scroll else {
        panic!("the wheel did not scroll");
    };
    update(&mut s, Action::Scroll(-1));
    assert_ne!(s.transcript.scroll, Scroll::At { entry, line });
    update(&mut s, Action::Scroll(1));
    assert_eq!(s.transcript.scroll, Scroll::At { entry, line });
    update(&mut s, Action::Scroll(1000));
    assert_eq!(s.transcript.scroll, Scroll::Follow);

    // Not on Home, and not under an overlay.
    s.screen = Screen::Home;
    assert_eq!(update(&mut s, Action::Scroll(-3)), Update::none());
    assert_eq!(s.transcript.scroll, Scroll::Follow);
    s.screen = Screen::Chat;
    press(&mut s, KeyCode::Tab);
    assert_eq!(update(&mut s, Action::Scroll(-3)), Update::none());
    assert_eq!(s.transcript.scroll, Scroll::Follow);
}

#[test]
fn a_resize_sets_the_size_and_keeps_the_entry_at_the_top() {
    let mut s = chat();
    for i in 0..10 {
        event(
            &mut s,
            Event::Message {
                text: format!("{i} {}", "word ".repeat(40)),
                error: false,
            },
        );
    }
    update(&mut s, Action::Scroll(-25));
    let entry = top_entry(&s);
    let done = update(&mut s, Action::Resize(40, 30));
    assert_eq!(done, effects(vec![]));
    assert_eq!((s.width, s.height), (40, 30));
    assert_eq!(s.transcript_height(), 27);
    assert_eq!(top_entry(&s), entry);
    // Narrower: every message wraps to more lines.
    assert!(s.transcript.entries()[0].lines().len() > 4);
    update(&mut s, Action::Resize(160, 48));
    assert_eq!(top_entry(&s), entry);
    assert_eq!((s.width, s.height), (160, 48));

    // Following the end stays so.
    let mut s = long_chat(5);
    update(&mut s, Action::Resize(50, 10));
    assert_eq!(s.transcript.scroll, Scroll::Follow);
}

// ---------------------------------------------------------------- tick

#[test]
fn a_tick_redraws_only_while_something_runs() {
    let mut s = chat();
    assert!(!s.animating());
    assert_eq!(update(&mut s, Action::Tick), Update::none());
    assert_eq!(s.spinner, 0);

    type_keys(&mut s, "go");
    press(&mut s, KeyCode::Enter);
    assert!(s.animating());
    assert_eq!(update(&mut s, Action::Tick), effects(vec![]));
    assert_eq!(update(&mut s, Action::Tick), effects(vec![]));
    assert_eq!(s.spinner, 2);

    event(
        &mut s,
        Event::TurnDone {
            answer: Some("done".into()),
            error: None,
            files: vec![],
        },
    );
    assert!(!s.animating(), "idle again: the loop stops ticking");
    for _ in 0..10 {
        assert_eq!(update(&mut s, Action::Tick), Update::none());
    }
    assert_eq!(s.spinner, 2);
}

#[test]
fn ticks_keep_going_while_a_tool_runs_or_a_stop_waits() {
    let mut s = chat();
    event(
        &mut s,
        Event::ToolStarted {
            name: "fs.read".into(),
            arguments: "{}".into(),
        },
    );
    assert!(update(&mut s, Action::Tick).redraw);
    s.busy = Busy::Stopping;
    assert!(update(&mut s, Action::Tick).redraw);
}

#[test]
fn scrolling_up_a_short_chat_keeps_following_the_answer() {
    let mut s = chat();
    event(&mut s, Event::UserEcho("q".into()));
    update(&mut s, Action::Scroll(-3));
    for i in 0..40 {
        event(&mut s, Event::Delta(format!("line {i}\n")));
    }
    assert_eq!(s.transcript.scroll, Scroll::Follow);
}
