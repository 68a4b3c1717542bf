//! Components built against WIT 0.1.x keep loading next to 0.2 ones (the
//! Zed extension host's pattern): bindings generated from the frozen
//! `wit/since_v0.1.2`, the 0.1 imports served by delegating to the 0.2
//! implementations, and each call converted between the two.
//!
//! `types` did not change between the releases, so both bindings share one
//! Rust type per `types` record (`with:` below); only what the 0.1 `llm`,
//! `tools` and `messenger` interfaces define themselves is converted here.
//! What 0.2 changed in meaning (a channel's name, sessions, routes,
//! commands) is adapted in [`channel`].
//!
//! 0.1.0 and 0.1.1 components link against these 0.1.2 bindings through
//! wasmtime's semver-compatible name resolution.

pub mod channel;
mod convert;
mod imports;

use super::state::CallState;
use wasmtime::component::Linker;

/// Bindings of the 0.1.2 worlds.
pub mod bindings {
    /// The 0.1.2 `channel` world and its imports.
    pub mod channel {
        wasmtime::component::bindgen!({
            world: "channel",
            path: "../wit/since_v0.1.2",
            exports: { default: async },
            with: {
                "openpista:plugin/types@0.1.2": crate::runtime::bindings::channel::openpista::plugin::types,
            },
        });
    }

    /// The 0.1.2 `tool` and `provider` worlds: the imports are the
    /// `channel` world's, so they are generated once.
    macro_rules! world_with_channel_imports {
        ($world:literal) => {
            wasmtime::component::bindgen!({
                world: $world,
                path: "../wit/since_v0.1.2",
                exports: { default: async },
                with: {
                    "openpista:plugin/types@0.1.2": crate::runtime::bindings::channel::openpista::plugin::types,
                    "openpista:plugin/host@0.1.2": super::channel::openpista::plugin::host,
                    "openpista:plugin/memory@0.1.2": super::channel::openpista::plugin::memory,
                },
            });
        };
    }

    /// The 0.1.2 `tool` world.
    pub mod tool {
        world_with_channel_imports!("tool");
    }

    /// The 0.1.2 `provider` world.
    pub mod provider {
        world_with_channel_imports!("provider");
    }
}

/// A 0.1.x component, pre-instantiated for its world.
pub enum Pre {
    Tool(bindings::tool::ToolPre<CallState>),
    Provider(bindings::provider::ProviderPre<CallState>),
    /// With the `live` functions when it exports them (0.1.2).
    Channel(
        bindings::channel::ChannelPre<CallState>,
        Option<channel::LiveIndices>,
    ),
}

/// Adds the 0.1 imports (`host`, `memory`, and `connections` for channels)
/// beside the 0.2 ones.
pub fn add_to_linker(linker: &mut Linker<CallState>, channel: bool) -> wasmtime::Result<()> {
    use bindings::channel::openpista::plugin::{connections, host, memory};
    use wasmtime::component::HasSelf;
    host::add_to_linker::<_, HasSelf<CallState>>(linker, |s| s)?;
    memory::add_to_linker::<_, HasSelf<CallState>>(linker, |s| s)?;
    if channel {
        connections::add_to_linker::<_, HasSelf<CallState>>(linker, |s| s)?;
    }
    Ok(())
}

pub use convert::{chat_request, chat_response, model_info, stream_event, tool_context};
