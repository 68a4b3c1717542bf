//! A small, safe Markdown renderer for chat bubbles.
//!
//! Messages come from a language model that may have read anything, so they
//! are untrusted: every character of the input is HTML-escaped, and the only
//! tags in the output are the ones this module writes itself. Links must be
//! `http:` or `https:`; anything else stays literal text.
//!
//! Supported: paragraphs (single newlines become `<br>`), `#` headings,
//! fenced code blocks (an unclosed fence runs to the end, which suits
//! streaming), `-`/`*`/`+` and `1.` lists (nested by indentation),
//! `>` quotes, `---` rules, and inline `**bold**`, `*italic*`/`_italic_`,
//! `` `code` ``, `[text](https://…)` and bare `https://…` links.

/// Nesting deeper than this (lists in quotes in lists…, emphasis in
/// emphasis…) is rendered flat, so hostile input cannot exhaust the stack.
const MAX_DEPTH: u8 = 8;
/// How far ahead a closing marker is looked for, in bytes, so hostile input
/// (thousands of unclosed `[`) cannot make rendering quadratic.
const MAX_SCAN: usize = 4096;

/// Renders `src` to HTML that is safe to assign to `innerHTML`.
pub fn render(src: &str) -> String {
    let src = src.replace("\r\n", "\n");
    let lines: Vec<&str> = src.split('\n').collect();
    let mut out = String::with_capacity(src.len() + src.len() / 4);
    blocks(&lines, 0, false, &mut out);
    out
}

/// Escapes text for use in HTML content and in double-quoted attributes.
pub fn escape(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// [`escape`] into a new string.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    escape(text, &mut out);
    out
}

/// Leading spaces (a tab counts as 4).
fn indent(line: &str) -> usize {
    let mut n = 0;
    for c in line.chars() {
        match c {
            ' ' => n += 1,
            '\t' => n += 4,
            _ => break,
        }
    }
    n
}

/// `line` without its first `n` columns of indentation.
fn dedent(line: &str, n: usize) -> &str {
    let mut cols = 0;
    for (i, c) in line.char_indices() {
        if cols >= n || !matches!(c, ' ' | '\t') {
            return &line[i..];
        }
        cols += if c == '\t' { 4 } else { 1 };
    }
    ""
}

fn is_blank(line: &str) -> bool {
    line.trim().is_empty()
}

/// The fence (```` ``` ```` or `~~~`, possibly longer) a line opens, and its
/// info string.
fn fence(line: &str) -> Option<(&str, &str)> {
    if indent(line) > 3 {
        return None;
    }
    let t = line.trim_start();
    let ch = t.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let len = t.chars().take_while(|c| *c == ch).count();
    if len < 3 {
        return None;
    }
    let (marker, info) = t.split_at(len);
    if ch == '`' && info.contains('`') {
        return None;
    }
    Some((marker, info.trim()))
}

/// A list item marker: whether the list is ordered, its start number and
/// the column where the item's content begins.
fn list_item(line: &str) -> Option<(bool, u32, usize)> {
    let ind = indent(line);
    if ind > 3 {
        return None;
    }
    let t = line.trim_start();
    let skipped = line.len() - t.len();
    let bytes = t.as_bytes();
    if matches!(bytes.first(), Some(b'-' | b'*' | b'+'))
        && matches!(bytes.get(1), Some(b' ' | b'\t'))
        && !is_rule(line)
    {
        return Some((false, 0, skipped + 2));
    }
    let digits = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    if (1..=9).contains(&digits)
        && matches!(bytes.get(digits), Some(b'.' | b')'))
        && matches!(bytes.get(digits + 1), Some(b' ' | b'\t'))
    {
        let start = t[..digits].parse().unwrap_or(1);
        return Some((true, start, skipped + digits + 2));
    }
    None
}

/// `---`, `***` or `___` (three or more, spaces allowed between).
fn is_rule(line: &str) -> bool {
    let t: String = line.chars().filter(|c| !c.is_whitespace()).collect();
    indent(line) <= 3
        && t.len() >= 3
        && (t.chars().all(|c| c == '-')
            || t.chars().all(|c| c == '*')
            || t.chars().all(|c| c == '_'))
}

