//! Inline buttons from `[[label|callback_data]]` markers (used when
//! `confirm_actions` is on).
//!
//! Markers on one line, separated by nothing but spaces, form one row of
//! buttons; a new line, or other text between markers, starts a new row.
//! The markers are removed from the text, and a line left empty goes with
//! them. Telegram limits `callback_data` to 64 bytes: a marker whose data
//! is longer (or whose label or data is empty) is not a button and stays
//! in the text as written, because a truncated payload would come back as
//! something the agent never offered.

use serde_json::{Value, json};

/// Telegram's limit on `callback_data`, in bytes.
pub const MAX_CALLBACK_BYTES: usize = 64;

/// One inline button.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Button {
    pub label: String,
    pub data: String,
}

/// `text` without its button markers, and the rows of buttons they made.
pub fn extract(text: &str) -> (String, Vec<Vec<Button>>) {
    let mut rows: Vec<Vec<Button>> = Vec::new();
    let mut lines: Vec<String> = Vec::new();
    for line in text.split('\n') {
        let mut kept = String::new();
        let mut row: Vec<Button> = Vec::new();
        let mut rest = line;
        let mut had_marker = false;
        while let Some(start) = rest.find("[[") {
            let Some(len) = rest[start..].find("]]") else {
                break;
            };
            let between = &rest[..start];
            let marker = &rest[start + 2..start + len];
            match button(marker) {
                Some(b) => {
                    if !between.trim().is_empty() && !row.is_empty() {
                        rows.push(std::mem::take(&mut row));
                    }
                    kept.push_str(between);
                    row.push(b);
                    had_marker = true;
                }
                None => kept.push_str(&rest[..start + len + 2]),
            }
            rest = &rest[start + len + 2..];
        }
        kept.push_str(rest);
        if !row.is_empty() {
            rows.push(row);
        }
        if had_marker {
            if !kept.trim().is_empty() {
                lines.push(kept.trim_end().to_string());
            }
        } else {
            lines.push(kept);
        }
    }
    (lines.join("\n").trim_end().to_string(), rows)
}

/// The button a marker's inside (`label|data`) makes, if it is one.
fn button(marker: &str) -> Option<Button> {
    let (label, data) = marker.split_once('|')?;
    let (label, data) = (label.trim(), data.trim());
    let ok = !label.is_empty()
        && !data.is_empty()
        && data.len() <= MAX_CALLBACK_BYTES
        && !marker.contains('\n');
    ok.then(|| Button {
        label: label.to_string(),
        data: data.to_string(),
    })
}

/// The `reply_markup` of these rows.
pub fn reply_markup(rows: &[Vec<Button>]) -> Value {
    let rows: Vec<Value> = rows
        .iter()
        .map(|row| {
            row.iter()
                .map(|b| json!({"text": b.label, "callback_data": b.data}))
                .collect()
        })
        .collect();
    json!({ "inline_keyboard": rows })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(label: &str, data: &str) -> Button {
        Button {
            label: label.into(),
            data: data.into(),
        }
    }

    #[test]
    fn markers_on_a_line_form_one_row() {
        let (text, rows) = extract("Delete the file?\n[[Yes|del:1]] [[No|keep:1]]");
        assert_eq!(text, "Delete the file?");
        assert_eq!(rows, vec![vec![b("Yes", "del:1"), b("No", "keep:1")]]);
    }

    #[test]
    fn separate_lines_make_separate_rows() {
        let (text, rows) = extract("Pick:\n[[A|a]]\n[[B|b]][[C|c]]\nthanks");
        assert_eq!(text, "Pick:\nthanks");
        assert_eq!(
            rows,
            vec![vec![b("A", "a")], vec![b("B", "b"), b("C", "c")]]
        );
    }

    #[test]
    fn text_between_markers_splits_the_row_and_stays() {
        let (text, rows) = extract("choose [[A|a]] or [[B|b]]");
        assert_eq!(text, "choose  or");
        assert_eq!(rows, vec![vec![b("A", "a")], vec![b("B", "b")]]);
    }

    #[test]
    fn long_or_empty_data_stays_text() {
        let long = "x".repeat(65);
        let input = format!("[[Go|{long}]] [[Ok|{}]]", "y".repeat(64));
        let (text, rows) = extract(&input);
        assert_eq!(text, format!("[[Go|{long}]]"));
        assert_eq!(rows, vec![vec![b("Ok", &"y".repeat(64))]]);
        for odd in ["[[|x]]", "[[x|]]", "[[nobar]]", "[[open"] {
            let (text, rows) = extract(odd);
            assert_eq!((text.as_str(), rows.len()), (odd, 0), "{odd}");
        }
    }

    #[test]
    fn data_may_hold_a_bar() {
        let (_, rows) = extract("[[Approve|act|42]]");
        assert_eq!(rows, vec![vec![b("Approve", "act|42")]]);
    }

    #[test]
    fn text_without_markers_is_unchanged() {
        let input = "line one\n\n  indented [link](x)";
        assert_eq!(extract(input), (input.to_string(), vec![]));
    }

    #[test]
    fn markup_json() {
        let markup = reply_markup(&[vec![b("Yes", "y")], vec![b("No", "n")]]);
        assert_eq!(
            markup,
            json!({"inline_keyboard": [[{"text": "Yes", "callback_data": "y"}],
                                       [{"text": "No", "callback_data": "n"}]]})
        );
    }
}
