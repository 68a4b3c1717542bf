//! `openpista run`, `chat` and `session`: the terminal front end.

use super::Toolbox;
use super::build;
use crate::agent::{Agent, TurnEvent};
use crate::config::Config;
use anyhow::{Result, bail};
use clap::Subcommand;
use std::io::Write;

/// Loads everything and builds the agent, with the native tools it holds
/// (shut them down when done: they may have a browser running).
pub async fn agent(config: &Config) -> Result<(Agent, Toolbox)> {
    let (runtime, memory, provider) = build(config)?;
    for (name, error) in runtime.load_all().await {
        eprintln!("warning: component {name} failed to load: {error}");
    }
    if !provider.key_present
        && let Some(var) = &provider.key_env
    {
        bail!(
            "the provider {:?} needs an API key: set {var} (or api_key_env in [providers.{}]), or use the offline provider with [agent] provider = \"echo\"",
            config.agent.provider,
            config.agent.provider
        );
    }
    let mut settings = config.agent_settings(&provider);
    let (tools, natives) = super::tools(config, &runtime);
    if let Some(containers) = &natives.natives.containers {
        // The tasks this process runs report here.
        super::worker_cmds::start_reports(config, &memory, containers).await;
    }
    if let Some(skills) = &natives.skills {
        settings.skill_context = skills.context();
    }
    settings.approvals = super::approvals(config, &runtime);
    // A turn starts with the MCP servers' tools, or with what could be
    // reached in that time.
    if let Some(mcp) = &natives.mcp {
        mcp.settled(MCP_SETTLE).await;
    }
    Ok((
        Agent {
            tools,
            runtime,
            memory,
            settings,
        },
        natives,
    ))
}

/// How long a one-shot command waits for the MCP servers' first connection.
pub const MCP_SETTLE: std::time::Duration = std::time::Duration::from_secs(20);

/// Prints streamed text as it arrives and tool activity on stderr.
fn printer() -> impl FnMut(TurnEvent) {
    |event| match event {
        TurnEvent::Text(t) => {
            print!("{t}");
            let _ = std::io::stdout().flush();
        }
        TurnEvent::ToolStarted { name, .. } => eprintln!("[tool {name}]"),
        TurnEvent::ToolFinished { name, ok } => {
            if !ok {
                eprintln!("[tool {name} failed]");
            }
        }
    }
}

/// `openpista run -e TEXT`: one turn; the answer on stdout.
pub async fn run(config: Config, text: &str, session: &str) -> Result<i32> {
    let (agent, natives) = agent(&config).await?;
    let code = match agent
        .turn_with(
            session,
            super::ask::terminal_input(session, text),
            printer(),
        )
        .await
    {
        Ok(outcome) => {
            if outcome.hit_round_limit {
                // The streamed text lacks the notice the outcome carries.
                print!("\n\n{}", outcome.answer.rsplit("\n\n").next().unwrap_or(""));
            }
            println!();
            0
        }
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    };
    natives.shutdown().await;
    Ok(code)
}

const HELP: &str =
    "/help  this text\n/clear forget this session's history\n/quit  leave (Ctrl-D works too)";

/// `openpista chat`: an interactive terminal session.
pub async fn chat(config: Config, session: &str) -> Result<i32> {
    let (agent, natives) = agent(&config).await?;
    eprintln!(
        "openpista chat, session {session} ({}). /help for commands.",
        agent.settings.provider
    );
    let mut lines =
        tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(tokio::io::stdin()));
    loop {
        eprint!("> ");
        let Some(line) = lines.next_line().await? else {
            break;
        };
        let line = line.trim();
        match line {
            "" => continue,
            "/quit" | "/exit" => break,
            "/help" => println!("{HELP}"),
            "/clear" => {
                agent.forget_session(session)?;
                println!("(history cleared)");
            }
            text if text.starts_with('/') && !text.contains(' ') && text.len() < 16 => {
                println!("unknown command {text}\n{HELP}")
            }
            text => match agent
                .turn_with(
                    session,
                    super::ask::terminal_input(session, text),
                    printer(),
                )
                .await
            {
                Ok(_) => println!(),
                Err(e) => println!("❌ {e}"),
            },
        }
    }
    natives.shutdown().await;
    Ok(0)
}

#[derive(Subcommand, Debug)]
pub enum SessionCommand {
    /// Sessions, most recent first.
    List,
    /// A session's messages.
    Show { id: String },
    /// Delete a session and its messages.
    Delete { id: String },
}

pub async fn session(config: Config, cmd: SessionCommand) -> Result<i32> {
    let memory = crate::memory::MemoryStore::open(&crate::paths::expand(&config.memory.path))?;
    match cmd {
        SessionCommand::List => {
            for s in memory.sessions()? {
                println!(
                    "{:<32} {:>5} messages  last active {}",
                    s.id, s.messages, s.last_active_ms
                );
            }
        }
        SessionCommand::Show { id } => {
            if memory.session(&id)?.is_none() {
                eprintln!("no session {id}");
                return Ok(1);
            }
            for m in memory.messages(&id, usize::MAX)? {
                let mut line = format!("[{}] {}", m.role, m.content);
                for c in &m.tool_calls {
                    line.push_str(&format!("\n    → {}({})", c.name, c.arguments));
                }
                println!("{line}");
            }
            let decisions = crate::agent::control::decisions(&memory, &id)?;
            if !decisions.is_empty() {
                println!("\napproval decisions:");
            }
            for d in decisions {
                println!("  {} {} via {}: {}", d.at_ms, d.tool, d.channel, d.outcome);
                for line in d.arguments.lines() {
                    println!("      {line}");
                }
            }
        }
        SessionCommand::Delete { id } => {
            let existed = memory.delete_session(&id)?;
            let decisions = crate::agent::control::forget_decisions(&memory, &id)?;
            if !existed && decisions == 0 {
                eprintln!("no session {id}");
                return Ok(1);
            }
            println!("deleted {id}");
        }
    }
    Ok(0)
}
