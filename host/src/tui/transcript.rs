//! The chat transcript: its entries, each kept with its lines wrapped to
//! the current width, and the scroll position.
//!
//! Wrapping (and Markdown) is done once per entry and width, when the
//! entry changes or the terminal is resized, so drawing a frame costs the
//! lines on screen, not the length of the conversation. The scroll
//! position is an anchor (an entry and a line in it), so a resize keeps
//! the same text at the top.

use super::markdown;
use super::theme::Theme;
use ratatui::text::{Line, Span};

/// What an entry is.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    User,
    Assistant,
    /// A tool call: running (`None`), ok or failed.
    Tool {
        name: String,
        arguments: String,
        ok: Option<bool>,
    },
    Notice,
    Error,
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub kind: Kind,
    pub text: String,
    lines: Vec<Line<'static>>,
}

impl Entry {
    pub fn lines(&self) -> &[Line<'static>] {
        &self.lines
    }
}

/// Where the view is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scroll {
    /// Showing the end, following new text.
    Follow,
    /// The top line on screen: entry `entry`, its line `line`.
    At { entry: usize, line: usize },
}

#[derive(Debug, Clone)]
pub struct Transcript {
    entries: Vec<Entry>,
    width: u16,
    theme: Theme,
    pub scroll: Scroll,
}

/// How wide a tool call's arguments may be on its line.
const ARGS_WIDTH: usize = 60;

impl Transcript {
    pub fn new(theme: Theme) -> Transcript {
        Transcript {
            entries: Vec::new(),
            width: 80,
            theme,
            scroll: Scroll::Follow,
        }
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn clear(&mut self) {
        self.entries.clear();
        self.scroll = Scroll::Follow;
    }

    pub fn push(&mut self, kind: Kind, text: impl Into<String>) {
        let mut entry = Entry {
            kind,
            text: text.into(),
            lines: Vec::new(),
        };
        entry.lines = self.wrap(&entry);
        self.entries.push(entry);
    }

    /// Appends streamed text to the last entry when it is the assistant's,
    /// else starts one.
    pub fn append_delta(&mut self, text: &str) {
        match self.entries.last_mut() {
            Some(e) if e.kind == Kind::Assistant => {
                e.text.push_str(text);
                let lines = wrap(e, self.width, &self.theme);
                self.entries.last_mut().expect("just matched").lines = lines;
            }
            _ => self.push(Kind::Assistant, text),
        }
    }

    /// Replaces the streamed text of the turn with its whole answer.
    pub fn finish_answer(&mut self, answer: &str) {
        match self.entries.last_mut() {
            Some(e) if e.kind == Kind::Assistant => {
                e.text = answer.to_string();
                let lines = wrap(e, self.width, &self.theme);
                self.entries.last_mut().expect("just matched").lines = lines;
            }
            _ if answer.is_empty() => {}
            _ => self.push(Kind::Assistant, answer),
        }
    }

    /// Marks the newest running call of `name` as ended.
    pub fn finish_tool(&mut self, name: &str, ok: bool) {
        let width = self.width;
        let theme = self.theme.clone();
        if let Some(e) = self
            .entries
            .iter_mut()
            .rev()
            .find(|e| matches!(&e.kind, Kind::Tool { name: n, ok: None, .. } if n == name))
        {
            if let Kind::Tool { ok: state, .. } = &mut e.kind {
                *state = Some(ok);
            }
            e.lines = wrap(e, width, &theme);
        }
    }

    /// Marks every call still shown as running as failed: its turn ended
    /// without it (a stop).
    pub fn end_running_tools(&mut self) {
        let width = self.width;
        let theme = self.theme.clone();
        for e in self.entries.iter_mut().rev() {
            if let Kind::Tool {
                ok: state @ None, ..
            } = &mut e.kind
            {
                *state = Some(false);
                e.lines = wrap(e, width, &theme);
            }
        }
    }

    /// Re-wraps everything for a new width, keeping the top line's entry.
    pub fn set_width(&mut self, width: u16) {
        if width == self.width {
            return;
        }
        let old: Vec<usize> = self.entries.iter().map(|e| e.lines.len()).collect();
        self.width = width;
        for i in 0..self.entries.len() {
            self.entries[i].lines = self.wrap(&self.entries[i]);
        }
        if let Scroll::At { entry, line } = self.scroll
            && let Some(e) = self.entries.get(entry)
        {
            // The same share of the entry stays at the top.
            let before = old.get(entry).copied().unwrap_or(1).max(1);
            let line = (line * e.lines.len() / before).min(e.lines.len().saturating_sub(1));
            self.scroll = Scroll::At { entry, line };
        }
    }

    fn wrap(&self, entry: &Entry) -> Vec<Line<'static>> {
        wrap(entry, self.width, &self.theme)
    }

