//! What each `browser.*` tool does to a page, over the DevTools protocol.
//!
//! Elements are found with `document.querySelector` in one script that
//! also scrolls them into view and measures them, so a missing element, a
//! malformed selector and an invisible element each get their own clear
//! error in a single round trip. Clicks and keys are real input events
//! (`Input.dispatchMouseEvent`, `Input.dispatchKeyEvent`), not
//! `element.click()`, so pages see what a person's input would produce.

use super::cdp::CdpError;
use super::page::{Clip, Page, Watch};
use super::{CLICK, NAVIGATE, SCREENSHOT, TEXT, TYPE};
use crate::native::process::with_marker;
use crate::runtime::bindings::{Attachment, ToolResult, UpstreamError, WitError};
use serde::Deserialize;
use std::time::Duration;
use tokio::time::Instant;

/// Characters of page text returned by `browser.text`.
pub const TEXT_LIMIT: usize = 10_000;

/// Widest and tallest full-page screenshot taken, in CSS pixels
/// (Chromium's own limit on a captured surface).
const MAX_FULL: f64 = 16_384.0;

/// Longest wait for a page to settle after a click or Enter.
const SETTLE_MAX: Duration = Duration::from_secs(10);

/// How soon after a click or a key a navigation it caused has started.
const NAVIGATION_START: Duration = Duration::from_millis(200);

/// Why an operation failed: an answer for the model already, or a protocol
/// error that may mean the browser died (the caller checks).
#[derive(Debug)]
pub enum Fail {
    Wit(WitError),
    Cdp(CdpError),
}

impl From<WitError> for Fail {
    fn from(e: WitError) -> Fail {
        Fail::Wit(e)
    }
}

impl From<CdpError> for Fail {
    fn from(e: CdpError) -> Fail {
        Fail::Cdp(e)
    }
}

/// Where `browser.click` clicks.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    Selector(String),
    Point { x: f64, y: f64 },
}

/// The page's address and title, and the HTTP status of its document (0
/// for pages that did not come over HTTP).
#[derive(Deserialize)]
struct Here {
    url: String,
    title: String,
    #[serde(default)]
    status: u16,
}

impl Here {
    fn describe(&self) -> String {
        if self.title.trim().is_empty() {
            self.url.clone()
        } else {
            format!("\"{}\" ({})", self.title.trim(), self.url)
        }
    }
}

/// An element found by selector, measured after scrolling it into view.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Located {
    url: String,
    found: bool,
    /// The selector was not valid CSS; the browser's reason.
    invalid: Option<String>,
    /// Centre, in viewport coordinates.
    x: f64,
    y: f64,
    /// Top-left corner, in document coordinates.
    left: f64,
    top: f64,
    width: f64,
    height: f64,
    /// Whether the element has the focus (when asked to take it).
    focused: bool,
    text: String,
}

/// What the locating script also does with the element.
#[derive(Clone, Copy)]
enum Also {
    Scroll,
    Focus,
    ReadText,
}

/// Loads `url` and waits for its `load` event.
pub async fn navigate(page: &Page, url: &str) -> Result<ToolResult, Fail> {
    // Page.navigate's own error text, such as net::ERR_NAME_NOT_RESOLVED.
    if let Some(why) = page.navigate(url).await? {
        return Err(Fail::Wit(WitError::Upstream(UpstreamError {
            status: None,
            message: format!("{NAVIGATE}: {url} could not be loaded: {why}"),
        })));
    }
    // A page that moves on by script right after loading may not answer
    // at once; the address is known without it.
    let here = match tokio::time::timeout(Duration::from_secs(2), here(page)).await {
        Ok(Ok(here)) => here,
        _ => Here {
            url: page.url().await.unwrap_or_else(|_| url.into()),
            title: String::new(),
            status: 0,
        },
    };
    let mut text = format!(
        "Loaded {}\nTitle: {}",
        here.url,
        if here.title.trim().is_empty() {
            "(none)"
        } else {
            here.title.trim()
        }
    );
    if here.status >= 400 {
        text.push_str(&format!("\nHTTP status: {}", here.status));
    }
    Ok(ok(text))
}

/// Clicks the element matching a selector (at its centre) or a point.
pub async fn click(page: &Page, target: &Target, until: Instant) -> Result<ToolResult, Fail> {
    let navigation = page.watch();
    let what = match target {
        Target::Selector(selector) => {
            let el = locate(page, CLICK, selector, Also::Scroll).await?;
            visible(CLICK, selector, &el)?;
            page.click(el.x, el.y).await?;
            format!(
                "Clicked the element matching {selector:?} at ({:.0}, {:.0})",
                el.x, el.y
            )
        }
        Target::Point { x, y } => {
            page.click(*x, *y).await?;
            format!("Clicked at ({x}, {y})")
        }
    };
    settle(page, navigation, until).await;
    Ok(ok(format!("{what}. The page is now {}.", now(page).await)))
}

