//! The Chat screen's transcript, and the input box both screens share.

use super::super::state::State;
use ratatui::Frame;
use ratatui::layout::{Position, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use unicode_width::UnicodeWidthStr;

/// The transcript's lines on screen; the selected message is reversed.
pub fn transcript(frame: &mut Frame, area: Rect, state: &State) {
    let t = &state.theme;
    if state.transcript.is_empty() {
        let hint = Line::from(Span::styled(
            format!(
                "  {} — type a message, Enter sends; Tab or / for commands",
                state.session_title.as_deref().unwrap_or(&state.session)
            ),
            t.dim,
        ));
        frame.render_widget(Paragraph::new(vec![Line::default(), hint]), area);
        return;
    }
    let lines: Vec<Line> = state
        .transcript
        .visible_entries(area.height as usize)
        .into_iter()
        .map(|(entry, mut line)| {
            if state.selected == Some(entry) {
                for span in line.spans.iter_mut() {
                    span.style = span.style.add_modifier(Modifier::REVERSED);
                }
            }
            line
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), area);
}

/// The input box: a rule, then the text with `› ` before its first line.
/// Returns where the cursor goes.
pub fn input(frame: &mut Frame, area: Rect, state: &State) -> Option<Position> {
    let t = &state.theme;
    let width = area.width as usize;
    let rule = Line::from(Span::styled("─".repeat(width), t.border));
    let avail = width.saturating_sub(2).max(1);
    let (cursor_line, cursor_col) = state.input.position();
    let text = state.input.text();
    let mut lines = vec![rule];
    let first_shown = cursor_line.saturating_sub(area.height.saturating_sub(2) as usize);
    let mut cursor = None;
    for (i, raw) in text.split('\n').enumerate().skip(first_shown) {
        if lines.len() >= area.height as usize {
            break;
        }
        let prompt = if i == 0 { "› " } else { "  " };
        // A line wider than the box scrolls to keep the cursor in view.
        let chars: Vec<char> = raw.chars().collect();
        let skip = if i == cursor_line && cursor_col >= avail {
            cursor_col + 1 - avail
        } else {
            0
        };
        let shown: String = chars.iter().skip(skip).collect();
        let shown = super::fit(&shown, avail);
        if i == cursor_line {
            let before: String = chars[skip..cursor_col.min(chars.len())].iter().collect();
            cursor = Some(Position {
                x: area.x + 2 + before.width().min(avail) as u16,
                y: area.y + lines.len() as u16,
            });
        }
        lines.push(Line::from(vec![
            Span::styled(prompt, t.user),
            Span::styled(shown, t.text),
        ]));
    }
    frame.render_widget(Paragraph::new(lines), area);
    cursor
}
