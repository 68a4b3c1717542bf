//! Cards with buttons in the conversation, and the stop button.
//!
//! An `approval` frame becomes `.message.approval[data-id]` with three
//! buttons; `settled` takes them away and says how the request ended; a
//! `choices` frame becomes `.message.choices` with a `button.choice` per
//! host command. A press, and `#stop-button`, send a command as an
//! ordinary message frame (crate::approval) without a user bubble: the
//! card shows what was chosen. Cards are not written to the stored
//! transcript; they only mean something while the server waits for them.
//!
//! Text reaches the DOM through `textContent`, except the `choices` text,
//! which is the host's Markdown rendered like an answer.

use super::{App, listen, set_timeout, with_app};
use crate::approval::{
    Answer, ChoiceButton, STOP_COMMAND, Settlement, command_frame, deadline_text, is_command,
    local_expiry_ms,
};
use crate::markdown;
use crate::protocol::AgentState;
use wasm_bindgen::JsCast;
use web_sys::{Element, Event, HtmlElement, Window};

/// Cards still waiting for the person or the server: they keep the stop
/// button up.
const OPEN_CARDS: &str =
    ".message.approval[data-state=\"waiting\"], .message.approval[data-state=\"answering\"]";

/// Wires the buttons of every card (one listener on `#messages`, however
/// many cards come) and `#stop-button`.
pub(crate) fn wire(window: &Window, messages: &Element) {
    listen::<Event>(messages, "click", |e| {
        let Some(button) = e
            .target()
            .and_then(|t| t.dyn_into::<Element>().ok())
            .and_then(|t| t.closest("button").ok().flatten())
        else {
            return;
        };
        with_app(|app| app.on_card_button(&button));
    });
    if let Some(stop) = window
        .document()
        .and_then(|d| d.get_element_by_id("stop-button"))
    {
        listen::<Event>(&stop, "click", |e| {
            e.prevent_default();
            with_app(|app| app.send_command(STOP_COMMAND));
        });
    }
}

impl App {
    /// Sends `command` as a message frame of its own, with no user bubble.
    /// Its `ack` finds no `.pending` bubble of that id and changes nothing.
    pub(crate) fn send_command(&mut self, command: &str) {
        let frame = command_frame(self.ids.next_id(), command);
        self.send_or_queue(frame);
    }

    /// Appends the card of an `approval` frame (replacing an earlier card of
    /// the same id, should the server ask again after a reconnect).
    pub(crate) fn show_approval(
        &mut self,
        id: &str,
        tool: &str,
        arguments: &str,
        folder: Option<&str>,
        requester: Option<&str>,
        timeout_secs: u64,
    ) {
        if let Some(old) = self.approval_card(id) {
            old.remove();
        }
        let card = self.element("div", "message approval");
        let _ = card.set_attribute("data-id", id);
        let _ = card.set_attribute("data-state", "waiting");
        let body = self.element("div", "body");
        self.text_child(&body, "div", "title", "Approval needed");
        self.text_child(&body, "div", "tool", tool);
        self.text_child(&body, "pre", "arguments", arguments);
        if let Some(folder) = folder {
            self.text_child(&body, "div", "folder", folder);
        }
        if let Some(requester) = requester {
            self.text_child(&body, "div", "requester", requester);
        }
        if let Some(deadline) = deadline_text(timeout_secs) {
            self.text_child(&body, "div", "deadline", &deadline);
        }
        let _ = card.append_child(&body);
        let actions = self.element("div", "actions");
        for answer in Answer::ALL {
            let button = self.text_child(&actions, "button", answer.class(), answer.label());
            let _ = button.set_attribute("type", "button");
        }
        let _ = card.append_child(&actions);
        let _ = self.messages.append_child(&card);
        // A person has to see this one: scroll to it wherever they were.
        self.scroll_to_end(true);
        if let Some(ms) = local_expiry_ms(timeout_secs) {
            let id = id.to_string();
            set_timeout(&self.window, ms, move || {
                with_app(|app| app.expire_locally(&id));
            });
        }
        self.update_stop();
    }

