//! Slash commands, typed in the input or run from the palette.

use super::{
    SESSION, alt, answered, approval, chat, ctrl, effects, event, last, notice, press, state,
    type_keys,
};
use crate::tui::action::{Choice, Effect, Event, Query};
use crate::tui::palette::COMMANDS;
use crate::tui::state::{Busy, Overlay, Screen, State};
use crate::tui::transcript::{Kind, Scroll};
use crate::tui::update::Update;
use ratatui::crossterm::event::KeyCode;

// ---------------------------------------------------------------- palette

#[test]
fn tab_or_slash_on_an_empty_input_opens_the_palette() {
    let mut s = state();
    assert_eq!(press(&mut s, KeyCode::Tab), effects(vec![]));
    assert_eq!(
        s.overlay,
        Some(Overlay::Palette {
            query: String::new(),
            selected: 0,
        })
    );
    assert_eq!(press(&mut s, KeyCode::Esc), effects(vec![]));
    assert_eq!(s.overlay, None);

    press(&mut s, KeyCode::Char('/'));
    assert!(matches!(s.overlay, Some(Overlay::Palette { .. })));
    assert!(
        s.input.is_empty(),
        "the slash opens the palette, it is not typed"
    );

    // In text, a slash is just a character.
    let mut s = state();
    type_keys(&mut s, "a/b");
    assert_eq!(s.input.text(), "a/b");
    assert_eq!(s.overlay, None);
}

#[test]
fn the_palette_filters_and_enter_runs_the_best_command() {
    let mut s = chat();
    press(&mut s, KeyCode::Char('/'));
    type_keys(&mut s, "nw");
    assert_eq!(
        s.overlay,
        Some(Overlay::Palette {
            query: "nw".into(),
            selected: 0,
        })
    );
    let done = press(&mut s, KeyCode::Enter);
    assert_eq!(done, effects(vec![Effect::NewSession]));
    assert_eq!(s.overlay, None);
    assert!(s.input.is_empty());
}

#[test]
fn the_palette_runs_a_command_typed_with_its_arguments() {
    let mut s = chat();
    press(&mut s, KeyCode::Tab);
    type_keys(&mut s, "model gpt-5");
    let done = press(&mut s, KeyCode::Enter);
    assert_eq!(
        done,
        effects(vec![Effect::UseModel {
            session: SESSION.into(),
            model: "gpt-5".into(),
        }])
    );
    assert_eq!(s.overlay, None);

    press(&mut s, KeyCode::Tab);
    type_keys(&mut s, "session web:abc");
    assert_eq!(
        press(&mut s, KeyCode::Enter),
        effects(vec![Effect::OpenSession("web:abc".into())])
    );
}

#[test]
fn palette_tab_puts_the_command_in_the_input() {
    let mut s = state();
    press(&mut s, KeyCode::Tab);
    type_keys(&mut s, "mod");
    assert_eq!(press(&mut s, KeyCode::Tab), effects(vec![]));
    assert_eq!(s.overlay, None);
    assert_eq!(s.input.text(), "/model ");
    assert_eq!(s.input.cursor(), "/model ".len());
    type_keys(&mut s, "gpt-5");
    assert_eq!(
        press(&mut s, KeyCode::Enter).effects,
        vec![Effect::UseModel {
            session: SESSION.into(),
            model: "gpt-5".into(),
        }]
    );

    // Tab with nothing matching keeps the palette open.
    press(&mut s, KeyCode::Tab);
    type_keys(&mut s, "zzz");
    press(&mut s, KeyCode::Tab);
    assert!(matches!(s.overlay, Some(Overlay::Palette { .. })));
    assert!(s.input.is_empty());
}

#[test]
fn palette_arrows_move_within_the_list_and_backspace_edits_then_closes() {
    let mut s = state();
    press(&mut s, KeyCode::Tab);
    press(&mut s, KeyCode::Up);
    assert_eq!(
        s.overlay,
        Some(Overlay::Palette {
            query: String::new(),
            selected: 0,
        })
    );
    for _ in 0..COMMANDS.len() + 3 {
        press(&mut s, KeyCode::Down);
    }
    assert_eq!(
        s.overlay,
        Some(Overlay::Palette {
            query: String::new(),
            selected: COMMANDS.len() - 1,
        })
    );
    // Typing starts the selection over.
    type_keys(&mut s, "he");
    assert_eq!(
        s.overlay,
        Some(Overlay::Palette {
            query: "he".into(),
            selected: 0,
        })
    );
    press(&mut s, KeyCode::Backspace);
    assert_eq!(
        s.overlay,
        Some(Overlay::Palette {
            query: "h".into(),
            selected: 0,
        })
    );
    press(&mut s, KeyCode::Backspace);
    assert!(matches!(s.overlay, Some(Overlay::Palette { .. })));
    press(&mut s, KeyCode::Backspace);
    assert_eq!(s.overlay, None, "backspace on an empty search closes");
    // Ctrl with a letter in the palette does nothing.
    press(&mut s, KeyCode::Tab);
    assert_eq!(ctrl(&mut s, 'x'), Update::none());
}

