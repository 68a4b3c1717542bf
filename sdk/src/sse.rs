//! Server-sent events (`text/event-stream`), parsed incrementally.
//!
//! Feed the body's bytes to [`SseParser::push`] as they arrive, in pieces of
//! any size (an event, a line or even a UTF-8 character may be split across
//! pieces), and handle the complete events it returns. At the end of the
//! body call [`SseParser::finish`].
//!
//! ```
//! use openpista_sdk::sse::SseParser;
//!
//! let mut parser = SseParser::new();
//! assert!(parser.push(b"event: delta\ndata: {\"a\"").is_empty());
//! let events = parser.push(b":1}\n\ndata: [DONE]\n\n");
//! assert_eq!(events.len(), 2);
//! assert_eq!(events[0].event.as_deref(), Some("delta"));
//! assert_eq!(events[0].data, "{\"a\":1}");
//! assert_eq!(events[1].data, "[DONE]");
//! ```
//!
//! With [`crate::http::Request::send_streaming`]:
//!
//! ```no_run
//! use openpista_sdk::{http::Request, sse::SseParser};
//! # fn demo() -> Result<(), openpista_sdk::Error> {
//! let mut response = Request::post("https://api.example.com/v1/stream").send_streaming()?;
//! let mut parser = SseParser::new();
//! while let Some(chunk) = response.next_chunk()? {
//!     for event in parser.push(&chunk) {
//!         println!("{}", event.data);
//!     }
//! }
//! for event in parser.finish() {
//!     println!("{}", event.data);
//! }
//! # Ok(()) }
//! ```
//!
//! The rules are those of the HTML standard's event-stream format: lines end
//! with CRLF, LF or CR; a line starting with `:` is a comment; `field:
//! value` lines set `event`, `data` (several `data` lines join with `\n`),
//! `id` and `retry`; one space after the colon is dropped; unknown fields
//! are ignored; an empty line dispatches the event, unless it has no data.

/// One dispatched event.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field, when the event had one (the standard's default
    /// type, `message`, is left as `None`).
    pub event: Option<String>,
    /// The `data:` lines, joined with `\n`.
    pub data: String,
    /// The last event id the stream set (`id:` persists across events, as
    /// the standard says), if any.
    pub id: Option<String>,
}

/// An incremental parser of an event stream; see the [module docs](self).
#[derive(Clone, Debug, Default)]
pub struct SseParser {
    /// Bytes of a line not yet terminated.
    line: Vec<u8>,
    /// The previous piece ended with CR: an LF starting this piece belongs
    /// to that line ending.
    after_cr: bool,
    /// Whether the start of the stream (and a possible BOM) is behind us.
    started: bool,
    /// The event being assembled.
    event: Option<String>,
    data: String,
    has_data: bool,
    /// The last event id (persists across events).
    last_id: Option<String>,
    /// The reconnection time the stream asked for.
    retry_ms: Option<u64>,
}

impl SseParser {
    /// A parser at the start of a stream.
    pub fn new() -> Self {
        SseParser::default()
    }

