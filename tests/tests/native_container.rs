//! `container.run` against a real Docker engine: what a task container can
//! and cannot do (no network, read-only workspace, memory cap, deadline),
//! that it is gone afterwards, that its token lives exactly as long as it
//! does and opens its task API, that a worker's report comes back, and
//! what happens when no daemon answers (subprocess with a warning, or an
//! error). The image is a busybox built here from the host's static
//! busybox, since no registry is reachable.
//!
//! Without a Docker engine the engine tests skip loudly (and fail under
//! CI); the refusal and fallback tests need no engine.

use bollard::Docker;
use bollard::query_parameters::ListContainersOptionsBuilder;
use openpista::native::container::{Containers, ReportSource, TaskMode, TaskOutcome, TaskRequest};
use openpista::native::env::EnvScrub;
use openpista::native::settings::{ContainerFallback, ContainerSettings};
use openpista::runtime::CallContext;
use openpista::runtime::bindings::{ToolResult, WitError};
use openpista::tools::NativeTool;
use openpista_tests::native::docker::{IMAGE, engine};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinHandle;

// ---- fixtures ----

fn settings() -> ContainerSettings {
    ContainerSettings {
        image: IMAGE.into(),
        timeout_secs: 60,
        ..ContainerSettings::default()
    }
}

/// A workspace holding `hello.txt`.
fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hello.txt"), "hello from the host\n").unwrap();
    dir
}

/// One test's world: a workspace and this host's containers, with the
/// engine when the test needs one.
struct World {
    docker: Option<Docker>,
    ws: tempfile::TempDir,
    containers: Arc<Containers>,
    tool: Arc<dyn NativeTool>,
}

impl World {
    fn new(settings: ContainerSettings) -> World {
        let ws = workspace();
        let containers = Containers::new(settings, EnvScrub::default(), ws.path().to_path_buf());
        let tools = openpista::native::container::tools(&containers);
        assert_eq!(tools.len(), 1);
        assert_eq!(tools[0].spec().name, "container.run");
        World {
            docker: None,
            tool: tools[0].clone(),
            ws,
            containers,
        }
    }

    /// With the engine; `None` (after a loud skip) without one.
    async fn with_engine(settings: ContainerSettings) -> Option<World> {
        let docker = engine().await?;
        Some(World {
            docker: Some(docker),
            ..World::new(settings)
        })
    }

    /// Calls `container.run` as the agent does.
    async fn try_call(&self, arguments: Value) -> Result<ToolResult, WitError> {
        let context = CallContext {
            session: Some("test:1".into()),
            call_id: "t".into(),
        };
        self.tool.invoke(&arguments.to_string(), &context).await
    }

    /// A tool call that must not be refused.
    async fn call(&self, arguments: Value) -> ToolResult {
        self.try_call(arguments).await.unwrap()
    }

    async fn run(&self, request: TaskRequest) -> TaskOutcome {
        self.containers.run_task(request).await.unwrap()
    }

    /// Runs `request` in the background.
    fn spawn(&self, request: TaskRequest) -> JoinHandle<Result<TaskOutcome, WitError>> {
        let containers = self.containers.clone();
        tokio::spawn(async move { containers.run_task(request).await })
    }

