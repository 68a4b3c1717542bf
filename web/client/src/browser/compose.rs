//! The composer: the message input, the send button, image attachments and
//! the token form.

use super::{App, listen, with_app};
use crate::protocol::{
    Attachment, ClientFrame, MAX_MESSAGE_CHARS, check_attachment, check_frame_size, split_data_url,
};
use crate::transcript::{Entry, Role};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{
    Event, File, FileReader, HtmlElement, HtmlInputElement, HtmlTextAreaElement, KeyboardEvent,
    Window,
};

/// The tallest the message input grows, in px, before it scrolls.
const INPUT_MAX_HEIGHT: i32 = 160;

fn by_id<T: JsCast>(window: &Window, id: &str) -> Result<T, JsValue> {
    window
        .document()
        .and_then(|d| d.get_element_by_id(id))
        .and_then(|e| e.dyn_into::<T>().ok())
        .ok_or_else(|| JsValue::from_str(&format!("the page has no usable #{id}")))
}

/// Wires the composer's and the token form's events.
pub(crate) fn wire(window: &Window) -> Result<(), JsValue> {
    let input: HtmlTextAreaElement = by_id(window, "message-input")?;
    let send: HtmlElement = by_id(window, "send-button")?;
    let attach: HtmlInputElement = by_id(window, "attach-input")?;
    let token_form: HtmlElement = by_id(window, "token-form")?;
    let token_input: HtmlInputElement = by_id(window, "token-input")?;
    let hint: Option<HtmlElement> = by_id(window, "command-hint").ok();

    // The composer may be a <form>: never let it navigate.
    if let Ok(form) = by_id::<HtmlElement>(window, "composer") {
        listen::<Event>(&form, "submit", |e| {
            e.prevent_default();
            with_app(|app| app.send_message());
        });
    }
    listen::<Event>(&send, "click", |e| {
        e.prevent_default();
        with_app(|app| app.send_message());
    });
    listen::<KeyboardEvent>(&input, "keydown", |e| {
        // Enter sends, Shift+Enter is a new line; never while an input
        // method is composing (Enter then confirms a candidate).
        if e.key() == "Enter" && !e.shift_key() && !e.is_composing() && e.key_code() != 229 {
            e.prevent_default();
            with_app(|app| app.send_message());
        }
    });
    {
        let input2 = input.clone();
        listen::<Event>(&input, "input", move |_| {
            grow(&input2);
            if let Some(hint) = &hint {
                hint.set_hidden(!input2.value().starts_with('/'));
            }
        });
    }
    {
        let attach2 = attach.clone();
        listen::<Event>(&attach, "change", move |_| {
            if let Some(files) = attach2.files() {
                let files: Vec<File> = (0..files.length()).filter_map(|i| files.get(i)).collect();
                with_app(|app| {
                    for file in files {
                        app.read_attachment(file);
                    }
                });
            }
            // Picking the same file again must fire `change` again.
            attach2.set_value("");
        });
    }
    if let Ok(preview) = by_id::<HtmlElement>(window, "attachments-preview") {
        // One listener for every remove button, however often the preview
        // is redrawn.
        listen::<Event>(&preview, "click", |e| {
            let index = e
                .target()
                .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
                .and_then(|t| t.closest("button.remove").ok().flatten())
                .and_then(|b| b.get_attribute("data-index"))
                .and_then(|i| i.parse::<usize>().ok());
            if let Some(i) = index {
                with_app(|app| {
                    if i < app.pending.len() {
                        app.pending.remove(i);
                    }
                    app.show_pending();
                });
            }
        });
    }
    listen::<Event>(&token_form, "submit", move |e| {
        e.prevent_default();
        let token = token_input.value().trim().to_string();
        if !token.is_empty() {
            token_input.set_value("");
            with_app(|app| app.use_token(token));
        }
    });
    Ok(())
}

/// Fits the input's height to its text, up to [`INPUT_MAX_HEIGHT`].
fn grow(input: &HtmlTextAreaElement) {
    let style = input.style();
    let _ = style.set_property("height", "auto");
    let height = input.scroll_height().min(INPUT_MAX_HEIGHT);
    let _ = style.set_property("height", &format!("{height}px"));
}

