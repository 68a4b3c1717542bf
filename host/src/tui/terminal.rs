//! The real terminal: raw mode and the alternate screen (restored on exit,
//! on error and on panic), input read on a thread of its own and turned
//! into [`Action`]s, and the clipboard through OSC 52.

use super::action::Action;
use anyhow::Result;
use base64::Engine;
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::event::{
    self, DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture,
    Event, KeyboardEnhancementFlags, MouseEventKind, PopKeyboardEnhancementFlags,
    PushKeyboardEnhancementFlags,
};
use ratatui::crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::crossterm::{cursor, execute};
use std::io::{Stdout, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;

pub type Term = Terminal<CrosstermBackend<Stdout>>;

/// The terminal while the TUI owns it; dropping it gives it back.
pub struct Screen {
    pub terminal: Term,
    enhanced: bool,
}

impl Screen {
    pub fn enter() -> Result<Screen> {
        install_panic_hook();
        let enhanced = enter_modes()?;
        let terminal = Terminal::new(CrosstermBackend::new(std::io::stdout()))?;
        Ok(Screen { terminal, enhanced })
    }

    /// Gives the terminal back for a while (to run `auth login`).
    pub fn suspend(&mut self) {
        leave_modes(self.enhanced);
    }

    pub fn resume(&mut self) -> Result<()> {
        self.enhanced = enter_modes()?;
        self.terminal.clear()?;
        Ok(())
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        leave_modes(self.enhanced);
    }
}

fn enter_modes() -> Result<bool> {
    enable_raw_mode()?;
    let mut out = std::io::stdout();
    execute!(
        out,
        EnterAlternateScreen,
        EnableMouseCapture,
        EnableBracketedPaste
    )?;
    // Terminals that speak the kitty keyboard protocol report Shift+Enter.
    let enhanced = matches!(
        ratatui::crossterm::terminal::supports_keyboard_enhancement(),
        Ok(true)
    );
    if enhanced {
        execute!(
            out,
            PushKeyboardEnhancementFlags(KeyboardEnhancementFlags::DISAMBIGUATE_ESCAPE_CODES)
        )?;
    }
    Ok(enhanced)
}

/// Everything `enter_modes` did, undone; errors are ignored because this
/// also runs while panicking.
fn leave_modes(enhanced: bool) {
    let mut out = std::io::stdout();
    if enhanced {
        let _ = execute!(out, PopKeyboardEnhancementFlags);
    }
    let _ = execute!(
        out,
        DisableBracketedPaste,
        DisableMouseCapture,
        LeaveAlternateScreen,
        cursor::Show
    );
    let _ = disable_raw_mode();
    let _ = out.flush();
}

fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        leave_modes(true);
        previous(info);
    }));
}

/// Reads the terminal's input on a thread and sends it as actions, until
/// the receiver is gone. While `paused` (another program has the
/// terminal) it reads nothing.
pub fn spawn_reader(tx: UnboundedSender<Action>, paused: Arc<AtomicBool>) {
    std::thread::spawn(move || {
        loop {
            if tx.is_closed() {
                return;
            }
            if paused.load(Ordering::Acquire) {
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
            // poll wakes the thread at most 4 times a second when idle.
            match event::poll(Duration::from_millis(250)) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(_) => return,
            }
            let Ok(event) = event::read() else { return };
            let action = match event {
                Event::Key(key) => Action::Key(key),
                Event::Paste(text) => Action::Paste(text),
                Event::Resize(w, h) => Action::Resize(w, h),
                Event::Mouse(m) => match m.kind {
                    MouseEventKind::ScrollUp => Action::Scroll(-3),
                    MouseEventKind::ScrollDown => Action::Scroll(3),
                    _ => continue,
                },
                _ => continue,
            };
            if tx.send(action).is_err() {
                return;
            }
        }
    });
}

/// The OSC 52 sequence that puts `text` on the clipboard of the terminal
/// the user sits at, through SSH and tmux (`set-clipboard on`) too.
pub fn osc52(text: &str) -> String {
    format!(
        "\x1b]52;c;{}\x07",
        base64::engine::general_purpose::STANDARD.encode(text)
    )
}

pub fn copy(text: &str) {
    let mut out = std::io::stdout();
    let _ = out.write_all(osc52(text).as_bytes());
    let _ = out.flush();
}
