//! Rendering: message bubbles, the streamed answer, the connection state,
//! the agent's status and notices; each server frame is dispatched here
//! (the cards with buttons are in `cards.rs`, the session panel in
//! `sessions.rs`). A `history` frame replaces the whole transcript.
//!
//! Message text reaches `innerHTML` only through [`crate::markdown::render`],
//! which escapes everything it does not write itself; user text and names
//! go through `textContent`; images are `data:` URLs set as properties.

use super::{App, set_timeout, with_app};
use crate::markdown;
use crate::protocol::{AgentState, Attachment, ServerFrame, data_url};
use crate::sessions::history_entries;
use crate::transcript::{Entry, Role};
use wasm_bindgen::JsCast;
use web_sys::{Element, HtmlElement, Window};

/// Keeps the composer above an on-screen keyboard: `--app-height` follows
/// the visual viewport, which shrinks when the keyboard opens.
pub(crate) fn wire_viewport(window: &Window) {
    let Some(viewport) = window.visual_viewport() else {
        return;
    };
    let update = {
        let viewport = viewport.clone();
        let window = window.clone();
        move || {
            if let Some(root) = window.document().and_then(|d| d.document_element()) {
                let root: HtmlElement = root.unchecked_into();
                let _ = root
                    .style()
                    .set_property("--app-height", &format!("{}px", viewport.height()));
            }
            // iOS scrolls the page to show the focused input; the page is
            // already sized to what is visible.
            window.scroll_to_with_x_and_y(0.0, 0.0);
            with_app(|app| app.scroll_to_end(true));
        }
    };
    update();
    super::listen::<web_sys::Event>(&viewport, "resize", move |_| update());
}

impl App {
    /// Shows the stored conversation (at start).
    pub(crate) fn render_transcript(&mut self) {
        for entry in self.transcript.entries().to_vec() {
            let el = self.bubble(entry.role, &entry.text, &entry.attachments);
            let _ = self.messages.append_child(&el);
        }
        self.scroll_to_end(true);
    }

    /// Forgets the conversation shown (`/clear`, or before a `history`):
    /// messages, the streamed answer and open cards.
    pub(crate) fn clear_transcript(&mut self) {
        self.transcript.clear();
        self.messages.set_inner_html("");
        self.streaming = None;
        self.update_stop();
    }

    /// A `history` frame: `entries` replace the conversation, shown and
    /// stored.
    fn replace_transcript(&mut self, entries: Vec<Entry>) {
        self.clear_transcript();
        for entry in entries {
            self.transcript.push(entry);
        }
        self.store.save_transcript(&mut self.transcript);
        self.render_transcript();
    }

    /// A message element: `<div class="message ROLE"><div class="body">…`
    /// `</div><div class="attachments">…</div></div>`.
    pub(crate) fn bubble(&self, role: Role, text: &str, attachments: &[Attachment]) -> Element {
        let el = self.element("div", &format!("message {}", role.class()));
        let body = self.element("div", "body");
        self.fill_body(&body, role, text);
        let _ = el.append_child(&body);
        if !attachments.is_empty() {
            let _ = el.append_child(&self.attachments(attachments));
        }
        el
    }

    fn fill_body(&self, body: &Element, role: Role, text: &str) {
        match role {
            Role::User => body.set_text_content(Some(text)),
            Role::Assistant => body.set_inner_html(&markdown::render(text)),
            Role::Error => body.set_inner_html(&markdown::render(&format!("❌ {text}"))),
        }
    }

    /// Images inline; other files, or images whose data was not kept, as a
    /// labelled chip.
    fn attachments(&self, attachments: &[Attachment]) -> Element {
        let list = self.element("div", "attachments");
        for a in attachments {
            let url = data_url(a).filter(|_| !a.data.is_empty());
            let node = match url {
                Some(url) if a.mime.starts_with("image/") => {
                    let img: web_sys::HtmlImageElement =
                        self.element("img", "attachment").unchecked_into();
                    img.set_src(&url);
                    img.set_alt(&a.name);
                    img.into()
                }
                Some(url) => {
                    let link: web_sys::HtmlAnchorElement =
                        self.element("a", "attachment file").unchecked_into();
                    link.set_href(&url);
                    link.set_download(if a.name.is_empty() {
                        "attachment"
                    } else {
                        &a.name
                    });
                    link.set_text_content(Some(&format!("📎 {}", display_name(a))));
                    link.into()
                }
                None => {
                    let chip = self.element("span", "attachment missing");
                    chip.set_text_content(Some(&format!("🖼 {}", display_name(a))));
                    chip
                }
            };
            let _ = list.append_child(&node);
        }
        list
    }

    /// A new element with `class`.
    pub(crate) fn element(&self, tag: &str, class: &str) -> Element {
        let el = self.document.create_element(tag).expect("valid tag name");
        el.set_class_name(class);
        el
    }

    /// Appends a finished message and stores it.
    pub(crate) fn add_message(&mut self, entry: Entry) -> Element {
        let el = self.bubble(entry.role, &entry.text, &entry.attachments);
        let stick = self.near_end();
        let _ = self.messages.append_child(&el);
        self.scroll_to_end(stick || entry.role == Role::User);
        self.transcript.push(entry);
        self.store.save_transcript(&mut self.transcript);
        el
    }