    /// The `height` lines on screen, with the spinner frame for running
    /// tool calls.
    pub fn visible(&self, height: usize) -> Vec<Line<'static>> {
        self.visible_entries(height)
            .into_iter()
            .map(|(_, l)| l)
            .collect()
    }

    /// [`Transcript::visible`], each line with the index of its entry.
    pub fn visible_entries(&self, height: usize) -> Vec<(usize, Line<'static>)> {
        let (entry, line) = self.top(height);
        let mut out = Vec::with_capacity(height);
        let mut at = (entry, line);
        while out.len() < height && at.0 < self.entries.len() {
            let lines = &self.entries[at.0].lines;
            if let Some(l) = lines.get(at.1) {
                out.push((at.0, l.clone()));
                at.1 += 1;
            } else {
                at = (at.0 + 1, 0);
            }
        }
        out
    }

    /// The top line for a screen of `height` lines.
    fn top(&self, height: usize) -> (usize, usize) {
        match self.scroll {
            Scroll::At { entry, line } if entry < self.entries.len() => (entry, line),
            _ => self.back_from_end(height),
        }
    }

    /// The position `n` lines before the end (the start if there are fewer).
    fn back_from_end(&self, n: usize) -> (usize, usize) {
        let mut left = n;
        for (i, e) in self.entries.iter().enumerate().rev() {
            let len = e.lines.len();
            if len >= left {
                return (i, len - left);
            }
            left -= len;
        }
        (0, 0)
    }

    /// Scrolls by `delta` lines (negative: up) on a screen of `height`.
    pub fn scroll_by(&mut self, delta: i64, height: usize) {
        let (mut entry, mut line) = self.top(height);
        if delta < 0 && self.back_from_end(height) == (0, 0) {
            // Everything fits on the screen: nothing to scroll to.
            return;
        }
        if delta < 0 {
            for _ in 0..delta.unsigned_abs() {
                if line > 0 {
                    line -= 1;
                } else if entry > 0 {
                    entry -= 1;
                    line = self.entries[entry].lines.len().saturating_sub(1);
                } else {
                    break;
                }
            }
            self.scroll = Scroll::At { entry, line };
        } else {
            for _ in 0..delta {
                let len = self.entries.get(entry).map_or(0, |e| e.lines.len());
                if line + 1 < len {
                    line += 1;
                } else if entry + 1 < self.entries.len() {
                    entry += 1;
                    line = 0;
                } else {
                    break;
                }
            }
            // At or past the last screenful: follow again.
            let end = self.back_from_end(height);
            self.scroll = if (entry, line) >= end {
                Scroll::Follow
            } else {
                Scroll::At { entry, line }
            };
        }
    }

    /// Bytes the transcript holds (its text and its wrapped lines).
    pub fn memory_bytes(&self) -> usize {
        self.entries
            .iter()
            .map(|e| {
                std::mem::size_of::<Entry>()
                    + e.text.capacity()
                    + e.lines
                        .iter()
                        .map(|l| {
                            std::mem::size_of::<Line>()
                                + l.spans
                                    .iter()
                                    .map(|s| std::mem::size_of::<Span>() + s.content.len())
                                    .sum::<usize>()
                        })
                        .sum::<usize>()
            })
            .sum()
    }
}

/// An entry's lines at `width`: a role line for messages, Markdown for the
/// assistant, one line for a tool call, and a blank line after each.
fn wrap(entry: &Entry, width: u16, theme: &Theme) -> Vec<Line<'static>> {
    let body = width.saturating_sub(2).max(8);
    let indent = |lines: Vec<Line<'static>>| {
        lines.into_iter().map(|mut l| {
            l.spans.insert(0, Span::raw("  "));
            l
        })
    };
    let mut out: Vec<Line<'static>> = Vec::new();
    match &entry.kind {
        Kind::User => {
            let mut lines = markdown::wrap_plain(&entry.text, body, theme.text).into_iter();
            if let Some(mut first) = lines.next() {
                first.spans.insert(0, Span::styled("› ", theme.user));
                out.push(first);
            }
            out.extend(indent(lines.collect()));
        }
        Kind::Assistant => out.extend(indent(markdown::render(&entry.text, body, theme))),
        Kind::Tool {
            name,
            arguments,
            ok,
        } => {
            let args = short_arguments(arguments);
            let (mark, style, tail) = match ok {
                None => ("⚙", theme.accent, " …"),
                Some(true) => ("✓", theme.ok, ""),
                Some(false) => ("✗", theme.error, " — failed"),
            };
            let text = format!("{mark} {name} {args}{tail}");
            out.extend(markdown::wrap_plain(&text, width.max(8), style));
            return out;
        }
        Kind::Notice => out.extend(indent(markdown::wrap_plain(&entry.text, body, theme.dim))),
        Kind::Error => out.extend(indent(markdown::wrap_plain(
            &format!("❌ {}", entry.text),
            body,
            theme.error,
        ))),
    }
    out.push(Line::default());
    out
}