#[test]
fn palette_esc_closes_without_running_anything() {
    let mut s = state();
    press(&mut s, KeyCode::Tab);
    type_keys(&mut s, "quit");
    assert_eq!(press(&mut s, KeyCode::Esc), effects(vec![]));
    assert_eq!(s.overlay, None);
    assert!(!s.quit);
}

#[test]
fn palette_enter_with_no_match_reports_an_unknown_command() {
    let mut s = state();
    press(&mut s, KeyCode::Tab);
    type_keys(&mut s, "zzz");
    assert_eq!(press(&mut s, KeyCode::Enter), effects(vec![]));
    assert_eq!(s.overlay, None);
    let (text, error) = notice(&s);
    assert!(text.contains("unknown command /zzz"), "{text}");
    assert!(error);
}

// ---------------------------------------------------------------- commands

/// What a command of the palette must do: its effects, and the overlay it
/// opens. A command added to `COMMANDS` fails here until it is described.
fn expected(command: &str) -> (Vec<Effect>, Option<&'static str>) {
    let session = SESSION.to_string();
    match command {
        "/help" => (vec![], Some("help")),
        "/new" => (vec![Effect::NewSession], None),
        "/session" => (vec![Effect::ListSessions], Some("sessions")),
        "/model" => (vec![Effect::ListModels], Some("models")),
        "/login" => (vec![Effect::ListLogins], Some("login")),
        "/clear" => (vec![Effect::Clear(session)], None),
        // Idle: nothing to stop, a notice says so.
        "/stop" => (vec![], None),
        "/copy" => (vec![Effect::Copy("the answer".into())], None),
        "/components" => (vec![Effect::Query(Query::Components)], None),
        "/skills" => (vec![Effect::Query(Query::Skills)], None),
        "/workers" => (vec![Effect::Query(Query::Workers)], None),
        "/telegram status" => (vec![Effect::Query(Query::TelegramStatus)], None),
        "/whatsapp status" => (vec![Effect::Query(Query::WhatsAppStatus)], None),
        "/whatsapp pair" => (vec![Effect::Query(Query::WhatsAppPair)], None),
        "/home" => (vec![Effect::Query(Query::Home)], None),
        "/quit" => (vec![Effect::Quit], None),
        other => panic!("no expectation for the palette's command {other}"),
    }
}

fn overlay_name(overlay: &Option<Overlay>) -> Option<&'static str> {
    overlay.as_ref().map(|o| match o {
        Overlay::Palette { .. } => "palette",
        Overlay::Sessions { .. } => "sessions",
        Overlay::Models { .. } => "models",
        Overlay::Login { .. } => "login",
        Overlay::Help => "help",
        Overlay::Panel { .. } => "panel",
    })
}

/// The state after `command`, checked against [`expected`].
fn check_command(command: &str, s: &mut State, done: Update, how: &str) {
    let (effects, overlay) = expected(command);
    assert!(done.redraw, "{command} ({how}) redraws");
    assert_eq!(done.effects, effects, "{command} ({how})");
    assert_eq!(overlay_name(&s.overlay), overlay, "{command} ({how})");
    assert!(s.input.is_empty(), "{command} ({how}) empties the input");
    match command {
        "/clear" => assert!(s.transcript.is_empty(), "/clear ({how})"),
        "/home" => assert_eq!(s.screen, Screen::Home, "/home ({how})"),
        "/quit" => assert!(s.quit, "/quit ({how})"),
        "/stop" => assert_eq!(notice(s), ("nothing is running".into(), false)),
        "/copy" => assert_eq!(notice(s), ("copied 10 characters".into(), false)),
        _ => {}
    }
    if command != "/quit" {
        assert!(!s.quit, "{command} ({how}) does not quit");
    }
    if command != "/clear" {
        assert_eq!(
            s.transcript.len(),
            2,
            "{command} ({how}) keeps the transcript"
        );
    }
}

#[test]
fn every_command_typed_in_the_input_does_its_job() {
    for (command, _) in COMMANDS {
        let mut s = answered();
        s.input.set(command);
        let done = press(&mut s, KeyCode::Enter);
        check_command(command, &mut s, done, "typed");
    }
}

#[test]
fn every_command_searched_in_the_palette_does_the_same() {
    for (command, _) in COMMANDS {
        let mut s = answered();
        press(&mut s, KeyCode::Tab);
        type_keys(&mut s, command.trim_start_matches('/'));
        let done = press(&mut s, KeyCode::Enter);
        check_command(command, &mut s, done, "palette search");
    }
}

#[test]
fn every_command_picked_with_the_arrows_in_the_palette_does_the_same() {
    for (i, (command, _)) in COMMANDS.iter().enumerate() {
        let mut s = answered();
        press(&mut s, KeyCode::Tab);
        for _ in 0..i {
            press(&mut s, KeyCode::Down);
        }
        let done = press(&mut s, KeyCode::Enter);
        check_command(command, &mut s, done, "palette arrows");
    }
}

