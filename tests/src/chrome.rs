//! A headless Chromium for end-to-end tests, driven over CDP: each test
//! launches its own, with its own profile folder, and polls the page for
//! the state it waits for. Shared by the web channel tests and the
//! sign-in tests. Without Chromium, [`Chrome::launch`] skips loudly, and
//! fails under CI (`CI=true`).

use crate::native::{require, which};
use chromiumoxide::browser::{Browser, BrowserConfig};
use chromiumoxide::error::CdpError;
use chromiumoxide::page::Page;
use futures::StreamExt;
use serde_json::Value;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How long a page may take to load.
const WAIT: Duration = Duration::from_secs(20);

/// The Chromium executable on PATH; `None` (a loud skip, or a panic
/// under CI) without one.
pub fn chromium() -> Option<PathBuf> {
    let found = which(&[
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ]);
    let present = found.clone().map(|_| ()).ok_or_else(|| {
        "none of chromium, chromium-browser, google-chrome, google-chrome-stable is on PATH"
            .to_string()
    });
    if require("Chromium (Debian package chromium)", present) {
        found
    } else {
        None
    }
}

/// A headless Chromium of the test's own, with its own profile folder.
/// Killed when dropped (a failing test included), before the profile
/// folder is removed.
pub struct Chrome {
    pub browser: Browser,
    handler: tokio::task::JoinHandle<()>,
    /// Declared last: removed after the browser is gone.
    _profile: tempfile::TempDir,
}

impl Chrome {
    /// `None` (a loud skip, or a panic under CI) without Chromium.
    pub async fn launch() -> Option<Chrome> {
        let executable = chromium()?;
        let profile = tempfile::Builder::new()
            .prefix("openpista-e2e-")
            .tempdir()
            .unwrap();
        // chromiumoxide adds `--headless` by default and the dashes itself.
        let config = BrowserConfig::builder()
            .chrome_executable(&executable)
            .user_data_dir(profile.path())
            .no_sandbox()
            // The host's own browser flags: no GPU, no background traffic.
            .args(openpista::native::browser::launch::LOCKED_DOWN)
            .launch_timeout(Duration::from_secs(30))
            .request_timeout(Duration::from_secs(30))
            .build()
            .expect("the browser configuration is valid");
        let (browser, mut handler) = Browser::launch(config)
            .await
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", executable.display()));
        let handler = tokio::spawn(async move {
            while let Some(event) = handler.next().await {
                if let Err(CdpError::Ws(_) | CdpError::Io(_)) = event {
                    break; // the browser is gone
                }
            }
        });
        Some(Chrome {
            browser,
            handler,
            _profile: profile,
        })
    }

    /// A new page (about:blank) that then navigates to `url`.
    /// (chromiumoxide 0.9.1's `new_page(url)` straight to the chat page
    /// hung here; `goto` does not.)
    pub async fn open(&self, url: &str) -> Page {
        let page = self
            .browser
            .new_page("about:blank")
            .await
            .unwrap_or_else(|e| panic!("cannot open a page: {e}"));
        match tokio::time::timeout(WAIT, page.goto(url)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => panic!("cannot open {url}: {e}"),
            Err(_) => panic!(
                "{url} did not load within {WAIT:?}\npage: {}",
                page_text(&page).await
            ),
        }
        page
    }

    /// Closes the browser, killing it if it does not go.
    pub async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(5), self.browser.close()).await;
        let _ = tokio::time::timeout(Duration::from_secs(5), self.browser.wait()).await;
        let _ = self.browser.kill().await;
    }
}

impl Drop for Chrome {
    fn drop(&mut self) {
        self.handler.abort();
        if let Some(child) = self.browser.get_mut_child()
            && matches!(child.try_wait(), Ok(None))
        {
            let _ = child.as_mut_inner().start_kill();
            for _ in 0..40 {
                if !matches!(child.try_wait(), Ok(None)) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

/// `text`, or its start and end when it is long.
pub fn shorten(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= 600 {
        return text.to_string();
    }
    let head: String = chars[..300].iter().collect();
    let tail: String = chars[chars.len() - 300..].iter().collect();
    format!("{head} […] {tail}")
}

/// JavaScript's truthiness of an evaluated value.
pub fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|n| n != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// Evaluates `expr` every 50 ms until it is truthy (and returns it); after
/// `timeout`, the last value seen, as the error. Evaluation errors (a page
/// between two documents) count as "not yet".
pub async fn poll(page: &Page, expr: &str, timeout: Duration) -> Result<Value, String> {
    let started = Instant::now();
    loop {
        let last = match page.evaluate_expression(expr).await {
            Ok(r) => {
                let v = r.value().cloned().unwrap_or(Value::Null);
                if truthy(&v) {
                    return Ok(v);
                }
                shorten(&v.to_string())
            }
            Err(e) => format!("error: {e}"),
        };
        if started.elapsed() > timeout {
            return Err(last);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The page's address and text, for failure messages.
pub async fn page_text(page: &Page) -> String {
    const JS: &str =
        "JSON.stringify({url: location.href, text: document.body && document.body.innerText})";
    match page.evaluate_expression(JS).await {
        Ok(r) => shorten(r.value().and_then(Value::as_str).unwrap_or("(nothing)")),
        Err(e) => format!("(the page cannot be read: {e})"),
    }
}