/// A heading's level and text.
fn heading(line: &str) -> Option<(usize, &str)> {
    if indent(line) > 3 {
        return None;
    }
    let t = line.trim_start();
    let level = t.chars().take_while(|c| *c == '#').count();
    let rest = &t[level..];
    ((1..=6).contains(&level) && (rest.is_empty() || rest.starts_with([' ', '\t'])))
        .then(|| (level, rest.trim().trim_end_matches('#').trim_end()))
}

fn is_quote(line: &str) -> bool {
    indent(line) <= 3 && line.trim_start().starts_with('>')
}

/// True when `line` starts a block other than a paragraph, so it ends the
/// paragraph before it.
fn starts_block(line: &str) -> bool {
    fence(line).is_some()
        || heading(line).is_some()
        || is_rule(line)
        || is_quote(line)
        || list_item(line).is_some()
}

/// Renders block-level Markdown. `tight` leaves paragraphs unwrapped (the
/// content of a list item without blank lines).
fn blocks(lines: &[&str], depth: u8, tight: bool, out: &mut String) {
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if is_blank(line) {
            i += 1;
        } else if let Some((marker, info)) = fence(line) {
            let open_indent = indent(line);
            let mut j = i + 1;
            while j < lines.len() && !closes_fence(lines[j], marker) {
                j += 1;
            }
            out.push_str("<pre><code");
            let lang: String = info
                .split_whitespace()
                .next()
                .unwrap_or("")
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+' | '#'))
                .take(32)
                .collect();
            if !lang.is_empty() {
                out.push_str(" class=\"language-");
                escape(&lang, out);
                out.push('"');
            }
            out.push('>');
            for (k, code) in lines[i + 1..j].iter().enumerate() {
                if k > 0 {
                    out.push('\n');
                }
                escape(dedent(code, open_indent), out);
            }
            out.push_str("</code></pre>");
            i = (j + 1).min(lines.len());
        } else if let Some((level, text)) = heading(line) {
            out.push_str(&format!("<h{level}>"));
            inline(text, depth, false, out);
            out.push_str(&format!("</h{level}>"));
            i += 1;
        } else if is_rule(line) {
            out.push_str("<hr>");
            i += 1;
        } else if is_quote(line) {
            let mut inner = Vec::new();
            while i < lines.len() && is_quote(lines[i]) {
                let t = lines[i].trim_start()[1..].strip_prefix(' ');
                inner.push(t.unwrap_or(&lines[i].trim_start()[1..]));
                i += 1;
            }
            out.push_str("<blockquote>");
            nested(&inner, depth, false, out);
            out.push_str("</blockquote>");
        } else if list_item(line).is_some() {
            i = list(lines, i, depth, out);
        } else {
            let start = i;
            i += 1;
            while i < lines.len() && !is_blank(lines[i]) && !starts_block(lines[i]) {
                i += 1;
            }
            if !tight {
                out.push_str("<p>");
            }
            for (k, text) in lines[start..i].iter().enumerate() {
                if k > 0 {
                    out.push_str("<br>");
                }
                inline(text.trim(), depth, false, out);
            }
            if !tight {
                out.push_str("</p>");
            }
        }
    }
}

/// Renders nested block content, or plain escaped text past [`MAX_DEPTH`].
fn nested(lines: &[&str], depth: u8, tight: bool, out: &mut String) {
    if depth >= MAX_DEPTH {
        escape(&lines.join("\n"), out);
    } else {
        blocks(lines, depth + 1, tight, out);
    }
}

fn closes_fence(line: &str, marker: &str) -> bool {
    let t = line.trim();
    indent(line) <= 3 && t.len() >= marker.len() && t.chars().all(|c| marker.starts_with(c))
}

