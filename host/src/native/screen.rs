//! `screen.capture`: a PNG of an X display, of one monitor of it, or of a
//! region, returned as an attachment (providers that need base64 encode
//! it on the way out).
//!
//! It speaks the X11 protocol itself through `x11rb`'s pure-Rust
//! connection rather than through `xcap` (the maintained successor of
//! `screenshots`): xcap links libxcb, PipeWire, GBM and Wayland system
//! libraries at build time, which a machine with only rustup lacks, and
//! that would break `cargo run` for every newcomer. Monitors come from
//! RandR; pixels from `GetImage`, decoded with the visual's colour masks.

use super::args;
use super::settings::ScreenSettings;
use crate::runtime::CallContext;
use crate::runtime::bindings::{Attachment, ToolResult, ToolSpec, WitError};
use crate::tools::NativeTool;
use serde::Deserialize;
use std::future::Future;
use std::pin::Pin;
use x11rb::connection::Connection;
use x11rb::protocol::randr::ConnectionExt as _;
use x11rb::protocol::xproto::{ConnectionExt as _, ImageFormat, ImageOrder};

pub const NAME: &str = "screen.capture";

/// A rectangle of the screen, in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Region {
    pub x: i32,
    pub y: i32,
    pub width: u32,
    pub height: u32,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Args {
    /// X display, such as `:0`.
    #[serde(default)]
    display: Option<String>,
    /// Index of one monitor (see the tool's listing in its result).
    #[serde(default)]
    monitor: Option<usize>,
    /// A region, relative to the monitor when one is named.
    #[serde(default)]
    region: Option<Region>,
}

/// A captured image.
#[derive(Debug, Clone)]
pub struct Capture {
    pub png: Vec<u8>,
    pub width: u32,
    pub height: u32,
    /// The area captured, in screen coordinates.
    pub area: Region,
    /// Every monitor of the display, in screen coordinates.
    pub monitors: Vec<Region>,
}

/// Captures `region` (relative to `monitor`, when given) of `display`.
/// Blocking: call it off the async threads.
pub fn capture(
    display: &str,
    monitor: Option<usize>,
    region: Option<Region>,
) -> Result<Capture, WitError> {
    let (conn, screen_num) = x11rb::connect(Some(display)).map_err(|e| {
        WitError::Unavailable(format!(
            "{NAME}: cannot connect to X display {display:?}: {e}"
        ))
    })?;
    let setup = conn.setup();
    let screen = &setup.roots[screen_num];
    let whole = Region {
        x: 0,
        y: 0,
        width: screen.width_in_pixels as u32,
        height: screen.height_in_pixels as u32,
    };
    let monitors = monitors(&conn, screen.root).unwrap_or_else(|| vec![whole]);
    let base = match monitor {
        None => whole,
        Some(i) => *monitors.get(i).ok_or_else(|| {
            WitError::InvalidInput(format!(
                "{NAME}: monitor {i} does not exist; display {display} has {} ({})",
                monitors.len(),
                describe(&monitors)
            ))
        })?,
    };
    let area = match region {
        None => base,
        Some(r) => {
            let area = Region {
                x: base.x + r.x,
                y: base.y + r.y,
                ..r
            };
            let fits = r.x >= 0
                && r.y >= 0
                && r.width > 0
                && r.height > 0
                && r.x as u64 + r.width as u64 <= base.width as u64
                && r.y as u64 + r.height as u64 <= base.height as u64;
            if !fits {
                return Err(WitError::InvalidInput(format!(
                    "{NAME}: region {}x{} at {},{} does not fit in the {}x{} area captured",
                    r.width, r.height, r.x, r.y, base.width, base.height
                )));
            }
            area
        }
    };
    let reply = conn
        .get_image(
            ImageFormat::Z_PIXMAP,
            screen.root,
            area.x as i16,
            area.y as i16,
            area.width as u16,
            area.height as u16,
            !0,
        )
        .map_err(x11rb::errors::ReplyError::from)
        .and_then(|c| c.reply())
        .map_err(|e| WitError::Internal(format!("{NAME}: GetImage failed: {e}")))?;
    let visual = screen
        .allowed_depths
        .iter()
        .flat_map(|d| d.visuals.iter())
        .find(|v| v.visual_id == reply.visual)
        .ok_or_else(|| WitError::Internal(format!("{NAME}: unknown visual {}", reply.visual)))?;
    let format = setup
        .pixmap_formats
        .iter()
        .find(|f| f.depth == reply.depth)
        .ok_or_else(|| {
            WitError::Internal(format!(
                "{NAME}: no pixmap format for depth {}",
                reply.depth
            ))
        })?;
    let layout = Layout {
        bits_per_pixel: format.bits_per_pixel as u32,
        scanline_pad: format.scanline_pad as u32,
        lsb_first: setup.image_byte_order == ImageOrder::LSB_FIRST,
        masks: [visual.red_mask, visual.green_mask, visual.blue_mask],
    };
    let rgb = layout.to_rgb(&reply.data, area.width, area.height)?;
    Ok(Capture {
        png: encode_png(&rgb, area.width, area.height)?,
        width: area.width,
        height: area.height,
        area,
        monitors,
    })
}

