//! The Telegram channel end to end: the real `channel-telegram` component
//! in a host started as `serve` starts it, against the Bot API double on
//! 127.0.0.1, with the offline echo provider answering.

use openpista::cli::serve::{Running, start};
use openpista::config::Config;
use openpista::gateway::channels::with_fresh;
use openpista_tests::doubles::telegram::{
    BOT_ID, BOT_USERNAME, TelegramDouble, api_error, malformed, too_many_requests, updates,
};
use serde_json::json;
use std::path::Path;
use std::time::{Duration, Instant};

const TOKEN: &str = "123456:TEST-secret-token";
const OWNER: i64 = 100;

fn config(root: &Path, double: &TelegramDouble, extra: &str) -> Config {
    double.host_config(root, TOKEN, &[OWNER], extra)
}

async fn host(root: &Path, double: &TelegramDouble, extra: &str) -> Running {
    let running = start(&config(root, double, extra)).await.unwrap();
    assert!(running.failures.is_empty(), "{:?}", running.failures);
    assert!(
        running
            .channel_notes
            .iter()
            .any(|n| n.contains("channel telegram (channel-telegram) started")),
        "{:?}",
        running.channel_notes
    );
    running
}

/// The texts delivered to `chat`, as the user reads them.
fn texts_to(double: &TelegramDouble, chat: i64) -> Vec<String> {
    double.delivered(chat).into_iter().map(|d| d.text).collect()
}

