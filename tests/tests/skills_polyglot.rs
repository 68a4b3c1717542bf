//! The WIT is usable outside Rust: the Python (componentize-py) and
//! JavaScript (jco componentize) example skills are built from source here
//! with the real toolchains (`skills/build-examples.sh`), installed as
//! skills, and called by the agent when a doubled model asks for them:
//! the Python one reads the read-only workspace, the JavaScript one calls
//! a granted host with a secret the host fills in.
//!
//! Without python3, node or npm the test skips loudly; under CI it fails.

use openpista::agent::Agent;
use openpista::config::Config;
use openpista_tests::doubles::http1::{self, Answer};
use openpista_tests::doubles::openai::{OpenAiDouble, Reply};
use openpista_tests::native::{require, which};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

/// Builds the examples into `out` with the project's script.
fn build_examples(out: &Path) -> Result<(), String> {
    for tool in ["python3", "node", "npm"] {
        which(&[tool]).ok_or_else(|| format!("{tool} is not on PATH"))?;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../skills/build-examples.sh");
    let output = Command::new("bash")
        .arg(&script)
        .arg(out)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if !output.status.success() {
        return Err(format!(
            "build-examples.sh failed: {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_and_javascript_skills_are_built_and_called_by_the_agent() {
    let root = tempfile::tempdir().unwrap();
    let skills: PathBuf = root.path().join("skills");
    let built = build_examples(&skills);
    if !require("python3, node and npm to build the example skills", built) {
        return;
    }
    // What the Python skill reads: the workspace, mounted read-only.
    let workspace = root.path().join("workspace");
    std::fs::create_dir_all(workspace.join("docs")).unwrap();
    std::fs::write(
        workspace.join("docs/notes.md"),
        "# Notes\nfirst line\nsecond line\n",
    )
    .unwrap();

    // The weather service the JavaScript skill calls.
    let seen: Arc<Mutex<Vec<http1::Recorded>>> = Arc::default();
    let record = seen.clone();
    let weather = http1::serve(Arc::new(move |req: http1::Recorded| {
        record.lock().unwrap().push(req.clone());
        Answer::Whole {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body: br#"{"city":"Lisbon","temperature_c":21.5,"condition":"sunny","wind_kph":12}"#
                .to_vec(),
        }
    }))
    .await;

    let model = OpenAiDouble::start().await;
    const KEY_ENV: &str = "OPENPISTA_TEST_POLYGLOT_KEY";
    // SAFETY: only this test reads this variable.
    unsafe { std::env::set_var(KEY_ENV, "sk-polyglot") };
    let config = Config::parse(
        &format!(
            r#"
[agent]
provider = "main"
[providers.main]
preset = "custom"
base_url = "{model}"
model = "m"
api_key_env = "{KEY_ENV}"
[runtime]
plugin_dirs = []
cache_dir = "{root}/cache"
[memory]
path = "{root}/memory.redb"
[native.container]
workspace = "{workspace}"
[skills]
workspace = false
dirs = ["{skills}"]
[skills.allow.summary-py]
paths = ["$WORKSPACE"]
[skills.allow.weather-js]
hosts = ["api.weather.example", "{weather}"]
secrets = ["weather_key"]
[components.weather-js.config]
base_url = "http://{weather}"
[secrets]
weather_key = {{ value = "wk-secret-123" }}
"#,
            model = model.base_url(),
            root = root.path().display(),
            workspace = workspace.display(),
            skills = skills.display(),
        ),
        "test config",
    )
    .unwrap();
    let (runtime, memory, setup) = openpista::cli::build(&config).unwrap();
    let failures = runtime.load_all().await;
    assert!(failures.is_empty(), "{failures:?}");
    let (tools, natives) = openpista::cli::tools(&config, &runtime);
    let set = natives.skills.clone().unwrap();
    for s in set.skills() {
        assert_eq!(s.unavailable, None, "{}: {:?}", s.name, s.unavailable);
    }
    let mut settings = config.agent_settings(&setup);
    settings.skill_context = set.context();
    let agent = Agent {
        tools,
        runtime,
        memory,
        settings,
    };

    // Python: the model asks for a summary of a workspace file.
    model.push(Reply::stream_tool_calls(&[(
        "c1",
        "files__summary",
        &[r#"{"path": "docs/notes.md"}"#],
    )]));
    model.push(Reply::stream_text(&["It has three lines."]));
    let out = agent
        .turn("test:py", "what is in the notes?", |_| {})
        .await
        .unwrap();
    assert_eq!(out.answer, "It has three lines.");
    let tool_text = |n: usize| {
        model.requests()[n].body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["role"] == "tool")
            .map(|m| m["content"].as_str().unwrap().to_string())
            .unwrap()
    };
    let py = tool_text(1);
    assert!(py.contains("first line") && py.contains("3"), "{py}");
    // The system prompt carried both skills' instructions.
    let system = model.requests()[0].body["messages"][0]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        system.contains("## summary-py") && system.contains("## weather-js"),
        "{system}"
    );

    // JavaScript: the model asks for the weather; the service gets the key.
    model.push(Reply::stream_tool_calls(&[(
        "c2",
        "weather__current",
        &[r#"{"city": "Lisbon"}"#],
    )]));
    model.push(Reply::stream_text(&["Sunny."]));
    let out = agent
        .turn("test:js", "weather in Lisbon?", |_| {})
        .await
        .unwrap();
    assert_eq!(out.answer, "Sunny.");
    let js = tool_text(3);
    assert!(js.contains("Lisbon: 21.5 °C, sunny, wind 12 km/h"), "{js}");
    let requests = seen.lock().unwrap().clone();
    assert_eq!(requests.len(), 1);
    assert!(
        requests[0].path.starts_with("/v1/current?city=Lisbon"),
        "{}",
        requests[0].path
    );
    assert_eq!(
        requests[0].header("authorization"),
        Some("Bearer wk-secret-123"),
        "the host put the secret in on the way out"
    );
    assert!(!js.contains("wk-secret-123"), "the secret never comes back");
    natives.shutdown().await;
}
