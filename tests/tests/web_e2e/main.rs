//! The web channel end to end, in a real headless Chromium driven over CDP:
//! the host runs in-process (`openpista::cli::serve::start`) on 127.0.0.1
//! with the offline echo provider, and the browser uses the page the way a
//! person would: opens the `#token=` link, types into the composer, clicks
//! send, reloads, enters a token in the form, waits out a server restart.
//!
//! Every test has its own host, its own browser (with its own profile
//! folder) and its own temporary folder, so they run in parallel without
//! seeing one another. Without Chromium the browser tests skip loudly, and
//! fail under CI (`CI=true`). Approvals, stop and command buttons on the
//! page are in `web_e2e/control.rs`, the session panel on a phone-sized
//! page in `web_e2e/sessions.rs`, on the helpers here.

mod control;
mod sessions;
mod workers;

use chromiumoxide::page::Page;
use openpista::cli::serve::{self, Running};
use openpista::config::Config;
use openpista_tests::chrome::{Chrome, poll, shorten};
use openpista_tests::http_get;
use serde_json::Value;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

/// The environment variable `[channels.web] token_env` names.
const TOKEN_ENV: &str = "OPENPISTA_TEST_WEB_TOKEN";
/// Its value, the same in every test.
const TOKEN: &str = "e2e-token-4f1c9a7d2b";

/// How long the page may take to reach a state.
const WAIT: Duration = Duration::from_secs(20);
/// How long the page may take to reconnect by itself: the client's backoff
/// grows to 15 s (plus jitter) while the server is away.
const RECONNECT_WAIT: Duration = Duration::from_secs(45);
/// Words in the long message whose answer is streamed.
const WORDS: usize = 3000;

/// Sets the token variable.
fn set_token_env() {
    // SAFETY: every test of this binary writes the same value to the same
    // variable before starting a host; nothing else writes it, so a reader
    // in another thread sees that value whichever write it observes.
    unsafe { std::env::set_var(TOKEN_ENV, TOKEN) };
}

/// `s` as a TOML string.
fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// The host's configuration: listen on `listen`, no plugin folders, the
/// compile cache in `dir` and the memory database `dir/memory`, the token
/// from [`TOKEN_ENV`], the echo provider (the default).
fn config(dir: &Path, memory: &str, listen: &str) -> Config {
    let text = format!(
        r#"
[server]
listen = {listen}

[runtime]
plugin_dirs = []
cache_dir = {cache}

[memory]
path = {memory}

[channels.web]
token_env = {token_env}
"#,
        listen = toml_str(listen),
        cache = toml_str(&dir.join("cache").to_string_lossy()),
        memory = toml_str(&dir.join(memory).to_string_lossy()),
        token_env = toml_str(TOKEN_ENV),
    );
    Config::parse(&text, "test").expect("the test configuration parses")
}

/// Starts a host on `listen` over `dir`.
async fn start_host(dir: &Path, listen: &str) -> Running {
    start_host_with_memory(dir, "memory.redb", listen).await
}

/// Starts a host on `listen` over `dir`, with the memory database
/// `dir/memory`.
async fn start_host_with_memory(dir: &Path, memory: &str, listen: &str) -> Running {
    set_token_env();
    // A host stopped a moment ago releases the database as its aborted
    // tasks wind down: give it a few seconds.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let running = loop {
        match serve::start(&config(dir, memory, listen)).await {
            Ok(r) => break r,
            Err(e)
                if format!("{e:#}").contains("already open")
                    && std::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            Err(e) => panic!("the host does not start on {listen}: {e:#}"),
        }
    };
    assert!(
        running.failures.is_empty(),
        "components failed to load: {:?}",
        running.failures
    );
    assert_eq!(
        running
            .web_token
            .as_ref()
            .map(|(t, new)| (t.as_str(), *new)),
        Some((TOKEN, false)),
        "the web token comes from {TOKEN_ENV}"
    );
    assert_eq!(running.provider.component, "llm-echo");
    assert!(
        running
            .channel_notes
            .iter()
            .any(|n| n == "channel web (channel-web) started on /web/ws, /ws"),
        "the web channel serves /ws: {:?}",
        running.channel_notes
    );
    running
}

