//! Signing in: the person's side of every flow (addresses to open, codes
//! to paste, keys to type) and the choice of flow per provider.
//!
//! Lines typed on stdin are read by one thread for the whole command, so a
//! flow can wait for the browser and for a pasted line at the same time.

use super::settings::{Flow, Provider};
use super::{AuthError, AuthSettings, Credential};
use tokio::sync::mpsc;

/// How the person asked to sign in.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoginOptions {
    /// Ask for an API key instead of running the provider's flow.
    pub api_key: bool,
    /// Print addresses instead of opening a browser (SSH, headless).
    pub no_browser: bool,
    /// OpenAI: also exchange the id_token for an API key (API billing).
    pub api_billing: bool,
}

/// The terminal a sign-in talks to.
pub struct Terminal {
    pub open_browser: bool,
    /// Lines typed (or piped) on stdin; closed at its end.
    pub lines: mpsc::UnboundedReceiver<String>,
}

impl Terminal {
    /// Reads stdin lines on a thread of their own.
    pub fn stdin(open_browser: bool) -> Terminal {
        let (tx, lines) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            while matches!(std::io::stdin().read_line(&mut line), Ok(n) if n > 0) {
                if tx.send(std::mem::take(&mut line)).is_err() {
                    break;
                }
            }
        });
        Terminal {
            open_browser,
            lines,
        }
    }

    /// Prints `text` (instructions go to stdout, where the person looks).
    pub fn say(&self, text: &str) {
        println!("{text}");
    }

    /// Shows `url` and opens it in the browser unless told not to:
    /// `$BROWSER` when set, else `xdg-open`. The address is printed
    /// either way, for when no browser comes up.
    pub fn show_url(&self, what: &str, url: &str) {
        println!("{what}:\n\n  {url}\n");
        if self.open_browser && !open_in_browser(url) {
            println!("(No browser could be opened; open the address above yourself.)");
        }
    }

    /// The next non-empty line, trimmed; `None` at the end of stdin.
    pub async fn read_line(&mut self) -> Option<String> {
        loop {
            let line = self.lines.recv().await?;
            let line = line.trim();
            if !line.is_empty() {
                return Some(line.to_string());
            }
        }
    }

    /// Shows `prompt` and reads a line without echo when stdin is a
    /// terminal (echo is off before the prompt shows, so nothing typed
    /// after it is echoed).
    pub async fn read_secret(&mut self, prompt: &str) -> Option<String> {
        let echo = EchoOff::new();
        self.say(prompt);
        let line = self.read_line().await;
        if echo.active() {
            println!();
        }
        line
    }
}

/// Whether stdin is a terminal (a person can answer a question).
pub fn stdin_is_terminal() -> bool {
    // SAFETY: isatty only inspects the descriptor.
    unsafe { libc::isatty(0) == 1 }
}

/// Turns the terminal's echo off until dropped.
struct EchoOff(Option<libc::termios>);

impl EchoOff {
    fn new() -> EchoOff {
        if !stdin_is_terminal() {
            return EchoOff(None);
        }
        // SAFETY: tcgetattr/tcsetattr on stdin with a termios this
        // function owns; the old settings are restored on drop.
        unsafe {
            let mut t: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(0, &mut t) != 0 {
                return EchoOff(None);
            }
            let old = t;
            t.c_lflag &= !libc::ECHO;
            libc::tcsetattr(0, libc::TCSANOW, &t);
            EchoOff(Some(old))
        }
    }

    fn active(&self) -> bool {
        self.0.is_some()
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        if let Some(old) = self.0 {
            // SAFETY: restores the settings read in `new`.
            unsafe { libc::tcsetattr(0, libc::TCSANOW, &old) };
        }
    }
}

/// Starts `$BROWSER` (or `xdg-open`) on `url`; false when it cannot.
fn open_in_browser(url: &str) -> bool {
    let program = std::env::var("BROWSER")
        .ok()
        .filter(|b| !b.trim().is_empty())
        .unwrap_or_else(|| "xdg-open".into());
    std::process::Command::new(program.trim())
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .is_ok()
}

/// Signs in to `provider` the way `opts` asks; the credential to store.
pub async fn login(
    settings: &AuthSettings,
    provider: &Provider,
    opts: LoginOptions,
    term: &mut Terminal,
) -> Result<Credential, AuthError> {
    if opts.api_key || provider.flow == Flow::KeyOnly {
        return api_key(provider, term).await;
    }
    match provider.flow {
        Flow::OpenAi => super::openai::login(&settings.openai, term, opts.api_billing).await,
        Flow::Anthropic => super::anthropic::login(&settings.anthropic, term).await,
        Flow::OpenRouter => super::openrouter::login(&settings.openrouter, term).await,
        Flow::Copilot => super::copilot::login(&settings.copilot, term).await,
        Flow::KeyOnly => unreachable!("handled above"),
    }
}

/// Asks for an API key (hidden when typed at a terminal).
async fn api_key(provider: &Provider, term: &mut Terminal) -> Result<Credential, AuthError> {
    let prompt = format!(
        "Paste the API key for {} and press Enter{}:",
        provider.label,
        if stdin_is_terminal() {
            " (it is not shown)"
        } else {
            ""
        }
    );
    let key = term
        .read_secret(&prompt)
        .await
        .ok_or_else(|| AuthError::flow(provider.name, "no API key was entered"))?;
    if key.chars().any(char::is_whitespace) {
        return Err(AuthError::flow(
            provider.name,
            "an API key has no spaces; nothing was stored",
        ));
    }
    Ok(Credential::api_key(key))
}
