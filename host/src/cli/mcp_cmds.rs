//! `openpista mcp list` (each MCP server's state, tools and last error:
//! the running server's view when there is one) and `openpista mcp serve`
//! (openpista's tools as an MCP server on stdio).

use super::control::{self, Request};
use crate::config::Config;
use crate::mcp::ServerStatus;
use anyhow::{Result, bail};
use clap::Subcommand;

#[derive(Subcommand, Debug)]
pub enum McpCommand {
    /// Each configured MCP server: state, tools, prompts, last error.
    List {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Serve the component tools (and `[mcp.serve] native_tools`) over MCP
    /// on stdin/stdout, for an editor or agent that starts openpista.
    Serve,
}

pub async fn run(config: Config, cmd: McpCommand) -> Result<i32> {
    match cmd {
        McpCommand::List { json } => list(&config, json).await,
        McpCommand::Serve => serve(&config).await,
    }
}

/// The servers as the running host sees them, or connected here.
async fn statuses(config: &Config) -> Result<(Vec<ServerStatus>, bool)> {
    if let Some(r) = control::request(&super::control_socket_path(), &Request::Mcp).await? {
        if !r.ok {
            bail!("{}", r.error.unwrap_or_default());
        }
        let rows: Vec<serde_json::Value> =
            serde_json::from_value(r.data.unwrap_or_default()).unwrap_or_default();
        return Ok((rows.into_iter().filter_map(from_json).collect(), true));
    }
    let runtime = super::build_runtime(config)?;
    let (_, toolbox) = super::tools(config, &runtime);
    let Some(mcp) = toolbox.mcp.clone() else {
        return Ok((Vec::new(), false));
    };
    mcp.settled(super::agent_cmds::MCP_SETTLE).await;
    Ok((mcp.status(), false))
}

/// A row from the control socket's JSON.
fn from_json(v: serde_json::Value) -> Option<ServerStatus> {
    let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
    let list = |k: &str| -> Vec<String> {
        v.get(k)
            .and_then(|x| x.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let state = match s("state")?.as_str() {
        "ready" => crate::mcp::client::State::Ready,
        "down" => crate::mcp::client::State::Down,
        "refused" => crate::mcp::client::State::Refused,
        _ => crate::mcp::client::State::Connecting,
    };
    let n = |k: &str| v.get(k).and_then(|x| x.as_u64()).unwrap_or(0) as u32;
    Some(ServerStatus {
        name: s("name")?,
        transport: s("transport").unwrap_or_default(),
        state,
        tools: list("tools"),
        prompts: list("prompts"),
        last_error: s("last_error"),
        connections: n("connections"),
        list_changes: n("list_changes"),
    })
}

async fn list(config: &Config, json: bool) -> Result<i32> {
    let (rows, live) = statuses(config).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(0);
    }
    if !live {
        println!("(no running server; connected from here)");
    }
    if rows.is_empty() {
        println!("no MCP servers configured ([mcp.servers.NAME] in config.toml; see docs/MCP.md)");
    }
    for r in &rows {
        let state = serde_json::to_value(&r.state)?;
        println!(
            "{:<16} {:<10} {}",
            r.name,
            state.as_str().unwrap_or("?"),
            r.transport
        );
        if !r.tools.is_empty() {
            println!("  tools: {}", r.tools.join(", "));
        }
        if !r.prompts.is_empty() {
            println!("  prompts: {}", r.prompts.join(", "));
        }
        if r.connections > 1 {
            println!("  reconnected: {} connections", r.connections);
        }
        if let Some(e) = &r.last_error {
            println!("  last error: {e}");
        }
    }
    Ok(0)
}

async fn serve(config: &Config) -> Result<i32> {
    let runtime = super::build_runtime(config)?;
    for (name, why) in runtime.load_all().await {
        tracing::warn!("component {name} not loaded: {why}");
    }
    // Only components and natives are offered: the MCP servers it would
    // use as a client are not started.
    let mut config = config.clone();
    config.mcp.servers.clear();
    let (tools, _toolbox) = super::tools(&config, &runtime);
    let server =
        crate::mcp::server::ToolServer::new(tools, &config.mcp.serve.native_tools, "stdio");
    crate::mcp::server::serve_stdio(server).await?;
    Ok(0)
}
