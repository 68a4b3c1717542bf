//! The boxes over the screen, and the approval request above them all.

use super::super::overlays;
use super::super::palette;
use super::super::state::{Overlay, State};
use super::{centered, fit};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

/// The keys of the TUI, for `/help`.
pub const KEYS: &[(&str, &str)] = &[
    ("Enter", "send; Alt+Enter or Shift+Enter: new line"),
    ("Tab or /", "command palette (on an empty input)"),
    ("↑ ↓", "input history, or lines of the input"),
    ("PgUp PgDn, wheel", "scroll the transcript"),
    ("Alt+↑ Alt+↓", "select a message; Ctrl+Y copies it"),
    ("Esc", "stop the running turn; else back Home"),
    ("Ctrl+C", "stop; again (or idle): quit"),
];

pub fn draw(frame: &mut Frame, area: Rect, state: &State) {
    if let Some(overlay) = &state.overlay {
        draw_overlay(frame, area, state, overlay);
    }
    if let Some(request) = &state.approval {
        let t = &state.theme;
        let width = area.width.saturating_sub(4).min(72);
        let inner = width.saturating_sub(2) as usize;
        let mut lines = vec![Line::from(vec![
            Span::styled("tool ", t.dim),
            Span::styled(request.tool.clone(), t.title),
        ])];
        // Wrapped, not cut: the person approving sees the whole command
        // (up to what the screen holds).
        let room = area.height.saturating_sub(8).max(1) as usize;
        let wrapped = super::super::markdown::wrap_plain(&request.arguments, inner as u16, t.text);
        let cut = wrapped.len() > room;
        lines.extend(wrapped.into_iter().take(room));
        if cut {
            lines.push(Line::from(Span::styled("… (cut to fit the screen)", t.dim)));
        }
        if let Some(folder) = &request.folder {
            lines.push(Line::from(Span::styled(
                fit(&format!("in {folder}"), inner),
                t.dim,
            )));
        }
        lines.push(Line::default());
        lines.push(Line::from(vec![
            Span::styled("[y]", t.ok),
            Span::raw(" approve  "),
            Span::styled("[a]", t.ok),
            Span::raw(" allow for this session  "),
            Span::styled("[n]", t.error),
            Span::raw(" reject"),
        ]));
        let rect = centered(area, width, lines.len() as u16 + 2);
        frame.render_widget(Clear, rect);
        frame.render_widget(
            Paragraph::new(lines).block(block(
                state,
                &format!("Approval {} · {} s", request.id, request.timeout_secs),
            )),
            rect,
        );
    }
}

fn block<'a>(state: &State, title: &str) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_style(state.theme.accent)
        .title(Span::styled(format!(" {title} "), state.theme.title))
}

/// A list box: a search line, then rows with the selected one marked.
#[allow(clippy::too_many_arguments)] // one call per picker, each naming all of its parts
fn list<'a>(
    state: &State,
    title: &str,
    query: Option<&str>,
    rows: Vec<(String, String)>,
    selected: usize,
    footer: &str,
    width: u16,
    height: u16,
) -> Paragraph<'a> {
    let t = &state.theme;
    let inner = width.saturating_sub(2) as usize;
    let mut lines = Vec::new();
    if let Some(query) = query {
        lines.push(Line::from(vec![
            Span::styled("search: ", t.dim),
            Span::styled(query.to_string(), t.text),
        ]));
    }
    let room = (height as usize).saturating_sub(lines.len() + 3).max(1);
    let first = selected.saturating_sub(room - 1);
    if rows.is_empty() {
        lines.push(Line::from(Span::styled("nothing matches", t.dim)));
    }
    for (i, (name, note)) in rows.into_iter().enumerate().skip(first).take(room) {
        let text = fit(&format!("{name}  {note}"), inner);
        let name_len = name.chars().count().min(text.chars().count());
        let (a, b): (String, String) = (
            text.chars().take(name_len).collect(),
            text.chars().skip(name_len).collect(),
        );
        if i == selected {
            lines.push(Line::from(Span::styled(
                format!("{text:<inner$}"),
                t.selected,
            )));
        } else {
            lines.push(Line::from(vec![
                Span::styled(a, t.text),
                Span::styled(b, t.dim),
            ]));
        }
    }
    while lines.len() < height.saturating_sub(3) as usize {
        lines.push(Line::default());
    }
    lines.push(Line::from(Span::styled(fit(footer, inner), t.dim)));
    Paragraph::new(lines).block(block(state, title))
}

