//! One page: a tab attached to the browser's connection under its own
//! session, and the DevTools commands `browser.*` sends to it.
//!
//! Waiting for a load follows the page's own lifecycle events, matched to
//! the navigation by its loader id, so that a load still running from an
//! earlier navigation never ends the wait for a later one.

use super::cdp::{CdpError, Connection, Event};
use super::keys;
use base64::Engine;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::sync::Arc;
use tokio::sync::broadcast;

/// A page's events from the moment it was made: see [`Page::watch`].
pub struct Watch {
    events: broadcast::Receiver<Arc<Event>>,
}

/// A tab in the browser, attached in flat mode: its commands go over the
/// browser's connection with its session id.
#[derive(Clone)]
pub struct Page {
    connection: Connection,
    session: Arc<str>,
    target: Arc<str>,
}

/// An area of the page, in CSS pixels of the document.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Clip {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
}

impl Page {
    /// Attaches to the tab `target` and prepares it: page events on, a
    /// `width`×`height` viewport at scale 1.
    pub async fn attach(
        connection: &Connection,
        target: &str,
        width: u32,
        height: u32,
    ) -> Result<Page, CdpError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Attached {
            session_id: String,
        }
        let attached: Attached = connection
            .call_as(
                None,
                "Target.attachToTarget",
                json!({ "targetId": target, "flatten": true }),
            )
            .await?;
        let page = Page {
            connection: connection.clone(),
            session: attached.session_id.into(),
            target: target.into(),
        };
        page.call("Page.enable", json!({})).await?;
        page.call("Page.setLifecycleEventsEnabled", json!({ "enabled": true }))
            .await?;
        page.call(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": false }),
        )
        .await?;
        Ok(page)
    }

    /// The tab's target id, which is also its main frame's id.
    pub fn target_id(&self) -> &str {
        &self.target
    }

    /// The session the tab is attached under.
    pub fn session(&self) -> &str {
        &self.session
    }

    /// Whether the tab went away (closed by a script, crashed) or the
    /// browser did.
    pub fn is_gone(&self) -> bool {
        self.connection.is_detached(&self.session)
    }

    async fn call(&self, method: &str, params: Value) -> Result<Value, CdpError> {
        self.connection
            .call(Some(&self.session), method, params)
            .await
    }

    /// Loads `url` and waits for its `load` event. `Ok(Some(reason))` when
    /// Chromium could not load it (`net::ERR_NAME_NOT_RESOLVED`, say).
    pub async fn navigate(&self, url: &str) -> Result<Option<String>, CdpError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Navigated {
            loader_id: Option<String>,
            error_text: Option<String>,
        }
        let mut watch = self.watch();
        let answer: Navigated = self
            .connection
            .call_as(Some(&self.session), "Page.navigate", json!({ "url": url }))
            .await?;
        if let Some(error) = answer.error_text.filter(|e| !e.is_empty()) {
            return Ok(Some(error));
        }
        // Without a loader the navigation stayed in the document (#anchor).
        let Some(loader) = answer.loader_id else {
            return Ok(None);
        };
        self.loaded(&mut watch, Some(&loader)).await?;
        Ok(None)
    }

    /// Starts collecting the page's events, before input that may start a
    /// navigation.
    pub fn watch(&self) -> Watch {
        Watch {
            events: self.connection.subscribe(),
        }
    }

    /// The next of this page's events that `matches`; `Closed` when the
    /// page or the browser goes away first.
    async fn next(
        &self,
        watch: &mut Watch,
        mut matches: impl FnMut(&Event) -> bool,
    ) -> Result<Arc<Event>, CdpError> {
        loop {
            let event = match watch.events.recv().await {
                Ok(event) => event,
                // Missed events: the wait goes on, bounded by the caller's deadline.
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return Err(CdpError::Closed),
            };
            let ours = event.session.as_deref() == Some(&*self.session);
            if (event.method == "Target.detachedFromTarget"
                && event.params["sessionId"].as_str() == Some(&*self.session))
                || (ours && event.method == "Inspector.targetCrashed")
            {
                return Err(CdpError::Closed);
            }
            if ours && matches(&event) {
                return Ok(event);
            }
        }
    }

    /// Waits for the main frame to start loading a document.
    pub async fn load_started(&self, watch: &mut Watch) -> Result<(), CdpError> {
        let main = self.target.clone();
        self.next(watch, |e| {
            e.method == "Page.frameStartedLoading" && e.params["frameId"].as_str() == Some(&main)
        })
        .await
        .map(drop)
    }

    /// Waits for the main frame's `load` event: of the document `loader`
    /// loads, or of the next document when `None`. Also ends when the main
    /// frame stops loading without a new document (a download, a 204).
    pub async fn loaded(&self, watch: &mut Watch, loader: Option<&str>) -> Result<(), CdpError> {
        let main = self.target.clone();
        // The document of `loader` has replaced the old one: the next load
        // event is its own.
        let mut committed = loader.is_none();
        self.next(watch, |e| match e.method.as_str() {
            "Page.lifecycleEvent" => {
                e.params["name"] == "load"
                    && e.params["frameId"].as_str() == Some(&main)
                    && loader.is_none_or(|l| e.params["loaderId"].as_str() == Some(l))
            }
            "Page.frameNavigated" => {
                let frame = &e.params["frame"];
                if frame["id"].as_str() == Some(&main)
                    && loader.is_none_or(|l| frame["loaderId"].as_str() == Some(l))
                {
                    committed = true;
                }
                false
            }
            "Page.loadEventFired" => committed,
            "Page.frameStoppedLoading" => {
                (committed || loader.is_none()) && e.params["frameId"].as_str() == Some(&main)
            }
            _ => false,
        })
        .await
        .map(drop)
    }

    /// The page's address, from the browser's list of targets.
    pub async fn url(&self) -> Result<String, CdpError> {
        let info = self
            .connection
            .call(
                None,
                "Target.getTargetInfo",
                json!({ "targetId": &*self.target }),
            )
            .await?;
        info["targetInfo"]["url"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| CdpError::malformed("Target.getTargetInfo", "no targetInfo.url"))
    }

    /// Evaluates `expression` in the main frame, awaiting a promise, and
    /// decodes its value; a thrown exception is [`CdpError::Script`].
    pub async fn eval<T: DeserializeOwned>(&self, expression: &str) -> Result<T, CdpError> {
        let mut answer = self
            .call(
                "Runtime.evaluate",
                json!({ "expression": expression, "awaitPromise": true, "returnByValue": true }),
            )
            .await?;
        if let Some(details) = answer.get("exceptionDetails") {
            let why = details["exception"]["description"]
                .as_str()
                .or(details["text"].as_str())
                .unwrap_or("an exception without a description");
            return Err(CdpError::Script(why.to_owned()));
        }
        let value = answer["result"]
            .get_mut("value")
            .map(Value::take)
            .unwrap_or(Value::Null);
        serde_json::from_value(value).map_err(|e| CdpError::malformed("Runtime.evaluate", e))
    }

    /// A left click at (`x`, `y`) in viewport coordinates: the pointer
    /// moves there, presses and releases.
    pub async fn click(&self, x: f64, y: f64) -> Result<(), CdpError> {
        self.call(
            "Input.dispatchMouseEvent",
            json!({ "type": "mouseMoved", "x": x, "y": y }),
        )
        .await?;
        for kind in ["mousePressed", "mouseReleased"] {
            self.call(
                "Input.dispatchMouseEvent",
                json!({ "type": kind, "x": x, "y": y, "button": "left", "clickCount": 1 }),
            )
            .await?;
        }
        Ok(())
    }

    /// Presses and releases one key: a named key (`Enter`) or a character.
    /// Characters a US keyboard has no key for are inserted as text.
    pub async fn press(&self, name: &str) -> Result<(), CdpError> {
        let Some(key) = keys::key(name) else {
            self.call("Input.insertText", json!({ "text": name }))
                .await?;
            return Ok(());
        };
        for event in key.events() {
            self.call("Input.dispatchKeyEvent", event).await?;
        }
        Ok(())
    }

    /// The size of the whole document, in CSS pixels.
    pub async fn content_size(&self) -> Result<(f64, f64), CdpError> {
        let metrics = self.call("Page.getLayoutMetrics", json!({})).await?;
        let size = &metrics["cssContentSize"];
        match (size["width"].as_f64(), size["height"].as_f64()) {
            (Some(width), Some(height)) => Ok((width, height)),
            _ => Err(CdpError::malformed(
                "Page.getLayoutMetrics",
                "no cssContentSize",
            )),
        }
    }

    /// A PNG of the viewport, or of `clip` (which may reach beyond it).
    pub async fn screenshot(&self, clip: Option<Clip>) -> Result<Vec<u8>, CdpError> {
        let mut params = json!({ "format": "png" });
        if let Some(c) = clip {
            params["clip"] =
                json!({ "x": c.x, "y": c.y, "width": c.width, "height": c.height, "scale": 1 });
            params["captureBeyondViewport"] = json!(true);
        }
        let answer = self.call("Page.captureScreenshot", params).await?;
        let method = "Page.captureScreenshot";
        let data = answer["data"]
            .as_str()
            .ok_or_else(|| CdpError::malformed(method, "no data"))?;
        base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|e| CdpError::malformed(method, e))
    }
}
