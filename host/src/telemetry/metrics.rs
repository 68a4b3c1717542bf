//! Metrics in the Prometheus text format, through the `metrics` facade and
//! its Prometheus exporter.
//!
//! Every metric the host records is named here, once, with a function that
//! records it: a module records `metrics::tool_call("shell", ok, elapsed)`,
//! never a string it made up. Labels carry only names the operator's
//! configuration bounds (providers, models, tools, components, channels),
//! never a session or a person, so the number of series stays small.
//!
//! Until [`install`] runs (only `serve` installs it), recording costs one
//! load of the facade's no-op recorder. `/metrics` (on the listener, or on
//! `[metrics] listen`) answers with [`render`], which first samples the
//! gauges that are read rather than counted ([`on_scrape`]): process
//! memory and CPU, active sessions, open connections.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// `[metrics]`: the Prometheus endpoint.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsSection {
    /// Serve `/metrics` at all.
    pub enabled: bool,
    /// Its own listener (`127.0.0.1:9464`), open to whoever reaches it.
    /// Without it `/metrics` is on the host's listener, where a peer off
    /// loopback must send the web token as a bearer token.
    pub listen: Option<String>,
}

impl Default for MetricsSection {
    fn default() -> Self {
        MetricsSection {
            enabled: true,
            listen: None,
        }
    }
}

/// Histogram buckets, in seconds: from a cached component call to a slow
/// model's whole turn.
const BUCKETS: &[f64] = &[
    0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0, 120.0,
];

/// A gauge read at scrape time.
type Sampler = Box<dyn Fn() + Send + Sync>;

struct Installed {
    handle: metrics_exporter_prometheus::PrometheusHandle,
    /// By name: a host started again in one process (tests) replaces its
    /// samplers rather than adding to them.
    samplers: Mutex<BTreeMap<&'static str, Sampler>>,
}

static INSTALLED: OnceLock<Installed> = OnceLock::new();

/// Installs the Prometheus recorder for this process (once; later calls
/// are no-ops) and describes every metric. Spawns the upkeep that drains
/// histograms when no one scrapes, so memory stays bounded.
pub fn install() -> anyhow::Result<()> {
    if INSTALLED.get().is_some() {
        return Ok(());
    }
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new()
        .set_buckets(BUCKETS)?
        .build_recorder();
    let handle = recorder.handle();
    if metrics::set_global_recorder(recorder).is_err() {
        // Another recorder (a test's, or a racing call) came first.
        return Ok(());
    }
    describe();
    let _ = INSTALLED.set(Installed {
        handle: handle.clone(),
        samplers: Mutex::new(BTreeMap::from([(
            "process",
            Box::new(sample_process) as Sampler,
        )])),
    });
    std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(Duration::from_secs(5));
                handle.run_upkeep();
            }
        })?;
    Ok(())
}

/// Whether [`install`] ran in this process.
pub fn installed() -> bool {
    INSTALLED.get().is_some()
}

/// Adds a gauge read at every scrape (active sessions, open connections):
/// for values the module that owns them knows at any time, rather than
/// counts of events.
pub fn on_scrape(name: &'static str, sampler: impl Fn() + Send + Sync + 'static) {
    if let Some(installed) = INSTALLED.get() {
        installed
            .samplers
            .lock()
            .unwrap()
            .insert(name, Box::new(sampler));
    }
}

/// The text format of every metric (`None` before [`install`]).
pub fn render() -> Option<String> {
    let installed = INSTALLED.get()?;
    for sample in installed.samplers.lock().unwrap().values() {
        sample();
    }
    installed.handle.run_upkeep();
    Some(installed.handle.render())
}

/// The content type of [`render`]'s text.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_histogram!(
        TURN_SECONDS,
        Unit::Seconds,
        "One user turn, from the user's message stored to the answer stored."
    );
    describe_counter!(TURNS, "Turns finished, by provider and outcome.");
    describe_histogram!(
        PROVIDER_SECONDS,
        Unit::Seconds,
        "One request to a provider, until its stream ended."
    );
    describe_counter!(
        TOKENS,
        "Tokens the provider reported, by provider, model and kind."
    );
    describe_counter!(TOOL_CALLS, "Tool calls, by tool and outcome.");
    describe_histogram!(TOOL_SECONDS, Unit::Seconds, "One tool call, by tool.");
    describe_counter!(ERRORS, "Errors, by kind.");
    describe_gauge!(ACTIVE_SESSIONS, "Sessions with a turn queued or running.");
    describe_gauge!(CONNECTIONS, "Open WebSocket connections.");
    describe_counter!(
        CHANNEL_MESSAGES,
        "Messages through the channels, by channel and direction."
    );
    describe_counter!(
        RETRYABLE_RESPONSES,
        "Answers 429 or 5xx to a component's requests, by component: what channels and providers retry."
    );
    describe_counter!(INSTANCES, "Component instances created, by component.");
    describe_counter!(
        TRAPS,
        "Component calls that trapped, by component and kind."
    );
    describe_counter!(
        COMPILE_CACHE,
        "Components loaded precompiled from the binary (built-in), from the compile cache (hit), or compiled (miss)."
    );
    describe_counter!(HOT_SWAPS, "Components replaced while serving, by outcome.");
    describe_counter!(
        WORKER_REPORTS,
        "Worker reports stored (each once, however often sent), by kind."
    );
    describe_gauge!(
        RESIDENT_MEMORY,
        Unit::Bytes,
        "Resident memory of the process."
    );
    describe_gauge!(
        VIRTUAL_MEMORY,
        Unit::Bytes,
        "Virtual memory of the process."
    );
    describe_counter!(CPU_SECONDS, Unit::Seconds, "CPU time of the process.");
}

