//! Fuzzing of the MarkdownV2 renderer (target `telegram_markdown`, seeds
//! in fuzz/corpus/telegram_markdown): whatever the agent writes, the output
//! must be MarkdownV2 that Telegram accepts, and text without Markdown
//! markers must come back unchanged once its escapes are removed.

use super::{RESERVED, to_markdown_v2};

/// The entities a MarkdownV2 text opens and closes with markers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Entity {
    Bold,
    Italic,
    Underline,
    Strike,
    Spoiler,
    LinkLabel,
}

/// A reader of MarkdownV2 as Telegram's documentation describes it.
struct Reader {
    chars: Vec<char>,
    at: usize,
    open: Vec<Entity>,
    /// The text a reader sees: no markers, no escapes, no URLs.
    visible: String,
}

impl Reader {
    /// The character escaped by the `\` at `at`: any of code 1 to 126.
    fn escaped(&self) -> Result<char, String> {
        match self.chars.get(self.at + 1) {
            Some(&c) if (1..=126).contains(&u32::from(c)) => Ok(c),
            other => Err(format!("`\\` at {} escapes {other:?}", self.at)),
        }
    }

    /// Opens `entity`, or closes it when it is the innermost one open.
    fn toggle(&mut self, entity: Entity, len: usize) -> Result<(), String> {
        if self.open.last() == Some(&entity) {
            self.open.pop();
        } else if self.open.contains(&entity) {
            return Err(format!(
                "{entity:?} closed at {} across {:?}",
                self.at, self.open
            ));
        } else {
            self.open.push(entity);
        }
        self.at += len;
        Ok(())
    }

    /// Code (after its opening marker) up to the unescaped `` ` `` that
    /// closes it: every `` ` `` and `\` inside must be escaped.
    fn code(&mut self) -> Result<(), String> {
        loop {
            match self.chars.get(self.at) {
                None => return Err("code or pre not closed".into()),
                Some('\\') => {
                    let c = self.escaped()?;
                    self.visible.push(c);
                    self.at += 2;
                }
                Some('`') => return Ok(()),
                Some(&c) => {
                    self.visible.push(c);
                    self.at += 1;
                }
            }
        }
    }

    /// A link's `(URL)` after its label: `)` and `\` must be escaped.
    fn url(&mut self) -> Result<(), String> {
        if self.chars.get(self.at) != Some(&'(') {
            return Err(format!("`]` at {} without `(`", self.at - 1));
        }
        self.at += 1;
        loop {
            match self.chars.get(self.at) {
                None => return Err("link URL not closed".into()),
                Some('\\') => {
                    self.escaped()?;
                    self.at += 2;
                }
                Some(')') => {
                    self.at += 1;
                    return Ok(());
                }
                Some(_) => self.at += 1,
            }
        }
    }

    fn step(&mut self) -> Result<(), String> {
        let c = self.chars[self.at];
        let next = self.chars.get(self.at + 1).copied();
        match c {
            '\\' => {
                let c = self.escaped()?;
                self.visible.push(c);
                self.at += 2;
            }
            '`' if self.chars[self.at..].starts_with(&['`'; 3]) => {
                self.at += 3;
                while self.chars.get(self.at).is_some_and(|c| *c != '\n') {
                    self.at += 1;
                }
                self.at += 1;
                self.code()?;
                if !self.chars[self.at..].starts_with(&['`'; 3]) {
                    return Err(format!("pre closed by a lone `` ` `` at {}", self.at));
                }
                self.at += 3;
            }
            '`' => {
                self.at += 1;
                self.code()?;
                self.at += 1;
            }
            '*' => self.toggle(Entity::Bold, 1)?,
            '_' if next == Some('_') => self.toggle(Entity::Underline, 2)?,
            '_' => self.toggle(Entity::Italic, 1)?,
            '~' => self.toggle(Entity::Strike, 1)?,
            '|' if next == Some('|') => self.toggle(Entity::Spoiler, 2)?,
            '[' if !self.open.contains(&Entity::LinkLabel) => self.toggle(Entity::LinkLabel, 1)?,
            ']' if self.open.last() == Some(&Entity::LinkLabel) => {
                self.toggle(Entity::LinkLabel, 1)?;
                self.url()?;
            }
            c if RESERVED.contains(c) => {
                return Err(format!("unescaped `{c}` at {}", self.at));
            }
            c => {
                self.visible.push(c);
                self.at += 1;
            }
        }
        Ok(())
    }
}

/// Reads `text` as MarkdownV2: its visible text, or why Telegram would
/// refuse it.
fn read_v2(text: &str) -> Result<String, String> {
    let mut reader = Reader {
        chars: text.chars().collect(),
        at: 0,
        open: Vec::new(),
        visible: String::new(),
    };
    while reader.at < reader.chars.len() {
        reader.step()?;
    }
    match reader.open.last() {
        Some(entity) => Err(format!("{entity:?} not closed")),
        None => Ok(reader.visible),
    }
}

#[test]
fn the_reader_knows_valid_from_invalid() {
    assert_eq!(
        read_v2(r"*b* _i_ `c\`` [l](u\)) \."),
        Ok("b i c` l .".into())
    );
    assert_eq!(read_v2("```rust\nx\n```"), Ok("x\n".into()));
    for bad in [
        "a.b",
        "*b",
        "_a__b_",
        "*a _b* c_",
        "`x",
        "[l](u",
        "\\é",
        "a\\",
    ] {
        assert!(read_v2(bad).is_err(), "{bad}");
    }
}

#[test]
fn fuzz_telegram_markdown() {
    openpista_fuzz::run_str("telegram_markdown", |text| {
        let out = to_markdown_v2(text);
        if let Err(why) = read_v2(&out) {
            panic!("invalid MarkdownV2 ({why}): {out:?}");
        }
        // Without the characters that open entities, only escaping is
        // left: undone, it gives the text back.
        let plain: String = text.chars().filter(|c| !"*_`[".contains(*c)).collect();
        assert_eq!(read_v2(&to_markdown_v2(&plain)), Ok(plain));
    });
}
