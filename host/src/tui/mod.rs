//! The terminal UI (`openpista`, `openpista tui`): a full-screen front end
//! in the Elm architecture.
//!
//! - Every input becomes an [`Action`] (keys, pastes, the wheel, resizes,
//!   spinner ticks, and the agent's events from a [`Backend`]).
//! - [`update::update`] changes the [`State`] and returns [`Effect`]s; it
//!   does no I/O, so it is tested as a plain function.
//! - [`view::view`] draws the state; the loop draws only after a change,
//!   and ticks only while something moves, so an idle TUI sleeps.
//!
//! The same screens run on two back ends: [`backend::local`], the agent
//! in-process (like `chat`), and [`backend::attached`], a client of the
//! running server's web channel, so the terminal and the web page share
//! their sessions.

pub mod action;
pub mod backend;
mod commands;
mod input;
pub mod markdown;
mod overlays;
mod palette;
pub mod settings;
pub mod state;
pub mod terminal;
#[cfg(test)]
mod tests;
pub mod theme;
pub mod transcript;
pub mod update;
pub mod view;

pub use action::{Action, Effect, Event};
pub use backend::{Backend, Services};
pub use settings::TuiSettings;
pub use state::{Screen, State};

use anyhow::Result;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;

/// What the wiring hands the loop.
pub struct Setup {
    /// The session to open on the Chat screen; `None` opens Home.
    pub resume: Option<String>,
    /// The session Home starts with.
    pub session: String,
    pub theme: theme::Theme,
    /// The command that signs in (`openpista --config … auth login`); the
    /// provider's name is added.
    pub login: Vec<String>,
}

/// Runs the TUI until the person quits.
pub async fn run(
    setup: Setup,
    make_backend: impl FnOnce(mpsc::UnboundedSender<Action>) -> Box<dyn Backend>,
) -> Result<()> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut backend = make_backend(tx.clone());
    let mut screen = terminal::Screen::enter()?;
    let size = screen.terminal.size()?;
    let first = if setup.resume.is_some() {
        Screen::Chat
    } else {
        Screen::Home
    };
    let mut state = State::new(&setup.session, first, setup.theme, size.width, size.height);
    backend.handle(Effect::Query(action::Query::Home));
    backend.handle(Effect::ListSessions);
    backend.handle(Effect::OpenSession(
        setup.resume.clone().unwrap_or(setup.session.clone()),
    ));
    if setup.resume.is_none() {
        // Opening the session shows Chat; Home stays first.
        state.screen = Screen::Home;
    }
    let paused = Arc::new(AtomicBool::new(false));
    terminal::spawn_reader(tx.clone(), paused.clone());
    screen.terminal.draw(|f| view::view(f, &state))?;
    let mut ticker = tokio::time::interval(Duration::from_millis(100));
    let mut home_on_open = setup.resume.is_none();
    'outer: loop {
        let action = tokio::select! {
            action = rx.recv() => match action {
                Some(action) => action,
                None => break,
            },
            _ = ticker.tick(), if state.animating() => Action::Tick,
        };
        // Take whatever else is waiting before drawing (a burst of deltas).
        let mut batch = vec![action];
        while batch.len() < 256
            && let Ok(more) = rx.try_recv()
        {
            batch.push(more);
        }
        let mut redraw = false;
        for action in batch {
            let keep_home = home_on_open && matches!(action, Action::Backend(Event::Opened { .. }));
            let done = update::update(&mut state, action);
            if keep_home {
                state.screen = Screen::Home;
                home_on_open = false;
            }
            redraw |= done.redraw;
            for effect in done.effects {
                match effect {
                    Effect::Quit => break 'outer,
                    Effect::Copy(text) => terminal::copy(&text),
                    Effect::Login(provider) => {
                        paused.store(true, Ordering::Release);
                        screen.suspend();
                        let code = login(&setup.login, &provider).await;
                        screen.resume()?;
                        paused.store(false, Ordering::Release);
                        let text = match code {
                            Ok(true) => format!("signed in to {provider}"),
                            Ok(false) => format!("sign-in to {provider} did not finish"),
                            Err(e) => format!("could not run the sign-in: {e}"),
                        };
                        update::update(&mut state, Action::Backend(Event::Connection(text)));
                        backend.handle(Effect::ListLogins);
                        backend.handle(Effect::Query(action::Query::Home));
                        redraw = true;
                    }
                    other => backend.handle(other),
                }
            }
        }
        if state.quit {
            break;
        }
        if redraw {
            screen.terminal.draw(|f| view::view(f, &state))?;
        }
    }
    drop(screen);
    backend.shutdown().await;
    Ok(())
}

/// Runs the sign-in command in the plain terminal.
async fn login(command: &[String], provider: &str) -> Result<bool> {
    let Some((program, args)) = command.split_first() else {
        anyhow::bail!("no sign-in command");
    };
    let status = tokio::process::Command::new(program)
        .args(args)
        .arg(provider)
        .status()
        .await?;
    println!("\n(press Enter to go back)");
    let _ = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)
    })
    .await;
    Ok(status.success())
}