fn addr(running: &Running) -> SocketAddr {
    running.local_addr().expect("the listener runs")
}

/// The `web:` sessions in the host's memory.
fn web_sessions(running: &Running) -> Vec<String> {
    running
        .gateway
        .agent()
        .memory
        .sessions()
        .expect("the sessions are readable")
        .into_iter()
        .map(|s| s.id)
        .filter(|id| id.starts_with("web:"))
        .collect()
}

/// The user and assistant turns stored for `session`, as `(role, text)`.
fn turns(running: &Running, session: &str) -> Vec<(String, String)> {
    stored_turns(&running.gateway.agent().memory, session)
}

/// The user and assistant turns of `session` in `memory`.
fn stored_turns(memory: &openpista::memory::MemoryStore, session: &str) -> Vec<(String, String)> {
    memory
        .messages(session, usize::MAX)
        .expect("the messages are readable")
        .into_iter()
        .filter(|m| m.role == "user" || m.role == "assistant")
        .map(|m| (m.role, m.content))
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// A free port on 127.0.0.1 (bound, read, released).
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// The page as a person would see it, for failure messages: the address,
/// `#connection-state` (state, text, title), the token form and
/// `#messages`' text.
async fn describe(page: &Page) -> String {
    const JS: &str = r#"JSON.stringify({
        url: location.href,
        connection_state: document.getElementById('connection-state')?.dataset.state,
        connection_label: document.getElementById('connection-state')?.textContent,
        connection_title: document.getElementById('connection-state')?.title,
        token_form_hidden: document.getElementById('token-form')?.hidden,
        notice: document.getElementById('notice')?.hidden ? null : document.getElementById('notice')?.textContent,
        messages: (t => t && t.length > 3000 ? t.slice(0, 1500) + ' […] ' + t.slice(-1500) : t)(
            document.getElementById('messages')?.innerText),
    }, null, 1)"#;
    match page.evaluate_expression(JS).await {
        Ok(r) => r
            .value()
            .and_then(Value::as_str)
            .unwrap_or("(no description)")
            .to_string(),
        Err(e) => format!("(the page cannot be read: {e})"),
    }
}

/// Evaluates `expr` in the page.
async fn eval(page: &Page, expr: &str) -> Value {
    match page.evaluate_expression(expr).await {
        Ok(r) => r.value().cloned().unwrap_or(Value::Null),
        Err(e) => panic!(
            "evaluating {}: {e}\npage: {}",
            shorten(expr),
            describe(page).await
        ),
    }
}

/// Evaluates `expr` every 50 ms until it is truthy (and returns it), or
/// panics after `timeout` saying what was awaited and what the page shows.
/// Evaluation errors (a page between two documents) count as "not yet".
async fn wait_for(page: &Page, what: &str, expr: &str, timeout: Duration) -> Value {
    match poll(page, expr, timeout).await {
        Ok(v) => v,
        Err(last) => panic!(
            "waited {timeout:?} for {what} ({}); last value {last}\npage: {}",
            shorten(expr),
            describe(page).await
        ),
    }
}

/// Waits until `#connection-state` says `state`.
async fn wait_state(page: &Page, state: &str, timeout: Duration) {
    wait_for(
        page,
        &format!("#connection-state[data-state={state}]"),
        &format!("document.querySelector('#connection-state[data-state={state}]') !== null"),
        timeout,
    )
    .await;
}

/// Waits until the server's `ready` named the session in
/// `#connection-state`'s title, and returns it.
async fn wait_session(page: &Page) -> String {
    let session = wait_for(
        page,
        "the session in #connection-state's title",
        "document.getElementById('connection-state').title",
        WAIT,
    )
    .await;
    session.as_str().unwrap().to_string()
}

/// This browser's client id, as the page stored it.
async fn client_id(page: &Page) -> String {
    let id = eval(page, "localStorage.getItem('openpista.client_id')").await;
    id.as_str()
        .unwrap_or_else(|| panic!("no client id in localStorage: {id}"))
        .to_string()
}

