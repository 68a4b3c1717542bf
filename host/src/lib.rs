//! openpista: an agent host where every channel adapter, language-model
//! provider and skill is a sandboxed WebAssembly component.
//!
//! - [`runtime`]: wasmtime engine, capabilities, hot swap — the component host
//! - [`tools`]: one registry for component tools and native tools
//! - [`approvals`]: which tool calls wait for a person, and their answers
//! - [`gateway`]: channels' events to sessions and the agent, answers back, cron
//! - [`native`]: the native tools (shell, screen, browser, containers)
//! - [`skills`]: SKILL.md skills: instructions, and tools in four modes
//! - [`telemetry`]: Prometheus metrics and logs (pretty or JSON, redacted)
//! - [`memory`]: redb-backed storage behind the `memory` interface
//! - [`config`]: the operator's configuration file
//! - [`auth`]: signing in to providers, the credential store, refresh
//! - [`server`]: the HTTP listener: web page, health, channel routes, WebSockets
//! - [`cluster`]: cluster mode on NATS JetStream: leases, heartbeats
//! - [`cli`]: the `openpista` command line

pub mod agent;
pub mod approvals;
pub mod auth;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod gateway;
pub mod mcp;
pub mod memory;
pub mod models;
pub mod native;
pub mod paths;
pub mod runtime;
pub mod server;
pub mod skills;
pub mod telemetry;
pub mod tools;
pub mod tui;

#[cfg(test)]
mod fuzz_tests;
