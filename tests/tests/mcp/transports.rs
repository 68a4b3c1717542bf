//! The transports besides a local process: streamable HTTP through the
//! outbound policy, the HTTP+SSE fallback, and a process in a container.

use super::client::{config, names, tools};
use super::{eventually, everything, free_port, node};
use openpista::mcp::client::State;
use openpista_tests::ctx;
use std::time::Duration;

/// The reference server on streamable HTTP at a port of its own.
struct HttpServer {
    port: u16,
    child: std::process::Child,
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn http_everything() -> HttpServer {
    serve_everything("streamableHttp").await
}

async fn serve_everything(mode: &str) -> HttpServer {
    serve_everything_on(mode, free_port()).await
}

async fn serve_everything_on(mode: &str, port: u16) -> HttpServer {
    let child = std::process::Command::new("node")
        .arg(everything())
        .arg(mode)
        .env("PORT", port.to_string())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let ready = eventually(Duration::from_secs(20), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    })
    .await;
    assert!(ready, "server-everything listens on {port}");
    HttpServer { port, child }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamable_http_server_through_the_outbound_policy() {
    if node().is_none() {
        return;
    }
    let server = http_everything().await;
    let root = tempfile::tempdir().unwrap();
    let port = server.port;
    let mcp = format!(
        r#"
[secrets]
mcp_header = {{ value = "header-secret-value" }}
[mcp.servers.web]
url = "http://127.0.0.1:{port}/mcp"
hosts = ["127.0.0.1:{port}"]
headers = {{ X-Test = "{{{{secret:mcp_header}}}}" }}
[mcp.servers.ungranted]
url = "http://127.0.0.1:{port}/mcp"
hosts = ["example.com"]
[mcp.servers.named]
url = "http://localhost:{port}/mcp"
hosts = ["localhost:{port}"]
[mcp.servers.nohost]
command = "node"
args = ["{}", "stdio"]
"#,
        everything()
    );
    let config = config(root.path(), "http://127.0.0.1:9", &mcp);
    let (registry, mcp, _agent) = tools(&config).await;
    let status = mcp.status();
    let by = |n: &str| status.iter().find(|s| s.name == n).unwrap().clone();
    assert_eq!(by("web").state, State::Ready, "{status:?}");
    let sum = registry
        .invoke("mcp.web.get-sum", "{\"a\": 2, \"b\": 40}", &ctx("h1"))
        .await
        .unwrap();
    assert!(sum.content.contains("42"), "{}", sum.content);

    let ungranted = by("ungranted");
    assert_eq!(ungranted.state, State::Refused);
    assert!(
        ungranted
            .last_error
            .unwrap()
            .contains("not among the server's granted hosts"),
    );
    // A grant naming `localhost` may reach loopback.
    let named = by("named");
    assert_eq!(named.state, State::Ready, "{named:?}");
    let stdio = by("nohost");
    assert_eq!(stdio.state, State::Refused);
    assert!(stdio.last_error.unwrap().contains("outside_sandbox = true"));
    // Nothing of the refused servers reached the registry.
    assert!(
        !names(&registry)
            .iter()
            .any(|n| n.starts_with("mcp.ungranted.") || n.starts_with("mcp.nohost."))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_sse_server_is_reached_through_the_fallback() {
    if node().is_none() {
        return;
    }
    let server = serve_everything("sse").await;
    let root = tempfile::tempdir().unwrap();
    let port = server.port;
    let mcp = format!(
        "[mcp.servers.old]\nurl = \"http://127.0.0.1:{port}/sse\"\nhosts = [\"127.0.0.1:{port}\"]\n"
    );
    let config = config(root.path(), "http://127.0.0.1:9", &mcp);
    let (registry, mcp, _agent) = tools(&config).await;
    assert_eq!(mcp.status()[0].state, State::Ready, "{:?}", mcp.status());
    let echo = registry
        .invoke("mcp.old.echo", "{\"message\": \"over sse\"}", &ctx("s1"))
        .await
        .unwrap();
    assert!(echo.content.contains("over sse"), "{}", echo.content);
}

/// A minimal MCP server in busybox sh: `initialize`, `tools/list` and one
/// tool, `netifs`, that reports the container's network interfaces and
/// the environment variable it was given.
const SH_SERVER: &str = r#"
while IFS= read -r line; do
  case "$line" in *'"id":'*) id=${line#*\"id\":}; id=${id%%[,\}]*};; *) id=;; esac
  reply() { printf '%s\n' "{\"jsonrpc\":\"2.0\",\"id\":$id,\"result\":$1}"; }
  case "$line" in
    *'"method":"initialize"'*) reply '{"protocolVersion":"2025-06-18","capabilities":{"tools":{}},"serverInfo":{"name":"busybox","version":"1"}}';;
    *'"method":"tools/list"'*) reply '{"tools":[{"name":"netifs","description":"network interfaces","inputSchema":{"type":"object"}}]}';;
    *'"method":"tools/call"'*) n=$(ls /sys/class/net | tr '\n' ' '); reply "{\"content\":[{\"type\":\"text\",\"text\":\"interfaces: $n; greeting: $GREETING\"}]}";;
    *'"method":"ping"'*) reply '{}';;
  esac
