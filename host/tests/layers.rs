//! The host's modules form layers: a module may use modules below it,
//! never one above. This test reads every file under `host/src` and fails
//! on an import from a higher layer, naming the file and both layers; a
//! new top-level module must be given its place in [`LAYERS`] first. The
//! check is tested on made-up files too, so it can be seen to fail.
//!
//! ```text
//!  cli        the command line and the wiring: the one place that assembles
//!  config     the config file: aggregates each module's settings type
//!  server     HTTP listener, web page, WebSockets, webhooks
//!  tui        the terminal UI: state, update, view, its back ends
//!  cluster    several nodes on NATS JetStream: leases, heartbeats
//!  gateway    channels → sessions → the agent → answers; cron; bridges
//!  agent      the ReAct loop
//!  approvals  tool-call approval: policy, requests, who may answer
//!  mcp        MCP client (a ToolProvider) and server
//!  skills     SKILL.md skills (a ToolProvider)
//!  native     the native tools: shell, screen, browser, containers
//!  tools      the tool registry and the ToolProvider trait
//!  runtime    wasmtime: components, capabilities, WIT adapters
//!  memory     redb storage
//!  telemetry  metrics and logs: names, recorder, redacted writers
//!  paths      where files live, and keeping them private
//! ```

use std::collections::BTreeMap;
use std::path::Path;

/// Lowest first. A module may import those before it in this list.
const LAYERS: &[&str] = &[
    "paths",
    "telemetry",
    "memory",
    "runtime",
    "auth",
    "models",
    "tools",
    "native",
    "skills",
    "mcp",
    "approvals",
    "agent",
    "gateway",
    "cluster",
    "server",
    "tui",
    "config",
    "cli",
];

/// Files that stand above every layer: the crate's roots.
const ROOTS: &[&str] = &["lib", "main", "fuzz_tests"];

/// The top-level module a file under `src/` belongs to.
fn module_of(relative: &str) -> &str {
    let first = relative.split('/').next().unwrap_or(relative);
    first.strip_suffix(".rs").unwrap_or(first)
}

/// The top-level modules `source` names through `crate::`.
fn imports(source: &str) -> Vec<String> {
    let mut found = Vec::new();
    for line in source.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                // `crate::{a, b::c}`: the first segment of each item.
                let inner = group.split('}').next().unwrap_or("");
                for item in inner.split(',') {
                    let name: String = item
                        .trim()
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if !name.is_empty() {
                        found.push(name);
                    }
                }
                continue;
            }
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                found.push(name);
            }
        }
    }
    found
}

/// Every import that goes up a layer, or names a module with no layer, in
/// `files` (path under `src/` → text).
fn violations(files: &BTreeMap<String, String>) -> Vec<String> {
    let layer = |m: &str| LAYERS.iter().position(|l| *l == m);
    let mut out = Vec::new();
    for (path, text) in files {
        let module = module_of(path);
        if ROOTS.contains(&module) {
            continue;
        }
        let Some(own) = layer(module) else {
            out.push(format!(
                "src/{path}: module {module} has no layer; add it to LAYERS in host/tests/layers.rs"
            ));
            continue;
        };
        for imported in imports(text) {
            // `crate::X` where X is an item of lib.rs (none today) or a
            // module: only modules are layered.
            match layer(&imported) {
                Some(theirs) if theirs > own => out.push(format!(
                    "src/{path}: {module} (layer {own}) imports crate::{imported} (layer {theirs}), a layer above it"
                )),
                Some(_) => {}
                None if ROOTS.contains(&imported.as_str()) => {}
                None => out.push(format!(
                    "src/{path}: imports crate::{imported}, which is no layered module"
                )),
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

fn read_tree(dir: &Path, base: &Path, into: &mut BTreeMap<String, String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            read_tree(&path, base, into);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let relative = path
                .strip_prefix(base)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            into.insert(relative, std::fs::read_to_string(&path).unwrap());
        }
    }
}

#[test]
fn the_host_imports_only_downwards() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = BTreeMap::new();
    read_tree(&src, &src, &mut files);
    assert!(files.len() > 50, "read {} files", files.len());
    let found = violations(&files);
    assert!(
        found.is_empty(),
        "imports against the layers:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_check_fails_on_a_reverse_import() {
    let files = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(p, t)| (p.to_string(), t.to_string()))
            .collect()
    };
    // Downwards is fine, in every spelling.
    let clean = files(&[
        (
            "gateway/mod.rs",
            "use crate::agent::Agent;\nuse crate::{memory, runtime::Runtime};",
        ),
        (
            "paths.rs",
            "// crate::config is only named in a comment\nuse std::path::Path;",
        ),
    ]);
    assert_eq!(violations(&clean), Vec::<String>::new());
    // A module importing from above is named with both layers.
    let reverse = files(&[
        (
            "runtime/registry.rs",
            "use crate::memory::MemoryStore;\nlet x = crate::config::home_dir();",
        ),
        ("memory/mod.rs", "use crate::{paths, cli::Cli};"),
    ]);
    let found = violations(&reverse);
    assert_eq!(found.len(), 2, "{found:?}");
    // Layer numbers come from LAYERS, so placing a new module keeps this true.
    let layer = |name: &str| LAYERS.iter().position(|l| *l == name).unwrap();
    let expected = [
        format!(
            "src/memory/mod.rs: memory (layer {}) imports crate::cli (layer {})",
            layer("memory"),
            layer("cli")
        ),
        format!(
            "src/runtime/registry.rs: runtime (layer {}) imports crate::config (layer {})",
            layer("runtime"),
            layer("config")
        ),
    ];
    for (line, want) in found.iter().zip(&expected) {
        assert!(line.contains(want.as_str()), "{line:?} lacks {want:?}");
    }
    // A new module must be placed before it may import anything.
    let unplaced = files(&[("newthing/mod.rs", "use crate::paths::home_dir;")]);
    assert!(violations(&unplaced)[0].contains("has no layer"));
}
