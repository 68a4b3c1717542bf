//! Backend events: streaming, tools, finished turns, lists and notices.

use super::{
    answered, approval, chat, effects, event, last, lines, login_rows, model_rows, notice, picker,
    press, session_rows, sessions_picker, state, type_keys,
};
use crate::tui::action::{Action, Effect, Event, HomeInfo, Query, Role, StoredLine, WORKERS_TITLE};
use crate::tui::state::{Busy, Overlay, Screen, State};
use crate::tui::transcript::{Kind, Scroll};
use crate::tui::update::update;
use ratatui::crossterm::event::KeyCode;

fn kinds(s: &State) -> Vec<Kind> {
    s.transcript
        .entries()
        .iter()
        .map(|e| e.kind.clone())
        .collect()
}

// ---------------------------------------------------------------- backend events

#[test]
fn deltas_stream_into_one_assistant_entry() {
    let mut s = chat();
    type_keys(&mut s, "hi");
    press(&mut s, KeyCode::Enter);
    for part in ["Hel", "lo, ", "wor", "ld"] {
        assert_eq!(event(&mut s, Event::Delta(part.into())), effects(vec![]));
    }
    assert_eq!(kinds(&s), [Kind::User, Kind::Assistant]);
    assert_eq!(last(&s).text, "Hello, world");
    assert_eq!(s.busy, Busy::Thinking);
}

#[test]
fn a_delta_when_idle_starts_the_spinner_but_not_while_stopping() {
    let mut s = chat();
    event(&mut s, Event::Delta("x".into()));
    assert_eq!(s.busy, Busy::Thinking);
    s.busy = Busy::Stopping;
    event(&mut s, Event::Delta("y".into()));
    assert_eq!(s.busy, Busy::Stopping);
    assert_eq!(last(&s).text, "xy");
}

#[test]
fn a_tool_call_is_a_line_and_a_busy_state() {
    let mut s = chat();
    type_keys(&mut s, "list it");
    press(&mut s, KeyCode::Enter);
    event(&mut s, Event::Delta("Let me look.".into()));
    event(
        &mut s,
        Event::ToolStarted {
            name: "fs.list".into(),
            arguments: "{\"path\":\n \".\"}".into(),
        },
    );
    assert_eq!(s.busy, Busy::Tool("fs.list".into()));
    assert_eq!(
        last(&s).kind,
        Kind::Tool {
            name: "fs.list".into(),
            arguments: "{\"path\":\n \".\"}".into(),
            ok: None,
        }
    );
    assert_eq!(lines(last(&s)), ["⚙ fs.list {\"path\": \".\"} …"]);
    event(
        &mut s,
        Event::ToolFinished {
            name: "fs.list".into(),
            ok: true,
        },
    );
    assert_eq!(s.busy, Busy::Thinking);
    assert_eq!(lines(last(&s)), ["✓ fs.list {\"path\": \".\"}"]);

    // Text after the tool starts a new answer entry.
    event(&mut s, Event::Delta("Found it.".into()));
    assert_eq!(
        kinds(&s).len(),
        4,
        "user, assistant, tool, assistant: {:?}",
        kinds(&s)
    );
    assert_eq!(last(&s).text, "Found it.");

    event(
        &mut s,
        Event::ToolStarted {
            name: "system.run".into(),
            arguments: "{}".into(),
        },
    );
    event(
        &mut s,
        Event::ToolFinished {
            name: "system.run".into(),
            ok: false,
        },
    );
    assert_eq!(lines(last(&s)), ["✗ system.run {} — failed"]);
}

#[test]
fn a_finished_tool_marks_the_newest_running_call_of_its_name() {
    let mut s = chat();
    for _ in 0..2 {
        event(
            &mut s,
            Event::ToolStarted {
                name: "fs.read".into(),
                arguments: "{}".into(),
            },
        );
    }
    event(
        &mut s,
        Event::ToolFinished {
            name: "fs.read".into(),
            ok: true,
        },
    );
    let oks: Vec<Option<bool>> = s
        .transcript
        .entries()
        .iter()
        .map(|e| match &e.kind {
            Kind::Tool { ok, .. } => *ok,
            _ => panic!("not a tool"),
        })
        .collect();
    assert_eq!(oks, [None, Some(true)]);
    // A finish for a call never started changes nothing but the busy state.
    event(
        &mut s,
        Event::ToolFinished {
            name: "other".into(),
            ok: false,
        },
    );
    assert_eq!(s.transcript.len(), 2);
    assert_eq!(s.busy, Busy::Thinking);
}

