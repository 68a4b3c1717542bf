//! `view`: draws a [`State`] and nothing else; it changes nothing.
//!
//! The screen is the Home or the Chat screen, then an overlay (a picker,
//! help, a panel) and above all an approval request.

mod chat;
mod home;
mod overlay;

use super::state::{Busy, SPINNER, Screen, State};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};

pub fn view(frame: &mut Frame, state: &State) {
    let area = frame.area();
    let [body, input, status] = Layout::vertical([
        Constraint::Min(1),
        Constraint::Length(state.input_height() + 1),
        Constraint::Length(1),
    ])
    .areas(area);
    match state.screen {
        Screen::Home => home::draw(frame, body, state),
        Screen::Chat => chat::transcript(frame, body, state),
    }
    let cursor = chat::input(frame, input, state);
    frame.render_widget(status_line(state), status);
    if state.overlay.is_some() || state.approval.is_some() {
        overlay::draw(frame, area, state);
    } else if let Some(position) = cursor {
        frame.set_cursor_position(position);
    }
}

/// The bottom line: session, model, what runs; a notice on the right.
fn status_line(state: &State) -> Line<'_> {
    let t = &state.theme;
    let busy = match &state.busy {
        Busy::Idle => Span::styled("idle", t.ok),
        Busy::Thinking => Span::styled(format!("{} thinking", spin(state)), t.accent),
        Busy::Tool(name) => Span::styled(format!("{} running {name}", spin(state)), t.accent),
        Busy::Stopping => Span::styled("stopping", t.warn),
    };
    let mut spans = vec![
        Span::styled(format!(" session {}", state.session), t.title),
        Span::styled(" · ", t.dim),
        Span::styled(state.model_label(), t.text),
        Span::styled(" · ", t.dim),
        busy,
    ];
    if state.home.mode.starts_with("attached") {
        spans.push(Span::styled(" · attached", t.dim));
    }
    if let Some((text, error)) = &state.notice {
        spans.push(Span::styled(" · ", t.dim));
        let used: usize = spans.iter().map(|s| s.width()).sum();
        let room = (state.width as usize).saturating_sub(used);
        spans.push(Span::styled(
            fit(text, room),
            if *error { t.error } else { t.warn },
        ));
    }
    Line::from(spans)
}

fn spin(state: &State) -> &'static str {
    SPINNER[state.spinner % SPINNER.len()]
}

/// A rectangle of `width`×`height` in the middle of `area`.
pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width);
    let height = height.min(area.height);
    Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    }
}

/// One line of text cut to `width` columns, with `…` where it was cut.
pub fn fit(text: &str, width: usize) -> String {
    use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};
    if text.width() <= width {
        return text.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        out.push(c);
        used += w;
    }
    if width > 0 {
        out.push('…');
    }
    out
}
