//! The data of one call's [`wasmtime::Store`]: WASI context built from the
//! component's grants, the outbound-HTTP hooks, memory limits and the
//! component's identity for the host interfaces. A store lives for one call
//! (or one channel poll loop), never longer.

use super::capabilities::Grants;
use super::net::{Denials, OutboundHooks};
use super::stdio::TailBuffer;
use crate::memory::MemoryStore;
use anyhow::Result;
use std::collections::BTreeMap;
use std::sync::Arc;
use wasmtime::component::ResourceTable;
use wasmtime::{StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// What every call of one loaded component version shares.
pub struct ComponentContext {
    pub name: Arc<str>,
    pub grants: Grants,
    pub config: BTreeMap<String, String>,
    pub memory: Option<Arc<MemoryStore>>,
    /// Connections the host holds for channel components.
    pub connections: Arc<super::connections::ConnectionHub>,
}

/// The `T` of every component store.
pub struct CallState {
    pub ctx: Arc<ComponentContext>,
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    hooks: OutboundHooks,
    pub limits: StoreLimits,
    pub stderr: TailBuffer,
    pub denials: Denials,
    /// The guard the store was made with ([`super::call::arm`]): it keeps
    /// the epoch ticker running for a one-call store's whole life, and for
    /// a longer-lived one's instantiation ([`super::call::settle`]).
    pub(crate) call: Option<super::engine::GuestCall>,
}

impl CallState {
    /// A fresh state for one call: only the granted directories are
    /// preopened, the environment and arguments are empty, sockets deny
    /// every address, and outbound HTTP goes through the component's policy.
    pub fn new(ctx: Arc<ComponentContext>) -> Result<CallState> {
        let stderr = TailBuffer::default();
        let mut wasi = WasiCtx::builder();
        wasi.stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .socket_addr_check(|_, _| Box::pin(async { false }));
        for dir in &ctx.grants.read_paths {
            wasi.preopened_dir(dir, dir.to_string_lossy(), FsPerms::ReadOnly)?;
        }
        for dir in &ctx.grants.write_paths {
            wasi.preopened_dir(dir, dir.to_string_lossy(), FsPerms::ReadWrite)?;
        }
        let denials = Denials::default();
        let limits = StoreLimitsBuilder::new()
            .memory_size((ctx.grants.memory_mb as usize) << 20)
            .trap_on_grow_failure(true)
            .instances(64)
            .tables(64)
            .memories(8)
            .build();
        Ok(CallState {
            hooks: OutboundHooks {
                policy: ctx.grants.outbound.clone(),
                denials: denials.clone(),
            },
            ctx,
            wasi: wasi.build(),
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            limits,
            stderr,
            denials,
            call: None,
        })
    }
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for CallState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}
