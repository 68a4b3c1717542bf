//! `screen.capture` against a real X server (Xvfb): the PNG has the
//! display's size and shows a window the test drew, a region and a
//! monitor can be chosen, bad requests say why, and the screenshot
//! reaches the model through a real provider component within the turn.
//! `screen.ocr` reads text the test drew (Tesseract for real), with word
//! boxes in screen coordinates, and says so when tesseract is missing.

use openpista::agent::Agent;
use openpista::config::Config;
use openpista::native::env::EnvScrub;
use openpista::native::ocr::ScreenOcr;
use openpista::native::screen::ScreenCapture;
use openpista::native::settings::ScreenSettings;
use openpista::runtime::CallContext;
use openpista::runtime::bindings::{ToolResult, WitError, error_text};
use openpista::tools::{NativeTool, ToolRegistry};
use openpista_tests::doubles::openai::{OpenAiDouble, Reply};
use openpista_tests::native::{Xvfb, require};
use std::sync::Arc;
use x11rb::connection::Connection;
use x11rb::protocol::xproto::{ConnectionExt, CreateGCAux, CreateWindowAux, WindowClass};

const GREEN: (u32, u32, u32, u32) = (20, 30, 40, 50); // x, y, width, height

/// An Xvfb with a pure green window at `GREEN`, or `None` (skipped).
fn display() -> Option<Xvfb> {
    let x = Xvfb::start(320, 240);
    if !require(
        "Xvfb (Debian package xvfb)",
        x.as_ref().map(|_| ()).map_err(|e| e.clone()),
    ) {
        return None;
    }
    let x = x.unwrap();
    let (conn, screen_num) = x11rb::connect(Some(&x.display)).unwrap();
    let screen = &conn.setup().roots[screen_num];
    let window = conn.generate_id().unwrap();
    let (gx, gy, gw, gh) = GREEN;
    conn.create_window(
        screen.root_depth,
        window,
        screen.root,
        gx as i16,
        gy as i16,
        gw as u16,
        gh as u16,
        0,
        WindowClass::INPUT_OUTPUT,
        screen.root_visual,
        &CreateWindowAux::new()
            .background_pixel(0x00ff00)
            .override_redirect(1),
    )
    .unwrap();
    conn.map_window(window).unwrap();
    conn.get_input_focus().unwrap().reply().unwrap(); // a round trip: drawn
    // The window lives as long as its client: keep the connection open.
    std::mem::forget(conn);
    Some(x)
}

fn ctx() -> CallContext {
    CallContext {
        session: Some("test:screen".into()),
        call_id: "c1".into(),
    }
}

async fn capture(args: serde_json::Value) -> Result<ToolResult, WitError> {
    ScreenCapture::new(ScreenSettings::default())
        .invoke(&args.to_string(), &ctx())
        .await
}

/// (width, height, RGB bytes) of a PNG.
fn decode(png_bytes: &[u8]) -> (u32, u32, Vec<u8>) {
    let mut reader = png::Decoder::new(std::io::Cursor::new(png_bytes))
        .read_info()
        .unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgb);
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf)
}

fn pixel(rgb: &[u8], width: u32, x: u32, y: u32) -> [u8; 3] {
    let i = ((y * width + x) * 3) as usize;
    [rgb[i], rgb[i + 1], rgb[i + 2]]
}

#[tokio::test]
async fn captures_the_display_a_region_and_a_monitor() {
    let Some(x) = display() else { return };
    let r = capture(serde_json::json!({"display": x.display}))
        .await
        .unwrap();
    assert!(!r.is_error);
    assert_eq!(r.attachments.len(), 1);
    assert_eq!(r.attachments[0].mime, "image/png");
    assert!(r.content.contains("Captured 320x240"), "{}", r.content);
    let (w, h, rgb) = decode(&r.attachments[0].data);
    assert_eq!((w, h), (320, 240));
    let (gx, gy, gw, gh) = GREEN;
    assert_eq!(pixel(&rgb, w, gx + gw / 2, gy + gh / 2), [0, 255, 0]);
    assert_eq!(pixel(&rgb, w, gx, gy), [0, 255, 0]);
    assert_ne!(
        pixel(&rgb, w, gx + gw, gy + gh),
        [0, 255, 0],
        "outside the window"
    );
    assert_ne!(pixel(&rgb, w, 300, 200), [0, 255, 0]);

    // Just the window: every pixel green.
    let r = capture(serde_json::json!({
        "display": x.display,
        "region": {"x": gx, "y": gy, "width": gw, "height": gh},
    }))
    .await
    .unwrap();
    let (w, h, rgb) = decode(&r.attachments[0].data);
    assert_eq!((w, h), (gw, gh));
    assert!(rgb.chunks(3).all(|p| p == [0, 255, 0]));

    // Monitor 0 is the whole Xvfb screen.
    let r = capture(serde_json::json!({"display": x.display, "monitor": 0}))
        .await
        .unwrap();
    assert_eq!(decode(&r.attachments[0].data).0, 320);
    assert!(
        r.content.contains("Monitors: 0: 320x240 at 0,0."),
        "{}",
        r.content
    );
}