    /// Handles one frame from the server.
    pub(crate) fn on_frame(&mut self, frame: ServerFrame) {
        match frame {
            ServerFrame::Ready { session, .. } => {
                if let Some(el) = self.document.get_element_by_id("connection-state") {
                    let _ = el.set_attribute("title", &session);
                }
            }
            ServerFrame::Ack { id } => {
                let selector = format!(".message.pending[data-id=\"{}\"]", css_safe(&id));
                if let Ok(Some(el)) = self.messages.query_selector(&selector) {
                    let _ = el.class_list().remove_1("pending");
                }
            }
            ServerFrame::Status { state } => self.show_status(state),
            ServerFrame::Delta { text } => self.on_delta(&text),
            ServerFrame::User { text, attachments } => {
                let mut text = text;
                for name in attachments {
                    text.push_str(&format!("\n[image {name}]"));
                }
                self.add_message(Entry {
                    role: Role::User,
                    text,
                    attachments: Vec::new(),
                });
            }
            ServerFrame::Message {
                text,
                attachments,
                error,
            } => {
                let role = if error { Role::Error } else { Role::Assistant };
                self.finish_stream(Entry {
                    role,
                    text,
                    attachments,
                });
                self.show_status(AgentState::Idle);
            }
            ServerFrame::Error { message } => {
                let el = self.bubble(Role::Error, &message, &[]);
                let _ = self.messages.append_child(&el);
                self.scroll_to_end(true);
            }
            ServerFrame::Approval {
                id,
                tool,
                arguments,
                folder,
                requester,
                timeout_secs,
            } => self.show_approval(
                &id,
                &tool,
                &arguments,
                folder.as_deref(),
                requester.as_deref(),
                timeout_secs,
            ),
            ServerFrame::Settled { id, how } => self.settle(&id, how),
            ServerFrame::Choices { text, buttons } => self.show_choices(&text, &buttons),
            ServerFrame::Sessions { items } => self.set_sessions(items),
            ServerFrame::History { messages, .. } => {
                self.replace_transcript(history_entries(&messages));
            }
            ServerFrame::Pong { .. } | ServerFrame::Unknown => {}
        }
    }

    /// Appends streamed text to the current assistant bubble.
    fn on_delta(&mut self, text: &str) {
        let stick = self.near_end();
        if self.streaming.is_none() {
            let el = self.element("div", "message assistant streaming");
            let _ = el.append_child(&self.element("div", "body"));
            let _ = self.messages.append_child(&el);
            self.streaming = Some((el, String::new()));
        }
        let (el, so_far) = self.streaming.as_mut().expect("just set");
        so_far.push_str(text);
        if let Ok(Some(body)) = el.query_selector(".body") {
            body.set_inner_html(&markdown::render(so_far));
        }
        self.scroll_to_end(stick);
    }

    /// The whole answer arrived: it replaces the streamed bubble.
    fn finish_stream(&mut self, entry: Entry) {
        match self.streaming.take() {
            Some((el, _)) => {
                let fresh = self.bubble(entry.role, &entry.text, &entry.attachments);
                let stick = self.near_end();
                let _ = self.messages.replace_child(&fresh, &el);
                self.scroll_to_end(stick);
                self.transcript.push(entry);
                self.store.save_transcript(&mut self.transcript);
            }
            None => {
                self.add_message(entry);
            }
        }
    }

    /// `#status-indicator`: shown while the agent thinks or types (and
    /// `#stop-button` with it).
    fn show_status(&mut self, state: AgentState) {
        self.set_agent_state(state);
        let Some(el) = self.document.get_element_by_id("status-indicator") else {
            return;
        };
        let (name, label) = match state {
            AgentState::Thinking => ("thinking", "thinking…"),
            AgentState::Typing => ("typing", "typing…"),
            AgentState::Idle | AgentState::Unknown => ("idle", ""),
        };
        let _ = el.set_attribute("data-state", name);
        el.set_text_content(Some(label));
        if let Some(el) = el.dyn_ref::<HtmlElement>() {
            el.set_hidden(label.is_empty());
        }
    }

    /// `#connection-state`: its `data-state` and text.
    pub(crate) fn show_state(&self) {
        if let Some(el) = self.document.get_element_by_id("connection-state") {
            let _ = el.set_attribute("data-state", self.state.name());
            el.set_text_content(Some(&self.state.label(super::now())));
        }
    }

    /// Shows or hides `#token-form`, focusing its input when shown.
    pub(crate) fn show_token_form(&self, show: bool) {
        let Some(form) = self.document.get_element_by_id("token-form") else {
            return;
        };
        let form: HtmlElement = form.unchecked_into();
        if form.hidden() != show {
            return;
        }
        form.set_hidden(!show);
        if show && let Some(input) = self.document.get_element_by_id("token-input") {
            let _ = input.unchecked_into::<HtmlElement>().focus();
        }
    }

    /// Shows `text` in `#notice` for a few seconds.
    pub(crate) fn notice(&self, text: &str) {
        let Some(el) = self.document.get_element_by_id("notice") else {
            return;
        };
        el.set_text_content(Some(text));
        let el: HtmlElement = el.unchecked_into();
        el.set_hidden(false);
        let shown = text.to_string();
        set_timeout(&self.window, 4000, move || {
            if el.text_content().as_deref() == Some(&shown) {
                el.set_hidden(true);
            }
        });
    }

    /// True when `#messages` is scrolled (nearly) to its end.
    pub(crate) fn near_end(&self) -> bool {
        let m = &self.messages;
        m.scroll_height() - m.scroll_top() - m.client_height() < 80
    }

    /// Scrolls `#messages` to its end when `stick`.
    pub(crate) fn scroll_to_end(&self, stick: bool) {
        if stick {
            self.messages
                .scroll_to_with_x_and_y(0.0, f64::from(self.messages.scroll_height()));
        }
    }
}

/// A name for a chip: the file name, or the MIME type.
fn display_name(a: &Attachment) -> &str {
    if a.name.is_empty() { &a.mime } else { &a.name }
}

/// `id` reduced to characters that need no escaping in a CSS string.
fn css_safe(id: &str) -> String {
    id.chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        .collect()
}
