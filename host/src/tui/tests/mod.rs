//! Tests of the TUI as a whole: `update` as a plain function, and `view`
//! drawn on a test backend and compared with stored snapshots.

mod snapshots;
mod update;
