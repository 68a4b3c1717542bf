//! The TUI on its own: no `openpista serve` runs for the test's home, so
//! the TUI runs its own agent in-process, against the OpenAI double.
//!
//! One test walks the whole everyday path, because each step needs the
//! state the one before left (a stored session to pick, to reopen):
//!
//! 1. `openpista --config CFG` opens the Home screen in the alternate
//!    screen, with its sections and a status line naming the first session
//!    `tui:default`, the model and `idle`.
//! 2. `hello tui` + Enter: the Chat screen shows `› hello tui` and the
//!    answer while it streams (half of it on screen, state `thinking`),
//!    then all of it with its Markdown rendered (`**scripted**` shows as
//!    `scripted`), state `idle`.
//! 3. A message of two lines (Alt+Enter between them: a newline, not a
//!    send) whose answer calls `system.run`: `⚙ system.run ARGS` with the
//!    state `running system.run` while the command sleeps, then
//!    `✓ system.run`, then the final text. The double saw the two lines as
//!    one message and, in the next request, the command's real output.
//! 4. Tab opens the `Commands` palette; `new` filters it to `/new`; Enter
//!    runs it: session `tui:2`, an empty transcript.
//! 5. `/session` opens the `Sessions` picker with `tui:default`; typing
//!    filters; Ctrl+D asks `Delete session tui:default? (y/n)` and `n`
//!    keeps it; Enter opens it: status `session tui:default`, its stored
//!    messages back in the transcript.
//! 6. `/quit`: exit code 0, the alternate screen left, the terminal's
//!    settings exactly as before (canonical input and echo on).
//! 7. `-s tui:default` reopens straight on that session's Chat screen with
//!    its stored messages; Ctrl+C with no turn running exits as cleanly.
//! 8. The `tui` subcommand opens Home too; `/exit` exits as cleanly.
//!
//! The tool is `system.run` (a native tool, enabled by default) running
//! `sleep 3 && echo tui-tool-ran`: long enough to see it running, with a
//! marker in its output. The config has an `[approvals]` rule that lets
//! `system.run` run without asking in every channel, so the test does not
//! depend on how the TUI's channel is classified (the terminal runs it
//! unasked by default, messengers ask: docs/APPROVALS.md), nor on an
//! approval dialog.

use super::*;

/// The tool's command: it sleeps so that its running state is visible,
/// and prints a marker the next request to the model must carry.
const COMMAND: &str = "sleep 3 && echo tui-tool-ran";
/// The first answer, as streamed (Markdown) and as shown (rendered).
const FIRST_PIECES: &[&str] = &[
    "Hello ",
    "from the ",
    "**scripted** ",
    "double: ",
    "pistachio-42.",
];
const FIRST_SHOWN: &str = "Hello from the scripted double: pistachio-42.";
/// The answer after the tool ran.
const AFTER_TOOL: &str = "The command printed its marker.";

