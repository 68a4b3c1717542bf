//! Control from the web page, in the real browser: a tool call waits for
//! approval as a card with three buttons; approve runs it, reject does not
//! (the side effect is checked on disk), "allow for this session" skips
//! the next prompt for that exact command line and no other; the stop
//! button ends a running command; `/model` answers with buttons whose
//! press switches. (The session panel is in `sessions.rs`.)

use super::*;

/// `!tool system.run` with `command`: the echo provider's way of asking
/// for a tool (`/tool` would be a slash command on the page).
fn run(command: &str) -> String {
    format!(
        "!tool system.run {}",
        serde_json::json!({ "command": command })
    )
}

/// Waits for approval card number `n` (1-based) to be waiting, and
/// returns its id.
async fn card(page: &Page, n: usize) -> String {
    let expr = format!(
        "(() => {{ const c = document.querySelectorAll('#messages .message.approval')[{i}]; \
           return c && c.dataset.state === 'waiting' && c.querySelector('button.approve:not([disabled])') \
             ? c.dataset.id : null; }})()",
        i = n - 1
    );
    let id = wait_for(page, &format!("approval card {n}"), &expr, WAIT).await;
    id.as_str().unwrap().to_string()
}

/// Clicks `button.CHOICE` on the card of request `id`, and waits for the
/// card to say it ended as `how`.
async fn answer(page: &Page, id: &str, choice: &str, how: &str) {
    let selector = format!("#messages .message.approval[data-id='{id}']");
    let clicked = eval(
        page,
        &format!("(() => {{ const b = document.querySelector(\"{selector} button.{choice}\"); if (!b) return false; b.click(); return true; }})()"),
    )
    .await;
    assert_eq!(clicked, Value::Bool(true), "card {id} has button.{choice}");
    wait_for(
        page,
        &format!("card {id} settled as {how}"),
        &format!(
            "(() => {{ const c = document.querySelector(\"{selector}\"); \
               return c && c.dataset.state === '{how}' && c.querySelector('.outcome') !== null \
                 && c.querySelectorAll('button:not([disabled])').length === 0; }})()"
        ),
        WAIT,
    )
    .await;
}

/// How many approval cards the transcript shows.
async fn approval_cards(page: &Page) -> usize {
    eval(
        page,
        "document.querySelectorAll('#messages .message.approval').length",
    )
    .await
    .as_u64()
    .unwrap() as usize
}

