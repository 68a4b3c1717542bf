//! JSON logs: every line on stderr and in the rotated file is one JSON
//! object, and neither holds a secret however verbose the level: not the
//! bot token in the path of every Telegram request, not a key the model
//! service echoes back in its error.

use super::{Served, Setup, TOKEN, mode};
use openpista_tests::doubles::openai::{OpenAiDouble, Reply};
use openpista_tests::doubles::telegram::TelegramDouble;

const BOT_TOKEN: &str = "987654:AAF-planted_bot_token_x1";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_lines_parse_and_a_planted_secret_never_reaches_them() {
    let double = OpenAiDouble::start().await;
    let key = "sk-planted-secret-9f8e7d6c5b4a";
    // The service echoes the key it was sent in its error message.
    double.push(Reply::error(
        401,
        "invalid_request_error",
        &format!("Incorrect API key provided: {key}. It was revoked."),
    ));
    // Telegram's bot token travels in the request path
    // (`/bot<TOKEN>/getUpdates`), so the debug line of every outbound
    // request carries it until the log writer redacts it.
    let telegram = TelegramDouble::start(BOT_TOKEN).await;
    let setup = Setup::new(
        Some(&double.base_url()),
        key,
        &format!(
            "[log]\nfile = \"LOGDIR/openpista.log\"\n\
             [channels.telegram]\nenabled = true\ntoken = \"{BOT_TOKEN}\"\napi_url = \"{}\"\nallowed_users = [7]\n",
            telegram.api_url()
        ),
    );
    let log_dir = setup.dir.path().join("logs");
    let text = std::fs::read_to_string(&setup.config)
        .unwrap()
        .replace("LOGDIR", &log_dir.display().to_string());
    std::fs::write(&setup.config, text).unwrap();

    let served = Served::start(
        &setup,
        &[
            "--log-format",
            "json",
            "--log-level",
            "debug,openpista=trace",
        ],
    );
    telegram
        .wait_for("getUpdates", 30, |calls| !calls.is_empty())
        .await;
    let answer = openpista_tests::web_chat(served.addr, TOKEN, "logs-client", "hello").await;
    assert!(
        answer.contains("Incorrect API key"),
        "the turn failed with the service's error: {answer}"
    );
    assert!(
        !answer.contains(key),
        "nor does the chat see the key: {answer}"
    );
    let stderr = served.stop();

    let check = |what: &str, text: &str| {
        let mut objects = 0;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let value: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{what}: not a JSON line ({e}): {line}"));
            assert!(
                value["level"].is_string() && value["timestamp"].is_string(),
                "{what}: {line}"
            );
            objects += 1;
        }
        assert!(
            objects > 5,
            "{what}: a debug run logs more than that:\n{text}"
        );
        assert!(
            !text.contains(key),
            "{what} holds the planted secret:\n{text}"
        );
        assert!(
            !text.contains(BOT_TOKEN),
            "{what} holds the bot token:\n{text}"
        );
        assert!(
            text.lines()
                .any(|l| l.contains("outbound POST /bot[redacted:")),
            "{what}: the request lines are there, the token redacted:\n{text}"
        );
    };
    check("stderr", &stderr);

    // The file: DIR/openpista.log.YYYY-MM-DD, in a private folder.
    assert_eq!(mode(&log_dir), 0o700);
    let files: Vec<_> = std::fs::read_dir(&log_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let name = files[0].file_name().unwrap().to_string_lossy().into_owned();
    let date = name
        .strip_prefix("openpista.log.")
        .unwrap_or_else(|| panic!("{name}"));
    let shape: String = date
        .chars()
        .map(|c| if c.is_ascii_digit() { 'D' } else { c })
        .collect();
    assert_eq!(
        shape, "DDDD-DD-DD",
        "a daily file is named by its date: {name}"
    );
    check("the log file", &std::fs::read_to_string(&files[0]).unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_log_filter_is_refused_with_where_it_came_from() {
    let setup = Setup::new(None, "unused", "[log]\nlevel = \"openpista=loudest\"\n");
    let (code, _, stderr) = setup.output(&["component", "list"]).await;
    assert_ne!(code, 0);
    assert!(
        stderr.contains("[log] level") && stderr.contains("openpista=loudest"),
        "{stderr}"
    );
}
