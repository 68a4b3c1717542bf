//! The terminal UI end to end: the real `openpista` binary in a real
//! terminal (tmux), typed into the way a person types, its screen read
//! back cell by cell, answered by the local double of an OpenAI-style
//! service.
//!
//! What the screen must show (the TUI's spec, in short): a Home screen
//! with a header `openpista`, the sections `Sessions`, `Model`,
//! `Channels`, `Components` and a hint `Tab commands`; on every screen a
//! bottom status line with `session ID`, the model and a state word
//! (`idle`, `thinking`, `running NAME`); the Chat screen with the user's
//! lines as `› TEXT`, the assistant's answer streamed and rendered from
//! Markdown, tool calls as `⚙ NAME ARGS` then `✓ NAME …`; a `Commands`
//! palette (Tab, or `/` on an empty input) and a `Sessions` picker; and a
//! clean exit (code 0, the alternate screen left, raw mode off).
//!
//! - `standalone.rs`: no server runs for the home, so the TUI has its own
//!   agent: Home, a streamed Markdown answer, a tool call, the palette,
//!   `/new`, the session picker, `/quit`, reopening a session with `-s`,
//!   Ctrl+C, the `tui` subcommand and `/exit`; the terminal checked after
//!   every exit.
//! - `attached.rs`: `openpista serve` runs for the home, so the TUI is a
//!   client of its web channel and shares a web session with a "web page"
//!   (a WebSocket client of the test's): each side sees what the other
//!   sent, and the answers.
//!
//! Every test has its own folder (home, config, tmux socket), its own
//! tmux server, its own double and ports from the OS, so the tests run in
//! parallel. Without tmux the tests skip loudly (and fail under
//! `CI=true`).
//!
//! How the tests read the shell around the TUI: the TUI is started from
//! the pane's `sh` as `./tui ARGS; echo "exit-N=$?"` (`./tui` is a script
//! in the test's folder that execs the binary with `--config`), so its
//! exit code is printed when it ends; `stty -g` is saved before the first
//! start and compared after every exit.

mod attached;
mod standalone;
mod workers;

use openpista_tests::doubles::http1::{self, Answer};
use openpista_tests::doubles::openai::{OpenAiDouble, Reply};
use openpista_tests::tmux::{Tmux, framed};
use std::cell::Cell;
use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

/// The command line, built from the host's `main.rs` (tests/Cargo.toml).
const BIN: &str = env!("CARGO_BIN_EXE_openpista-cli");
/// How long one step may take before the test fails.
const WAIT: Duration = Duration::from_secs(60);
/// How long a first start may take: the embedded components are compiled
/// into the test's empty cache first (on a busy 2-core machine, with the
/// other test compiling too).
const STARTUP: Duration = Duration::from_secs(180);
/// The environment variable the provider's key is read from, and the key
/// the double accepts (any other is refused with 401).
const KEY_ENV: &str = "OPENPISTA_TEST_TUI_KEY";
const KEY: &str = "sk-tui-e2e-97531";
/// The model the double serves; the status line names it.
const MODEL: &str = "gpt-test";
/// The terminal's size.
const COLUMNS: u16 = 100;
const ROWS: u16 = 30;

/// The OpenAI double behind a small front of the test's own.
///
/// The front answers `GET /v1/models` itself (one model, [`MODEL`]) and
/// passes every other request through to the double, byte for byte and
/// streamed. The double answers a model listing from its script like any
/// request, and the TUI may well list the models (its Home shows a
/// `Model` section) at a moment the test cannot know; through the front a
/// listing never uses up a scripted chat answer.
struct Provider {
    double: OpenAiDouble,
    addr: SocketAddr,
}

