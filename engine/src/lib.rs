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
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
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

/// How many guest calls are running now, over every store of the process
/// (a guest suspended at a yield or inside a host call still counts). The
/// epoch ticker runs while it is above zero and for [`IDLE_GRACE`] after:
/// an idle host wakes no thread 200 times a second for deadlines nobody
/// has, and a busy one never waits for its ticker to wake.
static RUNNING: AtomicUsize = AtomicUsize::new(0);
/// Tickers waiting for a guest (one per engine; tests make several), counted
/// under [`WAKE_LOCK`].
static SLEEPERS: AtomicUsize = AtomicUsize::new(0);
static WAKE_LOCK: Mutex<()> = Mutex::new(());
static WAKE: Condvar = Condvar::new();

/// How long the ticker goes on after the last guest call ended before it
/// sleeps. Calls that follow one another closely (a turn's tools, a busy
/// channel) then cost two atomic operations each, not a thread's wake.
pub const IDLE_GRACE: Duration = Duration::from_millis(50);

/// One component call under way, from the moment its deadline is armed
/// until it is dropped: the epoch ticker runs while any exists (and for
/// [`IDLE_GRACE`] after). Counting whole calls, not each entry into guest
/// code, costs two atomic operations a call and no hook on the
/// host–guest boundary; a call suspended in a host function (an HTTP
/// request) still counts, as its deadline still runs.
#[derive(Debug)]
pub struct GuestCall(());

impl GuestCall {
    pub fn begin() -> GuestCall {
        // `SeqCst` on both sides: either this sees the ticker asleep, or
        // the ticker, about to sleep, sees this call.
        if RUNNING.fetch_add(1, Ordering::SeqCst) == 0 && SLEEPERS.load(Ordering::SeqCst) > 0 {
            // Taken so the ticker cannot miss the wake between its check
            // and its wait.
            let _held = WAKE_LOCK.lock().unwrap_or_else(|p| p.into_inner());
            WAKE.notify_all();
        }
        GuestCall(())
    }
}

impl Drop for GuestCall {
    fn drop(&mut self) {
        RUNNING.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Component calls under way now; see [`GuestCall`].
pub fn guests_running() -> usize {
    RUNNING.load(Ordering::SeqCst)
}

/// Advances the engine's epoch every [`EPOCH_TICK`] while any guest code
/// runs ([`GuestCall`]) and for [`IDLE_GRACE`] after, and sleeps
/// otherwise, until dropped.
pub struct EpochTicker {
    stop: Arc<AtomicBool>,
    ticks: Arc<AtomicU64>,
}

impl EpochTicker {
    pub fn start(engine: &Engine) -> EpochTicker {
        let stop = Arc::new(AtomicBool::new(false));
        let ticks = Arc::new(AtomicU64::new(0));
        let weak = engine.weak();
        let (flag, count) = (stop.clone(), ticks.clone());
        let grace = (IDLE_GRACE.as_nanos() / EPOCH_TICK.as_nanos()) as u32;
        std::thread::Builder::new()
            .name("openpista-epoch".into())
            .spawn(move || {
                // Starts asleep: nothing runs before the first call.
                let mut idle = grace;
                while !flag.load(Ordering::Relaxed) {
                    if RUNNING.load(Ordering::SeqCst) > 0 {
                        idle = 0;
                    } else if idle >= grace {
                        if !sleep_until_a_guest(&flag, &weak) {
                            return;
                        }
                        idle = 0;
                    } else {
                        idle += 1;
                    }
                    std::thread::sleep(EPOCH_TICK);
                    match weak.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => break,
                    }
                    count.fetch_add(1, Ordering::Relaxed);
                }
            })
            .expect("spawn epoch thread");
        EpochTicker { stop, ticks }
    }

    /// Epoch increments so far.
    pub fn ticks(&self) -> u64 {
        self.ticks.load(Ordering::Relaxed)
    }
}

/// Waits until a guest call is counted; `false` when the ticker should end
/// instead (stopped, or its engine dropped).
fn sleep_until_a_guest(stop: &AtomicBool, engine: &wasmtime::EngineWeak) -> bool {
    let mut held = WAKE_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    SLEEPERS.fetch_add(1, Ordering::SeqCst);
    while RUNNING.load(Ordering::SeqCst) == 0 && !stop.load(Ordering::Relaxed) {
        // Woken by the first guest call; the timeout only notices an
        // engine dropped while idle.
        held = WAKE
            .wait_timeout(held, Duration::from_secs(1))
            .unwrap_or_else(|p| p.into_inner())
            .0;
        if engine.upgrade().is_none() {
            break;
        }
    }
    SLEEPERS.fetch_sub(1, Ordering::SeqCst);
    drop(held);
    !stop.load(Ordering::Relaxed) && engine.upgrade().is_some()
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _held = WAKE_LOCK.lock().unwrap_or_else(|p| p.into_inner());
        WAKE.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn until(what: &str, mut done: impl FnMut() -> bool) {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while !done() {
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting: {what}"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// The ticker runs while a guest call is counted, and stops once the
    /// grace period after it has passed.
    /// (The only test in this crate that counts guests: nothing else in
    /// this process enters guest code.)
    #[test]
    fn the_epoch_advances_only_while_a_guest_runs() {
        let (engine, _) = build(&EngineSettings {
            pooling: false,
            ..EngineSettings::default()
        })
        .unwrap();
        let ticker = EpochTicker::start(&engine);
        std::thread::sleep(EPOCH_TICK * 10);
        assert_eq!(ticker.ticks(), 0, "ticked with no guest running");

        let call = GuestCall::begin();
        until("ticks while a guest runs", || ticker.ticks() >= 3);
        // Read before the drop: the grace period may be over by the time
        // a loaded machine runs the next line.
        let left = ticker.ticks();
        drop(call);
        assert_eq!(guests_running(), 0);
        // It goes on for the grace period, so a next call finds it awake…
        until("ticks on in the grace period", || ticker.ticks() > left + 3);
        // …and then sleeps.
        until("sleeps after the grace period", || {
            let seen = ticker.ticks();
            std::thread::sleep(EPOCH_TICK * 20);
            ticker.ticks() == seen
        });
        let asleep = ticker.ticks();
        std::thread::sleep(EPOCH_TICK * 20);
        assert_eq!(ticker.ticks(), asleep, "ticked while asleep");

        let call = GuestCall::begin();
        let before = ticker.ticks();
        until("woken again by the next guest", || ticker.ticks() > before);
        drop(call);
    }
}