done
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_server_has_no_network_unless_granted() {
    if openpista_tests::native::docker::engine().await.is_none() {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let script = toml::Value::String(SH_SERVER.to_string()).to_string();
    let image = openpista_tests::native::docker::IMAGE;
    let mcp = format!(
        r#"
[mcp.servers.boxed]
command = "sh"
args = ["-c", {script}]
container = "{image}"
env = {{ GREETING = "hello" }}
[mcp.servers.online]
command = "sh"
args = ["-c", {script}]
container = "{image}"
network = true
"#
    );
    let config = config(root.path(), "http://127.0.0.1:9", &mcp);
    let (registry, mcp, _agent) = tools(&config).await;
    assert!(
        mcp.status().iter().all(|s| s.state == State::Ready),
        "{:?}",
        mcp.status()
    );
    // Contained: not outside the sandbox, so no approval by default.
    assert_eq!(
        registry.kind("mcp.boxed.netifs"),
        openpista::tools::ToolKind::Skill {
            outside_sandbox: false
        }
    );
    let boxed = registry
        .invoke("mcp.boxed.netifs", "{}", &ctx("d1"))
        .await
        .unwrap();
    assert!(
        boxed.content.starts_with("interfaces: lo ;"),
        "{}",
        boxed.content
    );
    assert!(
        boxed.content.ends_with("greeting: hello"),
        "{}",
        boxed.content
    );
    let online = registry
        .invoke("mcp.online.netifs", "{}", &ctx("d2"))
        .await
        .unwrap();
    assert!(online.content.contains("eth0"), "{}", online.content);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_server_that_went_away_is_reconnected_when_back() {
    if node().is_none() {
        return;
    }
    let server = http_everything().await;
    let port = server.port;
    let root = tempfile::tempdir().unwrap();
    let mcp = format!(
        "[mcp.servers.web]\nurl = \"http://127.0.0.1:{port}/mcp\"\nhosts = [\"127.0.0.1:{port}\"]\ntimeout_secs = 10\n"
    );
    let config = config(root.path(), "http://127.0.0.1:9", &mcp);
    let (registry, mcp, _agent) = tools(&config).await;
    let sum = "{\"a\": 1, \"b\": 2}";
    let first = registry
        .invoke("mcp.web.get-sum", sum, &ctx("w1"))
        .await
        .unwrap();
    assert!(first.content.contains('3'), "{}", first.content);

    drop(server);
    // The SDK's HTTP worker outlives its server: the failed call is what
    // tells the client, which drops the connection and its tools.
    let gone = registry
        .invoke("mcp.web.get-sum", sum, &ctx("w2"))
        .await
        .expect_err("the server is gone");
    assert!(gone.to_string().contains("MCP server web"), "{gone}");
    assert!(
        eventually(Duration::from_secs(10), || mcp.status()[0].state
            == State::Down)
        .await,
        "{:?}",
        mcp.status()
    );
    assert!(!names(&registry).contains(&"mcp.web.get-sum".to_string()));

    let _back = serve_everything_on("streamableHttp", port).await;
    assert!(
        eventually(Duration::from_secs(30), || {
            let s = &mcp.status()[0];
            s.state == State::Ready && s.connections == 2
        })
        .await,
        "{:?}",
        mcp.status()
    );
    let again = registry
        .invoke("mcp.web.get-sum", sum, &ctx("w3"))
        .await
        .unwrap();
    assert!(again.content.contains('3'), "{}", again.content);
}
