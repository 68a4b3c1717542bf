//! Everything the screen shows, in one value: what `update` changes and
//! `view` draws.

use super::action::{ApprovalRequest, HomeInfo, LoginRow, ModelRow, SessionRow};
use super::input::Editor;
use super::theme::Theme;
use super::transcript::Transcript;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    Home,
    Chat,
}

/// What the agent is doing in the current session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Busy {
    Idle,
    Thinking,
    Tool(String),
    /// Stop was asked; waiting for the turn to close.
    Stopping,
}

/// A box over the screen that takes the keys while it is open.
#[derive(Debug, Clone, PartialEq)]
pub enum Overlay {
    Palette {
        query: String,
        selected: usize,
    },
    Sessions {
        query: String,
        selected: usize,
        /// Renaming the selected session: the new title so far.
        rename: Option<String>,
        /// Asking before deleting this session.
        confirm_delete: Option<String>,
    },
    Models {
        query: String,
        selected: usize,
    },
    Login {
        selected: usize,
    },
    Help,
    /// Text from the host: components, skills, a channel's status, a QR code.
    Panel {
        title: String,
        lines: Vec<String>,
        scroll: usize,
    },
}

/// The whole state of the TUI.
#[derive(Debug, Clone)]
pub struct State {
    pub screen: Screen,
    pub overlay: Option<Overlay>,
    /// An approval request waiting for a key; drawn above everything.
    pub approval: Option<ApprovalRequest>,
    pub session: String,
    pub session_title: Option<String>,
    pub transcript: Transcript,
    pub input: Editor,
    pub busy: Busy,
    /// The spinner's frame, moved by ticks.
    pub spinner: usize,
    pub home: HomeInfo,
    pub sessions: Vec<SessionRow>,
    pub models: Vec<ModelRow>,
    pub logins: Vec<LoginRow>,
    /// The model this session uses, when one was picked.
    pub model: Option<String>,
    /// A one-line message in the status bar (the last command's result).
    pub notice: Option<(String, bool)>,
    /// The transcript entry selected for copying (Alt+↑/↓).
    pub selected: Option<usize>,
    pub width: u16,
    pub height: u16,
    pub theme: Theme,
    pub quit: bool,
    /// Ctrl+C pressed once while a turn ran: a second press quits.
    pub armed_quit: bool,
}

pub const SPINNER: &[&str] = &["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

impl State {
    pub fn new(session: &str, screen: Screen, theme: Theme, width: u16, height: u16) -> State {
        let mut transcript = Transcript::new(theme.clone());
        transcript.set_width(width);
        State {
            screen,
            overlay: None,
            approval: None,
            session: session.to_string(),
            session_title: None,
            transcript,
            input: Editor::default(),
            busy: Busy::Idle,
            spinner: 0,
            home: HomeInfo::default(),
            sessions: Vec::new(),
            models: Vec::new(),
            logins: Vec::new(),
            model: None,
            notice: None,
            selected: None,
            width,
            height,
            theme,
            quit: false,
            armed_quit: false,
        }
    }

    /// True while something on screen moves (the spinner), so the loop
    /// ticks; idle, it waits for input and uses no CPU.
    pub fn animating(&self) -> bool {
        self.busy != Busy::Idle
    }

    /// How many lines the input box's text takes (1 to 6).
    pub fn input_height(&self) -> u16 {
        self.input.line_count().clamp(1, 6) as u16
    }

    /// Lines of transcript on the chat screen: the screen less the input
    /// box (its text and a rule) and the status line.
    pub fn transcript_height(&self) -> usize {
        self.height.saturating_sub(self.input_height() + 2) as usize
    }

    /// The model shown: the session's pick, else the configured one.
    pub fn model_label(&self) -> String {
        match &self.model {
            Some(m) => m.clone(),
            None if self.home.provider.is_empty() => "no model yet".into(),
            None if self.home.model.is_empty() => self.home.provider.clone(),
            None => format!("{}/{}", self.home.provider, self.home.model),
        }
    }
}