/// Types `text` into the element matching `selector` (focused first) or
/// into whatever has the focus, then presses Enter when `submit`.
pub async fn type_text(
    page: &Page,
    text: &str,
    selector: Option<&str>,
    submit: bool,
    until: Instant,
) -> Result<ToolResult, Fail> {
    let navigation = page.watch();
    let into = match selector {
        Some(selector) => {
            let el = locate(page, TYPE, selector, Also::Focus).await?;
            if !el.focused {
                // Not focusable by script (a custom widget): click it.
                visible(TYPE, selector, &el)?;
                page.click(el.x, el.y).await?;
            }
            format!("the element matching {selector:?}")
        }
        None => page
            .eval::<Option<String>>(FOCUSED)
            .await?
            .map(|f| format!("the focused element ({f})"))
            .unwrap_or_else(|| "the page (no element had the focus)".into()),
    };
    for c in text.chars() {
        match c {
            '\r' => {}
            '\n' => page.press("Enter").await?,
            c => page.press(c.encode_utf8(&mut [0; 4])).await?,
        }
    }
    let count = text.chars().filter(|c| *c != '\r').count();
    let mut done = format!("Typed {count} characters into {into}");
    if submit {
        page.press("Enter").await?;
        done.push_str(" and pressed Enter");
    }
    settle(page, navigation, until).await;
    Ok(ok(format!("{done}. The page is now {}.", now(page).await)))
}

/// A PNG of the viewport, of the whole page, or of one element.
pub async fn screenshot(
    page: &Page,
    selector: Option<&str>,
    full_page: bool,
) -> Result<ToolResult, Fail> {
    let mut area = None;
    let mut note = String::new();
    if let Some(selector) = selector {
        let el = locate(page, SCREENSHOT, selector, Also::Scroll).await?;
        visible(SCREENSHOT, selector, &el)?;
        area = Some(clip(el.left, el.top, el.width, el.height));
        note = format!(" (the element matching {selector:?})");
    } else if full_page {
        let size = page.content_size().await?;
        let (width, height) = (size.0.min(MAX_FULL), size.1.min(MAX_FULL));
        note = if (width, height) == size {
            " (the whole page)".into()
        } else {
            format!(
                " (the whole page, cut at {MAX_FULL} pixels from {:.0}x{:.0})",
                size.0, size.1
            )
        };
        area = Some(clip(0.0, 0.0, width, height));
    }
    let png = page.screenshot(area).await?;
    let (width, height) = png_size(&png).unwrap_or((0, 0));
    let mut result = ok(format!(
        "Screenshot of {}{note}: {width}x{height} pixels (PNG, {} bytes, attached).",
        now(page).await,
        png.len()
    ));
    result.attachments.push(Attachment {
        mime: "image/png".into(),
        name: Some("page.png".into()),
        data: png,
    });
    Ok(result)
}

/// The visible text (`innerText`) of the page or of one element.
pub async fn text(page: &Page, selector: Option<&str>) -> Result<ToolResult, Fail> {
    let text = match selector {
        Some(selector) => locate(page, TEXT, selector, Also::ReadText).await?.text,
        None => page.eval::<String>(PAGE_TEXT).await?,
    };
    if text.trim().is_empty() {
        return Ok(ok("(no visible text)"));
    }
    let total = text.chars().count();
    Ok(ok(with_marker(&text, total, TEXT_LIMIT)))
}

/// After input: when the page started loading within [`NAVIGATION_START`],
/// waits for the load to end, within `until` and at most [`SETTLE_MAX`].
/// A page still loading then is reported as it is, not as a failure.
async fn settle(page: &Page, mut navigation: Watch, until: Instant) {
    let until = until
        .checked_sub(Duration::from_millis(500))
        .unwrap_or(until)
        .min(Instant::now() + SETTLE_MAX);
    let deadline = (Instant::now() + NAVIGATION_START).min(until);
    if let Ok(Ok(())) = tokio::time::timeout_at(deadline, page.load_started(&mut navigation)).await
    {
        let _ = tokio::time::timeout_at(until, page.loaded(&mut navigation, None)).await;
    }
}

/// The page's title and address for a result, best effort: a page in the
/// middle of loading may not answer scripts yet.
async fn now(page: &Page) -> String {
    match tokio::time::timeout(Duration::from_secs(2), here(page)).await {
        Ok(Ok(here)) => here.describe(),
        _ => match page.url().await {
            Ok(url) => format!("{url} (still loading)"),
            Err(_) => "still loading".into(),
        },
    }
}