#[tokio::test]
async fn bad_requests_and_a_missing_display_say_why() {
    let Some(x) = display() else { return };
    let e = capture(serde_json::json!({"display": x.display, "monitor": 3}))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, WitError::InvalidInput(m) if m.contains("monitor 3 does not exist") && m.contains("has 1")),
        "{e:?}"
    );
    let e = capture(serde_json::json!({
        "display": x.display,
        "region": {"x": 300, "y": 0, "width": 100, "height": 10},
    }))
    .await
    .unwrap_err();
    assert!(
        matches!(&e, WitError::InvalidInput(m) if m.contains("does not fit in the 320x240")),
        "{e:?}"
    );
    let e = capture(serde_json::json!({"display": ":138"}))
        .await
        .unwrap_err();
    assert!(matches!(e, WitError::Unavailable(_)), "{e:?}");
    assert!(error_text(&e).contains("cannot connect to X display \":138\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_screenshot_reaches_the_model_within_the_turn() {
    let Some(x) = display() else { return };
    const KEY_ENV: &str = "OPENPISTA_TEST_SCREEN_KEY";
    // SAFETY: only this test reads this variable.
    unsafe { std::env::set_var(KEY_ENV, "sk-screen-test") };
    let root = tempfile::tempdir().unwrap();
    let double = OpenAiDouble::start().await;
    let args = format!("{{\"display\": \"{}\"}}", x.display);
    double.push(Reply::stream_tool_calls(&[(
        "call_s",
        "screen__capture",
        &[&args],
    )]));
    double.push(Reply::stream_text(&["A green square."]));
    double.push(Reply::stream_text(&["Still green."]));
    let config = Config::parse(
        &format!(
            r#"
[agent]
provider = "main"
[providers.main]
preset = "custom"
base_url = "{}"
model = "gpt-test"
api_key_env = "{KEY_ENV}"
[runtime]
plugin_dirs = []
cache_dir = "{root}/cache"
[memory]
path = "{root}/memory.redb"
"#,
            double.base_url(),
            root = root.path().display()
        ),
        "test config",
    )
    .unwrap();
    let (runtime, memory, setup) = openpista::cli::build(&config).unwrap();
    assert!(runtime.load_all().await.is_empty());
    let mut tools = ToolRegistry::new(runtime.clone());
    tools.add_native(Arc::new(ScreenCapture::new(ScreenSettings::default())));
    let agent = Agent {
        tools: Arc::new(tools),
        runtime,
        memory,
        settings: config.agent_settings(&setup),
    };
    let outcome = agent
        .turn("test:see", "what is on screen?", |_| {})
        .await
        .unwrap();
    assert_eq!(outcome.answer, "A green square.");
    assert_eq!(
        outcome.attachments.len(),
        1,
        "the channel gets the screenshot"
    );
    assert_eq!(decode(&outcome.attachments[0].data).0, 320);

    let requests = double.requests();
    let messages = requests[1].body["messages"].as_array().unwrap();
    let tool = messages.iter().position(|m| m["role"] == "tool").unwrap();
    assert!(
        messages[tool]["content"]
            .as_str()
            .unwrap()
            .contains("[image screen.png (image/png): shown in the next message]")
    );
    let image = &messages[tool + 1];
    assert_eq!(image["role"], "user");
    let url = image["content"][1]["image_url"]["url"].as_str().unwrap();
    assert!(
        url.starts_with("data:image/png;base64,iVBORw0KGgo"),
        "{}",
        &url[..40]
    );

    // Memory keeps the file's name only; the next turn does not resend it.
    let stored = agent.memory.messages("test:see", 100).unwrap();
    let tool_msg = stored.iter().find(|m| m.role == "tool").unwrap();
    assert_eq!(tool_msg.attachments, vec!["screen.png (image/png)"]);
    agent.turn("test:see", "and now?", |_| {}).await.unwrap();
    let third = &double.requests()[2].body;
    assert!(!third.to_string().contains("data:image/png"), "{third}");
}

/// The white window `screen.ocr` reads: x, y, width, height.
const PAPER: (i32, i32, u32, u32) = (40, 60, 560, 170);
/// Its two lines of text, and their baselines within it.
const LINES: [(&str, i16); 2] = [("Invoice 4721 paid", 55), ("Meeting moved to noon", 135)];
/// A large bitmap font of xfonts-100dpi that Tesseract reads reliably.
const FONT: &str = "-adobe-helvetica-bold-r-normal--34-*-*-*-*-*-iso8859-1";

/// An Xvfb with black text on the white window at `PAPER`, or `None`
/// (skipped).
fn text_display() -> Option<Xvfb> {
    let x = Xvfb::start(640, 300);
    if !require(
        "Xvfb (Debian package xvfb)",
        x.as_ref().map(|_| ()).map_err(|e| e.clone()),
    ) {
        return None;
    }
    let x = x.unwrap();
    let tesseract = openpista::native::which("tesseract")
        .map(|_| ())
        .ok_or_else(|| "tesseract is not on PATH".to_string());
    if !require(
        "tesseract (Debian packages tesseract-ocr tesseract-ocr-eng)",
        tesseract,
    ) {
        return None;
    }
    let (conn, screen_num) = x11rb::connect(Some(&x.display)).unwrap();
    let found = conn
        .list_fonts(1, FONT.as_bytes())
        .unwrap()
        .reply()
        .unwrap();
    let font_present = if found.names.is_empty() {
        Err(format!("the X server has no font {FONT}"))
    } else {
        Ok(())
    };
    if !require("X core fonts (Debian package xfonts-100dpi)", font_present) {
        return None;
    }
    let screen = &conn.setup().roots[screen_num];
    let (px, py, pw, ph) = PAPER;
    let window = conn.generate_id().unwrap();
    conn.create_window(
        screen.root_depth,
        window,
        screen.root,
        px as i16,
        py as i16,
        pw as u16,
        ph as u16,
        0,
        WindowClass::INPUT_OUTPUT,
        screen.root_visual,
        &CreateWindowAux::new()
            .background_pixel(screen.white_pixel)
            .override_redirect(1),
    )
    .unwrap();
    conn.map_window(window).unwrap();
    let font = conn.generate_id().unwrap();
    conn.open_font(font, FONT.as_bytes()).unwrap();
    let gc = conn.generate_id().unwrap();
    conn.create_gc(
        gc,
        window,
        &CreateGCAux::new()
            .foreground(screen.black_pixel)
            .background(screen.white_pixel)
            .font(font),
    )
    .unwrap();
    for (text, baseline) in LINES {
        conn.image_text8(window, gc, 20, baseline, text.as_bytes())
            .unwrap();
    }
    conn.get_input_focus().unwrap().reply().unwrap(); // a round trip: drawn
    std::mem::forget(conn);
    Some(x)
}

async fn ocr(args: serde_json::Value) -> Result<serde_json::Value, WitError> {
    let r = ScreenOcr::new(ScreenSettings::default(), EnvScrub::default())
        .invoke(&args.to_string(), &ctx())
        .await?;
    assert!(!r.is_error, "{}", r.content);
    Ok(serde_json::from_str(&r.content).unwrap())
}

/// The words of a result that read `text`.
fn words<'a>(r: &'a serde_json::Value, text: &str) -> Vec<&'a serde_json::Value> {
    r["words"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["text"] == text)
        .collect()
}

