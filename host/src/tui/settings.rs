//! `[tui]`: the terminal UI's own settings.

use super::theme::ThemeChoice;
use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TuiSettings {
    /// `auto` (from `NO_COLOR` and `COLORFGBG`), `dark`, `light`, `plain`.
    pub theme: ThemeChoice,
}
