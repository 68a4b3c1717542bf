//! The Home screen: recent sessions, the model and its sign-in, the
//! channels, the components, and a line of the keys.

use super::super::state::State;
use super::fit;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

pub fn draw(frame: &mut Frame, area: Rect, state: &State) {
    let t = &state.theme;
    let [header, body, hint] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(4),
        Constraint::Length(1),
    ])
    .areas(area);
    let mode = if state.home.mode.is_empty() {
        "standalone"
    } else {
        state.home.mode.as_str()
    };
    frame.render_widget(
        Line::from(vec![
            Span::styled(" openpista", t.title),
            Span::styled(" · Home · ", t.dim),
            Span::styled(mode.to_string(), t.dim),
        ]),
        header,
    );
    // Side by side when there is room, stacked on a narrow terminal.
    let wide = body.width >= 70;
    let [left, right] = if wide {
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(body)
    } else {
        Layout::vertical([Constraint::Percentage(40), Constraint::Percentage(60)]).areas(body)
    };
    let box_of = |title: &'static str| {
        Block::default()
            .borders(Borders::ALL)
            .border_style(t.border)
            .title(Span::styled(format!(" {title} "), t.title))
    };

    // Sessions, most recent first.
    let inner = left.width.saturating_sub(2) as usize;
    let mut rows: Vec<Line> = state
        .sessions
        .iter()
        .map(|s| {
            let mark = if s.id == state.session { "▸ " } else { "  " };
            let name = s.title.clone().unwrap_or_else(|| s.id.clone());
            let count = format!("{} msgs", s.messages);
            let room = inner.saturating_sub(count.len() + 3);
            Line::from(vec![
                Span::styled(mark, t.accent),
                Span::styled(format!("{:<room$}", fit(&name, room)), t.text),
                Span::styled(format!(" {count}"), t.dim),
            ])
        })
        .collect();
    if rows.is_empty() {
        rows.push(Line::from(Span::styled("no sessions yet", t.dim)));
    }
    frame.render_widget(Paragraph::new(rows).block(box_of("Sessions")), left);

    let components = state.home.components.len().clamp(1, 8) as u16;
    let channels = state.home.channels.len().clamp(1, 4) as u16;
    let [model, chans, comps] = Layout::vertical([
        Constraint::Length(3),
        Constraint::Length(channels + 2),
        Constraint::Max(components + 2),
    ])
    .areas(right);
    let dot = if state.home.sign_in_ok {
        Span::styled("● ", t.ok)
    } else {
        Span::styled("○ ", t.error)
    };
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(state.model_label(), t.text),
            Span::raw("  "),
            dot,
            Span::styled(state.home.sign_in.clone(), t.dim),
        ]))
        .block(box_of("Model")),
        model,
    );
    let pairs = |items: &[(String, String)], empty: &'static str, width: u16| -> Vec<Line> {
        let width = width.saturating_sub(2) as usize;
        if items.is_empty() {
            return vec![Line::from(Span::styled(empty, t.dim))];
        }
        items
            .iter()
            .map(|(name, value)| {
                let ok = value.starts_with("active")
                    || value.starts_with("http")
                    || value == "connected"
                    || value.starts_with("running");
                Line::from(vec![
                    Span::styled(if ok { "● " } else { "○ " }, if ok { t.ok } else { t.dim }),
                    Span::styled(format!("{name} "), t.text),
                    Span::styled(fit(value, width.saturating_sub(name.len() + 3)), t.dim),
                ])
            })
            .collect()
    };
    frame.render_widget(
        Paragraph::new(pairs(&state.home.channels, "none", chans.width)).block(box_of("Channels")),
        chans,
    );
    frame.render_widget(
        Paragraph::new(pairs(&state.home.components, "none loaded", comps.width))
            .block(box_of("Components")),
        comps,
    );
    frame.render_widget(
        Line::from(Span::styled(
            fit(
                " Enter send · Tab commands · /session sessions · /model models · /login sign in · Ctrl+C quit",
                hint.width as usize,
            ),
            t.dim,
        )),
        hint,
    );
}
