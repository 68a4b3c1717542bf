//! `browser.*` against a real Chromium and a web server of the test's own
//! on 127.0.0.1: pages load with their title, clicks and typing change the
//! page, screenshots are PNGs of the viewport with the page's own pixels,
//! missing elements and never-ending loads are clear errors, conversations
//! have their own pages, a killed browser is noticed and restarted, and
//! shutdown leaves no browser process behind.
//!
//! Every test starts its own `BrowserPool` (its own Chromium and profile
//! folder), so they run in parallel without seeing one another.

use openpista::native::browser::{BrowserPool, tools};
use openpista::native::settings::BrowserSettings;
use openpista::runtime::CallContext;
use openpista::runtime::bindings::{ToolResult, WitError};
use openpista::tools::NativeTool;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const MAIN: &str = r##"<!doctype html>
<html><head><title>Browser test</title>
<style>
  body { margin: 0; font-family: sans-serif; }
  #green { width: 200px; height: 200px; background: #00ff00; }
</style></head>
<body>
  <div id="green"></div>
  <p id="status">not clicked yet</p>
  <button id="go" onclick="document.getElementById('status').textContent = 'the button was clicked'">Go</button>
  <form id="form" onsubmit="event.preventDefault(); document.getElementById('echo').textContent = 'You typed: ' + document.getElementById('q').value;">
    <input id="q" name="q" type="text">
  </form>
  <p id="echo"></p>
  <form action="/search" method="get"><input id="search" name="q" type="text"></form>
  <p id="hidden" style="display: none">never shown</p>
  <div id="spot" style="position: absolute; left: 600px; top: 20px; width: 100px; height: 50px; background: #0000ff"
       onclick="document.getElementById('status').textContent = 'the spot was clicked'"></div>
</body></html>"##;

/// Buttons that open each kind of JavaScript dialog and write down how it
/// was answered.
const DIALOGS: &str = r#"<!doctype html>
<html><head><title>Dialogs</title></head><body>
<button id="alert" onclick="alert('hello'); document.getElementById('out').textContent = 'alert closed'">alert</button>
<button id="confirm" onclick="document.getElementById('out').textContent = 'confirmed: ' + confirm('delete everything?')">confirm</button>
<p id="out">nothing yet</p>
</body></html>"#;

const SECOND: &str = r#"<!doctype html>
<html><head><title>Second page</title></head>
<body><p>This is the second page.</p></body></html>"#;

/// The test's web server: `/`, `/second`, `/dialogs`, `/long` (20,000
/// characters of text), and `/hang`, whose answer never comes.
async fn serve() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&head);
                let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
                let long;
                let found;
                let (status, body) = match path.as_str() {
                    p if p.starts_with("/search?q=") => {
                        found = format!(
                            "<!doctype html><title>Results</title><p>You searched for: {}</p>",
                            &p["/search?q=".len()..]
                        );
                        ("200 OK", found.as_str())
                    }
                    "/" => ("200 OK", MAIN),
                    "/second" => ("200 OK", SECOND),
                    "/dialogs" => ("200 OK", DIALOGS),
                    "/long" => {
                        // 20,000 characters of wrapping text.
                        long = format!(
                            "<!doctype html><title>Long</title><p>{}abcde</p>",
                            "abcd ".repeat(3999)
                        );
                        ("200 OK", long.as_str())
                    }
                    "/hang" => {
                        // Hold the connection open without answering.
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                        return;
                    }
                    _ => ("404 Not Found", "<!doctype html><title>Not found</title>"),
                };
                let response = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    format!("http://{address}")
}

/// A pool with the default settings, its tools by name, and the server.
struct Browser {
    pool: Arc<BrowserPool>,
    tools: HashMap<String, Arc<dyn NativeTool>>,
    base: String,
}

