//! The session panel, on a page the size of a phone (390×844, mobile):
//! the panel lists the conversations the host keeps for this page
//! (`sessions` frames), starts a new one (the transcript empties),
//! renames one in place (a redraw while typing keeps the input), switches to one (its history replaces the
//! transcript, and a reload keeps it), deletes one with a second press;
//! the host's active session follows every step. The model button asks
//! `/model`. Nothing on the page sticks out sideways, an approval card
//! included.

use super::*;
use chromiumoxide::cdp::browser_protocol::emulation::SetDeviceMetricsOverrideParams;

/// Makes `page` a 390×844 phone screen.
async fn phone(page: &Page) {
    let params = SetDeviceMetricsOverrideParams::builder()
        .mobile(true)
        .width(390)
        .height(844)
        .device_scale_factor(2.0)
        .build()
        .expect("the metrics are complete");
    page.execute(params).await.expect("the phone viewport");
}

/// Waits until nothing on the page is wider than the screen and the
/// composer's input and send button are on it.
async fn fits_the_phone(page: &Page, what: &str) {
    let expr = "(() => { const w = window.innerWidth; \
        if (w > 400 || document.documentElement.scrollWidth > w) return null; \
        for (const id of ['message-input', 'send-button']) { \
          const r = document.getElementById(id).getBoundingClientRect(); \
          if (r.width === 0 || r.left < 0 || r.right > w || r.bottom > window.innerHeight) return null; } \
        for (const el of document.querySelectorAll('#messages .message, #sessions-panel:not([hidden])')) { \
          const r = el.getBoundingClientRect(); if (r.left < 0 || r.right > w + 0.5) return null; } \
        return true; })()";
    wait_for(
        page,
        &format!("the page to fit a phone ({what})"),
        expr,
        WAIT,
    )
    .await;
}

/// Clicks the element `selector` names, which must exist.
async fn click(page: &Page, selector: &str) {
    let clicked = eval(
        page,
        &format!(
            "(() => {{ const el = document.querySelector({s}); if (!el) return false; el.click(); return true; }})()",
            s = Value::from(selector)
        ),
    )
    .await;
    assert_eq!(clicked, Value::Bool(true), "{selector} is on the page");
}

