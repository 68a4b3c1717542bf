//! `openpista pairing ...`, `openpista telegram|discord|slack
//! status`: asked of the
//! channel component itself (its `pairing` and `report` exports), never
//! read from its storage. While `serve` runs only it can open the
//! database, so these go through its control socket then, and load the
//! component themselves otherwise.

use super::control::{self, Request};
use crate::config::Config;
use crate::gateway::channels::{channel_component, with_fresh};
use crate::runtime::Runtime;
use crate::runtime::bindings::channel::exports::openpista::plugin::pairing::PairingRequest;
use anyhow::{Result, bail};
use clap::Subcommand;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::sync::Arc;

#[derive(Subcommand, Debug)]
pub enum PairingCommand {
    /// Let the sender who got CODE talk to the agent.
    Approve { channel: String, code: String },
    /// Pending requests and approved users.
    List { channel: String },
    /// Withdraw a user's approval (a Telegram user id, a WhatsApp JID).
    Revoke { channel: String, user_id: String },
}

#[derive(Subcommand, Debug)]
pub enum TelegramCommand {
    /// Whether the bot is configured and how it runs.
    Status,
}

#[derive(Subcommand, Debug)]
pub enum DiscordCommand {
    /// Whether the bot is configured, and the Gateway connection's state.
    Status,
}

#[derive(Subcommand, Debug)]
pub enum SlackCommand {
    /// Whether the app is configured, how events arrive, and its state.
    Status,
}

/// What a command asks of a channel, as the control socket carries it.
#[derive(Serialize, Deserialize, Debug, Clone)]
#[serde(rename_all = "lowercase")]
pub enum ChannelAction {
    Approve {
        code: String,
    },
    List,
    Revoke {
        user_id: String,
    },
    /// `report.describe`.
    Report,
}

fn call_error(e: crate::runtime::CallError) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

/// Carries out `action` through a fresh instance of the channel's own
/// component: the channel keeps its pairing state and knows its state;
/// the host only asks (the server does this for a request on its control
/// socket, the command line when no server runs).
pub async fn channel_action(
    runtime: &Arc<Runtime>,
    channel: &str,
    action: &ChannelAction,
) -> Result<Value> {
    let component = channel_component(runtime, channel)
        .await
        .map_err(|e| anyhow::anyhow!(e))?;
    let request = |r: PairingRequest| json!({"code": r.code, "user": r.user, "name": r.name, "created_ms": r.created_ms});
    with_fresh(&component, async |i| {
        Ok(match action {
            ChannelAction::Approve { code } => request(i.approve(code).await?),
            ChannelAction::List => {
                let (pending, approved) = i.list_pairings().await?;
                json!({
                    "pending": pending.into_iter().map(request).collect::<Vec<_>>(),
                    "approved": approved
                        .into_iter()
                        .map(|u| json!({"user": u.user, "name": u.name, "approved_ms": u.approved_ms}))
                        .collect::<Vec<_>>(),
                })
            }
            ChannelAction::Revoke { user_id } => Value::Bool(i.revoke(user_id).await?),
            ChannelAction::Report => {
                let r = i.describe().await?;
                json!({
                    "state": r.state,
                    "account": r.account,
                    "link": r.link.map(|l| json!({"qr": l.qr, "code": l.code})),
                    "details": r.details,
                })
            }
        })
    })
    .await
    .map_err(call_error)
}

/// Runs `action` on the running server, or on a runtime of our own that
/// loads just the channel's component when no server answers.
pub async fn ask_channel(config: &Config, channel: &str, action: ChannelAction) -> Result<Value> {
    let request = Request::Channel {
        channel: channel.to_string(),
        action: action.clone(),
    };
    if let Some(response) = control::request(&super::control_socket_path(), &request).await? {
        return match (response.ok, response.data) {
            (true, data) => Ok(data.unwrap_or_default()),
            (false, _) => bail!(
                "{}",
                response
                    .error
                    .unwrap_or_else(|| "the server refused".into())
            ),
        };
    }
    let runtime = super::build_runtime(config)?;
    channel_action(&runtime, channel, &action).await
}

fn name_of(v: &Value) -> String {
    v["name"]
        .as_str()
        .map(|n| format!(" ({n})"))
        .unwrap_or_default()
}

