//! Every screen and box drawn on a test terminal, as text, at 80×24 and at
//! 160×48, compared with the snapshots in `snapshots/`.
//!
//! The plain theme keeps the text independent of colours; only the
//! characters on screen are compared. After a deliberate change to the
//! look, review and accept the new snapshots with `cargo insta review`
//! (or run once with `INSTA_UPDATE=always` and read the diff).

use crate::tui::action::{
    Action, ApprovalRequest, Event, HomeInfo, LoginRow, ModelRow, SessionRow,
};
use crate::tui::state::{Overlay, Screen, State};
use crate::tui::theme::Theme;
use crate::tui::update::update;
use crate::tui::view;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use unicode_width::UnicodeWidthStr;

const SESSION: &str = "tui:default";

/// The two sizes every screen is drawn at.
const SIZES: [(u16, u16); 2] = [(80, 24), (160, 48)];

/// The buffer's rows as text, trailing blanks cut; a wide character's
/// second cell is skipped.
fn render(state: &State, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test terminal");
    terminal
        .draw(|f| view::view(f, state))
        .expect("draw on the test terminal");
    let buffer = terminal.backend().buffer();
    let mut out = String::new();
    for y in 0..buffer.area.height {
        let mut row = String::new();
        let mut skip = 0;
        for x in 0..buffer.area.width {
            if skip > 0 {
                skip -= 1;
                continue;
            }
            let symbol = buffer[(x, y)].symbol();
            row.push_str(symbol);
            skip = symbol.width().saturating_sub(1);
        }
        out.push_str(row.trim_end());
        out.push('\n');
    }
    out
}

/// Draws the state `make` builds at both sizes and compares each.
fn snapshot(name: &str, make: impl Fn(u16, u16) -> State) {
    for (width, height) in SIZES {
        let state = make(width, height);
        let text = render(&state, width, height);
        insta::assert_snapshot!(format!("{name}_{width}x{height}"), text);
    }
}

fn act(s: &mut State, action: Action) {
    update(s, action);
}

fn event(s: &mut State, e: Event) {
    act(s, Action::Backend(e));
}

fn press(s: &mut State, code: KeyCode) {
    act(s, Action::Key(KeyEvent::new(code, KeyModifiers::NONE)));
}

fn ctrl(s: &mut State, c: char) {
    act(
        s,
        Action::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)),
    );
}

fn type_keys(s: &mut State, text: &str) {
    for c in text.chars() {
        press(s, KeyCode::Char(c));
    }
}

/// Runs a command as if typed in the input.
fn command(s: &mut State, line: &str) {
    s.input.set(line);
    press(s, KeyCode::Enter);
}

fn home_info() -> HomeInfo {
    HomeInfo {
        provider: "openai".into(),
        model: "gpt-5".into(),
        sign_in: "signed in (browser)".into(),
        sign_in_ok: true,
        channels: vec![
            ("web".into(), "http://127.0.0.1:8787".into()),
            ("telegram".into(), "not configured".into()),
            ("whatsapp".into(), "connected as +49 151 0000000".into()),
        ],
        components: vec![
            ("fs".into(), "active".into()),
            ("system".into(), "active (asks before running)".into()),
            ("search".into(), "running v1.2.0".into()),
            ("mail".into(), "failed: missing IMAP password".into()),
        ],
        mode: "standalone".into(),
    }
}

fn session_rows() -> Vec<SessionRow> {
    let row = |id: &str, title: Option<&str>, messages: u64, active: bool| SessionRow {
        id: id.into(),
        title: title.map(Into::into),
        messages,
        last_active_ms: 0,
        active,
    };
    vec![
        row(SESSION, Some("Scratch"), 14, true),
        row("tui:work", Some("Release notes for 0.4"), 128, false),
        row("web:8f3a2c", None, 3, false),
        row(
            "telegram:1234567",
            Some("A very long title that does not fit in the box at all, really"),
            2048,
            false,
        ),
        row("tui:empty", None, 0, false),
    ]
}

fn home(width: u16, height: u16) -> State {
    let mut s = State::new(SESSION, Screen::Home, Theme::plain(), width, height);
    event(&mut s, Event::Home(home_info()));
    event(&mut s, Event::Sessions(session_rows()));
    s
}