pub const TURN_SECONDS: &str = "openpista_turn_duration_seconds";
pub const TURNS: &str = "openpista_turns_total";
pub const PROVIDER_SECONDS: &str = "openpista_provider_request_duration_seconds";
pub const TOKENS: &str = "openpista_tokens_total";
pub const TOOL_CALLS: &str = "openpista_tool_calls_total";
pub const TOOL_SECONDS: &str = "openpista_tool_call_duration_seconds";
pub const ERRORS: &str = "openpista_errors_total";
pub const ACTIVE_SESSIONS: &str = "openpista_active_sessions";
pub const CONNECTIONS: &str = "openpista_websocket_connections";
pub const CHANNEL_MESSAGES: &str = "openpista_channel_messages_total";
pub const RETRYABLE_RESPONSES: &str = "openpista_retryable_responses_total";
pub const INSTANCES: &str = "openpista_component_instances_total";
pub const TRAPS: &str = "openpista_component_traps_total";
pub const COMPILE_CACHE: &str = "openpista_compile_cache_total";
pub const HOT_SWAPS: &str = "openpista_hot_swaps_total";
pub const WORKER_REPORTS: &str = "openpista_worker_reports_total";
pub const RESIDENT_MEMORY: &str = "process_resident_memory_bytes";
pub const VIRTUAL_MEMORY: &str = "process_virtual_memory_bytes";
pub const CPU_SECONDS: &str = "process_cpu_seconds_total";

/// What an error was: the `kind` label of [`ERRORS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The provider failed a request (after its own retries).
    Provider,
    /// A tool call failed or its tool was missing.
    Tool,
    /// The conversation could not be read or stored.
    Storage,
    /// A channel could not deliver an answer.
    Delivery,
    /// A component failed to load (at start or on a swap).
    ComponentLoad,
    /// A channel's poll failed.
    Poll,
}

impl ErrorKind {
    fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Provider => "provider",
            ErrorKind::Tool => "tool",
            ErrorKind::Storage => "storage",
            ErrorKind::Delivery => "delivery",
            ErrorKind::ComponentLoad => "component_load",
            ErrorKind::Poll => "poll",
        }
    }
}

/// One error of `kind`.
pub fn error(kind: ErrorKind) {
    metrics::counter!(ERRORS, "kind" => kind.as_str()).increment(1);
}

/// A turn ended: `ok` false when it ended in an error.
pub fn turn(provider: &str, model: &str, ok: bool, took: Duration) {
    metrics::histogram!(TURN_SECONDS, "provider" => provider.to_string(), "model" => model.to_string())
        .record(took.as_secs_f64());
    metrics::counter!(TURNS, "provider" => provider.to_string(), "outcome" => outcome(ok))
        .increment(1);
}

/// One provider request ended (its stream read to the end, or failed).
pub fn provider_request(provider: &str, model: &str, ok: bool, took: Duration) {
    metrics::histogram!(PROVIDER_SECONDS, "provider" => provider.to_string(), "model" => model.to_string(), "outcome" => outcome(ok))
        .record(took.as_secs_f64());
    if !ok {
        error(ErrorKind::Provider);
    }
}

/// The tokens a provider reported for one request.
pub fn tokens(provider: &str, model: &str, input: u32, output: u32) {
    for (kind, n) in [("input", input), ("output", output)] {
        metrics::counter!(TOKENS, "provider" => provider.to_string(), "model" => model.to_string(), "kind" => kind)
            .increment(u64::from(n));
    }
}

/// One tool call ended.
pub fn tool_call(tool: &str, ok: bool, took: Duration) {
    metrics::counter!(TOOL_CALLS, "tool" => tool.to_string(), "outcome" => outcome(ok))
        .increment(1);
    metrics::histogram!(TOOL_SECONDS, "tool" => tool.to_string()).record(took.as_secs_f64());
    if !ok {
        error(ErrorKind::Tool);
    }
}

/// Which way a channel message went.
#[derive(Debug, Clone, Copy)]
pub enum Direction {
    In,
    Out,
}

/// A message came in on, or went out through, `channel`.
pub fn channel_message(channel: &str, direction: Direction) {
    let direction = match direction {
        Direction::In => "in",
        Direction::Out => "out",
    };
    metrics::counter!(CHANNEL_MESSAGES, "channel" => channel.to_string(), "direction" => direction)
        .increment(1);
}

/// A component's outbound request was answered `status`: 429 and 5xx
/// count, since channels and providers retry them (the SDK's policy).
pub fn response_status(component: &str, status: u16) {
    if status == 429 || (500..600).contains(&status) {
        metrics::counter!(RETRYABLE_RESPONSES, "component" => component.to_string()).increment(1);
    }
}