/// Whether a word's box lies inside x, y, width, height.
fn inside(w: &serde_json::Value, (x, y, width, height): (i32, i32, u32, u32)) -> bool {
    let n = |k: &str| w[k].as_i64().unwrap();
    n("x") >= x as i64
        && n("y") >= y as i64
        && n("x") + n("width") <= x as i64 + width as i64
        && n("y") + n("height") <= y as i64 + height as i64
        && n("width") > 0
        && n("height") > 0
}

#[tokio::test]
async fn ocr_reads_the_words_and_their_boxes_lie_on_the_window() {
    let Some(x) = text_display() else { return };
    let r = ocr(serde_json::json!({"display": x.display}))
        .await
        .unwrap();
    let text = r["text"].as_str().unwrap();
    assert!(
        text.contains("Invoice 4721 paid") && text.contains("Meeting moved to noon"),
        "{r}"
    );
    assert_eq!(
        r["area"],
        serde_json::json!({"x": 0, "y": 0, "width": 640, "height": 300})
    );
    assert_eq!(r["lang"], "eng");
    for word in ["Invoice", "4721", "paid", "Meeting", "moved", "to", "noon"] {
        let found = words(&r, word);
        assert_eq!(found.len(), 1, "{word}: {r}");
        assert!(inside(found[0], PAPER), "{word} outside the window: {r}");
        let confidence = found[0]["confidence"].as_f64().unwrap();
        assert!((50.0..=100.0).contains(&confidence), "{word}: {r}");
    }
    // Reading order and rows: the first line is above the second, left
    // to right within it.
    let y = |w: &str| words(&r, w)[0]["y"].as_i64().unwrap();
    let x_of = |w: &str| words(&r, w)[0]["x"].as_i64().unwrap();
    assert!(y("Invoice") + 30 < y("Meeting"), "{r}");
    assert!(
        x_of("Invoice") < x_of("4721") && x_of("4721") < x_of("paid"),
        "{r}"
    );
}

