//! The mutations applied to corpus seeds, as plain data so that proptest
//! can generate and shrink them (a failing case shrinks to the fewest and
//! simplest mutations of the simplest seed).
//!
//! Byte-level mutations (flips, insertions of dictionary tokens, deletion,
//! truncation, splicing in a piece of another seed, duplication) work on
//! any input; the JSON ones (replace a value with one of another type, nest
//! a value deeply, drop a value) find the values of a JSON seed with a
//! tolerant scanner and do nothing when there are none.

use std::ops::Range;

/// No mutated input grows past this, so that duplication cannot turn a
/// case into megabytes that only slow the run down.
pub const MAX_LEN: usize = 64 * 1024;

/// Tokens inserted by [`Mutation::Insert`] and strung together for random
/// inputs: the syntax of the formats fuzzed here (JSON, server-sent
/// events, Markdown, Telegram commands, query strings), awkward Unicode and
/// bytes that are not UTF-8, and numbers at the edges of the integer types.
pub const DICTIONARY: &[&[u8]] = &[
    // JSON.
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b":",
    b",",
    b"null",
    b"true",
    b"false",
    b"-",
    b"0",
    b"1e308",
    b"-0",
    b"1.5",
    b"\\u",
    b"\\ud83d",
    b"\\udc00",
    b"\\\"",
    b"\\\\",
    b"\\n",
    b"{}",
    b"[]",
    b"\"type\"",
    b"\"text\"",
    b"\"id\"",
    // Integers at the edges.
    b"-1",
    b"255",
    b"4294967296",
    b"9223372036854775807",
    b"9223372036854775808",
    b"-9223372036854775808",
    b"18446744073709551615",
    b"18446744073709551616",
    // Line structure and whitespace.
    b"\n",
    b"\r",
    b"\r\n",
    b"\n\n",
    b"\t",
    b" ",
    b"    ",
    b"\0",
    // Bytes and characters that trip up text handling.
    b"\xEF\xBB\xBF",
    b"\xFF",
    b"\xC3",
    b"\xF0\x9F",
    b"\xC3\xA9",
    b"\xF0\x9F\x90\xA2",
    "\u{202E}".as_bytes(),
    "\u{FFFD}".as_bytes(),
    "\u{200B}".as_bytes(),
    // Server-sent events.
    b"data:",
    b"data: ",
    b"event:",
    b"id:",
    b"retry:",
    b": ",
    // Markdown (and HTML it must never let through).
    b"**",
    b"*",
    b"_",
    b"__",
    b"`",
    b"```",
    b"~~~",
    b"[",
    b"](",
    b")",
    b"(",
    b"http://",
    b"https://",
    b"javascript:",
    b"<",
    b">",
    b"&",
    b"\"",
    b"'",
    b"#",
    b"## ",
    b"- ",
    b"1. ",
    b"> ",
    b"---",
    b"\\",
    b"![",
    b"<script>",
    b"&lt;",
    // Telegram commands and mentions, query strings.
    b"@",
    b"/start",
    b"/model",
    b"/",
    b"%",
    b"%zz",
    b"%C3",
    b"%00",
    b"+",
    b"=",
    b"&",
    b"?",
];

/// JSON values of every type (and some that parse oddly) that
/// [`Mutation::JsonRetype`] puts in place of a seed's value.
pub const JSON_VALUES: &[&str] = &[
    "null",
    "true",
    "false",
    "0",
    "-1",
    "1.5",
    "-0",
    "1e400",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775809",
    "18446744073709551616",
    "\"\"",
    "\" \"",
    "\"\\u0000\"",
    "\"\\ud800\"",
    "\"\u{e9}\u{1F422}\"",
    "\"<script>alert(1)</script>\"",
    "\"**[x](javascript:alert(1))**\"",
    "[]",
    "{}",
    "[null]",
    "{\"\":null}",
    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
];

