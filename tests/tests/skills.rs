//! Skills end to end, through the host as `serve` builds it: SKILL.md
//! instructions in the system prompt (and again after an edit, without a
//! restart), the four modes run by the agent (prompt; wasm with the Rust
//! example component; subprocess with stdin arguments, exit codes and the
//! deadline; container against the real Docker engine), and refusals that
//! name what is missing: an opt-in, a grant, a program.

use openpista::agent::Agent;
use openpista::cli::Toolbox as NativeTools;
use openpista::config::Config;
use openpista_tests::doubles::openai::{OpenAiDouble, Reply};
use std::path::Path;
use std::time::{Duration, Instant};

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A config whose only skill folder is `skills` (no workspace search).
fn config(root: &Path, skills: &Path, extra: &str) -> Config {
    Config::parse(
        &format!(
            r#"
[agent]
provider = "echo"
[runtime]
plugin_dirs = []
cache_dir = "{root}/cache"
[memory]
path = "{root}/memory.redb"
[skills]
workspace = false
dirs = ["{skills}"]
{extra}
"#,
            root = root.display(),
            skills = skills.display(),
        ),
        "test config",
    )
    .unwrap()
}

async fn host(config: &Config) -> (Agent, NativeTools) {
    let (runtime, memory, setup) = openpista::cli::build(config).unwrap();
    let failures = runtime.load_all().await;
    assert!(failures.is_empty(), "{failures:?}");
    let (tools, natives) = openpista::cli::tools(config, &runtime);
    let mut settings = config.agent_settings(&setup);
    settings.skill_context = natives.skills.as_ref().unwrap().context();
    (
        Agent {
            tools,
            runtime,
            memory,
            settings,
        },
        natives,
    )
}

fn skill(natives: &NativeTools, name: &str) -> openpista::skills::Skill {
    natives
        .skills
        .as_ref()
        .unwrap()
        .skills()
        .into_iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no skill {name}"))
}

async fn ask(agent: &Agent, text: &str) -> String {
    agent
        .turn("test:skills", text, |_| {})
        .await
        .unwrap()
        .answer
}

/// The subprocess skill used below: JSON in on stdin, a line out.
const SHOUT: &str = r#"---
name: shout
description: Repeats a text in capitals.
mode: subprocess
parameters:
  type: object
  properties:
    text: {type: string}
