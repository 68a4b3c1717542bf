//! Cold start of `openpista serve` with ten components from a warm cache
//! (process start to the "ready" line), idle resident memory with them
//! loaded, and the binary's size — each beside a baseline measured in the
//! same run: spawning `/bin/true` to exit, and the RSS of an idle `sleep`.
//! The ten are the embedded components `serve` loads by default (four:
//! channel-web, llm-echo, tool-basics, tool-files; the ready line names
//! them) and copies of llm-echo in the plugin folder. Report: BENCHMARKS.md.
//!
//! cargo bench -p openpista --bench startup
//!
//! Under `cargo test` it runs one quick round as a smoke test.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_openpista");

/// Components loaded in every round: the embedded ones plus copies of
/// llm-echo (distinct bytes and names) in the plugin folder. A provider,
/// because it lists no tools: copies of a tool component would be refused,
/// since no two components may serve the same tool name.
const COMPONENTS: usize = 10;

/// Embedded components `serve` loads on the default configuration: all but
/// the messenger channels (Telegram, WhatsApp, Discord, Slack), which stay
/// unloaded until enabled, and the provider protocols no provider names
/// directly (`config::dormant_protocols`).
fn embedded_loaded() -> usize {
    let setups = openpista::config::Config::default()
        .provider_setups()
        .unwrap();
    let dormant = openpista::config::dormant_protocols(&setups);
    openpista::runtime::registry::EMBEDDED
        .iter()
        .filter(|e| !openpista::config::MESSENGER_COMPONENTS.contains(&e.package))
        .filter(|e| !dormant.contains(&e.package))
        .count()
}

fn plugin_folder(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let echo = openpista::runtime::registry::EMBEDDED
        .iter()
        .find(|e| e.package == "llm-echo")
        .unwrap();
    let copies = COMPONENTS.saturating_sub(embedded_loaded());
    for i in 0..copies {
        let name = format!("echo-copy-{i}");
        let mut bytes = echo.wasm().to_vec();
        // A custom section makes each copy a distinct component.
        let label = name.as_bytes();
        bytes.push(0);
        bytes.push((1 + 5 + label.len()) as u8);
        bytes.push(5);
        bytes.extend_from_slice(b"bench");
        bytes.extend_from_slice(label);
        std::fs::write(dir.join(format!("{name}.wasm")), bytes).unwrap();
        let manifest = echo
            .manifest
            .replace("name = \"llm-echo\"", &format!("name = \"{name}\""));
        std::fs::write(dir.join(format!("{name}.toml")), manifest).unwrap();
    }
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

/// Starts `serve`, waits for "ready", lets it idle, measures, stops it.
/// Returns the time to ready, the idle RSS and the ready line.
fn start_once(home: &Path, idle: Duration) -> (Duration, u64, String) {
    let started = Instant::now();
    let mut child = Command::new(BIN)
        .arg("serve")
        .env("OPENPISTA_HOME", home)
        // A port of its own: tests run in parallel.
        .env("OPENPISTA_LISTEN", "127.0.0.1:0")
        .env("OPENPISTA_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let ready = lines.next().unwrap().unwrap();
    let elapsed = started.elapsed();
    assert!(ready.starts_with("openpista ready"), "{ready}");
    std::thread::sleep(idle);
    let rss = rss_kib(child.id());
    unsafe { libc_kill(child.id() as i32, 15) };
    child.wait().unwrap();
    (elapsed, rss, ready)
}

unsafe extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let rounds = if full { 30 } else { 1 };
    let home = tempfile::tempdir().unwrap();
    plugin_folder(&home.path().join("components"));

    // Warm the cache (this run compiles).
    let (cold, _, ready_line) = start_once(home.path(), Duration::from_millis(10));
    let count: usize = ready_line
        .split(": ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert_eq!(
        count, COMPONENTS,
        "expected {COMPONENTS} components loaded: {ready_line}"
    );

    let mut ready = Vec::new();
    let mut rss = Vec::new();
    for _ in 0..rounds {
        let (t, r, _) = start_once(home.path(), Duration::from_millis(300));
        ready.push(t);
        rss.push(r);
    }
    let mut spawn_true = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        Command::new("/bin/true").status().unwrap();
        spawn_true.push(t.elapsed());
    }
    let mut sleeper = Command::new("sleep").arg("30").spawn().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let sleep_rss = rss_kib(sleeper.id());
    sleeper.kill().unwrap();
    sleeper.wait().unwrap();

    rss.sort();
    let ready_med = median(ready);
    let true_med = median(spawn_true);
    let rss_med = rss[rss.len() / 2];
    let size = std::fs::metadata(BIN).unwrap().len();
    println!(
        "startup ({rounds} rounds, {COMPONENTS} components: {} embedded + copies, warm cache)",
        embedded_loaded()
    );
    println!("  {ready_line}");
    println!("  first start (compiles all 10): {cold:?}");
    println!(
        "  start to ready, median:        {ready_med:?}  ({:.1}x spawning /bin/true: {true_med:?})",
        ready_med.as_secs_f64() / true_med.as_secs_f64()
    );
    println!(
        "  idle RSS, median:              {:.1} MiB  ({:.1}x an idle `sleep`: {:.1} MiB)",
        rss_med as f64 / 1024.0,
        rss_med as f64 / sleep_rss as f64,
        sleep_rss as f64 / 1024.0
    );
    println!(
        "  binary size:                   {:.1} MiB ({BIN})",
        size as f64 / (1024.0 * 1024.0)
    );
}
