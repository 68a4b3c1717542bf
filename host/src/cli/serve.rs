//! `openpista serve`: load every component, watch the plugin folders for
//! hot swap, answer the control socket, and run until SIGINT or SIGTERM.

use super::{build, control, control_socket_path};
use crate::config::Config;
use crate::runtime::watch;
use anyhow::Result;
use std::time::Instant;

pub async fn run(config: Config, exit_when_ready: bool) -> Result<i32> {
    let started = Instant::now();
    let (runtime, _memory, provider) = build(&config)?;
    let failures = runtime.load_all().await;
    for (name, error) in &failures {
        eprintln!("component {name} failed to load: {error}");
    }
    let loaded = runtime.components();
    let names: Vec<&str> = loaded.iter().map(|c| c.name()).collect();
    println!(
        "openpista ready in {} ms: {} component(s) [{}], {:?} allocator",
        started.elapsed().as_millis(),
        loaded.len(),
        names.join(", "),
        runtime.allocator()
    );
    if provider.component == "llm-echo" {
        println!(
            "no language model is configured: answers come from the offline echo provider. \
             To use a real model, add to {}:\n  [agent]\n  provider = \"main\"\n  [providers.main]\n  preset = \"openai\"   # or claude, ollama, together, openrouter, responses, custom\n  model = \"gpt-4o-mini\"\nand set OPENAI_API_KEY (see config.example.toml).",
            crate::config::home_dir().join("config.toml").display()
        );
    } else if !provider.key_present {
        println!(
            "provider {:?} has no API key: set {} before chatting.",
            config.agent.provider,
            provider.key_env.as_deref().unwrap_or("its api_key_env")
        );
    }
    if exit_when_ready {
        return Ok(0);
    }
    let pid_file = crate::config::home_dir().join("openpista.pid");
    std::fs::write(&pid_file, format!("{}\n", std::process::id()))?;
    let _watch = watch::watch(runtime.clone())?;
    let socket = control_socket_path();
    let _control = control::serve(runtime.clone(), &socket)?;
    for dir in runtime.plugin_dirs() {
        println!("watching {} for components", dir.display());
    }
    wait_for_shutdown().await;
    println!("openpista stopping");
    let _ = std::fs::remove_file(&socket);
    let _ = std::fs::remove_file(&pid_file);
    Ok(0)
}

async fn wait_for_shutdown() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("install SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
