//! `openpista skill list` and `openpista skill show NAME`: every skill
//! found, whether it can run and why not, and what it may reach. From the
//! running server when there is one (its view is the one that counts),
//! else by checking the skills here.

use super::control::{self, Request};
use crate::config::Config;
use crate::skills::Skill;
use anyhow::{Result, bail};
use clap::Subcommand;

#[derive(Subcommand, Debug)]
pub enum SkillCommand {
    /// Every skill, available or not, with what it may reach.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// One skill: its mode, tools, grants, requirements and instructions.
    Show { name: String },
}

/// The skills as the server sees them, or as checked here.
async fn skills(config: &Config) -> Result<(Vec<Skill>, bool)> {
    if let Some(r) = control::request(&super::control_socket_path(), &Request::Skills).await? {
        if !r.ok {
            bail!("{}", r.error.unwrap_or_default());
        }
        return Ok((serde_json::from_value(r.data.unwrap_or_default())?, true));
    }
    let runtime = super::build_runtime(config)?;
    runtime.load_all().await;
    let (_, natives) = super::tools(config, &runtime);
    let skills = natives
        .skills
        .as_ref()
        .map(|s| s.skills())
        .unwrap_or_default();
    Ok((skills, false))
}

fn mode(s: &Skill) -> &'static str {
    s.mode.map(|m| m.as_str()).unwrap_or("?")
}

pub async fn run(config: Config, cmd: SkillCommand) -> Result<i32> {
    let (skills, live) = skills(&config).await?;
    match cmd {
        SkillCommand::List { json } => {
            if json {
                println!("{}", serde_json::to_string_pretty(&skills)?);
                return Ok(0);
            }
            if !live {
                println!("(no running server; checked the skills here)");
            }
            if skills.is_empty() {
                println!(
                    "no skills found in {}",
                    crate::skills::roots(&config.skills_setup())
                        .iter()
                        .map(|r| r.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
            for s in &skills {
                let state = if s.unavailable.is_some() {
                    "unavailable"
                } else {
                    "available"
                };
                println!(
                    "{:<20} {:<11} {:<11} {}",
                    s.name,
                    mode(s),
                    state,
                    s.description
                );
                println!("    reach:  {}", s.reach);
                if !s.tools.is_empty() {
                    println!("    tools:  {}", s.tools.join(", "));
                }
                if let Some(why) = &s.unavailable {
                    println!("    why:    {why}");
                }
            }
            Ok(0)
        }
        SkillCommand::Show { name } => {
            let Some(s) = skills.iter().find(|s| s.name == name) else {
                let names: Vec<&str> = skills.iter().map(|s| s.name.as_str()).collect();
                bail!(
                    "no skill named {name} (found: {})",
                    if names.is_empty() {
                        "none".into()
                    } else {
                        names.join(", ")
                    }
                );
            };
            println!("skill:       {}", s.name);
            println!("file:        {}", s.path.display());
            println!("mode:        {}", mode(s));
            println!("description: {}", s.description);
            match &s.unavailable {
                None => println!("state:       available"),
                Some(why) => println!("state:       unavailable: {why}"),
            }
            println!("may reach:   {}", s.reach);
            if let Some(c) = &s.component {
                println!("component:   {c}");
            }
            if !s.tools.is_empty() {
                println!("tools:       {}", s.tools.join(", "));
            }
            if !s.body.is_empty() {
                println!("\n{}", s.body);
            }
            Ok(if s.unavailable.is_some() { 1 } else { 0 })
        }
    }
}
