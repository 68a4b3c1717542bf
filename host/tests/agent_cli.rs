//! The terminal front end end to end with the offline echo provider:
//! `run -e`, `chat` with its slash commands, `session`, and the clear
//! refusal when a configured provider has no API key.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_openpista");

fn cmd(home: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("OPENPISTA_HOME", home)
        // A port of its own: tests run in parallel.
        .env("OPENPISTA_LISTEN", "127.0.0.1:0")
        .env_remove("OPENPISTA_CONFIG")
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn run_answers_with_the_echo_provider_and_stores_the_session() {
    let home = tempfile::tempdir().unwrap();
    let out = cmd(home.path(), &["run", "-e", "hello agent"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(text(&out).trim(), "echo: hello agent");

    // A tool round: the echo provider asks for time.now, the component runs.
    let out = cmd(
        home.path(),
        &["run", "-e", "/tool text.stats {\"text\": \"a b c\"}"],
    );
    assert!(out.status.success());
    assert!(text(&out).contains("\"words\":3"), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("[tool text.stats]"));

    // An unknown tool is reported to the model, not dropped.
    let out = cmd(home.path(), &["run", "-e", "/tool no.such {}"]);
    assert!(
        text(&out).contains("tool no.such is not loaded"),
        "{}",
        text(&out)
    );

    let out = cmd(home.path(), &["session", "list"]);
    assert!(text(&out).contains("cli:run"), "{}", text(&out));
    let out = cmd(home.path(), &["session", "show", "cli:run"]);
    let shown = text(&out);
    assert!(shown.contains("[user] hello agent"), "{shown}");
    assert!(
        shown.contains("→ text.stats({\"text\": \"a b c\"})"),
        "{shown}"
    );
    let out = cmd(home.path(), &["session", "delete", "cli:run"]);
    assert!(out.status.success());
    assert_eq!(
        cmd(home.path(), &["session", "show", "cli:run"])
            .status
            .code(),
        Some(1)
    );
}

#[test]
fn native_tools_reach_the_agent_with_a_scrubbed_environment() {
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args([
            "run",
            "-e",
            r#"/tool system.run {"command": "echo \"key=[$OPENAI_API_KEY] lang=[$OPENPISTA_TEST_LANG]\""}"#,
        ])
        .env("OPENPISTA_HOME", home.path())
        .env("OPENPISTA_LISTEN", "127.0.0.1:0")
        .env_remove("OPENPISTA_CONFIG")
        .env("OPENAI_API_KEY", "sk-test-must-not-leak")
        .env("OPENPISTA_TEST_LANG", "kept")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer = text(&out);
    assert!(answer.contains("key=[] lang=[kept]"), "{answer}");
    assert!(!answer.contains("sk-test"), "{answer}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("[tool system.run]"));

    // Switched off in the config, the tool is not offered at all.
    std::fs::write(
        home.path().join("config.toml"),
        "[native.system]\nenabled = false\n",
    )
    .unwrap();
    let out = cmd(
        home.path(),
        &["run", "-e", r#"/tool system.run {"command": "true"}"#],
    );
    assert!(
        text(&out).contains("tool system.run is not loaded"),
        "{}",
        text(&out)
    );
}

#[test]
fn chat_reads_lines_and_handles_slash_commands() {
    let home = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .args(["chat", "-s", "cli:t"])
        .env("OPENPISTA_HOME", home.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"/help\nfirst line\n/clear\nsecond line\n/quit\nnever sent\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let shown = text(&out);
    assert!(out.status.success());
    assert!(shown.contains("/clear forget"), "{shown}");
    assert!(shown.contains("echo: first line"), "{shown}");
    assert!(shown.contains("(history cleared)"), "{shown}");
    assert!(!shown.contains("never sent"), "{shown}");
    let stored = text(&cmd(home.path(), &["session", "show", "cli:t"]));
    assert!(!stored.contains("first line"), "{stored}");
    assert!(stored.contains("[user] second line"), "{stored}");
}

#[test]
fn a_provider_without_its_key_is_refused_with_what_to_set() {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("config.toml"),
        "[agent]\nprovider = \"main\"\n[providers.main]\npreset = \"openai\"\napi_key_env = \"OPENPISTA_TEST_UNSET_KEY\"\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["run", "-e", "hi"])
        .env("OPENPISTA_HOME", home.path())
        .env_remove("OPENPISTA_TEST_UNSET_KEY")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("OPENPISTA_TEST_UNSET_KEY") && err.contains("echo"),
        "{err}"
    );
}

#[test]
fn serve_makes_a_web_token_once_and_prints_the_chat_address() {
    let home = tempfile::tempdir().unwrap();
    let out = cmd(home.path(), &["serve", "--exit-when-ready"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown = text(&out);
    assert!(
        shown.contains("channel web (channel-web) started on /web/ws, /ws"),
        "{shown}"
    );
    let token_file = home.path().join("web-token");
    let token = std::fs::read_to_string(&token_file).unwrap();
    assert_eq!(token.len(), 48, "{token:?}");
    assert!(shown.contains(&format!("/#token={token}")), "{shown}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&token_file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    // The second start reuses it and does not print it again.
    let again = cmd(home.path(), &["serve", "--exit-when-ready"]);
    let shown = text(&again);
    assert!(shown.contains("web chat: http://127.0.0.1:"), "{shown}");
    assert!(!shown.contains(&token), "{shown}");
    assert_eq!(std::fs::read_to_string(&token_file).unwrap(), token);
}

#[test]
fn serve_on_defaults_says_what_to_configure() {
    let home = tempfile::tempdir().unwrap();
    let out = cmd(home.path(), &["serve", "--exit-when-ready"]);
    assert!(out.status.success());
    let shown = text(&out);
    assert!(shown.contains("no language model is configured"), "{shown}");
    assert!(shown.contains("OPENAI_API_KEY"), "{shown}");
}

#[test]
fn model_list_and_test_use_the_configured_provider() {
    let home = tempfile::tempdir().unwrap();
    let out = cmd(home.path(), &["model", "list"]);
    assert!(out.status.success());
    let shown = text(&out);
    assert!(
        shown.starts_with("echo (default): its service has no model list\n"),
        "{shown}"
    );
    let row: Vec<&str> = shown.lines().nth(2).unwrap().split_whitespace().collect();
    assert_eq!(
        row,
        ["echo/echo", "?", "tools", "images?", "configured"],
        "{shown}"
    );
    let out = cmd(home.path(), &["model", "test"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text(&out).contains("✅ echo (its default model) answered in"),
        "{}",
        text(&out)
    );
    assert!(
        text(&out).contains("echo: Reply with the single word OK."),
        "{}",
        text(&out)
    );
}

/// `openpista run -e TEXT` inside a pseudo-terminal (util-linux `script`),
/// its output read as it comes; `answer` is typed once `prompt` appears.
fn run_in_a_terminal(home: &Path, text: &str, prompt_and_answer: Option<(&str, &str)>) -> String {
    use std::io::Read;
    let quoted = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
    let line = format!("{} run -e {}", quoted(BIN), quoted(text));
    let mut child = Command::new("script")
        .args(["-qefc", &line, "/dev/null"])
        .env("OPENPISTA_HOME", home)
        .env("OPENPISTA_LISTEN", "127.0.0.1:0")
        .env_remove("OPENPISTA_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script (util-linux) runs");
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut seen = String::new();
    let mut buffer = [0u8; 4096];
    let mut answered = prompt_and_answer.is_none();
    loop {
        let n = stdout.read(&mut buffer).unwrap();
        if n == 0 {
            break;
        }
        seen.push_str(&String::from_utf8_lossy(&buffer[..n]));
        if let Some((prompt, answer)) = prompt_and_answer
            && !answered
            && seen.contains(prompt)
        {
            stdin.write_all(answer.as_bytes()).unwrap();
            stdin.flush().unwrap();
            answered = true;
        }
    }
    drop(stdin);
    let status = child.wait().unwrap();
    assert!(status.success(), "{seen}");
    assert!(answered, "never prompted: {seen}");
    seen
}

#[test]
fn in_the_terminal_native_tools_run_without_asking_by_default() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("made-in-a-terminal");
    let text = format!(
        r#"/tool system.run {{"command": "touch {}"}}"#,
        file.display()
    );
    let seen = run_in_a_terminal(home.path(), &text, None);
    assert!(file.exists(), "the command ran: {seen}");
    assert!(!seen.contains("approval needed"), "{seen}");
    assert!(seen.contains("tool said:"), "{seen}");
}

#[test]
fn an_ask_rule_asks_on_the_terminal_and_refuses_without_one() {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("config.toml"),
        "[[approvals.rules]]\ntool = \"system.run\"\nchannel = \"terminal\"\naction = \"ask\"\n",
    )
    .unwrap();
    let touch = |file: &Path| {
        format!(
            r#"/tool system.run {{"command": "touch {}"}}"#,
            file.display()
        )
    };
    // Without a terminal nobody can be asked: not run.
    let piped = home.path().join("piped");
    let out = cmd(home.path(), &["run", "-e", &touch(&piped)]);
    assert!(
        text(&out).contains("nobody could be asked"),
        "{}",
        text(&out)
    );
    assert!(!piped.exists());
    // In a terminal the prompt comes, and `y` runs it.
    let asked = home.path().join("asked");
    let seen = run_in_a_terminal(home.path(), &touch(&asked), Some(("[a]llow", "y\n")));
    assert!(seen.contains("approval needed: system.run"), "{seen}");
    assert!(asked.exists(), "approved: {seen}");
    // `n` does not.
    let declined = home.path().join("declined");
    let seen = run_in_a_terminal(home.path(), &touch(&declined), Some(("[a]llow", "n\n")));
    assert!(seen.contains("declined"), "{seen}");
    assert!(!declined.exists());
    // Both decisions are kept with the session.
    let shown = text(&cmd(home.path(), &["session", "show", "cli:run"]));
    assert!(
        shown.contains("approved") && shown.contains("rejected"),
        "{shown}"
    );
    assert!(shown.contains("approval decisions:"), "{shown}");
    // Deleting the session deletes them too: a new session of that name
    // starts with none.
    assert!(
        cmd(home.path(), &["session", "delete", "cli:run"])
            .status
            .success()
    );
    assert!(cmd(home.path(), &["run", "-e", "afresh"]).status.success());
    let shown = text(&cmd(home.path(), &["session", "show", "cli:run"]));
    assert!(shown.contains("echo: afresh"), "{shown}");
    assert!(!shown.contains("approval decisions:"), "{shown}");
}