/// One change to an input. Positions and choices are numbers taken modulo
/// the input's length (or the list's) when applied, so a mutation fits any
/// input, and shrinking them towards 0 moves towards the start.
#[derive(Clone, Debug)]
pub enum Mutation {
    /// Flips bit `bit % 8` of the byte at `at`.
    FlipBit { at: u32, bit: u8 },
    /// Sets the byte at `at`.
    SetByte { at: u32, byte: u8 },
    /// Inserts the [`DICTIONARY`] token `token` before `at`.
    Insert { at: u32, token: u32 },
    /// Deletes up to `len` bytes from `at`.
    Delete { at: u32, len: u8 },
    /// Cuts the input at `at`.
    Truncate { at: u32 },
    /// Inserts before `at` the tail of seed `other` from `from` on (up to
    /// 256 bytes of it).
    Splice { at: u32, other: u32, from: u32 },
    /// Repeats the `len` bytes from `at` `times` more times.
    Duplicate { at: u32, len: u8, times: u8 },
    /// Replaces JSON value number `which` with [`JSON_VALUES`]`[with]`.
    JsonRetype { which: u32, with: u32 },
    /// Wraps JSON value number `which` in `depth` arrays (or objects).
    JsonNest {
        which: u32,
        depth: u16,
        object: bool,
    },
    /// Removes JSON value number `which` (leaving its key, or a stray
    /// comma, behind: an error the parser must report, not crash on).
    JsonDrop { which: u32 },
}

impl Mutation {
    /// Applies the mutation to `input`; `seeds` are the splice sources.
    pub fn apply(&self, input: &mut Vec<u8>, seeds: &[Vec<u8>]) {
        let len = input.len();
        // A position in the input, or 0 for an empty one.
        let pos = |at: &u32| if len == 0 { 0 } else { pick(*at, len) };
        // A position to insert at: anywhere from the start to the end.
        let gap = |at: &u32| pick(*at, len + 1);
        match self {
            Mutation::FlipBit { at, bit } if len > 0 => input[pos(at)] ^= 1 << (bit % 8),
            Mutation::SetByte { at, byte } if len > 0 => input[pos(at)] = *byte,
            Mutation::Insert { at, token } => {
                let token = DICTIONARY[pick(*token, DICTIONARY.len())];
                let at = gap(at);
                input.splice(at..at, token.iter().copied());
            }
            Mutation::Delete { at, len: n } if len > 0 => {
                let at = pos(at);
                let end = (at + usize::from(*n).max(1)).min(len);
                input.drain(at..end);
            }
            Mutation::Truncate { at } => input.truncate(gap(at)),
            Mutation::Splice { at, other, from } if !seeds.is_empty() => {
                let other = &seeds[pick(*other, seeds.len())];
                let from = pick(*from, other.len() + 1);
                let piece = &other[from..other.len().min(from + 256)];
                let at = gap(at);
                input.splice(at..at, piece.iter().copied());
            }
            Mutation::Duplicate { at, len: n, times } if len > 0 => {
                let at = pos(at);
                let piece = input[at..(at + usize::from(*n).max(1)).min(len)].to_vec();
                for _ in 0..=*times {
                    input.splice(at..at, piece.iter().copied());
                    if input.len() > MAX_LEN {
                        break;
                    }
                }
            }
            Mutation::JsonRetype { which, with } => {
                if let Some(span) = pick_value(input, *which) {
                    let value = JSON_VALUES[pick(*with, JSON_VALUES.len())];
                    input.splice(span, value.bytes());
                }
            }
            Mutation::JsonNest {
                which,
                depth,
                object,
            } => {
                if let Some(span) = pick_value(input, *which) {
                    let (open, close): (&[u8], &[u8]) = if *object {
                        (b"{\"a\":", b"}")
                    } else {
                        (b"[", b"]")
                    };
                    let depth = usize::from(*depth);
                    input.splice(span.end..span.end, close.repeat(depth));
                    input.splice(span.start..span.start, open.repeat(depth));
                }
            }
            Mutation::JsonDrop { which } => {
                if let Some(span) = pick_value(input, *which) {
                    input.drain(span);
                }
            }
            // A byte mutation of an empty input, a splice without seeds.
            _ => {}
        }
        input.truncate(MAX_LEN);
    }
}

/// Choice `n` among `count` (at least 1) things.
pub fn pick(n: u32, count: usize) -> usize {
    n as usize % count
}

/// The span of one of the JSON values in `input`, if it has any.
fn pick_value(input: &[u8], which: u32) -> Option<Range<usize>> {
    let spans = json_values(input);
    (!spans.is_empty()).then(|| spans[pick(which, spans.len())].clone())
}

/// The byte spans of the JSON values in `input` (the top-level one, its
/// members' values, their values...), as far as `input` is well-formed.
/// Tolerant: it stops at the first syntax error and keeps what it found.
pub fn json_values(input: &[u8]) -> Vec<Range<usize>> {
    let mut scanner = Scanner {
        bytes: input,
        at: 0,
        found: Vec::new(),
    };
    scanner.value(0);
    scanner.found
}