/// Clicks the choice button whose command is `command` on the last
/// choices card.
async fn choose(page: &Page, command: &str) {
    let expr = format!(
        "(() => {{ const cards = document.querySelectorAll('#messages .message.choices'); \
           const last = cards[cards.length - 1]; if (!last) return false; \
           const b = [...last.querySelectorAll('button.choice')] \
             .find(b => b.dataset.command === {command}); \
           if (!b || b.disabled) return false; b.click(); return true; }})()",
        command = Value::from(command)
    );
    wait_for(page, &format!("a choice button {command}"), &expr, WAIT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tool_call_waits_for_the_buttons_on_the_page() {
    let Some(chrome) = Chrome::launch().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let running = start_host(dir.path(), "127.0.0.1:0").await;
    let page = chrome.open(&token_url(addr(&running), TOKEN)).await;
    wait_state(&page, "online", WAIT).await;
    let session = wait_session(&page).await;

    // Approve: the command runs.
    let approved = dir.path().join("approved");
    type_and_send(&page, &run(&format!("touch {}", approved.display()))).await;
    let id = card(&page, 1).await;
    let shown = eval(
        &page,
        &format!(
            "(() => {{ const c = document.querySelector(\"[data-id='{id}']\"); \
               return c.querySelector('.tool').textContent + '|' + c.querySelector('pre.arguments').textContent; }})()"
        ),
    )
    .await;
    let shown = shown.as_str().unwrap();
    assert!(
        shown.starts_with("system.run|") && shown.contains("touch"),
        "{shown}"
    );
    assert!(!approved.exists(), "nothing runs before the answer");
    answer(&page, &id, "approve", "approved").await;
    wait_last_message(
        &page,
        "assistant",
        "the tool's answer",
        "t.startsWith('tool said:')",
    )
    .await;
    assert!(approved.exists(), "approved: the file was created");

    // Reject: it does not, and the model is told.
    let rejected = dir.path().join("rejected");
    type_and_send(&page, &run(&format!("touch {}", rejected.display()))).await;
    let id = card(&page, 2).await;
    answer(&page, &id, "reject", "rejected").await;
    wait_last_message(&page, "assistant", "the refusal", "t.includes('declined')").await;
    assert!(!rejected.exists(), "rejected: nothing ran");

    // Allow for this session: that exact line runs again without a card;
    // another line asks again.
    let log = dir.path().join("allowed.log");
    let line = format!("echo once >> {}", log.display());
    type_and_send(&page, &run(&line)).await;
    let id = card(&page, 3).await;
    answer(&page, &id, "allow", "allowed").await;
    let runs = |n: usize| {
        let log = log.clone();
        move || {
            std::fs::read_to_string(&log)
                .map(|t| t.lines().count())
                .unwrap_or(0)
                >= n
        }
    };
    wait_until("the allowed line to run", runs(1)).await;
    type_and_send(&page, &run(&line)).await;
    wait_until("the allowed line to run again, unasked", runs(2)).await;
    assert_eq!(
        approval_cards(&page).await,
        3,
        "no card for the allowed line"
    );
    let other = dir.path().join("other");
    type_and_send(&page, &run(&format!("touch {}", other.display()))).await;
    let id = card(&page, 4).await;
    assert!(
        !other.exists(),
        "another line is not covered by the allowance"
    );
    answer(&page, &id, "reject", "rejected").await;

    // Every decision is stored with the session (the last one as the
    // turn goes on, which may be after the page shows the card settled).
    let outcomes = || -> Vec<String> {
        running
            .gateway
            .agent()
            .decisions(&session)
            .unwrap()
            .into_iter()
            .map(|d| d.outcome)
            .collect()
    };
    wait_until("the fifth decision to be stored", || outcomes().len() >= 5).await;
    let outcomes = outcomes();
    assert_eq!(
        outcomes,
        [
            "approved",
            "rejected",
            "allowed-for-session",
            "allowed-earlier",
            "rejected"
        ],
        "the second run of the allowed line is recorded as allowed earlier"
    );
    chrome.close().await;
    running.stop().await;
}

/// Polls `done` until it holds, or panics after [`WAIT`].
async fn wait_until(what: &str, done: impl Fn() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < WAIT, "waited {WAIT:?} for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stop_button_ends_a_running_command_and_model_buttons_switch() {
    let Some(chrome) = Chrome::launch().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let running = start_host(dir.path(), "127.0.0.1:0").await;
    let page = chrome.open(&token_url(addr(&running), TOKEN)).await;
    wait_state(&page, "online", WAIT).await;

    // A marker unique to this run, to find the process by.
    let marker = format!("31.{}", std::process::id());
    let started = dir.path().join("started");
    type_and_send(
        &page,
        &run(&format!("touch {} && sleep {marker}", started.display())),
    )
    .await;
    let id = card(&page, 1).await;
    answer(&page, &id, "approve", "approved").await;
    wait_until("the command to start", || started.exists()).await;
    wait_for(
        &page,
        "the stop button",
        "(() => { const b = document.getElementById('stop-button'); return b && !b.hidden; })()",
        WAIT,
    )
    .await;
    eval(&page, "document.getElementById('stop-button').click()").await;
    wait_last_message(&page, "assistant", "Stopped.", "t.startsWith('Stopped.')").await;
    let sleeping = || {
        let out = std::process::Command::new("pgrep")
            .args(["-f", &format!("sleep {marker}")])
            .output()
            .unwrap();
        !out.stdout.is_empty()
    };
    wait_until("the sleep to be killed", || !sleeping()).await;
    wait_for(
        &page,
        "the stop button to hide once idle",
        "document.getElementById('stop-button').hidden",
        WAIT,
    )
    .await;

    // The session goes on; /model answers with buttons.
    send_expect(&page, "still there?", "echo: still there?").await;
    type_and_send(&page, "/model").await;
    choose(&page, "/model echo").await;
    wait_last_message(
        &page,
        "assistant",
        "the model switch",
        "t.includes('now uses the model echo')",
    )
    .await;

    chrome.close().await;
    running.stop().await;
}