/// Types `text` into `#message-input` and clicks `#send-button`.
async fn type_and_send(page: &Page, text: &str) {
    page.find_element("#message-input")
        .await
        .expect("the page has #message-input")
        .click()
        .await
        .expect("#message-input can be clicked")
        .type_str(text)
        .await
        .expect("typing into #message-input");
    let typed = eval(page, "document.getElementById('message-input').value").await;
    assert_eq!(typed, Value::from(text), "what was typed is in the input");
    page.find_element("#send-button")
        .await
        .expect("the page has #send-button")
        .click()
        .await
        .expect("#send-button can be clicked");
}

/// The text of the last element of `#messages`, once it is a finished
/// message of class `class` (`assistant`, `error`) whose text satisfies
/// `check` (a JS expression over `t`).
async fn wait_last_message(page: &Page, class: &str, what: &str, check: &str) -> String {
    let expr = format!(
        "(() => {{ const el = document.querySelector('#messages').lastElementChild; \
           if (!el || !el.matches('.message.{class}:not(.streaming)')) return null; \
           const t = el.querySelector('.body').textContent; \
           return ({check}) ? t : null; }})()"
    );
    let text = wait_for(page, what, &expr, WAIT).await;
    text.as_str().unwrap().to_string()
}

/// Sends `text` and waits for the answer `expected`, rendered last.
async fn send_expect(page: &Page, text: &str, expected: &str) {
    type_and_send(page, text).await;
    wait_last_message(
        page,
        "assistant",
        &format!("the answer {expected:?} to {text:?}"),
        &format!("t === {}", Value::from(expected)),
    )
    .await;
    // The input was emptied and the user's bubble acknowledged.
    wait_for(
        page,
        "no user message left pending (every one acknowledged)",
        "document.querySelectorAll('#messages .message.user.pending').length === 0",
        WAIT,
    )
    .await;
    assert_eq!(
        eval(page, "document.getElementById('message-input').value").await,
        Value::from(""),
        "the input is emptied once sent"
    );
}

/// `#messages`' bubbles as `[class, text]` pairs.
async fn bubbles(page: &Page) -> Vec<(String, String)> {
    let v = eval(
        page,
        "[...document.querySelectorAll('#messages .message')].map(el => \
           [el.className, el.querySelector('.body').textContent])",
    )
    .await;
    serde_json::from_value(v).expect("pairs of strings")
}

