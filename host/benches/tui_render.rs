//! The terminal UI's cost of a long conversation: drawing one frame with a
//! 10,000-message transcript, and typing a key into it (update + draw),
//! each as a ratio to drawing the empty chat screen in the same run; and
//! the memory the transcript takes. Report: BENCHMARKS.md.
//!
//! cargo bench -p openpista --bench tui_render
//!
//! Frames are drawn to ratatui's `TestBackend` (the buffer diff, no
//! terminal I/O), at 160×48. Each figure is the median of many rounds,
//! the three kinds measured interleaved, so drift of a noisy machine
//! touches them alike.

use openpista::tui::action::{Action, Event};
use openpista::tui::state::{Screen, State};
use openpista::tui::theme::Theme;
use openpista::tui::update::update;
use openpista::tui::view::view;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::time::{Duration, Instant};

const MESSAGES: usize = 10_000;
const WIDTH: u16 = 160;
const HEIGHT: u16 = 48;

fn chat(messages: usize) -> State {
    let mut state = State::new("tui:bench", Screen::Chat, Theme::dark(), WIDTH, HEIGHT);
    for i in 0..messages / 2 {
        let _ = update(
            &mut state,
            Action::Backend(Event::UserEcho(format!(
                "question {i}: how does the cache decide what to keep?"
            ))),
        );
        let answer = format!(
            "## Answer {i}\n\nThe cache keeps **compiled components** by hash:\n\n\
             - the component's SHA-256\n- the engine's compatibility hash\n\n\
             ```rust\nlet key = hash(component, engine);\n```\n\nSee [the docs](https://example.invalid/{i})."
        );
        let _ = update(
            &mut state,
            Action::Backend(Event::TurnDone {
                answer: Some(answer),
                error: None,
                files: Vec::new(),
            }),
        );
    }
    state
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let rounds = if full { 2000 } else { 5 };
    let mut term = Terminal::new(TestBackend::new(WIDTH, HEIGHT)).unwrap();

    let empty = State::new("tui:bench", Screen::Chat, Theme::dark(), WIDTH, HEIGHT);
    let rss_before = rss_kib();
    let started = Instant::now();
    let mut long = chat(MESSAGES);
    let build = started.elapsed();
    let rss_after = rss_kib();
    assert_eq!(long.transcript.len(), MESSAGES);
    let key = Action::Key(KeyEvent::new(KeyCode::Char('x'), KeyModifiers::NONE));
    let backspace = Action::Key(KeyEvent::new(KeyCode::Backspace, KeyModifiers::NONE));

    let (mut t_empty, mut t_long, mut t_type) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..rounds {
        let at = Instant::now();
        term.draw(|f| view(f, &empty)).unwrap();
        t_empty.push(at.elapsed());

        let at = Instant::now();
        term.draw(|f| view(f, &long)).unwrap();
        t_long.push(at.elapsed());

        // A key typed: update, then the frame it asks for. Every other
        // round takes the letter back, so the input stays short.
        let at = Instant::now();
        let action = if i % 2 == 0 {
            key.clone()
        } else {
            backspace.clone()
        };
        let done = update(&mut long, action);
        assert!(done.redraw);
        term.draw(|f| view(f, &long)).unwrap();
        t_type.push(at.elapsed());
    }
    let (e, l, t) = (median(t_empty), median(t_long), median(t_type));
    println!("rounds: {rounds}, {WIDTH}x{HEIGHT}, transcript of {MESSAGES} messages");
    println!("empty chat screen, one frame (baseline): {e:>10.1?}");
    println!(
        "10,000-message transcript, one frame:    {l:>10.1?}  {:.2}x the baseline",
        l.as_secs_f64() / e.as_secs_f64()
    );
    println!(
        "a key typed into it (update + frame):    {t:>10.1?}  {:.2}x the baseline",
        t.as_secs_f64() / e.as_secs_f64()
    );
    println!("building the transcript (wrap + Markdown of every message, once): {build:.1?}");
    let bytes = long.transcript.memory_bytes();
    println!(
        "transcript held: {:.1} MiB counted ({:.0} bytes a message)",
        bytes as f64 / 1048576.0,
        bytes as f64 / MESSAGES as f64
    );
    if let (Some(a), Some(b)) = (rss_before, rss_after) {
        println!(
            "process RSS grew {:.1} MiB while it was built",
            b.saturating_sub(a) as f64 / 1024.0
        );
    }
}
