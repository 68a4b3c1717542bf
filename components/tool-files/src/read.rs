//! `fs.read`: a text file, whole or a window of bytes or lines.

use crate::grants::{Grants, Place, io_failure};
use openpista_sdk::{Error, ToolResult};
use serde::Deserialize;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};

/// Most bytes of text one call returns, whatever it asks.
pub const MAX_BYTES: u64 = 256 * 1024;
/// What a call that names no `length` or `lines` gets at most.
pub const DEFAULT_BYTES: u64 = 64 * 1024;

/// Arguments of `fs.read`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadArgs {
    pub path: String,
    /// First line to return, 1-based (line mode).
    #[serde(default)]
    pub line: Option<u64>,
    /// How many lines to return (line mode).
    #[serde(default)]
    pub lines: Option<u64>,
    /// First byte to return, 0-based (byte mode).
    #[serde(default)]
    pub offset: Option<u64>,
    /// How many bytes to return (byte mode).
    #[serde(default)]
    pub length: Option<u64>,
}

pub fn read(grants: &Grants, args: ReadArgs) -> Result<ToolResult, Error> {
    let line_mode = args.line.is_some() || args.lines.is_some();
    if line_mode && (args.offset.is_some() || args.length.is_some()) {
        return Err(Error::invalid_input(
            "arguments: give `line`/`lines` (a window of lines) or `offset`/`length` (a window of bytes), not both",
        ));
    }
    if args.line == Some(0) || args.lines == Some(0) || args.length == Some(0) {
        return Err(Error::invalid_input(
            "arguments: `line` counts from 1, and `lines` and `length` must be at least 1",
        ));
    }
    if args.length.is_some_and(|l| l > MAX_BYTES) {
        return Err(Error::invalid_input(format!(
            "argument `length`: at most {MAX_BYTES} bytes per call; read a long file in windows"
        )));
    }
    let place = grants.place(&args.path, "path")?;
    let meta = match std::fs::metadata(&place.path) {
        Ok(m) => m,
        Err(e) => return failed(&e, &place),
    };
    if meta.is_dir() {
        return Ok(ToolResult::error(format!(
            "`{}` is a folder; fs.list shows what is in it",
            place.shown
        )));
    }
    let size = meta.len();
    let file = match std::fs::File::open(&place.path) {
        Ok(f) => f,
        Err(e) => return failed(&e, &place),
    };
    let window = if line_mode {
        lines_window(file, args.line.unwrap_or(1), args.lines)
    } else {
        bytes_window(file, size, args.offset.unwrap_or(0), args.length)
    };
    let window = match window {
        Ok(Ok(w)) => w,
        Ok(Err(why)) => return Ok(ToolResult::error(format!("`{}` {why}", place.shown))),
        Err(e) => return failed(&e, &place),
    };
    if window.bytes.contains(&0) {
        return Ok(ToolResult::error(format!(
            "`{}` is a binary file ({size} bytes{}), not text; fs.read returns text only",
            place.shown,
            sniff(&window.bytes)
        )));
    }
    if size == 0 {
        return Ok(ToolResult::text(format!(
            "`{}` is empty (0 bytes)",
            place.shown
        )));
    }
    let mut text = String::from_utf8_lossy(&window.bytes).into_owned();
    if text.contains('\u{FFFD}') && !window.bytes.windows(3).any(|w| w == [0xEF, 0xBF, 0xBD]) {
        window_note(&mut text, "bytes that are not UTF-8 are shown as \u{FFFD}");
    }
    if let Some(more) = window.more {
        window_note(&mut text, &more);
    }
    Ok(ToolResult::text(text))
}

fn failed(e: &std::io::Error, place: &Place) -> Result<ToolResult, Error> {
    io_failure(e, place, "read").map(ToolResult::error)
}

/// Appends `[note]` on a line of its own.
fn window_note(text: &mut String, note: &str) {
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&format!("[{note}]"));
}

/// The selected bytes, and what to ask for next when the file goes on.
#[derive(Debug)]
struct Window {
    bytes: Vec<u8>,
    more: Option<String>,
}

/// `Ok(Err(why))` is a request the file cannot serve, said of the file
/// ("has only 3 lines; ...").
type Windowed = std::io::Result<Result<Window, String>>;

fn bytes_window(mut file: std::fs::File, size: u64, offset: u64, length: Option<u64>) -> Windowed {
    if offset > size {
        return Ok(Err(format!(
            "has {size} bytes; offset {offset} is past its end"
        )));
    }
    let want = length.unwrap_or(DEFAULT_BYTES);
    file.seek(SeekFrom::Start(offset))?;
    let mut bytes = Vec::new();
    file.take(want).read_to_end(&mut bytes)?;
    // Do not cut a UTF-8 character in two: end before an incomplete one.
    let end_of_file = offset + bytes.len() as u64 >= size;
    if !end_of_file && let Err(e) = std::str::from_utf8(&bytes) {
        let tail = bytes.len() - e.valid_up_to();
        if e.error_len().is_none() && tail < 4 {
            bytes.truncate(e.valid_up_to());
        }
    }
    let end = offset + bytes.len() as u64;
    let more = (end < size).then(|| {
        format!("bytes {offset}..{end} of {size} shown; the rest follows from offset={end}")
    });
    Ok(Ok(Window { bytes, more }))
}

