//! Markdown (as models write it) to Slack's `mrkdwn`, without the host.
//!
//! | Markdown | mrkdwn |
//! | --- | --- |
//! | `**bold**`, `__bold__` | `*bold*` |
//! | `*italic*`, `_italic_` | `_italic_` |
//! | `~~struck~~` | `~struck~` |
//! | `[text](url)` | `<url\|text>` |
//! | `<https://url>` | `<https://url>` |
//! | `# Heading` | `*Heading*` |
//! | `- item`, `* item`, `+ item` | `• item` |
//! | `` `code` ``, fences | kept; a fence's language tag is dropped |
//!
//! `&`, `<` and `>` are Slack's control characters and are written as
//! `&amp;`, `&lt;` and `&gt;` everywhere, inside code too: Slack reads
//! `<…>` sequences before it reads code, and shows the entities as the
//! characters in code blocks as well. A leading `>` of a quote line is kept
//! as the quote marker. `_` inside a word (`snake_case`) stays text, and a
//! fence left open is closed.

/// `&`, `<`, `>` as entities.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        push_escaped(&mut out, c);
    }
    out
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '&' => out.push_str("&amp;"),
        '<' => out.push_str("&lt;"),
        '>' => out.push_str("&gt;"),
        c => out.push(c),
    }
}

/// Whether a line opens or closes a code fence.
pub fn is_fence(line: &str) -> bool {
    line.trim_start().starts_with("```")
}

/// The whole text converted.
pub fn convert(markdown: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut in_fence = false;
    for line in markdown.lines() {
        if is_fence(line) {
            let t = line.trim();
            // ```code``` on one line: a code block of its own.
            if !in_fence && t.len() > 6 && t.ends_with("```") {
                out.push(format!("```{}```", escape(&t[3..t.len() - 3])));
                continue;
            }
            in_fence = !in_fence;
            out.push("```".to_string());
            continue;
        }
        if in_fence {
            out.push(escape(line));
        } else {
            out.push(convert_line(line));
        }
    }
    if in_fence {
        out.push("```".to_string());
    }
    out.join("\n")
}

/// One line outside code fences.
fn convert_line(line: &str) -> String {
    let trimmed = line.trim_start();
    let indent = &line[..line.len() - trimmed.len()];
    let hashes = trimmed.bytes().take_while(|b| *b == b'#').count();
    if (1..=6).contains(&hashes) && trimmed[hashes..].starts_with(' ') {
        let title = trimmed[hashes..].trim().trim_end_matches('#').trim();
        let title = title.replace("**", "").replace("__", "");
        return format!("*{}*", inline(&title));
    }
    for bullet in ["- ", "* ", "+ "] {
        if let Some(rest) = trimmed.strip_prefix(bullet) {
            return format!("{indent}• {}", inline(rest));
        }
    }
    if let Some(rest) = trimmed.strip_prefix('>') {
        return format!("{indent}>{}", inline(rest));
    }
    format!("{indent}{}", inline(trimmed))
}

/// Where the closing `mark` of a span starting at `rest[open..]` is: its
/// content must not start or end with a blank.
fn closing(rest: &str, open: usize, mark: &str) -> Option<usize> {
    let body = &rest[open..];
    if body.starts_with(char::is_whitespace) {
        return None;
    }
    let mut from = 0;
    while let Some(at) = body[from..].find(mark) {
        let end = from + at;
        if end > 0 && !body[..end].ends_with(char::is_whitespace) {
            return Some(end);
        }
        from = end + mark.len();
    }
    None
}

fn word_char_before(s: &str, i: usize) -> bool {
    s[..i]
        .chars()
        .next_back()
        .is_some_and(char::is_alphanumeric)
}

