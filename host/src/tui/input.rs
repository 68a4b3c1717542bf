//! The input box: multi-line text with a cursor, and the history of what
//! was sent (↑/↓ on the first or last line, like a shell).

/// Text being typed. The cursor is a byte index on a char boundary.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Editor {
    text: String,
    cursor: usize,
    history: Vec<String>,
    /// Where ↑/↓ is in the history; `None` while editing fresh text.
    recall: Option<usize>,
    /// What was being typed before recalling history.
    draft: String,
}

/// How many sent messages ↑ can bring back.
const HISTORY: usize = 200;

impl Editor {
    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn cursor(&self) -> usize {
        self.cursor
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    pub fn set(&mut self, text: &str) {
        self.text = text.to_string();
        self.cursor = self.text.len();
    }

    pub fn insert(&mut self, s: &str) {
        // Carriage returns from a paste become newlines.
        let s = s.replace("\r\n", "\n").replace('\r', "\n");
        self.text.insert_str(self.cursor, &s);
        self.cursor += s.len();
        self.recall = None;
    }

    pub fn backspace(&mut self) {
        if let Some(c) = self.text[..self.cursor].chars().next_back() {
            self.cursor -= c.len_utf8();
            self.text.remove(self.cursor);
        }
    }

    pub fn delete(&mut self) {
        if self.cursor < self.text.len() {
            self.text.remove(self.cursor);
        }
    }

    pub fn left(&mut self) {
        if let Some(c) = self.text[..self.cursor].chars().next_back() {
            self.cursor -= c.len_utf8();
        }
    }

    pub fn right(&mut self) {
        if let Some(c) = self.text[self.cursor..].chars().next() {
            self.cursor += c.len_utf8();
        }
    }

    /// Start of the cursor's line.
    pub fn home(&mut self) {
        self.cursor = self.text[..self.cursor].rfind('\n').map_or(0, |i| i + 1);
    }

    /// End of the cursor's line.
    pub fn end(&mut self) {
        self.cursor = self.text[self.cursor..]
            .find('\n')
            .map_or(self.text.len(), |i| self.cursor + i);
    }

    /// Deletes the word before the cursor (Ctrl+W).
    pub fn delete_word(&mut self) {
        let before = &self.text[..self.cursor];
        let trimmed = before.trim_end();
        let start = trimmed.rfind(char::is_whitespace).map_or(0, |i| i + 1);
        self.text.replace_range(start..self.cursor, "");
        self.cursor = start;
    }

    /// (line, column in chars) of the cursor.
    pub fn position(&self) -> (usize, usize) {
        let before = &self.text[..self.cursor];
        let line = before.matches('\n').count();
        let col = before.rsplit('\n').next().unwrap_or("").chars().count();
        (line, col)
    }

    pub fn line_count(&self) -> usize {
        self.text.matches('\n').count() + 1
    }

    /// ↑: the line above, or on the first line the previous message sent.
    pub fn up(&mut self) {
        let (line, col) = self.position();
        if line > 0 {
            self.move_to_line(line - 1, col);
            return;
        }
        let next = match self.recall {
            None if self.history.is_empty() => return,
            None => {
                self.draft = self.text.clone();
                self.history.len() - 1
            }
            Some(0) => return,
            Some(i) => i - 1,
        };
        self.recall = Some(next);
        self.text = self.history[next].clone();
        self.cursor = self.text.len();
    }

    /// ↓: the line below, or on the last line the next message sent (and
    /// past the newest, what was being typed).
    pub fn down(&mut self) {
        let (line, col) = self.position();
        if line + 1 < self.line_count() {
            self.move_to_line(line + 1, col);
            return;
        }
        let Some(i) = self.recall else { return };
        if i + 1 < self.history.len() {
            self.recall = Some(i + 1);
            self.text = self.history[i + 1].clone();
        } else {
            self.recall = None;
            self.text = std::mem::take(&mut self.draft);
        }
        self.cursor = self.text.len();
    }

    fn move_to_line(&mut self, target: usize, col: usize) {
        let mut start = 0;
        for (i, l) in self.text.split('\n').enumerate() {
            if i == target {
                let byte = l.char_indices().nth(col).map_or(l.len(), |(b, _)| b);
                self.cursor = start + byte;
                return;
            }
            start += l.len() + 1;
        }
    }

    /// Takes the text to send, remembering it in the history.
    pub fn take(&mut self) -> String {
        let text = std::mem::take(&mut self.text);
        self.cursor = 0;
        self.recall = None;
        self.draft.clear();
        if !text.trim().is_empty() && self.history.last() != Some(&text) {
            self.history.push(text.clone());
            if self.history.len() > HISTORY {
                self.history.remove(0);
            }
        }
        text
    }

    pub fn clear(&mut self) {
        self.text.clear();
        self.cursor = 0;
        self.recall = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typing_moving_and_deleting_respect_characters() {
        let mut e = Editor::default();
        e.insert("héllo");
        e.left();
        e.left();
        e.backspace();
        assert_eq!(e.text(), "hélo");
        e.home();
        e.delete();
        assert_eq!(e.text(), "élo");
        e.end();
        e.insert(" world");
        e.delete_word();
        assert_eq!(e.text(), "élo ");
    }

    #[test]
    fn up_and_down_move_between_lines_before_the_history() {
        let mut e = Editor::default();
        e.insert("first");
        e.take();
        e.insert("ab\ncdef");
        assert_eq!(e.position(), (1, 4));
        e.up();
        assert_eq!(e.position(), (0, 2));
        e.up();
        assert_eq!(e.text(), "first");
        e.down();
        assert_eq!(e.text(), "ab\ncdef", "the draft comes back");
    }

    #[test]
    fn the_history_keeps_what_was_sent_without_repeats_or_blanks() {
        let mut e = Editor::default();
        for t in ["a", "a", "  ", "b"] {
            e.insert(t);
            e.take();
        }
        e.up();
        assert_eq!(e.text(), "b");
        e.up();
        assert_eq!(e.text(), "a");
        e.up();
        assert_eq!(e.text(), "a", "the oldest stays");
        e.down();
        e.down();
        assert_eq!(e.text(), "");
    }

    #[test]
    fn a_paste_keeps_its_lines() {
        let mut e = Editor::default();
        e.insert("one\r\ntwo\rthree");
        assert_eq!(e.text(), "one\ntwo\nthree");
        assert_eq!(e.line_count(), 3);
    }
}