const ANSWER: &str = "## Files in the project

The folder holds a Rust crate with a manifest and one source file; nothing else stands out, and the build directory is ignored.

- `Cargo.toml`: the manifest
- `src/main.rs`: the entry point
  - it prints a greeting

```rust
fn main() {
    println!(\"hello\");
}
```

Run it with `cargo run`.";

/// A chat showing a user message, tool calls (ok, failed, running), a
/// Markdown answer, an error and an attachment notice.
fn chat(width: u16, height: u16) -> State {
    let mut s = home(width, height);
    event(
        &mut s,
        Event::Opened {
            session: SESSION.into(),
            title: Some("Scratch".into()),
            messages: vec![],
        },
    );
    event(
        &mut s,
        Event::UserEcho("What is in this folder? Show me the manifest too.".into()),
    );
    event(
        &mut s,
        Event::ToolStarted {
            name: "fs.list".into(),
            arguments: "{\"path\": \".\"}".into(),
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
        Event::ToolStarted {
            name: "system.run".into(),
            arguments:
                "{\"command\": \"cat Cargo.toml\", \"cwd\": \"/home/me/project\", \"timeout\": 30}"
                    .into(),
        },
    );
    event(
        &mut s,
        Event::ToolFinished {
            name: "system.run".into(),
            ok: false,
        },
    );
    event(&mut s, Event::Delta("## Files".into()));
    event(
        &mut s,
        Event::TurnDone {
            answer: Some(ANSWER.into()),
            error: Some("provider: rate limited (429); retry in 20 s".into()),
            files: vec![(
                "graph.png".into(),
                "/home/me/.openpista/files/graph.png".into(),
            )],
        },
    );
    event(&mut s, Event::UserEcho("Draw the module graph".into()));
    event(
        &mut s,
        Event::ToolStarted {
            name: "image.generate".into(),
            arguments: "{\"prompt\": \"the module graph\"}".into(),
        },
    );
    s
}

#[test]
fn home_screen() {
    snapshot("home", home);
}

#[test]
fn home_screen_empty() {
    snapshot("home_empty", |w, h| {
        State::new(SESSION, Screen::Home, Theme::plain(), w, h)
    });
}

#[test]
fn chat_screen() {
    snapshot("chat", chat);
}

#[test]
fn chat_screen_with_a_multiline_input_and_a_notice() {
    snapshot("chat_input", |w, h| {
        let mut s = chat(w, h);
        event(
            &mut s,
            Event::TurnDone {
                answer: None,
                error: None,
                files: vec![],
            },
        );
        act(
            &mut s,
            Action::Paste("first line\nsecond line\nthird".into()),
        );
        event(
            &mut s,
            Event::ModelChanged("anthropic/claude-sonnet-4".into()),
        );
        s
    });
}

#[test]
fn palette() {
    snapshot("palette", |w, h| {
        let mut s = chat(w, h);
        press(&mut s, KeyCode::Tab);
        s
    });
}

#[test]
fn palette_filtered() {
    snapshot("palette_filtered", |w, h| {
        let mut s = chat(w, h);
        press(&mut s, KeyCode::Tab);
        type_keys(&mut s, "wa");
        press(&mut s, KeyCode::Down);
        s
    });
}

fn sessions(width: u16, height: u16) -> State {
    let mut s = chat(width, height);
    command(&mut s, "/session");
    event(&mut s, Event::Sessions(session_rows()));
    press(&mut s, KeyCode::Down);
    s
}

#[test]
fn sessions_picker() {
    snapshot("sessions", sessions);
}

#[test]
fn sessions_picker_delete_confirmation() {
    snapshot("sessions_delete", |w, h| {
        let mut s = sessions(w, h);
        ctrl(&mut s, 'd');
        s
    });
}

#[test]
fn sessions_picker_rename() {
    snapshot("sessions_rename", |w, h| {
        let mut s = sessions(w, h);
        ctrl(&mut s, 'r');
        type_keys(&mut s, " (draft)");
        s
    });
}

#[test]
fn models_picker() {
    snapshot("models", |w, h| {
        let mut s = chat(w, h);
        command(&mut s, "/model");
        let row = |id: &str, note: &str, current: bool| ModelRow {
            id: id.into(),
            note: note.into(),
            current,
        };
        event(
            &mut s,
            Event::Models(vec![
                row("openai/gpt-5", "the configured model", true),
                row("openai/gpt-5-mini", "faster, cheaper", false),
                row("anthropic/claude-sonnet-4", "", false),
                row("ollama/llama3.1:8b", "local", false),
            ]),
        );
        press(&mut s, KeyCode::Down);
        s
    });
}

#[test]
fn login_picker() {
    snapshot("login", |w, h| {
        let mut s = home(w, h);
        command(&mut s, "/login");
        let row = |provider: &str, state: &str, ok: bool, methods: &str| LoginRow {
            provider: provider.into(),
            state: state.into(),
            ok,
            methods: methods.into(),
        };
        event(
            &mut s,
            Event::Logins(vec![
                row("openai", "signed in", true, "browser, device"),
                row("anthropic", "API key", true, "paste, key"),
                row("github-copilot", "expired", false, "device"),
                row("ollama", "not signed in", false, "key"),
            ]),
        );
        press(&mut s, KeyCode::Down);
        press(&mut s, KeyCode::Down);
        s
    });
}

#[test]
fn help() {
    snapshot("help", |w, h| {
        let mut s = home(w, h);
        command(&mut s, "/help");
        s
    });
}

/// A made-up QR code drawn with half blocks, like the WhatsApp pairing.
fn qr_lines() -> Vec<String> {
    let mut lines = vec!["Scan with WhatsApp → Linked devices → Link a device".to_string()];
    lines.push(String::new());
    for y in 0..11u32 {
        let row: String = (0..25u32)
            .map(|x| match (x * 7 + y * 13 + x * y) % 4 {
                0 => '█',
                1 => '▀',
                2 => '▄',
                _ => ' ',
            })
            .collect();
        lines.push(format!("  {row}"));
    }
    lines.push(String::new());
    lines.push("The code changes every 20 seconds.".into());
    lines
}

#[test]
fn panel() {
    snapshot("panel", |w, h| {
        let mut s = chat(w, h);
        event(
            &mut s,
            Event::Panel {
                title: "WhatsApp pairing".into(),
                lines: qr_lines(),
            },
        );
        s
    });
}

fn request() -> ApprovalRequest {
    ApprovalRequest {
        id: "a1b2".into(),
        tool: "system.run".into(),
        arguments: "{\n  \"command\": \"rm -rf target/debug/incremental && cargo build --release --workspace --all-features\",\n  \"cwd\": \"/home/me/project\"\n}".into(),
        folder: Some("/home/me/project".into()),
        timeout_secs: 120,
    }
}

#[test]
fn approval() {
    snapshot("approval", |w, h| {
        let mut s = chat(w, h);
        event(&mut s, Event::Approval(request()));
        s
    });
}

/// Every box, and the approval over a box, for the panic test.
fn every_overlay(width: u16, height: u16) -> Vec<(&'static str, State)> {
    let base = chat(width, height);
    let with = |overlay: Overlay| {
        let mut s = base.clone();
        s.overlay = Some(overlay);
        s
    };
    let mut all = vec![
        ("home", home(width, height)),
        ("chat", base.clone()),
        (
            "palette",
            with(Overlay::Palette {
                query: "s".into(),
                selected: 3,
            }),
        ),
        (
            "sessions",
            with(Overlay::Sessions {
                query: String::new(),
                selected: 4,
                rename: None,
                confirm_delete: None,
            }),
        ),
        (
            "sessions_delete",
            with(Overlay::Sessions {
                query: String::new(),
                selected: 1,
                rename: None,
                confirm_delete: Some("tui:work".into()),
            }),
        ),
        (
            "sessions_rename",
            with(Overlay::Sessions {
                query: String::new(),
                selected: 1,
                rename: Some("a new title".into()),
                confirm_delete: None,
            }),
        ),
        (
            "models",
            with(Overlay::Models {
                query: String::new(),
                selected: 0,
            }),
        ),
        ("login", with(Overlay::Login { selected: 0 })),
        ("help", with(Overlay::Help)),
        (
            "panel",
            with(Overlay::Panel {
                title: "WhatsApp pairing".into(),
                lines: qr_lines(),
                scroll: 3,
            }),
        ),
    ];
    let mut approval = base.clone();
    approval.approval = Some(request());
    all.push(("approval", approval));
    let mut both = with(Overlay::Help);
    both.approval = Some(request());
    all.push(("approval_over_help", both));
    let mut typed = base.clone();
    typed.input.set(&"a long line of input ".repeat(10));
    all.push(("long_input", typed));
    all
}

#[test]
fn a_tiny_terminal_never_panics() {
    // States made for 80×24 drawn on tiny terminals, and states made for
    // the tiny size itself (as after a resize).
    for (width, height) in [(20, 5), (1, 1), (2, 2), (5, 1), (1, 5), (80, 1), (12, 3)] {
        for (name, state) in every_overlay(80, 24) {
            let text = render(&state, width, height);
            assert_eq!(
                text.lines().count(),
                height as usize,
                "{name} at {width}×{height}"
            );
        }
        for (name, mut state) in every_overlay(80, 24) {
            act(&mut state, Action::Resize(width, height));
            let text = render(&state, width, height);
            assert_eq!(
                text.lines().count(),
                height as usize,
                "{name} resized to {width}×{height}"
            );
        }
        for (name, state) in every_overlay(width, height) {
            let text = render(&state, width, height);
            assert_eq!(
                text.lines().count(),
                height as usize,
                "{name} made at {width}×{height}"
            );
        }
    }
}

/// Whether the cell at the start of `text` on screen is drawn reversed;
/// `None` when the text is not on screen.
fn reversed_rows(state: &State, width: u16, height: u16, text: &str) -> Vec<bool> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test terminal");
    terminal
        .draw(|f| view::view(f, state))
        .expect("draw on the test terminal");
    let buffer = terminal.backend().buffer();
    let mut found = Vec::new();
    for y in 0..height {
        let row: String = (0..width).map(|x| buffer[(x, y)].symbol()).collect();
        if let Some(at) = row.find(text) {
            let x = row[..at].chars().count() as u16;
            found.push(
                buffer[(x, y)]
                    .modifier
                    .contains(ratatui::style::Modifier::REVERSED),
            );
        }
    }
    found
}