    /// This host's containers still present, running or not.
    async fn leftovers(&self) -> Vec<String> {
        let host = format!("openpista.host={}", self.containers.host_id());
        let filters = HashMap::from([("label", vec![host])]);
        let options = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&filters)
            .build();
        let found = self.docker.as_ref().unwrap().list_containers(Some(options));
        found
            .await
            .unwrap()
            .into_iter()
            .filter_map(|c| c.id)
            .collect()
    }

    /// Asserts every container of this host is gone (within `wait`).
    async fn assert_gone(&self, wait: Duration) {
        let deadline = Instant::now() + wait;
        loop {
            let left = self.leftovers().await;
            if left.is_empty() {
                return;
            }
            assert!(Instant::now() < deadline, "containers left: {left:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The test's [`World`] with the engine, or a (loud) skip without one.
macro_rules! world {
    ($settings:expr) => {
        match World::with_engine($settings).await {
            Some(world) => world,
            None => return,
        }
    };
}

/// Asserts `text` holds every one of `needles`.
#[track_caller]
fn has(text: &str, needles: &[&str]) {
    for needle in needles {
        assert!(text.contains(needle), "{needle:?} is missing from:\n{text}");
    }
}

fn task(command: &str) -> TaskRequest {
    TaskRequest {
        command: command.into(),
        ..TaskRequest::default()
    }
}

/// The token a task wrote to `out/token` (waiting for it).
async fn token_from(out: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = std::fs::read_to_string(out.join("token")).unwrap_or_default();
        if text.ends_with('\n') {
            return text.trim().to_string();
        }
        assert!(Instant::now() < deadline, "the task never wrote its token");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One HTTP/1.1 request over the unix socket `socket`: (status, body).
async fn http(socket: &Path, method: &str, path: &str, token: &str, body: &str) -> (u16, String) {
    let mut stream = tokio::net::UnixStream::connect(socket).await.unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: task\r\nAuthorization: Bearer {token}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response.split(' ').nth(1).and_then(|s| s.parse().ok());
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_string());
    (status.unwrap_or(0), body.unwrap_or_default())
}

// ---- isolation ----

#[tokio::test]
async fn a_container_has_no_network_and_only_reads_the_workspace() {
    let w = world!(settings());
    let result = w
        .call(json!({
            "command": "echo \"net: $(ls /sys/class/net | tr '\\n' ' ')\"; \
                        echo \"pwd: $(pwd)\"; cat hello.txt; \
                        if touch /workspace/x 2>/dev/null; then echo WROTE; else echo CANNOT_WRITE; fi; \
                        if env | grep -q CARGO; then echo HOST_ENV_LEAKED; fi; \
                        echo out-file > /openpista/out/result.txt"
        }))
        .await;
    let text = &result.content;
    assert!(!result.is_error, "{text}");
    // Only the loopback; the host's environment stays out.
    has(
        text,
        &["net: lo \n", "pwd: /workspace", "hello from the host"],
    );
    has(
        text,
        &["CANNOT_WRITE", "no network", "result.txt (9 bytes)"],
    );
    assert!(
        !text.contains("WROTE") && !text.contains("HOST_ENV_LEAKED"),
        "{text}"
    );
    let names: Vec<_> = std::fs::read_dir(w.ws.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec!["hello.txt"], "the host folder is unchanged");
    w.assert_gone(Duration::ZERO).await;
}

#[tokio::test]
async fn exit_code_stdout_stderr_and_stdin_are_collected() {
    let w = world!(settings());
    let result = w
        .call(json!({"command": "echo out; echo err >&2; exit 3"}))
        .await;
    assert!(result.is_error, "a failed command is a failed result");
    has(
        &result.content,
        &["exit code: 3\n--- stdout ---\nout\n--- stderr ---\nerr\n"],
    );

    let outcome = w
        .run(TaskRequest {
            stdin: Some(b"piped in".to_vec()),
            ..task("cat; echo; echo \"[$OPENPISTA_TASK_ID]\" >&2")
        })
        .await;
    assert_eq!(
        (outcome.mode, outcome.exit_code),
        (TaskMode::Docker, Some(0))
    );
    assert!(outcome.succeeded());
    assert_eq!(outcome.stdout.text, "piped in\n");
    assert_eq!(outcome.stderr.text, format!("[{}]\n", outcome.task_id));
    assert!(outcome.container_id.is_some() && outcome.warning.is_none());
    w.assert_gone(Duration::ZERO).await;

    let chatty = World::with_engine(ContainerSettings {
        output_limit: 1000,
        ..settings()
    })
    .await
    .unwrap();
    let result = chatty
        .call(json!({"command": "head -c 50000 /dev/zero | tr '\\0' x"}))
        .await;
    has(
        &result.content,
        &["[output cut: showing 1000 of 50000 characters, 49000 omitted]"],
    );
}

#[tokio::test]
async fn the_deadline_kills_the_container() {
    let w = world!(settings());
    let started = Instant::now();
    let result = w
        .call(json!({"command": "echo started; sleep 60", "timeout_secs": 2}))
        .await;
    let took = started.elapsed();
    assert!(took < Duration::from_secs(20), "took {took:?}");
    assert!(result.is_error);
    has(
        &result.content,
        &["timed out after 2.0 s: the container was killed", "started"],
    );
    w.assert_gone(Duration::ZERO).await;
}

#[tokio::test]
async fn memory_is_capped_and_an_out_of_memory_kill_is_reported() {
    let w = world!(settings());
    let cap = w
        .run(TaskRequest {
            memory_mb: Some(32),
            ..task("cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max")
        })
        .await;
    assert_eq!(cap.stdout.text.trim(), (32u64 << 20).to_string());
    assert_eq!(cap.memory_mb, 32);
    let asked_more = w
        .run(TaskRequest {
            memory_mb: Some(1 << 20),
            ..task("true")
        })
        .await;
    assert_eq!(asked_more.memory_mb, 512, "a call cannot raise the cap");

    let result = w
        .call(json!({
            "command": "x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo survived",
            "memory_mb": 32
        }))
        .await;
    assert!(result.is_error);
    has(
        &result.content,
        &["exit code: 137 (killed: out of memory, cap 32 MiB)"],
    );
    assert!(!result.content.contains("survived"));
    w.assert_gone(Duration::ZERO).await;
}

// ---- the task token, the task API and the worker's report ----

#[tokio::test]
async fn the_token_lives_while_the_task_runs_and_opens_its_api() {
    let w = world!(settings());
    let out = tempfile::tempdir().unwrap();
    let running = w.spawn(TaskRequest {
        task: Some("summarize the workspace".into()),
        out_dir: Some(out.path().to_path_buf()),
        ..task(
            "echo \"$OPENPISTA_TASK_TOKEN\" > /openpista/out/token; \
             echo \"$OPENPISTA_TASK_SOCKET $OPENPISTA_REPORT\"; \
             ls /openpista/run; cat /openpista/task.md; echo; sleep 4",
        )
    });
    let token = token_from(out.path()).await;
    assert_eq!(token.len(), 64, "{token}");
    assert!(
        w.containers.token_valid(&token),
        "valid while the task runs"
    );
    let tasks = w.containers.running();
    assert_eq!(tasks.len(), 1);
    let socket = tasks[0].socket.clone();

    let (status, body) = http(&socket, "GET", "/task", &token, "").await;
    assert_eq!(status, 200, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["task"], "summarize the workspace");
    assert_eq!(body["task_id"], tasks[0].task_id.as_str());
    let (status, _) = http(&socket, "GET", "/task", &"0".repeat(64), "").await;
    assert_eq!(status, 401, "a wrong token is refused");
    let (status, body) = http(&socket, "POST", "/report", &token, "reported over the API").await;
    assert_eq!(status, 200, "{body}");

    let outcome = running.await.unwrap().unwrap();
    assert_eq!(outcome.exit_code, Some(0));
    assert_eq!(outcome.report.as_deref(), Some("reported over the API"));
    assert_eq!(outcome.report_source, Some(ReportSource::TaskApi));
    let seen =
        "/openpista/run/task.sock /openpista/out/report.md\ntask.sock\nsummarize the workspace\n";
    assert!(
        outcome.stdout.text.starts_with(seen),
        "{:?}",
        outcome.stdout.text
    );
    assert!(
        !w.containers.token_valid(&token),
        "revoked when the task ended"
    );
    assert!(!socket.exists(), "the socket is removed");
    assert!(w.containers.running().is_empty());
    assert!(
        out.path().join("token").exists(),
        "the caller's folder is kept"
    );
    w.assert_gone(Duration::ZERO).await;
}

#[tokio::test]
async fn a_worker_report_comes_back_into_the_result() {
    let w = world!(settings());
    let result = w
        .call(json!({
            "task": "Count the files in the workspace and report the number.",
            "command": "test -r \"$OPENPISTA_TASK_FILE\" || exit 9; \
                        n=$(ls /workspace | wc -l); \
                        printf 'the workspace holds %s file\\n' \"$n\" > \"$OPENPISTA_REPORT\"; echo worked"
        }))
        .await;
    let text = &result.content;
    assert!(!result.is_error, "{text}");
    let report =
        "--- report (from report.md) ---\nthe workspace holds 1 file\n--- end of report ---\n";
    has(text, &[report, "worked"]);
    assert!(
        text.find(report) < text.find("exit code: 0"),
        "the report comes first: {text}"
    );
}

/// The orchestrator/worker path through the agent: the model hands a task
/// to a worker container, the worker's report is the tool result the
/// model reads next, and the session keeps it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_hands_a_task_to_a_worker_and_reads_its_report() {
    use openpista::agent::Agent;
    use openpista::config::Config;
    use openpista::tools::ToolRegistry;
    use openpista_tests::doubles::openai::{OpenAiDouble, Reply};

    let w = world!(settings());
    const KEY_ENV: &str = "OPENPISTA_TEST_WORKER_KEY";
    // SAFETY: only this test reads this variable.
    unsafe { std::env::set_var(KEY_ENV, "sk-worker-test") };
    let root = tempfile::tempdir().unwrap();
    let double = OpenAiDouble::start().await;
    let args = json!({
        "task": "Say how many files the workspace has.",
        "command": "n=$(ls /workspace | wc -l); printf 'WORKER-REPORT: %s file(s)\\n' \"$n\" > \"$OPENPISTA_REPORT\""
    })
    .to_string();
    double.push(Reply::stream_tool_calls(&[(
        "call_w",
        "container__run",
        &[&args],
    )]));
    double.push(Reply::stream_text(&["The worker counted one file."]));
    let config = Config::parse(
        &format!(
            r#"
[agent]
provider = "main"
[providers.main]
preset = "custom"
base_url = "{}"
model = "gpt-test"
api_key_env = "{KEY_ENV}"
[runtime]
plugin_dirs = []
cache_dir = "{root}/cache"
[memory]
path = "{root}/memory.redb"
"#,
            double.base_url(),
            root = root.path().display()
        ),
        "test config",
    )
    .unwrap();
    let (runtime, memory, setup) = openpista::cli::build(&config).unwrap();
    assert!(runtime.load_all().await.is_empty());
    let mut tools = ToolRegistry::new(runtime.clone());
    tools.add_native(w.tool.clone());
    let agent = Agent {
        tools: Arc::new(tools),
        runtime,
        memory,
        settings: config.agent_settings(&setup),
    };
    let outcome = agent
        .turn("test:worker", "how big is the workspace?", |_| {})
        .await
        .unwrap();
    assert_eq!(outcome.answer, "The worker counted one file.");

    // The model's second request carries the report as the tool's answer.
    let second = &double.requests()[1].body["messages"];
    let tool = second
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "tool")
        .unwrap();
    assert!(
        tool["content"]
            .as_str()
            .unwrap()
            .contains("WORKER-REPORT: 1 file(s)"),
        "{tool}"
    );
    // And the session keeps it.
    let stored = agent.memory.messages("test:worker", 10).unwrap();
    assert!(
        stored
            .iter()
            .any(|m| m.role == "tool" && m.content.contains("WORKER-REPORT: 1 file(s)")),
        "{stored:?}"
    );
    w.assert_gone(Duration::from_secs(5)).await;
}

// ---- refusals ----

#[tokio::test]
async fn unconfigured_images_and_unallowed_network_are_refused() {
    let mut s = settings();
    s.images.insert("tools".into(), "example/tools:1".into());
    let w = World::new(s);
    let e = w
        .try_call(json!({"command": "true", "image": "alpine:latest"}))
        .await;
    let Err(WitError::Denied(m)) = e else {
        panic!("{e:?}")
    };
    has(&m, &["alpine:latest", IMAGE, "tools (example/tools:1)"]);
    let e = w
        .try_call(json!({"command": "true", "network": true}))
        .await;
    assert!(
        matches!(&e, Err(WitError::Denied(m)) if m.contains("allow_network")),
        "{e:?}"
    );
    let resolve = |asked| w.containers.resolve_image(asked).unwrap();
    assert_eq!(resolve(Some("tools")), "example/tools:1");
    assert_eq!(resolve(Some("example/tools:1")), "example/tools:1");
    assert_eq!(resolve(None), IMAGE);
    has(
        &w.tool.spec().description,
        &["/workspace", "/openpista/out", "report"],
    );
}

#[tokio::test]
async fn a_configured_image_is_run_by_short_name_and_a_missing_one_is_not_pulled() {
    let mut s = settings();
    s.image = "openpista-test/absent:never".into();
    s.images.insert("bb".into(), IMAGE.into());
    let w = world!(s);
    let ok = w.call(json!({"command": "echo fine", "image": "bb"})).await;
    assert!(
        !ok.is_error && ok.content.contains("fine"),
        "{}",
        ok.content
    );
    let e = w.try_call(json!({"command": "true"})).await;
    let Err(WitError::Unavailable(m)) = e else {
        panic!("{e:?}")
    };
    has(&m, &["not present", "openpista-test/absent:never"]);
}

// ---- cleanup on every path ----

#[tokio::test]
async fn a_dropped_call_leaves_no_container_behind() {
    let w = world!(settings());
    let out = tempfile::tempdir().unwrap();
    let running = w.spawn(TaskRequest {
        out_dir: Some(out.path().to_path_buf()),
        ..task("echo \"$OPENPISTA_TASK_TOKEN\" > /openpista/out/token; sleep 60")
    });
    let token = token_from(out.path()).await;
    assert!(w.containers.token_valid(&token));
    // The turn is cancelled: the call's future is dropped mid-task.
    running.abort();
    let _ = running.await;
    assert!(!w.containers.token_valid(&token), "revoked with the call");
    assert!(w.containers.running().is_empty());
    w.assert_gone(Duration::from_secs(20)).await;
}

#[tokio::test]
async fn a_runtime_shut_down_mid_task_leaves_no_container_behind() {
    let w = world!(settings());
    let out = tempfile::tempdir().unwrap();
    let request = TaskRequest {
        out_dir: Some(out.path().to_path_buf()),
        ..task("echo \"$OPENPISTA_TASK_TOKEN\" > /openpista/out/token; sleep 60")
    };
    // The host is going down: the runtime running the task is dropped.
    let containers = w.containers.clone();
    let out_dir = out.path().to_path_buf();
    let host = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.spawn(async move { containers.run_task(request).await });
        runtime.block_on(token_from(&out_dir))
    });
    let token = host.join().unwrap();
    assert!(!w.containers.token_valid(&token));
    w.assert_gone(Duration::from_secs(20)).await;
}

