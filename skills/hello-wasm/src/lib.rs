//! `hello-wasm`: the smallest useful skill, in Rust with `openpista-sdk`.
//!
//! Two tools: `hello.greet` and `text.slugify`. The SDK hides wit-bindgen:
//! implement [`Tool`] on a unit struct and call `export_tool!` once. Each
//! call may run in a fresh instance, so nothing is kept between calls.

use openpista_sdk::prelude::*;
use serde::Deserialize;

struct Hello;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GreetArgs {
    name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SlugArgs {
    text: String,
    /// Longest slug, in characters (default 60).
    #[serde(default)]
    max: Option<usize>,
}

fn greet(name: &str) -> Result<String, Error> {
    let name = name.trim();
    if name.is_empty() {
        return Err(Error::invalid_input("hello.greet: `name` is empty"));
    }
    Ok(format!(
        "Hello, {name}! Greetings from a WebAssembly skill."
    ))
}

/// Lower-case ASCII letters and digits, runs of anything else as one `-`,
/// no `-` at either end, cut at `max` characters on a word boundary when
/// there is one.
fn slugify(text: &str, max: usize) -> String {
    let mut slug = String::new();
    for c in text.chars() {
        let c = fold(c);
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let slug = slug.trim_end_matches('-');
    if slug.len() <= max {
        return slug.to_string();
    }
    let cut = &slug[..max];
    match cut.rfind('-') {
        Some(i) if i > 0 => cut[..i].to_string(),
        _ => cut.trim_end_matches('-').to_string(),
    }
}

/// Common accented Latin letters as their base letter.
fn fold(c: char) -> char {
    match c {
        'à'..='å' | 'À'..='Å' => 'a',
        'ç' | 'Ç' => 'c',
        'è'..='ë' | 'È'..='Ë' => 'e',
        'ì'..='ï' | 'Ì'..='Ï' => 'i',
        'ñ' | 'Ñ' => 'n',
        'ò'..='ö' | 'Ò'..='Ö' | 'ø' | 'Ø' => 'o',
        'ù'..='ü' | 'Ù'..='Ü' => 'u',
        'ý' | 'ÿ' | 'Ý' => 'y',
        other => other,
    }
}

impl Tool for Hello {
    fn tools() -> Vec<ToolSpec> {
        vec![
            ToolSpec::new(
                "hello.greet",
                "Greets someone by name.",
                json!({
                    "type": "object",
                    "properties": {"name": {"type": "string", "description": "Who to greet."}},
                    "required": ["name"],
                    "additionalProperties": false
                }),
            ),
            ToolSpec::new(
                "text.slugify",
                "Turns a title into a URL slug: lower-case letters, digits and dashes.",
                json!({
                    "type": "object",
                    "properties": {
                        "text": {"type": "string"},
                        "max": {"type": "integer", "minimum": 1, "description": "Longest slug (default 60)."}
                    },
                    "required": ["text"],
                    "additionalProperties": false
                }),
            ),
        ]
    }

    fn invoke(name: &str, args: Args, _ctx: CallContext) -> Result<ToolResult, Error> {
        match name {
            "hello.greet" => {
                let a: GreetArgs = args.parse()?;
                Ok(ToolResult::text(greet(&a.name)?))
            }
            "text.slugify" => {
                let a: SlugArgs = args.parse()?;
                let max = a.max.unwrap_or(60).max(1);
                Ok(ToolResult::text(slugify(&a.text, max)))
            }
            other => Err(Error::not_found(format!(
                "hello-wasm has no tool `{other}`"
            ))),
        }
    }
}

export_tool!(Hello);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_fold_accents_and_collapse_separators() {
        assert_eq!(slugify("  Héllo, Wörld!  2026 ", 60), "hello-world-2026");
        assert_eq!(slugify("---", 60), "");
        assert_eq!(slugify("one two three", 9), "one-two");
        assert_eq!(slugify("abcdefghij", 4), "abcd");
    }

    #[test]
    fn an_empty_name_is_refused() {
        assert!(greet("  ").is_err());
        assert_eq!(
            greet("Ada").unwrap(),
            "Hello, Ada! Greetings from a WebAssembly skill."
        );
    }
}
