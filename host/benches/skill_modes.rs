//! The same skill in wasm mode and in subprocess mode: `text.stats`
//! (characters, words and lines of a text) as the embedded tool-basics
//! component, a fresh sandboxed instance per call, against the same
//! computation as a subprocess skill in Python (`main.py`) and in bash
//! (`run.sh`). Every call goes through the agent's tool registry, as a
//! model's tool call would. Per-call latency (median, p95) and memory: the
//! peak RSS of a subprocess, against the host's RSS growth over the wasm
//! calls. Report: BENCHMARKS.md.
//!
//! cargo bench -p openpista --bench skill_modes
//!
//! Under `cargo test` it runs a few calls of each as a smoke test.

use openpista::config::Config;
use openpista::runtime::CallContext;
use std::time::{Duration, Instant};

const TEXT: &str = "the quick brown fox\njumps over the lazy dog\nand runs";

const MAIN_PY: &str = r#"import json, sys
text = json.load(sys.stdin)["text"]
print(json.dumps({"characters": len(text), "words": len(text.split()), "lines": len(text.splitlines()), "bytes": len(text.encode())}))
"#;

const RUN_SH: &str = r#"t=$(sed -e 's/^{"text":"//' -e 's/"}$//')
t=$(printf '%b' "$t")
printf '{"characters":%d,"words":%d,"lines":%d,"bytes":%d}\n' "${#t}" "$(printf '%s' "$t" | wc -w)" "$(printf '%s\n' "$t" | wc -l)" "$(printf '%s' "$t" | wc -c)"
"#;

fn skill(dir: &std::path::Path, name: &str, file: &str, code: &str) {
    let d = dir.join(name);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(
        d.join("SKILL.md"),
        format!("---\nname: {name}\ndescription: Text statistics.\nmode: subprocess\n---\n"),
    )
    .unwrap();
    std::fs::write(d.join(file), code).unwrap();
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Peak RSS, KiB, of the interpreter process of one run of
/// `program script` with `input` on stdin: its `VmHWM`, read from /proc
/// until it exits. (`wait4`'s `ru_maxrss` would charge the child the
/// parent's pages from before `exec`; `VmHWM` starts afresh at `exec`.)
fn child_peak_rss_kib(program: &str, script: &std::path::Path, input: &str) -> u64 {
    use std::io::Write;
    let mut child = std::process::Command::new(program)
        .arg(script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let status = format!("/proc/{}/status", child.id());
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let mut peak = 0;
    while child.try_wait().unwrap().is_none() {
        let hwm = std::fs::read_to_string(&status)
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0);
        peak = peak.max(hwm);
        std::thread::sleep(Duration::from_micros(200));
    }
    peak
}

fn stats(text: &str) -> serde_json::Value {
    let v: serde_json::Value =
        serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{e}: {text}"));
    serde_json::json!({"characters": v["characters"], "words": v["words"], "lines": v["lines"]})
}

fn summary(name: &str, times: &mut [Duration]) -> Duration {
    times.sort();
    let median = times[times.len() / 2];
    let p95 = times[(times.len() * 95 / 100).min(times.len() - 1)];
    println!(
        "  {name:<28} median {median:>10.1?}   p95 {p95:>10.1?}   ({} calls)",
        times.len()
    );
    median
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (wasm_calls, sub_calls) = if full { (2000, 200) } else { (20, 3) };
    let root = tempfile::tempdir().unwrap();
    let skills = root.path().join("skills");
    skill(&skills, "stats-py", "main.py", MAIN_PY);
    skill(&skills, "stats-sh", "run.sh", RUN_SH);
    let config = Config::parse(
        &format!(
            "[runtime]\nplugin_dirs = []\ncache_dir = \"{root}/cache\"\n[memory]\npath = \"{root}/m.redb\"\n\
             [skills]\nworkspace = false\ndirs = [\"{skills}\"]\n\
             [skills.allow.stats-py]\noutside_sandbox = true\n[skills.allow.stats-sh]\noutside_sandbox = true\n",
            root = root.path().display(),
            skills = skills.display()
        ),
        "bench config",
    )
    .unwrap();
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let runtime = openpista::cli::build_runtime(&config).unwrap();
    assert!(tokio.block_on(runtime.load_all()).is_empty());
    let (tools, natives) = openpista::cli::tools(&config, &runtime);
    for s in natives.skills.as_ref().unwrap().skills() {
        assert_eq!(s.unavailable, None, "{}", s.name);
    }
    let ctx = CallContext {
        session: None,
        call_id: "bench".into(),
    };
    let args = serde_json::json!({ "text": TEXT }).to_string();
    let call = |tool: &str| {
        let started = Instant::now();
        let r = tokio.block_on(tools.invoke(tool, &args, &ctx)).unwrap();
        assert!(!r.is_error, "{tool}: {}", r.content);
        (started.elapsed(), r.content)
    };

    // The three give the same answer.
    let expected = stats(&call("text.stats").1);
    for tool in ["skill.stats-py", "skill.stats-sh"] {
        assert_eq!(stats(&call(tool).1), expected, "{tool}");
    }

    println!(
        "skill_modes: text.stats of a {}-character text",
        TEXT.chars().count()
    );
    for _ in 0..50 {
        call("text.stats");
    }
    let rss_before = rss_kib();
    let mut wasm: Vec<Duration> = (0..wasm_calls).map(|_| call("text.stats").0).collect();
    let rss_after = rss_kib();
    let wasm_med = summary("wasm (fresh instance)", &mut wasm);
    let mut sh: Vec<Duration> = (0..sub_calls).map(|_| call("skill.stats-sh").0).collect();
    let sh_med = summary("subprocess bash run.sh", &mut sh);
    let mut py: Vec<Duration> = (0..sub_calls).map(|_| call("skill.stats-py").0).collect();
    let py_med = summary("subprocess python3 main.py", &mut py);
    let sh_rss = child_peak_rss_kib("bash", &skills.join("stats-sh/run.sh"), &args);
    let py_rss = child_peak_rss_kib("python3", &skills.join("stats-py/main.py"), &args);
    println!(
        "  per call: bash {:.0}x and python3 {:.0}x the wasm call",
        sh_med.as_secs_f64() / wasm_med.as_secs_f64(),
        py_med.as_secs_f64() / wasm_med.as_secs_f64()
    );
    println!(
        "  memory: host RSS {rss_before} KiB before and {rss_after} KiB after {wasm_calls} wasm calls \
         ({:+} KiB); peak RSS of one subprocess: bash {sh_rss} KiB, python3 {py_rss} KiB",
        rss_after as i64 - rss_before as i64
    );
}
