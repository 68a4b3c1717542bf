//! Tests of [`super`]: escaping and the entities kept.

use super::*;

fn md(text: &str) -> String {
    to_markdown_v2(text)
}

#[test]
fn every_reserved_character_is_escaped_alone() {
    for c in RESERVED.chars() {
        assert_eq!(md(&c.to_string()), format!("\\{c}"), "{c}");
    }
    assert_eq!(RESERVED.chars().count(), 19);
}

#[test]
fn reserved_characters_in_text() {
    assert_eq!(
        md("a_b*c[d]e(f)g~h`i>j#k+l-m=n|o{p}q.r!s\\t"),
        "a\\_b\\*c\\[d\\]e\\(f\\)g\\~h\\`i\\>j\\#k\\+l\\-m\\=n\\|o\\{p\\}q\\.r\\!s\\\\t"
    );
    assert_eq!(md("Done. 3 > 2 - 1!"), "Done\\. 3 \\> 2 \\- 1\\!");
    assert_eq!(md("# Title\n- item"), "\\# Title\n\\- item");
    assert_eq!(md("plain words, ünïcødé 😀"), "plain words, ünïcødé 😀");
}

#[test]
fn bold_and_italic_are_kept() {
    assert_eq!(md("**bold** text"), "*bold* text");
    assert_eq!(md("an *italic* word"), "an _italic_ word");
    assert_eq!(md("an _italic_ word"), "an _italic_ word");
    assert_eq!(
        md("**bold with *it* inside.**"),
        "*bold with _it_ inside\\.*"
    );
    assert_eq!(md("*it with **bold***"), "_it with *bold*_");
}

#[test]
fn unbalanced_markers_are_literal() {
    assert_eq!(md("**never closed"), "\\*\\*never closed");
    assert_eq!(md("a ** b"), "a \\*\\* b");
    assert_eq!(md("**"), "\\*\\*");
    assert_eq!(md("*lone"), "\\*lone");
    assert_eq!(md("_lone"), "\\_lone");
    assert_eq!(md("** spaced**"), "\\*\\* spaced\\*\\*");
}

#[test]
fn emphasis_needs_flanking() {
    assert_eq!(md("2 * 3 * 4"), "2 \\* 3 \\* 4");
    assert_eq!(md("snake_case_name"), "snake\\_case\\_name");
    assert_eq!(md("* list item"), "\\* list item");
    assert_eq!(md("a_b_ c"), "a\\_b\\_ c");
    assert_eq!(md("*a\n\nb*"), "\\*a\n\nb\\*");
}

#[test]
fn inline_code_escapes_only_backslash() {
    assert_eq!(md("run `ls -la *.rs` now."), "run `ls -la *.rs` now\\.");
    assert_eq!(md("`C:\\dir`"), "`C:\\\\dir`");
    assert_eq!(md("`a_b` and_c"), "`a_b` and\\_c");
    assert_eq!(md("unclosed `code"), "unclosed \\`code");
    assert_eq!(md("``"), "\\`\\`");
    // Emphasis does not close inside code.
    assert_eq!(md("*see `x*y` here*"), "_see `x*y` here_");
}

#[test]
fn fences_keep_the_language_and_escape_only_backtick_and_backslash() {
    assert_eq!(
        md("Code:\n```rust\nlet x = a_b * 2; // \\n\n```\nDone."),
        "Code:\n```rust\nlet x = a_b * 2; // \\\\n\n```\nDone\\."
    );
    assert_eq!(md("```\n[x](y) **z**\n```"), "```\n[x](y) **z**\n```");
    assert_eq!(md("```inline code```"), "```\ninline code```");
    assert_eq!(md("```py\nprint(1)"), "```py\nprint(1)```");
    assert_eq!(md("```\na ` b\n```"), "```\na \\` b\n```");
    assert_eq!(md("```c++\nx\n```"), "```c++\nx\n```");
    assert_eq!(md("```not a tag\nx```"), "```\nnot a tag\nx```");
}

#[test]
fn links_escape_only_paren_and_backslash_in_the_url() {
    assert_eq!(
        md("see [the docs](https://x.dev/a_b?q=1.2)."),
        "see [the docs](https://x.dev/a_b?q=1.2)\\."
    );
    assert_eq!(
        md("[wiki](https://en.wikipedia.org/wiki/Rust_(language))"),
        "[wiki](https://en.wikipedia.org/wiki/Rust_(language\\))"
    );
    assert_eq!(md("[a.b](http://h/\\x)"), "[a\\.b](http://h/\\\\x)");
    assert_eq!(md("[**bold** link](http://h)"), "[*bold* link](http://h)");
    assert_eq!(md("[not a link] (x)"), "\\[not a link\\] \\(x\\)");
    assert_eq!(md("[x](has space)"), "\\[x\\]\\(has space\\)");
    assert_eq!(md("[](http://h)"), "\\[\\]\\(http://h\\)");
}

#[test]
fn adjacent_italics_do_not_read_as_underline() {
    // Found by fuzz_telegram_markdown: `_a__b_` is an underline marker in
    // MarkdownV2, so Telegram refused the message.
    assert_eq!(md("*a*_b_"), "_a_\r_b_");
    assert_eq!(md("_\0__`_"), "_\0_\r_\\`_");
    // An escaped `_` (here after an escaped `\`) before an italic needs
    // nothing.
    assert_eq!(md("a\\__b_"), "a\\\\\\__b_");
}