#[test]
fn a_finished_tool_keeps_a_stop_waiting() {
    let mut s = chat();
    event(
        &mut s,
        Event::ToolStarted {
            name: "fs.read".into(),
            arguments: "{}".into(),
        },
    );
    press(&mut s, KeyCode::Esc);
    assert_eq!(s.busy, Busy::Stopping);
    event(
        &mut s,
        Event::ToolFinished {
            name: "fs.read".into(),
            ok: false,
        },
    );
    assert_eq!(s.busy, Busy::Stopping);
}

#[test]
fn turn_done_replaces_the_streamed_text_with_the_answer() {
    let mut s = chat();
    type_keys(&mut s, "hi");
    press(&mut s, KeyCode::Enter);
    event(&mut s, Event::Delta("Hel".into()));
    event(&mut s, Event::Approval(approval("1")));
    let done = event(
        &mut s,
        Event::TurnDone {
            answer: Some("Hello, **world**".into()),
            error: None,
            files: vec![],
        },
    );
    assert_eq!(done, effects(vec![]));
    assert_eq!(kinds(&s), [Kind::User, Kind::Assistant]);
    assert_eq!(last(&s).text, "Hello, **world**");
    assert_eq!(s.busy, Busy::Idle);
    assert_eq!(s.approval, None, "an approval of the ended turn goes");
}

#[test]
fn turn_done_without_streaming_adds_the_answer_and_an_empty_one_adds_nothing() {
    let mut s = chat();
    event(&mut s, Event::UserEcho("q".into()));
    event(
        &mut s,
        Event::TurnDone {
            answer: Some(String::new()),
            error: None,
            files: vec![],
        },
    );
    assert_eq!(kinds(&s), [Kind::User]);
    event(
        &mut s,
        Event::TurnDone {
            answer: Some("late answer".into()),
            error: None,
            files: vec![],
        },
    );
    assert_eq!(kinds(&s), [Kind::User, Kind::Assistant]);
    assert_eq!(last(&s).text, "late answer");
}

#[test]
fn turn_done_with_an_error_and_files() {
    let mut s = chat();
    type_keys(&mut s, "draw");
    press(&mut s, KeyCode::Enter);
    event(
        &mut s,
        Event::TurnDone {
            answer: None,
            error: Some("provider: rate limited".into()),
            files: vec![
                ("chart.png".into(), "/tmp/out/chart.png".into()),
                ("logo.svg".into(), "/tmp/out/logo.svg".into()),
            ],
        },
    );
    assert_eq!(
        kinds(&s),
        [Kind::User, Kind::Error, Kind::Notice, Kind::Notice]
    );
    let e = s.transcript.entries();
    assert_eq!(e[1].text, "provider: rate limited");
    assert_eq!(lines(&e[1])[0], "  ❌ provider: rate limited");
    assert_eq!(e[2].text, "[image chart.png] saved as /tmp/out/chart.png");
    assert_eq!(e[3].text, "[image logo.svg] saved as /tmp/out/logo.svg");
    assert_eq!(s.busy, Busy::Idle);
}

#[test]
fn a_user_echo_is_a_user_entry_and_a_running_turn() {
    let mut s = chat();
    let done = event(&mut s, Event::UserEcho("from the web".into()));
    assert_eq!(done, effects(vec![]));
    assert_eq!(kinds(&s), [Kind::User]);
    assert_eq!(last(&s).text, "from the web");
    assert_eq!(s.busy, Busy::Thinking);
}

#[test]
fn a_message_is_an_answer_or_an_error() {
    let mut s = chat();
    event(
        &mut s,
        Event::Message {
            text: "session renamed".into(),
            error: false,
        },
    );
    event(
        &mut s,
        Event::Message {
            text: "no such session".into(),
            error: true,
        },
    );
    assert_eq!(kinds(&s), [Kind::Assistant, Kind::Error]);
    assert_eq!(last(&s).text, "no such session");
    assert_eq!(s.busy, Busy::Idle, "a message does not start a turn");
}

