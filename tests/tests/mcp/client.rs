//! openpista as an MCP client of real servers.

use super::{eventually, everything, node, npm_dir};
use openpista::agent::Agent;
use openpista::config::Config;
use openpista::mcp::McpClients;
use openpista::mcp::client::State;
use openpista::tools::{ToolRegistry, ToolSource};
use openpista_tests::ctx;
use openpista_tests::doubles::openai::{OpenAiDouble, Reply};
use std::sync::Arc;
use std::time::Duration;

const KEY_ENV: &str = "OPENPISTA_TEST_MCP_KEY";

/// A host config in `root` with the OpenAI double as provider and `mcp`
/// (TOML) appended.
pub(crate) fn config(root: &std::path::Path, base_url: &str, mcp: &str) -> Config {
    // SAFETY: every test of this binary sets the same value.
    unsafe { std::env::set_var(KEY_ENV, "sk-mcp-test") };
    Config::parse(
        &format!(
            r#"
[agent]
provider = "main"
[providers.main]
preset = "custom"
base_url = "{base_url}"
model = "gpt-test"
api_key_env = "{KEY_ENV}"
[runtime]
plugin_dirs = []
cache_dir = "{root}/cache"
[memory]
path = "{root}/memory.redb"
{mcp}
"#,
            root = root.display()
        ),
        "test config",
    )
    .unwrap()
}

/// The registry and MCP clients `config` describes, once every server's
/// first attempt ended.
pub(crate) async fn tools(config: &Config) -> (Arc<ToolRegistry>, Arc<McpClients>, Agent) {
    let (runtime, memory, setup) = openpista::cli::build(config).unwrap();
    runtime.load_all().await;
    let (registry, toolbox) = openpista::cli::tools(config, &runtime);
    let mcp = toolbox.mcp.clone().unwrap();
    mcp.settled(Duration::from_secs(30)).await;
    let agent = Agent {
        tools: registry.clone(),
        runtime,
        memory,
        settings: config.agent_settings(&setup),
    };
    // The toolbox holds nothing the test needs beyond the clients.
    std::mem::forget(toolbox);
    (registry, mcp, agent)
}

fn stdio_everything(marker: &str) -> String {
    format!(
        "[mcp.servers.everything]\ncommand = \"node\"\nargs = [\"{}\", \"stdio\"]\noutside_sandbox = true\ntimeout_secs = 20\nenv = {{ OPENPISTA_TEST_MARKER = \"{marker}\" }}\n",
        everything()
    )
}

