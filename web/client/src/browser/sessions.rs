//! The session panel (`#sessions-panel`) and the model button.
//!
//! `#sessions-button` opens and closes the panel; opening it sends
//! `/sessions`, whose answer (a `sessions` frame, also sent after every
//! change) redraws `#sessions-list`, open or not. A session's row switches
//! to it, renames it (an input in place of its title: Enter sends, Escape
//! cancels) or deletes it (a second press confirms). `#new-session` sends
//! `/new`; `#model-button` sends `/model`, answered with a choices card.
//! Every command goes like a card's, with no user bubble (crate::sessions
//! builds them). Titles reach the DOM through `textContent`.

use super::{App, listen, set_timeout, with_app};
use crate::sessions::{
    LIST_COMMAND, MODEL_COMMAND, NEW_COMMAND, SessionItem, clean_title, rename_command,
};
use wasm_bindgen::JsCast;
use web_sys::{Document, Element, Event, HtmlElement, HtmlInputElement, KeyboardEvent};

/// A delete button goes back from "Delete?" to "Delete" after this long
/// without a second press.
const CONFIRM_MS: i32 = 4000;

/// The element an event happened on.
fn target(e: &Event) -> Option<Element> {
    e.target().and_then(|t| t.dyn_into::<Element>().ok())
}

/// Calls `f` on the app when the element `id` is clicked.
fn on_click(document: &Document, id: &str, f: fn(&mut App)) {
    if let Some(el) = document.get_element_by_id(id) {
        listen::<Event>(&el, "click", move |e| {
            e.prevent_default();
            with_app(f);
        });
    }
}

/// Wires the panel, its list (one listener for every row, however often it
/// is redrawn) and the model button.
pub(crate) fn wire(document: &Document) {
    on_click(document, "sessions-button", App::toggle_sessions);
    on_click(document, "sessions-close", App::close_sessions);
    on_click(document, "new-session", |app| {
        app.send_command(NEW_COMMAND);
        app.close_sessions();
    });
    on_click(document, "model-button", |app| {
        app.send_command(MODEL_COMMAND)
    });
    if let Some(list) = document.get_element_by_id("sessions-list") {
        listen::<Event>(&list, "click", |e| {
            if let Some(el) = target(&e) {
                with_app(|app| app.on_list_click(&el));
            }
        });
        listen::<KeyboardEvent>(&list, "keydown", |e| {
            let Some(el) = target(&e) else { return };
            let handled = with_app(|app| app.on_list_key(&el, &e)).unwrap_or(false);
            if handled {
                // Escape in the input cancels the rename, not the panel.
                e.prevent_default();
                e.stop_propagation();
            }
        });
    }
    // A click elsewhere, or Escape, closes the panel.
    listen::<Event>(document, "click", |e| {
        let Some(el) = target(&e) else { return };
        let inside = !el.is_connected()
            || matches!(el.closest("#sessions-panel, #sessions-button"), Ok(Some(_)));
        if !inside {
            with_app(App::close_sessions);
        }
    });
    listen::<KeyboardEvent>(document, "keydown", |e| {
        if e.key() == "Escape" {
            with_app(App::close_sessions);
        }
    });
}

impl App {
    /// `#sessions-panel`, if the page has it.
    fn panel(&self) -> Option<HtmlElement> {
        self.document
            .get_element_by_id("sessions-panel")
            .and_then(|p| p.dyn_into::<HtmlElement>().ok())
    }

    fn toggle_sessions(&mut self) {
        match self.panel() {
            Some(panel) if panel.hidden() => self.open_sessions(&panel),
            Some(_) => self.close_sessions(),
            None => {}
        }
    }

    /// Shows the panel with the list known so far and asks for a fresh one.
    fn open_sessions(&mut self, panel: &HtmlElement) {
        self.render_sessions();
        panel.set_hidden(false);
        self.set_expanded(true);
        self.send_command(LIST_COMMAND);
    }

    pub(crate) fn close_sessions(&mut self) {
        if let Some(panel) = self.panel().filter(|p| !p.hidden()) {
            panel.set_hidden(true);
            self.set_expanded(false);
        }
    }

    /// `#sessions-button`'s `aria-expanded`.
    fn set_expanded(&self, open: bool) {
        if let Some(button) = self.document.get_element_by_id("sessions-button") {
            let _ = button.set_attribute("aria-expanded", if open { "true" } else { "false" });
        }
    }

