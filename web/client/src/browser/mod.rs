//! The browser side: wires the pure modules to the DOM, the WebSocket and
//! `localStorage`. Compiled for wasm32 only.
//!
//! All state is one [`App`] in a thread-local cell. Every JS callback
//! (socket events, timers, DOM events) enters through [`with_app`], and no
//! `App` method calls it again, so the cell is never borrowed twice.
//! The DOM element ids the page must have are listed in `web/static/index.html`.

mod cards;
mod compose;
mod conn;
mod sessions;
mod storage;
mod view;
mod workers;

use crate::backoff::Backoff;
use crate::ids::MessageIds;
use crate::protocol::{AgentState, Attachment};
use crate::sessions::SessionItem;
use crate::transcript::Transcript;
use std::cell::RefCell;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{Document, Element, Window};

pub(crate) use conn::{Conn, ConnState};

/// The whole state of the page.
pub(crate) struct App {
    window: Window,
    document: Document,
    /// `#messages`.
    messages: Element,
    store: storage::Store,
    /// This browser's id (`web:CLIENT_ID` is the session).
    client_id: String,
    /// The token, once known.
    token: Option<String>,
    transcript: Transcript,
    ids: MessageIds,
    backoff: Backoff,
    /// The current socket, if any.
    conn: Option<Conn>,
    state: ConnState,
    /// Counts sockets, so events of a replaced one are ignored.
    generation: u32,
    /// The pending reconnect timer.
    retry_timer: Option<i32>,
    /// Frames written while the socket was not open, sent once it is.
    outbox: Vec<String>,
    /// Attachments picked for the next message.
    pending: Vec<Attachment>,
    /// Files being read for `pending`.
    reading: usize,
    /// What the agent is doing, from the last `status` (or a final
    /// `message`): `#stop-button` is shown while it is busy.
    agent_state: AgentState,
    /// The assistant bubble being streamed, and its text so far.
    streaming: Option<(Element, String)>,
    /// When a frame last arrived (ms).
    last_rx: f64,
    /// When a ping was last sent (ms).
    last_ping: f64,
    /// The conversation's sessions, from the last `sessions` frame.
    sessions: Vec<SessionItem>,
    /// The session whose Delete was pressed once, and whether the second
    /// press has sent `/sessions delete`: kept here, not only on the
    /// button, so a redraw of the list keeps the question.
    deleting: Option<(u32, bool)>,
    /// The worker panel.
    workers: workers::Workers,
}

thread_local! {
    static APP: RefCell<Option<App>> = const { RefCell::new(None) };
}

/// Runs `f` on the app, if it is started and not already borrowed.
pub(crate) fn with_app<R>(f: impl FnOnce(&mut App) -> R) -> Option<R> {
    APP.with(|cell| match cell.try_borrow_mut() {
        Ok(mut app) => app.as_mut().map(f),
        Err(_) => {
            web_sys::console::warn_1(&"openpista: re-entrant event ignored".into());
            None
        }
    })
}

/// Milliseconds since the epoch.
pub(crate) fn now() -> f64 {
    js_sys::Date::now()
}

/// Runs `f` after `ms`; returns the timer handle.
pub(crate) fn set_timeout(window: &Window, ms: i32, f: impl FnOnce() + 'static) -> Option<i32> {
    let callback = Closure::once_into_js(f);
    window
        .set_timeout_with_callback_and_timeout_and_arguments_0(callback.unchecked_ref(), ms)
        .ok()
}

/// Calls `f` on every `event` of `target`, for the life of the page.
pub(crate) fn listen<E: JsCast + 'static>(
    target: &web_sys::EventTarget,
    event: &str,
    f: impl FnMut(E) + 'static,
) {
    let mut f = f;
    let closure = Closure::<dyn FnMut(web_sys::Event)>::new(move |e: web_sys::Event| {
        f(e.unchecked_into::<E>())
    });
    let _ = target.add_event_listener_with_callback(event, closure.as_ref().unchecked_ref());
    closure.forget();
}

/// The entry point, run by `init()` of `app.js`.
#[wasm_bindgen(start)]
pub fn start() -> Result<(), JsValue> {
    let window = web_sys::window().ok_or("no window")?;
    let document = window.document().ok_or("no document")?;
    let messages = document
        .get_element_by_id("messages")
        .ok_or("the page has no #messages")?;
    let store = storage::Store::open(&window);
    let client_id = store.client_id(&window);
    let token = storage::take_fragment_token(&window)
        .inspect(|t| store.set_token(t))
        .or_else(|| store.token());
    let transcript = store.transcript();
    let mut app = App {
        window: window.clone(),
        document,
        messages,
        store,
        client_id,
        token,
        transcript,
        ids: MessageIds::new(now() as u64),
        backoff: Backoff::new(),
        conn: None,
        state: ConnState::Connecting,
        generation: 0,
        retry_timer: None,
        outbox: Vec::new(),
        pending: Vec::new(),
        reading: 0,
        agent_state: AgentState::Idle,
        streaming: None,
        last_rx: 0.0,
        last_ping: 0.0,
        sessions: Vec::new(),
        deleting: None,
        workers: workers::Workers::default(),
    };
    app.render_transcript();
    APP.with(|cell| *cell.borrow_mut() = Some(app));

    compose::wire(&window)?;
    with_app(|app| cards::wire(&app.window, &app.messages));
    with_app(|app| sessions::wire(&app.document));
    conn::wire(&window);
    view::wire_viewport(&window);
    with_app(|app| app.connect());
    workers::start();
    Ok(())
}