    /// Parses the next piece of the stream and returns the events it
    /// completed, in order.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
        let events = Vec::new();
        let mut bytes = bytes;
        if !self.started {
            // A UTF-8 byte-order mark may open the stream; it can itself
            // arrive split, so wait until three bytes (or a line end) are
            // there before deciding.
            let mut head = std::mem::take(&mut self.line);
            head.extend_from_slice(bytes);
            const BOM: &[u8] = b"\xEF\xBB\xBF";
            if head.len() < BOM.len() && BOM.starts_with(&head) {
                self.line = head;
                return events;
            }
            self.started = true;
            let start = if head.starts_with(BOM) { BOM.len() } else { 0 };
            return self.push_lines(&head[start..], events);
        }
        if self.after_cr && !bytes.is_empty() {
            self.after_cr = false;
            if let Some(rest) = bytes.strip_prefix(b"\n") {
                bytes = rest;
            }
        }
        self.push_lines(bytes, events)
    }

    fn push_lines(&mut self, bytes: &[u8], mut events: Vec<SseEvent>) -> Vec<SseEvent> {
        let mut rest = bytes;
        while let Some(pos) = rest.iter().position(|&b| b == b'\n' || b == b'\r') {
            let ending = rest[pos];
            let line = if self.line.is_empty() {
                String::from_utf8_lossy(&rest[..pos]).into_owned()
            } else {
                self.line.extend_from_slice(&rest[..pos]);
                let whole = std::mem::take(&mut self.line);
                String::from_utf8_lossy(&whole).into_owned()
            };
            rest = &rest[pos + 1..];
            if ending == b'\r' {
                match rest.first() {
                    Some(b'\n') => rest = &rest[1..],
                    Some(_) => {}
                    None => self.after_cr = true,
                }
            }
            if let Some(event) = self.line_done(&line) {
                events.push(event);
            }
        }
        self.line.extend_from_slice(rest);
        events
    }

    /// Handles one complete line; returns an event when it dispatched one.
    fn line_done(&mut self, line: &str) -> Option<SseEvent> {
        if line.is_empty() {
            return self.dispatch();
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "event" => self.event = Some(value.to_string()),
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "id" if !value.contains('\0') => {
                self.last_id = if value.is_empty() {
                    None
                } else {
                    Some(value.to_string())
                };
            }
            "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                self.retry_ms = value.parse().ok();
            }
            _ => {}
        }
        None
    }

    fn dispatch(&mut self) -> Option<SseEvent> {
        let event = self.event.take();
        if !self.has_data {
            self.data.clear();
            return None;
        }
        self.has_data = false;
        Some(SseEvent {
            event: event.filter(|e| !e.is_empty()),
            data: std::mem::take(&mut self.data),
            id: self.last_id.clone(),
        })
    }

    /// Ends the stream: a last line without its line ending is taken as
    /// complete, and an event that was not followed by an empty line is
    /// dispatched all the same (the standard would drop it; a service that
    /// closes the body right after its last `data:` line means it).
    pub fn finish(&mut self) -> Vec<SseEvent> {
        let mut events = Vec::new();
        if !self.line.is_empty() {
            let mut line = std::mem::take(&mut self.line);
            if !self.started && line.starts_with(b"\xEF\xBB\xBF") {
                line.drain(..3);
            }
            let line = String::from_utf8_lossy(&line).into_owned();
            if let Some(event) = self.line_done(&line) {
                events.push(event);
            }
        }
        self.started = true;
        self.after_cr = false;
        events.extend(self.dispatch());
        events
    }

    /// The reconnection time (`retry:` field) the stream asked for, in
    /// milliseconds, if it did.
    pub fn retry_ms(&self) -> Option<u64> {
        self.retry_ms
    }

    /// The last event id the stream set, if any.
    pub fn last_event_id(&self) -> Option<&str> {
        self.last_id.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(event: Option<&str>, data: &str, id: Option<&str>) -> SseEvent {
        SseEvent {
            event: event.map(str::to_string),
            data: data.to_string(),
            id: id.map(str::to_string),
        }
    }

    /// Feeds `input` cut at `cuts` (ascending positions), then finishes:
    /// the events and the parser afterwards.
    pub(super) fn parse_in_pieces(input: &[u8], cuts: &[usize]) -> (Vec<SseEvent>, SseParser) {
        let mut p = SseParser::new();
        let mut got = Vec::new();
        let mut from = 0;
        for &cut in cuts.iter().chain([&input.len()]) {
            got.extend(p.push(&input[from..cut]));
            from = cut;
        }
        got.extend(p.finish());
        (got, p)
    }

    /// Parses `input` in one piece, then split at every byte boundary
    /// (two pieces), then byte by byte; all must give the same events.
    fn parse_all_ways(input: &[u8]) -> Vec<SseEvent> {
        let (expected, _) = parse_in_pieces(input, &[]);
        for cut in 0..=input.len() {
            let (got, _) = parse_in_pieces(input, &[cut]);
            assert_eq!(got, expected, "split at {cut} of {:?}", input);
        }
        let every: Vec<usize> = (1..input.len()).collect();
        let (got, _) = parse_in_pieces(input, &every);
        assert_eq!(got, expected, "byte by byte: {:?}", input);
        // Every split into three pieces too, for short inputs.
        if input.len() <= 80 {
            for a in 0..=input.len() {
                for b in a..=input.len() {
                    let (got, _) = parse_in_pieces(input, &[a, b]);
                    assert_eq!(got, expected, "split at {a},{b}");
                }
            }
        }
        expected
    }

    #[test]
    fn simple_events() {
        let events = parse_all_ways(b"data: one\n\ndata: two\n\n");
        assert_eq!(events, vec![ev(None, "one", None), ev(None, "two", None)]);
    }

    #[test]
    fn line_endings_crlf_lf_and_cr() {
        for input in [
            &b"event: a\r\ndata: x\r\n\r\ndata: y\r\n\r\n"[..],
            b"event: a\ndata: x\n\ndata: y\n\n",
            b"event: a\rdata: x\r\rdata: y\r\r",
            b"event: a\r\ndata: x\r\rdata: y\n\r\n",
        ] {
            assert_eq!(
                parse_all_ways(input),
                vec![ev(Some("a"), "x", None), ev(None, "y", None)],
                "{input:?}"
            );
        }
    }

    #[test]
    fn multi_line_data_joins_with_newline() {
        let events = parse_all_ways(b"data: first\ndata:second\ndata\ndata:  two spaces\n\n");
        assert_eq!(events, vec![ev(None, "first\nsecond\n\n two spaces", None)]);
    }

    #[test]
    fn comments_and_unknown_fields_are_ignored() {
        let events = parse_all_ways(b": keep-alive\n\n:another\nfoo: bar\ndata: x\n: mid\n\n");
        assert_eq!(events, vec![ev(None, "x", None)]);
    }

    #[test]
    fn events_without_data_are_not_dispatched() {
        let events = parse_all_ways(b"event: ping\n\ndata: y\n\n");
        // The `ping` type does not leak into the next event.
        assert_eq!(events, vec![ev(None, "y", None)]);
        // Empty data is still data.
        assert_eq!(parse_all_ways(b"data\n\n"), vec![ev(None, "", None)]);
        assert_eq!(parse_all_ways(b"data:\n\n"), vec![ev(None, "", None)]);
    }

    #[test]
    fn ids_persist_and_can_be_reset() {
        let events =
            parse_all_ways(b"id: 1\ndata: a\n\ndata: b\n\nid\ndata: c\n\nid: x\0y\ndata: d\n\n");
        assert_eq!(
            events,
            vec![
                ev(None, "a", Some("1")),
                ev(None, "b", Some("1")),
                ev(None, "c", None),
                ev(None, "d", None),
            ]
        );
    }

    #[test]
    fn retry_is_recorded() {
        let mut p = SseParser::new();
        assert!(p.push(b"retry: 1500\n\nretry: soon\n").is_empty());
        assert_eq!(p.retry_ms(), Some(1500));
        p.push(b"id: 7\ndata: z\n\n");
        assert_eq!(p.last_event_id(), Some("7"));
    }

    #[test]
    fn realistic_openai_stream() {
        let input = b"data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\n\
data: {\"choices\":[{\"delta\":{\"content\":\"lo \xc3\xa9\"}}]}\n\n\
data: [DONE]\n\n";
        let events = parse_all_ways(input);
        assert_eq!(events.len(), 3);
        assert_eq!(
            events[1].data,
            "{\"choices\":[{\"delta\":{\"content\":\"lo é\"}}]}"
        );
        assert_eq!(events[2].data, "[DONE]");
    }

    #[test]
    fn realistic_typed_events() {
        let input = b"event: response.output_text.delta\r\n\
data: {\"type\":\"response.output_text.delta\",\"delta\":\"Hi\"}\r\n\r\n\
event: response.completed\r\n\
data: {\"type\":\"response.completed\"}\r\n\r\n";
        let events = parse_all_ways(input);
        assert_eq!(events.len(), 2);
        assert_eq!(
            events[0].event.as_deref(),
            Some("response.output_text.delta")
        );
        assert_eq!(events[1].event.as_deref(), Some("response.completed"));
    }

    #[test]
    fn split_utf8_characters_survive() {
        let input = "data: żółw 🐢\n\n".as_bytes();
        assert_eq!(parse_all_ways(input), vec![ev(None, "żółw 🐢", None)]);
    }

    #[test]
    fn byte_order_mark_is_dropped_once() {
        let input = b"\xEF\xBB\xBFdata: a\n\n\xEF\xBB\xBFdata: b\n\n";
        let events = parse_all_ways(input);
        assert_eq!(events[0], ev(None, "a", None));
        // A BOM later in the stream is part of a field name (ignored).
        assert_eq!(events.len(), 1);
        assert_eq!(parse_all_ways(b"\xEF\xBBx"), Vec::<SseEvent>::new());
        assert_eq!(parse_all_ways(b"\xEF"), Vec::<SseEvent>::new());
    }

    #[test]
    fn finish_flushes_an_unterminated_event() {
        assert_eq!(parse_all_ways(b"data: last"), vec![ev(None, "last", None)]);
        assert_eq!(
            parse_all_ways(b"data: last\n"),
            vec![ev(None, "last", None)]
        );
        assert_eq!(
            parse_all_ways(b"data: a\n\ndata: b\r"),
            vec![ev(None, "a", None), ev(None, "b", None)]
        );
        assert!(parse_all_ways(b"").is_empty());
        assert!(parse_all_ways(b": only a comment").is_empty());
        let mut p = SseParser::new();
        p.push(b"data: x\n\n");
        assert!(p.finish().is_empty());
        assert!(p.finish().is_empty());
    }

    #[test]
    fn empty_event_name_is_none() {
        assert_eq!(
            parse_all_ways(b"event:\ndata: x\n\n"),
            vec![ev(None, "x", None)]
        );
    }
}

#[cfg(test)]
#[path = "sse_fuzz.rs"]
mod fuzz;
