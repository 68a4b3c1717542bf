//! The worker panel (`#workers`): reads `/workers` once, then long-polls
//! `/workers/events` on the host for as long as the page is open, and
//! draws the running tasks and the latest ended ones with their progress.
//! The page's token goes along as a bearer token (a loopback page needs
//! none). A host without worker reports answers 404: the panel stays
//! hidden and polling stops.

use super::{App, set_timeout, with_app};
use crate::workers::{Board, Then};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

/// Wait before asking again after a failure.
const RETRY_MS: i32 = 3000;

/// What the panel holds.
#[derive(Default)]
pub(crate) struct Workers {
    board: Board,
    /// The host has no worker reports.
    off: bool,
}

#[derive(Clone, Copy)]
enum Ask {
    List,
    Events,
}

/// Starts the panel.
pub(crate) fn start() {
    with_app(|app| app.workers_fetch(Ask::List));
}

impl App {
    fn workers_fetch(&mut self, ask: Ask) {
        if self.workers.off {
            return;
        }
        let url = match ask {
            Ask::List => "/workers".to_string(),
            Ask::Events => self.workers.board.events_url(),
        };
        let init = web_sys::RequestInit::new();
        init.set_method("GET");
        if let Some(token) = &self.token
            && let Ok(headers) = web_sys::Headers::new()
        {
            let _ = headers.set("Authorization", &format!("Bearer {token}"));
            init.set_headers(&headers);
        }
        let Ok(request) = web_sys::Request::new_with_str_and_init(&url, &init) else {
            return;
        };
        let promise = self.window.fetch_with_request(&request);
        wasm_bindgen_futures::spawn_local(async move {
            let answer = async {
                let response: web_sys::Response = wasm_bindgen_futures::JsFuture::from(promise)
                    .await?
                    .dyn_into()?;
                let status = response.status();
                let text = wasm_bindgen_futures::JsFuture::from(response.text()?)
                    .await?
                    .as_string()
                    .unwrap_or_default();
                Ok::<_, JsValue>((status, text))
            }
            .await;
            with_app(|app| app.on_workers(ask, answer.ok()));
        });
    }

    fn on_workers(&mut self, ask: Ask, answer: Option<(u16, String)>) {
        let next = match answer {
            Some((200, text)) => {
                let applied = match ask {
                    Ask::List => self.workers.board.load(&text).map(|()| Then::Poll),
                    Ask::Events => self.workers.board.apply(&text),
                };
                self.render_workers();
                match applied {
                    Ok(Then::Poll) => Some(Ask::Events),
                    Ok(Then::Reload) => Some(Ask::List),
                    Err(e) => {
                        web_sys::console::warn_1(&format!("openpista: {e}").into());
                        None
                    }
                }
            }
            Some((404, _)) => {
                self.workers.off = true;
                return;
            }
            // 401 (a token may be entered yet), a restart, the network.
            _ => None,
        };
        match next {
            Some(ask) => self.workers_fetch(ask),
            None => {
                set_timeout(&self.window, RETRY_MS, move || {
                    with_app(|app| app.workers_fetch(ask));
                });
            }
        }
    }

    /// Draws `#workers-list`; the panel is hidden while it has no task.
    fn render_workers(&self) {
        let (Some(panel), Some(list)) = (
            self.document.get_element_by_id("workers"),
            self.document.get_element_by_id("workers-list"),
        ) else {
            return;
        };
        let shown = self.workers.board.shown();
        if shown.is_empty() {
            let _ = panel.set_attribute("hidden", "");
        } else {
            let _ = panel.remove_attribute("hidden");
        }
        list.set_inner_html("");
        for task in shown {
            let Ok(item) = self.document.create_element("li") else {
                continue;
            };
            let _ = item.set_attribute("data-task", &task.task_id);
            let _ = item.set_attribute("data-state", &task.state);
            if let Ok(text) = self.document.create_element("span") {
                text.set_class_name("worker-line");
                text.set_text_content(Some(&task.line));
                let _ = item.append_child(&text);
            }
            if let Some(percent) = task.progress
                && let Ok(bar) = self.document.create_element("progress")
            {
                let _ = bar.set_attribute("max", "100");
                let _ = bar.set_attribute("value", &percent.to_string());
                let _ = item.append_child(&bar);
            }
            let _ = list.append_child(&item);
        }
    }
}
