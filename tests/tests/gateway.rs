//! The gateway with the real agent and the offline echo provider: events
//! of one session are answered in order, other sessions do not wait for a
//! slow one, answers stream as pieces then arrive whole at the channel
//! that asked, commands work, and cron messages take the same path.

use openpista::agent::{Agent, AgentSettings};
use openpista::config::CronEntry;
use openpista::gateway::channels::{BoxFuture, Delivery};
use openpista::gateway::{Dispatched, Gateway, GatewaySettings, Incoming, Origin};
use openpista::memory::MemoryStore;
use openpista::native::env::EnvScrub;
use openpista::native::settings::SystemSettings;
use openpista::native::system::SystemRun;
use openpista::runtime::CallError;
use openpista::runtime::bindings::channel::exports::openpista::plugin::messenger::{
    Command, Outbound, StatusKind,
};
use openpista::runtime::{Runtime, RuntimeConfig};
use openpista::tools::ToolRegistry;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, PartialEq)]
enum Seen {
    Delta(String, String),
    Answer(String, String, bool),
    Status(String, StatusKind),
}

/// A channel that records what the gateway delivers.
#[derive(Default)]
struct Recorder(Mutex<Vec<Seen>>);

impl Recorder {
    fn seen(&self) -> Vec<Seen> {
        self.0.lock().unwrap().clone()
    }

    fn answers(&self, session: &str) -> Vec<String> {
        self.seen()
            .into_iter()
            .filter_map(|s| match s {
                Seen::Answer(sess, text, _) if sess == session => Some(text),
                _ => None,
            })
            .collect()
    }

    async fn wait_for(&self, n: usize, session: &str) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let a = self.answers(session);
            if a.len() >= n || Instant::now() > deadline {
                return a;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Delivery for Recorder {
    fn send(&self, m: Outbound) -> BoxFuture<'_, Result<(), CallError>> {
        self.0.lock().unwrap().push(Seen::Answer(
            format!("test:{}", m.conversation),
            m.text,
            m.is_error,
        ));
        Box::pin(async { Ok(()) })
    }
    fn delta<'a>(
        &'a self,
        session: &'a str,
        delta: &'a str,
    ) -> BoxFuture<'a, Result<(), CallError>> {
        self.0
            .lock()
            .unwrap()
            .push(Seen::Delta(format!("test:{session}"), delta.into()));
        Box::pin(async { Ok(()) })
    }
    fn status<'a>(
        &'a self,
        session: &'a str,
        kind: StatusKind,
    ) -> BoxFuture<'a, Result<(), CallError>> {
        self.0
            .lock()
            .unwrap()
            .push(Seen::Status(format!("test:{session}"), kind));
        Box::pin(async { Ok(()) })
    }
}

async fn gateway(root: &std::path::Path) -> (Arc<Gateway>, Arc<Recorder>) {
    gateway_with(root, &GatewaySettings::default()).await
}

async fn gateway_with(
    root: &std::path::Path,
    settings: &GatewaySettings,
) -> (Arc<Gateway>, Arc<Recorder>) {
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
    // The operator lets this test channel run commands without asking.
    let approvals = openpista::approvals::ApprovalSettings {
        rules: vec![openpista::approvals::policy::Rule {
            tool: "system.run".into(),
            channel: "test".into(),
            command: None,
            action: openpista::approvals::policy::Action::Auto,
        }],
        ..Default::default()
    };
    let agent = Arc::new(Agent {
        tools: Arc::new(tools),
        runtime,
        memory,
        settings: AgentSettings {
            approvals: Arc::new(openpista::approvals::Approvals::new(approvals, |t| {
                t.to_string()
            })),
            ..AgentSettings::default()
        },
    });
    let gateway = Gateway::with_settings(agent, settings);
    let recorder = Arc::new(Recorder::default());
    gateway.add_channel("test", recorder.clone()).unwrap();
    (gateway, recorder)
}

