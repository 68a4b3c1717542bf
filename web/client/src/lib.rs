//! The browser chat client of openpista's web channel.
//!
//! Compiled to `wasm32-unknown-unknown` and turned into `app.js` +
//! `app_bg.wasm` by wasm-bindgen in `host/build/web_build.rs`; the host
//! embeds and serves them with `web/static`. The protocol it speaks is
//! docs/WEB_PROTOCOL.md.
//!
//! The logic that needs no browser (framing, approvals and command
//! buttons, the session panel's commands, the worker panel, Markdown, backoff, ids, the
//! stored transcript) is in pure modules tested natively with
//! `cargo test -p openpista-web-client`; [`browser`] (wasm32 only) wires
//! them to the DOM, the WebSocket and `localStorage`.

pub mod approval;
pub mod backoff;
pub mod ids;
pub mod markdown;
pub mod protocol;
pub mod sessions;
pub mod transcript;
pub mod workers;

#[cfg(target_arch = "wasm32")]
pub mod browser;