#[tokio::test]
async fn ocr_of_a_region_has_only_its_words_in_screen_coordinates() {
    let Some(x) = text_display() else { return };
    let (px, py, pw, _) = PAPER;
    // The second line only: from 90 px down the window, 70 px high.
    let lower = (px, py + 90, pw, 70);
    let region =
        serde_json::json!({"x": lower.0, "y": lower.1, "width": lower.2, "height": lower.3});
    let r = ocr(serde_json::json!({"display": x.display, "region": region, "lang": "eng"}))
        .await
        .unwrap();
    assert_eq!(r["area"], region);
    assert_eq!(r["text"], "Meeting moved to noon", "{r}");
    for word in ["Meeting", "moved", "to", "noon"] {
        let found = words(&r, word);
        assert_eq!(found.len(), 1, "{word}: {r}");
        assert!(inside(found[0], lower), "{word} outside the region: {r}");
    }
    // The same through monitor 0, the whole Xvfb screen.
    let again = ocr(serde_json::json!({"display": x.display, "monitor": 0, "region": region}))
        .await
        .unwrap();
    assert_eq!(again["words"], r["words"]);
}

#[tokio::test]
async fn ocr_refuses_bad_requests_with_the_reason() {
    let Some(x) = text_display() else { return };
    for (args, says) in [
        (
            serde_json::json!({"display": x.display, "lang": "-l eng"}),
            "is not a Tesseract language list",
        ),
        (
            serde_json::json!({"display": x.display, "lang": "eng+"}),
            "is not a Tesseract language list",
        ),
        (
            serde_json::json!({"display": x.display, "lang": "zzz"}),
            "Tesseract has no data for language \"zzz\"",
        ),
        (
            serde_json::json!({"display": x.display, "region": {"x": 600, "y": 0, "width": 100, "height": 10}}),
            "does not fit in the 640x300",
        ),
        (
            serde_json::json!({"display": x.display, "monitor": 2}),
            "monitor 2 does not exist",
        ),
        (
            serde_json::json!({"display": x.display, "scale": 2}),
            "unknown field `scale`",
        ),
    ] {
        let e = ocr(args.clone()).await.unwrap_err();
        assert!(
            matches!(&e, WitError::InvalidInput(m) if m.starts_with("screen.ocr: ") && m.contains(says)),
            "{args}: {e:?}"
        );
    }
    let e = ocr(serde_json::json!({"display": ":139"}))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, WitError::Unavailable(m) if m.starts_with("screen.ocr: cannot connect to X display \":139\"")),
        "{e:?}"
    );
}

/// Set in the copy of this test binary that runs with a PATH without
/// tesseract.
const NO_TESSERACT: &str = "OPENPISTA_TEST_NO_TESSERACT";

#[tokio::test]
async fn ocr_without_tesseract_on_path_says_what_to_install() {
    if std::env::var_os(NO_TESSERACT).is_none() {
        // Run this very test again in a process whose PATH is an empty
        // folder: the tool looks tesseract up on the PATH of the
        // environment it gives it, which is this process's, scrubbed.
        let empty = tempfile::tempdir().unwrap();
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "ocr_without_tesseract_on_path_says_what_to_install",
                "--exact",
                "--test-threads=1",
                "--nocapture",
            ])
            .env("PATH", empty.path())
            .env(NO_TESSERACT, "1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("1 passed"),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        return;
    }
    let e = ocr(serde_json::json!({"display": ":0"})).await.unwrap_err();
    assert!(
        matches!(&e, WitError::Unavailable(m) if m.starts_with("screen.ocr: tesseract not found; install Debian package tesseract-ocr")),
        "{e:?}"
    );
}