#[test]
fn command_aliases_and_arguments() {
    let cases: Vec<(&str, Vec<Effect>)> = vec![
        ("/exit", vec![Effect::Quit]),
        ("/sessions", vec![Effect::ListSessions]),
        (
            "/session web:abc",
            vec![Effect::OpenSession("web:abc".into())],
        ),
        (
            "/sessions  web:abc ",
            vec![Effect::OpenSession("web:abc".into())],
        ),
        (
            "/model anthropic/claude-sonnet-4",
            vec![Effect::UseModel {
                session: SESSION.into(),
                model: "anthropic/claude-sonnet-4".into(),
            }],
        ),
        ("/login openai", vec![Effect::Login("openai".into())]),
        ("/telegram", vec![Effect::Query(Query::TelegramStatus)]),
        ("/whatsapp", vec![Effect::Query(Query::WhatsAppStatus)]),
        ("/NEW", vec![Effect::NewSession]),
        ("/Help", vec![]),
        (
            "/approve 7",
            vec![Effect::Answer {
                id: "7".into(),
                choice: Choice::Approve,
            }],
        ),
        (
            "/allow 7",
            vec![Effect::Answer {
                id: "7".into(),
                choice: Choice::Allow,
            }],
        ),
        (
            "/reject 7",
            vec![Effect::Answer {
                id: "7".into(),
                choice: Choice::Reject,
            }],
        ),
    ];
    for (line, want) in cases {
        let mut s = chat();
        s.input.set(line);
        let done = press(&mut s, KeyCode::Enter);
        assert_eq!(done.effects, want, "{line}");
        assert!(done.redraw, "{line}");
        assert!(s.input.is_empty(), "{line}");
        assert!(s.transcript.is_empty(), "{line} is not a message");
    }
}

#[test]
fn an_answer_command_closes_its_own_approval_only() {
    // While an approval waits it takes every key, so the command runs
    // through `commands::run` here, as the palette would call it.
    let mut s = chat();
    event(&mut s, Event::Approval(approval("8")));
    let done = crate::tui::commands::run(&mut s, "/approve 7").expect("a command");
    assert_eq!(
        done.effects,
        vec![Effect::Answer {
            id: "7".into(),
            choice: Choice::Approve,
        }]
    );
    assert_eq!(s.approval, Some(approval("8")));
    crate::tui::commands::run(&mut s, "/reject 8").expect("a command");
    assert_eq!(s.approval, None);
}

#[test]
fn answer_commands_ignore_case_like_the_others() {
    let mut s = chat();
    s.input.set("/Approve 7");
    assert_eq!(
        press(&mut s, KeyCode::Enter).effects,
        vec![Effect::Answer {
            id: "7".into(),
            choice: Choice::Approve,
        }]
    );
}

#[test]
fn an_unknown_command_is_a_notice_and_no_message() {
    for line in [
        "/frobnicate",
        "/approve",
        "/telegram restart",
        "/whatsapp unpair",
    ] {
        let mut s = chat();
        s.input.set(line);
        let done = press(&mut s, KeyCode::Enter);
        assert_eq!(done, effects(vec![]), "{line}");
        let (text, error) = notice(&s);
        assert!(text.contains(&format!("unknown command {line}")), "{text}");
        assert!(text.contains("/help"), "{text}");
        assert!(error);
        assert!(s.transcript.is_empty(), "{line}");
        assert_eq!(s.busy, Busy::Idle);
    }
}

#[test]
fn a_path_or_a_lone_slash_is_an_ordinary_message() {
    for line in ["/etc/hosts", "/ hello", "/", "//comment", "/usr/bin/env -i"] {
        let mut s = chat();
        s.input.set(line);
        let done = press(&mut s, KeyCode::Enter);
        assert_eq!(
            done.effects,
            vec![Effect::Send {
                session: SESSION.into(),
                text: line.into(),
            }],
            "{line}"
        );
        assert_eq!(last(&s).kind, Kind::User);
        assert_eq!(last(&s).text, line);
        assert_eq!(s.notice, None);
    }
}

#[test]
fn clear_forgets_the_transcript_and_the_selection() {
    let mut s = answered();
    alt(&mut s, KeyCode::Up);
    assert!(s.selected.is_some());
    s.input.set("/clear");
    assert_eq!(
        press(&mut s, KeyCode::Enter),
        effects(vec![Effect::Clear(SESSION.into())])
    );
    assert!(s.transcript.is_empty());
    assert_eq!(s.selected, None);
    assert_eq!(s.transcript.scroll, Scroll::Follow);
}

#[test]
fn copy_with_nothing_to_copy_is_a_notice() {
    let mut s = chat();
    s.input.set("/copy");
    assert_eq!(press(&mut s, KeyCode::Enter), effects(vec![]));
    assert_eq!(notice(&s), ("nothing to copy yet".into(), true));
    assert_eq!(ctrl(&mut s, 'y'), effects(vec![]));
}

#[test]
fn a_palette_query_typed_with_its_slash_still_runs() {
    let mut s = chat();
    press(&mut s, KeyCode::Tab);
    type_keys(&mut s, "/model gpt-5");
    assert_eq!(
        press(&mut s, KeyCode::Enter).effects,
        vec![Effect::UseModel {
            session: SESSION.into(),
            model: "gpt-5".into(),
        }]
    );
}
