//! Colours of the terminal UI: a dark and a light palette, and a plain one
//! (modifiers only) when `NO_COLOR` is set, as <https://no-color.org> asks.

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;

/// `[tui] theme`: which palette. `auto` reads `NO_COLOR` and the
/// terminal's `COLORFGBG` (set by rxvt, konsole, iTerm2 and others).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ThemeChoice {
    #[default]
    Auto,
    Dark,
    Light,
    /// No colours at all, as with `NO_COLOR`.
    Plain,
}

/// The styles every view draws with; views never name a colour themselves.
#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    pub name: &'static str,
    pub text: Style,
    pub dim: Style,
    pub accent: Style,
    pub title: Style,
    pub user: Style,
    pub assistant: Style,
    pub heading: Style,
    pub code: Style,
    pub link: Style,
    pub ok: Style,
    pub error: Style,
    pub warn: Style,
    pub selected: Style,
    pub border: Style,
}

impl Theme {
    /// The palette for a choice, given the environment (`NO_COLOR`,
    /// `COLORFGBG`) as a lookup so tests need not touch the process's.
    pub fn resolve(choice: ThemeChoice, env: impl Fn(&str) -> Option<String>) -> Theme {
        let no_color = env("NO_COLOR").is_some_and(|v| !v.is_empty());
        match choice {
            ThemeChoice::Plain => Theme::plain(),
            _ if no_color => Theme::plain(),
            ThemeChoice::Dark => Theme::dark(),
            ThemeChoice::Light => Theme::light(),
            ThemeChoice::Auto => {
                // COLORFGBG is "FG;BG" (sometimes "FG;X;BG"); a background
                // of 7 or 15 (white) or 9..=14 means a light terminal.
                let light = env("COLORFGBG")
                    .and_then(|v| v.rsplit(';').next().and_then(|b| b.parse::<u8>().ok()))
                    .is_some_and(|bg| bg == 7 || bg >= 9);
                if light { Theme::light() } else { Theme::dark() }
            }
        }
    }

    pub fn dark() -> Theme {
        Theme {
            name: "dark",
            text: Style::new().fg(Color::Gray),
            dim: Style::new().fg(Color::DarkGray),
            accent: Style::new().fg(Color::Cyan),
            title: Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
            user: Style::new()
                .fg(Color::LightGreen)
                .add_modifier(Modifier::BOLD),
            assistant: Style::new()
                .fg(Color::LightBlue)
                .add_modifier(Modifier::BOLD),
            heading: Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
            code: Style::new().fg(Color::LightYellow).bg(Color::Black),
            link: Style::new()
                .fg(Color::LightBlue)
                .add_modifier(Modifier::UNDERLINED),
            ok: Style::new().fg(Color::Green),
            error: Style::new().fg(Color::LightRed),
            warn: Style::new().fg(Color::Yellow),
            selected: Style::new().fg(Color::Black).bg(Color::Cyan),
            border: Style::new().fg(Color::DarkGray),
        }
    }

    pub fn light() -> Theme {
        Theme {
            name: "light",
            text: Style::new().fg(Color::Black),
            dim: Style::new().fg(Color::DarkGray),
            accent: Style::new().fg(Color::Blue),
            title: Style::new().fg(Color::Blue).add_modifier(Modifier::BOLD),
            user: Style::new().fg(Color::Green).add_modifier(Modifier::BOLD),
            assistant: Style::new().fg(Color::Blue).add_modifier(Modifier::BOLD),
            heading: Style::new().fg(Color::Magenta).add_modifier(Modifier::BOLD),
            code: Style::new().fg(Color::Red).bg(Color::White),
            link: Style::new()
                .fg(Color::Blue)
                .add_modifier(Modifier::UNDERLINED),
            ok: Style::new().fg(Color::Green),
            error: Style::new().fg(Color::Red),
            warn: Style::new().fg(Color::Magenta),
            selected: Style::new().fg(Color::White).bg(Color::Blue),
            border: Style::new().fg(Color::Gray),
        }
    }

    /// No colours: emphasis by bold, underline and reverse video only.
    pub fn plain() -> Theme {
        let none = Style::new();
        Theme {
            name: "plain",
            text: none,
            dim: none,
            accent: none,
            title: none.add_modifier(Modifier::BOLD),
            user: none.add_modifier(Modifier::BOLD),
            assistant: none.add_modifier(Modifier::BOLD),
            heading: none.add_modifier(Modifier::BOLD),
            code: none,
            link: none.add_modifier(Modifier::UNDERLINED),
            ok: none,
            error: none.add_modifier(Modifier::BOLD),
            warn: none,
            selected: none.add_modifier(Modifier::REVERSED),
            border: none,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn no_color_wins_over_every_palette_but_an_empty_value_does_not_count() {
        assert_eq!(
            Theme::resolve(ThemeChoice::Dark, env(&[("NO_COLOR", "1")])).name,
            "plain"
        );
        assert_eq!(
            Theme::resolve(ThemeChoice::Auto, env(&[("NO_COLOR", "1")])).name,
            "plain"
        );
        assert_eq!(
            Theme::resolve(ThemeChoice::Dark, env(&[("NO_COLOR", "")])).name,
            "dark"
        );
    }

    #[test]
    fn auto_reads_the_background_from_colorfgbg() {
        assert_eq!(
            Theme::resolve(ThemeChoice::Auto, env(&[("COLORFGBG", "0;15")])).name,
            "light"
        );
        assert_eq!(
            Theme::resolve(ThemeChoice::Auto, env(&[("COLORFGBG", "15;0")])).name,
            "dark"
        );
        assert_eq!(
            Theme::resolve(ThemeChoice::Auto, env(&[("COLORFGBG", "0;default;7")])).name,
            "light"
        );
        assert_eq!(Theme::resolve(ThemeChoice::Auto, env(&[])).name, "dark");
        assert_eq!(Theme::resolve(ThemeChoice::Light, env(&[])).name, "light");
    }

    #[test]
    fn the_plain_palette_has_no_colour_anywhere() {
        let t = Theme::plain();
        for s in [
            t.text, t.dim, t.accent, t.title, t.user, t.code, t.link, t.selected, t.error,
        ] {
            assert_eq!(s.fg, None);
            assert_eq!(s.bg, None);
        }
    }
}