fn lines_window(file: std::fs::File, first: u64, count: Option<u64>) -> Windowed {
    let mut reader = BufReader::new(file);
    let mut line = Vec::new();
    let mut number = 0u64;
    // Skip to the first wanted line.
    while number + 1 < first {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Ok(Err(format!(
                "has only {number} lines; line {first} is past its end"
            )));
        }
        number += 1;
    }
    let cap = if count.is_some() {
        MAX_BYTES
    } else {
        DEFAULT_BYTES
    };
    let mut bytes = Vec::new();
    let mut taken = 0u64;
    let mut cut = false;
    loop {
        if count.is_some_and(|c| taken >= c) {
            break;
        }
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        if bytes.len() + line.len() > cap as usize {
            if taken == 0 {
                // One line longer than the cap: its start, marked.
                let keep = floor_char(&line, cap as usize);
                bytes.extend_from_slice(&line[..keep]);
                taken = 1;
            }
            cut = true;
            break;
        }
        bytes.extend_from_slice(&line);
        taken += 1;
    }
    if taken == 0 && first > 1 {
        return Ok(Err(format!(
            "has only {number} lines; line {first} is past its end"
        )));
    }
    let last = first + taken.saturating_sub(1);
    let more_follows = cut || !reader.fill_buf()?.is_empty();
    let more = more_follows.then(|| {
        let why = if cut {
            format!(" (cut at {cap} bytes)")
        } else {
            String::new()
        };
        format!(
            "lines {first}-{last} shown{why}; more follow from line={}",
            last + 1
        )
    });
    Ok(Ok(Window { bytes, more }))
}

/// The largest `n <= max` that does not fall inside a UTF-8 character.
fn floor_char(bytes: &[u8], max: usize) -> usize {
    let mut n = max.min(bytes.len());
    while n > 0 && n < bytes.len() && (bytes[n] & 0xC0) == 0x80 {
        n -= 1;
    }
    n
}

/// What a binary file looks like it is, from its first bytes.
fn sniff(bytes: &[u8]) -> &'static str {
    const KINDS: [(&[u8], &str); 8] = [
        (b"\x89PNG", ", a PNG image"),
        (b"\xFF\xD8\xFF", ", a JPEG image"),
        (b"GIF8", ", a GIF image"),
        (b"%PDF", ", a PDF document"),
        (b"PK\x03\x04", ", a ZIP archive"),
        (b"\x1F\x8B", ", gzip-compressed"),
        (b"\x7FELF", ", an ELF executable"),
        (b"\0asm", ", WebAssembly"),
    ];
    KINDS
        .iter()
        .find(|(magic, _)| bytes.starts_with(magic))
        .map_or("", |(_, kind)| kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str, content: &[u8]) -> std::fs::File {
        let path =
            std::env::temp_dir().join(format!("tool-files-read-{}-{name}", std::process::id()));
        std::fs::write(&path, content).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        file
    }

    #[test]
    fn line_windows() {
        let w = lines_window(temp("a", b"one\ntwo\nthree\nfour"), 2, Some(2))
            .unwrap()
            .unwrap();
        assert_eq!(w.bytes, b"two\nthree\n");
        assert_eq!(
            w.more.as_deref(),
            Some("lines 2-3 shown; more follow from line=4")
        );
        let w = lines_window(temp("b", b"one\ntwo\n"), 2, None)
            .unwrap()
            .unwrap();
        assert_eq!((w.bytes.as_slice(), w.more), (&b"two\n"[..], None));
        let e = lines_window(temp("c", b"one\ntwo\n"), 5, None)
            .unwrap()
            .unwrap_err();
        assert!(e.contains("has only 2 lines"), "{e}");
    }

    #[test]
    fn byte_windows_keep_characters_whole() {
        let text = "aé".repeat(10); // 30 bytes
        let w = bytes_window(temp("d", text.as_bytes()), 30, 0, Some(2))
            .unwrap()
            .unwrap();
        assert_eq!(w.bytes, b"a"); // `é` would be cut in two
        assert_eq!(
            w.more.as_deref(),
            Some("bytes 0..1 of 30 shown; the rest follows from offset=1")
        );
        let w = bytes_window(temp("e", text.as_bytes()), 30, 27, None)
            .unwrap()
            .unwrap();
        assert_eq!((w.bytes, w.more), ("aé".as_bytes().to_vec(), None));
        let e = bytes_window(temp("f", b"abc"), 3, 4, None)
            .unwrap()
            .unwrap_err();
        assert!(e.contains("past its end"), "{e}");
    }

    #[test]
    fn binary_kinds() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0"), ", a PNG image");
        assert_eq!(sniff(b"\0\0\0"), "");
        assert_eq!(floor_char("aé".as_bytes(), 2), 1);
    }
}