fn draw_overlay(frame: &mut Frame, area: Rect, state: &State, overlay: &Overlay) {
    let width = area.width.saturating_sub(4).min(76);
    // Help and panels (a QR code) take the height they need.
    let height = match overlay {
        Overlay::Help => (KEYS.len() + palette::COMMANDS.len() + 3) as u16,
        Overlay::Panel { lines, .. } => lines.len() as u16 + 2,
        _ => 20,
    }
    .min(area.height.saturating_sub(2))
    .max(area.height.min(8));
    let rect = centered(area, width, height);
    frame.render_widget(Clear, rect);
    let t = &state.theme;
    let widget = match overlay {
        Overlay::Palette { query, selected } => {
            let rows = palette::commands(query)
                .into_iter()
                .map(|(c, d)| (c.to_string(), d.to_string()))
                .collect();
            list(
                state,
                "Commands",
                Some(query),
                rows,
                *selected,
                "Enter run · Tab edit arguments · Esc close",
                width,
                height,
            )
        }
        Overlay::Sessions {
            query,
            selected,
            rename,
            confirm_delete,
        } => {
            let rows = overlays::sessions(&state.sessions, query)
                .into_iter()
                .map(|s| {
                    let mark = if s.id == state.session { "▸ " } else { "  " };
                    let title = s
                        .title
                        .as_deref()
                        .map(|t| format!(" “{t}”"))
                        .unwrap_or_default();
                    (
                        format!("{mark}{}{title}", s.id),
                        format!("{} msgs", s.messages),
                    )
                })
                .collect();
            let footer = match (rename, confirm_delete) {
                (_, Some(id)) => format!("Delete session {id}? (y/n)"),
                (Some(title), _) => format!("new title: {title}▏ Enter save · Esc cancel"),
                _ => "Enter open · Ctrl+N new · Ctrl+R rename · Ctrl+D delete · Esc".to_string(),
            };
            list(
                state,
                "Sessions",
                Some(query),
                rows,
                *selected,
                &footer,
                width,
                height,
            )
        }
        Overlay::Models { query, selected } => {
            let rows = overlays::models(&state.models, query)
                .into_iter()
                .map(|m| {
                    let mark = if m.current { "▸ " } else { "  " };
                    (format!("{mark}{}", m.id), m.note.clone())
                })
                .collect();
            list(
                state,
                "Models",
                Some(query),
                rows,
                *selected,
                "Enter use for this session · Esc close",
                width,
                height,
            )
        }
        Overlay::Login { selected } => {
            let rows = state
                .logins
                .iter()
                .map(|l| {
                    let dot = if l.ok { "● " } else { "○ " };
                    (
                        format!("{dot}{}", l.provider),
                        format!("{} · {}", l.state, l.methods),
                    )
                })
                .collect();
            list(
                state,
                "Sign in",
                None,
                rows,
                *selected,
                "Enter sign in (leaves the screen for the login) · Esc",
                width,
                height,
            )
        }
        Overlay::Help => {
            let mut lines: Vec<Line> = KEYS
                .iter()
                .map(|(k, d)| {
                    Line::from(vec![
                        Span::styled(format!("{k:<18}"), t.accent),
                        Span::styled(d.to_string(), t.text),
                    ])
                })
                .collect();
            lines.push(Line::default());
            for (c, d) in palette::COMMANDS {
                lines.push(Line::from(vec![
                    Span::styled(format!("{c:<18}"), t.accent),
                    Span::styled(d.to_string(), t.dim),
                ]));
            }
            Paragraph::new(lines).block(block(state, "Help"))
        }
        Overlay::Panel {
            title,
            lines,
            scroll,
        } => {
            let shown: Vec<Line> = lines
                .iter()
                .skip(*scroll)
                .map(|l| Line::from(Span::styled(l.clone(), t.text)))
                .collect();
            Paragraph::new(shown).block(block(state, title))
        }
    };
    frame.render_widget(widget, rect);
}