/// The Home screen: header, sections, hint, and a status line naming
/// `tui:default`, the model and `idle`.
fn home_shown(s: &str) -> bool {
    [
        "openpista",
        "Sessions",
        "Model",
        "Channels",
        "Components",
        "Tab commands",
    ]
    .iter()
    .all(|w| s.contains(w))
        && status_shows(s, "tui:default", &[MODEL, "idle"])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_tool_palette_sessions_and_a_clean_exit_in_a_real_terminal() {
    let provider = Provider::start().await;
    // No plugin folders to watch; the cache and the memory database are
    // the defaults, under OPENPISTA_HOME.
    let config = format!(
        "{}\n[runtime]\nplugin_dirs = []\n\n\
         [[approvals.rules]]\ntool = \"system.run\"\naction = \"auto\"\n",
        provider.config()
    );
    let Some(t) = Terminal::open(&config).await else {
        return;
    };
    let tmux = &t.tmux;

    // 1. Home, in the alternate screen.
    let first = t.start("");
    let home = t.wait("the Home screen", STARTUP, home_shown).await;
    let header = home.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    assert!(
        header.contains("openpista"),
        "the first row is a header naming openpista:\n{}",
        framed(&home)
    );
    assert!(tmux.alternate_on(), "the TUI runs in the alternate screen");

    // 2. A message; its answer streams in, then shows whole, rendered.
    provider.push(paced_text(FIRST_PIECES, Duration::from_millis(300)));
    tmux.type_line("hello tui");
    t.wait("half of the answer on screen, while thinking", WAIT, |s| {
        user_lines(s, "hello tui") >= 1
            && s.contains("Hello from the")
            && !s.contains("pistachio-42")
            && status_shows(s, "tui:default", &["thinking"])
    })
    .await;
    let chat = t
        .wait("the whole answer, then idle", WAIT, |s| {
            s.contains(FIRST_SHOWN) && status_shows(s, "tui:default", &["idle"])
        })
        .await;
    assert_eq!(
        user_lines(&chat, "hello tui"),
        1,
        "the message is shown once, as `› hello tui`:\n{}",
        framed(&chat)
    );
    assert!(
        !chat.contains("**"),
        "the answer's Markdown is rendered, not shown raw:\n{}",
        framed(&chat)
    );

    // 3. Two lines (Alt+Enter), answered with a tool call, then text.
    let arguments = serde_json::json!({ "command": COMMAND }).to_string();
    let (head, tail) = arguments.split_at(arguments.len() / 2);
    provider.push(Reply::stream_tool_calls(&[(
        "call_tui_1",
        "system__run",
        &[head, tail],
    )]));
    provider.push(Reply::stream_text(&[
        "The command ",
        "printed ",
        "its marker.",
    ]));
    tmux.type_text("run the");
    tmux.key("M-Enter");
    tmux.type_text("marker command");
    t.wait("the second line typed into the input", WAIT, |s| {
        s.contains("marker command")
    })
    .await;
    assert_eq!(
        provider.chats().len(),
        1,
        "Alt+Enter does not send the message"
    );
    tmux.key("Enter");
    let running = t
        .wait("the tool line and `running system.run`", WAIT, |s| {
            rows_with(s, "⚙ system.run")
                .iter()
                .any(|r| r.contains("sleep 3"))
                && status_shows(s, "tui:default", &["running system.run"])
        })
        .await;
    assert!(
        !running.contains("✓ system.run"),
        "the call is not shown as done while it runs:\n{}",
        framed(&running)
    );
    let ended = t
        .wait("the tool call to end", WAIT, |s| {
            s.contains("✓ system.run") || s.contains("✗ system.run")
        })
        .await;
    assert!(
        ended.contains("✓ system.run"),
        "system.run ended ok:\n{}",
        framed(&ended)
    );
    let chat = t
        .wait("the answer after the tool, then idle", WAIT, |s| {
            s.contains(AFTER_TOOL) && status_shows(s, "tui:default", &["idle"])
        })
        .await;
    let rows: Vec<&str> = chat.lines().collect();
    let at = rows
        .iter()
        .position(|r| r.contains("› run the"))
        .unwrap_or_else(|| panic!("no `› run the` row:\n{}", framed(&chat)));
    assert!(
        rows.get(at + 1)
            .is_some_and(|r| r.contains("marker command")),
        "the message's second line is shown below its first:\n{}",
        framed(&chat)
    );
    // What the model was sent: the two lines as one message, and the
    // command's real output as the tool's result.
    let chats = provider.chats();
    assert_eq!(chats.len(), 3, "three requests to the model so far");
    let last_user = |body: &serde_json::Value| {
        body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .rev()
            .find(|m| m["role"] == "user")
            .map(|m| m["content"].clone())
    };
    assert_eq!(
        last_user(&chats[0].body),
        Some(serde_json::Value::from("hello tui"))
    );
    assert_eq!(
        last_user(&chats[1].body),
        Some(serde_json::Value::from("run the\nmarker command")),
        "Alt+Enter put a newline into the message"
    );
    let result = chats[2].body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "tool" && m["tool_call_id"] == "call_tui_1")
        .unwrap_or_else(|| panic!("no result for the call: {:#}", chats[2].body));
    assert!(
        result["content"]
            .as_str()
            .is_some_and(|c| c.contains("tui-tool-ran")),
        "the command ran and the model read its output: {result}"
    );

    // 4. The palette: Tab, filter, Enter.
    tmux.key("Tab");
    t.wait("the Commands palette", WAIT, |s| {
        let boxed = boxed_rows(s);
        !box_titles(s, "Commands").is_empty()
            && ["/help", "/new", "/session", "/model"]
                .iter()
                .all(|c| boxed.iter().any(|r| r.contains(c)))
    })
    .await;
    tmux.type_text("new");
    t.wait("the palette filtered to /new", WAIT, |s| {
        let boxed = boxed_rows(s);
        !box_titles(s, "Commands").is_empty()
            && boxed.iter().any(|r| r.contains("/new"))
            && ["/help", "/model", "/login", "/quit"]
                .iter()
                .all(|c| !boxed.iter().any(|r| r.contains(c)))
    })
    .await;
    tmux.key("Enter");
    let fresh = t
        .wait("session tui:2, the palette closed", WAIT, |s| {
            status_shows(s, "tui:2", &["idle"]) && box_titles(s, "Commands").is_empty()
        })
        .await;
    assert!(
        user_lines(&fresh, "hello tui") == 0 && !fresh.contains("pistachio-42"),
        "the new session starts with an empty transcript:\n{}",
        framed(&fresh)
    );

    // 5. The session picker: open, filter, Ctrl+D asked and declined,
    // Enter opens the stored session.
    let before: Vec<String> = box_titles(&fresh, "Sessions")
        .into_iter()
        .map(String::from)
        .collect();
    let picker_open = |s: &str| {
        box_titles(s, "Sessions")
            .iter()
            .any(|t| !before.iter().any(|b| b == t))
            && boxed_rows(s).iter().any(|r| r.contains("tui:default"))
    };
    tmux.type_line("/session");
    let picker = t
        .wait("the Sessions picker listing tui:default", WAIT, picker_open)
        .await;
    let row = boxed_rows(&picker)
        .into_iter()
        .find(|r| r.contains("tui:default"))
        .unwrap();
    assert!(
        row.replace("tui:default", "")
            .chars()
            .any(|c| c.is_ascii_digit()),
        "the picker shows tui:default with its message count: {row:?}"
    );
    tmux.type_text("default");
    // Filtered: tui:default is listed and tui:2 (if it was stored at
    // all) is not; the rows outside the box may still name tui:2.
    let filtered = |s: &str| picker_open(s) && boxed_rows(s).iter().all(|r| !r.contains("tui:2"));
    t.wait("the picker filtered to tui:default", WAIT, filtered)
        .await;
    tmux.key("C-d");
    t.wait("the delete question", WAIT, |s| {
        s.contains("Delete session tui:default? (y/n)")
    })
    .await;
    tmux.type_text("n");
    let declined = t
        .wait("the delete question answered no", WAIT, |s| {
            !s.contains("Delete session tui:default?")
        })
        .await;
    // The spec does not say whether `n` leaves the picker open; when it
    // closed it, open it again.
    if !filtered(&declined) {
        tmux.type_line("/session");
        t.wait("the Sessions picker, again", WAIT, picker_open)
            .await;
        tmux.type_text("default");
        t.wait("the picker filtered to tui:default, again", WAIT, filtered)
            .await;
    }
    tmux.key("Enter");
    let reopened = t
        .wait("tui:default open again, with its messages", WAIT, |s| {
            status_shows(s, "tui:default", &["idle"])
                && user_lines(s, "hello tui") >= 1
                && s.contains(FIRST_SHOWN)
                && !picker_open(s)
        })
        .await;
    assert_eq!(
        user_lines(&reopened, "hello tui"),
        1,
        "{}",
        framed(&reopened)
    );

    // 6. /quit: exit 0, the terminal as it was.
    tmux.type_line("/quit");
    t.assert_exited_cleanly(first).await;

    // 7. Straight into a stored session; Ctrl+C leaves.
    let second = t.start("-s tui:default");
    let resumed = t
        .wait("tui:default's stored messages", STARTUP, |s| {
            status_shows(s, "tui:default", &[MODEL, "idle"])
                && user_lines(s, "hello tui") >= 1
                && s.contains(FIRST_SHOWN)
                && s.contains(AFTER_TOOL)
        })
        .await;
    assert_eq!(user_lines(&resumed, "hello tui"), 1, "{}", framed(&resumed));
    assert!(tmux.alternate_on(), "the TUI runs in the alternate screen");
    tmux.key("C-c");
    t.assert_exited_cleanly(second).await;

    // 8. The `tui` subcommand; /exit.
    let third = t.start("tui");
    t.wait("the Home screen of `openpista tui`", STARTUP, |s| {
        [
            "openpista",
            "Sessions",
            "Model",
            "Channels",
            "Components",
            "Tab commands",
        ]
        .iter()
        .all(|w| s.contains(w))
            && s.lines()
                .any(|l| l.contains("session ") && l.contains("idle"))
    })
    .await;
    tmux.type_line("/exit");
    t.assert_exited_cleanly(third).await;

    assert_eq!(
        provider.chats().len(),
        3,
        "reopening a session and opening Home asked the model nothing"
    );
}