    /// A `settled` frame: the card of `id` loses its buttons and says how
    /// it ended. A card this page never showed is ignored.
    pub(crate) fn settle(&mut self, id: &str, how: Settlement) {
        let Some(card) = self.approval_card(id) else {
            return;
        };
        let _ = card.set_attribute("data-state", how.name());
        // The buttons and the deadline are moot once it ended.
        for gone in [".actions", ".deadline"] {
            if let Ok(Some(el)) = card.query_selector(gone) {
                el.remove();
            }
        }
        match card.query_selector(".outcome") {
            Ok(Some(outcome)) => outcome.set_text_content(Some(how.outcome())),
            _ => {
                self.text_child(&card, "div", "outcome", how.outcome());
            }
        }
        self.update_stop();
    }

    /// The server's timeout passed long ago and no `settled` came (it was
    /// lost with a connection): show the card as timed out.
    fn expire_locally(&mut self, id: &str) {
        let open = self
            .approval_card(id)
            .and_then(|c| c.get_attribute("data-state"))
            .is_some_and(|s| s == "waiting" || s == "answering");
        if open {
            self.settle(id, Settlement::Expired);
        }
    }

    /// Appends the card of a `choices` frame.
    pub(crate) fn show_choices(&mut self, text: &str, buttons: &[ChoiceButton]) {
        let card = self.element("div", "message choices");
        let body = self.element("div", "body");
        body.set_inner_html(&markdown::render(text));
        let _ = card.append_child(&body);
        let actions = self.element("div", "actions");
        for b in buttons {
            let button = self.text_child(&actions, "button", "choice", &b.label);
            let _ = button.set_attribute("type", "button");
            let _ = button.set_attribute("data-command", &b.command);
        }
        let _ = card.append_child(&actions);
        let stick = self.near_end();
        let _ = self.messages.append_child(&card);
        self.scroll_to_end(stick);
    }

    /// A click on a button in `#messages`: an approval answer or a choice.
    fn on_card_button(&mut self, button: &Element) {
        if button.has_attribute("disabled") {
            return;
        }
        let class_list = button.class_list();
        let Some(card) = button
            .closest(".message.approval, .message.choices")
            .ok()
            .flatten()
        else {
            return;
        };
        let command = if card.class_list().contains("approval") {
            let Some(answer) = Answer::ALL
                .into_iter()
                .find(|a| class_list.contains(a.class()))
            else {
                return;
            };
            let id = card.get_attribute("data-id").unwrap_or_default();
            match answer.command(&id) {
                Ok(command) => {
                    let _ = card.set_attribute("data-state", "answering");
                    command
                }
                Err(e) => return self.notice(&e),
            }
        } else if class_list.contains("choice") {
            match button.get_attribute("data-command") {
                Some(command) if is_command(&command) => command,
                _ => return,
            }
        } else {
            return;
        };
        let _ = class_list.add_1("chosen");
        disable_buttons(&card);
        self.send_command(&command);
        self.update_stop();
    }

    /// Records what the agent is doing, for the stop button.
    pub(crate) fn set_agent_state(&mut self, state: AgentState) {
        self.agent_state = state;
        self.update_stop();
    }

    /// `#stop-button`: shown while the agent thinks or types, or an
    /// approval card is still open; hidden otherwise.
    pub(crate) fn update_stop(&self) {
        let busy = matches!(self.agent_state, AgentState::Thinking | AgentState::Typing)
            || matches!(self.messages.query_selector(OPEN_CARDS), Ok(Some(_)));
        if let Some(stop) = self.document.get_element_by_id("stop-button") {
            stop.unchecked_into::<HtmlElement>().set_hidden(!busy);
        }
    }

    /// The approval card of `id`, if shown. Ids are `[a-z0-9]` (checked
    /// when the frame was parsed), so the selector needs no escaping.
    fn approval_card(&self, id: &str) -> Option<Element> {
        let selector = format!(".message.approval[data-id=\"{id}\"]");
        self.messages.query_selector(&selector).ok().flatten()
    }

    /// Appends a `<tag class="class">text</tag>` to `parent`; returns it.
    pub(crate) fn text_child(
        &self,
        parent: &Element,
        tag: &str,
        class: &str,
        text: &str,
    ) -> Element {
        let el = self.element(tag, class);
        el.set_text_content(Some(text));
        let _ = parent.append_child(&el);
        el
    }
}

/// Disables every button of `card`, so an answer is sent once.
fn disable_buttons(card: &Element) {
    if let Ok(buttons) = card.query_selector_all("button") {
        for i in 0..buttons.length() {
            if let Some(b) = buttons.item(i).and_then(|n| n.dyn_into::<Element>().ok()) {
                let _ = b.set_attribute("disabled", "");
            }
        }
    }
}
