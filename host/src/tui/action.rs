//! What goes into [`update`](super::update::update) and what comes out.
//!
//! Every input is an [`Action`]: keys, pastes, the mouse wheel, a resize,
//! a tick of the spinner, and whatever the back end reports. `update`
//! answers with [`Effect`]s, which the event loop carries out (a message
//! to send, a turn to stop, text to copy); `update` itself does no I/O.

use ratatui::crossterm::event::KeyEvent;

/// One input to the state machine.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Key(KeyEvent),
    /// Bracketed paste: inserted as text, newlines kept.
    Paste(String),
    /// The mouse wheel: lines up (negative) or down (positive).
    Scroll(i32),
    Resize(u16, u16),
    /// The spinner's clock; only sent while something runs.
    Tick,
    /// A report from the agent, local or attached.
    Backend(Event),
}

/// What the back end reports.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// More answer text of the running turn.
    Delta(String),
    ToolStarted {
        name: String,
        arguments: String,
    },
    ToolFinished {
        name: String,
        ok: bool,
    },
    /// The turn ended: the whole answer (replacing the streamed text), or
    /// an error, and the files it produced as `(name, saved path)`.
    TurnDone {
        answer: Option<String>,
        error: Option<String>,
        files: Vec<(String, String)>,
    },
    /// A message someone typed in another front end of this session.
    UserEcho(String),
    /// A plain message from the host (a command's answer, an answer that
    /// arrived while no turn was shown).
    Message {
        text: String,
        error: bool,
    },
    /// The front end now shows `session` with these messages.
    Opened {
        session: String,
        title: Option<String>,
        messages: Vec<StoredLine>,
    },
    Sessions(Vec<SessionRow>),
    Models(Vec<ModelRow>),
    Logins(Vec<LoginRow>),
    Home(HomeInfo),
    /// A tool call waits for approval.
    Approval(ApprovalRequest),
    /// A request ended elsewhere (answered from another channel, expired).
    Settled {
        id: String,
        how: String,
    },
    /// Text for a panel: `/components`, `/skills`, a channel's status, the
    /// WhatsApp pairing code drawn as a QR code.
    Panel {
        title: String,
        lines: Vec<String>,
    },
    /// The model the current session uses changed.
    ModelChanged(String),
    /// The attached server's connection state.
    Connection(String),
    /// A worker task started, reported or ended: its line, as `/workers`
    /// lists it.
    Worker(String),
}

/// The title of the `/workers` panel, which worker events refresh.
pub const WORKERS_TITLE: &str = "Workers";

/// A stored message, as the transcript shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredLine {
    pub role: Role,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    User,
    Assistant,
    Tool,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct SessionRow {
    pub id: String,
    pub title: Option<String>,
    pub messages: u64,
    pub last_active_ms: u64,
    pub active: bool,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ModelRow {
    /// What `/model` takes: `provider/model`.
    pub id: String,
    pub note: String,
    pub current: bool,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct LoginRow {
    pub provider: String,
    /// `signed in`, `API key`, `expired`, `not signed in`…
    pub state: String,
    pub ok: bool,
    /// How this provider signs in: `browser`, `paste`, `device`, `key`.
    pub methods: String,
}

/// The landing page's facts.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HomeInfo {
    pub provider: String,
    pub model: String,
    /// The provider's sign-in state, in words, and whether it can be used.
    pub sign_in: String,
    pub sign_in_ok: bool,
    /// `(channel, state)`: the web page's URL, Telegram, WhatsApp.
    pub channels: Vec<(String, String)>,
    /// `(component, state)`.
    pub components: Vec<(String, String)>,
    /// `standalone`, or `attached URL`.
    pub mode: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ApprovalRequest {
    pub id: String,
    pub tool: String,
    pub arguments: String,
    pub folder: Option<String>,
    pub timeout_secs: u64,
}

/// How a person answered an approval request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    Approve,
    Allow,
    Reject,
}

/// What the loop, or the back end, must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Run a turn with this text in the current session.
    Send {
        session: String,
        text: String,
    },
    /// Cancel the running turn.
    Stop,
    Answer {
        id: String,
        choice: Choice,
    },
    OpenSession(String),
    NewSession,
    RenameSession {
        id: String,
        title: String,
    },
    DeleteSession(String),
    ListSessions,
    ListModels,
    UseModel {
        session: String,
        model: String,
    },
    ListLogins,
    /// Leave the screen, run `openpista auth login PROVIDER`, come back.
    Login(String),
    /// Forget the current session's history.
    Clear(String),
    Query(Query),
    /// Put text on the clipboard (OSC 52).
    Copy(String),
    Quit,
}

/// A panel's question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Query {
    Components,
    Skills,
    TelegramStatus,
    WhatsAppStatus,
    WhatsAppPair,
    /// The worker tasks, newest first.
    Workers,
    Home,
}
