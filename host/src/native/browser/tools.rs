//! The `browser.*` tools as the model sees them: their JSON arguments
//! (checked strictly, so a typo is an `InvalidInput` naming the field, not
//! a silently ignored option), their descriptions, and the deadline and
//! error handling every call shares.

use super::cdp::CdpError;
use super::ops::{self, Fail, Target};
use super::pool::BrowserPool;
use super::{CLICK, NAVIGATE, SCREENSHOT, TEXT, TYPE};
use crate::native::args;
use crate::native::settings::BrowserSettings;
use crate::runtime::CallContext;
use crate::runtime::bindings::{ToolResult, ToolSpec, WitError};
use crate::tools::NativeTool;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Which of the browser tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Navigate,
    Click,
    Type,
    Screenshot,
    Text,
}

impl Kind {
    /// Every tool, in the order they are registered.
    pub const ALL: [Kind; 5] = [
        Kind::Navigate,
        Kind::Click,
        Kind::Type,
        Kind::Screenshot,
        Kind::Text,
    ];

    /// The tool's name.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Navigate => NAVIGATE,
            Kind::Click => CLICK,
            Kind::Type => TYPE,
            Kind::Screenshot => SCREENSHOT,
            Kind::Text => TEXT,
        }
    }
}

/// One `browser.*` tool; all of them share the host's [`BrowserPool`].
pub struct BrowserTool {
    pool: Arc<BrowserPool>,
    kind: Kind,
}