    /// A `sessions` frame: keeps the list and redraws it. A rename in
    /// progress survives the redraw (its row's input, what was typed in
    /// it and its focus come back) as long as its session is still listed:
    /// the frame can arrive at any time, for instance as the answer to the
    /// `/sessions` that opening the panel sent.
    pub(crate) fn set_sessions(&mut self, items: Vec<SessionItem>) {
        self.sessions = items;
        if let Some((number, _)) = self.deleting
            && !self.sessions.iter().any(|s| s.number == number)
        {
            self.deleting = None;
        }
        let edit = self.rename_in_progress();
        self.render_sessions();
        if let Some(edit) = edit {
            self.resume_rename(edit);
        }
    }

    /// The rename input in `#sessions-list`, if any: its row's number,
    /// its text and whether it has the focus.
    fn rename_in_progress(&self) -> Option<(String, String, bool)> {
        let list = self.document.get_element_by_id("sessions-list")?;
        let input: HtmlInputElement = list
            .query_selector("input.rename-input")
            .ok()??
            .dyn_into()
            .ok()?;
        let number = input
            .closest("li.session")
            .ok()??
            .get_attribute("data-number")?;
        let focused = self
            .document
            .active_element()
            .is_some_and(|a| a.is_same_node(Some(&input)));
        Some((number, input.value(), focused))
    }

    /// Puts back a rename input [`Self::rename_in_progress`] saw, in the
    /// redrawn row of the same session.
    fn resume_rename(&self, (number, value, focused): (String, String, bool)) {
        let selector = format!("#sessions-list li.session[data-number='{number}']");
        let Ok(Some(li)) = self.document.query_selector(&selector) else {
            return;
        };
        let Some(session) = self.session_of(&li) else {
            return;
        };
        if let Some(input) = self.start_rename(&li, &session) {
            input.set_value(&value);
            if !focused {
                let _ = input.blur();
            }
        }
    }

    /// `#sessions-list`: an `li.session[data-number]` per session (`.active`
    /// on the one in use) with `span.title`, `span.count`, `button.rename`
    /// and `button.delete`.
    fn render_sessions(&self) {
        let Some(list) = self.document.get_element_by_id("sessions-list") else {
            return;
        };
        list.set_inner_html("");
        for item in &self.sessions {
            let class = if item.active {
                "session active"
            } else {
                "session"
            };
            let li = self.element("li", class);
            let _ = li.set_attribute("data-number", &item.number.to_string());
            if item.active {
                let _ = li.set_attribute("aria-current", "true");
            } else {
                let _ = li.set_attribute("tabindex", "0");
            }
            self.text_child(&li, "span", "title", &item.title);
            self.text_child(&li, "span", "count", &item.count_text());
            for (class, label) in [("rename", "Rename"), ("delete", "Delete")] {
                let button = self.text_child(&li, "button", class, label);
                let _ = button.set_attribute("type", "button");
                if class == "delete" {
                    mark_delete(&button, self.deleting, item.number);
                }
            }
            let _ = list.append_child(&li);
        }
    }

    /// The listed session of row `li`.
    fn session_of(&self, li: &Element) -> Option<SessionItem> {
        let number = li.get_attribute("data-number")?.parse::<u32>().ok()?;
        self.sessions.iter().find(|s| s.number == number).cloned()
    }

    /// A click in `#sessions-list`: on a row's button, its input, or the
    /// row itself.
    fn on_list_click(&mut self, el: &Element) {
        let Some(li) = el.closest("li.session").ok().flatten() else {
            return;
        };
        let Some(session) = self.session_of(&li) else {
            return;
        };
        if let Some(button) = el.closest("button").ok().flatten() {
            if button.has_attribute("disabled") {
                return;
            }
            let classes = button.class_list();
            if classes.contains("rename") {
                let _ = self.start_rename(&li, &session);
            } else if classes.contains("delete") {
                self.press_delete(&button, &session);
            }
        } else if el.closest("input").ok().flatten().is_none() {
            self.switch_to(&session);
        }
    }