/// Renders the list starting at `lines[start]`; returns the index after it.
fn list(lines: &[&str], start: usize, depth: u8, out: &mut String) -> usize {
    let (ordered, first, _) = list_item(lines[start]).expect("a list item");
    if ordered {
        if first == 1 {
            out.push_str("<ol>");
        } else {
            out.push_str(&format!("<ol start=\"{first}\">"));
        }
    } else {
        out.push_str("<ul>");
    }
    let mut i = start;
    while i < lines.len() {
        let Some((kind, _, content_col)) = list_item(lines[i]) else {
            break;
        };
        if kind != ordered {
            break;
        }
        let mut item = vec![&lines[i][content_col.min(lines[i].len())..]];
        i += 1;
        let mut loose = false;
        while i < lines.len() {
            let line = lines[i];
            if is_blank(line) {
                // A blank line continues the item only if indented content
                // follows it.
                let next = lines[i + 1..]
                    .iter()
                    .position(|l| !is_blank(l))
                    .map(|p| i + 1 + p);
                match next {
                    Some(n) if indent(lines[n]) >= 2 => {
                        loose = true;
                        item.extend(std::iter::repeat_n("", n - i));
                        i = n;
                    }
                    _ => break,
                }
            } else if indent(line) >= 2 {
                item.push(dedent(line, content_col));
                i += 1;
            } else {
                break;
            }
        }
        out.push_str("<li>");
        nested(&item, depth, !loose, out);
        out.push_str("</li>");
        // A blank line between items of the same list keeps the list going.
        let next = lines[i..].iter().position(|l| !is_blank(l)).map(|p| i + p);
        match next {
            Some(n) if n > i && list_item(lines[n]).is_some_and(|(k, _, _)| k == ordered) => i = n,
            _ => {}
        }
    }
    out.push_str(if ordered { "</ol>" } else { "</ul>" });
    i
}

/// The largest char boundary of `s` at or below `i`.
fn floor_boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// `s[from..]`, cut to at most [`MAX_SCAN`] bytes.
fn window(s: &str, from: usize) -> &str {
    &s[from..floor_boundary(s, from + MAX_SCAN)]
}

/// True for a link target that may become an `href`.
pub fn is_safe_url(url: &str) -> bool {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    (lower.starts_with("http://") || lower.starts_with("https://"))
        && url.len() > lower.find("//").unwrap_or(0) + 2
        && !url.chars().any(|c| {
            c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"' | '\'' | '`')
        })
}

fn link(url: &str, text: &str, depth: u8, out: &mut String) {
    out.push_str("<a href=\"");
    escape(url, out);
    out.push_str("\" target=\"_blank\" rel=\"noopener noreferrer nofollow\">");
    inline(text, depth + 1, true, out);
    out.push_str("</a>");
}

/// Where a bare URL starting at `s[i..]` ends: at whitespace or a character
/// that cannot be in it, less trailing punctuation and unbalanced `)`.
fn autolink_end(s: &str, i: usize) -> usize {
    let rest = window(s, i);
    let mut end = i + rest
        .find(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"' | '\'' | '`'))
        .unwrap_or(rest.len());
    loop {
        let url = &s[i..end];
        let last = url.chars().last();
        let unbalanced = last == Some(')') && url.matches(')').count() > url.matches('(').count();
        if matches!(last, Some('.' | ',' | ';' | ':' | '!' | '?' | '*' | '_')) || unbalanced {
            end -= 1;
        } else {
            return end;
        }
    }
}

/// Finds the closer of an emphasis opened with `marker` (`*`, `**`, `_`,
/// `__`) in `s[from..]`: a run preceded by a non-space. For a single marker
/// a double one is skipped, so `*a **b** c*` closes at the last `*`.
fn emphasis_close(s: &str, from: usize, marker: &str) -> Option<usize> {
    let w = window(s, from);
    let b = w.as_bytes();
    let m = marker.as_bytes()[0];
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            i += 2;
            continue;
        }
        if b[i] == m {
            let run = b[i..].iter().take_while(|x| **x == m).count();
            let prev_ok = i > 0 && !b[i - 1].is_ascii_whitespace();
            let after = b.get(i + marker.len());
            let word_ok = m != b'_' || !after.is_some_and(|a| a.is_ascii_alphanumeric());
            if prev_ok && word_ok && run == marker.len() {
                return Some(from + i);
            }
            // `***x***`: the strong closes on the last two, the em inside on
            // the first one.
            if prev_ok && word_ok && marker.len() == 2 && run > 2 {
                return Some(from + i + run - 2);
            }
            i += run;
            continue;
        }
        i += 1;
    }
    None
}

