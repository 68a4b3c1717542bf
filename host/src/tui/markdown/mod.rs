//! Markdown to terminal lines, for the chat transcript.
//!
//! The assistant answers in Markdown; the transcript shows it as styled
//! [`Line`]s already wrapped to the pane's width, so the view only has to
//! draw them and can scroll by line. [`render`] walks pulldown-cmark's
//! events and lays the blocks out itself: one blank line between blocks,
//! `• `/`◦ ` and `1. ` list markers with wrapped lines hung under the text,
//! `│ ` before quoted lines and code, a `┌─ lang` line above code, headings
//! in the theme's heading style (level 1 underlined, level 3 and deeper
//! italic), links followed by their URL, GFM tables as padded columns.
//! [`wrap_plain`] wraps text that is not Markdown (the user's own words,
//! errors) the same way.
//!
//! Answers arrive streamed, so the input may stop anywhere (inside a code
//! fence, after `**`): the parser closes whatever is open, and nothing here
//! assumes a well-formed document. Widths are display columns
//! (unicode-width: CJK and emoji count 2) and no line is wider than asked.
//! Widths below 8 are treated as 8, so a tiny or zero-width pane gets lines
//! the view clips, not one character per line; prefixes of deep nesting are
//! cut to half the width so text always keeps room. The work is linear in
//! the input (the caller caches the result per width).

use pulldown_cmark::{CodeBlockKind, Event, HeadingLevel, LinkType, Options, Parser, Tag, TagEnd};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use super::theme::Theme;

/// The narrowest width laid out; narrower requests are treated as this.
const MIN_WIDTH: u16 = 8;
/// Tab stops, in columns, in code blocks and plain text.
const TAB: usize = 4;

/// A run of text in one style.
type Seg = (String, Style);

/// Renders Markdown into lines wrapped to `width` columns (never wider;
/// widths below 8 count as 8). Blocks are separated by one blank line,
/// with none at the end; empty input gives no lines. Input cut off
/// mid-stream renders as far as it goes.
pub fn render(md: &str, width: u16, theme: &Theme) -> Vec<Line<'static>> {
    let mut r = Renderer::new(theme, usize::from(width.max(MIN_WIDTH)));
    for event in Parser::new_ext(md, Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TABLES) {
        r.event(event);
    }
    r.flush();
    while r.out.last().is_some_and(|l| l.width() == 0) {
        r.out.pop();
    }
    r.out
}

/// Wraps plain text (no Markdown: used for the user's own messages and
/// errors) to `width` columns (widths below 8 count as 8), every span in
/// `style`. Explicit newlines are kept, as are runs of spaces and the
/// indentation at the start of a line; spaces where a line wraps are
/// dropped, and a word wider than the width is broken.
pub fn wrap_plain(text: &str, width: u16, style: Style) -> Vec<Line<'static>> {
    wrap([(text, style)], usize::from(width.max(MIN_WIDTH)))
        .into_iter()
        .map(Line::from)
        .collect()
}

/// Word-wraps styled runs to `avail` columns; `\n` ends a line.
fn wrap<'s>(
    segs: impl IntoIterator<Item = (&'s str, Style)>,
    avail: usize,
) -> Vec<Vec<Span<'static>>> {
    let mut f = Filler::new(avail);
    let mut word: Vec<Seg> = Vec::new();
    for (text, style) in segs {
        for c in text.chars() {
            match c {
                ' ' | '\t' | '\n' => {
                    if !word.is_empty() {
                        f.word(&word);
                        word.clear();
                    }
                    match c {
                        '\n' => f.end_line(),
                        '\t' => f.space(TAB, style),
                        _ => f.space(1, style),
                    }
                }
                c if c.is_control() => {}
                c => match word.last_mut() {
                    Some((s, st)) if *st == style => s.push(c),
                    _ => word.push((c.to_string(), style)),
                },
            }
        }
    }
    if !word.is_empty() {
        f.word(&word);
    }
    f.finish()
}

/// `s` without control chars, cut to at most `w` columns.
fn clip(s: &str, w: usize) -> String {
    let mut used = 0;
    let mut out: String = s
        .chars()
        .filter(|c| !c.is_control())
        .take_while(|c| {
            used += c.width().unwrap_or(0);
            used <= w
        })
        .collect();
    // Sequences (emoji with U+FE0F) can be wider than their chars.
    while out.width() > w {
        out.pop();
    }
    out
}