/// The URL of the page with the token link.
fn token_url(addr: SocketAddr, token: &str) -> String {
    format!("http://{addr}/#token={token}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_link_goes_online_and_leaves_the_address_bar() {
    let Some(chrome) = Chrome::launch().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let running = start_host(dir.path(), "127.0.0.1:0").await;
    let addr = addr(&running);

    let page = chrome.open(&token_url(addr, TOKEN)).await;
    wait_state(&page, "online", WAIT).await;
    let url = eval(&page, "location.href").await;
    assert_eq!(
        url,
        Value::from(format!("http://{addr}/")),
        "the token fragment is removed from the address\npage: {}",
        describe(&page).await
    );
    assert_eq!(eval(&page, "location.hash").await, Value::from(""));
    assert_eq!(
        eval(&page, "history.length").await,
        Value::from(2),
        "about:blank and the page: the token link was replaced in the history, not pushed"
    );
    // The label says so too, and the token form stays hidden.
    assert_eq!(
        eval(
            &page,
            "document.getElementById('connection-state').textContent"
        )
        .await,
        Value::from("online")
    );
    assert_eq!(
        eval(&page, "document.getElementById('token-form').hidden").await,
        Value::Bool(true),
        "no token form when the link's token is right\npage: {}",
        describe(&page).await
    );
    // The server's `ready` names this browser's session.
    let session = wait_session(&page).await;
    assert_eq!(session, format!("web:{}", client_id(&page).await));
    // Nothing is stored before a message is sent.
    assert_eq!(web_sessions(&running), Vec::<String>::new());

    chrome.close().await;
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_typed_message_is_answered_streamed_and_rendered_as_markdown() {
    let Some(chrome) = Chrome::launch().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let running = start_host(dir.path(), "127.0.0.1:0").await;
    let page = chrome.open(&token_url(addr(&running), TOKEN)).await;
    wait_state(&page, "online", WAIT).await;

    // A short message, typed and sent with the button.
    let text = "the quick brown fox jumps over the lazy dog";
    let expected = format!("echo: {text}");
    send_expect(&page, text, &expected).await;
    assert_eq!(
        bubbles(&page).await,
        pairs(&[("message user", text), ("message assistant", &expected)]),
        "one bubble each for the question and the answer"
    );

    // Streaming. The gateway sends the pieces of an answer as they come,
    // coalescing those that arrive while the channel is busy, and the echo
    // provider makes its pieces as fast as they are asked for: a short
    // answer is over before the first piece goes out, so it arrives as one
    // delta. A long one outlasts the provider's time slice (a guest yields
    // to the executor every epoch tick, 5 ms), so its first pieces are
    // shown while the rest is still being made.
    //
    // Record every text the streamed bubble shows.
    eval(
        &page,
        r#"(() => {
            window.__seen = [];
            const messages = document.getElementById('messages');
            const record = () => {
                for (const el of messages.querySelectorAll('.message.assistant.streaming')) {
                    window.__seen.push(el.textContent);
                }
            };
            window.__observer = new MutationObserver(record);
            window.__observer.observe(messages, { childList: true, subtree: true, characterData: true });
            return true;
        })()"#,
    )
    .await;
    // 3,000 words (about 18,000 characters, within the page's 32,000):
    // all but the last are pasted, the last is typed at the end.
    let words: Vec<String> = (0..WORDS).map(|i| format!("w{i}")).collect();
    let long = words.join(" ");
    let (pasted, typed) = long.rsplit_once(' ').expect("several words");
    eval(
        &page,
        &format!(
            "(() => {{ const input = document.getElementById('message-input'); \
               input.value = {} + ' '; \
               input.dispatchEvent(new Event('input')); \
               input.focus(); input.setSelectionRange(input.value.length, input.value.length); \
               return true; }})()",
            Value::from(pasted)
        ),
    )
    .await;
    page.find_element("#message-input")
        .await
        .expect("the page has #message-input")
        .type_str(typed)
        .await
        .expect("typing into #message-input");
    let in_input = eval(&page, "document.getElementById('message-input').value").await;
    assert!(
        in_input.as_str() == Some(long.as_str()),
        "the long message is in the input ({} characters, ending {:?})",
        in_input.as_str().map_or(0, str::len),
        in_input.as_str().map(|t| &t[t.len().saturating_sub(30)..])
    );
    page.find_element("#send-button")
        .await
        .expect("the page has #send-button")
        .click()
        .await
        .expect("#send-button can be clicked");
    let long_answer = format!("echo: {long}");
    // The expected text goes into the page once, not into every poll (nor
    // into a failure message).
    eval(
        &page,
        &format!(
            "window.__expected = {}; true",
            Value::from(long_answer.as_str())
        ),
    )
    .await;
    wait_last_message(
        &page,
        "assistant",
        "the whole answer to the long message",
        "t === window.__expected",
    )
    .await;
    let seen: Vec<String> =
        serde_json::from_value(eval(&page, "window.__seen").await).expect("a list of strings");
    let lengths: Vec<usize> = seen.iter().map(String::len).collect();
    let partial: Vec<&String> = seen
        .iter()
        .filter(|t| !t.is_empty() && t.len() < long_answer.len())
        .collect();
    assert!(
        !partial.is_empty(),
        "the answer was streamed: some text shorter than the answer ({} characters) was shown first; \
         lengths of the texts seen in the streamed bubble: {lengths:?}",
        long_answer.len()
    );
    for t in &partial {
        assert!(
            long_answer.starts_with(t.trim_end()),
            "a streamed text is the start of the answer: {:?}… ({} characters)",
            &t[..t.len().min(80)],
            t.len()
        );
    }
    eprintln!(
        "the streamed bubble showed {} texts before the answer, of lengths {lengths:?}",
        seen.len()
    );
    assert_eq!(
        eval(
            &page,
            "document.querySelectorAll('#messages .message.streaming').length"
        )
        .await,
        Value::from(0),
        "the final message replaced the streamed bubble\npage: {}",
        describe(&page).await
    );
    assert_eq!(
        eval(
            &page,
            "document.querySelectorAll('#messages .message.assistant').length"
        )
        .await,
        Value::from(2),
        "one bubble for the streamed answer"
    );

    // Markdown: the answer renders it, the user's own text stays text.
    let markdown = "**bold** and `code`";
    send_expect(&page, markdown, "echo: bold and code").await;
    let rendered = eval(
        &page,
        "(() => { const el = document.querySelector('#messages').lastElementChild; \
           return { strong: [...el.querySelectorAll('.body strong')].map(e => e.textContent), \
                    code: [...el.querySelectorAll('.body code')].map(e => e.textContent) }; })()",
    )
    .await;
    assert_eq!(
        rendered,
        serde_json::json!({"strong": ["bold"], "code": ["code"]}),
        "the answer's Markdown is rendered\npage: {}",
        describe(&page).await
    );
    let user = eval(
        &page,
        "(() => { const users = document.querySelectorAll('#messages .message.user'); \
           const el = users[users.length - 1]; \
           return { text: el.querySelector('.body').textContent, \
                    elements: el.querySelector('.body').children.length }; })()",
    )
    .await;
    assert_eq!(
        user,
        serde_json::json!({"text": markdown, "elements": 0}),
        "the user's message is shown as typed, not rendered"
    );

    // The memory has the conversation.
    let session = format!("web:{}", client_id(&page).await);
    assert_eq!(web_sessions(&running), vec![session.clone()]);
    assert_eq!(
        turns(&running, &session),
        pairs(&[
            ("user", text),
            ("assistant", &expected),
            ("user", &long),
            ("assistant", &long_answer),
            ("user", markdown),
            ("assistant", &format!("echo: {markdown}")),
        ])
    );

    chrome.close().await;
    running.stop().await;
}

