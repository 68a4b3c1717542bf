//! Approvals and commands through the real Telegram channel component,
//! against the Bot API double: the approval request arrives with an
//! inline keyboard, a press by another group member is refused, the
//! asker's press approves (the command's side effect is checked), an
//! unanswered request is rejected when it times out, requests from a
//! group can be routed to the approver's private chat, and `/model`
//! answers with buttons whose press switches the model.

use openpista::cli::serve::{Running, start};
use openpista_tests::doubles::telegram::{BOT_USERNAME, TelegramDouble, updates};
use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, Instant};

const TOKEN: &str = "123456:TEST-secret-token";
const OWNER: i64 = 100;
const MEMBER: i64 = 200;
const GROUP: i64 = -100;

async fn host(root: &Path, double: &TelegramDouble, approvals: &str) -> Running {
    let config = double.host_config(
        root,
        TOKEN,
        &[OWNER, MEMBER],
        &format!("[approvals]\n{approvals}"),
    );
    let running = start(&config).await.unwrap();
    assert!(running.failures.is_empty(), "{:?}", running.failures);
    running
}

/// Waits for a `sendMessage` to `chat` that `pick` accepts.
async fn sent(
    double: &TelegramDouble,
    chat: i64,
    what: &str,
    pick: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(call) = double
            .calls_of("sendMessage")
            .into_iter()
            .find(|c| c.params["chat_id"] == json!(chat) && pick(&c.params))
        {
            return call.params;
        }
        assert!(
            Instant::now() < deadline,
            "no {what} to {chat}; sent: {:?}",
            double
                .calls_of("sendMessage")
                .iter()
                .map(|c| c.params.to_string())
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn text_has(needle: &'static str) -> impl Fn(&Value) -> bool {
    move |p| p["text"].as_str().is_some_and(|t| t.contains(needle))
}

/// The first `editMessageText` of a message in `chat`.
async fn edited(double: &TelegramDouble, chat: i64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(call) = double
            .calls_of("editMessageText")
            .into_iter()
            .find(|c| c.params["chat_id"] == json!(chat))
        {
            return call.params;
        }
        assert!(Instant::now() < deadline, "no message edited in {chat}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The approval keyboard sent to `chat`, and the request id in it.
async fn keyboard(double: &TelegramDouble, chat: i64, nth: usize) -> (Value, String) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let boards: Vec<Value> = double
            .calls_of("sendMessage")
            .into_iter()
            .filter(|c| {
                c.params["chat_id"] == json!(chat)
                    && c.params["reply_markup"]["inline_keyboard"]
                        .to_string()
                        .contains("\"ap:")
            })
            .map(|c| c.params)
            .collect();
        if let Some(board) = boards.get(nth - 1) {
            let data = board["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
                .as_str()
                .unwrap()
                .to_string();
            let id = data.split(':').nth(1).unwrap().to_string();
            return (board.clone(), id);
        }
        assert!(
            Instant::now() < deadline,
            "no approval keyboard {nth} in {chat}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn ask_in_group(update: i64, from: i64, file: &Path) -> Value {
    let text = format!(
        r#"@{BOT_USERNAME} !tool system.run {{"command": "touch {}"}}"#,
        file.display()
    );
    updates::message(update, GROUP, from, json!({ "text": text }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_keyboard_arrives_and_only_the_asker_may_press_it() {
    let root = tempfile::tempdir().unwrap();
    let double = TelegramDouble::start(TOKEN).await;
    let running = host(root.path(), &double, "").await;
    let file = root.path().join("approved");

    double.push_update(ask_in_group(1, MEMBER, &file));
    let (board, id) = keyboard(&double, GROUP, 1).await;
    let text = board["text"].as_str().unwrap();
    assert!(
        text.contains("system.run") && text.contains("touch"),
        "{text}"
    );
    let buttons: Vec<(String, String)> = board["reply_markup"]["inline_keyboard"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|row| row.as_array().unwrap().clone())
        .map(|b| {
            (
                b["text"].as_str().unwrap().to_string(),
                b["callback_data"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        buttons,
        [
            ("Approve".to_string(), format!("ap:{id}:a")),
            ("Reject".to_string(), format!("ap:{id}:r")),
            ("Allow for this session".to_string(), format!("ap:{id}:s")),
        ]
    );
    assert!(buttons.iter().all(|(_, d)| d.len() <= 64));

    // Another member of the group presses Approve, or sends /stop: both
    // refused, and the call still waits.
    double.push_update(updates::callback(2, GROUP, OWNER, &format!("ap:{id}:a")));
    sent(
        &double,
        GROUP,
        "a refusal",
        text_has("Only the person who asked"),
    )
    .await;
    double.push_update(updates::message(
        3,
        GROUP,
        OWNER,
        json!({ "text": format!("/stop@{BOT_USERNAME}") }),
    ));
    sent(
        &double,
        GROUP,
        "a refused stop",
        text_has("Only the person whose message is being answered"),
    )
    .await;
    assert!(!file.exists());
    // The person who asked presses it: the command runs.
    double.push_update(updates::callback(4, GROUP, MEMBER, &format!("ap:{id}:a")));
    sent(&double, GROUP, "the answer", text_has("tool said")).await;
    assert!(file.exists(), "approved: the file was created");
    // The request's message now says how it ended, without its keyboard.
    let edit = &edited(&double, GROUP).await;
    assert_eq!(double.calls_of("editMessageText").len(), 1);
    assert!(
        edit["text"].as_str().unwrap().ends_with("\n\nApproved."),
        "{edit}"
    );
    assert!(edit["text"].as_str().unwrap().contains("touch"), "{edit}");
    assert!(edit.get("reply_markup").is_none(), "{edit}");
    // Every press was answered, so no button spins forever.
    assert!(double.calls_of("answerCallbackQuery").len() >= 2);
    let decisions = running
        .gateway
        .agent()
        .decisions(&format!("telegram:{GROUP}"))
        .unwrap();
    assert_eq!(decisions.len(), 1);
    assert_eq!(decisions[0].outcome, "approved");
    assert_eq!(decisions[0].channel, "telegram");
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_requests_go_to_the_approver_and_time_out() {
    let root = tempfile::tempdir().unwrap();
    let double = TelegramDouble::start(TOKEN).await;
    let running = host(
        root.path(),
        &double,
        &format!("timeout_secs = 3\napprover = \"telegram:{OWNER}\""),
    )
    .await;
    let file = root.path().join("f");

    // Nobody answers: rejected when the time is up.
    double.push_update(ask_in_group(1, MEMBER, &file));
    keyboard(&double, OWNER, 1).await;
    sent(
        &double,
        GROUP,
        "the expiry",
        text_has("nobody answered in time"),
    )
    .await;
    let edit = edited(&double, OWNER).await;
    assert!(
        edit["text"]
            .as_str()
            .unwrap()
            .ends_with("Nobody answered in time: rejected."),
        "{edit}"
    );
    assert!(
        !double
            .calls_of("sendMessage")
            .iter()
            .any(|c| c.params["chat_id"] == json!(GROUP)
                && c.params["reply_markup"].to_string().contains("ap:")),
        "the keyboard went to the approver's private chat, not the group"
    );

    // The owner approves from the private chat.
    double.push_update(ask_in_group(2, MEMBER, &file));
    let (_, id) = keyboard(&double, OWNER, 2).await;
    double.push_update(updates::callback(3, OWNER, OWNER, &format!("ap:{id}:a")));
    // The expired call's answer also quotes the tool ("tool said: …
    // nobody answered"), so look for the one after the approval.
    sent(&double, GROUP, "the answer", |p| {
        p["text"]
            .as_str()
            .is_some_and(|t| t.contains("tool said") && !t.contains("nobody answered"))
    })
    .await;
    assert!(file.exists());
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn model_offers_buttons_and_a_press_switches() {
    let root = tempfile::tempdir().unwrap();
    let double = TelegramDouble::start(TOKEN).await;
    let running = host(root.path(), &double, "").await;
    double.push_update(updates::text(1, OWNER, "/model"));
    let offer = sent(&double, OWNER, "the model list", text_has("Models: echo")).await;
    assert_eq!(
        offer["reply_markup"]["inline_keyboard"][0][0],
        json!({"text": "echo", "callback_data": "c:/model echo"})
    );
    double.push_update(updates::callback(2, OWNER, OWNER, "c:/model echo"));
    sent(
        &double,
        OWNER,
        "the switch",
        text_has("now uses the model echo"),
    )
    .await;
    double.push_update(updates::text(3, OWNER, "/new"));
    sent(
        &double,
        OWNER,
        "a new conversation",
        text_has("A new conversation has started"),
    )
    .await;
    running.stop().await;
}