fn event(session: &str, text: &str) -> Incoming {
    Incoming {
        session: session.into(),
        sender: "tester".into(),
        text: text.into(),
        attachments: Vec::new(),
        command: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_session_in_order_other_sessions_meanwhile() {
    let root = tempfile::tempdir().unwrap();
    let (gateway, recorder) = gateway(root.path()).await;
    let origin = Origin::channel("test");
    // A slow first event in session A, then quick ones in A and in B.
    gateway.dispatch(
        origin.clone(),
        event(
            "test:a",
            r#"/tool system.run {"command": "sleep 1; echo slow-done"}"#,
        ),
    );
    for i in 1..=5 {
        gateway.dispatch(origin.clone(), event("test:a", &format!("a{i}")));
    }
    gateway.dispatch(origin.clone(), event("test:b", "b1"));

    let b = recorder.wait_for(1, "test:b").await;
    assert_eq!(b, vec!["echo: b1"]);
    // B was answered while A's slow first turn still ran.
    assert!(
        recorder.answers("test:a").is_empty(),
        "{:?}",
        recorder.seen()
    );

    let a = recorder.wait_for(6, "test:a").await;
    assert!(a[0].contains("slow-done"), "{a:?}");
    assert_eq!(
        &a[1..],
        &["echo: a1", "echo: a2", "echo: a3", "echo: a4", "echo: a5"]
    );
    // Memory holds the conversation in the same order.
    let stored = gateway.agent().memory.messages("test:a", 100).unwrap();
    let users: Vec<&str> = stored
        .iter()
        .filter(|m| m.role == "user")
        .map(|m| m.content.as_str())
        .collect();
    assert_eq!(users[1..], ["a1", "a2", "a3", "a4", "a5"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_stream_in_pieces_then_arrive_whole_with_status() {
    let root = tempfile::tempdir().unwrap();
    let (gateway, recorder) = gateway(root.path()).await;
    gateway.dispatch(Origin::channel("test"), event("test:s", "stream me please"));
    recorder.wait_for(1, "test:s").await;
    let seen = recorder.seen();
    let pieces: String = seen
        .iter()
        .filter_map(|s| match s {
            Seen::Delta(_, d) => Some(d.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(pieces, "echo: stream me please");
    assert_eq!(
        seen.first(),
        Some(&Seen::Status("test:s".into(), StatusKind::Thinking))
    );
    let answer = seen
        .iter()
        .position(|s| matches!(s, Seen::Answer(..)))
        .unwrap();
    let last_delta = seen
        .iter()
        .rposition(|s| matches!(s, Seen::Delta(..)))
        .unwrap();
    assert!(last_delta < answer);
    assert_eq!(
        seen.last(),
        Some(&Seen::Status("test:s".into(), StatusKind::Idle))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_and_unknown_channels() {
    let root = tempfile::tempdir().unwrap();
    let (gateway, recorder) = gateway(root.path()).await;
    let origin = Origin::channel("test");
    let command = |name: &str, args: &str| Incoming {
        command: Some(Command {
            name: name.into(),
            args: args.into(),
        }),
        ..event("test:c", &format!("/{name} {args}"))
    };
    gateway.dispatch(origin.clone(), event("test:c", "remember this"));
    gateway.dispatch(origin.clone(), command("session", ""));
    gateway.dispatch(origin.clone(), command("model", "gpt-test-x"));
    gateway.dispatch(origin.clone(), command("model", "echo"));
    gateway.dispatch(origin.clone(), command("model", ""));
    gateway.dispatch(origin.clone(), command("clear", ""));
    gateway.dispatch(origin.clone(), command("session", ""));
    gateway.dispatch(origin.clone(), command("nope", ""));
    let a = recorder.wait_for(8, "test:c").await;
    assert_eq!(a[1], "Session test:c: 2 messages stored.");
    assert!(
        a[2].contains("has no model \"gpt-test-x\"") && a[2].contains("echo"),
        "a model the catalogue lacks is refused, naming the models: {}",
        a[2]
    );
    assert_eq!(a[3], "This conversation now uses the model echo.");
    assert!(
        a[4].contains("model echo") && a[4].contains("Models: echo"),
        "{}",
        a[4]
    );
    assert_eq!(a[5], "This conversation is cleared.");
    assert_eq!(a[6], "Session test:c: nothing stored yet.");
    assert!(a[7].starts_with("unknown command /nope"));
    assert!(
        recorder
            .seen()
            .iter()
            .any(|s| matches!(s, Seen::Answer(_, t, true) if t.starts_with("unknown")))
    );

    // /new starts a conversation of its own; /sessions lists and switches.
    gateway.dispatch(origin.clone(), event("test:c", "first talk"));
    gateway.dispatch(origin.clone(), command("new", "side quest"));
    gateway.dispatch(origin.clone(), event("test:c", "second talk"));
    gateway.dispatch(origin.clone(), command("sessions", ""));
    gateway.dispatch(origin.clone(), command("sessions", "1"));
    gateway.dispatch(origin.clone(), event("test:c", "back again"));
    gateway.dispatch(origin.clone(), command("sessions", "9"));
    let a = recorder.wait_for(15, "test:c").await;
    assert!(a[9].contains("test:c#2"), "{}", a[9]);
    assert_eq!(a[10], "echo: second talk");
    assert!(
        a[11].contains("1. test:c — 2 messages")
            && a[11].contains("2. side quest — 2 messages (current)"),
        "{}",
        a[11]
    );
    assert!(a[12].starts_with("Now in conversation 1"), "{}", a[12]);
    // The switch shows where that conversation stood.
    assert!(
        a[12].ends_with("Where it stood:\nyou: first talk\nagent: echo: first talk"),
        "{}",
        a[12]
    );
    assert_eq!(a[13], "echo: back again");
    assert!(a[14].contains("numbered 1 to 2"), "{}", a[14]);
    let memory = &gateway.agent().memory;
    let texts = |id: &str| -> Vec<String> {
        memory
            .messages(id, 10)
            .unwrap()
            .into_iter()
            .map(|m| m.content)
            .collect()
    };
    assert_eq!(texts("test:c#2"), ["second talk", "echo: second talk"]);
    assert_eq!(
        texts("test:c"),
        [
            "first talk",
            "echo: first talk",
            "back again",
            "echo: back again"
        ]
    );

    // An answer for a channel that is not running stays in memory only.
    gateway.dispatch(Origin::channel("gone"), event("gone:1", "hello?"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while gateway
        .stats
        .undelivered
        .load(std::sync::atomic::Ordering::Relaxed)
        == 0
    {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let stored = gateway.agent().memory.messages("gone:1", 10).unwrap();
    assert_eq!(stored.last().unwrap().content, "echo: hello?");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cron_messages_take_the_same_path() {
    let root = tempfile::tempdir().unwrap();
    let (gateway, recorder) = gateway(root.path()).await;
    let entries = vec![CronEntry {
        schedule: "* * * * * *".into(),
        session: "test:cron".into(),
        channel: None,
        message: "scheduled hello".into(),
    }];
    let tasks = openpista::gateway::cron::start(gateway.clone(), &entries, None);
    let a = recorder.wait_for(2, "test:cron").await;
    for t in &tasks {
        t.abort();
    }
    assert!(a.len() >= 2, "{a:?}");
    assert!(a.iter().all(|t| t == "echo: scheduled hello"), "{a:?}");
}

/// A sender who floods one conversation fills its queue, then is told the
/// agent is busy; every event the gateway took is answered, in order, and
/// other conversations are not held up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooded_session_queue_answers_busy_and_loses_nothing_taken() {
    let root = tempfile::tempdir().unwrap();
    let settings = GatewaySettings {
        session_queue: 2,
        ..GatewaySettings::default()
    };
    let (gateway, recorder) = gateway_with(root.path(), &settings).await;
    let origin = Origin::channel("test");
    assert_eq!(
        gateway.dispatch(
            origin.clone(),
            event(
                "test:f",
                r#"/tool system.run {"command": "sleep 3; echo slow-done"}"#,
            ),
        ),
        Dispatched::Queued
    );
    // Wait until the slow turn runs: the queue is then empty.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !recorder
        .seen()
        .contains(&Seen::Status("test:f".into(), StatusKind::Thinking))
    {
        assert!(Instant::now() < deadline, "the first turn never started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let outcomes: Vec<Dispatched> = (1..=5)
        .map(|i| gateway.dispatch(origin.clone(), event("test:f", &format!("f{i}"))))
        .collect();
    assert_eq!(
        outcomes,
        [
            Dispatched::Queued,
            Dispatched::Queued,
            Dispatched::Busy,
            Dispatched::Busy,
            Dispatched::Busy
        ]
    );
    assert_eq!(
        gateway.dispatch(origin.clone(), event("test:g", "other")),
        Dispatched::Queued
    );
    assert_eq!(recorder.wait_for(1, "test:g").await, ["echo: other"]);

    let answers = recorder.wait_for(6, "test:f").await;
    let busy: Vec<&String> = answers.iter().filter(|a| a.starts_with("Busy")).collect();
    assert_eq!(busy.len(), 3, "{answers:?}");
    let taken: Vec<&String> = answers.iter().filter(|a| !a.starts_with("Busy")).collect();
    assert!(taken[0].contains("slow-done"), "{answers:?}");
    assert_eq!(taken[1..], ["echo: f1", "echo: f2"]);
    let errors = recorder
        .seen()
        .into_iter()
        .filter(|s| matches!(s, Seen::Answer(sess, text, true) if sess == "test:f" && text.starts_with("Busy")))
        .count();
    assert_eq!(errors, 3, "busy answers are marked as errors");
    assert_eq!(
        gateway.stats.busy.load(std::sync::atomic::Ordering::SeqCst),
        3
    );
    let stored = gateway.agent().memory.messages("test:f", 100).unwrap();
    let users: Vec<&str> = stored
        .iter()
        .filter(|m| m.role == "user")
        .map(|m| m.content.as_str())
        .collect();
    assert_eq!(users[1..], ["f1", "f2"], "refused events are not stored");
}
