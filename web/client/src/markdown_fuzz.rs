//! Fuzzing of the chat Markdown renderer (target `web_markdown`, seeds in
//! fuzz/corpus/web_markdown): whatever a model writes, the HTML holds only
//! the renderer's own tags, properly nested, links only to `http(s)`, and
//! no `<` of the input gets through unescaped.

use super::render;

/// Tags that are never closed.
const VOID: [&str; 2] = ["br", "hr"];
/// The tags the renderer writes, by name.
const ALLOWED: [&str; 18] = [
    "p",
    "br",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "pre",
    "code",
    "hr",
    "blockquote",
    "ul",
    "ol",
    "li",
    "strong",
    "em",
    "a",
];

/// Checks the attributes of an opening tag (`name` and what follows it).
fn check_attributes(name: &str, attributes: &str) -> Result<(), String> {
    let ok = match name {
        "" => false,
        "a" => attributes
            .strip_prefix(" href=\"")
            .and_then(|rest| rest.split_once('"'))
            .is_some_and(|(href, rest)| {
                let lower = href.to_ascii_lowercase();
                (lower.starts_with("http://") || lower.starts_with("https://"))
                    && rest == " target=\"_blank\" rel=\"noopener noreferrer nofollow\""
            }),
        "code" => {
            attributes.is_empty()
                || attributes
                    .strip_prefix(" class=\"language-")
                    .and_then(|rest| rest.strip_suffix('"'))
                    .is_some_and(|lang| {
                        lang.chars()
                            .all(|c| c.is_ascii_alphanumeric() || "_-+#".contains(c))
                    })
        }
        "ol" => {
            attributes.is_empty()
                || attributes
                    .strip_prefix(" start=\"")
                    .and_then(|rest| rest.strip_suffix('"'))
                    .is_some_and(|n| n.parse::<u32>().is_ok())
        }
        _ => attributes.is_empty(),
    };
    if ok {
        Ok(())
    } else {
        Err(format!("<{name}{attributes}>"))
    }
}

/// Checks that `html` is made of the renderer's tags, balanced, and of
/// escaped text (entities only for `& < > " '`).
fn check_html(html: &str) -> Result<(), String> {
    let mut open: Vec<&str> = Vec::new();
    let mut rest = html;
    while !rest.is_empty() {
        let text_end = rest.find('<').unwrap_or(rest.len());
        let text = &rest[..text_end];
        if text.contains(['>', '"', '\'']) {
            return Err(format!("unescaped text {text:?}"));
        }
        for (i, _) in text.match_indices('&') {
            let entity = ["&amp;", "&lt;", "&gt;", "&quot;", "&#39;"];
            if !entity.iter().any(|e| text[i..].starts_with(e)) {
                return Err(format!("a bare & in {text:?}"));
            }
        }
        rest = &rest[text_end..];
        if rest.is_empty() {
            break;
        }
        let end = rest.find('>').ok_or("a tag without `>`")?;
        let tag = &rest[1..end];
        rest = &rest[end + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            match open.pop() {
                Some(opened) if opened == name => {}
                other => return Err(format!("</{name}> closes {other:?}")),
            }
            continue;
        }
        let name_end = tag.find(' ').unwrap_or(tag.len());
        let (name, attributes) = tag.split_at(name_end);
        if !ALLOWED.contains(&name) {
            return Err(format!("tag <{tag}>"));
        }
        check_attributes(name, attributes)?;
        if !VOID.contains(&name) {
            open.push(name);
        }
    }
    match open.last() {
        Some(name) => Err(format!("<{name}> not closed")),
        None => Ok(()),
    }
}

#[test]
fn the_checker_refuses_what_must_not_get_through() {
    for bad in [
        "<script>",
        "<p>",
        "<p></em>",
        "<a href=\"javascript:x\" target=\"_blank\" rel=\"noopener noreferrer nofollow\"></a>",
        "<img src=x>",
        "a > b",
        "&nbsp;",
        "<p onclick=\"x\"></p>",
    ] {
        assert!(check_html(bad).is_err(), "{bad}");
    }
    check_html(&render("# t\n\n- a\n  1. b\n\n> `c` [d](https://e/f) <g>")).unwrap();
}

#[test]
fn fuzz_web_markdown() {
    openpista_fuzz::run_str("web_markdown", |src| {
        let html = render(src);
        check_html(&html).unwrap_or_else(|why| panic!("{why} in {html:?}"));
        // Every `<` of the input is in the output as `&lt;`, and none is
        // made up; only a fence's info string after its language tag is
        // dropped, with whatever `<` it had.
        let sent = src.matches('<').count();
        let shown = html.matches("&lt;").count();
        if src.contains("```") || src.contains("~~~") {
            assert!(shown <= sent, "{shown} `&lt;` for {sent} `<`: {html:?}");
        } else {
            assert_eq!(shown, sent, "{html:?}");
        }
    });
}
