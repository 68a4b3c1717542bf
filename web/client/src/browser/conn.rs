//! The connection manager: opens the WebSocket, reconnects with backoff,
//! pings, and tells a refused token from a network problem
//! (docs/WEB_PROTOCOL.md, "Handshake" and "Heartbeat and delivery").

use super::{App, now, set_timeout, with_app};
use crate::protocol::{
    ClientFrame, PING_INTERVAL_MS, SILENCE_TIMEOUT_MS, ServerFrame, probe_url, ws_target,
};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{CloseEvent, MessageEvent, WebSocket, Window};

/// What the connection is doing; shown by `#connection-state`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum ConnState {
    /// A socket is opening.
    Connecting,
    /// The socket is open.
    Online,
    /// Waiting to retry at this time (ms).
    Offline { retry_at: f64 },
    /// The token was refused; waiting for the user to enter one.
    Unauthorized,
}

impl ConnState {
    /// The `data-state` value.
    pub(crate) fn name(self) -> &'static str {
        match self {
            ConnState::Connecting => "connecting",
            ConnState::Online => "online",
            ConnState::Offline { .. } => "offline",
            ConnState::Unauthorized => "unauthorized",
        }
    }

    /// The text shown.
    pub(crate) fn label(self, now: f64) -> String {
        match self {
            ConnState::Connecting => "connecting…".into(),
            ConnState::Online => "online".into(),
            ConnState::Offline { retry_at } => {
                let secs = ((retry_at - now) / 1000.0).ceil().max(0.0);
                format!("offline, retrying in {secs}s")
            }
            ConnState::Unauthorized => "token needed".into(),
        }
    }
}

/// An open or opening socket and the handlers that must live as long.
pub(crate) struct Conn {
    ws: WebSocket,
    generation: u32,
    /// True once `open` fired.
    opened: bool,
    _handlers: Vec<Closure<dyn FnMut(JsValue)>>,
}

impl Conn {
    /// Detaches the handlers and closes the socket.
    fn shut(self) {
        self.ws.set_onopen(None);
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
        self.ws.set_onerror(None);
        let _ = self.ws.close();
    }
}

/// Page-wide wiring: the one-second tick (pings, silence, the countdown) and
/// reconnecting at once when the network returns or the page is shown again.
pub(crate) fn wire(window: &Window) {
    let tick = Closure::<dyn FnMut()>::new(|| {
        with_app(|app| app.tick());
    });
    let _ = window.set_interval_with_callback_and_timeout_and_arguments_0(
        tick.as_ref().unchecked_ref(),
        1000,
    );
    tick.forget();
    let wake = || {
        with_app(|app| app.wake());
    };
    super::listen::<web_sys::Event>(window, "online", move |_| wake());
    if let Some(document) = window.document() {
        let doc = document.clone();
        super::listen::<web_sys::Event>(&document, "visibilitychange", move |_| {
            if !doc.hidden() {
                wake();
            }
        });
    }
}