/// Opens the session panel and waits until it lists `expected`
/// (`(number, title, active)`, in order).
async fn open_panel_listing(page: &Page, expected: &[(u64, &str, bool)]) {
    let open = eval(page, "!document.getElementById('sessions-panel').hidden").await;
    if open != Value::Bool(true) {
        click(page, "#sessions-button").await;
    }
    let want = serde_json::to_string(
        &expected
            .iter()
            .map(|(n, t, a)| (n, t, a))
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let expr = format!(
        "(() => {{ if (document.getElementById('sessions-panel').hidden) return null; \
           const got = JSON.stringify([...document.querySelectorAll('#sessions-list li.session')] \
             .map(li => [Number(li.dataset.number), li.querySelector('.title').textContent, \
                         li.classList.contains('active')])); \
           return got === {want} ? got : null; }})()",
        want = Value::from(want.clone())
    );
    wait_for(page, &format!("the panel to list {want}"), &expr, WAIT).await;
}

/// Waits until the transcript's user and assistant bubbles are exactly
/// `expected` (`(class, text)`).
async fn wait_transcript(page: &Page, what: &str, expected: &[(&str, &str)]) {
    let want: Vec<(String, String)> = expected
        .iter()
        .map(|(c, t)| (c.to_string(), t.to_string()))
        .collect();
    let want = Value::from(serde_json::to_string(&want).unwrap());
    let expr = format!(
        "(() => {{ const got = JSON.stringify([...document.querySelectorAll( \
             '#messages .message.user, #messages .message.assistant')] \
           .map(el => [el.classList.contains('user') ? 'user' : 'assistant', \
                       el.querySelector('.body').textContent.trim()])); \
           return got === {want} ? got : null; }})()"
    );
    wait_for(page, what, &expr, WAIT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_panel_switches_renames_and_deletes_on_a_phone() {
    let Some(chrome) = Chrome::launch().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let running = start_host(dir.path(), "127.0.0.1:0").await;
    let page = chrome.open(&token_url(addr(&running), TOKEN)).await;
    phone(&page).await;
    wait_state(&page, "online", WAIT).await;
    let base = wait_session(&page).await;
    fits_the_phone(&page, "empty").await;

    send_expect(&page, "first talk", "echo: first talk").await;
    open_panel_listing(&page, &[(1, &base, true)]).await;
    fits_the_phone(&page, "the panel open").await;

    // New: the panel closes and the transcript starts empty.
    click(&page, "#new-session").await;
    wait_for(
        &page,
        "the panel to close",
        "document.getElementById('sessions-panel').hidden",
        WAIT,
    )
    .await;
    wait_last_message(
        &page,
        "choices",
        "the new conversation",
        "t.includes('new conversation')",
    )
    .await;
    wait_transcript(&page, "an empty transcript", &[]).await;
    send_expect(&page, "second talk", "echo: second talk").await;
    let second = format!("{base}#2");
    assert_eq!(running.gateway.active_session(&base), second);
    open_panel_listing(&page, &[(1, &base, false), (2, &second, true)]).await;

    // Rename conversation 1 in place. Reopening the panel asks the host
    // for the list, and in the same script (so before that answer can
    // arrive) the rename starts and a title is typed: the redraw the
    // answer brings (the marked row is replaced) keeps the input, its
    // text and its focus.
    let started = eval(
        &page,
        "(() => { document.getElementById('sessions-close').click(); \
           document.getElementById('sessions-button').click(); \
           const li = document.querySelector(\"#sessions-list li.session[data-number='1']\"); \
           if (!li) return false; li.dataset.before = '1'; \
           li.querySelector('button.rename').click(); \
           const i = li.querySelector('input.rename-input'); \
           if (!i) return false; i.value = '  Groceries '; return true; })()",
    )
    .await;
    assert_eq!(started, Value::Bool(true), "the rename input appears");
    wait_for(
        &page,
        "the host's list to redraw the panel around the rename",
        "(() => { const li = document.querySelector(\"#sessions-list li.session[data-number='1']\"); \
           if (!li || li.dataset.before) return null; \
           const i = li.querySelector('input.rename-input'); \
           return i && i.value === '  Groceries ' && document.activeElement === i ? true : null; })()",
        WAIT,
    )
    .await;
    let renamed = eval(
        &page,
        "(() => { const i = document.querySelector('#sessions-list input.rename-input'); \
           if (!i) return false; \
           i.dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter', bubbles: true})); \
           return true; })()",
    )
    .await;
    assert_eq!(
        renamed,
        Value::Bool(true),
        "the rename input is still there"
    );
    open_panel_listing(&page, &[(1, "Groceries", false), (2, &second, true)]).await;

    // Switch to it: its history replaces the transcript.
    click(&page, "#sessions-list li.session[data-number='1'] .title").await;
    wait_last_message(
        &page,
        "assistant",
        "the switch",
        "t.includes('Now in conversation 1: Groceries')",
    )
    .await;
    let answer = wait_last_message(
        &page,
        "assistant",
        "the switch",
        "t.includes('Now in conversation 1')",
    )
    .await;
    let switched = [
        ("user", "first talk"),
        ("assistant", "echo: first talk"),
        ("assistant", answer.trim()),
    ];
    wait_transcript(&page, "the first conversation's history", &switched).await;
    assert_eq!(running.gateway.active_session(&base), base);

    // A reload keeps what the switch showed.
    page.reload().await.expect("the page reloads");
    wait_state(&page, "online", WAIT).await;
    wait_transcript(&page, "the history after a reload", &switched).await;

    // Delete conversation 2: the first press only asks, and the question
    // outlives the redraw that the host's answer to the reopened panel's
    // `/sessions` brings (the marked row is replaced).
    open_panel_listing(&page, &[(1, "Groceries", true), (2, &second, false)]).await;
    let delete = "#sessions-list li.session[data-number='2'] button.delete";
    let pressed = eval(
        &page,
        &format!(
            "(() => {{ document.getElementById('sessions-close').click(); \
               document.getElementById('sessions-button').click(); \
               const b = document.querySelector({d}); if (!b) return false; \
               b.closest('li').dataset.before = '1'; b.click(); return true; }})()",
            d = Value::from(delete)
        ),
    )
    .await;
    assert_eq!(pressed, Value::Bool(true), "{delete} is on the page");
    wait_for(
        &page,
        "the delete button to ask again after the redraw",
        &format!(
            "(() => {{ const b = document.querySelector({d}); \
               return b && !b.closest('li').dataset.before && b.dataset.confirm === '1' \
                 && b.textContent === 'Delete?' ? true : null; }})()",
            d = Value::from(delete)
        ),
        WAIT,
    )
    .await;
    assert_eq!(
        web_sessions(&running).len(),
        2,
        "nothing deleted on the first press"
    );
    click(&page, delete).await;
    open_panel_listing(&page, &[(1, "Groceries", true)]).await;
    assert_eq!(web_sessions(&running), std::slice::from_ref(&base));
    click(&page, "#sessions-close").await;

    // The conversation goes on where the panel left it.
    send_expect(&page, "third talk", "echo: third talk").await;
    assert_eq!(
        turns(&running, &base),
        pairs(&[
            ("user", "first talk"),
            ("assistant", "echo: first talk"),
            ("user", "third talk"),
            ("assistant", "echo: third talk"),
        ])
    );

    // The model button asks /model; a tool call's card fits the phone.
    click(&page, "#model-button").await;
    wait_last_message(&page, "choices", "the models", "t.includes('Models: echo')").await;
    let long = "x".repeat(300);
    type_and_send(
        &page,
        &format!(
            "!tool system.run {}",
            serde_json::json!({ "command": format!("echo {long}") })
        ),
    )
    .await;
    wait_for(
        &page,
        "an approval card",
        "document.querySelector('#messages .message.approval[data-state=waiting] button.reject')",
        WAIT,
    )
    .await;
    fits_the_phone(&page, "an approval card").await;
    click(
        &page,
        "#messages .message.approval[data-state=waiting] button.reject",
    )
    .await;
    wait_last_message(&page, "assistant", "the refusal", "t.includes('declined')").await;
    chrome.close().await;
    running.stop().await;
}