/// Finds the first element matching `selector`, scrolls it into view and
/// measures it; a missing element or a bad selector is the model's error.
async fn locate(page: &Page, tool: &str, selector: &str, also: Also) -> Result<Located, Fail> {
    let also = match also {
        Also::Scroll => "scroll",
        Also::Focus => "focus",
        Also::ReadText => "text",
    };
    let script = format!(
        "({LOCATE})({}, {also:?})",
        serde_json::to_string(selector).expect("a string serializes")
    );
    let el: Located = page.eval(&script).await?;
    if let Some(why) = el.invalid {
        return Err(Fail::Wit(WitError::InvalidInput(format!(
            "{tool}: {selector:?} is not a valid CSS selector: {why}"
        ))));
    }
    if !el.found {
        return Err(Fail::Wit(WitError::NotFound(format!(
            "{tool}: no element matches selector {selector:?} on {}",
            el.url
        ))));
    }
    Ok(el)
}

/// An element without area cannot be clicked or pictured.
fn visible(tool: &str, selector: &str, el: &Located) -> Result<(), Fail> {
    if el.width > 0.0 && el.height > 0.0 {
        return Ok(());
    }
    Err(Fail::Wit(WitError::NotFound(format!(
        "{tool}: the element matching selector {selector:?} on {} is not visible (it has no size)",
        el.url
    ))))
}

async fn here(page: &Page) -> Result<Here, CdpError> {
    page.eval(HERE).await
}

fn clip(x: f64, y: f64, width: f64, height: f64) -> Clip {
    Clip {
        x,
        y,
        width,
        height,
    }
}

fn ok(content: impl Into<String>) -> ToolResult {
    super::super::args::text(content)
}

/// Width and height from a PNG's header.
pub fn png_size(png: &[u8]) -> Option<(u32, u32)> {
    if png.len() < 24 || &png[..8] != b"\x89PNG\r\n\x1a\n" || &png[12..16] != b"IHDR" {
        return None;
    }
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    Some((be(&png[16..20]), be(&png[20..24])))
}

/// `(selector, also) => {...}`: finds, scrolls to and measures an element;
/// `also` is "scroll", "focus" (take the focus, caret at the end) or
/// "text" (read its innerText).
const LOCATE: &str = r#"(sel, also) => {
  const url = location.href;
  let el;
  try { el = document.querySelector(sel); }
  catch (e) { return { url, invalid: String((e && e.message) || e) }; }
  if (!el) return { url, found: false };
  if (also === "text") return { url, found: true, text: el.innerText ?? el.textContent ?? "" };
  el.scrollIntoView({ block: "center", inline: "center", behavior: "instant" });
  let focused = false;
  if (also === "focus") {
    if (typeof el.focus === "function") el.focus();
    focused = document.activeElement === el;
    if (focused && typeof el.value === "string" && el.setSelectionRange) {
      try { el.setSelectionRange(el.value.length, el.value.length); } catch (e) {}
    }
  }
  const r = el.getBoundingClientRect();
  return { url, found: true, focused,
    x: r.left + r.width / 2, y: r.top + r.height / 2,
    left: r.left + window.scrollX, top: r.top + window.scrollY,
    width: r.width, height: r.height };
}"#;

/// The page's address, title and HTTP status (from the navigation's
/// timing entry, which Chromium fills in as soon as the response arrives).
const HERE: &str = r#"(() => {
  const nav = performance.getEntriesByType("navigation")[0];
  return { url: location.href, title: document.title, status: (nav && nav.responseStatus) || 0 };
})()"#;

/// The whole page's visible text.
const PAGE_TEXT: &str = r#"(() => {
  const root = document.body || document.documentElement;
  return root ? (root.innerText ?? root.textContent ?? "") : "";
})()"#;

/// A short description of the focused element, or null.
const FOCUSED: &str = r##"(() => {
  const a = document.activeElement;
  if (!a || a === document.body || a === document.documentElement) return null;
  return a.tagName.toLowerCase() + (a.id ? "#" + a.id : "");
})()"##;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_png_dimensions() {
        let png = crate::native::screen::encode_png(&[0; 3 * 6], 3, 2).unwrap();
        assert_eq!(png_size(&png), Some((3, 2)));
        assert_eq!(png_size(b"not a png at all, no no no"), None);
    }

    #[test]
    fn descriptions_prefer_the_title() {
        let here = Here {
            url: "http://a/".into(),
            title: " A ".into(),
            status: 200,
        };
        assert_eq!(here.describe(), "\"A\" (http://a/)");
        let here = Here {
            url: "http://a/".into(),
            title: String::new(),
            status: 0,
        };
        assert_eq!(here.describe(), "http://a/");
    }
}
