//! `screen.capture` against a real X server (Xvfb): the PNG has the
//! display's size and shows a window the test drew, a region and a
//! monitor can be chosen, bad requests say why, and the screenshot
//! reaches the model through a real provider component within the turn.

use openpista::agent::Agent;
use openpista::config::Config;
use openpista::native::screen::ScreenCapture;
use openpista::native::settings::ScreenSettings;
use openpista::runtime::CallContext;
use openpista::runtime::bindings::{ToolResult, WitError, error_text};
use openpista::tools::{NativeTool, ToolRegistry};
use openpista_tests::doubles::openai::{OpenAiDouble, Reply};
use openpista_tests::native::{Xvfb, require};
use std::sync::Arc;
use x11rb::connection::Connection;
use x11rb::protocol::xproto::{ConnectionExt, CreateWindowAux, WindowClass};

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
