//! The agent's Markdown as Telegram MarkdownV2.
//!
//! MarkdownV2 rejects a message with any unescaped reserved character
//! (`_*[]()~`>#+-=|{}.!` and `\`), so everything is escaped except the
//! entities kept from the agent's text:
//!
//! - `**bold**` becomes `*bold*`; `*italic*` and `_italic_` become
//!   `_italic_` (CommonMark-like flanking rules, so `2 * 3` and
//!   `snake_case` stay literal);
//! - `` `code` `` stays, with only `` ` `` and `\` escaped inside;
//! - fenced blocks keep their language tag; an unclosed fence runs to
//!   the end of the text;
//! - `[text](url)` stays, with only `)` and `\` escaped in the URL.
//!
//! Anything unbalanced (a lone `**`, an unclosed `` ` ``) is escaped and
//! shows literally. If Telegram still refuses the result, the glue sends
//! the chunk again as plain text.

/// The characters MarkdownV2 reserves outside entities.
pub const RESERVED: &str = "_*[]()~`>#+-=|{}.!\\";

/// `text` rendered as MarkdownV2.
pub fn to_markdown_v2(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 4);
    render(text, &mut out, Inside::default());
    out
}

/// Which entities enclose the text being rendered (they do not nest in
/// themselves).
#[derive(Clone, Copy, Default)]
struct Inside {
    bold: bool,
    italic: bool,
    link: bool,
}

fn render(s: &str, out: &mut String, inside: Inside) {
    let mut i = 0;
    while i < s.len() {
        let rest = &s[i..];
        let before = s[..i].chars().next_back();
        if let Some(used) = entity(rest, before, out, inside) {
            i += used;
            continue;
        }
        let c = rest.chars().next().unwrap_or_default();
        push_escaped(out, c);
        i += c.len_utf8();
    }
}

