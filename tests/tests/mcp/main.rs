//! MCP both ways, against real third-party parts (tests/mcp, installed by
//! `npm ci --prefix tests/mcp`):
//!
//! - `client`: the reference server `@modelcontextprotocol/server-everything`
//!   over stdio and streamable HTTP (tools listed and called by the agent
//!   through the OpenAI double, list changes, a resource read, a prompt, a
//!   server killed mid-session), a server on the official TypeScript SDK
//!   whose tool list changes, and the refusals (an ungranted HTTP host, a
//!   stdio server without consent).
//! - `server`: openpista's MCP server driven by the official TypeScript
//!   client, on stdio (`openpista mcp serve`) and on `/mcp` with a bearer
//!   token.

mod client;
mod server;
mod transports;

use openpista_tests::native::require;
use std::path::PathBuf;
use std::time::Duration;

/// tests/mcp, where the npm packages are.
pub fn npm_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("mcp")
}

/// `node` and the npm packages, or `None` (skipped outside CI).
pub fn node() -> Option<PathBuf> {
    let node = openpista_tests::native::which(&["node"]);
    let everything =
        npm_dir().join("node_modules/@modelcontextprotocol/server-everything/dist/index.js");
    let present = match &node {
        None => Err("node is not on PATH".to_string()),
        Some(_) if !everything.is_file() => {
            Err("tests/mcp/node_modules is missing: npm ci --prefix tests/mcp".to_string())
        }
        Some(_) => Ok(()),
    };
    require("Node.js and tests/mcp's npm packages", present).then(|| node.unwrap())
}

/// The reference server's entry point.
pub fn everything() -> String {
    npm_dir()
        .join("node_modules/@modelcontextprotocol/server-everything/dist/index.js")
        .display()
        .to_string()
}

/// A TCP port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Polls `check` until it holds, at most `limit`; false if it never did.
pub async fn eventually(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    check()
}