/// An instance of `component` was created.
pub fn instance(component: &str) {
    metrics::counter!(INSTANCES, "component" => component.to_string()).increment(1);
}

/// A call of `component` trapped; `kind` is the trap's class
/// (`timeout`, `out_of_fuel`, `panic`, …).
pub fn trap(component: &str, kind: &'static str) {
    metrics::counter!(TRAPS, "component" => component.to_string(), "kind" => kind).increment(1);
}

/// Where a loaded component's compiled code came from.
#[derive(Debug, Clone, Copy)]
pub enum CompiledFrom {
    /// Precompiled into the binary by its build.
    BuiltIn,
    /// The disk cache.
    Cache,
    /// Compiled now.
    Compiler,
}

/// A component's compiled code was loaded (`built-in`, `hit`) or compiled
/// (`miss`).
pub fn compile_cache(from: CompiledFrom) {
    let result = match from {
        CompiledFrom::BuiltIn => "built-in",
        CompiledFrom::Cache => "hit",
        CompiledFrom::Compiler => "miss",
    };
    metrics::counter!(COMPILE_CACHE, "result" => result).increment(1);
}

/// A component was replaced while serving (or the attempt failed).
pub fn hot_swap(component: &str, ok: bool) {
    metrics::counter!(HOT_SWAPS, "component" => component.to_string(), "outcome" => outcome(ok))
        .increment(1);
}

/// A worker report was stored (a duplicate is not counted).
pub fn worker_report(is_final: bool) {
    metrics::counter!(WORKER_REPORTS, "kind" => if is_final { "final" } else { "progress" })
        .increment(1);
}

/// Sets a gauge read at scrape time.
pub fn set_gauge(name: &'static str, value: f64) {
    metrics::gauge!(name).set(value);
}

fn outcome(ok: bool) -> &'static str {
    if ok { "ok" } else { "error" }
}

/// Process memory and CPU time, from `/proc/self`.
fn sample_process() {
    let Some(stats) = ProcessStats::read() else {
        return;
    };
    set_gauge(RESIDENT_MEMORY, stats.resident_bytes as f64);
    set_gauge(VIRTUAL_MEMORY, stats.virtual_bytes as f64);
    metrics::counter!(CPU_SECONDS).absolute(stats.cpu_seconds as u64);
}

/// What `/proc/self` says of this process.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcessStats {
    pub resident_bytes: u64,
    pub virtual_bytes: u64,
    pub cpu_seconds: f64,
}

impl ProcessStats {
    /// `None` where there is no `/proc` (not Linux).
    pub fn read() -> Option<ProcessStats> {
        let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        // SAFETY: sysconf only reads a configuration value.
        let (page, ticks) = unsafe {
            (
                libc::sysconf(libc::_SC_PAGESIZE),
                libc::sysconf(libc::_SC_CLK_TCK),
            )
        };
        Self::parse(&statm, &stat, page.max(1) as u64, ticks.max(1) as u64)
    }

    /// Parses `/proc/self/statm` (pages) and `/proc/self/stat` (clock
    /// ticks; the command name in parentheses may hold spaces).
    fn parse(statm: &str, stat: &str, page: u64, ticks: u64) -> Option<ProcessStats> {
        let mut pages = statm.split_whitespace().map(|v| v.parse::<u64>().ok());
        let virtual_pages = pages.next()??;
        let resident_pages = pages.next()??;
        let after_name = &stat[stat.rfind(')')? + 1..];
        // Fields after the name start at field 3 (state); utime and stime
        // are fields 14 and 15.
        let fields: Vec<&str> = after_name.split_whitespace().collect();
        let utime: u64 = fields.get(11)?.parse().ok()?;
        let stime: u64 = fields.get(12)?.parse().ok()?;
        Some(ProcessStats {
            resident_bytes: resident_pages * page,
            virtual_bytes: virtual_pages * page,
            cpu_seconds: (utime + stime) as f64 / ticks as f64,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_files_are_parsed_with_spaces_in_the_name() {
        let statm = "2000 500 100 10 0 300 0\n";
        let stat = "42 (open pista) S 1 42 42 0 -1 4194560 100 0 0 0 250 150 0 0 20 0 3 0 100 8192000 500 18446744073709551615";
        let s = ProcessStats::parse(statm, stat, 4096, 100).unwrap();
        assert_eq!(s.virtual_bytes, 2000 * 4096);
        assert_eq!(s.resident_bytes, 500 * 4096);
        assert!((s.cpu_seconds - 4.0).abs() < 1e-9, "{s:?}");
        assert_eq!(ProcessStats::parse("x", stat, 4096, 100), None);
        assert_eq!(ProcessStats::parse(statm, "no name", 4096, 100), None);
    }

    #[test]
    fn this_process_is_read() {
        let s = ProcessStats::read().unwrap();
        assert!(s.resident_bytes > 1024 * 1024, "{s:?}");
        assert!(s.virtual_bytes >= s.resident_bytes, "{s:?}");
    }
}