async fn wait_texts(double: &TelegramDouble, chat: i64, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let texts = texts_to(double, chat);
        if texts.len() >= n {
            return texts;
        }
        assert!(
            Instant::now() < deadline,
            "expected {n} messages to {chat}, got {texts:?}; calls: {:?}",
            double
                .calls()
                .iter()
                .map(|c| format!("{} {}", c.method, c.params))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_reaches_the_agent_and_the_answer_comes_back() {
    let root = tempfile::tempdir().unwrap();
    let double = TelegramDouble::start(TOKEN).await;
    let running = host(root.path(), &double, "").await;

    // Start-up: the identity read, the commands registered.
    assert!(!double.calls_of("getMe").is_empty());
    let commands = &double.calls_of("setMyCommands")[0].params["commands"];
    let names: Vec<&str> = commands
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["command"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "start", "help", "stop", "new", "sessions", "model", "status"
        ]
    );

    double.push_update(updates::text(1, OWNER, "hello 1.5 + 2 = 3.5!"));
    let texts = wait_texts(&double, OWNER, 1).await;
    // The double parsed the MarkdownV2: every reserved character escaped.
    assert_eq!(texts, ["echo: hello 1.5 + 2 = 3.5!"]);
    // Once for the main instance and once for the poll loop's.
    assert_eq!(double.calls_of("getMe").len(), 2);
    let sent = &double.calls_of("sendMessage")[0];
    assert_eq!(sent.params["parse_mode"], "MarkdownV2");
    assert!(
        !double.calls_of("sendChatAction").is_empty(),
        "typing is shown while the agent works"
    );
    assert_eq!(
        double.calls_of("sendChatAction")[0].params["action"],
        "typing"
    );

    // The turn is stored under telegram:CHAT with the sender's message.
    let memory = running.runtime.memory().unwrap().clone();
    let stored = memory.messages("telegram:100", 10).unwrap();
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[0].content, "hello 1.5 + 2 = 3.5!");

    // /status is answered by the channel itself, from getMe.
    double.push_update(updates::text(2, OWNER, "/status"));
    let texts = wait_texts(&double, OWNER, 2).await;
    assert!(
        texts[1].contains(BOT_USERNAME) && texts[1].contains(&BOT_ID.to_string()),
        "{}",
        texts[1]
    );
    assert_eq!(
        double.calls_of("getMe").len(),
        2,
        "getMe is not asked again"
    );

    // An answer over 4096 characters arrives in pieces, none too long.
    let long = format!("{}\n\n{}", "a".repeat(3000), "b".repeat(3000));
    double.push_update(updates::text(3, OWNER, &long));
    let texts = wait_texts(&double, OWNER, 4).await;
    assert!(
        texts[2].ends_with('a') && texts[3].starts_with('b'),
        "{texts:?}"
    );
    assert_eq!(texts[2].len() + texts[3].len(), "echo: ".len() + 6000);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_get_a_pairing_code_and_nothing_else_until_approved() {
    let root = tempfile::tempdir().unwrap();
    let double = TelegramDouble::start(TOKEN).await;
    let running = host(root.path(), &double, "").await;
    let memory = running.runtime.memory().unwrap().clone();
    const STRANGER: i64 = 555;

    double.push_update(updates::text(1, STRANGER, "let me in"));
    let texts = wait_texts(&double, STRANGER, 1).await;
    assert!(texts[0].contains("pairing code"), "{}", texts[0]);
    // The host asks the channel (its pairing export), never its storage.
    let (pending, approved) = with_fresh(
        &running.runtime.get("channel-telegram").unwrap(),
        async |i| i.list_pairings().await,
    )
    .await
    .unwrap();
    assert_eq!(pending.len(), 1);
    assert!(approved.is_empty());
    let code = pending[0].code.clone();
    assert!(texts[0].contains(&code), "{} vs {code}", texts[0]);
    assert!(
        memory.messages("telegram:555", 10).unwrap().is_empty(),
        "nothing reached the agent"
    );

    // Asking again gives the same code, still no agent.
    double.push_update(updates::text(2, STRANGER, "please"));
    let texts = wait_texts(&double, STRANGER, 2).await;
    assert!(texts[1].contains(&code));
    assert!(memory.messages("telegram:555", 10).unwrap().is_empty());

    // A button press from a stranger is answered (it stops spinning) but
    // goes nowhere either.
    double.push_update(updates::callback(3, STRANGER, STRANGER, "yes"));
    double
        .wait_for("answerCallbackQuery", 10, |c| !c.is_empty())
        .await;

    let approved = with_fresh(
        &running.runtime.get("channel-telegram").unwrap(),
        async |i| i.approve(&code.to_lowercase()).await,
    )
    .await
    .unwrap();
    assert_eq!(approved.user, STRANGER.to_string());
    double.push_update(updates::text(4, STRANGER, "now?"));
    let texts = wait_texts(&double, STRANGER, 3).await;
    assert_eq!(texts[2], "echo: now?");
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_groups_only_mentions_and_replies_to_the_bot_pass() {
    let root = tempfile::tempdir().unwrap();
    let double = TelegramDouble::start(TOKEN).await;
    let running = host(root.path(), &double, "").await;
    let memory = running.runtime.memory().unwrap().clone();
    const GROUP: i64 = -100_200;

    double.push_update(updates::message(
        1,
        GROUP,
        OWNER,
        json!({"text": "people talking among themselves"}),
    ));
    double.push_update(updates::message(
        2,
        GROUP,
        OWNER,
        json!({"text": format!("@{BOT_USERNAME} what time is it"), "is_topic_message": true, "message_thread_id": 7}),
    ));
    let texts = wait_texts(&double, GROUP, 1).await;
    assert_eq!(texts, ["echo: what time is it"]);
    // The forum topic is its own session, and the reply went to it.
    assert_eq!(double.delivered(GROUP)[0].thread_id, Some(7));
    assert_eq!(memory.messages("telegram:-100200:7", 10).unwrap().len(), 2);
    assert!(memory.messages("telegram:-100200", 10).unwrap().is_empty());

    // A reply to the bot's own message passes without a mention.
    double.push_update(updates::message(
        3,
        GROUP,
        OWNER,
        json!({"text": "and tomorrow?", "reply_to_message": {
            "message_id": 9, "date": 1, "chat": {"id": GROUP, "type": "supergroup"},
            "from": {"id": BOT_ID, "is_bot": true, "first_name": "Pista"}, "text": "x"}}),
    ));
    let texts = wait_texts(&double, GROUP, 2).await;
    assert_eq!(texts[1], "echo: and tomorrow?");
    assert_eq!(texts_to(&double, GROUP).len(), 2, "the chatter got nothing");
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_arrive_as_attachments_or_are_described() {
    let root = tempfile::tempdir().unwrap();
    let double = TelegramDouble::start(TOKEN).await;
    let running = host(root.path(), &double, "").await;
    let memory = running.runtime.memory().unwrap().clone();
    double.add_file(
        "ph-big",
        "photos/file_1.jpg",
        vec![0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3],
    );

    double.push_update(updates::message(
        1,
        OWNER,
        OWNER,
        json!({"caption": "look at this", "photo": [
            {"file_id": "ph-small", "file_unique_id": "s", "width": 90, "height": 90, "file_size": 3},
            {"file_id": "ph-big", "file_unique_id": "b", "width": 800, "height": 800, "file_size": 7},
        ]}),
    ));
    let texts = wait_texts(&double, OWNER, 1).await;
    assert_eq!(texts[0], "echo: look at this");
    let downloaded = double.calls_of("getFile");
    assert_eq!(
        downloaded[0].params["file_id"], "ph-big",
        "the largest size"
    );
    let user = &memory.messages("telegram:100", 10).unwrap()[0];
    assert_eq!(user.attachments.len(), 1, "{user:?}");
    assert!(user.attachments[0].contains("image/jpeg"), "{user:?}");

    // Too large to download: described to the agent, never fetched.
    double.push_update(updates::message(
        2,
        OWNER,
        OWNER,
        json!({"document": {"file_id": "doc-huge", "file_unique_id": "h",
            "file_name": "report.pdf", "mime_type": "application/pdf", "file_size": 12_000_000}}),
    ));
    let texts = wait_texts(&double, OWNER, 2).await;
    assert!(
        texts[1].contains("report.pdf")
            && texts[1].contains("application/pdf")
            && texts[1].contains("12.0 MB"),
        "{}",
        texts[1]
    );
    assert_eq!(double.calls_of("getFile").len(), 1);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_and_rate_limits_are_handled_as_the_api_asks() {
    let root = tempfile::tempdir().unwrap();
    let double = TelegramDouble::start(TOKEN).await;
    let running = host(root.path(), &double, "").await;

    // A MarkdownV2 parse error: the same chunk again as plain text.
    double.fail_next(
        "sendMessage",
        api_error(
            400,
            "Bad Request: can't parse entities: Can't find end of the entity starting at byte offset 3",
        ),
    );
    double.push_update(updates::text(1, OWNER, "*tricky"));
    let calls = double.wait_for("sendMessage", 30, |c| c.len() >= 2).await;
    assert_eq!(calls[0].params["parse_mode"], "MarkdownV2");
    assert!(
        calls[1].params.get("parse_mode").is_none(),
        "{:?}",
        calls[1].params
    );
    assert_eq!(calls[1].params["text"], "echo: *tricky");

    // 429: the wait Telegram asks for, exactly, then success.
    double.fail_next("sendMessage", too_many_requests(1));
    double.push_update(updates::text(2, OWNER, "again"));
    let calls = double.wait_for("sendMessage", 30, |c| c.len() >= 4).await;
    let waited = calls[3].at - calls[2].at;
    assert!(waited >= Duration::from_secs(1), "waited {waited:?}");
    assert_eq!(calls[3].params["text"], "echo: again");

    // A 5xx is retried; the message still arrives.
    double.fail_next("sendMessage", api_error(502, "Bad Gateway"));
    double.push_update(updates::text(3, OWNER, "third"));
    let texts = wait_texts(&double, OWNER, 3).await;
    assert_eq!(texts.last().unwrap(), "echo: third");

    // A malformed getUpdates answer: the poll fails, the offset stays,
    // and the next poll delivers what was queued.
    double.fail_next("getUpdates", malformed());
    tokio::time::sleep(Duration::from_millis(100)).await;
    double.push_update(updates::text(30, OWNER, "after garbage"));
    let texts = wait_texts(&double, OWNER, 4).await;
    assert_eq!(texts.last().unwrap(), "echo: after garbage");
    double
        .wait_for("getUpdates", 30, |c| {
            c.iter().filter(|c| c.params["offset"] == 31).count() >= 2
        })
        .await;

    // The typing indicator failing never stops the answer.
    double.fail_next("sendChatAction", api_error(500, "Internal Server Error"));
    double.push_update(updates::text(40, OWNER, "fourth"));
    let texts = wait_texts(&double, OWNER, 5).await;
    assert_eq!(texts.last().unwrap(), "echo: fourth");

    // A 400 is final: no retry.
    let before = double.calls_of("sendMessage").len();
    double.fail_next("sendMessage", api_error(400, "Bad Request: chat not found"));
    double.push_update(updates::text(50, OWNER, "fifth"));
    double
        .wait_for("sendMessage", 30, |c| c.len() > before)
        .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(double.calls_of("sendMessage").len(), before + 1);
    assert_eq!(texts_to(&double, OWNER).len(), 5);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_repeats_no_update_and_a_webhook_conflict_is_cleared() {
    let root = tempfile::tempdir().unwrap();
    let double = TelegramDouble::start(TOKEN).await;
    // Another deployment left a webhook: getUpdates answers 409 until it
    // is deleted.
    double.set_webhook("https://old.example/hook");
    let running = host(root.path(), &double, "").await;
    for i in 1..=3 {
        double.push_update(updates::text(i, OWNER, &format!("m{i}")));
    }
    let texts = wait_texts(&double, OWNER, 3).await;
    assert_eq!(texts, ["echo: m1", "echo: m2", "echo: m3"]);
    assert!(!double.calls_of("deleteWebhook").is_empty());
    assert_eq!(double.webhook(), None);
    running.stop().await;

    // While down, one more message; the old ones are not confirmed to
    // Telegram until the next getUpdates, so the double still has them.
    double.push_update(updates::text(4, OWNER, "m4"));
    let polls_before = double.calls_of("getUpdates").len();
    // The stopped host's tasks let go of the database as they wind down.
    let deadline = Instant::now() + Duration::from_secs(20);
    let running = loop {
        match start(&config(root.path(), &double, "")).await {
            Ok(r) => break r,
            Err(e) if Instant::now() < deadline && format!("{e:#}").contains("memory") => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            Err(e) => panic!("restart failed: {e:#}"),
        }
    };
    let texts = wait_texts(&double, OWNER, 4).await;
    assert_eq!(texts[3], "echo: m4");
    let first_poll = &double.calls_of("getUpdates")[polls_before];
    assert_eq!(
        first_poll.params["offset"], 4,
        "resumes after the last one handled"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(texts_to(&double, OWNER).len(), 4, "nothing answered twice");
    running.stop().await;
}

/// POSTs `body` to the webhook listener with `secret` in the header.
async fn post(addr: std::net::SocketAddr, secret: Option<&str>, body: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let header = secret
        .map(|s| format!("x-telegram-bot-api-secret-token: {s}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "POST /telegram/webhook HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\n{header}content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_mode_checks_the_secret_and_takes_each_update_once() {
    let root = tempfile::tempdir().unwrap();
    let double = TelegramDouble::start(TOKEN).await;
    let running = host(
        root.path(),
        &double,
        "webhook_url = \"https://bot.example.com/telegram/webhook\"\nwebhook_port = 0\nwebhook_secret = \"s3cret-hook_value\"",
    )
    .await;
    let addr = running.webhook_server.as_ref().unwrap().local_addr;
    assert!(addr.ip().is_loopback());

    // setWebhook got the URL and the secret, filled in by the host.
    let set = &double.calls_of("setWebhook")[0];
    assert_eq!(
        set.params["url"],
        "https://bot.example.com/telegram/webhook"
    );
    assert_eq!(set.params["secret_token"], "s3cret-hook_value");
    assert!(double.calls_of("getUpdates").is_empty(), "no polling");

    let update = updates::text(41, OWNER, "via webhook").to_string();
    let (status, _) = post(addr, Some("wrong"), &update).await;
    assert_eq!(status, 401);
    let (status, _) = post(addr, None, &update).await;
    assert_eq!(status, 401);
    let (status, body) = post(addr, Some("s3cret-hook_value"), "{not json").await;
    assert_eq!(status, 400);
    assert!(!body.is_empty(), "a refusal says why");

    let (status, _) = post(addr, Some("s3cret-hook_value"), &update).await;
    assert_eq!(status, 200);
    let texts = wait_texts(&double, OWNER, 1).await;
    assert_eq!(texts, ["echo: via webhook"]);
    // Telegram retrying the same update gets 200 and no second answer.
    let (status, _) = post(addr, Some("s3cret-hook_value"), &update).await;
    assert_eq!(status, 200);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(texts_to(&double, OWNER).len(), 1);

    // The webhook port serves nothing but the webhook.
    let (page, _) = openpista_tests::http_get(addr, "/").await;
    assert_eq!(page, 404);

    running.stop().await;
    assert!(
        !double.calls_of("deleteWebhook").is_empty(),
        "shutdown deletes the webhook so polling can resume"
    );
    assert_eq!(double.webhook(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buttons_become_an_inline_keyboard_and_presses_come_back() {
    let root = tempfile::tempdir().unwrap();
    let double = TelegramDouble::start(TOKEN).await;
    let running = host(root.path(), &double, "confirm_actions = true").await;
    let memory = running.runtime.memory().unwrap().clone();

    double.push_update(updates::text(
        1,
        OWNER,
        "Delete it? [[Yes|del:yes]] [[No|del:no]]",
    ));
    let calls = double.wait_for("sendMessage", 30, |c| !c.is_empty()).await;
    let keyboard = &calls[0].params["reply_markup"]["inline_keyboard"];
    assert_eq!(keyboard[0][0]["text"], "Yes");
    assert_eq!(keyboard[0][0]["callback_data"], "del:yes");
    assert_eq!(keyboard[0][1]["callback_data"], "del:no");
    assert!(!calls[0].params["text"].as_str().unwrap().contains("[["));

    double.push_update(updates::callback(2, OWNER, OWNER, "del:yes"));
    let texts = wait_texts(&double, OWNER, 2).await;
    assert_eq!(texts[1], "echo: [callback:del:yes]");
    let answered = double.calls_of("answerCallbackQuery");
    assert_eq!(answered[0].params["callback_query_id"], "cb2");
    assert!(
        memory
            .messages("telegram:100", 10)
            .unwrap()
            .iter()
            .any(|m| m.content == "[callback:del:yes]")
    );
    running.stop().await;
}