timeout_secs: 2
---
Use `skill.shout` to shout."#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subprocess_skills_need_an_opt_in_and_run_with_stdin_arguments() {
    let root = tempfile::tempdir().unwrap();
    let skills = root.path().join("skills");
    write(&skills.join("shout/SKILL.md"), SHOUT);
    write(
        &skills.join("shout/run.sh"),
        "read -r args\ncase \"$args\" in *fail*) echo \"cannot: $args\" >&2; exit 3;; *slow*) sleep 30;; esac\necho \"$args\" | tr a-z A-Z\n",
    );
    write(
        &skills.join("count/SKILL.md"),
        "---\nname: count\ndescription: Counts the keys of its arguments.\nmode: subprocess\n---\n",
    );
    write(
        &skills.join("count/main.py"),
        "import json, sys\nargs = json.load(sys.stdin)\nprint(f'{len(args)} keys')\n",
    );

    // Without the opt-in: listed, unavailable, and the reason names it.
    let (agent, natives) = host(&config(root.path(), &skills, "")).await;
    let s = skill(&natives, "shout");
    let why = s.unavailable.unwrap();
    assert!(
        why.contains("[skills.allow.shout] outside_sandbox = true"),
        "{why}"
    );
    assert!(s.reach.contains("outside the sandbox"), "{}", s.reach);
    let answer = ask(&agent, r#"/tool skill.shout {"text": "hi"}"#).await;
    assert!(answer.contains("skill.shout"), "not callable: {answer}");
    drop((agent, natives));

    let root2 = tempfile::tempdir().unwrap();
    let allow = "[skills.allow.shout]\noutside_sandbox = true\n[skills.allow.count]\noutside_sandbox = true\n";
    let (agent, natives) = host(&config(root2.path(), &skills, allow)).await;
    assert_eq!(skill(&natives, "shout").unavailable, None);
    assert_eq!(skill(&natives, "shout").tools, ["skill.shout"]);
    let answer = ask(&agent, r#"/tool skill.shout {"text": "hello there"}"#).await;
    assert_eq!(answer, r#"tool said: {"TEXT":"HELLO THERE"}"#);
    let answer = ask(&agent, r#"/tool skill.count {"a": 1, "b": 2}"#).await;
    assert_eq!(
        answer.trim_end(),
        "tool said: 2 keys",
        "main.py through python3"
    );

    // A non-zero exit is an error the model reads, with stderr and the code.
    let answer = ask(&agent, r#"/tool skill.shout {"text": "fail"}"#).await;
    assert!(
        answer.contains("cannot:") && answer.contains("exit code: 3"),
        "{answer}"
    );
    // The deadline kills it.
    let started = Instant::now();
    let answer = ask(&agent, r#"/tool skill.shout {"text": "slow"}"#).await;
    assert!(answer.contains("timed out"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(20));
    // Arguments that are not an object are refused before anything runs.
    let ctx = openpista::runtime::CallContext {
        session: None,
        call_id: "c".into(),
    };
    let e = agent
        .tools
        .invoke("skill.shout", "[1]", &ctx)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("JSON object"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instructions_join_the_prompt_and_an_edit_takes_effect_without_a_restart() {
    let root = tempfile::tempdir().unwrap();
    let skills = root.path().join("skills");
    write(
        &skills.join("tone/SKILL.md"),
        "---\nname: tone\ndescription: How to talk.\n---\nAlways answer like a pirate.\n",
    );
    write(
        &skills.join("missing/SKILL.md"),
        "---\nname: missing\ndescription: Needs a program.\nrequires:\n  bins: [no-such-program-here]\n---\nNEVER-INJECTED\n",
    );
    write(&skills.join("broken/SKILL.md"), "---\nname: Broken Name\n");
    let double = OpenAiDouble::start().await;
    const KEY_ENV: &str = "OPENPISTA_TEST_SKILLS_KEY";
    // SAFETY: only this test reads this variable.
    unsafe { std::env::set_var(KEY_ENV, "sk-skills") };
    let extra = format!(
        "[providers.main]\npreset = \"custom\"\nbase_url = \"{}\"\nmodel = \"m\"\napi_key_env = \"{KEY_ENV}\"\n",
        double.base_url()
    );
    let mut config = config(root.path(), &skills, &extra);
    config.agent.provider = "main".into();
    let (agent, natives) = host(&config).await;
    let set = natives.skills.clone().unwrap();
    let missing = skill(&natives, "missing").unavailable.unwrap();
    assert!(missing.contains("no-such-program-here"), "{missing}");
    let broken = skill(&natives, "broken").unavailable.unwrap();
    assert!(broken.contains("broken/SKILL.md"), "{broken}");

    double.push(Reply::stream_text(&["Arr."]));
    ask(&agent, "hello").await;
    let system = double.requests()[0].body["messages"][0]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        system.contains("## tone\nHow to talk.") && system.contains("like a pirate"),
        "{system}"
    );
    assert!(
        !system.contains("NEVER-INJECTED"),
        "an unavailable skill adds nothing"
    );

    // Edit the SKILL.md while the host runs.
    let _watch = openpista::skills::watch::watch(set.clone()).unwrap();
    write(
        &skills.join("tone/SKILL.md"),
        "---\nname: tone\ndescription: How to talk.\n---\nAlways answer in haiku.\n",
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while !set.context().get().contains("haiku") {
        assert!(Instant::now() < deadline, "the edit was never picked up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    double.push(Reply::stream_text(&["Old pond."]));
    ask(&agent, "hello again").await;
    let system = double.requests()[1].body["messages"][0]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        system.contains("in haiku") && !system.contains("pirate"),
        "{system}"
    );
}

/// The Rust example skill as its author would lay it out: SKILL.md, the
/// built component and its manifest in one folder.
fn hello_skill(dir: &Path, manifest: &str) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../skills/hello-wasm");
    write(
        &dir.join("SKILL.md"),
        &std::fs::read_to_string(src.join("SKILL.md")).unwrap(),
    );
    openpista_tests::install(
        dir,
        "hello-wasm",
        &std::fs::read(openpista_tests::wasm("hello-wasm")).unwrap(),
        manifest,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wasm_skill_runs_sandboxed_and_is_refused_when_it_asks_for_more_than_granted() {
    let root = tempfile::tempdir().unwrap();
    let skills = root.path().join("skills");
    let manifest = openpista_tests::manifest("hello-wasm");
    hello_skill(&skills.join("hello"), &manifest);
    let (agent, natives) = host(&config(root.path(), &skills, "")).await;
    let s = skill(&natives, "hello-wasm");
    assert_eq!(s.unavailable, None);
    assert_eq!(s.tools, ["hello.greet", "text.slugify"]);
    assert!(
        s.reach
            .contains("sandboxed component hello-wasm: hosts none"),
        "{}",
        s.reach
    );
    let answer = ask(
        &agent,
        r#"/tool text.slugify {"text": "Héllo, Wörld 2026"}"#,
    )
    .await;
    assert_eq!(answer, "tool said: hello-world-2026");
    let context = natives.skills.as_ref().unwrap().context().get();
    assert!(
        context.contains("Tools: hello.greet, text.slugify"),
        "{context}"
    );
    drop((agent, natives));

    // The same component declaring a host the operator did not grant.
    let root = tempfile::tempdir().unwrap();
    let skills = root.path().join("skills");
    let greedy = manifest.replace("hosts = []", "hosts = [\"api.example.com\"]");
    assert_ne!(greedy, manifest);
    hello_skill(&skills.join("hello"), &greedy);
    let (agent, natives) = host(&config(root.path(), &skills, "")).await;
    let why = skill(&natives, "hello-wasm").unavailable.unwrap();
    assert!(
        why.contains("host api.example.com") && why.contains("[skills.allow.hello-wasm] hosts"),
        "{why}"
    );
    let answer = ask(&agent, r#"/tool hello.greet {"name": "Ada"}"#).await;
    assert!(!answer.contains("Hello, Ada"), "not loaded: {answer}");
    drop((agent, natives));

    // Granted: it loads, and its grant is exactly the one given.
    let root = tempfile::tempdir().unwrap();
    let skills = root.path().join("skills");
    hello_skill(&skills.join("hello"), &greedy);
    let (agent, natives) = host(&config(
        root.path(),
        &skills,
        "[skills.allow.hello-wasm]\nhosts = [\"api.example.com\"]\n",
    ))
    .await;
    assert_eq!(skill(&natives, "hello-wasm").unavailable, None);
    let answer = ask(&agent, r#"/tool hello.greet {"name": "Ada"}"#).await;
    assert_eq!(
        answer,
        "tool said: Hello, Ada! Greetings from a WebAssembly skill."
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_skill_runs_in_a_fresh_container_with_its_arguments() {
    if openpista_tests::native::docker::engine().await.is_none() {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let skills = root.path().join("skills");
    write(
        &skills.join("boxed/SKILL.md"),
        "---\nname: boxed\ndescription: Reports its arguments from inside a container.\nmode: container\nimage: busy\ncommand: 'read -r a; echo \"in box: $a\"; ls /workspace >/dev/null && echo ws-ok'\ntimeout_secs: 30\n---\n",
    );
    write(
        &skills.join("netty/SKILL.md"),
        "---\nname: netty\ndescription: Wants the network.\nmode: container\nimage: busy\ncommand: 'true'\nnetwork: true\n---\n",
    );
    let extra = format!(
        "[native.container]\nimage = \"{img}\"\n[native.container.images]\nbusy = \"{img}\"\n[skills.allow.boxed]\noutside_sandbox = true\n[skills.allow.netty]\noutside_sandbox = true\n",
        img = openpista_tests::native::docker::IMAGE
    );
    let (agent, natives) = host(&config(root.path(), &skills, &extra)).await;
    let s = skill(&natives, "boxed");
    assert_eq!(s.unavailable, None);
    assert!(s.reach.contains("no network"), "{}", s.reach);
    let why = skill(&natives, "netty").unavailable.unwrap();
    assert!(why.contains("network"), "{why}");
    let answer = ask(&agent, r#"/tool skill.boxed {"n": 7}"#).await;
    assert!(answer.contains(r#"in box: {"n":7}"#), "{answer}");
    assert!(
        answer.contains("ws-ok") && answer.contains("ran in container"),
        "{answer}"
    );
    natives.shutdown().await;
}
