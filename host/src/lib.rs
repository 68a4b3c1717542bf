//! openpista: an agent host where every channel adapter, language-model
//! provider and skill is a sandboxed WebAssembly component.
//!
//! - [`runtime`]: wasmtime engine, capabilities, hot swap — the component host
//! - [`tools`]: one registry for component tools and native tools
//! - [`native`]: the native tools (shell, screen, browser, containers)
//! - [`memory`]: redb-backed storage behind the `memory` interface
//! - [`config`]: the operator's configuration file
//! - [`cli`]: the `openpista` command line

pub mod agent;
pub mod cli;
pub mod config;
pub mod memory;
pub mod native;
pub mod runtime;
pub mod tools;