/// A checked call.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    Navigate {
        url: String,
    },
    Click(Target),
    Type {
        text: String,
        selector: Option<String>,
        submit: bool,
    },
    Screenshot {
        selector: Option<String>,
        full_page: bool,
    },
    Text {
        selector: Option<String>,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NavigateArgs {
    url: String,
    #[serde(default)]
    timeout_secs: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClickArgs {
    #[serde(default)]
    selector: Option<String>,
    #[serde(default)]
    x: Option<f64>,
    #[serde(default)]
    y: Option<f64>,
    #[serde(default)]
    timeout_secs: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TypeArgs {
    text: String,
    #[serde(default)]
    selector: Option<String>,
    #[serde(default)]
    submit: bool,
    #[serde(default)]
    timeout_secs: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScreenshotArgs {
    #[serde(default)]
    selector: Option<String>,
    #[serde(default)]
    full_page: bool,
    #[serde(default)]
    timeout_secs: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TextArgs {
    #[serde(default)]
    selector: Option<String>,
    #[serde(default)]
    timeout_secs: Option<f64>,
}

/// Checks `arguments` for tool `kind`; returns the request and the
/// deadline the call asked for.
pub fn parse(
    kind: Kind,
    arguments: &str,
    settings: &BrowserSettings,
) -> Result<(Request, Option<f64>), WitError> {
    fn get<T: DeserializeOwned>(kind: Kind, arguments: &str) -> Result<T, WitError> {
        args::parse(kind.name(), arguments)
    }
    let tool = kind.name();
    Ok(match kind {
        Kind::Navigate => {
            let a: NavigateArgs = get(kind, arguments)?;
            (
                Request::Navigate {
                    url: check_url(&a.url)?,
                },
                a.timeout_secs,
            )
        }
        Kind::Click => {
            let a: ClickArgs = get(kind, arguments)?;
            let target = match (selector(tool, a.selector)?, a.x, a.y) {
                (Some(s), None, None) => Target::Selector(s),
                (None, Some(x), Some(y)) => {
                    let (w, h) = (settings.width as f64, settings.height as f64);
                    if !(x.is_finite()
                        && y.is_finite()
                        && (0.0..w).contains(&x)
                        && (0.0..h).contains(&y))
                    {
                        return Err(WitError::InvalidInput(format!(
                            "{tool}: the point ({x}, {y}) is outside the {}x{} viewport",
                            settings.width, settings.height
                        )));
                    }
                    Target::Point { x, y }
                }
                _ => {
                    return Err(WitError::InvalidInput(format!(
                        "{tool}: give either selector (a CSS selector) or both x and y (viewport pixels), not both and not neither"
                    )));
                }
            };
            (Request::Click(target), a.timeout_secs)
        }
        Kind::Type => {
            let a: TypeArgs = get(kind, arguments)?;
            if a.text.is_empty() && !a.submit {
                return Err(WitError::InvalidInput(format!(
                    "{tool}: text is empty (set submit to press Enter alone)"
                )));
            }
            (
                Request::Type {
                    text: a.text,
                    selector: selector(tool, a.selector)?,
                    submit: a.submit,
                },
                a.timeout_secs,
            )
        }
        Kind::Screenshot => {
            let a: ScreenshotArgs = get(kind, arguments)?;
            let selector = selector(tool, a.selector)?;
            if selector.is_some() && a.full_page {
                return Err(WitError::InvalidInput(format!(
                    "{tool}: selector and full_page cannot be combined"
                )));
            }
            (
                Request::Screenshot {
                    selector,
                    full_page: a.full_page,
                },
                a.timeout_secs,
            )
        }
        Kind::Text => {
            let a: TextArgs = get(kind, arguments)?;
            (
                Request::Text {
                    selector: selector(tool, a.selector)?,
                },
                a.timeout_secs,
            )
        }
    })
}

fn selector(tool: &str, selector: Option<String>) -> Result<Option<String>, WitError> {
    match selector {
        Some(s) if s.trim().is_empty() => {
            Err(WitError::InvalidInput(format!("{tool}: selector is empty")))
        }
        other => Ok(other),
    }
}

/// Only web pages, local files and `about:` pages may be opened (no
/// `javascript:`, `data:`, `chrome:` or extension URLs).
pub fn check_url(url: &str) -> Result<String, WitError> {
    let url = url.trim();
    let scheme = url
        .split_once(':')
        .map(|(s, _)| s)
        .filter(|s| {
            s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        })
        .map(str::to_ascii_lowercase);
    match scheme.as_deref() {
        Some("http" | "https" | "file" | "about") => Ok(url.to_string()),
        _ if url.is_empty() => Err(WitError::InvalidInput(format!("{NAVIGATE}: url is empty"))),
        Some(s) if url.contains("://") || matches!(s, "javascript" | "data" | "blob") => {
            Err(WitError::InvalidInput(format!(
                "{NAVIGATE}: only http, https, file and about URLs can be opened, not {s}:"
            )))
        }
        _ => Err(WitError::InvalidInput(format!(
            "{NAVIGATE}: {url:?} has no http, https, file or about scheme (did you mean \"https://{url}\"?)"
        ))),
    }
}

impl BrowserTool {
    /// Tool `kind` over `pool`.
    pub fn new(pool: Arc<BrowserPool>, kind: Kind) -> BrowserTool {
        BrowserTool { pool, kind }
    }

    /// Runs a checked request within its deadline.
    async fn run(
        &self,
        request: Request,
        timeout_secs: Option<f64>,
        session: Option<&str>,
    ) -> Result<ToolResult, WitError> {
        let tool = self.kind.name();
        let settings = self.pool.settings();
        let limit = args::deadline(timeout_secs, settings.timeout_secs, settings.timeout_secs);
        let until = Instant::now() + limit;
        let acquire = async {
            match request {
                Request::Navigate { .. } => self.pool.open_page(tool, session).await,
                _ => self.pool.page(tool, session).await,
            }
        };
        let page = match tokio::time::timeout_at(until, acquire).await {
            Ok(page) => page?,
            Err(_) => {
                return Err(WitError::Timeout(format!(
                    "{tool}: the browser did not start or answer after {} s",
                    secs(limit)
                )));
            }
        };
        let work = async {
            match &request {
                Request::Navigate { url } => ops::navigate(&page, url).await,
                Request::Click(target) => ops::click(&page, target, until).await,
                Request::Type {
                    text,
                    selector,
                    submit,
                } => ops::type_text(&page, text, selector.as_deref(), *submit, until).await,
                Request::Screenshot {
                    selector,
                    full_page,
                } => ops::screenshot(&page, selector.as_deref(), *full_page).await,
                Request::Text { selector } => ops::text(&page, selector.as_deref()).await,
            }
        };
        match tokio::time::timeout_at(until, work).await {
            Ok(Ok(result)) => Ok(result),
            Ok(Err(Fail::Wit(e))) => Err(e),
            Ok(Err(Fail::Cdp(e))) => Err(match self.pool.check_crash(tool, true).await {
                Some(crashed) => crashed,
                None => protocol_error(tool, e),
            }),
            Err(_) => {
                if let Some(crashed) = self.pool.check_crash(tool, false).await {
                    return Err(crashed);
                }
                if let Request::Navigate { url } = &request {
                    // The unfinished navigation would hold up the next one.
                    self.pool.discard(session, &page).await;
                    return Err(WitError::Timeout(format!(
                        "{tool}: {url} did not finish loading after {} s; its page was closed, call browser.navigate again",
                        secs(limit)
                    )));
                }
                Err(WitError::Timeout(format!(
                    "{tool}: no answer from the page after {} s",
                    secs(limit)
                )))
            }
        }
    }

    fn description(&self) -> String {
        let timeout = self.pool.settings().timeout_secs;
        let (w, h) = (self.pool.settings().width, self.pool.settings().height);
        match self.kind {
            Kind::Navigate => format!(
                "Open a URL (http, https, file or about) in this conversation's browser page and wait until it has loaded; \
                 returns the final URL and the title. Read the page with browser.text or browser.screenshot. \
                 Calls time out after {timeout} s."
            ),
            Kind::Click => format!(
                "Click an element of the current page, by CSS selector (at its centre), or a point given as x, y in \
                 pixels of the {w}x{h} viewport (as on a browser.screenshot). Returns the page's URL and title afterwards."
            ),
            Kind::Type => "Type text into the element matching selector (focused first), or into the focused element \
                 when no selector is given; submit: true presses Enter afterwards (to send a form or a search)."
                .into(),
            Kind::Screenshot => format!(
                "Take a PNG screenshot of the current page: the {w}x{h} viewport, the whole page (full_page: true) \
                 or the element matching selector."
            ),
            Kind::Text => format!(
                "Read the visible text of the current page, or of the element matching selector; at most {} characters are returned.",
                ops::TEXT_LIMIT
            ),
        }
    }

    fn parameters(&self) -> serde_json::Value {
        let selector = |what: &str| serde_json::json!({"type": "string", "description": what});
        let timeout = serde_json::json!({"type": "number", "description": "Deadline in seconds (at most the configured one)."});
        let (properties, required) = match self.kind {
            Kind::Navigate => (
                serde_json::json!({
                    "url": {"type": "string", "description": "The address, such as https://example.com/."},
                    "timeout_secs": timeout
                }),
                vec!["url"],
            ),
            Kind::Click => (
                serde_json::json!({
                    "selector": selector("CSS selector of the element to click."),
                    "x": {"type": "number", "description": "Horizontal viewport pixel (with y, instead of selector)."},
                    "y": {"type": "number", "description": "Vertical viewport pixel (with x, instead of selector)."},
                    "timeout_secs": timeout
                }),
                vec![],
            ),
            Kind::Type => (
                serde_json::json!({
                    "text": {"type": "string", "description": "The text to type; a newline presses Enter."},
                    "selector": selector("CSS selector of the field to type into."),
                    "submit": {"type": "boolean", "description": "Press Enter after the text."},
                    "timeout_secs": timeout
                }),
                vec!["text"],
            ),
            Kind::Screenshot => (
                serde_json::json!({
                    "selector": selector("CSS selector of one element to capture."),
                    "full_page": {"type": "boolean", "description": "Capture the whole page, not only the viewport."},
                    "timeout_secs": timeout
                }),
                vec![],
            ),
            Kind::Text => (
                serde_json::json!({
                    "selector": selector("CSS selector of the element to read."),
                    "timeout_secs": timeout
                }),
                vec![],
            ),
        };
        serde_json::json!({
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": false
        })
    }
}

impl NativeTool for BrowserTool {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: self.kind.name().into(),
            description: self.description(),
            parameters: self.parameters().to_string(),
        }
    }

    fn invoke<'a>(
        &'a self,
        arguments: &'a str,
        context: &'a CallContext,
    ) -> Pin<Box<dyn Future<Output = Result<ToolResult, WitError>> + Send + 'a>> {
        Box::pin(async move {
            let (request, timeout_secs) = parse(self.kind, arguments, self.pool.settings())?;
            self.run(request, timeout_secs, context.session.as_deref())
                .await
        })
    }
}

/// A protocol error from a browser that is still alive.
fn protocol_error(tool: &str, error: CdpError) -> WitError {
    match error {
        CdpError::Script(why) => {
            WitError::Internal(format!("{tool}: a script in the page failed: {why}"))
        }
        CdpError::Closed => WitError::Unavailable(format!(
            "{tool}: the page was closed or crashed while the call ran; call browser.navigate again"
        )),
        other => WitError::Internal(format!("{tool}: the browser failed: {other}")),
    }
}

/// A duration as whole seconds when it is whole.
fn secs(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        d.as_secs().to_string()
    } else {
        format!("{:.1}", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(kind: Kind, json: &str) -> Result<Request, WitError> {
        parse(kind, json, &BrowserSettings::default()).map(|(r, _)| r)
    }

    fn invalid(kind: Kind, json: &str) -> String {
        match request(kind, json) {
            Err(WitError::InvalidInput(m)) => m,
            other => panic!("{json}: {other:?}"),
        }
    }

    #[test]
    fn click_needs_a_selector_or_a_point() {
        assert_eq!(
            request(Kind::Click, r##"{"selector":"#go"}"##).unwrap(),
            Request::Click(Target::Selector("#go".into()))
        );
        assert_eq!(
            request(Kind::Click, r#"{"x":10,"y":20.5}"#).unwrap(),
            Request::Click(Target::Point { x: 10.0, y: 20.5 })
        );
        for bad in ["{}", r#"{"x":1}"#, r##"{"selector":"#a","x":1,"y":2}"##] {
            assert!(
                invalid(Kind::Click, bad).contains("either selector"),
                "{bad}"
            );
        }
        assert!(invalid(Kind::Click, r#"{"x":5000,"y":1}"#).contains("1280x800"));
        assert!(invalid(Kind::Click, r#"{"selector":" "}"#).contains("empty"));
        assert!(invalid(Kind::Click, r#"{"selector":"a","button":"right"}"#).contains("button"));
    }

    #[test]
    fn urls_are_limited_to_web_files_and_about() {
        for good in [
            "https://example.com/",
            "HTTP://x",
            "file:///tmp/a.html",
            "about:blank",
        ] {
            assert!(check_url(good).is_ok(), "{good}");
        }
        let m = invalid(Kind::Navigate, r#"{"url":"javascript:alert(1)"}"#);
        assert!(m.contains("not javascript:"), "{m}");
        let m = invalid(Kind::Navigate, r#"{"url":"chrome://settings"}"#);
        assert!(m.contains("not chrome:"), "{m}");
        let m = invalid(Kind::Navigate, r#"{"url":"example.com"}"#);
        assert!(m.contains("https://example.com"), "{m}");
        assert!(invalid(Kind::Navigate, "{}").contains("url"));
        assert!(invalid(Kind::Navigate, r#"{"url":""}"#).contains("empty"));
    }

    #[test]
    fn other_tools_check_their_arguments() {
        assert_eq!(
            request(Kind::Type, r#"{"text":"hi","submit":true}"#).unwrap(),
            Request::Type {
                text: "hi".into(),
                selector: None,
                submit: true
            }
        );
        assert!(invalid(Kind::Type, r#"{"text":""}"#).contains("empty"));
        assert!(request(Kind::Type, r#"{"text":"","submit":true}"#).is_ok());
        assert!(
            invalid(Kind::Screenshot, r#"{"selector":"a","full_page":true}"#)
                .contains("cannot be combined")
        );
        assert_eq!(
            request(Kind::Text, "").unwrap(),
            Request::Text { selector: None }
        );
        let (_, timeout) = parse(
            Kind::Navigate,
            r#"{"url":"about:blank","timeout_secs":2}"#,
            &BrowserSettings::default(),
        )
        .unwrap();
        assert_eq!(timeout, Some(2.0));
    }

    #[test]
    fn specs_are_valid_json_schemas_with_the_tool_names() {
        let pool = BrowserPool::new(BrowserSettings::default());
        let names: Vec<String> = super::super::tools(&pool)
            .iter()
            .map(|t| {
                let spec = t.spec();
                let schema: serde_json::Value = serde_json::from_str(&spec.parameters).unwrap();
                assert_eq!(schema["additionalProperties"], false);
                spec.name
            })
            .collect();
        assert_eq!(names, [NAVIGATE, CLICK, TYPE, SCREENSHOT, TEXT]);
        // Building the tools starts nothing.
        assert_eq!(pool.pid(), None);
    }

    #[test]
    fn seconds_read_naturally() {
        assert_eq!(secs(Duration::from_secs(5)), "5");
        assert_eq!(secs(Duration::from_millis(2500)), "2.5");
    }
}
