//! Approvals and stop through the real gateway and agent, with the echo
//! provider, the real `system.run` (and `container.run` on a real Docker
//! engine) and a channel that records what it is asked to show: the
//! default policy asks for native tools from a channel, approve runs the
//! call (its side effect is checked), reject does not, "allow" skips the
//! next prompt for that exact line only, only the asker may answer, an
//! unanswered request expires, requests can be routed to an approver chat,
//! decisions are stored, and `/stop` kills what runs and leaves the
//! session usable.

use openpista::agent::{Agent, AgentSettings};
use openpista::approvals::policy::{Action, Rule};
use openpista::approvals::{ApprovalSettings, Approvals};
use openpista::gateway::channels::{BoxFuture, Delivery};
use openpista::gateway::{Gateway, Incoming, Origin};
use openpista::memory::MemoryStore;
use openpista::native::env::EnvScrub;
use openpista::native::settings::SystemSettings;
use openpista::native::system::SystemRun;
use openpista::runtime::CallError;
use openpista::runtime::bindings::channel::exports::openpista::plugin::messenger::{
    Command, Outbound, StatusKind,
};
use openpista::runtime::bindings::{ApprovalRequest, Settlement};
use openpista::runtime::{Runtime, RuntimeConfig};
use openpista::tools::{NativeTool, ToolRegistry};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A channel that shows approval requests itself and records everything.
#[derive(Default)]
struct Screen {
    answers: Mutex<Vec<(String, String)>>,
    requests: Mutex<Vec<(String, ApprovalRequest)>>,
    settled: Mutex<Vec<(String, String, Settlement)>>,
}

impl Screen {
    async fn until<T>(&self, what: &str, mut f: impl FnMut(&Screen) -> Option<T>) -> T {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(v) = f(self) {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: answers {:?}",
                self.answers.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The `n`-th approval request (1-based) shown in `conversation`.
    async fn request(&self, n: usize) -> (String, ApprovalRequest) {
        self.until("an approval request", |s| {
            s.requests.lock().unwrap().get(n - 1).cloned()
        })
        .await
    }

    /// The answers delivered to `conversation`, once there are `n`.
    async fn answers(&self, conversation: &str, n: usize) -> Vec<String> {
        self.until("answers", |s| {
            let got: Vec<String> = s
                .answers
                .lock()
                .unwrap()
                .iter()
                .filter(|(c, _)| c == conversation)
                .map(|(_, t)| t.clone())
                .collect();
            (got.len() >= n).then_some(got)
        })
        .await
    }
}

impl Delivery for Screen {
    fn send(&self, m: Outbound) -> BoxFuture<'_, Result<(), CallError>> {
        self.answers.lock().unwrap().push((m.conversation, m.text));
        Box::pin(async { Ok(()) })
    }
    fn delta<'a>(&'a self, _: &'a str, _: &'a str) -> BoxFuture<'a, Result<(), CallError>> {
        Box::pin(async { Ok(()) })
    }
    fn status<'a>(&'a self, _: &'a str, _: StatusKind) -> BoxFuture<'a, Result<(), CallError>> {
        Box::pin(async { Ok(()) })
    }
    fn ask_approval<'a>(
        &'a self,
        conversation: &'a str,
        request: &'a ApprovalRequest,
    ) -> BoxFuture<'a, Result<bool, CallError>> {
        self.requests
            .lock()
            .unwrap()
            .push((conversation.to_string(), request.clone()));
        Box::pin(async { Ok(true) })
    }
    fn approval_settled<'a>(
        &'a self,
        conversation: &'a str,
        id: &'a str,
        how: Settlement,
    ) -> BoxFuture<'a, ()> {
        self.settled
            .lock()
            .unwrap()
            .push((conversation.into(), id.into(), how));
        Box::pin(async {})
    }
}

async fn gateway(
    root: &Path,
    approvals: ApprovalSettings,
    extra: Vec<Arc<dyn NativeTool>>,
) -> (Arc<Gateway>, Arc<Screen>) {
    let memory = Arc::new(MemoryStore::open(&root.join("memory.redb")).unwrap());
    let runtime = Runtime::new(RuntimeConfig {
        cache_dir: Some(root.join("cache")),
        memory: Some(memory.clone()),
        ..RuntimeConfig::default()
    })
    .unwrap();
    assert!(runtime.load_all().await.is_empty());
    let mut tools = ToolRegistry::new(runtime.clone());
    tools.add_native(Arc::new(SystemRun::new(
        SystemSettings::default(),
        EnvScrub::default(),
    )));
    for tool in extra {
        tools.add_native(tool);
    }
    let agent = Arc::new(Agent {
        tools: Arc::new(tools),
        runtime,
        memory,
        settings: AgentSettings {
            approvals: Arc::new(Approvals::new(approvals, |t| t.to_string())),
            ..AgentSettings::default()
        },
    });
    let gateway = Gateway::new(agent);
    let screen = Arc::new(Screen::default());
    gateway.add_channel("chat", screen.clone()).unwrap();
    (gateway, screen)
}