#[test]
fn opened_replaces_the_transcript_and_shows_the_chat() {
    let mut s = answered();
    s.screen = Screen::Home;
    s.selected = Some(1);
    s.model = Some("openai/gpt-5-mini".into());
    update(&mut s, Action::Scroll(-1));
    let done = event(
        &mut s,
        Event::Opened {
            session: "web:abc".into(),
            title: Some("From the web".into()),
            messages: vec![
                StoredLine {
                    role: Role::User,
                    text: "hello".into(),
                },
                StoredLine {
                    role: Role::Tool,
                    text: "fs.list: 3 files".into(),
                },
                StoredLine {
                    role: Role::Assistant,
                    text: "Three files.".into(),
                },
            ],
        },
    );
    assert_eq!(done, effects(vec![]));
    assert_eq!(s.session, "web:abc");
    assert_eq!(s.session_title.as_deref(), Some("From the web"));
    assert_eq!(kinds(&s), [Kind::User, Kind::Notice, Kind::Assistant]);
    let texts: Vec<&str> = s
        .transcript
        .entries()
        .iter()
        .map(|e| e.text.as_str())
        .collect();
    assert_eq!(texts, ["hello", "fs.list: 3 files", "Three files."]);
    assert_eq!(s.screen, Screen::Chat);
    assert_eq!(s.selected, None);
    assert_eq!(s.model, None);
    assert_eq!(s.transcript.scroll, Scroll::Follow);

    // Messages now go to the opened session.
    type_keys(&mut s, "more");
    assert_eq!(
        press(&mut s, KeyCode::Enter).effects,
        vec![Effect::Send {
            session: "web:abc".into(),
            text: "more".into(),
        }]
    );
}

#[test]
fn list_events_fill_the_lists_and_clamp_the_selection() {
    // Sessions.
    let mut s = sessions_picker();
    press(&mut s, KeyCode::Down);
    press(&mut s, KeyCode::Down);
    assert_eq!(picker(&s).1, 2);
    event(&mut s, Event::Sessions(session_rows()[..1].to_vec()));
    assert_eq!(s.sessions.len(), 1);
    assert_eq!(picker(&s).1, 0);
    event(&mut s, Event::Sessions(vec![]));
    assert_eq!(picker(&s).1, 0);

    // Models.
    let mut s = chat();
    s.overlay = Some(Overlay::Models {
        query: String::new(),
        selected: 5,
    });
    event(&mut s, Event::Models(model_rows()));
    assert_eq!(s.models, model_rows());
    assert_eq!(
        s.overlay,
        Some(Overlay::Models {
            query: String::new(),
            selected: 2,
        })
    );
    // The clamp counts the rows the search shows.
    s.overlay = Some(Overlay::Models {
        query: "gpt".into(),
        selected: 2,
    });
    event(&mut s, Event::Models(model_rows()));
    assert_eq!(
        s.overlay,
        Some(Overlay::Models {
            query: "gpt".into(),
            selected: 1,
        })
    );

    // Sign-ins.
    let mut s = chat();
    s.overlay = Some(Overlay::Login { selected: 7 });
    event(&mut s, Event::Logins(login_rows()));
    assert_eq!(s.logins, login_rows());
    assert_eq!(s.overlay, Some(Overlay::Login { selected: 1 }));

    // With no picker open, the lists are just kept.
    let mut s = chat();
    s.overlay = Some(Overlay::Help);
    event(&mut s, Event::Sessions(session_rows()));
    event(&mut s, Event::Models(model_rows()));
    event(&mut s, Event::Logins(login_rows()));
    assert_eq!(s.overlay, Some(Overlay::Help));
    assert_eq!(
        (s.sessions.len(), s.models.len(), s.logins.len()),
        (3, 3, 2)
    );
}

#[test]
fn home_fills_the_landing_page_and_the_model_label() {
    let mut s = state();
    assert_eq!(s.model_label(), "no model yet");
    let info = HomeInfo {
        provider: "openai".into(),
        model: "gpt-5".into(),
        sign_in: "signed in".into(),
        sign_in_ok: true,
        channels: vec![("web".into(), "http://127.0.0.1:8080".into())],
        components: vec![("fs".into(), "active".into())],
        mode: "standalone".into(),
    };
    assert_eq!(event(&mut s, Event::Home(info.clone())), effects(vec![]));
    assert_eq!(s.home, info);
    assert_eq!(s.model_label(), "openai/gpt-5");
    assert_eq!(s.screen, Screen::Home);
    s.home.model.clear();
    assert_eq!(s.model_label(), "openai");
}

#[test]
fn approval_and_settled() {
    let mut s = chat();
    assert_eq!(
        event(&mut s, Event::Approval(approval("5"))),
        effects(vec![])
    );
    assert_eq!(s.approval, Some(approval("5")));

    // Another request settling leaves this one.
    event(
        &mut s,
        Event::Settled {
            id: "4".into(),
            how: "approved on the web".into(),
        },
    );
    assert_eq!(s.approval, Some(approval("5")));
    assert_eq!(notice(&s), ("request 4: approved on the web".into(), false));

    event(
        &mut s,
        Event::Settled {
            id: "5".into(),
            how: "expired".into(),
        },
    );
    assert_eq!(s.approval, None);
    assert_eq!(notice(&s), ("request 5: expired".into(), false));
}