/// Greedy line filler: words go on the current line while they fit.
#[derive(Default)]
struct Filler {
    avail: usize,
    lines: Vec<Vec<Span<'static>>>,
    line: Vec<Seg>,
    line_w: usize,
    /// Width of the line's last run, kept so a char appended to it can be
    /// measured in context (emoji sequences, ligatures).
    last_w: usize,
    /// Spaces seen since the last word, placed only if a word follows.
    gap: Vec<Seg>,
    gap_w: usize,
}

impl Filler {
    fn new(avail: usize) -> Filler {
        Filler {
            avail: avail.max(1),
            ..Filler::default()
        }
    }

    fn append(&mut self, text: &str, style: Style, w: usize) {
        match self.line.last_mut() {
            Some((s, st)) if *st == style => {
                s.push_str(text);
                self.last_w += w;
            }
            _ => {
                self.line.push((text.to_owned(), style));
                self.last_w = w;
            }
        }
        self.line_w += w;
    }

    fn space(&mut self, n: usize, style: Style) {
        match self.gap.last_mut() {
            Some((s, st)) if *st == style => s.push_str(&" ".repeat(n)),
            _ => self.gap.push((" ".repeat(n), style)),
        }
        self.gap_w += n;
    }

    fn place_gap(&mut self) {
        for (s, st) in std::mem::take(&mut self.gap) {
            self.append(&s, st, s.len());
        }
        self.gap_w = 0;
    }

    fn drop_gap(&mut self) {
        self.gap.clear();
        self.gap_w = 0;
    }

    fn word(&mut self, pieces: &[Seg]) {
        let w: usize = pieces.iter().map(|(s, _)| s.width()).sum();
        if self.line_w + self.gap_w + w <= self.avail {
            self.place_gap();
        } else if w <= self.avail {
            if self.line_w > 0 {
                self.end_line();
            }
            self.drop_gap();
        } else {
            // Wider than a whole line: break it, starting here if at least
            // half the line is left (CJK runs), else on a new line (URLs).
            if self.line_w > 0 && self.line_w + self.gap_w <= self.avail / 2 {
                self.place_gap();
            } else if self.line_w > 0 {
                self.end_line();
            }
            self.drop_gap();
            for (s, st) in pieces {
                s.chars().for_each(|c| self.push_char(c, *st));
            }
            return;
        }
        for (s, st) in pieces {
            self.append(s, *st, s.width());
        }
    }

    /// Appends one char, starting a new line first if it would overflow.
    fn push_char(&mut self, c: char, style: Style) {
        if self.line.last().is_none_or(|(_, st)| *st != style) {
            self.line.push((String::new(), style));
            self.last_w = 0;
        }
        let alone = self.line_w == 0;
        let (piece, _) = self.line.last_mut().expect("a run was pushed above");
        piece.push(c);
        // An ASCII char never changes the width of what precedes it.
        let last_w = if c.is_ascii() {
            self.last_w + 1
        } else {
            piece.width()
        };
        let line_w = self.line_w - self.last_w + last_w;
        if line_w <= self.avail || alone {
            self.line_w = line_w;
            self.last_w = last_w;
            return;
        }
        piece.pop();
        if piece.is_empty() {
            self.line.pop();
        }
        self.end_line();
        self.push_char(c, style);
    }

    fn end_line(&mut self) {
        let line = std::mem::take(&mut self.line);
        self.lines.push(
            line.into_iter()
                .map(|(s, st)| Span::styled(s, st))
                .collect(),
        );
        self.line_w = 0;
        self.last_w = 0;
        self.drop_gap();
    }

    fn finish(mut self) -> Vec<Vec<Span<'static>>> {
        if !self.line.is_empty() {
            self.end_line();
        }
        self.lines
    }
}

/// A block that prefixes each of its lines.
enum Container {
    /// `│ ` on every line.
    Quote,
    /// The marker (`• `, `3. `) on the item's first line, as many spaces
    /// on the others.
    Item { marker: String, pending: bool },
}

struct Link {
    url: String,
    text: String,
    auto: bool,
}

#[derive(Default)]
struct Table {
    rows: Vec<Vec<Vec<Seg>>>,
    /// Rows that are the header (0 or 1).
    head: usize,
}