#[tokio::test]
async fn shutdown_removes_the_containers_still_running() {
    let w = world!(settings());
    let running = w.spawn(task("sleep 60"));
    let deadline = Instant::now() + Duration::from_secs(20);
    while w.leftovers().await.is_empty() {
        assert!(Instant::now() < deadline, "the container never appeared");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    w.containers.shutdown().await;
    w.assert_gone(Duration::ZERO).await;
    let ended = tokio::time::timeout(Duration::from_secs(20), running).await;
    assert!(ended.is_ok(), "the task ends once its container is gone");
    assert!(w.containers.running().is_empty());
}

// ---- no daemon ----

fn no_daemon(fallback: ContainerFallback) -> ContainerSettings {
    ContainerSettings {
        docker_host: Some("unix:///nonexistent/docker.sock".into()),
        fallback,
        ..settings()
    }
}

#[tokio::test]
async fn without_a_daemon_the_command_runs_as_a_subprocess_with_a_warning() {
    let w = World::new(no_daemon(ContainerFallback::Subprocess));
    let result = w
        .call(json!({
            "task": "say hi",
            "command": "pwd; cat \"$OPENPISTA_TASK_FILE\"; echo; echo fallback report > \"$OPENPISTA_REPORT\""
        }))
        .await;
    let text = &result.content;
    assert!(!result.is_error, "{text}");
    let warning = "warning: no Docker daemon answered at unix:///nonexistent/docker.sock (";
    assert!(text.starts_with(warning), "{text}");
    let isolation =
        "WITHOUT container isolation (set [native.container] fallback = \"off\" to refuse)";
    let real = w.ws.path().canonicalize().unwrap();
    let cwd_and_task = format!("{}\nsay hi\n", real.display());
    has(text, &[isolation, &cwd_and_task, "fallback report"]);

    let outcome = w.run(task("exit 4")).await;
    assert_eq!(
        (outcome.mode, outcome.exit_code),
        (TaskMode::Subprocess, Some(4))
    );
    assert!(outcome.warning.is_some() && outcome.container_id.is_none());
}

#[tokio::test]
async fn without_a_daemon_and_with_the_fallback_off_the_call_fails() {
    let w = World::new(no_daemon(ContainerFallback::Off));
    let e = w.try_call(json!({"command": "echo never"})).await;
    let Err(WitError::Unavailable(m)) = e else {
        panic!("{e:?}")
    };
    has(&m, &["unix:///nonexistent/docker.sock", "\"off\""]);
}
