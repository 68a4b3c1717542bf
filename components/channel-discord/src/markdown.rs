//! The model's Markdown as Discord shows it. Discord renders most of it
//! itself (bold, italic, strikethrough, inline code, fenced code, quotes,
//! lists, masked links, `#`–`###` headings), so text passes unchanged
//! except for what it does not render:
//!
//! - tables become a code block, so their columns stay aligned;
//! - headings `####` and deeper become bold lines;
//! - images `![alt](url)` become links `[alt](url)` (the URL alone when
//!   there is no alt text), which Discord previews;
//! - horizontal rules (`---`, `***`, `___`) become a line of `─`.
//!
//! Nothing inside fenced code is changed.

/// `text` converted for Discord.
pub fn to_discord(text: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut fence = false;
    let mut table: Vec<&str> = Vec::new();
    let lines: Vec<&str> = text.split('\n').collect();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") {
            flush_table(&mut table, &mut out);
            fence = !fence;
            out.push(line.to_string());
            continue;
        }
        if fence {
            out.push(line.to_string());
            continue;
        }
        let starts_table = is_row(line)
            && (!table.is_empty() || lines.get(i + 1).is_some_and(|next| is_separator(next)));
        if starts_table {
            table.push(line);
            continue;
        }
        flush_table(&mut table, &mut out);
        out.push(convert_line(line));
    }
    flush_table(&mut table, &mut out);
    out.join("\n")
}

/// A table row: `| a | b |` (or `a | b` with a leading bar missing is not
/// taken, to leave prose with bars alone).
fn is_row(line: &str) -> bool {
    let t = line.trim();
    t.starts_with('|') && t.len() > 1
}

/// A table's header separator: `|---|:--:|`.
fn is_separator(line: &str) -> bool {
    let t = line.trim();
    is_row(t) && t.contains('-') && t.chars().all(|c| matches!(c, '|' | '-' | ':' | ' '))
}

/// Writes the collected table as a code block with aligned columns.
fn flush_table(table: &mut Vec<&str>, out: &mut Vec<String>) {
    if table.is_empty() {
        return;
    }
    let rows: Vec<Vec<String>> = table
        .iter()
        .filter(|l| !is_separator(l))
        .map(|l| {
            let t = l.trim().trim_start_matches('|').trim_end_matches('|');
            t.split('|').map(|c| c.trim().to_string()).collect()
        })
        .collect();
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .map(|r| r.get(c).map_or(0, |s| s.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    out.push("```".to_string());
    for (n, row) in rows.iter().enumerate() {
        let cells: Vec<String> = (0..columns)
            .map(|c| {
                let cell = row.get(c).map_or("", String::as_str);
                format!("{cell:<w$}", w = widths[c])
            })
            .collect();
        out.push(cells.join(" | ").trim_end().to_string());
        if n == 0 && rows.len() > 1 {
            let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
            out.push(rule.join("-+-"));
        }
    }
    out.push("```".to_string());
    table.clear();
}

/// One line outside code and tables.
fn convert_line(line: &str) -> String {
    let trimmed = line.trim();
    let hashes = trimmed.chars().take_while(|c| *c == '#').count();
    if hashes >= 4 && trimmed[hashes..].starts_with(' ') {
        let title = trimmed[hashes..].trim().trim_end_matches('#').trim();
        return format!("**{title}**");
    }
    if trimmed.len() >= 3
        && ["-", "*", "_"]
            .iter()
            .any(|c| trimmed.chars().all(|x| x.to_string() == *c || x == ' '))
        && trimmed.chars().filter(|c| !c.is_whitespace()).count() >= 3
    {
        return "─".repeat(20);
    }
    images_to_links(line)
}

/// `![alt](url)` → `[alt](url)` (or `url`), outside inline code.
fn images_to_links(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    let mut in_code = false;
    while let Some(c) = rest.chars().next() {
        if c == '`' {
            in_code = !in_code;
        } else if !in_code
            && rest.starts_with("![")
            && let Some((alt, url, len)) = image(rest)
        {
            if alt.is_empty() {
                out.push_str(url);
            } else {
                out.push_str(&format!("[{alt}]({url})"));
            }
            rest = &rest[len..];
            continue;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// The alt text, URL and length of an image at the start of `text`.
fn image(text: &str) -> Option<(&str, &str, usize)> {
    let close = text.find("](")?;
    let alt = &text[2..close];
    if alt.contains(['[', ']', '\n']) {
        return None;
    }
    let after = &text[close + 2..];
    let end = after.find(')')?;
    let url = after[..end].trim();
    if url.is_empty() || url.contains(char::is_whitespace) {
        return None;
    }
    Some((alt, url, close + 2 + end + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_discord_renders_passes_unchanged() {
        let text = "# Title\n## Sub\n### Third\n**bold** *it* ~~s~~ `code`\n> quote\n- item\n1. one\n[link](https://x.org)\n```rust\nfn main() {}\n```";
        assert_eq!(to_discord(text), text);
    }

    #[test]
    fn deep_headings_become_bold() {
        assert_eq!(to_discord("#### Details ####"), "**Details**");
        assert_eq!(to_discord("###### tiny"), "**tiny**");
        assert_eq!(to_discord("####nospace"), "####nospace");
    }

    #[test]
    fn images_become_links_outside_code() {
        assert_eq!(
            to_discord("see ![a cat](https://x.org/cat.png) here"),
            "see [a cat](https://x.org/cat.png) here"
        );
        assert_eq!(
            to_discord("![](https://x.org/a.png)"),
            "https://x.org/a.png"
        );
        assert_eq!(to_discord("`![a](b)`"), "`![a](b)`");
        assert_eq!(to_discord("```\n![a](b)\n```"), "```\n![a](b)\n```");
        assert_eq!(to_discord("![broken](no end"), "![broken](no end");
    }

    #[test]
    fn tables_become_aligned_code_blocks() {
        let text = "Prices:\n| fruit | price |\n|---|--:|\n| apple | 1 |\n| kiwi | 20 |\nend";
        assert_eq!(
            to_discord(text),
            "Prices:\n```\nfruit | price\n------+------\napple | 1\nkiwi  | 20\n```\nend"
        );
    }

    #[test]
    fn bars_in_prose_and_code_are_not_tables() {
        let text = "a | b\n| not a table";
        assert_eq!(to_discord(text), text);
        let code = "```\n| a | b |\n|---|---|\n```";
        assert_eq!(to_discord(code), code);
    }

    #[test]
    fn rules_become_lines() {
        assert_eq!(to_discord("a\n---\nb"), format!("a\n{}\nb", "─".repeat(20)));
        assert_eq!(to_discord("- item"), "- item");
    }
}