struct Renderer<'t> {
    theme: &'t Theme,
    width: usize,
    out: Vec<Line<'static>>,
    stack: Vec<Container>,
    /// The open lists, with the next number of ordered ones.
    lists: Vec<Option<u64>>,
    /// The inline content of the current block, not yet wrapped.
    inline: Vec<Seg>,
    mods: Vec<Modifier>,
    links: Vec<Link>,
    heading: Option<HeadingLevel>,
    /// Inside a code block: its text so far.
    code: Option<String>,
    /// Inside an image: nesting depth and alt text.
    image: Option<(usize, String)>,
    table: Option<Table>,
    /// A blank line is due before the next block.
    blank: bool,
}

impl<'t> Renderer<'t> {
    fn new(theme: &'t Theme, width: usize) -> Renderer<'t> {
        Renderer {
            theme,
            width,
            out: Vec::new(),
            stack: Vec::new(),
            lists: Vec::new(),
            inline: Vec::new(),
            mods: Vec::new(),
            links: Vec::new(),
            heading: None,
            code: None,
            image: None,
            table: None,
            blank: false,
        }
    }

    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(t) | Event::Html(t) | Event::InlineHtml(t) => self.text(&t),
            Event::Code(t) | Event::InlineMath(t) | Event::DisplayMath(t) => {
                match &mut self.image {
                    Some((_, alt)) => alt.push_str(&t),
                    None => self.push(&t, self.theme.code),
                }
            }
            Event::FootnoteReference(t) => self.text(&format!("[^{t}]")),
            Event::SoftBreak => self.text(" "),
            Event::HardBreak => self.text("\n"),
            Event::Rule => {
                self.block_start();
                let rule = "─".repeat(self.avail());
                self.emit(vec![Span::styled(rule, self.theme.dim)]);
                self.blank = true;
            }
            Event::TaskListMarker(done) => self.text(if done { "[x] " } else { "[ ] " }),
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        match tag {
            Tag::Paragraph
            | Tag::HtmlBlock
            | Tag::FootnoteDefinition(_)
            | Tag::DefinitionList
            | Tag::DefinitionListTitle
            | Tag::DefinitionListDefinition
            | Tag::MetadataBlock(_) => self.block_start(),
            Tag::Heading { level, .. } => {
                self.block_start();
                self.heading = Some(level);
            }
            Tag::BlockQuote(_) => {
                self.block_start();
                self.stack.push(Container::Quote);
            }
            Tag::CodeBlock(kind) => {
                self.block_start();
                let lang = match &kind {
                    CodeBlockKind::Fenced(info) => info.split_whitespace().next().unwrap_or(""),
                    CodeBlockKind::Indented => "",
                };
                let header = if lang.is_empty() {
                    "┌─".to_owned()
                } else {
                    format!("┌─ {lang}")
                };
                let header = clip(&header, self.avail());
                self.emit(vec![Span::styled(header, self.theme.dim)]);
                self.code = Some(String::new());
            }
            Tag::List(start) => {
                self.block_start();
                self.lists.push(start);
            }
            Tag::Item => {
                self.flush();
                let depth = self.lists.len();
                let marker = match self.lists.last_mut() {
                    Some(Some(n)) => {
                        *n += 1;
                        format!("{}. ", *n - 1)
                    }
                    _ if depth.is_multiple_of(2) => "◦ ".to_owned(),
                    _ => "• ".to_owned(),
                };
                self.stack.push(Container::Item {
                    marker,
                    pending: true,
                });
            }
            Tag::Table(_) => {
                self.block_start();
                self.table = Some(Table::default());
            }
            Tag::TableHead | Tag::TableRow => {
                if matches!(tag, Tag::TableHead) {
                    self.mods.push(Modifier::BOLD);
                }
                if let Some(t) = &mut self.table {
                    t.rows.push(Vec::new());
                }
            }
            Tag::TableCell => {}
            Tag::Emphasis => self.mods.push(Modifier::ITALIC),
            Tag::Strong => self.mods.push(Modifier::BOLD),
            Tag::Strikethrough => self.mods.push(Modifier::CROSSED_OUT),
            Tag::Superscript | Tag::Subscript => self.mods.push(Modifier::empty()),
            Tag::Link {
                link_type,
                dest_url,
                ..
            } if self.image.is_none() => self.links.push(Link {
                url: dest_url.into_string(),
                text: String::new(),
                auto: matches!(link_type, LinkType::Autolink | LinkType::Email),
            }),
            Tag::Link { .. } => {}
            Tag::Image { .. } => match &mut self.image {
                Some((depth, _)) => *depth += 1,
                None => self.image = Some((0, String::new())),
            },
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Paragraph
            | TagEnd::HtmlBlock
            | TagEnd::FootnoteDefinition
            | TagEnd::DefinitionList
            | TagEnd::DefinitionListTitle
            | TagEnd::DefinitionListDefinition
            | TagEnd::MetadataBlock(_) => self.end_block(),
            TagEnd::Heading(_) => {
                self.end_block();
                self.heading = None;
            }
            TagEnd::BlockQuote(_) => {
                self.end_block();
                self.stack.pop();
            }
            TagEnd::CodeBlock => {
                let code = self.code.take().unwrap_or_default();
                self.code_lines(&code);
                self.blank = true;
            }
            TagEnd::List(_) => {
                self.flush();
                self.lists.pop();
                self.blank |= self.lists.is_empty();
            }
            TagEnd::Item => {
                self.flush();
                if let Some(Container::Item { pending: true, .. }) = self.stack.last() {
                    self.emit(Vec::new()); // an empty item still shows its marker
                }
                self.stack.pop();
            }
            TagEnd::Table => {
                if let Some(t) = self.table.take() {
                    self.table_lines(t);
                }
                self.blank = true;
            }
            TagEnd::TableHead => {
                self.mods.pop();
                if let Some(t) = &mut self.table {
                    t.head = t.rows.len();
                }
            }
            TagEnd::TableRow => {}
            TagEnd::TableCell => {
                let cell = std::mem::take(&mut self.inline);
                if let Some(row) = self.table.as_mut().and_then(|t| t.rows.last_mut()) {
                    row.push(cell);
                }
            }
            TagEnd::Emphasis
            | TagEnd::Strong
            | TagEnd::Strikethrough
            | TagEnd::Superscript
            | TagEnd::Subscript => {
                self.mods.pop();
            }
            TagEnd::Link if self.image.is_none() => {
                let Some(link) = self.links.pop() else { return };
                let same =
                    link.text == link.url || link.url.strip_prefix("mailto:") == Some(&link.text);
                if !link.auto && !same && !link.url.is_empty() {
                    self.push(&format!(" ({})", link.url), self.theme.dim);
                }
            }
            TagEnd::Link => {}
            TagEnd::Image => match self.image.take() {
                Some((0, alt)) if alt.is_empty() => self.push("[image]", self.theme.dim),
                Some((0, alt)) => self.push(&format!("[image {alt}]"), self.theme.dim),
                Some((depth, alt)) => self.image = Some((depth - 1, alt)),
                None => {}
            },
        }
    }

