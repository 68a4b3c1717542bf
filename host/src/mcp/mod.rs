//! The Model Context Protocol, both ways, on the official Rust SDK
//! (`rmcp`):
//!
//! - [`client`]: MCP servers' tools join the registry as `mcp.NAME.TOOL`;
//!   resources through `mcp.NAME.resources` and `mcp.NAME.read`; prompts
//!   for `/prompt`
//! - [`server`]: openpista's component tools offered to other agents and
//!   editors (`openpista mcp serve`, `/mcp` on the listener)
//! - [`settings`]: the `[mcp]` section
//!
//! See docs/MCP.md for the operator's side.

pub mod client;
pub mod server;
pub mod settings;

pub use client::{ClientContext, McpClients, ServerStatus};
pub use settings::McpSection;
