//! `openpista pairing ...` and `openpista telegram status`: the messenger
//! channels' state. Their memory is the channel component's; while
//! `serve` runs only it can open the database, so these go through its
//! control socket then, and open the file themselves otherwise.

use super::control::{self, Request};
use crate::config::Config;
use crate::gateway::pairing;
use crate::memory::MemoryStore;
use anyhow::{Result, bail};
use clap::Subcommand;
use serde::{Deserialize, Serialize};

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

/// A pairing action as the control socket carries it.
#[derive(Serialize, Deserialize, Debug, Clone)]
#[serde(rename_all = "lowercase")]
pub enum PairingAction {
    Approve { code: String },
    List,
    Revoke { user_id: String },
}

/// Carries out `action` on `memory` (the server does this for a request on
/// its control socket; the command line when no server runs).
pub fn pairing_local(
    memory: &MemoryStore,
    channel: &str,
    action: &PairingAction,
) -> Result<serde_json::Value> {
    Ok(match action {
        PairingAction::Approve { code } => {
            let p = pairing::approve(memory, channel, code, crate::gateway::now_ms())?;
            serde_json::to_value(p)?
        }
        PairingAction::List => {
            let (pending, approved) = pairing::list(memory, channel)?;
            serde_json::json!({ "pending": pending, "approved": approved })
        }
        PairingAction::Revoke { user_id } => {
            serde_json::Value::Bool(pairing::revoke(memory, channel, user_id)?)
        }
    })
}

/// Sends `request` to the running server, or runs `local` on the memory
/// file when none answers.
async fn with_memory(
    config: &Config,
    request: Request,
    local: impl FnOnce(&MemoryStore) -> Result<serde_json::Value>,
) -> Result<serde_json::Value> {
    if let Some(response) = control::request(&super::control_socket_path(), &request).await? {
        return match (response.ok, response.data) {
            (true, Some(data)) => Ok(data),
            (true, None) => Ok(serde_json::Value::Null),
            (false, _) => bail!(
                "{}",
                response
                    .error
                    .unwrap_or_else(|| "the server refused".into())
            ),
        };
    }
    let memory = MemoryStore::open(&crate::paths::expand(&config.memory.path))?;
    local(&memory)
}

pub async fn pairing(config: Config, cmd: PairingCommand) -> Result<i32> {
    let (channel, action) = match cmd {
        PairingCommand::Approve { channel, code } => (channel, PairingAction::Approve { code }),
        PairingCommand::List { channel } => (channel, PairingAction::List),
        PairingCommand::Revoke { channel, user_id } => (channel, PairingAction::Revoke { user_id }),
    };
    pairing::component_of(&channel)?;
    let request = Request::Pairing {
        channel: channel.clone(),
        action: action.clone(),
    };
    let data = with_memory(&config, request, |m| pairing_local(m, &channel, &action)).await?;
    match action {
        PairingAction::Approve { .. } => {
            let p: pairing::Pending = serde_json::from_value(data)?;
            println!(
                "approved {channel} user {}{}: their messages reach the agent now",
                p.user_id,
                p.username.map(|u| format!(" (@{u})")).unwrap_or_default()
            );
        }
        PairingAction::List => {
            let pending: Vec<pairing::Pending> = serde_json::from_value(data["pending"].clone())?;
            let approved: Vec<pairing::Approved> =
                serde_json::from_value(data["approved"].clone())?;
            println!(
                "{channel}: {} pending, {} approved",
                pending.len(),
                approved.len()
            );
            for p in pending {
                println!(
                    "  pending  {}  user {}{}",
                    p.code,
                    p.user_id,
                    p.username.map(|u| format!(" @{u}")).unwrap_or_default()
                );
            }
            for a in approved {
                println!(
                    "  approved user {}{}",
                    a.user_id,
                    a.username.map(|u| format!(" @{u}")).unwrap_or_default()
                );
            }
        }
        PairingAction::Revoke { user_id } => {
            if data.as_bool() == Some(true) {
                println!("{channel} user {user_id} is no longer approved");
            } else {
                println!("{channel} user {user_id} was not approved");
                return Ok(1);
            }
        }
    }
    Ok(0)
}

pub async fn telegram(config: Config, cmd: TelegramCommand) -> Result<i32> {
    let TelegramCommand::Status = cmd;
    let t = config.channels.telegram.resolve()?;
    let component = crate::config::telegram::COMPONENT;
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
    let request = Request::Kv {
        component: component.into(),
        key: "bot".into(),
    };
    let bot = with_memory(&config, request, |m| {
        Ok(m.kv_get(component, "bot")?
            .map(|b| serde_json::Value::String(String::from_utf8_lossy(&b).into_owned()))
            .unwrap_or_default())
    })
    .await;
    let bot = match bot {
        Ok(serde_json::Value::String(text)) => {
            match serde_json::from_str::<serde_json::Value>(&text) {
                Ok(b) => format!(
                    "@{} (id {})",
                    b["username"].as_str().unwrap_or("?"),
                    b["id"]
                        .as_i64()
                        .map(|i| i.to_string())
                        .unwrap_or("?".into())
                ),
                Err(_) => "unreadable (the channel will fetch it again at start)".into(),
            }
        }
        Ok(_) => "unknown until the channel has started once".into(),
        Err(e) => format!("unknown ({e:#})"),
    };
    println!("bot:            {bot}");
    Ok(0)
}