impl Provider {
    async fn start() -> Provider {
        let double = OpenAiDouble::start().await;
        double.expect_api_key(KEY);
        let backend = double.addr;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let _ = front(stream, backend).await;
                });
            }
        });
        Provider { double, addr }
    }

    /// The `base_url` to configure.
    fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    fn push(&self, reply: Reply) {
        self.double.push(reply);
    }

    /// The chat requests the double received, in order.
    fn chats(&self) -> Vec<http1::Recorded> {
        self.double
            .requests()
            .into_iter()
            .filter(|r| r.path.ends_with("/chat/completions"))
            .collect()
    }

    /// The `[agent]` and `[providers.double]` sections that make the
    /// double the default provider.
    fn config(&self) -> String {
        format!(
            "[agent]\nprovider = \"double\"\n\
             [providers.double]\npreset = \"custom\"\nbase_url = \"{}\"\n\
             model = \"{MODEL}\"\napi_key_env = \"{KEY_ENV}\"\n",
            self.base_url()
        )
    }
}

/// One connection to the front: a model listing is answered here, any
/// other request goes to the double and its answer comes back as it is
/// written (chunk by chunk: streams stay streams).
async fn front(mut client: TcpStream, backend: SocketAddr) -> std::io::Result<()> {
    let Some(request) = http1::read_request(&mut client).await? else {
        return Ok(());
    };
    if request.method == "GET" && request.path.ends_with("/models") {
        let body = serde_json::json!({
            "object": "list",
            "data": [{"id": MODEL, "object": "model", "created": 1_700_000_000, "owned_by": "double"}],
        });
        return http1::write_answer(
            &mut client,
            Answer::Whole {
                status: 200,
                headers: vec![("content-type".into(), "application/json".into())],
                body: body.to_string().into_bytes(),
            },
        )
        .await;
    }
    let mut upstream = TcpStream::connect(backend).await?;
    let mut head = format!("{} {} HTTP/1.1\r\n", request.method, request.path);
    for (name, value) in &request.headers {
        // The body is re-sent whole (read_request took any chunking off).
        if matches!(
            name.as_str(),
            "content-length" | "transfer-encoding" | "connection"
        ) {
            continue;
        }
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n\r\n",
        request.raw.len()
    ));
    upstream.write_all(head.as_bytes()).await?;
    upstream.write_all(&request.raw).await?;
    upstream.flush().await?;
    tokio::io::copy(&mut upstream, &mut client).await?;
    client.shutdown().await
}

/// `pieces` streamed with a pause before each event, so that the screen
/// can be seen half-way through the answer.
fn paced_text(pieces: &[&str], pause: Duration) -> Reply {
    match Reply::stream_text(pieces) {
        Reply::Sse(events) => Reply::SsePaced(events, pause),
        other => unreachable!("stream_text gives an SSE reply, not {other:?}"),
    }
}

/// A test's folder, its config file, its `./tui` launcher and its
/// terminal.
///
/// Folder layout: `config.toml`, `tui` (the launcher), `home/` (the
/// `OPENPISTA_HOME`: memory, cache, web token, control socket), the tmux
/// socket, and `stty-*` files the shell writes.
struct Terminal {
    /// Declared first: the tmux server is killed before the folder goes.
    tmux: Tmux,
    dir: tempfile::TempDir,
    config: PathBuf,
    /// Starts so far (each `./tui` line is numbered for its exit line).
    starts: Cell<u32>,
    /// Shell commands run so far (each numbered for its end marker).
    commands: Cell<u32>,
    /// `stty -g` before the TUI first ran.
    baseline: String,
}