    /// A key in `#sessions-list`; true when it was handled.
    fn on_list_key(&mut self, el: &Element, e: &KeyboardEvent) -> bool {
        if el.class_list().contains("rename-input") {
            let Some(li) = el.closest("li.session").ok().flatten() else {
                return false;
            };
            match e.key().as_str() {
                "Enter" if !e.is_composing() && e.key_code() != 229 => {
                    let title = el
                        .dyn_ref::<HtmlInputElement>()
                        .map(|i| i.value())
                        .unwrap_or_default();
                    self.finish_rename(&li, &title);
                    true
                }
                "Escape" => {
                    self.render_sessions();
                    true
                }
                _ => false,
            }
        } else if el.matches("li.session").unwrap_or(false)
            && matches!(e.key().as_str(), "Enter" | " ")
        {
            if let Some(session) = self.session_of(el) {
                self.switch_to(&session);
            }
            true
        } else {
            false
        }
    }

    /// Switches to `session` (unless it is already in use) and closes the
    /// panel; the host answers with its `history`.
    fn switch_to(&mut self, session: &SessionItem) {
        if !session.active {
            self.send_command(&session.switch_command());
            self.close_sessions();
        }
    }

    /// Puts `input.rename-input`, holding the title, in place of the
    /// row's `span.title`, focuses it and returns it.
    fn start_rename(&self, li: &Element, session: &SessionItem) -> Option<HtmlInputElement> {
        if let Ok(Some(input)) = li.query_selector("input.rename-input") {
            let input: HtmlInputElement = input.unchecked_into();
            let _ = input.focus();
            return Some(input);
        }
        let title = li.query_selector("span.title").ok()??;
        let input: HtmlInputElement = self.element("input", "rename-input").unchecked_into();
        input.set_type("text");
        input.set_value(&session.title);
        let _ = input.set_attribute("aria-label", "New title");
        let _ = input.set_attribute("enterkeyhint", "done");
        let _ = title.replace_with_with_node_1(&input);
        let _ = input.focus();
        input.select();
        Some(input)
    }

    /// Enter in a rename input: sends `/sessions rename N TITLE` and shows
    /// the new title until the host's `sessions` frame redraws the list.
    /// An empty title keeps the input.
    fn finish_rename(&mut self, li: &Element, title: &str) {
        let Some(session) = self.session_of(li) else {
            return;
        };
        let (Some(command), Some(new_title)) =
            (rename_command(session.number, title), clean_title(title))
        else {
            return;
        };
        self.send_command(&command);
        if let Some(s) = self
            .sessions
            .iter_mut()
            .find(|s| s.number == session.number)
        {
            s.title = new_title;
        }
        self.render_sessions();
    }

    /// A delete button: the first press asks "Delete?" (for
    /// [`CONFIRM_MS`]), the second sends `/sessions delete N`.
    fn press_delete(&mut self, button: &Element, session: &SessionItem) {
        let number = session.number;
        if self.deleting == Some((number, false)) {
            self.deleting = Some((number, true));
            mark_delete(button, self.deleting, number);
            self.send_command(&session.delete_command());
            return;
        }
        if let Some((other, false)) = self.deleting {
            // Only one question at a time: the other row's goes back.
            self.deleting = None;
            if let Some(other) = self.delete_button(other) {
                mark_delete(&other, None, number);
            }
        }
        self.deleting = Some((number, false));
        mark_delete(button, self.deleting, number);
        set_timeout(&self.window, CONFIRM_MS, move || {
            with_app(|app| {
                if app.deleting == Some((number, false)) {
                    app.deleting = None;
                    if let Some(button) = app.delete_button(number) {
                        mark_delete(&button, None, number);
                    }
                }
            });
        });
    }

    /// The delete button of the listed session `number`.
    fn delete_button(&self, number: u32) -> Option<Element> {
        let selector = format!("#sessions-list li.session[data-number='{number}'] button.delete");
        self.document.query_selector(&selector).ok().flatten()
    }
}

/// Shows on the delete `button` of session `number` what `deleting` says
/// of it: "Delete", "Delete?" (`data-confirm`) or sent (also `disabled`).
fn mark_delete(button: &Element, deleting: Option<(u32, bool)>, number: u32) {
    match deleting {
        Some((n, sent)) if n == number => {
            let _ = button.set_attribute("data-confirm", "1");
            button.set_text_content(Some("Delete?"));
            if sent {
                let _ = button.set_attribute("disabled", "");
            }
        }
        _ => {
            let _ = button.remove_attribute("data-confirm");
            let _ = button.remove_attribute("disabled");
            button.set_text_content(Some("Delete"));
        }
    }
}