/// Inline spans of one line.
pub fn inline(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let rest = &s[i..];
        // Code spans: kept, only escaped.
        if rest.starts_with('`') {
            let n = rest.bytes().take_while(|b| *b == b'`').count();
            let ticks = &rest[..n];
            if let Some(end) = rest[n..].find(ticks) {
                out.push('`');
                out.push_str(&escape(&rest[n..n + end]));
                out.push('`');
                i += n + end + n;
            } else {
                out.push_str(ticks);
                i += n;
            }
            continue;
        }
        if rest.starts_with("**") || rest.starts_with("__") || rest.starts_with("~~") {
            let mark = &rest[..2];
            let bounded = !mark.starts_with('_') || !word_char_before(s, i);
            if let Some(end) = closing(rest, 2, mark).filter(|_| bounded) {
                let slack = if mark == "~~" { '~' } else { '*' };
                out.push(slack);
                out.push_str(&inline(&rest[2..2 + end]));
                out.push(slack);
                i += 2 + end + 2;
                continue;
            }
        }
        if rest.starts_with('*') || rest.starts_with('_') {
            let mark = &rest[..1];
            let snake = mark == "_" && word_char_before(s, i);
            if let Some(end) = closing(rest, 1, mark).filter(|_| !snake) {
                let after = &rest[1 + end + 1..];
                let word_after = mark == "_" && after.starts_with(char::is_alphanumeric);
                if !word_after {
                    out.push('_');
                    out.push_str(&inline(&rest[1..1 + end]));
                    out.push('_');
                    i += 1 + end + 1;
                    continue;
                }
            }
        }
        if rest.starts_with('[')
            && let Some(close) = rest.find("](")
            && let Some(paren) = rest[close + 2..].find(')')
        {
            let text = &rest[1..close];
            let url = rest[close + 2..close + 2 + paren].trim();
            if !url.is_empty() && !url.contains(char::is_whitespace) && !text.contains('[') {
                let label = if text.is_empty() { url } else { text };
                out.push_str(&format!("<{}|{}>", escape(url), inline(label)));
                i += close + 2 + paren + 1;
                continue;
            }
        }
        if rest.starts_with('<')
            && let Some(end) = rest.find('>')
        {
            let url = &rest[1..end];
            let autolink = (url.starts_with("http://")
                || url.starts_with("https://")
                || url.starts_with("mailto:"))
                && !url.contains(char::is_whitespace);
            if autolink {
                out.push_str(&format!("<{}>", escape(url)));
                i += end + 1;
                continue;
            }
        }
        let c = rest.chars().next().unwrap_or(' ');
        push_escaped(&mut out, c);
        i += c.len_utf8();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_of_cases() {
        let cases = [
            ("**bold**", "*bold*"),
            ("__bold__", "*bold*"),
            ("*italic* and _it_", "_italic_ and _it_"),
            ("~~gone~~", "~gone~"),
            ("a **b _c_ d** e", "a *b _c_ d* e"),
            (
                "[the docs](https://x.io/a?b=1&c=2)",
                "<https://x.io/a?b=1&amp;c=2|the docs>",
            ),
            ("see <https://x.io>", "see <https://x.io>"),
            ("# Title", "*Title*"),
            ("### **Sub** title ##", "*Sub title*"),
            ("- one\n* two\n  + three", "• one\n• two\n  • three"),
            ("1 < 2 && 3 > 2", "1 &lt; 2 &amp;&amp; 3 &gt; 2"),
            ("a <b> tag", "a &lt;b&gt; tag"),
            ("`**not bold** <x>`", "`**not bold** &lt;x&gt;`"),
            ("``a ` b``", "`a ` b`"),
            (
                "snake_case_name and 2 * 3 * 4",
                "snake_case_name and 2 * 3 * 4",
            ),
            ("> quoted **text**", "> quoted *text*"),
            ("unclosed **bold", "unclosed **bold"),
            ("#hashtag", "#hashtag"),
            ("[](https://a.b)", "<https://a.b|https://a.b>"),
            ("[not a link] (x)", "[not a link] (x)"),
        ];
        for (md, want) in cases {
            assert_eq!(convert(md), want, "{md:?}");
        }
    }

    #[test]
    fn fences_are_kept_verbatim_but_escaped() {
        let md = "Look:\n```rust\nlet v: Vec<u8> = **x**;\n- not a bullet\n```\n**after**";
        assert_eq!(
            convert(md),
            "Look:\n```\nlet v: Vec&lt;u8&gt; = **x**;\n- not a bullet\n```\n*after*"
        );
        assert_eq!(convert("```\nopen"), "```\nopen\n```");
        assert_eq!(convert("```a < b```"), "```a &lt; b```");
    }
}