pub async fn pairing(config: Config, cmd: PairingCommand) -> Result<i32> {
    let (channel, action) = match cmd {
        PairingCommand::Approve { channel, code } => (channel, ChannelAction::Approve { code }),
        PairingCommand::List { channel } => (channel, ChannelAction::List),
        PairingCommand::Revoke { channel, user_id } => (channel, ChannelAction::Revoke { user_id }),
    };
    let data = ask_channel(&config, &channel, action.clone()).await?;
    match action {
        ChannelAction::Approve { .. } => println!(
            "approved {channel} user {}{}: their messages reach the agent now",
            data["user"].as_str().unwrap_or("?"),
            name_of(&data)
        ),
        ChannelAction::List => {
            let list = |k: &str| data[k].as_array().cloned().unwrap_or_default();
            let (pending, approved) = (list("pending"), list("approved"));
            println!(
                "{channel}: {} pending, {} approved",
                pending.len(),
                approved.len()
            );
            for p in pending {
                println!(
                    "  pending  {}  user {}{}",
                    p["code"].as_str().unwrap_or("?"),
                    p["user"].as_str().unwrap_or("?"),
                    name_of(&p)
                );
            }
            for a in approved {
                println!(
                    "  approved user {}{}",
                    a["user"].as_str().unwrap_or("?"),
                    name_of(&a)
                );
            }
        }
        ChannelAction::Revoke { user_id } => {
            if data.as_bool() == Some(true) {
                println!("{channel} user {user_id} is no longer approved");
            } else {
                println!("{channel} user {user_id} was not approved");
                return Ok(1);
            }
        }
        ChannelAction::Report => {}
    }
    Ok(0)
}

/// Prints a channel's report: state, account, and its details.
pub fn print_report(report: &Value) {
    println!(
        "state:          {}",
        report["state"].as_str().unwrap_or("unknown")
    );
    if let Some(account) = report["account"].as_str() {
        println!("account:        {account}");
    }
    for pair in report["details"].as_array().into_iter().flatten() {
        if let (Some(k), Some(v)) = (pair[0].as_str(), pair[1].as_str()) {
            println!("{:<15} {v}", format!("{k}:"));
        }
    }
}

pub async fn telegram(config: Config, cmd: TelegramCommand) -> Result<i32> {
    let TelegramCommand::Status = cmd;
    let t = config.channels.telegram.resolve()?;
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    println!("enabled:        {}", yes_no(t.enabled));
    println!(
        "token present:  {}",
        if t.token.is_some() {
            "yes"
        } else {
            "no (set TELEGRAM_BOT_TOKEN)"
        }
    );
    match &t.webhook_url {
        Some(url) => {
            println!("mode:           webhook");
            println!("webhook url:    {url}");
            println!("webhook listen: {}", t.webhook_addr());
        }
        None => println!("mode:           polling"),
    }
    println!("allowed users:  {}", t.allowed_users.len());
    println!("pairing:        {}", if t.pairing { "on" } else { "off" });
    println!("api:            {}", t.api_url);
    match ask_channel(&config, "telegram", ChannelAction::Report).await {
        Ok(report) => print_report(&report),
        Err(e) => println!("state:          unknown ({e:#})"),
    }
    Ok(0)
}

pub async fn discord(config: Config, cmd: DiscordCommand) -> Result<i32> {
    let DiscordCommand::Status = cmd;
    let d = config.channels.discord.resolve()?;
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    println!("enabled:        {}", yes_no(d.enabled));
    println!(
        "token present:  {}",
        if d.token.is_some() {
            "yes"
        } else {
            "no (set DISCORD_BOT_TOKEN)"
        }
    );
    println!("allowed users:  {}", d.allowed_users.len());
    println!("pairing:        {}", if d.pairing { "on" } else { "off" });
    println!("api:            {}", d.api_url);
    match ask_channel(&config, "discord", ChannelAction::Report).await {
        Ok(report) => print_report(&report),
        Err(e) => println!("state:          unknown ({e:#})"),
    }
    Ok(0)
}

pub async fn slack(config: Config, cmd: SlackCommand) -> Result<i32> {
    let SlackCommand::Status = cmd;
    let s = config.channels.slack.resolve()?;
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    println!("enabled:        {}", yes_no(s.enabled));
    println!(
        "bot token:      {}",
        if s.bot_token.is_some() {
            "yes"
        } else {
            "no (set SLACK_BOT_TOKEN)"
        }
    );
    match s.mode {
        crate::config::slack::SlackMode::Socket => {
            println!("mode:           socket (Socket Mode, no public URL)");
            println!(
                "app token:      {}",
                if s.app_token.is_some() {
                    "yes"
                } else {
                    "no (set SLACK_APP_TOKEN)"
                }
            );
        }
        crate::config::slack::SlackMode::Events => {
            println!("mode:           events (Slack posts to /slack/events)");
            println!(
                "signing secret: {}",
                if s.signing_secret.is_some() {
                    "yes"
                } else {
                    "no (set SLACK_SIGNING_SECRET)"
                }
            );
        }
    }
    println!("allowed users:  {}", s.allowed_users.len());
    println!("pairing:        {}", if s.pairing { "on" } else { "off" });
    println!("api:            {}", s.api_url);
    match ask_channel(&config, "slack", ChannelAction::Report).await {
        Ok(report) => print_report(&report),
        Err(e) => println!("state:          unknown ({e:#})"),
    }
    Ok(0)
}