pub(crate) fn names(registry: &ToolRegistry) -> Vec<String> {
    registry.list().into_iter().map(|e| e.spec.name).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdio_tools_reach_the_model_and_results_come_back() {
    if node().is_none() {
        return;
    }
    // SAFETY: only this test reads this variable.
    unsafe { std::env::set_var("OPENPISTA_TEST_LEAK", "leaked") };
    let root = tempfile::tempdir().unwrap();
    let double = OpenAiDouble::start().await;
    double.push(Reply::stream_tool_calls(&[(
        "call_1",
        "mcp__everything__get-sum",
        &["{\"a\": 19, \"b\": 23}"],
    )]));
    double.push(Reply::stream_tool_calls(&[(
        "call_2",
        "mcp__everything__get-tiny-image",
        &["{}"],
    )]));
    double.push(Reply::stream_text(&[
        "The sum is 42 and there is an image.",
    ]));
    let config = config(root.path(), &double.base_url(), &stdio_everything("sum"));
    let (registry, mcp, agent) = tools(&config).await;
    let status = mcp.status();
    assert_eq!(status[0].state, State::Ready, "{status:?}");
    let listed = names(&registry);
    for tool in [
        "mcp.everything.echo",
        "mcp.everything.get-sum",
        "mcp.everything.resources",
        "mcp.everything.read",
    ] {
        assert!(listed.contains(&tool.to_string()), "{tool} in {listed:?}");
    }
    let entry = registry
        .list()
        .into_iter()
        .find(|e| e.spec.name == "mcp.everything.get-sum")
        .unwrap();
    assert_eq!(
        entry.source,
        ToolSource::Mcp {
            server: "everything".into()
        }
    );
    assert!(
        entry.spec.parameters.contains("\"a\""),
        "{}",
        entry.spec.parameters
    );

    // The process has its table's environment and PATH, nothing else of
    // the host's.
    let env = registry
        .invoke("mcp.everything.get-env", "{}", &ctx("e1"))
        .await
        .unwrap();
    assert!(
        env.content.contains("OPENPISTA_TEST_MARKER"),
        "{}",
        env.content
    );
    assert!(!env.content.contains("leaked"), "{}", env.content);
    assert!(!env.content.contains(KEY_ENV), "{}", env.content);

    let outcome = agent
        .turn("test:mcp", "add 19 and 23, then show an image", |_| {})
        .await
        .unwrap();
    assert_eq!(outcome.answer, "The sum is 42 and there is an image.");
    let requests = double.requests();
    // The model was offered the MCP tools with their schemas.
    let offered = requests[0].body["tools"].to_string();
    assert!(offered.contains("mcp__everything__get-sum"), "{offered}");
    let second = requests[1].body["messages"].to_string();
    assert!(second.contains("42"), "the sum reaches the model: {second}");
    let third = requests[2].body["messages"].to_string();
    assert!(
        third.contains("data:image/png;base64,"),
        "the image reaches the model"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resources_prompts_and_list_changes_of_the_reference_server() {
    if node().is_none() {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let double = OpenAiDouble::start().await;
    double.push(Reply::stream_text(&["It is sunny."]));
    let config = config(root.path(), &double.base_url(), &stdio_everything("res"));
    let (registry, mcp, agent) = tools(&config).await;

    // The server registers tools once initialised and says so with
    // notifications/tools/list_changed; the client lists again.
    assert!(
        eventually(Duration::from_secs(20), || mcp.status()[0].list_changes > 0).await,
        "{:?}",
        mcp.status()
    );
    assert!(names(&registry).contains(&"mcp.everything.simulate-research-query".to_string()));

    let listed = registry
        .invoke("mcp.everything.resources", "{}", &ctx("r1"))
        .await
        .unwrap();
    let uri = listed
        .content
        .lines()
        .map(|l| l.split_whitespace().next().unwrap_or(""))
        .find(|u| u.starts_with("demo://resource/static/document/"))
        .unwrap_or_else(|| panic!("a static document in {}", listed.content))
        .to_string();
    let read = registry
        .invoke(
            "mcp.everything.read",
            &serde_json::json!({ "uri": uri }).to_string(),
            &ctx("r2"),
        )
        .await
        .unwrap();
    assert!(!read.is_error);
    assert!(read.content.len() > 20, "{}", read.content);
    let missing = registry
        .invoke("mcp.everything.read", "{}", &ctx("r3"))
        .await
        .unwrap_err()
        .to_string();
    assert!(missing.contains("needs \"uri\""), "{missing}");

    // A prompt: listed, filled in, and sent as the turn's message.
    let prompts = mcp.prompts();
    assert!(
        prompts.iter().any(|p| p.name == "args-prompt"),
        "{prompts:?}"
    );
    let text = mcp
        .prompt_text("args-prompt", "Paris state=IDF")
        .await
        .unwrap();
    assert_eq!(text, "What's weather in Paris, IDF?");
    let err = mcp.prompt_text("args-prompt", "").await.unwrap_err();
    assert!(err.contains("needs city"), "{err}");
    let outcome = agent.turn("test:prompt", &text, |_| {}).await.unwrap();
    assert_eq!(outcome.answer, "It is sunny.");
    let sent = double.requests()[0].body["messages"].to_string();
    assert!(sent.contains("What's weather in Paris, IDF?"), "{sent}");
}

/// The pid of the process whose environment holds `marker`.
fn pid_with(marker: &str) -> Option<i32> {
    let needle = format!("OPENPISTA_TEST_MARKER={marker}");
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: i32 = e.file_name().to_str()?.parse().ok()?;
        let env = std::fs::read(e.path().join("environ")).ok()?;
        env.split(|b| *b == 0)
            .any(|v| v == needle.as_bytes())
            .then_some(pid)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_mid_session_is_reported_and_reconnected() {
    if node().is_none() {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let marker = format!("kill-{}", std::process::id());
    let config = config(
        root.path(),
        "http://127.0.0.1:9",
        &stdio_everything(&marker),
    );
    let (registry, mcp, _agent) = tools(&config).await;
    let echo = "{\"message\": \"before\"}";
    let before = registry
        .invoke("mcp.everything.echo", echo, &ctx("k1"))
        .await
        .unwrap();
    assert!(before.content.contains("before"), "{}", before.content);

    let pid = pid_with(&marker).expect("the server process");
    // SAFETY: killing a child process of this test.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    assert!(
        eventually(Duration::from_secs(10), || mcp.status()[0].state
            == State::Down)
        .await,
        "{:?}",
        mcp.status()
    );
    let down = mcp.status().remove(0);
    assert!(
        down.last_error.as_deref().unwrap_or("").contains("closed"),
        "{down:?}"
    );
    assert!(
        eventually(Duration::from_secs(20), || {
            let s = &mcp.status()[0];
            s.state == State::Ready && s.connections == 2
        })
        .await,
        "{:?}",
        mcp.status()
    );
    assert_ne!(pid_with(&marker), Some(pid), "a new process");
    let after = registry
        .invoke(
            "mcp.everything.echo",
            "{\"message\": \"after\"}",
            &ctx("k3"),
        )
        .await
        .unwrap();
    assert!(after.content.contains("after"), "{}", after.content);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tool_added_later_is_picked_up_from_list_changed() {
    if node().is_none() {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let script = npm_dir().join("changing-server.mjs");
    let mcp = format!(
        "[mcp.servers.changing]\ncommand = \"node\"\nargs = [\"{}\"]\noutside_sandbox = true\n",
        script.display()
    );
    let config = config(root.path(), "http://127.0.0.1:9", &mcp);
    let (registry, mcp, _agent) = tools(&config).await;
    assert!(!names(&registry).contains(&"mcp.changing.added".to_string()));
    registry
        .invoke("mcp.changing.add-tool", "{}", &ctx("c1"))
        .await
        .unwrap();
    assert!(
        eventually(Duration::from_secs(10), || names(&registry)
            .contains(&"mcp.changing.added".to_string()))
        .await,
        "{:?}",
        mcp.status()
    );
    let said = registry
        .invoke("mcp.changing.added", "{\"word\": \"hi\"}", &ctx("c2"))
        .await
        .unwrap();
    assert_eq!(said.content, "added says hi");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_servers_ask_before_acting_from_messengers() {
    use openpista::approvals::policy::{Action, default_action};
    use openpista::tools::ToolKind;
    if node().is_none() {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let config = config(root.path(), "http://127.0.0.1:9", &stdio_everything("kind"));
    let (registry, _mcp, _agent) = tools(&config).await;
    let kind = registry.kind("mcp.everything.echo");
    assert_eq!(
        kind,
        ToolKind::Skill {
            outside_sandbox: true
        }
    );
    assert_eq!(default_action(kind, "telegram"), Action::Ask);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_list_shows_state_tools_and_errors() {
    if node().is_none() {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let config = root.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[runtime]\nplugin_dirs = []\ncache_dir = \"{r}/cache\"\n[memory]\npath = \"{r}/memory.redb\"\n{}\n[mcp.servers.bad]\ncommand = \"node\"\n",
            stdio_everything("list"),
            r = root.path().display()
        ),
    )
    .unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_openpista-cli"))
        .args(["mcp", "list"])
        .env("OPENPISTA_HOME", root.path())
        .env("OPENPISTA_CONFIG", &config)
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    let everything = text
        .lines()
        .find(|l| l.starts_with("everything"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(everything.contains("ready"), "{text}");
    assert!(text.contains("mcp.everything.get-sum"), "{text}");
    assert!(text.contains("prompts: "), "{text}");
    let bad = text.lines().find(|l| l.starts_with("bad")).unwrap();
    assert!(bad.contains("refused"), "{text}");
    assert!(text.contains("outside_sandbox = true"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slash_prompt_sends_the_prompt_from_a_channel() {
    if node().is_none() {
        return;
    }
    const WEB_ENV: &str = "OPENPISTA_TEST_MCP_WEB_TOKEN";
    const WEB_TOKEN: &str = "mcp-web-token-0123456789abcdef";
    // SAFETY: only this test reads this variable.
    unsafe { std::env::set_var(WEB_ENV, WEB_TOKEN) };
    let root = tempfile::tempdir().unwrap();
    let double = OpenAiDouble::start().await;
    double.push(Reply::stream_text(&["Rainy in Lyon."]));
    let extra = format!(
        "{}\n{}",
        openpista_tests::web_host_sections(WEB_ENV),
        stdio_everything("slash")
    );
    let config = config(root.path(), &double.base_url(), &extra);
    let running = openpista::cli::serve::start(&config).await.unwrap();
    let addr = running.local_addr().unwrap();
    // The server's first connection may still be under way.
    let mut listing = String::new();
    for _ in 0..100 {
        listing = openpista_tests::web_chat(addr, WEB_TOKEN, "mcp-client-1", "/prompt").await;
        if listing.contains("args-prompt") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        listing.contains("everything.args-prompt city [state]"),
        "{listing}"
    );
    let missing =
        openpista_tests::web_chat(addr, WEB_TOKEN, "mcp-client-1", "/prompt args-prompt").await;
    assert!(missing.contains("needs city"), "{missing}");
    assert!(
        double.requests().is_empty(),
        "no turn for an incomplete prompt"
    );
    let answer = openpista_tests::web_chat(
        addr,
        WEB_TOKEN,
        "mcp-client-1",
        "/prompt args-prompt city=Lyon",
    )
    .await;
    assert_eq!(answer, "Rainy in Lyon.");
    let sent = double.requests()[0].body["messages"].to_string();
    assert!(sent.contains("What's weather in Lyon?"), "{sent}");
}
