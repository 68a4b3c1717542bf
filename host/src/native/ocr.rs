//! `screen.ocr`: the text on an X display (or one monitor of it, or a
//! region), with a box per word in screen coordinates and the full text
//! in reading order.
//!
//! The pixels come from [`screen::capture`](super::screen::capture); the
//! recognition is Tesseract's, run as the `tesseract` command
//! (`tesseract stdin stdout -l LANG tsv`, Debian packages `tesseract-ocr`
//! and `tesseract-ocr-eng`) through [`process`](super::process), under a
//! deadline and with the scrubbed environment. A binding (`tesseract-rs`,
//! `leptess`) would link libtesseract and leptonica at build time, which a
//! machine with only rustup lacks: `cargo run` would fail for every
//! newcomer whether or not they ever read the screen, the same reasoning
//! `screen.rs` gives for `x11rb`. The command is looked for when a call
//! comes, and its absence is a clear error then.

use super::args;
use super::env::EnvScrub;
use super::process::{self, ProcessSpec};
use super::screen::{self, Region};
use super::settings::ScreenSettings;
use crate::runtime::CallContext;
use crate::runtime::bindings::{ToolResult, ToolSpec, WitError};
use crate::tools::NativeTool;
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

pub const NAME: &str = "screen.ocr";

/// Words listed in one result at most; the full text has them all.
const MAX_WORDS: usize = 2_000;
/// TSV characters read from tesseract at most (a full 4K screen of small
/// text is well under this).
const TSV_CHARS: usize = 8_000_000;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Args {
    #[serde(default)]
    display: Option<String>,
    #[serde(default)]
    monitor: Option<usize>,
    #[serde(default)]
    region: Option<Region>,
    /// Tesseract languages (`eng`, `eng+deu`).
    #[serde(default)]
    lang: Option<String>,
}

/// One recognised word, its box in screen coordinates.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Word {
    pub text: String,
    /// Tesseract's confidence, 0 to 100.
    pub confidence: f64,
    pub x: i32,
    pub y: i32,
    pub width: u32,
    pub height: u32,
}

/// What Tesseract read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Recognized {
    /// Words joined by spaces, lines by newlines, paragraphs by a blank
    /// line.
    pub text: String,
    pub words: Vec<Word>,
}

/// Whether `lang` is a Tesseract language list: names of letters (and
/// `_`, as in `chi_sim`) joined by `+`. Anything else could be read by
/// tesseract as an option or a path.
pub fn check_lang(lang: &str) -> Result<(), String> {
    let ok = !lang.is_empty()
        && lang.len() <= 64
        && lang.split('+').all(|part| {
            part.starts_with(|c: char| c.is_ascii_alphabetic())
                && part.chars().all(|c| c.is_ascii_alphabetic() || c == '_')
        });
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{lang:?} is not a Tesseract language list (letters, such as eng or eng+deu)"
        ))
    }
}

/// Reads tesseract's TSV output; boxes are moved by `(dx, dy)` from the
/// image's corner to the screen's.
pub fn parse_tsv(tsv: &str, dx: i32, dy: i32) -> Recognized {
    let mut out = Recognized::default();
    let mut last: Option<(u32, u32, u32)> = None;
    for line in tsv.lines() {
        let f: Vec<&str> = line.splitn(12, '\t').collect();
        if f.len() < 12 || f[0] != "5" {
            continue; // the header, and page, block, paragraph, line rows
        }
        let text = f[11].trim();
        let num = |i: usize| f[i].trim().parse::<i64>().ok();
        let (Some(block), Some(par), Some(line_num)) = (num(2), num(3), num(4)) else {
            continue;
        };
        let (Some(left), Some(top), Some(width), Some(height)) = (num(6), num(7), num(8), num(9))
        else {
            continue;
        };
        let confidence: f64 = f[10].trim().parse().unwrap_or(-1.0);
        if text.is_empty() || confidence < 0.0 {
            continue;
        }
        let key = (block as u32, par as u32, line_num as u32);
        match last {
            Some(k) if (k.0, k.1) != (key.0, key.1) => out.text.push_str("\n\n"),
            Some(k) if k.2 != key.2 => out.text.push('\n'),
            Some(_) => out.text.push(' '),
            None => {}
        }
        last = Some(key);
        out.text.push_str(text);
        out.words.push(Word {
            text: text.to_string(),
            confidence: (confidence * 10.0).round() / 10.0,
            x: dx.saturating_add(left as i32),
            y: dy.saturating_add(top as i32),
            width: width.max(0) as u32,
            height: height.max(0) as u32,
        });
    }
    out
}

