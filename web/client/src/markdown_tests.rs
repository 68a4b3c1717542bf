//! Tests of the Markdown renderer, above all that no input can inject HTML.

use super::*;

#[test]
fn paragraphs_and_line_breaks() {
    assert_eq!(render("hello"), "<p>hello</p>");
    assert_eq!(render("a\nb\n\nc"), "<p>a<br>b</p><p>c</p>");
    assert_eq!(render("a\r\nb"), "<p>a<br>b</p>");
    assert_eq!(render(""), "");
    assert_eq!(render("\n\n"), "");
}

#[test]
fn emphasis_and_code() {
    assert_eq!(
        render("**bold** and *it*"),
        "<p><strong>bold</strong> and <em>it</em></p>"
    );
    assert_eq!(
        render("_it_ and __b__"),
        "<p><em>it</em> and <strong>b</strong></p>"
    );
    assert_eq!(
        render("*a **b** c*"),
        "<p><em>a <strong>b</strong> c</em></p>"
    );
    assert_eq!(
        render("***both***"),
        "<p><strong><em>both</em></strong></p>"
    );
    assert_eq!(
        render("use `a < b` here"),
        "<p>use <code>a &lt; b</code> here</p>"
    );
    assert_eq!(render("``a ` b``"), "<p><code>a ` b</code></p>");
    assert_eq!(render("`**not bold**`"), "<p><code>**not bold**</code></p>");
}

#[test]
fn literal_markers_stay_literal() {
    assert_eq!(render("2 * 3 * 4"), "<p>2 * 3 * 4</p>");
    assert_eq!(render("snake_case_name"), "<p>snake_case_name</p>");
    assert_eq!(render("**unclosed"), "<p>**unclosed</p>");
    assert_eq!(render("`unclosed"), "<p>`unclosed</p>");
    assert_eq!(render(r"\*not em\*"), "<p>*not em*</p>");
    assert_eq!(render("#hashtag"), "<p>#hashtag</p>");
}

#[test]
fn headings_rules_quotes() {
    assert_eq!(render("# Title\ntext"), "<h1>Title</h1><p>text</p>");
    assert_eq!(render("### *x* ###"), "<h3><em>x</em></h3>");
    assert_eq!(render("a\n\n---\n\nb"), "<p>a</p><hr><p>b</p>");
    assert_eq!(
        render("> quoted\n> **more**"),
        "<blockquote><p>quoted<br><strong>more</strong></p></blockquote>"
    );
}

#[test]
fn fenced_code_blocks() {
    assert_eq!(
        render("```rust\nfn main() {\n    println!(\"<hi>\");\n}\n```\nafter"),
        "<pre><code class=\"language-rust\">fn main() {\n    println!(&quot;&lt;hi&gt;&quot;);\n}</code></pre><p>after</p>"
    );
    // While streaming, the fence is not closed yet.
    assert_eq!(
        render("```\npartial *x*"),
        "<pre><code>partial *x*</code></pre>"
    );
    assert_eq!(render("~~~\n```\n~~~"), "<pre><code>```</code></pre>");
    // The info string cannot break out of the class attribute.
    assert_eq!(
        render("```\"><script>\nx\n```"),
        "<pre><code class=\"language-script\">x</code></pre>"
    );
}

#[test]
fn lists() {
    assert_eq!(render("- a\n- b"), "<ul><li>a</li><li>b</li></ul>");
    assert_eq!(render("* a\n+ b"), "<ul><li>a</li><li>b</li></ul>");
    assert_eq!(render("1. a\n2. b"), "<ol><li>a</li><li>b</li></ol>");
    assert_eq!(
        render("3) a\n4) b"),
        "<ol start=\"3\"><li>a</li><li>b</li></ol>"
    );
    assert_eq!(
        render("text\n- a\n\nafter"),
        "<p>text</p><ul><li>a</li></ul><p>after</p>"
    );
    assert_eq!(
        render("- a\n  - b\n  - c\n- d"),
        "<ul><li>a<ul><li>b</li><li>c</li></ul></li><li>d</li></ul>"
    );
    assert_eq!(
        render("1. a\n\n   more\n2. b"),
        "<ol><li><p>a</p><p>more</p></li><li>b</li></ol>"
    );
    assert_eq!(render("- a\n\n- b"), "<ul><li>a</li><li>b</li></ul>");
    assert_eq!(
        render("- a\n1. b"),
        "<ul><li>a</li></ul><ol><li>b</li></ol>"
    );
    assert_eq!(
        render("- **x** `y`"),
        "<ul><li><strong>x</strong> <code>y</code></li></ul>"
    );
}