/// Renders inline Markdown of one line (or a link's text when `in_link`,
/// which allows no nested links).
fn inline(s: &str, depth: u8, in_link: bool, out: &mut String) {
    let b = s.as_bytes();
    let mut i = 0;
    let mut text_from = 0;
    // Markers are ASCII, so every `i` where one is found is a char boundary.
    while i < b.len() {
        let c = b[i];
        let rendered: Option<usize> = match c {
            b'\\' if b.get(i + 1).is_some_and(|n| n.is_ascii_punctuation()) => {
                escape(&s[text_from..i], out);
                escape(&s[i + 1..i + 2], out);
                Some(i + 2)
            }
            b'`' => {
                let run = b[i..].iter().take_while(|x| **x == b'`').count();
                let ticks = &s[i..i + run];
                let close = window(s, i + run).find(ticks).map(|p| i + run + p);
                escape(&s[text_from..i], out);
                match close {
                    Some(close) => {
                        let code = &s[i + run..close];
                        let code = if code.len() > 2 && code.starts_with(' ') && code.ends_with(' ')
                        {
                            &code[1..code.len() - 1]
                        } else {
                            code
                        };
                        out.push_str("<code>");
                        escape(code, out);
                        out.push_str("</code>");
                        Some(close + run)
                    }
                    None => {
                        escape(ticks, out);
                        Some(i + run)
                    }
                }
            }
            b'*' | b'_' if depth < MAX_DEPTH => {
                let double = b.get(i + 1) == Some(&c);
                let marker = &s[i..i + if double { 2 } else { 1 }];
                let opens = b
                    .get(i + marker.len())
                    .is_some_and(|n| !n.is_ascii_whitespace())
                    && (c != b'_' || i == 0 || !b[i - 1].is_ascii_alphanumeric());
                match opens
                    .then(|| emphasis_close(s, i + marker.len(), marker))
                    .flatten()
                {
                    Some(close) => {
                        let tag = if double { "strong" } else { "em" };
                        escape(&s[text_from..i], out);
                        out.push_str(&format!("<{tag}>"));
                        inline(&s[i + marker.len()..close], depth + 1, in_link, out);
                        out.push_str(&format!("</{tag}>"));
                        Some(close + marker.len())
                    }
                    None => {
                        escape(&s[text_from..i], out);
                        escape(marker, out);
                        Some(i + marker.len())
                    }
                }
            }
            b'[' if !in_link && depth < MAX_DEPTH => {
                let w = window(s, i + 1);
                let parts = w.find("](").and_then(|mid| {
                    let url_from = i + 1 + mid + 2;
                    let url_len = window(s, url_from).find(')')?;
                    Some((&s[i + 1..i + 1 + mid], &s[url_from..url_from + url_len]))
                });
                match parts {
                    Some((text, url)) if !text.contains('[') && is_safe_url(url.trim()) => {
                        escape(&s[text_from..i], out);
                        link(url.trim(), text, depth, out);
                        Some(i + 1 + text.len() + 2 + url.len() + 1)
                    }
                    _ => None,
                }
            }
            b'h' if !in_link
                && (i == 0 || !b[i - 1].is_ascii_alphanumeric())
                && (s[i..].starts_with("http://") || s[i..].starts_with("https://")) =>
            {
                let end = autolink_end(s, i);
                let url = &s[i..end];
                if is_safe_url(url) {
                    escape(&s[text_from..i], out);
                    link(url, url, depth, out);
                    Some(end)
                } else {
                    None
                }
            }
            _ => None,
        };
        match rendered {
            Some(next) => {
                i = next;
                text_from = next;
            }
            None => i += 1,
        }
    }
    escape(&s[text_from..], out);
}

#[cfg(test)]
#[path = "markdown_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "markdown_fuzz.rs"]
mod fuzz;