/// The display's monitors from RandR, when the server has it.
fn monitors(conn: &impl Connection, root: u32) -> Option<Vec<Region>> {
    let reply = conn.randr_get_monitors(root, true).ok()?.reply().ok()?;
    let list: Vec<Region> = reply
        .monitors
        .iter()
        .map(|m| Region {
            x: m.x as i32,
            y: m.y as i32,
            width: m.width as u32,
            height: m.height as u32,
        })
        .collect();
    (!list.is_empty()).then_some(list)
}

fn describe(monitors: &[Region]) -> String {
    monitors
        .iter()
        .enumerate()
        .map(|(i, m)| format!("{i}: {}x{} at {},{}", m.width, m.height, m.x, m.y))
        .collect::<Vec<_>>()
        .join("; ")
}

/// How a Z-pixmap image lays out its pixels.
struct Layout {
    bits_per_pixel: u32,
    scanline_pad: u32,
    lsb_first: bool,
    masks: [u32; 3],
}

impl Layout {
    /// Packed 8-bit RGB rows.
    fn to_rgb(&self, data: &[u8], width: u32, height: u32) -> Result<Vec<u8>, WitError> {
        let bytes = match self.bits_per_pixel {
            16 | 24 | 32 => (self.bits_per_pixel / 8) as usize,
            other => {
                return Err(WitError::Unavailable(format!(
                    "{NAME}: {other}-bit pixels are not supported (16, 24 and 32 are)"
                )));
            }
        };
        let pad = self.scanline_pad.max(8);
        let stride = (width * self.bits_per_pixel).div_ceil(pad) * pad / 8;
        let stride = stride as usize;
        if data.len() < stride * height as usize {
            return Err(WitError::Internal(format!(
                "{NAME}: image data too short: {} bytes for {width}x{height}",
                data.len()
            )));
        }
        let channel = |pixel: u32, mask: u32| -> u8 {
            if mask == 0 {
                return 0;
            }
            let value = (pixel & mask) >> mask.trailing_zeros();
            let max = mask >> mask.trailing_zeros();
            ((value as u64 * 255 + max as u64 / 2) / max as u64) as u8
        };
        let mut rgb = Vec::with_capacity(width as usize * height as usize * 3);
        for row in data.chunks(stride).take(height as usize) {
            for px in row.chunks(bytes).take(width as usize) {
                let mut pixel = 0u32;
                for (i, b) in px.iter().enumerate() {
                    let shift = if self.lsb_first { i } else { bytes - 1 - i };
                    pixel |= (*b as u32) << (8 * shift);
                }
                for mask in self.masks {
                    rgb.push(channel(pixel, mask));
                }
            }
        }
        Ok(rgb)
    }
}

/// An 8-bit RGB PNG.
pub fn encode_png(rgb: &[u8], width: u32, height: u32) -> Result<Vec<u8>, WitError> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Fast);
    let fail = |e: png::EncodingError| WitError::Internal(format!("{NAME}: PNG encoding: {e}"));
    let mut writer = encoder.write_header().map_err(fail)?;
    writer.write_image_data(rgb).map_err(fail)?;
    writer.finish().map_err(fail)?;
    Ok(out)
}

/// The `screen.capture` tool.
pub struct ScreenCapture {
    settings: ScreenSettings,
}

impl ScreenCapture {
    pub fn new(settings: ScreenSettings) -> ScreenCapture {
        ScreenCapture { settings }
    }
}