impl Browser {
    /// `None` (a loud skip, or a panic under CI) without Chromium.
    async fn start() -> Option<Browser> {
        openpista_tests::chrome::chromium()?;
        let pool = BrowserPool::new(BrowserSettings::default());
        let tools = tools(&pool)
            .into_iter()
            .map(|t| (t.spec().name, t))
            .collect();
        Some(Browser {
            pool,
            tools,
            base: serve().await,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn call(&self, session: &str, tool: &str, args: Value) -> Result<ToolResult, WitError> {
        let context = CallContext {
            session: Some(session.into()),
            call_id: "t".into(),
        };
        self.tools[tool].invoke(&args.to_string(), &context).await
    }

    /// A call that must succeed; its text.
    async fn ok(&self, session: &str, tool: &str, args: Value) -> String {
        match self.call(session, tool, args.clone()).await {
            Ok(r) if !r.is_error => r.content,
            other => panic!("{tool} {args}: {other:?}"),
        }
    }

    async fn text(&self, session: &str) -> String {
        self.ok(session, "browser.text", json!({})).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn navigate_click_and_type_change_the_page() {
    let Some(b) = Browser::start().await else {
        return;
    };
    assert_eq!(b.pool.pid(), None, "the browser starts on first use");
    let loaded = b
        .ok("s", "browser.navigate", json!({"url": b.url("/")}))
        .await;
    assert!(loaded.contains("Title: Browser test"), "{loaded}");
    assert!(loaded.contains(&b.url("/")), "{loaded}");
    assert!(b.pool.pid().is_some());

    let text = b.text("s").await;
    assert!(text.contains("not clicked yet"), "{text}");
    assert!(
        !text.contains("never shown"),
        "innerText is the visible text: {text}"
    );

    let clicked = b.ok("s", "browser.click", json!({"selector": "#go"})).await;
    assert!(
        clicked.contains("#go") && clicked.contains("Browser test"),
        "{clicked}"
    );
    let status = b
        .ok("s", "browser.text", json!({"selector": "#status"}))
        .await;
    assert_eq!(status, "the button was clicked");

    let typed = b
        .ok(
            "s",
            "browser.type",
            json!({"selector": "#q", "text": "hello, browser", "submit": true}),
        )
        .await;
    assert!(
        typed.contains("14 characters") && typed.contains("Enter"),
        "{typed}"
    );
    let echo = b
        .ok("s", "browser.text", json!({"selector": "#echo"}))
        .await;
    assert_eq!(echo, "You typed: hello, browser");

    // Enter in a real form loads the next page before the call returns.
    let sent = b
        .ok(
            "s",
            "browser.type",
            json!({"selector": "#search", "text": "pistachio", "submit": true}),
        )
        .await;
    assert!(sent.contains("\"Results\""), "{sent}");
    assert!(sent.contains("/search?q=pistachio"), "{sent}");
    assert!(b.text("s").await.contains("You searched for: pistachio"));
    b.ok("s", "browser.navigate", json!({"url": b.url("/")}))
        .await;

    // A click at a point: the blue spot placed at (600, 20), 100x50.
    let clicked = b.ok("s", "browser.click", json!({"x": 650, "y": 45})).await;
    assert!(clicked.contains("(650, 45)"), "{clicked}");
    let status = b
        .ok("s", "browser.text", json!({"selector": "#status"}))
        .await;
    assert_eq!(status, "the spot was clicked");

    // Long pages are cut with a marker.
    b.ok("s", "browser.navigate", json!({"url": b.url("/long")}))
        .await;
    let long = b.text("s").await;
    assert!(
        long.contains("[output cut: showing 10000 of 20000 characters, 10000 omitted]"),
        "{}",
        &long[long.len().saturating_sub(200)..]
    );
    b.pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn screenshots_are_pngs_of_the_viewport() {
    let Some(b) = Browser::start().await else {
        return;
    };
    b.ok("s", "browser.navigate", json!({"url": b.url("/")}))
        .await;
    let shot = b.call("s", "browser.screenshot", json!({})).await.unwrap();
    assert!(shot.content.contains("1280x800"), "{}", shot.content);
    assert!(shot.content.contains(&b.url("/")), "{}", shot.content);
    assert_eq!(shot.attachments.len(), 1);
    let png = &shot.attachments[0];
    assert_eq!(png.mime, "image/png");
    assert_eq!(png.name.as_deref(), Some("page.png"));
    let image = decode(&png.data);
    assert_eq!((image.width, image.height), (1280, 800));
    assert_eq!(image.rgb(100, 100), (0, 255, 0), "inside the green block");
    assert_eq!(image.rgb(199, 10), (0, 255, 0));
    assert_ne!(image.rgb(300, 100), (0, 255, 0), "right of the block");

    let element = b
        .call("s", "browser.screenshot", json!({"selector": "#green"}))
        .await
        .unwrap();
    let image = decode(&element.attachments[0].data);
    assert_eq!((image.width, image.height), (200, 200));
    assert_eq!(image.rgb(0, 0), (0, 255, 0));
    assert_eq!(image.rgb(199, 199), (0, 255, 0));

    b.ok("s", "browser.navigate", json!({"url": b.url("/long")}))
        .await;
    let full = b
        .call("s", "browser.screenshot", json!({"full_page": true}))
        .await
        .unwrap();
    let image = decode(&full.attachments[0].data);
    assert_eq!(image.width, 1280);
    assert!(
        image.height > 800,
        "the page is taller than the viewport: {}",
        image.height
    );
    b.pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_elements_and_pages_are_clear_errors() {
    let Some(b) = Browser::start().await else {
        return;
    };
    // Nothing open yet: no browser is started to say so.
    match b
        .call("s", "browser.click", json!({"selector": "#go"}))
        .await
    {
        Err(WitError::NotFound(m)) => assert!(m.contains("call browser.navigate"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(b.pool.pid(), None);

    b.ok("s", "browser.navigate", json!({"url": b.url("/")}))
        .await;
    for tool in ["browser.click", "browser.text", "browser.screenshot"] {
        match b.call("s", tool, json!({"selector": "#nope"})).await {
            Err(WitError::NotFound(m)) => {
                assert!(m.contains(tool), "{m}");
                assert!(
                    m.contains(r##"no element matches selector "#nope""##),
                    "{m}"
                );
                assert!(m.contains(&b.url("/")), "{m}");
            }
            other => panic!("{tool}: {other:?}"),
        }
    }
    match b
        .call(
            "s",
            "browser.type",
            json!({"selector": "#nope", "text": "x"}),
        )
        .await
    {
        Err(WitError::NotFound(m)) => assert!(m.contains("#nope"), "{m}"),
        other => panic!("{other:?}"),
    }
    match b
        .call("s", "browser.click", json!({"selector": "#hidden"}))
        .await
    {
        Err(WitError::NotFound(m)) => assert!(m.contains("not visible"), "{m}"),
        other => panic!("{other:?}"),
    }
    match b
        .call("s", "browser.click", json!({"selector": "p[["}))
        .await
    {
        Err(WitError::InvalidInput(m)) => assert!(m.contains("not a valid CSS selector"), "{m}"),
        other => panic!("{other:?}"),
    }
    match b.call("s", "browser.click", json!({})).await {
        Err(WitError::InvalidInput(m)) => assert!(m.contains("selector"), "{m}"),
        other => panic!("{other:?}"),
    }
    match b
        .call(
            "s",
            "browser.navigate",
            json!({"url": "javascript:alert(1)"}),
        )
        .await
    {
        Err(WitError::InvalidInput(m)) => assert!(m.contains("javascript"), "{m}"),
        other => panic!("{other:?}"),
    }
    // A server that is not there: the browser's own reason.
    match b
        .call(
            "s",
            "browser.navigate",
            json!({"url": "http://127.0.0.1:9/"}),
        )
        .await
    {
        Err(WitError::Upstream(u)) => assert!(u.message.contains("net::ERR_"), "{u:?}"),
        other => panic!("{other:?}"),
    }
    // A 404 loads, and says so.
    let missing = b
        .ok("s", "browser.navigate", json!({"url": b.url("/missing")}))
        .await;
    assert!(missing.contains("HTTP status: 404"), "{missing}");
    b.pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dialogs_do_not_stop_the_page_and_are_never_confirmed() {
    let Some(b) = Browser::start().await else {
        return;
    };
    b.ok("s", "browser.navigate", json!({"url": b.url("/dialogs")}))
        .await;
    // Without an answer the page would stop at the dialog, and the click
    // and everything after it would run into the deadline.
    b.ok("s", "browser.click", json!({"selector": "#alert"}))
        .await;
    assert!(b.text("s").await.contains("alert closed"));
    b.ok("s", "browser.click", json!({"selector": "#confirm"}))
        .await;
    let text = b.text("s").await;
    assert!(text.contains("confirmed: false"), "{text}");
    b.pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_conversation_has_its_own_page() {
    let Some(b) = Browser::start().await else {
        return;
    };
    b.ok("a", "browser.navigate", json!({"url": b.url("/")}))
        .await;
    b.ok("b", "browser.navigate", json!({"url": b.url("/second")}))
        .await;
    let (a, second) = (b.text("a").await, b.text("b").await);
    assert!(
        a.contains("not clicked yet") && !a.contains("second page"),
        "{a}"
    );
    assert!(second.contains("This is the second page."), "{second}");
    // A click in one conversation leaves the other's page alone.
    b.ok("a", "browser.click", json!({"selector": "#go"})).await;
    assert!(b.text("a").await.contains("the button was clicked"));
    assert!(b.text("b").await.contains("second page"));
    match b.call("c", "browser.text", json!({})).await {
        Err(WitError::NotFound(m)) => assert!(m.contains("browser.navigate"), "{m}"),
        other => panic!("{other:?}"),
    }
    b.pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_browser_is_restarted() {
    let Some(b) = Browser::start().await else {
        return;
    };
    b.ok("s", "browser.navigate", json!({"url": b.url("/")}))
        .await;
    let old = b.pool.pid().expect("running");
    unsafe {
        libc::kill(old as i32, libc::SIGKILL);
    }
    wait_gone(old).await;

    match b
        .call("s", "browser.click", json!({"selector": "#go"}))
        .await
    {
        Err(WitError::Unavailable(m)) => {
            assert!(m.contains("browser.click"), "{m}");
            assert!(m.contains("crashed and was restarted"), "{m}");
            assert!(m.contains("call browser.navigate again"), "{m}");
        }
        other => panic!("{other:?}"),
    }
    let new = b.pool.pid().expect("restarted");
    assert_ne!(new, old);
    let loaded = b
        .ok("s", "browser.navigate", json!({"url": b.url("/")}))
        .await;
    assert!(loaded.contains("Browser test"), "{loaded}");
    b.ok("s", "browser.click", json!({"selector": "#go"})).await;
    assert!(b.text("s").await.contains("the button was clicked"));
    assert_eq!(b.pool.pid(), Some(new));
    b.pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_that_never_loads_times_out() {
    let Some(b) = Browser::start().await else {
        return;
    };
    // Start the browser first, so the deadline measures the load alone.
    b.ok("s", "browser.navigate", json!({"url": "about:blank"}))
        .await;
    let started = Instant::now();
    match b
        .call(
            "s",
            "browser.navigate",
            json!({"url": b.url("/hang"), "timeout_secs": 2}),
        )
        .await
    {
        Err(WitError::Timeout(m)) => {
            assert!(m.starts_with("browser.navigate:"), "{m}");
            assert!(m.contains("after 2 s"), "{m}");
        }
        other => panic!("{other:?}"),
    }
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(8),
        "{took:?}"
    );
    // The conversation goes on with a fresh page.
    let loaded = b
        .ok("s", "browser.navigate", json!({"url": b.url("/second")}))
        .await;
    assert!(loaded.contains("Second page"), "{loaded}");
    b.pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_leaves_no_browser_process() {
    let Some(b) = Browser::start().await else {
        return;
    };
    b.ok("s", "browser.navigate", json!({"url": b.url("/")}))
        .await;
    let pid = b.pool.pid().expect("running");
    let family = descendants(pid);
    assert!(!family.is_empty(), "Chromium runs helper processes");
    b.pool.shutdown().await;
    assert_eq!(b.pool.pid(), None);
    wait_gone(pid).await;
    for child in family {
        wait_gone(child).await;
    }
    match b
        .call("s", "browser.navigate", json!({"url": b.url("/")}))
        .await
    {
        Err(WitError::Unavailable(m)) => assert!(m.contains("shut down"), "{m}"),
        other => panic!("{other:?}"),
    }
}

/// Waits until process `pid` has exited (gone, or a zombie nobody reaped).
async fn wait_gone(pid: u32) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok();
        let running = state.as_deref().is_some_and(|s| {
            let after = s.rsplit_once(')').map(|(_, rest)| rest.trim_start());
            !after.is_some_and(|r| r.starts_with('Z') || r.starts_with('X'))
        });
        if !running {
            return;
        }
        assert!(Instant::now() < deadline, "process {pid} is still running");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every process below `pid`.
fn descendants(pid: u32) -> Vec<u32> {
    let parents: Vec<(u32, u32)> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|p| {
            let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).ok()?;
            let (_, rest) = stat.rsplit_once(')')?;
            let ppid = rest.split_whitespace().nth(1)?.parse().ok()?;
            Some((p, ppid))
        })
        .collect();
    let mut found = vec![pid];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(
            parents
                .iter()
                .filter(|(_, pp)| *pp == parent)
                .map(|(p, _)| *p),
        );
        i += 1;
    }
    found.remove(0);
    found
}

struct Image {
    width: u32,
    height: u32,
    samples: usize,
    pixels: Vec<u8>,
}

impl Image {
    fn rgb(&self, x: u32, y: u32) -> (u8, u8, u8) {
        let i = (y as usize * self.width as usize + x as usize) * self.samples;
        (self.pixels[i], self.pixels[i + 1], self.pixels[i + 2])
    }
}

/// An 8-bit RGB or RGBA PNG, decoded.
fn decode(data: &[u8]) -> Image {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(data));
    decoder.set_transformations(png::Transformations::EXPAND);
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut pixels).unwrap();
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    let samples = info.color_type.samples();
    assert!(samples >= 3, "{:?}", info.color_type);
    Image {
        width: info.width,
        height: info.height,
        samples,
        pixels,
    }
}