/// A capture error under this tool's name.
fn renamed(e: WitError) -> WitError {
    let fix = |m: String| match m.strip_prefix(screen::NAME) {
        Some(rest) => format!("{NAME}{rest}"),
        None => m,
    };
    match e {
        WitError::InvalidInput(m) => WitError::InvalidInput(fix(m)),
        WitError::Unavailable(m) => WitError::Unavailable(fix(m)),
        WitError::Internal(m) => WitError::Internal(fix(m)),
        other => other,
    }
}

/// The `screen.ocr` tool.
pub struct ScreenOcr {
    settings: ScreenSettings,
    scrub: EnvScrub,
}

impl ScreenOcr {
    pub fn new(settings: ScreenSettings, scrub: EnvScrub) -> ScreenOcr {
        ScreenOcr { settings, scrub }
    }

    /// The tesseract command, looked up on the PATH of the environment it
    /// will get (this process's, scrubbed), and that environment.
    fn tesseract(&self) -> Result<(String, Vec<(String, String)>), WitError> {
        let mut env = self.scrub.host_env();
        let path = env
            .iter()
            .find(|(k, _)| k == "PATH")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let program = super::which_in("tesseract", path.as_ref()).ok_or_else(|| {
            WitError::Unavailable(format!(
                "{NAME}: tesseract not found; install Debian package tesseract-ocr (and tesseract-ocr-eng for English)"
            ))
        })?;
        // One thread per recognition: OpenMP's default of every core makes
        // concurrent calls fight and is no faster on screen-sized images.
        if !env.iter().any(|(k, _)| k == "OMP_THREAD_LIMIT") {
            env.push(("OMP_THREAD_LIMIT".into(), "1".into()));
        }
        Ok((program.to_string_lossy().into_owned(), env))
    }

    /// Runs tesseract on `png`.
    async fn recognize(
        &self,
        (program, env): (String, Vec<(String, String)>),
        png: Vec<u8>,
        lang: &str,
    ) -> Result<String, WitError> {
        let spec = ProcessSpec {
            program,
            args: ["stdin", "stdout", "-l", lang, "tsv"]
                .map(String::from)
                .to_vec(),
            cwd: None,
            env,
            stdin: Some(png),
            timeout: Duration::from_secs(self.settings.ocr_timeout_secs),
            keep_chars: TSV_CHARS,
        };
        let output = process::run(&spec).await.map_err(|e| {
            WitError::Unavailable(format!("{NAME}: cannot start {}: {e}", spec.program))
        })?;
        if output.timed_out {
            return Err(WitError::Timeout(format!(
                "{NAME}: tesseract did not finish within {} s ([native.screen] ocr_timeout_secs); try a smaller region",
                self.settings.ocr_timeout_secs
            )));
        }
        let stderr = process::with_marker(&output.stderr.text, output.stderr.total_chars, 2_000);
        if output.exit_code != Some(0) {
            if stderr.contains("Failed loading language")
                || stderr.contains("Error opening data file")
            {
                // The language Tesseract names, else the first asked for.
                let missing = stderr
                    .split_once("Failed loading language '")
                    .and_then(|(_, rest)| rest.split_once('\''))
                    .map(|(name, _)| name)
                    .unwrap_or_else(|| lang.split('+').next().unwrap_or(lang));
                return Err(WitError::InvalidInput(format!(
                    "{NAME}: Tesseract has no data for language {missing:?}; install it (Debian package tesseract-ocr-{}) or ask for another: {}",
                    missing.replace('_', "-").to_ascii_lowercase(),
                    stderr.trim()
                )));
            }
            return Err(WitError::Internal(format!(
                "{NAME}: tesseract failed ({}): {}",
                match (output.exit_code, output.signal) {
                    (Some(c), _) => format!("exit code {c}"),
                    (None, Some(s)) => format!("signal {s}"),
                    _ => "no exit status".into(),
                },
                stderr.trim()
            )));
        }
        if output.stdout.total_chars > TSV_CHARS {
            return Err(WitError::Internal(format!(
                "{NAME}: tesseract wrote more than {TSV_CHARS} characters; ask for a smaller region"
            )));
        }
        Ok(output.stdout.text)
    }
}