/// A recursive-descent walk over JSON that records where values are.
struct Scanner<'a> {
    bytes: &'a [u8],
    at: usize,
    found: Vec<Range<usize>>,
}

impl Scanner<'_> {
    /// Deeper values are not looked into: the walk must not overflow the
    /// stack on an input a nesting mutation made.
    const MAX_DEPTH: usize = 64;

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn skip_space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    /// Reads one value starting at the next non-space; false when the input
    /// is not well-formed there.
    fn value(&mut self, depth: usize) -> bool {
        if depth > Self::MAX_DEPTH {
            return false;
        }
        self.skip_space();
        let start = self.at;
        let ok = match self.peek() {
            Some(b'{') => self.container(depth, b'}', true),
            Some(b'[') => self.container(depth, b']', false),
            Some(b'"') => self.string(),
            Some(_) => {
                while self
                    .peek()
                    .is_some_and(|b| !b",]}: \t\r\n".contains(&b) && b != b'"')
                {
                    self.at += 1;
                }
                self.at > start
            }
            None => false,
        };
        if ok {
            self.found.push(start..self.at);
        }
        ok
    }

    /// An object (members with string keys) or an array, opened at `at`.
    fn container(&mut self, depth: usize, close: u8, keyed: bool) -> bool {
        self.at += 1;
        self.skip_space();
        if self.peek() == Some(close) {
            self.at += 1;
            return true;
        }
        loop {
            if keyed {
                self.skip_space();
                if !self.string() {
                    return false;
                }
                self.skip_space();
                if self.peek() != Some(b':') {
                    return false;
                }
                self.at += 1;
            }
            if !self.value(depth + 1) {
                return false;
            }
            self.skip_space();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b) if b == close => {
                    self.at += 1;
                    return true;
                }
                _ => return false,
            }
        }
    }

    /// A string opened at `at`, escapes skipped over.
    fn string(&mut self) -> bool {
        if self.peek() != Some(b'"') {
            return false;
        }
        self.at += 1;
        while let Some(b) = self.peek() {
            self.at += 1;
            match b {
                b'\\' => self.at += 1,
                b'"' => return true,
                _ => {}
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spans(text: &str) -> Vec<&str> {
        json_values(text.as_bytes())
            .into_iter()
            .map(|r| &text[r])
            .collect()
    }

    #[test]
    fn finds_every_value_innermost_first() {
        assert_eq!(
            spans(r#"{"a": 1, "b": ["x\"y", null], "c": {}}"#),
            [
                "1",
                r#""x\"y""#,
                "null",
                r#"["x\"y", null]"#,
                "{}",
                r#"{"a": 1, "b": ["x\"y", null], "c": {}}"#
            ]
        );
        assert_eq!(spans(" 42 "), ["42"]);
    }

    #[test]
    fn keeps_what_it_found_before_an_error() {
        assert_eq!(spans(r#"{"a": 1, "b" 2}"#), ["1"]);
        assert!(spans("").is_empty());
        assert!(spans("}").is_empty());
        let deep = format!("{}1{}", "[".repeat(100), "]".repeat(100));
        assert!(spans(&deep).is_empty(), "too deep to look into");
    }

    #[test]
    fn mutations_apply_to_any_input() {
        let seeds = vec![b"{\"a\":[1,2]}".to_vec()];
        let mut input = seeds[0].clone();
        Mutation::JsonRetype { which: 0, with: 0 }.apply(&mut input, &seeds);
        assert_eq!(input, b"{\"a\":[null,2]}");
        Mutation::JsonNest {
            which: 0,
            depth: 2,
            object: false,
        }
        .apply(&mut input, &seeds);
        assert_eq!(input, b"{\"a\":[[[null]],2]}");
        let mut empty = Vec::new();
        for m in [
            Mutation::FlipBit { at: 3, bit: 9 },
            Mutation::Delete { at: 0, len: 3 },
            Mutation::Duplicate {
                at: 1,
                len: 0,
                times: 200,
            },
            Mutation::JsonDrop { which: 5 },
        ] {
            m.apply(&mut empty, &seeds);
        }
        assert!(empty.is_empty());
        let mut big = vec![b'x'; 1000];
        Mutation::Duplicate {
            at: 0,
            len: 255,
            times: 255,
        }
        .apply(&mut big, &seeds);
        assert_eq!(big.len(), MAX_LEN);
    }
}
