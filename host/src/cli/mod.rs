//! The `openpista` command line.

mod component;
mod control;
mod serve;

use crate::config::{self, Config};
use crate::memory::MemoryStore;
use crate::runtime::{Runtime, RuntimeConfig};
use anyhow::Result;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::sync::Arc;

/// An agent that controls your computer through any messenger; every
/// adapter and skill is a sandboxed WebAssembly component.
#[derive(Parser, Debug)]
#[command(name = "openpista", version, about)]
pub struct Cli {
    /// Configuration file (default: ~/.openpista/config.toml).
    #[arg(long, global = true, env = "OPENPISTA_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the host: load components, watch plugin folders, serve.
    Serve {
        /// Exit as soon as everything is loaded (for measuring start-up).
        #[arg(long, hide = true)]
        exit_when_ready: bool,
    },
    /// Inspect and manage components.
    #[command(subcommand)]
    Component(component::ComponentCommand),
}

/// Runs the command line; returns the process exit code.
pub async fn run(cli: Cli) -> Result<i32> {
    let config = Config::load(cli.config.as_deref())?;
    match cli.command {
        Command::Serve { exit_when_ready } => serve::run(config, exit_when_ready).await,
        Command::Component(cmd) => component::run(config, cmd).await,
    }
}

/// Builds the runtime the configuration describes (nothing loaded yet).
pub fn build_runtime(config: &Config) -> Result<Arc<Runtime>> {
    let memory = MemoryStore::open(&config::expand(&config.memory.path))?;
    Runtime::new(RuntimeConfig {
        engine: config.engine_settings(),
        cache_dir: Some(config::expand(&config.runtime.cache_dir)),
        plugin_dirs: config.plugin_dirs(),
        embedded: config.runtime.embedded_components,
        policies: config.components.clone(),
        secrets: config.secret_store()?,
        memory: Some(Arc::new(memory)),
        resolver: None,
    })
}

/// The control socket of a running `openpista serve`.
pub fn control_socket_path() -> PathBuf {
    config::home_dir().join("control.sock")
}