impl NativeTool for ScreenOcr {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: NAME.into(),
            description: "Read the text on the computer's screen (the whole display, one monitor, or a region) with Tesseract OCR: the full text, and every word with its confidence (0-100) and its box in screen pixels.".into(),
            parameters: super::screen::area_schema(
                "read",
                serde_json::Map::from_iter([(
                    "lang".to_string(),
                    serde_json::json!({"type": "string", "description": format!("Tesseract languages such as eng or eng+deu; default {}.", self.settings.ocr_lang)}),
                )]),
            )
            .to_string(),
        }
    }

    fn invoke<'a>(
        &'a self,
        arguments: &'a str,
        _context: &'a CallContext,
    ) -> Pin<Box<dyn Future<Output = Result<ToolResult, WitError>> + Send + 'a>> {
        Box::pin(async move {
            let a: Args = args::parse(NAME, arguments)?;
            let lang = a.lang.unwrap_or_else(|| self.settings.ocr_lang.clone());
            check_lang(&lang).map_err(|m| WitError::InvalidInput(format!("{NAME}: lang: {m}")))?;
            let tesseract = self.tesseract()?;
            let display = screen::display(&self.settings, a.display).map_err(renamed)?;
            let shot = {
                let display = display.clone();
                tokio::task::spawn_blocking(move || screen::capture(&display, a.monitor, a.region))
                    .await
                    .map_err(|e| WitError::Internal(format!("{NAME}: {e}")))?
                    .map_err(renamed)?
            };
            let area = shot.area;
            let tsv = self.recognize(tesseract, shot.png, &lang).await?;
            let mut read = parse_tsv(&tsv, area.x, area.y);
            let omitted = read.words.len().saturating_sub(MAX_WORDS);
            read.words.truncate(MAX_WORDS);
            let mut result = serde_json::json!({
                "display": display,
                "area": {"x": area.x, "y": area.y, "width": area.width, "height": area.height},
                "lang": lang,
                "text": read.text,
                "words": read.words,
            });
            if omitted > 0 {
                result["words_omitted"] = omitted.into();
            }
            Ok(args::text(result.to_string()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_are_letters_joined_by_plus() {
        for ok in ["eng", "eng+deu", "chi_sim", "osd"] {
            assert!(check_lang(ok).is_ok(), "{ok}");
        }
        for bad in ["", "eng+", "+eng", "-l", "../x", "eng deu", "e1", "_x", "é"] {
            assert!(check_lang(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tsv_words_are_offset_and_joined_in_reading_order() {
        let tsv = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n\
            1\t1\t0\t0\t0\t0\t0\t0\t320\t240\t-1\t\n\
            4\t1\t1\t1\t1\t0\t10\t20\t100\t30\t-1\t\n\
            5\t1\t1\t1\t1\t1\t10\t20\t40\t30\t96.534\tHello\n\
            5\t1\t1\t1\t1\t2\t60\t20\t50\t30\t91.2\tworld\n\
            5\t1\t1\t1\t2\t1\t10\t60\t40\t30\t88\tagain\n\
            5\t1\t1\t1\t2\t2\t60\t60\t5\t30\t12\t \n\
            5\t1\t2\t1\t1\t1\t10\t120\t40\t30\t70\tnext\n";
        let r = parse_tsv(tsv, 100, 5);
        assert_eq!(r.text, "Hello world\nagain\n\nnext");
        assert_eq!(r.words.len(), 4);
        assert_eq!(
            r.words[0],
            Word {
                text: "Hello".into(),
                confidence: 96.5,
                x: 110,
                y: 25,
                width: 40,
                height: 30
            }
        );
        assert_eq!(parse_tsv("", 0, 0), Recognized::default());
    }

    #[test]
    fn capture_errors_carry_this_tools_name() {
        let e = renamed(WitError::Unavailable("screen.capture: no display".into()));
        assert!(matches!(e, WitError::Unavailable(m) if m == "screen.ocr: no display"));
    }
}
