//! The one wasmtime [`Engine`] of openpista: async, epoch interruption, the
//! pooling allocator where the address space allows it, and the epoch ticker
//! that drives deadlines.
//!
//! A crate of its own because two builds need the same configuration: the
//! host runs it, and the host's build script compiles the first-party
//! components the default configuration loads for it ([`precompile_config`]),
//! so a first start deserialises them instead of compiling. A precompiled
//! artifact that does not fit the running engine (other settings, another
//! CPU) is refused by wasmtime's own check at load, and compiled instead.

use anyhow::Result;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How often the epoch advances. A call's deadline is checked at this
/// granularity and a running guest yields to other tasks this often.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);

/// Engine settings chosen by the operator (`[runtime]` in the config).
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// Largest linear memory any instance may grow to, in MiB; the pool's
    /// slot size. Per-component caps are at most this.
    pub max_memory_mb: u64,
    /// Concurrent instances the pool holds; calls beyond wait their turn.
    pub max_instances: u32,
    /// Meter fuel, so manifests' `[limits].fuel` applies.
    pub fuel: bool,
    /// Try the pooling allocator first (falls back when it cannot reserve).
    pub pooling: bool,
}

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings {
            max_memory_mb: 256,
            max_instances: 128,
            fuel: false,
            pooling: true,
        }
    }
}

/// Which allocator the engine ended up with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allocator {
    Pooling,
    OnDemand,
}

/// What compiled code depends on, the same for the running engine and for
/// precompiling. Allocation strategy and pool sizes do not change compiled
/// code, so they are not here.
fn base_config(settings: &EngineSettings) -> Config {
    let mut config = Config::new();
    config.epoch_interruption(true);
    config.consume_fuel(settings.fuel);
    config.wasm_component_model(true);
    // Guests recurse on a bounded stack; a runaway recursion traps.
    config.max_wasm_stack(512 * 1024);
    config.async_stack_size(2 * 1024 * 1024);
    #[cfg(feature = "profiling")]
    if let Some(strategy) = profiler_from_env() {
        config.profiler(strategy);
    }
    config
}

/// The configuration the build script precompiles for: the running
/// engine's with [`EngineSettings::default`], for `target` (the triple
/// being built) instead of the build machine, with the x86-64-v2 features
/// (SSE3 to SSE4.2, POPCNT: every x86-64 CPU since about 2009) rather than
/// whatever the build machine has. A shipped binary's artifacts then load on
/// the machines it runs on, not only on the one that built it; a CPU without
/// them makes wasmtime refuse the artifact, and the host compiles instead.
pub fn precompile_config(target: &str) -> Result<Config> {
    let mut config = base_config(&EngineSettings::default());
    config.target(target)?;
    if target.starts_with("x86_64") {
        for flag in [
            "has_sse3",
            "has_ssse3",
            "has_sse41",
            "has_sse42",
            "has_popcnt",
        ] {
            // SAFETY: these are x86-64 ISA flags of cranelift; code using
            // them runs only where wasmtime's load check finds them on the
            // CPU.
            unsafe {
                config.cranelift_flag_enable(flag);
            }
        }
    }
    Ok(config)
}

/// `OPENPISTA_WASM_PROFILER=perfmap|jitdump`, for profiling builds.
#[cfg(feature = "profiling")]
fn profiler_from_env() -> Option<wasmtime::ProfilingStrategy> {
    match std::env::var("OPENPISTA_WASM_PROFILER").ok()?.as_str() {
        "perfmap" => Some(wasmtime::ProfilingStrategy::PerfMap),
        "jitdump" => Some(wasmtime::ProfilingStrategy::JitDump),
        other => {
            tracing::warn!("OPENPISTA_WASM_PROFILER={other:?} is not perfmap or jitdump; ignored");
            None
        }
    }
}

/// Builds the engine: pooling allocator when it can reserve its address
/// space (small and arm64 machines may not), on-demand otherwise.
pub fn build(settings: &EngineSettings) -> Result<(Engine, Allocator)> {
    if settings.pooling {
        let mut config = base_config(settings);
        let mut pool = PoolingAllocationConfig::new();
        let instances = settings.max_instances;
        pool.total_component_instances(instances)
            // A Rust wasip2 component is a handful of core modules (the
            // program and the adapter shims).
            .total_core_instances(instances * 8)
            .total_memories(instances * 2)
            .total_tables(instances * 8)
            .total_stacks(instances)
            .max_memory_size((settings.max_memory_mb as usize) << 20)
            .max_component_instance_size(1 << 20)
            .max_core_instance_size(1 << 20)
            // A fresh instance per call makes slot reset the hot path.
            // With PAGEMAP_SCAN (Linux 6.7+) only the pages a call dirtied
            // are reset in place, up to this many bytes, instead of being
            // unmapped and faulted in again by the next call.
            .pagemap_scan(wasmtime::Enabled::Auto)
            .linear_memory_keep_resident(1 << 20)
            .table_keep_resident(64 << 10)
            // Few idle slots stay warm, bounding what they keep resident.
            .max_unused_warm_slots(16);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        match Engine::new(&config) {
            Ok(engine) => return Ok((engine, Allocator::Pooling)),
            Err(e) => tracing::warn!(
                "pooling allocator unavailable ({e:#}); falling back to on-demand allocation"
            ),
        }
    }
    let config = base_config(settings);
    Ok((Engine::new(&config)?, Allocator::OnDemand))
}

/// Advances the engine's epoch every [`EPOCH_TICK`] until dropped.
pub struct EpochTicker {
    stop: Arc<AtomicBool>,
}

impl EpochTicker {
    pub fn start(engine: &Engine) -> EpochTicker {
        let stop = Arc::new(AtomicBool::new(false));
        let weak = engine.weak();
        let flag = stop.clone();
        std::thread::Builder::new()
            .name("openpista-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    match weak.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => break,
                    }
                }
            })
            .expect("spawn epoch thread");
        EpochTicker { stop }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