impl App {
    /// Opens a new socket, unless one is open or the token was refused.
    pub(crate) fn connect(&mut self) {
        if let Some(timer) = self.retry_timer.take() {
            self.window.clear_timeout_with_handle(timer);
        }
        if self.conn.is_some() || self.state == ConnState::Unauthorized {
            return;
        }
        self.generation = self.generation.wrapping_add(1);
        let generation = self.generation;
        let location = self.window.location();
        let target = ws_target(
            &location.protocol().unwrap_or_default(),
            &location.host().unwrap_or_default(),
            &self.client_id,
            self.token.as_deref(),
        );
        let protocols: js_sys::Array = target
            .protocols
            .iter()
            .map(|p| JsValue::from_str(p))
            .collect();
        let ws = match WebSocket::new_with_str_sequence(&target.url, &protocols) {
            Ok(ws) => ws,
            Err(e) => {
                web_sys::console::warn_2(&"openpista: cannot open the socket".into(), &e);
                self.schedule_retry();
                return;
            }
        };
        let on_open = Closure::<dyn FnMut(JsValue)>::new(move |_| {
            with_app(|app| app.on_open(generation));
        });
        let on_message = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
            let text = e.unchecked_into::<MessageEvent>().data().as_string();
            with_app(|app| app.on_message(generation, text));
        });
        let on_close = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
            let e = e.unchecked_into::<CloseEvent>();
            with_app(|app| app.on_close(generation, e.code()));
        });
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        self.conn = Some(Conn {
            ws,
            generation,
            opened: false,
            _handlers: vec![on_open, on_message, on_close],
        });
        self.set_state(ConnState::Connecting);
    }

    /// The current socket, if `generation` is still it.
    fn current(&mut self, generation: u32) -> Option<&mut Conn> {
        self.conn.as_mut().filter(|c| c.generation == generation)
    }

    fn on_open(&mut self, generation: u32) {
        let Some(conn) = self.current(generation) else {
            return;
        };
        conn.opened = true;
        let t = now();
        self.backoff.opened(t);
        self.last_rx = t;
        self.set_state(ConnState::Online);
        // The server says `ready` (and delivers what it kept for this
        // session) when the first frame arrives: ping at once.
        self.ping();
        for frame in std::mem::take(&mut self.outbox) {
            self.send_raw(frame);
        }
    }

    fn on_message(&mut self, generation: u32, text: Option<String>) {
        if self.current(generation).is_none() {
            return;
        }
        self.last_rx = now();
        let Some(text) = text else { return };
        match ServerFrame::parse(&text) {
            Ok(frame) => self.on_frame(frame),
            Err(e) => web_sys::console::warn_1(&format!("openpista: bad frame: {e}").into()),
        }
    }

    fn on_close(&mut self, generation: u32, code: u16) {
        let Some(conn) = self.current(generation) else {
            return;
        };
        let opened = conn.opened;
        if let Some(conn) = self.conn.take() {
            conn.shut();
        }
        if opened {
            self.backoff.closed(now());
            web_sys::console::info_1(&format!("openpista: socket closed ({code})").into());
            self.schedule_retry();
        } else {
            // The handshake was refused or the network failed; a browser
            // cannot tell which, so ask with a plain GET.
            self.set_state(ConnState::Connecting);
            let url = probe_url(&self.client_id, self.token.as_deref());
            let promise = self.window.fetch_with_str(&url);
            wasm_bindgen_futures::spawn_local(async move {
                let status = wasm_bindgen_futures::JsFuture::from(promise)
                    .await
                    .ok()
                    .and_then(|r| r.dyn_into::<web_sys::Response>().ok())
                    .map(|r| r.status());
                with_app(|app| app.on_probe(generation, status));
            });
        }
    }

    /// The answer to the probe GET: `401` stops retrying until the user
    /// enters a token; anything else is a network problem, retried.
    fn on_probe(&mut self, generation: u32, status: Option<u16>) {
        if generation != self.generation || self.conn.is_some() {
            return;
        }
        if status == Some(401) {
            self.token = None;
            self.store.forget_token();
            self.set_state(ConnState::Unauthorized);
        } else {
            self.schedule_retry();
        }
    }

    /// Waits the next backoff delay, then connects.
    fn schedule_retry(&mut self) {
        if self.state == ConnState::Unauthorized {
            return;
        }
        let delay = self.backoff.next_delay(js_sys::Math::random());
        self.set_state(ConnState::Offline {
            retry_at: now() + f64::from(delay),
        });
        self.retry_timer = set_timeout(&self.window, delay as i32, || {
            with_app(|app| {
                app.retry_timer = None;
                app.connect();
            });
        });
    }

    /// Every second: ping when due, drop a socket that went silent, update
    /// the countdown.
    fn tick(&mut self) {
        let t = now();
        if self.conn.as_ref().is_some_and(|c| c.opened) {
            if t - self.last_rx > SILENCE_TIMEOUT_MS {
                // A dead network may take minutes to report the close.
                if let Some(conn) = self.conn.take() {
                    conn.shut();
                }
                self.backoff.closed(t);
                self.schedule_retry();
            } else if t - self.last_ping >= f64::from(PING_INTERVAL_MS) {
                self.ping();
            }
        }
        if let ConnState::Offline { .. } = self.state {
            self.show_state();
        }
    }

    /// The network came back or the page was shown: retry now instead of
    /// at the end of the backoff.
    fn wake(&mut self) {
        if let ConnState::Offline { .. } = self.state {
            self.backoff.reset();
            self.connect();
        }
    }

    /// A token was entered: try it at once.
    pub(crate) fn use_token(&mut self, token: String) {
        self.store.set_token(&token);
        self.token = Some(token);
        self.backoff.reset();
        if let Some(conn) = self.conn.take() {
            conn.shut();
        }
        self.state = ConnState::Connecting;
        self.connect();
    }

    fn ping(&mut self) {
        self.last_ping = now();
        let frame = ClientFrame::Ping {
            t: self.last_ping as u64,
        }
        .to_json();
        self.send_raw(frame);
    }

    /// Sends `frame` if the socket is open; false if it is not.
    fn send_raw(&mut self, frame: String) -> bool {
        match &self.conn {
            Some(c) if c.opened && c.ws.ready_state() == WebSocket::OPEN => {
                c.ws.send_with_str(&frame).is_ok()
            }
            _ => false,
        }
    }

    /// Sends `frame` now, or once the socket opens.
    pub(crate) fn send_or_queue(&mut self, frame: String) {
        if !self.send_raw(frame.clone()) {
            self.outbox.push(frame);
        }
    }

    /// Shows the state and the token form (only when unauthorized).
    pub(crate) fn set_state(&mut self, state: ConnState) {
        self.state = state;
        self.show_state();
        self.show_token_form(state == ConnState::Unauthorized);
    }
}