/// Renders the entity starting `rest` (after the character `before`), if
/// one does, and returns the bytes it spans. A lone `**` is written
/// escaped here, so that its second `*` opens nothing.
fn entity(rest: &str, before: Option<char>, out: &mut String, inside: Inside) -> Option<usize> {
    if !inside.link && rest.starts_with("```") {
        let (lang, code, used) = fence(rest);
        out.push_str("```");
        out.push_str(lang);
        out.push('\n');
        push_code(out, code);
        out.push_str("```");
        return Some(used);
    }
    if let Some(tail) = rest.strip_prefix('`')
        && let Some(end) = tail.find('`').filter(|e| *e > 0)
    {
        out.push('`');
        push_code(out, &tail[..end]);
        out.push('`');
        return Some(end + 2);
    }
    if !inside.bold && rest.starts_with("**") {
        let Some(end) = bold_end(rest) else {
            out.push_str("\\*\\*");
            return Some(2);
        };
        out.push('*');
        let bold = Inside {
            bold: true,
            ..inside
        };
        render(&rest[2..end], out, bold);
        out.push('*');
        return Some(end + 2);
    }
    if let Some(marker @ ('*' | '_')) = rest.chars().next()
        && !inside.italic
        && opens_italic(marker, before, rest)
        && let Some(end) = italic_end(rest, marker)
    {
        // `_a_` right after `_b_` would read `__`, an underline marker:
        // Telegram ignores a `\r` put between them.
        if ends_with_italic_marker(out) {
            out.push('\r');
        }
        out.push('_');
        let italic = Inside {
            italic: true,
            ..inside
        };
        render(&rest[1..end], out, italic);
        out.push('_');
        return Some(end + 1);
    }
    if !inside.link
        && rest.starts_with('[')
        && let Some((label, url, used)) = link(rest)
    {
        out.push('[');
        let in_link = Inside {
            link: true,
            ..inside
        };
        render(label, out, in_link);
        out.push_str("](");
        for c in url.chars() {
            if c == ')' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
        out.push(')');
        return Some(used);
    }
    None
}

/// A fence at the start of `rest`: its language tag, its code and the
/// bytes it spans (to the end of the text when unclosed).
fn fence(rest: &str) -> (&str, &str, usize) {
    let body = &rest[3..];
    let close = body.find("```");
    let newline = body.find('\n');
    let (lang, code_start) = match newline {
        Some(n) if close.is_none_or(|c| n < c) && is_lang(&body[..n]) => (&body[..n], n + 1),
        _ => ("", 0),
    };
    match close {
        Some(c) if c >= code_start => (lang, &body[code_start..c], 3 + c + 3),
        _ => (lang, &body[code_start..], rest.len()),
    }
}

/// A language tag: empty, or one word of tag characters.
fn is_lang(text: &str) -> bool {
    let text = text.trim_end_matches('\r');
    text.len() == text.trim().len()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+#.-".contains(c))
}

/// Where the `**` closing the one at the start of `rest` is: the inner
/// text must be non-empty and not begin or end with whitespace.
fn bold_end(rest: &str) -> Option<usize> {
    let inner_start = rest[2..].chars().next()?;
    if inner_start.is_whitespace() {
        return None;
    }
    let mut from = 2;
    while let Some(found) = rest[from..].find("**") {
        let end = from + found;
        let last = rest[..end].chars().next_back();
        if end > 2 && last.is_some_and(|c| !c.is_whitespace()) {
            return Some(end);
        }
        from = end + 2;
    }
    None
}

/// Whether `marker` at the start of `rest`, after `before`, can open an
/// emphasis: followed by a non-space, and for `_` not inside a word.
fn opens_italic(marker: char, before: Option<char>, rest: &str) -> bool {
    let next = rest[1..].chars().next();
    if !next.is_some_and(|c| !c.is_whitespace() && c != marker) {
        return false;
    }
    marker == '*' || !before.is_some_and(char::is_alphanumeric)
}

/// Where the marker closing the emphasis opened at the start of `rest`
/// is. Code spans and `**` pairs are skipped; a paragraph break ends the
/// search.
fn italic_end(rest: &str, marker: char) -> Option<usize> {
    let mut i = 1;
    while i < rest.len() {
        let tail = &rest[i..];
        if tail.starts_with("\n\n") {
            return None;
        }
        if let Some(code) = tail.strip_prefix('`')
            && let Some(end) = code.find('`')
        {
            i += end + 2;
            continue;
        }
        if marker == '*' && tail.starts_with("**") {
            i += 2;
            continue;
        }
        let c = tail.chars().next()?;
        if c == marker {
            let before = rest[..i].chars().next_back();
            let after = tail[1..].chars().next();
            let closes = before.is_some_and(|b| !b.is_whitespace())
                && (marker == '*' || !after.is_some_and(char::is_alphanumeric));
            if closes && i > 1 {
                return Some(i);
            }
        }
        i += c.len_utf8();
    }
    None
}

/// A `[label](url)` at the start of `rest`: label, URL and bytes spanned.
/// The label is one line; the URL has no spaces and may hold balanced
/// parentheses.
fn link(rest: &str) -> Option<(&str, &str, usize)> {
    let close = rest.find(']')?;
    let label = &rest[1..close];
    if label.is_empty() || label.contains(['\n', '[']) || !rest[close + 1..].starts_with('(') {
        return None;
    }
    let url_start = close + 2;
    let mut depth = 0usize;
    for (k, c) in rest[url_start..].char_indices() {
        match c {
            '(' => depth += 1,
            ')' if depth == 0 => {
                let url = &rest[url_start..url_start + k];
                return (!url.is_empty()).then_some((label, url, url_start + k + 1));
            }
            ')' => depth -= 1,
            c if c.is_whitespace() => return None,
            _ => {}
        }
    }
    None
}

/// Whether `out` ends with an italic marker: a `_` not escaped by an odd
/// run of `\`.
fn ends_with_italic_marker(out: &str) -> bool {
    out.strip_suffix('_')
        .is_some_and(|rest| rest.bytes().rev().take_while(|b| *b == b'\\').count() % 2 == 0)
}

fn push_escaped(out: &mut String, c: char) {
    if RESERVED.contains(c) {
        out.push('\\');
    }
    out.push(c);
}

/// Code text: only `` ` `` and `\` are escaped.
fn push_code(out: &mut String, code: &str) {
    for c in code.chars() {
        if c == '`' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
}

#[cfg(test)]
#[path = "markdown_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "markdown_fuzz.rs"]
mod fuzz;