impl Terminal {
    /// A folder with `config` (TOML) as its config file, and a terminal
    /// whose shell has the test's environment: `OPENPISTA_HOME` and
    /// `HOME` in the folder, the provider's key, `TERM=xterm-256color`,
    /// `LANG=C.UTF-8`. `None` when tmux is absent (a loud skip).
    async fn open(config: &str) -> Option<Terminal> {
        if !Tmux::available() {
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix("openpista-tui-")
            .tempdir()
            .unwrap();
        let config_path = dir.path().join("config.toml");
        std::fs::write(&config_path, config).unwrap();
        let launcher = dir.path().join("tui");
        std::fs::write(
            &launcher,
            format!(
                "#!/bin/sh\nexec '{BIN}' --config '{}' \"$@\"\n",
                config_path.display()
            ),
        )
        .unwrap();
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&launcher, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let env: Vec<(&str, OsString)> = vec![
            ("OPENPISTA_HOME", dir.path().join("home").into()),
            ("HOME", dir.path().into()),
            (KEY_ENV, KEY.into()),
            ("PS1", "$ ".into()),
        ];
        let tmux = Tmux::start(dir.path(), COLUMNS, ROWS, &env);
        // Typing before the shell is up can lose keys: wait for its prompt.
        tmux.wait_for("the shell's prompt", WAIT, |s| {
            // `$`, or `#` for root (sh sets its own PS1 then).
            s.lines().any(|l| matches!(l.trim_end(), "$" | "#"))
        })
        .await;
        let mut terminal = Terminal {
            tmux,
            config: config_path,
            dir,
            starts: Cell::new(0),
            commands: Cell::new(0),
            baseline: String::new(),
        };
        terminal.baseline = terminal.stty_g().await;
        Some(terminal)
    }

    fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `OPENPISTA_HOME` of everything started in this terminal.
    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    /// Runs `line` in the pane's shell and waits until it has ended (an
    /// `echo` of a numbered marker after it shows on the screen).
    async fn shell(&self, line: &str) {
        let n = self.commands.get() + 1;
        self.commands.set(n);
        let marker = format!("done-{n}");
        self.tmux.type_line(&format!("{line}; echo {marker}"));
        self.tmux
            .wait_for(&format!("the shell to run {line:?}"), WAIT, |s| {
                s.lines().any(|l| l.trim() == marker)
            })
            .await;
    }

    /// The terminal's settings as `stty -g` prints them, read in the pane.
    async fn stty_g(&self) -> String {
        let n = self.commands.get() + 1;
        let file = self.dir().join(format!("stty-g-{n}"));
        self.shell(&format!("stty -g > '{}'", file.display())).await;
        std::fs::read_to_string(&file).unwrap().trim().to_string()
    }

    /// `stty -a` in the pane.
    async fn stty_a(&self) -> String {
        let n = self.commands.get() + 1;
        let file = self.dir().join(format!("stty-a-{n}"));
        self.shell(&format!("stty -a > '{}'", file.display())).await;
        std::fs::read_to_string(&file).unwrap()
    }

    /// Starts the TUI from the shell with `args` (after `--config`);
    /// returns the start's number, for [`Terminal::exited`].
    fn start(&self, args: &str) -> u32 {
        let n = self.starts.get() + 1;
        self.starts.set(n);
        let line = if args.is_empty() {
            format!("./tui; echo \"exit-{n}=$?\"")
        } else {
            format!("./tui {args}; echo \"exit-{n}=$?\"")
        };
        self.tmux.type_line(&line);
        n
    }

    /// Reads the screen every 50 ms until `check` holds for it, and
    /// returns that screen. Fails with the last screen and the end of the
    /// TUI's log (`OPENPISTA_HOME/tui.log`) after `timeout`, or at once
    /// when the TUI started last has ended before showing it.
    async fn wait(&self, what: &str, timeout: Duration, check: impl Fn(&str) -> bool) -> String {
        let prefix = format!("exit-{}=", self.starts.get());
        let ended = |s: &str| {
            s.lines().any(|l| {
                l.trim()
                    .strip_prefix(&prefix)
                    .is_some_and(|c| c.parse::<i32>().is_ok())
            })
        };
        let started = std::time::Instant::now();
        loop {
            let screen = self.tmux.screen();
            if check(&screen) {
                return screen;
            }
            if ended(&screen) {
                self.fail(
                    &format!("the TUI ended while the test waited for {what}"),
                    &screen,
                );
            }
            if started.elapsed() > timeout {
                self.fail(&format!("waited {timeout:?} for {what}"), &screen);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Panics with `message`, the screen and the end of the TUI's log.
    fn fail(&self, message: &str, screen: &str) -> ! {
        panic!(
            "{message}; the screen:\n{}\n{}",
            framed(screen),
            self.log_tail()
        )
    }

    /// The last lines of the TUI's log file, for failure messages.
    fn log_tail(&self) -> String {
        match std::fs::read_to_string(self.home().join("tui.log")) {
            Ok(log) => {
                let lines: Vec<&str> = log.lines().collect();
                let tail = &lines[lines.len().saturating_sub(40)..];
                format!("tui.log (last {} lines):\n{}", tail.len(), tail.join("\n"))
            }
            Err(e) => format!("(no tui.log: {e})"),
        }
    }

    /// Waits until start `n` has ended and returns its exit code.
    async fn exited(&self, n: u32) -> i32 {
        let prefix = format!("exit-{n}=");
        let screen = self
            .wait(&format!("start {n} of the TUI to end"), WAIT, |s| {
                s.lines().any(|l| {
                    l.trim()
                        .strip_prefix(&prefix)
                        .is_some_and(|c| c.parse::<i32>().is_ok())
                })
            })
            .await;
        screen
            .lines()
            .find_map(|l| l.trim().strip_prefix(&prefix)?.parse().ok())
            .unwrap()
    }

    /// Waits for start `n` to end with code 0, then checks the terminal
    /// is as before: the normal screen (not the alternate one), and the
    /// same settings as before the first start (`stty -g`), with canonical
    /// input and echo on (`stty -a` says `icanon` and `echo`, not
    /// `-icanon` or `-echo`).
    async fn assert_exited_cleanly(&self, n: u32) {
        let code = self.exited(n).await;
        if code != 0 {
            self.fail(
                &format!("start {n} of the TUI ended with {code}"),
                &self.tmux.screen(),
            );
        }
        assert!(
            !self.tmux.alternate_on(),
            "start {n}: the TUI left the terminal in the alternate screen:\n{}",
            framed(&self.tmux.screen())
        );
        let flags = self.stty_a().await;
        let words: Vec<&str> = flags
            .split(|c: char| c.is_whitespace() || c == ';')
            .collect();
        for flag in ["icanon", "echo", "isig", "icrnl", "opost"] {
            assert!(
                words.contains(&flag) && !words.contains(&format!("-{flag}").as_str()),
                "start {n}: `{flag}` is not on after the TUI ended (raw mode left on?):\n{flags}"
            );
        }
        let now = self.stty_g().await;
        assert_eq!(
            now, self.baseline,
            "start {n}: the terminal's settings differ from before the TUI ran\n\
             before: {}\nafter:  {now}\nstty -a now:\n{flags}",
            self.baseline
        );
    }
}

/// A free port on 127.0.0.1 (bound, read, released).
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// The rows of `screen` that contain `needle`.
fn rows_with<'a>(screen: &'a str, needle: &str) -> Vec<&'a str> {
    screen.lines().filter(|l| l.contains(needle)).collect()
}

/// The status line: the row that names the session `session`.
fn status_line<'a>(screen: &'a str, session: &str) -> Option<&'a str> {
    let needle = format!("session {session}");
    screen.lines().rev().find(|l| l.contains(&needle))
}

/// True when the status line names `session` and contains every word of
/// `words`.
fn status_shows(screen: &str, session: &str, words: &[&str]) -> bool {
    status_line(screen, session).is_some_and(|l| words.iter().all(|w| l.contains(w)))
}

/// The rows that lie inside a box (a vertical border on them).
fn boxed_rows(screen: &str) -> Vec<&str> {
    screen
        .lines()
        .filter(|l| l.contains('│') || l.contains('┃') || l.contains('║'))
        .collect()
}

/// The title rows of boxes titled `title`: a row with `title` and a
/// horizontal border.
fn box_titles<'a>(screen: &'a str, title: &str) -> Vec<&'a str> {
    screen
        .lines()
        .filter(|l| l.contains(title) && (l.contains('─') || l.contains('━') || l.contains('═')))
        .collect()
}

/// How many rows show the user's line `› text`.
fn user_lines(screen: &str, text: &str) -> usize {
    rows_with(screen, &format!("› {text}")).len()
}