#[test]
fn links() {
    assert_eq!(
        render("[docs](https://example.com/a?b=1&c=2)"),
        "<p><a href=\"https://example.com/a?b=1&amp;c=2\" target=\"_blank\" rel=\"noopener noreferrer nofollow\">docs</a></p>"
    );
    assert_eq!(
        render("see https://example.com/x."),
        "<p>see <a href=\"https://example.com/x\" target=\"_blank\" rel=\"noopener noreferrer nofollow\">https://example.com/x</a>.</p>"
    );
    assert_eq!(
        render("(https://en.wikipedia.org/wiki/Rust_(language))"),
        "<p>(<a href=\"https://en.wikipedia.org/wiki/Rust_(language)\" target=\"_blank\" rel=\"noopener noreferrer nofollow\">https://en.wikipedia.org/wiki/Rust_(language)</a>)</p>"
    );
    assert_eq!(
        render("[**b** text](http://x.org)"),
        "<p><a href=\"http://x.org\" target=\"_blank\" rel=\"noopener noreferrer nofollow\"><strong>b</strong> text</a></p>"
    );
    // No links inside links.
    assert_eq!(
        render("[https://a.org](https://b.org)"),
        "<p><a href=\"https://b.org\" target=\"_blank\" rel=\"noopener noreferrer nofollow\">https://a.org</a></p>"
    );
    assert_eq!(render("[a]"), "<p>[a]</p>");
    assert_eq!(render("[a](relative/path)"), "<p>[a](relative/path)</p>");
    assert_eq!(render("http://"), "<p>http://</p>");
}

#[test]
fn only_http_links_become_hrefs() {
    for url in [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:x",
        "//evil.example",
        "file:///etc/passwd",
        "java\tscript:alert(1)",
    ] {
        let html = render(&format!("[click]({url})"));
        assert!(!html.contains("<a"), "{url} became a link: {html}");
        assert!(!html.contains("<script"), "{html}");
    }
    assert!(is_safe_url("HTTPS://EXAMPLE.COM"));
    assert!(!is_safe_url("https://a.org/\"onclick=\"x"));
}

#[test]
fn xss_attempts_are_escaped() {
    let attacks = [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "**<b onmouseover=alert(1)>x</b>**",
        "[x](https://a.org\"onmouseover=\"alert(1))",
        "[x](https://a.org/\" onmouseover=\"alert(1))",
        "https://a.org/\"><script>alert(1)</script>",
        "```\n</code></pre><script>alert(1)</script>\n```",
        "`</code><script>alert(1)</script>`",
        "> <iframe src=javascript:alert(1)>",
        "- <svg onload=alert(1)>",
        "# <style>body{display:none}</style>",
        "&lt;script&gt; already escaped",
        "[<img src=x onerror=alert(1)>](https://a.org)",
    ];
    for attack in attacks {
        let html = render(attack);
        for bad in [
            "<script",
            "<img",
            "<iframe",
            "<svg",
            "<style",
            "<b ",
            "onerror=\"",
            "onmouseover=\"",
        ] {
            assert!(!html.contains(bad), "{attack:?} rendered {html:?}");
        }
        // Every tag in the output is one the renderer writes itself.
        let mut rest = html.as_str();
        while let Some(p) = rest.find('<') {
            rest = &rest[p + 1..];
            let name: String = rest
                .trim_start_matches('/')
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            assert!(
                [
                    "p",
                    "br",
                    "strong",
                    "em",
                    "code",
                    "pre",
                    "a",
                    "ul",
                    "ol",
                    "li",
                    "h1",
                    "blockquote",
                    "hr"
                ]
                .contains(&name.as_str()),
                "{attack:?} produced <{name}: {html:?}"
            );
        }
    }
    assert_eq!(render("&amp;"), "<p>&amp;amp;</p>");
}

#[test]
fn hostile_input_is_fast_and_shallow() {
    let many_brackets = "[".repeat(30_000);
    assert_eq!(render(&many_brackets).len(), 30_000 + "<p></p>".len());
    let deep = format!("{}x{}", "*".repeat(2_000), "*".repeat(2_000));
    assert!(render(&deep).contains('x'));
    let quotes = ">".repeat(5_000);
    assert!(render(&quotes).contains("&gt;"));
    let lists = (0..500)
        .map(|i| format!("{}- x", "  ".repeat(i)))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(render(&lists).contains('x'));
    let ticks = "` ".repeat(20_000);
    assert!(render(&ticks).starts_with("<p>"));
}

#[test]
fn non_ascii_text() {
    assert_eq!(
        render("**你好** 世界 ✓"),
        "<p><strong>你好</strong> 世界 ✓</p>"
    );
    assert_eq!(render("`é`"), "<p><code>é</code></p>");
    let long = "é".repeat(5_000) + "[x](https://a.org)";
    assert!(render(&long).ends_with("</a></p>"));
}