/// A tool call's arguments on one line, cut to [`ARGS_WIDTH`] characters.
pub fn short_arguments(arguments: &str) -> String {
    let one_line: String = arguments.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= ARGS_WIDTH {
        return one_line;
    }
    let cut: String = one_line.chars().take(ARGS_WIDTH - 1).collect();
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(lines: &[Line]) -> Vec<String> {
        lines
            .iter()
            .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect()
    }

    fn numbered(n: usize) -> Transcript {
        let mut t = Transcript::new(Theme::plain());
        t.set_width(40);
        for i in 0..n {
            t.push(Kind::User, format!("message {i}"));
        }
        t
    }

    #[test]
    fn following_shows_the_end_and_scrolling_up_stops_following() {
        let mut t = numbered(10);
        // Each user entry is its line and a blank one.
        let shown = text(&t.visible(4));
        assert_eq!(shown, ["› message 8", "", "› message 9", ""]);
        t.scroll_by(-3, 4);
        assert!(matches!(t.scroll, Scroll::At { .. }));
        assert_eq!(text(&t.visible(4))[0], "");
        assert_eq!(text(&t.visible(4))[1], "› message 7");
        t.scroll_by(100, 4);
        assert_eq!(t.scroll, Scroll::Follow);
        t.scroll_by(-1000, 4);
        assert_eq!(text(&t.visible(1)), ["› message 0"]);
    }

    #[test]
    fn a_resize_keeps_the_entry_at_the_top() {
        let mut t = Transcript::new(Theme::plain());
        t.set_width(80);
        for i in 0..20 {
            t.push(Kind::User, format!("{i} {}", "word ".repeat(30)));
        }
        // The top line is entry 5's second line (of three at 80 columns).
        t.scroll = Scroll::At { entry: 5, line: 1 };
        assert!(
            text(&t.visible(1))[0].starts_with("  "),
            "a continuation line"
        );
        let lines_before = t.entries()[5].lines().len();
        t.set_width(30);
        let Scroll::At { entry, line } = t.scroll else {
            panic!("resize lost the position")
        };
        assert_eq!(entry, 5, "the same entry stays at the top");
        let lines_after = t.entries()[5].lines().len();
        assert!(lines_after > lines_before);
        // The same share of it: a third of the way in.
        assert_eq!(line, lines_after / lines_before);
        assert!(text(&t.visible(1))[0].contains("word"));
    }

    #[test]
    fn deltas_grow_one_answer_and_the_whole_answer_replaces_them() {
        let mut t = Transcript::new(Theme::plain());
        t.push(Kind::User, "hi");
        t.append_delta("Hel");
        t.append_delta("lo **there**");
        assert_eq!(t.len(), 2);
        assert_eq!(t.entries()[1].text, "Hello **there**");
        t.finish_answer("Hello there, friend");
        assert_eq!(t.len(), 2);
        assert!(text(t.entries()[1].lines())[0].contains("Hello there, friend"));
    }

    #[test]
    fn a_tool_call_is_one_line_that_changes_when_it_ends() {
        let mut t = Transcript::new(Theme::plain());
        t.push(
            Kind::Tool {
                name: "system.run".into(),
                arguments: "{\"command\": \"echo hi\"}".into(),
                ok: None,
            },
            "",
        );
        assert_eq!(
            text(t.entries()[0].lines()),
            ["⚙ system.run {\"command\": \"echo hi\"} …"]
        );
        t.finish_tool("system.run", false);
        assert_eq!(
            text(t.entries()[0].lines()),
            ["✗ system.run {\"command\": \"echo hi\"} — failed"]
        );
        assert_eq!(
            short_arguments(&"x".repeat(100)).chars().count(),
            ARGS_WIDTH
        );
    }
}
