//! `browser.*`: a real Chromium driven over the DevTools protocol (CDP),
//! for pages that need a browser to be read or used.
//!
//! - `browser.navigate {url}` loads a page and waits for it
//! - `browser.click {selector} | {x, y}` clicks an element or a point
//! - `browser.type {text, selector?, submit?}` types, optionally pressing Enter
//! - `browser.screenshot {selector?, full_page?}` returns a PNG attachment
//! - `browser.text {selector?}` returns the visible text
//!
//! One browser serves the whole host and starts on first use
//! ([`BrowserPool`]); each conversation works in its own page. Every call
//! has a deadline (`[native.browser] timeout_secs`, which a call may
//! shorten), and failures come back as the `WitError` a model can act on:
//! `NotFound` for a missing element or a conversation without a page,
//! `InvalidInput` for bad arguments, `Timeout`, and `Unavailable` when
//! Chromium is missing or had crashed (it is then restarted).
//!
//! - [`pool`]: the browser, crash detection and restarts, pages
//! - [`launch`]: the binary, the launch flags, the profile folder
//! - [`cdp`]: the protocol connection over Chromium's debugging pipe
//! - [`page`]: the commands sent to one page, and waiting for its loads
//! - [`keys`]: the keys `browser.type` presses
//! - [`mod@tools`]: the tools' arguments, descriptions and deadlines
//! - [`ops`]: what each tool does to a page

pub mod cdp;
pub mod keys;
pub mod launch;
pub mod ops;
pub mod page;
pub mod pool;
pub mod tools;

pub use pool::BrowserPool;
pub use tools::BrowserTool;

use crate::runtime::bindings::WitError;
use crate::tools::NativeTool;
use std::sync::Arc;

/// Tool names.
pub const NAVIGATE: &str = "browser.navigate";
pub const CLICK: &str = "browser.click";
pub const TYPE: &str = "browser.type";
pub const SCREENSHOT: &str = "browser.screenshot";
pub const TEXT: &str = "browser.text";

/// The browser tools sharing `pool`, in the order above.
pub fn tools(pool: &Arc<BrowserPool>) -> Vec<Arc<dyn NativeTool>> {
    tools::Kind::ALL
        .into_iter()
        .map(|kind| Arc::new(BrowserTool::new(pool.clone(), kind)) as Arc<dyn NativeTool>)
        .collect()
}

/// The text of an error, without its kind.
fn message(error: &WitError) -> String {
    match error {
        WitError::Denied(m)
        | WitError::InvalidInput(m)
        | WitError::NotFound(m)
        | WitError::Timeout(m)
        | WitError::Unavailable(m)
        | WitError::Internal(m) => m.clone(),
        WitError::Upstream(u) => u.message.clone(),
        WitError::RateLimited(r) => r.message.clone(),
    }
}