/// A 2x2 PNG, red.
fn red_png() -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, 2, 2);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().unwrap();
    writer.write_image_data(&[255, 0, 0].repeat(4)).unwrap();
    writer.finish().unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_picked_image_reaches_the_agent_and_code_blocks_render() {
    use chromiumoxide::cdp::browser_protocol::dom::SetFileInputFilesParams;
    let Some(chrome) = Chrome::launch().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let running = start_host(dir.path(), "127.0.0.1:0").await;
    let page = chrome.open(&token_url(addr(&running), TOKEN)).await;
    wait_state(&page, "online", WAIT).await;

    // Pick a real file in the file input, as the file dialog would.
    let file = dir.path().join("red.png");
    std::fs::write(&file, red_png()).unwrap();
    let input = page
        .find_element("#attach-input")
        .await
        .expect("the page has #attach-input");
    page.execute(
        SetFileInputFilesParams::builder()
            .files(vec![file.display().to_string()])
            .backend_node_id(input.backend_node_id)
            .build()
            .unwrap(),
    )
    .await
    .expect("DOM.setFileInputFiles");
    wait_for(
        &page,
        "the picked image previewed",
        "document.querySelectorAll('#attachments-preview img').length === 1",
        WAIT,
    )
    .await;
    send_expect(&page, "what colour is this?", "echo: what colour is this?").await;
    // The user's bubble shows the image inline, from its own data.
    let src = eval(
        &page,
        "document.querySelector('#messages .message.user img.attachment')?.src ?? null",
    )
    .await;
    assert!(
        src.as_str()
            .is_some_and(|s| s.starts_with("data:image/png;base64,iVBORw0KGgo")),
        "{src}"
    );
    // And the agent's turn got it as an attachment.
    let session = wait_session(&page).await;
    let memory = running.gateway.agent().memory.clone();
    let user = memory
        .messages(&session, 10)
        .unwrap()
        .into_iter()
        .find(|m| m.role == "user")
        .expect("the user's message is stored");
    assert_eq!(user.content, "what colour is this?");
    assert_eq!(user.attachments.len(), 1, "{user:?}");
    assert!(user.attachments[0].contains("image/png"), "{user:?}");

    // A fenced code block in an answer is rendered as one.
    let code = "code:\n```rust\nfn main() {}\n```";
    eval(
        &page,
        &format!(
            "document.getElementById('message-input').value = {}; true",
            Value::from(code)
        ),
    )
    .await;
    page.find_element("#send-button")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let rendered = wait_for(
        &page,
        "the answer's code block",
        "(() => { const el = document.querySelector('#messages').lastElementChild; \
           if (!el || !el.matches('.message.assistant:not(.streaming)')) return null; \
           const c = el.querySelector('pre code'); return c ? c.textContent : null; })()",
        WAIT,
    )
    .await;
    assert_eq!(rendered.as_str().unwrap().trim_end(), "fn main() {}");
    chrome.close().await;
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_installs_as_an_app_with_its_service_worker() {
    let Some(chrome) = Chrome::launch().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let running = start_host(dir.path(), "127.0.0.1:0").await;
    let page = chrome.open(&token_url(addr(&running), TOKEN)).await;
    wait_state(&page, "online", WAIT).await;
    // The manifest the page links to, as the browser reads it.
    let manifest = wait_for(
        &page,
        "the web app manifest",
        "(async () => { const l = document.querySelector('link[rel=manifest]'); \
           if (!l) return null; const r = await fetch(l.href); return r.ok ? await r.json() : null; })()",
        WAIT,
    )
    .await;
    assert_eq!(manifest["display"], "standalone", "{manifest}");
    assert!(
        manifest["icons"].as_array().is_some_and(|i| !i.is_empty()),
        "{manifest}"
    );
    // The page registers its service worker (127.0.0.1 is a secure
    // context) for the whole app's scope, and the worker's script is
    // served as JavaScript, naming this build's versioned files.
    let scope = wait_for(
        &page,
        "the page's service worker registration",
        "navigator.serviceWorker.getRegistrations().then(rs => rs.length ? rs[0].scope : null)",
        WAIT,
    )
    .await;
    assert_eq!(
        scope.as_str(),
        Some(format!("http://{}/", addr(&running)).as_str()),
        "{scope}"
    );
    let sw = eval(
        &page,
        "fetch('sw.js').then(async r => [r.headers.get('content-type'), await r.text()])",
    )
    .await;
    assert!(
        sw[0].as_str().is_some_and(|t| t.contains("javascript")),
        "{}",
        sw[0]
    );
    let script = sw[1].as_str().unwrap_or_default();
    assert!(!script.contains("__BUILD_ID__"), "the build stamped its id");
    assert!(script.contains("app_bg.wasm?v="), "the shell is cached");
    chrome.close().await;
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_keeps_the_transcript_and_the_session_and_commands_work() {
    let Some(chrome) = Chrome::launch().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let running = start_host(dir.path(), "127.0.0.1:0").await;
    let page = chrome.open(&token_url(addr(&running), TOKEN)).await;
    wait_state(&page, "online", WAIT).await;
    let id = client_id(&page).await;
    let session = format!("web:{id}");

    send_expect(&page, "before the reload", "echo: before the reload").await;
    let before = bubbles(&page).await;
    assert_eq!(
        before,
        pairs(&[
            ("message user", "before the reload"),
            ("message assistant", "echo: before the reload"),
        ])
    );

    page.reload().await.expect("the page reloads");
    wait_state(&page, "online", WAIT).await;
    assert_eq!(
        client_id(&page).await,
        id,
        "the client id survives the reload"
    );
    assert_eq!(
        wait_session(&page).await,
        session,
        "the same session after the reload"
    );
    assert_eq!(
        bubbles(&page).await,
        before,
        "the transcript is shown again after the reload\npage: {}",
        describe(&page).await
    );

    send_expect(&page, "after the reload", "echo: after the reload").await;
    assert_eq!(
        web_sessions(&running),
        vec![session.clone()],
        "one web session holds the whole conversation"
    );
    let conversation = pairs(&[
        ("user", "before the reload"),
        ("assistant", "echo: before the reload"),
        ("user", "after the reload"),
        ("assistant", "echo: after the reload"),
    ]);
    assert_eq!(turns(&running, &session), conversation);

    // `/help` is answered by the channel with the list of commands, and
    // is not part of the conversation.
    type_and_send(&page, "/help").await;
    let help = wait_last_message(
        &page,
        "assistant",
        "the answer to /help",
        "t.includes('/help')",
    )
    .await;
    for command in ["/clear", "/session", "/model"] {
        assert!(help.contains(command), "/help lists {command}: {help:?}");
    }
    assert_eq!(turns(&running, &session), conversation);

    // `/session` is run by the gateway and counts what is stored.
    type_and_send(&page, "/session").await;
    let answer = wait_last_message(
        &page,
        "assistant",
        "the answer to /session",
        "t.startsWith('Session ')",
    )
    .await;
    assert!(
        answer.contains(&session) && answer.contains("4 messages"),
        "{answer:?}"
    );

    // `/clear` forgets the conversation, here and on the server.
    type_and_send(&page, "/clear").await;
    wait_last_message(
        &page,
        "assistant",
        "the answer to /clear",
        "t.includes('cleared')",
    )
    .await;
    let after_clear = bubbles(&page).await;
    assert!(
        !after_clear
            .iter()
            .any(|(_, t)| t.contains("before the reload") || t.contains("after the reload")),
        "the page forgot the conversation: {after_clear:?}"
    );
    assert_eq!(
        running
            .gateway
            .agent()
            .memory
            .session(&session)
            .expect("readable"),
        None,
        "/clear deleted the stored session"
    );
    assert!(turns(&running, &session).is_empty());
    assert_eq!(web_sessions(&running), Vec::<String>::new());
    // And the cleared transcript is what a reload shows.
    page.reload().await.expect("the page reloads");
    wait_state(&page, "online", WAIT).await;
    assert_eq!(bubbles(&page).await, after_clear);

    chrome.close().await;
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_token_is_refused_until_the_right_one_is_entered() {
    let Some(chrome) = Chrome::launch().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let running = start_host(dir.path(), "127.0.0.1:0").await;
    let addr = addr(&running);

    // A browser that never had the token, given a wrong one.
    let page = chrome.open(&token_url(addr, "wrong")).await;
    wait_state(&page, "unauthorized", WAIT).await;
    assert_eq!(
        eval(&page, "location.hash").await,
        Value::from(""),
        "even a wrong token leaves the address bar"
    );
    let form = eval(
        &page,
        "(() => { const f = document.getElementById('token-form'); \
           return { hidden: f.hidden, shown: f.offsetParent !== null, \
                    focused: document.activeElement === document.getElementById('token-input') }; })()",
    )
    .await;
    assert_eq!(
        form,
        serde_json::json!({"hidden": false, "shown": true, "focused": true}),
        "the token form is shown, its input focused\npage: {}",
        describe(&page).await
    );
    assert_eq!(
        eval(&page, "localStorage.getItem('openpista.token')").await,
        Value::Null,
        "the refused token is forgotten"
    );
    // It stays refused: no retrying in the background.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        eval(
            &page,
            "document.getElementById('connection-state').dataset.state"
        )
        .await,
        Value::from("unauthorized"),
        "page: {}",
        describe(&page).await
    );
    let (status, health) = http_get(addr, "/health").await;
    assert_eq!(status, 200);
    let health: Value = serde_json::from_str(&health).unwrap();
    assert_eq!(health["connections"], 0, "no socket was accepted: {health}");
    assert_eq!(web_sessions(&running), Vec::<String>::new());

    // The right token, typed into the form.
    page.find_element("#token-input")
        .await
        .expect("the page has #token-input")
        .click()
        .await
        .expect("#token-input can be clicked")
        .type_str(TOKEN)
        .await
        .expect("typing the token");
    page.find_element("#token-form button[type=submit]")
        .await
        .expect("the token form has a submit button")
        .click()
        .await
        .expect("the submit button can be clicked");
    wait_state(&page, "online", WAIT).await;
    assert_eq!(
        eval(&page, "document.getElementById('token-form').hidden").await,
        Value::Bool(true),
        "the token form is hidden once online"
    );
    assert_eq!(
        eval(&page, "document.getElementById('token-input').value").await,
        Value::from(""),
        "the token is not left in the input"
    );
    assert_eq!(
        eval(&page, "localStorage.getItem('openpista.token')").await,
        Value::from(TOKEN),
        "the accepted token is kept for the next visit"
    );
    let session = wait_session(&page).await;
    send_expect(&page, "let me in", "echo: let me in").await;
    assert_eq!(web_sessions(&running), vec![session.clone()]);
    assert_eq!(
        turns(&running, &session),
        pairs(&[("user", "let me in"), ("assistant", "echo: let me in")])
    );

    chrome.close().await;
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_reconnects_when_the_server_comes_back() {
    let Some(chrome) = Chrome::launch().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    let running = start_host(dir.path(), &listen).await;
    let addr = addr(&running);
    let page = chrome.open(&token_url(addr, TOKEN)).await;
    wait_state(&page, "online", WAIT).await;
    let session = wait_session(&page).await;
    send_expect(&page, "before the restart", "echo: before the restart").await;

    // The server goes away.
    running.stop().await;
    wait_state(&page, "offline", WAIT).await;
    let label = eval(
        &page,
        "document.getElementById('connection-state').textContent",
    )
    .await;
    assert!(
        label
            .as_str()
            .is_some_and(|l| l.starts_with("offline, retrying in")),
        "the label says offline and when it retries: {label}"
    );
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "nothing listens on {addr} once the host stopped"
    );
    // Forget the session the old host named, so that a `ready` from the
    // new one is seen.
    eval(
        &page,
        "document.getElementById('connection-state').title = ''; true",
    )
    .await;

    // It comes back on the same port, with the same memory database: the
    // stopped host let go of everything (its kept-alive connections and
    // session workers ended with it).
    let running = start_host(dir.path(), &listen).await;
    assert_eq!(self::addr(&running), addr);
    wait_state(&page, "online", RECONNECT_WAIT).await;
    assert_eq!(
        wait_session(&page).await,
        session,
        "the new host's `ready` names the same session"
    );
    send_expect(&page, "after the restart", "echo: after the restart").await;
    assert_eq!(
        bubbles(&page).await,
        pairs(&[
            ("message user", "before the restart"),
            ("message assistant", "echo: before the restart"),
            ("message user", "after the restart"),
            ("message assistant", "echo: after the restart"),
        ])
    );
    // The conversation continued under the same session, in one database.
    assert_eq!(web_sessions(&running), vec![session.clone()]);
    assert_eq!(
        turns(&running, &session),
        pairs(&[
            ("user", "before the restart"),
            ("assistant", "echo: before the restart"),
            ("user", "after the restart"),
            ("assistant", "echo: after the restart"),
        ]),
        "the new host continues the same session"
    );

    chrome.close().await;
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_reports_the_web_channel_and_the_page_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let running = start_host(dir.path(), "127.0.0.1:0").await;
    let addr = addr(&running);

    let (status, body) = http_get(addr, "/health").await;
    assert_eq!(status, 200, "{body}");
    let health: Value =
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("/health is JSON ({e}): {body}"));
    assert_eq!(health["status"], "ok", "{health}");
    assert_eq!(health["channels"], serde_json::json!(["web"]), "{health}");
    assert!(
        health["version"].as_str().is_some_and(|v| !v.is_empty()),
        "{health}"
    );

    let (status, page) = http_get(addr, "/").await;
    assert_eq!(status, 200);
    for id in [
        "connection-state",
        "messages",
        "message-input",
        "send-button",
        "token-form",
    ] {
        assert!(page.contains(&format!("id=\"{id}\"")), "the page has #{id}");
    }
    running.stop().await;
}
