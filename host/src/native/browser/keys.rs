//! The keys `browser.type` presses: the characters of a US keyboard and
//! Enter, with the `code` and Windows virtual key code a page sees in its
//! `KeyboardEvent`s. Characters without a key here are inserted as text
//! (`Input.insertText`), the way an input method would.

use serde_json::{Value, json};

/// What one key press sends with `Input.dispatchKeyEvent`.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    /// `KeyboardEvent.key`: the character, or the key's name.
    pub key: String,
    /// `KeyboardEvent.code`: the physical key.
    pub code: String,
    /// The Windows virtual key code (also sent as the native one).
    pub key_code: u32,
    /// The text the key types, when it types any.
    pub text: Option<String>,
}

impl Key {
    /// The two `Input.dispatchKeyEvent` parameters of one press: down, then
    /// up. A key that types goes down as `keyDown` with its text, one that
    /// does not (Escape) as `rawKeyDown`.
    pub fn events(&self) -> [Value; 2] {
        let event = |kind: &str| {
            json!({
                "type": kind,
                "key": self.key,
                "code": self.code,
                "windowsVirtualKeyCode": self.key_code,
                "nativeVirtualKeyCode": self.key_code,
            })
        };
        let down = match &self.text {
            Some(text) => {
                let mut down = event("keyDown");
                down["text"] = json!(text);
                down["unmodifiedText"] = json!(text);
                down
            }
            None => event("rawKeyDown"),
        };
        [down, event("keyUp")]
    }
}

/// Punctuation of a US keyboard: the key's code, its virtual key code, and
/// the characters without and with Shift.
const PUNCTUATION: [(&str, u32, char, char); 11] = [
    ("Semicolon", 186, ';', ':'),
    ("Equal", 187, '=', '+'),
    ("Comma", 188, ',', '<'),
    ("Minus", 189, '-', '_'),
    ("Period", 190, '.', '>'),
    ("Slash", 191, '/', '?'),
    ("Backquote", 192, '`', '~'),
    ("BracketLeft", 219, '[', '{'),
    ("Backslash", 220, '\\', '|'),
    ("BracketRight", 221, ']', '}'),
    ("Quote", 222, '\'', '"'),
];

/// The digits' shifted characters, from 0 to 9.
const SHIFTED_DIGITS: [char; 10] = [')', '!', '@', '#', '$', '%', '^', '&', '*', '('];

/// The key for a named key (`Enter`) or a single character; `None` when a
/// US keyboard has no key for it.
pub fn key(name: &str) -> Option<Key> {
    let named = |key: &str, key_code: u32, text: Option<&str>| Key {
        key: key.into(),
        code: key.into(),
        key_code,
        text: text.map(str::to_owned),
    };
    match name {
        "Enter" => return Some(named("Enter", 13, Some("\r"))),
        "Tab" => return Some(named("Tab", 9, None)),
        "Backspace" => return Some(named("Backspace", 8, None)),
        "Escape" => return Some(named("Escape", 27, None)),
        _ => {}
    }
    let mut chars = name.chars();
    let (Some(c), None) = (chars.next(), chars.next()) else {
        return None;
    };
    let typed = |code: String, key_code: u32| Key {
        key: c.to_string(),
        code,
        key_code,
        text: Some(c.to_string()),
    };
    match c {
        'a'..='z' | 'A'..='Z' => {
            let upper = c.to_ascii_uppercase();
            Some(typed(format!("Key{upper}"), upper as u32))
        }
        '0'..='9' => Some(typed(format!("Digit{c}"), c as u32)),
        ' ' => Some(typed("Space".into(), 32)),
        _ => {
            if let Some(digit) = SHIFTED_DIGITS.iter().position(|d| *d == c) {
                return Some(typed(format!("Digit{digit}"), 48 + digit as u32));
            }
            PUNCTUATION
                .iter()
                .find(|(_, _, plain, shifted)| *plain == c || *shifted == c)
                .map(|(code, key_code, _, _)| typed((*code).into(), *key_code))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_digits_and_punctuation_have_their_keys() {
        let a = key("a").unwrap();
        assert_eq!((a.code.as_str(), a.key_code), ("KeyA", 65));
        assert_eq!(a.text.as_deref(), Some("a"));
        let z = key("Z").unwrap();
        assert_eq!(
            (z.key.as_str(), z.code.as_str(), z.key_code),
            ("Z", "KeyZ", 90)
        );
        assert_eq!(key("7").unwrap().code, "Digit7");
        assert_eq!(key("7").unwrap().key_code, 55);
        let at = key("@").unwrap();
        assert_eq!((at.code.as_str(), at.key_code), ("Digit2", 50));
        let quote = key("\"").unwrap();
        assert_eq!((quote.code.as_str(), quote.key_code), ("Quote", 222));
        assert_eq!(key(" ").unwrap().code, "Space");
        assert_eq!(key("?").unwrap().code, "Slash");
    }

    #[test]
    fn enter_types_a_carriage_return_and_other_names_type_nothing() {
        let enter = key("Enter").unwrap();
        assert_eq!((enter.code.as_str(), enter.key_code), ("Enter", 13));
        assert_eq!(enter.text.as_deref(), Some("\r"));
        assert_eq!(key("Escape").unwrap().text, None);
    }

    #[test]
    fn a_press_is_a_key_down_with_its_text_then_a_key_up() {
        let [down, up] = key("Enter").unwrap().events();
        assert_eq!(
            down,
            json!({ "type": "keyDown", "key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 13,
                    "nativeVirtualKeyCode": 13, "text": "\r", "unmodifiedText": "\r" })
        );
        assert_eq!(
            up,
            json!({ "type": "keyUp", "key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 13,
                    "nativeVirtualKeyCode": 13 })
        );
        let [down, up] = key("Escape").unwrap().events();
        assert_eq!(down["type"], "rawKeyDown");
        assert!(down.get("text").is_none());
        assert_eq!(up["type"], "keyUp");
    }

    #[test]
    fn characters_without_a_key_are_none() {
        assert_eq!(key("é"), None);
        assert_eq!(key("日"), None);
        assert_eq!(key("ab"), None);
        assert_eq!(key(""), None);
    }
}