#[test]
fn the_selected_message_is_drawn_reversed() {
    let mut s = chat(80, 24);
    event(
        &mut s,
        Event::TurnDone {
            answer: Some("the last answer".into()),
            error: None,
            files: vec![],
        },
    );
    assert_eq!(reversed_rows(&s, 80, 24, "the last answer"), [false]);
    act(
        &mut s,
        Action::Key(KeyEvent::new(KeyCode::Up, KeyModifiers::ALT)),
    );
    assert_eq!(reversed_rows(&s, 80, 24, "the last answer"), [true]);
    assert_eq!(reversed_rows(&s, 80, 24, "Draw the module graph"), [false]);
}

#[test]
fn only_the_selected_message_is_reversed() {
    let mut s = State::new(SESSION, Screen::Chat, Theme::plain(), 80, 24);
    for _ in 0..2 {
        event(&mut s, Event::UserEcho("same words".into()));
        event(
            &mut s,
            Event::TurnDone {
                answer: Some("ok".into()),
                error: None,
                files: vec![],
            },
        );
    }
    act(
        &mut s,
        Action::Key(KeyEvent::new(KeyCode::Up, KeyModifiers::ALT)),
    );
    act(
        &mut s,
        Action::Key(KeyEvent::new(KeyCode::Up, KeyModifiers::ALT)),
    );
    assert_eq!(reversed_rows(&s, 80, 24, "same words"), [false, true]);
}

#[test]
fn help_shows_every_command_on_a_large_terminal() {
    let mut s = home(160, 48);
    command(&mut s, "/help");
    let text = render(&s, 160, 48);
    for (c, _) in crate::tui::palette::COMMANDS {
        assert!(text.contains(c), "{c} is not in the help:\n{text}");
    }
}