impl App {
    /// Sends what is in the input with the picked attachments. Slash
    /// commands go as plain messages: the server runs them.
    fn send_message(&mut self) {
        let Some(input) = self
            .document
            .get_element_by_id("message-input")
            .and_then(|e| e.dyn_into::<HtmlTextAreaElement>().ok())
        else {
            return;
        };
        let text = input.value();
        let text = text.trim_end();
        if text.trim().is_empty() && self.pending.is_empty() {
            return;
        }
        if self.reading > 0 {
            self.notice("still reading the images…");
            return;
        }
        if text.chars().count() > MAX_MESSAGE_CHARS {
            self.notice("the message is too long (32,000 characters at most)");
            return;
        }
        let id = self.ids.next_id();
        let frame = ClientFrame::Message {
            id: id.clone(),
            text: text.to_string(),
            attachments: self.pending.clone(),
        }
        .to_json();
        if let Err(e) = check_frame_size(&frame) {
            // Keep the images, so some can be removed.
            self.notice(&e);
            return;
        }
        if text.trim() == "/clear" {
            // The server forgets the session; so does this page (open
            // approval cards go with it).
            self.clear_transcript();
        }
        let attachments = std::mem::take(&mut self.pending);
        self.show_pending();
        let el = self.add_message(Entry {
            role: Role::User,
            text: text.to_string(),
            attachments,
        });
        let _ = el.class_list().add_1("pending");
        let _ = el.set_attribute("data-id", &id);
        self.send_or_queue(frame);
        input.set_value("");
        grow(&input);
        if let Ok(Some(hint)) = self.document.query_selector("#command-hint") {
            hint.unchecked_into::<HtmlElement>().set_hidden(true);
        }
    }

    /// Checks `file` and reads it as base64 into the pending attachments.
    fn read_attachment(&mut self, file: File) {
        let mime = file.type_();
        let size = file.size() as usize;
        if let Err(e) = check_attachment(self.pending.len() + self.reading, &mime, size) {
            self.notice(&format!("{}: {e}", file.name()));
            return;
        }
        let Ok(reader) = FileReader::new() else {
            return;
        };
        self.reading += 1;
        let name = file.name();
        let reader2 = reader.clone();
        let on_done = Closure::once_into_js(move |_: JsValue| {
            let url = reader2.result().ok().and_then(|r| r.as_string());
            with_app(|app| {
                app.reading -= 1;
                match url.as_deref().and_then(split_data_url) {
                    Some((mime, data)) => {
                        app.pending.push(Attachment {
                            mime: mime.into(),
                            name,
                            data: data.into(),
                        });
                        app.show_pending();
                    }
                    None => app.notice(&format!("{name}: could not be read")),
                }
            });
        });
        reader.set_onloadend(Some(on_done.unchecked_ref()));
        if reader.read_as_data_url(&file).is_err() {
            self.reading -= 1;
            reader.set_onloadend(None);
        }
    }

    /// `#attachments-preview`: a thumbnail with a remove button for each
    /// picked attachment.
    fn show_pending(&self) {
        let Some(preview) = self.document.get_element_by_id("attachments-preview") else {
            return;
        };
        preview.set_inner_html("");
        for (i, a) in self.pending.iter().enumerate() {
            let item = self.element("div", "preview");
            if let Some(url) = crate::protocol::data_url(a) {
                let img: web_sys::HtmlImageElement = self.element("img", "").unchecked_into();
                img.set_src(&url);
                img.set_alt(&a.name);
                let _ = item.append_child(&img);
            }
            let remove = self.element("button", "remove");
            let _ = remove.set_attribute("type", "button");
            let _ = remove.set_attribute("data-index", &i.to_string());
            let _ = remove.set_attribute("aria-label", &format!("remove {}", a.name));
            remove.set_text_content(Some("×"));
            let _ = item.append_child(&remove);
            let _ = preview.append_child(&item);
        }
        if let Some(preview) = preview.dyn_ref::<HtmlElement>() {
            preview.set_hidden(self.pending.is_empty());
        }
    }
}
