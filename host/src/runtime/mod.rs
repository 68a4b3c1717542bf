//! The component runtime: one engine, a compile cache, a linker per world,
//! and the set of loaded components, swapped atomically when a plugin
//! folder changes.
//!
//! Layout, one concern per module:
//! - [`engine`]: the wasmtime engine, pooling allocator probe, epoch ticker
//!   (the `openpista-engine` crate, which the build script shares)
//! - [`cache`]: compiled-artifact cache keyed by content and engine
//! - [`manifest`], [`capabilities`]: what a component declares and is granted
//! - [`net`], [`secrets`]: outbound HTTP policy and secret placeholders
//! - [`version`]: WIT compatibility, read from the component's bytes
//! - [`state`], [`host_impl`], [`stdio`]: the per-call store and host interfaces
//! - [`component`], [`call`]: a loaded version and how a call runs
//! - [`channel`], [`connections`], [`ws_client`]: channel instances, the
//!   connections the host holds for them, and the WebSockets they open
//! - [`registry`]: which version of each component serves new calls
//! - [`watch`]: plugin-folder watching for hot swap

pub mod bindings;
pub mod cache;
pub mod call;
pub mod capabilities;
pub mod channel;
pub mod component;
pub mod connections;
pub use openpista_engine as engine;
mod host_impl;
mod mac;
pub mod manifest;
pub mod net;
pub mod registry;
pub mod secrets;
pub mod signing;
pub mod state;
pub mod stdio;
pub mod tool_spec;
pub mod v0_1;
pub mod version;
pub mod watch;
pub mod ws_client;

pub use call::CallError;
pub use channel::ChannelInstance;
pub use component::{CallContext, ChatStream, LoadedComponent, Source};
pub use registry::{ComponentStatus, Runtime, RuntimeConfig, SlotState};