/// The display a call captures: the one it names, else the configured
/// one, else `$DISPLAY`.
pub fn display(settings: &ScreenSettings, requested: Option<String>) -> Result<String, WitError> {
    requested
        .or_else(|| settings.display.clone())
        .or_else(|| std::env::var("DISPLAY").ok())
        .filter(|d| !d.is_empty())
        .ok_or_else(|| {
            WitError::Unavailable(format!(
                "{NAME}: no display: DISPLAY is not set and [native.screen] display is unset (this machine may have no screen)"
            ))
        })
}

/// The arguments schema of a tool that works on an area of the screen
/// (`monitor`, `region`, `display`), with `extra` properties of its own;
/// `verb` says what the tool does with the region.
pub(super) fn area_schema(
    verb: &str,
    extra: serde_json::Map<String, serde_json::Value>,
) -> serde_json::Value {
    let mut properties = serde_json::json!({
        "monitor": {"type": "integer", "minimum": 0, "description": "Monitor index; the whole display when omitted."},
        "region": {
            "type": "object",
            "properties": {
                "x": {"type": "integer"}, "y": {"type": "integer"},
                "width": {"type": "integer", "minimum": 1}, "height": {"type": "integer", "minimum": 1}
            },
            "required": ["x", "y", "width", "height"],
            "description": format!("Part of the screen (or of the monitor) to {verb}.")
        },
        "display": {"type": "string", "description": "X display such as :0."}
    });
    properties.as_object_mut().unwrap().extend(extra);
    serde_json::json!({
        "type": "object",
        "properties": properties,
        "additionalProperties": false
    })
}

impl NativeTool for ScreenCapture {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: NAME.into(),
            description: "Take a screenshot of the computer's screen (the whole display, one monitor, or a region) and return it as a PNG image.".into(),
            parameters: area_schema("capture", serde_json::Map::new()).to_string(),
        }
    }

    fn invoke<'a>(
        &'a self,
        arguments: &'a str,
        _context: &'a CallContext,
    ) -> Pin<Box<dyn Future<Output = Result<ToolResult, WitError>> + Send + 'a>> {
        Box::pin(async move {
            let a: Args = args::parse(NAME, arguments)?;
            let display = display(&self.settings, a.display)?;
            let shot = {
                let display = display.clone();
                tokio::task::spawn_blocking(move || capture(&display, a.monitor, a.region))
                    .await
                    .map_err(|e| WitError::Internal(format!("{NAME}: {e}")))??
            };
            let area = shot.area;
            let mut result = args::text(format!(
                "Captured {}x{} pixels at {},{} of display {display} (PNG, {} bytes, attached). Monitors: {}.",
                shot.width,
                shot.height,
                area.x,
                area.y,
                shot.png.len(),
                describe(&shot.monitors)
            ));
            result.attachments.push(Attachment {
                mime: "image/png".into(),
                name: Some("screen.png".into()),
                data: shot.png,
            });
            Ok(result)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_32_bit_lsb_first_with_row_padding() {
        // Two pixels per row, rows of 8 bytes: B, G, R, X.
        let layout = Layout {
            bits_per_pixel: 32,
            scanline_pad: 32,
            lsb_first: true,
            masks: [0xff0000, 0x00ff00, 0x0000ff],
        };
        let data = [10, 20, 30, 0, 1, 2, 3, 0, 255, 0, 0, 0, 0, 0, 255, 0];
        let rgb = layout.to_rgb(&data, 2, 2).unwrap();
        assert_eq!(rgb, vec![30, 20, 10, 3, 2, 1, 0, 0, 255, 255, 0, 0]);
    }

    #[test]
    fn decodes_16_bit_565_and_scales_channels() {
        let layout = Layout {
            bits_per_pixel: 16,
            scanline_pad: 32,
            lsb_first: true,
            masks: [0xf800, 0x07e0, 0x001f],
        };
        // One pixel, pure red then padding to 4 bytes.
        let rgb = layout.to_rgb(&[0x00, 0xf8, 0, 0], 1, 1).unwrap();
        assert_eq!(rgb, vec![255, 0, 0]);
        assert!(layout.to_rgb(&[0], 1, 1).is_err());
    }

    #[test]
    fn png_round_trips() {
        let png = encode_png(&[1, 2, 3, 4, 5, 6], 2, 1).unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(png));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!((info.width, info.height), (2, 1));
        assert_eq!(&buf[..6], &[1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn no_display_is_a_clear_error() {
        let e = crate::runtime::bindings::error_text(&capture(":87", None, None).unwrap_err());
        assert!(
            e.starts_with("unavailable: screen.capture: cannot connect to X display \":87\""),
            "{e}"
        );
    }
}