#[test]
fn a_panel_opens_over_anything() {
    let mut s = sessions_picker();
    event(
        &mut s,
        Event::Panel {
            title: "Components".into(),
            lines: vec!["fs  active".into()],
        },
    );
    assert_eq!(
        s.overlay,
        Some(Overlay::Panel {
            title: "Components".into(),
            lines: vec!["fs  active".into()],
            scroll: 0,
        })
    );
}

#[test]
fn model_changed_sets_the_label_and_says_so() {
    let mut s = chat();
    s.home.provider = "openai".into();
    s.home.model = "gpt-5".into();
    assert_eq!(
        event(
            &mut s,
            Event::ModelChanged("anthropic/claude-sonnet-4".into())
        ),
        effects(vec![])
    );
    assert_eq!(s.model.as_deref(), Some("anthropic/claude-sonnet-4"));
    assert_eq!(s.model_label(), "anthropic/claude-sonnet-4");
    assert_eq!(
        notice(&s),
        (
            "this session now uses anthropic/claude-sonnet-4".into(),
            false
        )
    );
}

#[test]
fn connection_is_a_notice_an_error_unless_attached() {
    let mut s = chat();
    assert_eq!(
        event(&mut s, Event::Connection("attached".into())),
        effects(vec![])
    );
    assert_eq!(notice(&s), ("attached".into(), false));
    event(&mut s, Event::Connection("reconnecting in 2 s".into()));
    assert_eq!(notice(&s), ("reconnecting in 2 s".into(), true));
}

#[test]
fn a_worker_event_is_a_notice_and_refreshes_an_open_workers_panel() {
    let mut s = chat();
    assert_eq!(
        event(&mut s, Event::Worker("5e1f00aa running 40%".into())),
        effects(vec![])
    );
    assert_eq!(notice(&s), ("worker 5e1f00aa running 40%".into(), false));
    // Another panel stays as it is.
    event(
        &mut s,
        Event::Panel {
            title: "Components".into(),
            lines: vec![],
        },
    );
    assert_eq!(event(&mut s, Event::Worker("x".into())), effects(vec![]));
    event(
        &mut s,
        Event::Panel {
            title: WORKERS_TITLE.into(),
            lines: vec!["5e1f00aa running 40%".into()],
        },
    );
    assert_eq!(
        event(&mut s, Event::Worker("5e1f00aa ended".into())),
        effects(vec![Effect::Query(Query::Workers)])
    );
}

#[test]
fn every_backend_event_redraws() {
    let all = vec![
        Event::Delta("d".into()),
        Event::ToolStarted {
            name: "t".into(),
            arguments: String::new(),
        },
        Event::ToolFinished {
            name: "t".into(),
            ok: true,
        },
        Event::TurnDone {
            answer: None,
            error: None,
            files: vec![],
        },
        Event::UserEcho("u".into()),
        Event::Message {
            text: "m".into(),
            error: false,
        },
        Event::Opened {
            session: "s".into(),
            title: None,
            messages: vec![],
        },
        Event::Sessions(vec![]),
        Event::Models(vec![]),
        Event::Logins(vec![]),
        Event::Home(HomeInfo::default()),
        Event::Approval(approval("1")),
        Event::Settled {
            id: "1".into(),
            how: "gone".into(),
        },
        Event::Panel {
            title: "p".into(),
            lines: vec![],
        },
        Event::ModelChanged("m".into()),
        Event::Connection("attached".into()),
        Event::Worker("w".into()),
    ];
    let mut s = state();
    for e in all {
        let name = format!("{e:?}");
        assert_eq!(event(&mut s, e), effects(vec![]), "{name}");
    }
}

#[test]
fn a_finished_turn_ends_its_running_tool_lines() {
    let mut s = chat();
    event(
        &mut s,
        Event::ToolStarted {
            name: "fs.read".into(),
            arguments: "{}".into(),
        },
    );
    press(&mut s, KeyCode::Esc);
    event(
        &mut s,
        Event::TurnDone {
            answer: None,
            error: Some("stopped".into()),
            files: vec![],
        },
    );
    assert!(
        !matches!(s.transcript.entries()[0].kind, Kind::Tool { ok: None, .. }),
        "{:?}",
        s.transcript.entries()[0].kind
    );
}
