//! Tests of the Markdown renderer.
use super::*;

fn strings(lines: &[Line<'_>]) -> Vec<String> {
    lines
        .iter()
        .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
        .collect()
}

fn md(text: &str, width: u16) -> Vec<String> {
    strings(&render(text, width, &Theme::dark()))
}

/// The first span whose text is exactly `text`.
fn span<'a>(lines: &'a [Line<'static>], text: &str) -> &'a Span<'static> {
    lines
        .iter()
        .flat_map(|l| &l.spans)
        .find(|s| s.content == text)
        .unwrap_or_else(|| panic!("no span {text:?} in {:?}", strings(lines)))
}

const RICH: &str = "# Title of the answer\n\nSome *emphasis*, **strong** and `code` with a \
    [link](https://example.com/a/very/long/path/that/does/not/fit) in it.\n\n\
    - first item that is long enough to wrap\n  - nested 你好世界你好世界 item\n    1. deep\n\
    - second\n\n> a quote that goes on and on and on\n> - with a list\n\n\
    ```rust\nfn main() {\n\tprintln!(\"a very long line of code that will not fit anywhere\");\n}\n```\n\n\
    | a | b |\n|---|---|\n| 1 | 🎉🎉 |\n\n---\n\n![alt text](x.png) <b>raw</b> \
    supercalifragilisticexpialidociousandthensome\n";

#[test]
fn empty_input_gives_no_lines() {
    assert!(render("", 40, &Theme::dark()).is_empty());
    assert!(render("  \n\n \n", 40, &Theme::dark()).is_empty());
    assert!(wrap_plain("", 40, Style::new()).is_empty());
}

#[test]
fn paragraphs_are_separated_by_one_blank_line_and_soft_breaks_join() {
    assert_eq!(md("one\ntwo\n\n\n\nthree", 40), ["one two", "", "three"]);
    assert_eq!(md("hard  \nbreak\\\nhere", 40), ["hard", "break", "here"]);
}

#[test]
fn words_wrap_at_the_width_and_long_words_break() {
    let text = "the quick brown fox jumps over the lazy dog";
    assert_eq!(
        md(text, 10),
        ["the quick", "brown fox", "jumps over", "the lazy", "dog"]
    );
    assert_eq!(
        md("abcdefghijklmnopqrst", 8),
        ["abcdefgh", "ijklmnop", "qrst"]
    );
    // A word too long for any line starts where there is room.
    assert_eq!(md("see abcdefghijklmn", 8), ["see abcd", "efghijkl", "mn"]);
    assert_eq!(
        md("abcdefg hijklmnopqrstu", 10),
        ["abcdefg", "hijklmnopq", "rstu"]
    );
}

#[test]
fn headings_are_styled_by_level_with_a_blank_line_after() {
    let theme = Theme::dark();
    let lines = render("# Top\n## Second\n### Third\nbody", 40, &theme);
    assert_eq!(
        strings(&lines),
        ["Top", "", "Second", "", "Third", "", "body"]
    );
    let (h1, h2, h3) = (
        span(&lines, "Top"),
        span(&lines, "Second"),
        span(&lines, "Third"),
    );
    assert_eq!(h1.style, theme.heading.add_modifier(Modifier::UNDERLINED));
    assert_eq!(h2.style, theme.heading);
    assert_eq!(h3.style, theme.heading.add_modifier(Modifier::ITALIC));
    assert_eq!(span(&lines, "body").style, theme.text);
}

#[test]
fn nested_lists_hang_their_wrapped_lines_under_the_text() {
    let text = "- alpha beta gamma delta\n  - nested item that wraps\n- last";
    assert_eq!(
        md(text, 16),
        [
            "• alpha beta",
            "  gamma delta",
            "  ◦ nested item",
            "    that wraps",
            "• last"
        ]
    );
    let ordered = "Steps:\n\n3. first\n4. second item here\n\nafter";
    assert_eq!(
        md(ordered, 14),
        [
            "Steps:",
            "",
            "3. first",
            "4. second item",
            "   here",
            "",
            "after"
        ]
    );
}

#[test]
fn loose_lists_keep_a_blank_line_between_items_and_empty_items_show() {
    assert_eq!(md("- a\n\n- b", 20), ["• a", "", "• b"]);
    assert_eq!(md("- a\n-", 20), ["• a", "• "]);
}

#[test]
fn code_blocks_are_set_apart_and_not_reflowed() {
    let theme = Theme::dark();
    let text = "Before\n```rust\nfn main() {\n    let x = 1;    // two\n\n}\n```\nAfter";
    let lines = render(text, 40, &theme);
    assert_eq!(
        strings(&lines),
        [
            "Before",
            "",
            "┌─ rust",
            "│ fn main() {",
            "│     let x = 1;    // two",
            "│ ",
            "│ }",
            "",
            "After"
        ]
    );
    assert_eq!(lines[2].spans[0].style, theme.dim);
    assert_eq!(lines[4].spans[0].style, theme.dim);
    assert_eq!(lines[4].spans[1].style, theme.code);
    // Long lines are broken at the width, not at spaces.
    assert_eq!(
        md("```\nab cd ef gh ij\n```", 8),
        ["┌─", "│ ab cd ", "│ ef gh ", "│ ij"]
    );
    assert_eq!(md("    indented\tx\n", 40), ["┌─", "│ indented    x"]);
}

#[test]
fn code_blocks_in_list_items_keep_the_indent() {
    assert_eq!(
        md("- run:\n\n  ```sh\n  ls\n  ```", 20),
        ["• run:", "", "  ┌─ sh", "  │ ls"]
    );
    assert_eq!(md("- ```sh\n  ls\n  ```", 20), ["• ┌─ sh", "  │ ls"]);
}

#[test]
fn an_unclosed_fence_mid_stream_renders_the_code_so_far() {
    let text = "Intro\n\n```python\ndef f(x):\n    return x *";
    assert_eq!(
        md(text, 40),
        ["Intro", "", "┌─ python", "│ def f(x):", "│     return x *"]
    );
    assert_eq!(md("```", 40), ["┌─"]);
    assert_eq!(md("**bold", 40), ["**bold"]);
}

#[test]
fn every_prefix_of_a_stream_renders_within_the_width() {
    let theme = Theme::dark();
    for (i, _) in RICH.char_indices() {
        for line in render(&RICH[..i], 24, &theme) {
            assert!(line.width() <= 24, "cut at {i}: {line:?}");
        }
    }
}

#[test]
fn inline_styles_patch_modifiers_onto_the_text_style() {
    let theme = Theme::dark();
    let lines = render(
        "plain *it* **bold** ~~gone~~ `co de` ***both***",
        80,
        &theme,
    );
    assert_eq!(strings(&lines), ["plain it bold gone co de both"]);
    assert_eq!(
        span(&lines, "it").style,
        theme.text.add_modifier(Modifier::ITALIC)
    );
    assert_eq!(
        span(&lines, "bold").style,
        theme.text.add_modifier(Modifier::BOLD)
    );
    assert_eq!(
        span(&lines, "gone").style,
        theme.text.add_modifier(Modifier::CROSSED_OUT)
    );
    assert_eq!(span(&lines, "co de").style, theme.code);
    assert_eq!(
        span(&lines, "both").style,
        theme.text.add_modifier(Modifier::BOLD | Modifier::ITALIC)
    );
}

#[test]
fn links_show_their_url_unless_it_is_the_text() {
    let theme = Theme::dark();
    let lines = render("see [docs](https://example.com/d) now", 80, &theme);
    assert_eq!(strings(&lines), ["see docs (https://example.com/d) now"]);
    assert_eq!(span(&lines, "docs").style, theme.link);
    assert_eq!(span(&lines, " (https://example.com/d)").style, theme.dim);
    let auto = render("<https://x.io>", 80, &theme);
    assert_eq!(strings(&auto), ["https://x.io"]);
    assert_eq!(auto[0].spans[0].style, theme.link);
    assert_eq!(md("[https://x.io](https://x.io)", 80), ["https://x.io"]);
    assert_eq!(
        md("a [**b**](u)", 80).concat(),
        "a b (u)",
        "emphasis inside a link"
    );
    assert_eq!(
        span(&render("[**b**](u)", 80, &theme), "b").style,
        theme.link.add_modifier(Modifier::BOLD)
    );
}

#[test]
fn images_html_quotes_and_rules() {
    let theme = Theme::dark();
    let lines = render("![a cat](cat.png)", 40, &theme);
    assert_eq!(strings(&lines), ["[image a cat]"]);
    assert_eq!(lines[0].spans[0].style, theme.dim);
    assert_eq!(
        md("<div>hi</div>\n\na <b>x</b>", 40),
        ["<div>hi</div>", "", "a <b>x</b>"]
    );
    let quote = render("> quoted text that wraps\n>\n> more", 16, &theme);
    assert_eq!(
        strings(&quote),
        ["│ quoted text", "│ that wraps", "│", "│ more"]
    );
    assert_eq!(quote[0].spans[0].style, theme.dim);
    assert!(
        quote[0].spans[1]
            .style
            .add_modifier
            .contains(Modifier::ITALIC)
    );
    assert_eq!(md("a\n\n---\n\nb", 10), ["a", "", "──────────", "", "b"]);
}

#[test]
fn tables_align_when_they_fit_and_wrap_when_not() {
    let text = "| a | b |\n|---|---|\n| 1 | 22 |";
    assert_eq!(md(text, 20), ["a │ b", "──┼───", "1 │ 22"]);
    let wide = "| name | description |\n|---|---|\n| x | a rather long text |";
    assert_eq!(
        md(wide, 12),
        [
            "name │",
            "description",
            "────────────",
            "x │ a rather",
            "long text"
        ]
    );
}

#[test]
fn wide_characters_count_two_columns() {
    assert_eq!(md("你好世界你好世界你", 8), ["你好世界", "你好世界", "你"]);
    assert_eq!(md("ab 🎉🎉🎉🎉🎉", 8), ["ab 🎉🎉", "🎉🎉🎉"]);
    assert_eq!(md("a 你好 b", 8), ["a 你好 b"]);
}

#[test]
fn no_line_is_wider_than_the_width() {
    let theme = Theme::dark();
    let long = "x".repeat(500);
    let inputs = [
        RICH,
        long.as_str(),
        "> > > > > > deeply quoted text with words\n",
        "- a\n  - b\n    - c\n      - d\n        - e\n          - f words words words\n",
        "1. ```\n   ❤\u{fe0f}❤\u{fe0f}❤\u{fe0f}❤\u{fe0f}❤\u{fe0f}\n   ```\n",
        "```❤\u{fe0f}❤\u{fe0f}❤\u{fe0f}❤\u{fe0f}❤\u{fe0f}\nx\n```\n",
        "#### 見出し見出し見出し見出し\n\nmixed 漢字and latin words 🎉 everywhere",
    ];
    for input in inputs {
        for width in 8..=48u16 {
            for line in render(input, width, &theme) {
                assert!(line.width() <= usize::from(width), "{width}: {line:?}");
            }
        }
    }
}

#[test]
fn tiny_widths_are_laid_out_at_the_minimum() {
    let theme = Theme::dark();
    for width in 0..MIN_WIDTH {
        let lines = render(RICH, width, &theme);
        assert!(!lines.is_empty());
        assert!(lines.iter().all(|l| l.width() <= usize::from(MIN_WIDTH)));
        let plain = wrap_plain("some words 你好", width, Style::new());
        assert_eq!(strings(&plain), ["some", "words", "你好"]);
    }
}

#[test]
fn there_is_no_trailing_blank_line() {
    for text in [
        "para\n\n",
        "- a\n- b\n\n",
        "```\ncode\n```\n\n",
        "> q\n\n",
        "# h\n",
    ] {
        let lines = md(text, 40);
        assert!(
            lines.last().is_some_and(|l| !l.trim().is_empty()),
            "{text:?}: {lines:?}"
        );
    }
}

#[test]
fn wrap_plain_keeps_newlines_and_indentation() {
    let style = Style::new().add_modifier(Modifier::BOLD);
    let lines = wrap_plain(
        "first line\n\n  indented *not md*\nwrapping goes on",
        10,
        style,
    );
    assert_eq!(
        strings(&lines),
        [
            "first line",
            "",
            "  indented",
            "*not md*",
            "wrapping",
            "goes on"
        ]
    );
    assert!(
        lines
            .iter()
            .flat_map(|l| &l.spans)
            .all(|s| s.style == style)
    );
}

#[test]
fn long_messages_render_in_linear_time() {
    // A megabyte-scale message would take minutes if anything were quadratic.
    let para = "word ".repeat(50) + "\n\n";
    let text = para.repeat(2_000) + &"z".repeat(200_000);
    let lines = render(&text, 80, &Theme::dark());
    assert!(lines.len() > 2_000 * 4 + 200_000 / 80);
}
