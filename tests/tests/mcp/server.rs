//! openpista's MCP server, driven by the official TypeScript client
//! (tests/mcp/client.mjs).

use super::{node, npm_dir};
use openpista::cli::serve::start;
use openpista::config::Config;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_openpista-cli");
const TOKEN: &str = "mcp-test-token-0123456789abcdef";

/// Runs client.mjs with `args`; its one JSON line.
async fn client(args: &[&str], env: &[(&str, String)]) -> Value {
    let mut cmd = tokio::process::Command::new("node");
    cmd.arg(npm_dir().join("client.mjs")).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = tokio::time::timeout(std::time::Duration::from_secs(120), cmd.output())
        .await
        .expect("the client finishes")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().last().unwrap_or_else(|| {
        panic!(
            "no output; stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"))
}

fn tool_names(answer: &Value) -> Vec<String> {
    answer["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("{answer}"))
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect()
}

fn text_of(answer: &Value) -> String {
    answer["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("{answer}"))
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdio_serve_offers_component_tools_to_the_official_client() {
    if node().is_none() {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let config = root.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[runtime]\nplugin_dirs = []\ncache_dir = \"{r}/cache\"\n[memory]\npath = \"{r}/memory.redb\"\n[native.system]\nenabled = true\n",
            r = root.path().display()
        ),
    )
    .unwrap();
    let env = [
        ("OPENPISTA_HOME", root.path().display().to_string()),
        ("OPENPISTA_CONFIG", config.display().to_string()),
    ];
    let answer = client(&["stdio", BIN, "time.now", "{}"], &env).await;
    assert_eq!(answer["server"]["name"], "openpista", "{answer}");
    let names = tool_names(&answer);
    assert!(names.contains(&"time.now".to_string()), "{names:?}");
    // Native tools only when the operator lists them.
    assert!(!names.contains(&"system.run".to_string()), "{names:?}");
    // The schemas are the components' own.
    let schema = answer["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "time.now")
        .unwrap()["schema"]
        .clone();
    assert_eq!(schema["type"], "object", "{schema}");
    assert_ne!(answer["result"]["isError"], true, "{answer}");
    let text = text_of(&answer);
    assert!(text.contains("20"), "a date: {text}");

    // A tool that is not offered is refused as a tool error.
    let refused = client(
        &["stdio", BIN, "system.run", "{\"command\": \"true\"}"],
        &env,
    )
    .await;
    assert_eq!(refused["result"]["isError"], true, "{refused}");
    assert!(
        text_of(&refused).contains("no tool system.run"),
        "{refused}"
    );
}

async fn host(root: &std::path::Path, natives: &str) -> openpista::cli::serve::Running {
    let text = format!(
        r#"
[server]
listen = "127.0.0.1:0"
[channels.web]
enabled = false
[mcp.serve]
token = "{TOKEN}"
{natives}
[runtime]
plugin_dirs = []
cache_dir = "{root}/cache"
[memory]
path = "{root}/memory.redb"
"#,
        root = root.display()
    );
    let config = Config::parse(&text, "test config").unwrap();
    start(&config).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_mcp_needs_the_bearer_token() {
    if node().is_none() {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let running = host(
        root.path(),
        "native_tools = [\"system.run\"]\n[native.system]\nenabled = true",
    )
    .await;
    let url = format!("http://{}/mcp", running.local_addr().unwrap());
    let answer = client(&["http", &url, TOKEN, "time.now", "{}"], &[]).await;
    let names = tool_names(&answer);
    assert!(names.contains(&"time.now".to_string()), "{names:?}");
    assert!(
        names.contains(&"system.run".to_string()),
        "listed by the operator: {names:?}"
    );
    assert!(text_of(&answer).contains("20"), "{answer}");

    let wrong = client(
        &[
            "http",
            &url,
            "not-the-token-000000000000000",
            "time.now",
            "{}",
        ],
        &[],
    )
    .await;
    let error = wrong["error"].as_str().unwrap_or_else(|| panic!("{wrong}"));
    assert!(error.contains("missing or wrong bearer token"), "{error}");
    // On the wire: 401 with a Bearer challenge, and nothing served.
    let (status, head, body) =
        openpista_tests::http_get_full(running.local_addr().unwrap(), "/mcp").await;
    assert_eq!(status, 401, "{body}");
    assert!(
        head.to_ascii_lowercase()
            .contains("www-authenticate: bearer"),
        "{head}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_token_is_refused_at_start() {
    let root = tempfile::tempdir().unwrap();
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n[channels.web]\nenabled = false\n[mcp.serve]\ntoken = \"short\"\n[runtime]\nplugin_dirs = []\ncache_dir = \"{r}/cache\"\n[memory]\npath = \"{r}/memory.redb\"\n",
        r = root.path().display()
    );
    let config = Config::parse(&text, "test config").unwrap();
    let err = start(&config).await.err().expect("refused").to_string();
    assert!(err.contains("[mcp.serve] token"), "{err}");
}