fn say(gateway: &Arc<Gateway>, conversation: &str, sender: &str, text: &str) {
    let command = text.strip_prefix('/').and_then(|rest| {
        let (name, args) = rest.split_once(' ').unwrap_or((rest, ""));
        (name != "tool").then(|| Command {
            name: name.into(),
            args: args.trim().into(),
        })
    });
    gateway.dispatch(
        Origin::channel("chat"),
        Incoming {
            session: format!("chat:{conversation}"),
            sender: sender.into(),
            text: text.into(),
            attachments: Vec::new(),
            command,
        },
    );
}

fn touch(file: &Path) -> String {
    format!(
        r#"/tool system.run {{"command": "touch {}"}}"#,
        file.display()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approve_runs_reject_does_not_and_allow_covers_that_line_only() {
    let root = tempfile::tempdir().unwrap();
    let (gateway, screen) = gateway(root.path(), ApprovalSettings::default(), vec![]).await;
    let (approved, rejected) = (root.path().join("approved"), root.path().join("rejected"));

    // The default policy asks, from a channel, before system.run.
    say(&gateway, "1", "ann", &touch(&approved));
    let (conversation, request) = screen.request(1).await;
    assert_eq!(conversation, "1");
    assert_eq!(request.tool, "system.run");
    assert!(request.arguments.contains("touch"), "{request:?}");
    assert!(request.id.len() <= 12 && request.id.bytes().all(|b| b.is_ascii_alphanumeric()));
    assert!(!approved.exists(), "nothing runs before the answer");
    // Someone else in the conversation may not answer.
    say(&gateway, "1", "bob", &format!("/approve {}", request.id));
    let refused = screen.answers("1", 1).await;
    assert!(
        refused[0].contains("Only the person who asked"),
        "{refused:?}"
    );
    assert!(!approved.exists());
    say(&gateway, "1", "ann", &format!("/approve {}", request.id));
    let answers = screen.answers("1", 2).await;
    assert!(answers[1].starts_with("tool said:"), "{answers:?}");
    assert!(approved.exists(), "approved: the file was created");

    say(&gateway, "1", "ann", &touch(&rejected));
    let (_, request) = screen.request(2).await;
    say(&gateway, "1", "ann", &format!("/reject {}", request.id));
    let answers = screen.answers("1", 3).await;
    assert!(
        answers[2].contains("the user declined to run system.run"),
        "the model is told in words it can act on: {answers:?}"
    );
    assert!(!rejected.exists(), "rejected: nothing was created");

    // "Allow for this session" covers the same line, nothing else.
    let allowed = root.path().join("allowed");
    say(&gateway, "1", "ann", &touch(&allowed));
    let (_, request) = screen.request(3).await;
    say(&gateway, "1", "ann", &format!("/allow {}", request.id));
    screen.answers("1", 4).await;
    std::fs::remove_file(&allowed).unwrap();
    say(&gateway, "1", "ann", &touch(&allowed));
    screen.answers("1", 5).await;
    assert!(allowed.exists(), "the allowed line ran without asking");
    assert_eq!(screen.requests.lock().unwrap().len(), 3);
    let piped = format!(
        r#"/tool system.run {{"command": "touch {} | sh"}}"#,
        allowed.display()
    );
    say(&gateway, "1", "ann", &piped);
    let (_, request) = screen.request(4).await;
    assert!(request.arguments.contains("| sh"));
    say(&gateway, "1", "ann", &format!("/reject {}", request.id));
    screen.answers("1", 6).await;

    // Every decision is stored with the session.
    let decisions = gateway.agent().decisions("chat:1").unwrap();
    let outcomes: Vec<&str> = decisions.iter().map(|d| d.outcome.as_str()).collect();
    assert_eq!(
        outcomes,
        [
            "approved",
            "rejected",
            "allowed-for-session",
            "allowed-earlier",
            "rejected"
        ]
    );
    let settled = screen.settled.lock().unwrap().clone();
    assert_eq!(settled.len(), 4, "{settled:?}");
    assert_eq!(settled[0].2, Settlement::Approved);
    assert_eq!(settled[2].2, Settlement::Allowed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unanswered_requests_expire_and_can_go_to_an_approver() {
    let root = tempfile::tempdir().unwrap();
    let settings = ApprovalSettings {
        timeout_secs: 1,
        approver: Some("chat:owner".into()),
        ..Default::default()
    };
    let (gateway, screen) = gateway(root.path(), settings, vec![]).await;
    let file = root.path().join("f");
    say(&gateway, "group", "ann", &touch(&file));
    let (conversation, _) = screen.request(1).await;
    assert_eq!(conversation, "owner", "shown in the approver's chat");
    let answers = screen.answers("group", 1).await;
    assert!(
        answers[0].contains("nobody answered in time"),
        "{answers:?}"
    );
    assert!(!file.exists());

    say(&gateway, "group", "ann", &touch(&file));
    let (_, request) = screen.request(2).await;
    // Answering from the group is refused: it was asked elsewhere.
    say(
        &gateway,
        "group",
        "ann",
        &format!("/approve {}", request.id),
    );
    assert!(screen.answers("group", 2).await[1].contains("not asked here"));
    say(
        &gateway,
        "owner",
        "owner",
        &format!("/approve {}", request.id),
    );
    let answers = screen.answers("group", 3).await;
    assert!(answers[2].starts_with("tool said:"), "{answers:?}");
    assert!(file.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approver_chat_that_cannot_be_reached_fails_closed() {
    let root = tempfile::tempdir().unwrap();
    let settings = ApprovalSettings {
        // No channel called `telegram` runs in this host.
        approver: Some("telegram:42".into()),
        ..Default::default()
    };
    let (gateway, screen) = gateway(root.path(), settings, vec![]).await;
    let file = root.path().join("f");
    say(&gateway, "group", "ann", &touch(&file));
    let answers = screen.answers("group", 1).await;
    assert!(
        answers[0].contains("nobody could be asked") && answers[0].contains("telegram"),
        "{answers:?}"
    );
    assert!(!file.exists(), "not run when the approver cannot be asked");
    assert!(screen.requests.lock().unwrap().is_empty());
    let decisions = gateway.agent().decisions("chat:group").unwrap();
    assert_eq!(decisions.len(), 1);
    assert_eq!(decisions[0].outcome, "unreachable");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deny_rules_win_and_auto_rules_skip_the_question() {
    let root = tempfile::tempdir().unwrap();
    let settings = ApprovalSettings {
        rules: vec![
            Rule {
                tool: "system.run".into(),
                channel: "chat".into(),
                command: Some("touch *".into()),
                action: Action::Auto,
            },
            Rule {
                tool: "system.*".into(),
                channel: "*".into(),
                command: Some("rm *".into()),
                action: Action::Deny,
            },
        ],
        ..Default::default()
    };
    let (gateway, screen) = gateway(root.path(), settings, vec![]).await;
    let file = root.path().join("auto");
    say(&gateway, "1", "ann", &touch(&file));
    screen.answers("1", 1).await;
    assert!(file.exists(), "the auto rule ran it without asking");
    say(
        &gateway,
        "1",
        "ann",
        &format!(
            r#"/tool system.run {{"command": "touch {} && rm {}"}}"#,
            file.display(),
            file.display()
        ),
    );
    let answers = screen.answers("1", 2).await;
    assert!(answers[1].contains("forbids"), "{answers:?}");
    assert!(file.exists(), "denied: nothing ran");
    assert!(screen.requests.lock().unwrap().is_empty(), "nothing asked");
}

fn process_gone(marker: &str) -> bool {
    let out = std::process::Command::new("pgrep")
        .args(["-f", marker])
        .output()
        .unwrap();
    out.stdout.is_empty()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_kills_the_running_command_and_the_session_goes_on() {
    let root = tempfile::tempdir().unwrap();
    let settings = ApprovalSettings {
        rules: vec![Rule {
            tool: "system.run".into(),
            channel: "*".into(),
            command: None,
            action: Action::Auto,
        }],
        ..Default::default()
    };
    let (gateway, screen) = gateway(root.path(), settings, vec![]).await;
    // A marker unique to this test run, to find the process by.
    let marker = format!("30.{}", std::process::id());
    let started = root.path().join("started");
    say(
        &gateway,
        "1",
        "ann",
        &format!(
            r#"/tool system.run {{"command": "touch {} && sleep {marker}"}}"#,
            started.display()
        ),
    );
    screen
        .until("the command to start", |_| {
            (started.exists() && !process_gone(&format!("sleep {marker}"))).then_some(())
        })
        .await;
    let asked = Instant::now();
    say(&gateway, "1", "ann", "/stop");
    let answers = screen.answers("1", 1).await;
    assert!(answers[0].starts_with("Stopped."), "{answers:?}");
    screen
        .until("the sleep to be killed", |_| {
            process_gone(&format!("sleep {marker}")).then_some(())
        })
        .await;
    let took = asked.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "the process outlived /stop by {took:?}"
    );
    // No orphan tool call: every call has its result, and the turn ends
    // with an assistant message.
    let stored = gateway.agent().memory.messages("chat:1", 100).unwrap();
    let calls: Vec<&str> = stored
        .iter()
        .flat_map(|m| m.tool_calls.iter().map(|c| c.id.as_str()))
        .collect();
    for id in &calls {
        assert!(
            stored
                .iter()
                .any(|m| m.role == "tool" && m.tool_call_id.as_deref() == Some(*id)),
            "call {id} has no result: {stored:?}"
        );
    }
    assert_eq!(stored.last().unwrap().role, "assistant");
    // The next message works.
    say(&gateway, "1", "ann", "still there?");
    let answers = screen.answers("1", 2).await;
    assert_eq!(answers[1], "echo: still there?");
    say(&gateway, "1", "ann", "/stop");
    assert!(screen.answers("1", 3).await[2].contains("Nothing is running"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_while_waiting_for_approval_withdraws_the_request() {
    let root = tempfile::tempdir().unwrap();
    let (gateway, screen) = gateway(root.path(), ApprovalSettings::default(), vec![]).await;
    let file = root.path().join("never");
    say(&gateway, "1", "ann", &touch(&file));
    let (_, request) = screen.request(1).await;
    say(&gateway, "1", "ann", "/stop");
    assert!(screen.answers("1", 1).await[0].starts_with("Stopped."));
    screen
        .until("the request to be withdrawn", |s| {
            s.settled
                .lock()
                .unwrap()
                .iter()
                .any(|(_, id, how)| id == &request.id && *how == Settlement::Cancelled)
                .then_some(())
        })
        .await;
    say(&gateway, "1", "ann", &format!("/approve {}", request.id));
    assert!(screen.answers("1", 2).await[1].contains("is waiting"));
    assert!(!file.exists());
    assert_eq!(gateway.agent().settings.approvals.waiting(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_removes_the_running_container() {
    use bollard::query_parameters::ListContainersOptionsBuilder;
    use openpista::native::container::Containers;
    use openpista::native::settings::ContainerSettings;
    use openpista_tests::native::docker::{IMAGE, engine};
    use std::collections::HashMap;

    let Some(docker) = engine().await else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let workspace = tempfile::tempdir().unwrap();
    let containers = Containers::new(
        ContainerSettings {
            image: IMAGE.into(),
            timeout_secs: 120,
            ..ContainerSettings::default()
        },
        EnvScrub::default(),
        workspace.path().to_path_buf(),
    );
    let settings = ApprovalSettings {
        rules: vec![Rule {
            tool: "container.run".into(),
            channel: "*".into(),
            command: None,
            action: Action::Auto,
        }],
        ..Default::default()
    };
    let tools = openpista::native::container::tools(&containers);
    let (gateway, screen) = gateway(root.path(), settings, tools).await;
    // This host's containers, running or not.
    let label = format!("openpista.host={}", containers.host_id());
    let ours = || async {
        let filters = HashMap::from([("label", vec![label.clone()])]);
        let options = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&filters)
            .build();
        docker.list_containers(Some(options)).await.unwrap().len()
    };
    say(
        &gateway,
        "1",
        "ann",
        r#"/tool container.run {"command": "sleep 60"}"#,
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while ours().await == 0 {
        assert!(Instant::now() < deadline, "the container never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    say(&gateway, "1", "ann", "/stop");
    assert!(screen.answers("1", 1).await[0].starts_with("Stopped."));
    let deadline = Instant::now() + Duration::from_secs(30);
    while ours().await > 0 {
        assert!(
            Instant::now() < deadline,
            "the container outlived /stop by 30 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    say(&gateway, "1", "ann", "and now?");
    assert_eq!(screen.answers("1", 2).await[1], "echo: and now?");
}