    /// The style of ordinary inline text at this point.
    fn style(&self) -> Style {
        let t = self.theme;
        let base = if !self.links.is_empty() {
            t.link
        } else if let Some(level) = self.heading {
            match level {
                HeadingLevel::H1 => t.heading.add_modifier(Modifier::UNDERLINED),
                HeadingLevel::H2 => t.heading,
                _ => t.heading.add_modifier(Modifier::ITALIC),
            }
        } else if self.stack.iter().any(|c| matches!(c, Container::Quote)) {
            t.text.add_modifier(Modifier::ITALIC)
        } else {
            t.text
        };
        self.mods.iter().fold(base, |s, m| s.add_modifier(*m))
    }

    fn text(&mut self, t: &str) {
        if let Some(code) = &mut self.code {
            code.push_str(t);
        } else if let Some((_, alt)) = &mut self.image {
            alt.push_str(t);
        } else {
            self.push(t, self.style());
        }
    }

    fn push(&mut self, t: &str, style: Style) {
        if let Some(link) = self.links.last_mut() {
            link.text.push_str(t);
        }
        match self.inline.last_mut() {
            Some((s, st)) if *st == style => s.push_str(t),
            _ => self.inline.push((t.to_owned(), style)),
        }
    }

    /// The prefix of the next line: quote bars and list indents, with the
    /// markers of items not yet shown (none on a blank line, which also
    /// loses its trailing spaces). Never more than half the width.
    fn prefix(&self, blank: bool) -> Vec<Span<'static>> {
        let mut room = self.width / 2;
        let mut spans = Vec::new();
        for c in &self.stack {
            let (text, style) = match c {
                Container::Quote => ("│ ".to_owned(), self.theme.dim),
                Container::Item {
                    marker,
                    pending: true,
                } if !blank => (marker.clone(), self.theme.accent),
                Container::Item { marker, .. } => (" ".repeat(marker.width()), Style::default()),
            };
            let text = clip(&text, room);
            room -= text.width();
            spans.push(Span::styled(text, style));
        }
        while blank && let Some(last) = spans.last_mut() {
            let kept = last.content.trim_end().to_owned();
            if !kept.is_empty() {
                last.content = kept.into();
                break;
            }
            spans.pop();
        }
        spans
    }

    /// Columns left for content after the prefix.
    fn avail(&self) -> usize {
        self.width - self.prefix(false).iter().map(Span::width).sum::<usize>()
    }

    /// Pushes a line: the prefix, then `content`.
    fn emit(&mut self, content: Vec<Span<'static>>) {
        let mut spans = self.prefix(false);
        spans.extend(content);
        self.out.push(Line::from(spans));
        for c in &mut self.stack {
            if let Container::Item { pending, .. } = c {
                *pending = false;
            }
        }
    }

    /// Wraps and emits the pending inline content.
    fn flush(&mut self) {
        if self.inline.is_empty() || self.table.is_some() {
            return;
        }
        let segs = std::mem::take(&mut self.inline);
        for line in wrap(segs.iter().map(|(s, st)| (s.as_str(), *st)), self.avail()) {
            self.emit(line);
        }
    }

    fn block_start(&mut self) {
        self.flush();
        if self.blank && !self.out.is_empty() {
            let prefix = self.prefix(true);
            self.out.push(Line::from(prefix));
        }
        self.blank = false;
    }

    fn end_block(&mut self) {
        self.flush();
        self.blank = true;
    }

    /// A code block's lines as they are, behind a bar; long ones broken.
    fn code_lines(&mut self, code: &str) {
        if code.is_empty() {
            return;
        }
        let (bar, style) = (self.theme.dim, self.theme.code);
        let avail = self.avail().saturating_sub(2);
        for raw in code.strip_suffix('\n').unwrap_or(code).split('\n') {
            let mut f = Filler::new(avail);
            let mut col = 0;
            for c in raw.chars() {
                if c == '\t' {
                    let n = TAB - col % TAB;
                    (0..n).for_each(|_| f.push_char(' ', style));
                    col += n;
                } else if !c.is_control() {
                    f.push_char(c, style);
                    col += 1;
                }
            }
            let mut lines = f.finish();
            if lines.is_empty() {
                lines.push(Vec::new());
            }
            for line in lines {
                let mut spans = vec![Span::styled("│ ", bar)];
                spans.extend(line);
                self.emit(spans);
            }
        }
    }

    /// A table as padded columns when it fits, else each row wrapped.
    fn table_lines(&mut self, table: Table) {
        let dim = self.theme.dim;
        let cols = table.rows.iter().map(Vec::len).max().unwrap_or(0);
        let cell_w = |cell: &[Seg]| cell.iter().map(|(s, _)| s.width()).sum::<usize>();
        let mut widths = vec![0; cols];
        for row in &table.rows {
            for (i, cell) in row.iter().enumerate() {
                widths[i] = widths[i].max(cell_w(cell));
            }
        }
        let avail = self.avail();
        let fits = widths.iter().sum::<usize>() + 3 * cols.saturating_sub(1) <= avail;
        for (r, row) in table.rows.iter().enumerate() {
            let mut segs: Vec<(&str, Style)> = Vec::new();
            let mut pads = Vec::new();
            for (i, cell) in row.iter().enumerate() {
                pads.push(" ".repeat(widths[i] - cell_w(cell)));
            }
            for (i, cell) in row.iter().enumerate() {
                if i > 0 {
                    segs.push((" │ ", dim));
                }
                segs.extend(cell.iter().map(|(s, st)| (s.as_str(), *st)));
                if fits {
                    segs.push((&pads[i], Style::default()));
                }
            }
            for line in wrap(segs, avail) {
                self.emit(line);
            }
            if r + 1 == table.head {
                let rule = if fits {
                    widths
                        .iter()
                        .map(|w| "─".repeat(*w))
                        .collect::<Vec<_>>()
                        .join("─┼─")
                } else {
                    "─".repeat(avail)
                };
                self.emit(vec![Span::styled(rule, dim)]);
            }
        }
    }
}

#[cfg(test)]
mod tests;
