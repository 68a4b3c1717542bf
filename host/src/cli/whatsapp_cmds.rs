//! `openpista whatsapp status` and `openpista whatsapp pair`: the linked
//! device's state as the `channel-whatsapp` component records it
//! (`bridge/state` in its memory), and pairing: through the running
//! server's bridge when there is one, else with a bridge started here just
//! for it. The credentials stay in the session folder, so `serve` uses them
//! afterwards.

use super::control::{self, Request};
use crate::config::Config;
use crate::config::whatsapp::{COMPONENT, WhatsAppSettings};
use anyhow::{Context, Result, bail};
use clap::Subcommand;
use serde_json::Value;
use std::time::{Duration, Instant};

#[derive(Subcommand, Debug)]
pub enum WhatsAppCommand {
    /// Pairing state, configuration and the bridge's health.
    Status,
    /// Link this host as a WhatsApp device: scan the QR code shown, or use
    /// the pairing code asked for with --phone.
    Pair {
        /// Your phone number with country code, digits only
        /// (15551234567): show a pairing code instead of a QR code.
        #[arg(long)]
        phone: Option<String>,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 180)]
        timeout_secs: u64,
    },
}

pub async fn run(config: Config, cmd: WhatsAppCommand) -> Result<i32> {
    let settings = config.channels.whatsapp.resolve()?;
    match cmd {
        WhatsAppCommand::Status => status(&config, &settings).await,
        WhatsAppCommand::Pair {
            phone,
            timeout_secs,
        } => {
            if let Some(p) = &phone
                && (p.len() < 6 || !p.bytes().all(|b| b.is_ascii_digit()))
            {
                bail!("--phone {p:?}: digits only, with the country code (15551234567)");
            }
            pair(&config, &settings, phone, Duration::from_secs(timeout_secs)).await
        }
    }
}

/// A value of the component's memory: from the server, or the file.
async fn memory_value(config: &Config, key: &str) -> Result<Option<Value>> {
    let request = Request::Kv {
        component: COMPONENT.into(),
        key: key.into(),
    };
    let text = match control::request(&super::control_socket_path(), &request).await? {
        Some(r) if r.ok => r.data.and_then(|d| d.as_str().map(String::from)),
        Some(r) => bail!("{}", r.error.unwrap_or_default()),
        None => {
            let memory =
                crate::memory::MemoryStore::open(&crate::paths::expand(&config.memory.path))?;
            memory
                .kv_get(COMPONENT, key)?
                .map(|b| String::from_utf8_lossy(&b).into_owned())
        }
    };
    Ok(text
        .filter(|t| !t.is_empty())
        .and_then(|t| serde_json::from_str(&t).ok()))
}

async fn status(config: &Config, s: &WhatsAppSettings) -> Result<i32> {
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    println!("enabled:        {}", yes_no(s.enabled));
    let creds = s.session_dir.join("auth").join("creds.json").is_file();
    println!(
        "session:        {} ({})",
        s.session_dir.display(),
        if creds {
            "credentials stored"
        } else {
            "not paired: run `openpista whatsapp pair`"
        }
    );
    println!("bridge:         {}", s.script().display());
    match s.preflight() {
        Ok(()) => println!("bridge ready:   yes"),
        Err(why) => println!("bridge ready:   no: {why}"),
    }
    println!("allowed users:  {}", s.allowed_users.len());
    println!("pairing:        {}", if s.pairing { "on" } else { "off" });
    match memory_value(config, "bridge/state").await {
        Ok(Some(state)) => {
            let text = |k: &str| state[k].as_str().unwrap_or("-").to_string();
            println!("state:          {}", text("state"));
            println!("linked as:      {} {}", text("jid"), text("name"));
            println!(
                "bridge process: pid {}, restarts {}",
                state["bridge_pid"],
                state["bridge_restarts"].as_u64().unwrap_or(0)
            );
            if let Some(d) = state.get("last_disconnect").filter(|d| !d.is_null()) {
                println!("last disconnect: {d}");
            }
        }
        Ok(None) => println!("state:          unknown until the channel has run once"),
        Err(e) => println!("state:          unknown ({e:#})"),
    }
    if let Ok(Some(r)) = memory_value(config, "bridge/rejected").await {
        println!(
            "rejected lines: {} (last: {})",
            r["count"],
            r["last"].as_str().unwrap_or("-")
        );
    }
    Ok(0)
}

/// The QR code of `text` drawn with block characters, two rows a line.
pub fn render_qr(text: &str) -> Result<String> {
    let code = qrcode::QrCode::new(text.as_bytes()).context("cannot encode the QR code")?;
    Ok(code
        .render::<qrcode::render::unicode::Dense1x2>()
        .dark_color(qrcode::render::unicode::Dense1x2::Light)
        .light_color(qrcode::render::unicode::Dense1x2::Dark)
        .quiet_zone(true)
        .build())
}

async fn pair(
    config: &Config,
    s: &WhatsAppSettings,
    phone: Option<String>,
    timeout: Duration,
) -> Result<i32> {
    let socket = super::control_socket_path();
    if control::request(&socket, &Request::List).await?.is_some() {
        return pair_through_server(config, phone, timeout).await;
    }
    pair_here(s, phone, timeout).await
}

/// Pairs through the running server's bridge, reading the state the
/// component records.
async fn pair_through_server(
    config: &Config,
    phone: Option<String>,
    timeout: Duration,
) -> Result<i32> {
    if let Some(phone) = &phone {
        let line =
            serde_json::json!({"cmd": "request_pairing_code", "ref": "cli-pair", "phone": phone});
        let r = control::request(
            &super::control_socket_path(),
            &Request::BridgeSend {
                component: COMPONENT.into(),
                line: line.to_string(),
            },
        )
        .await?
        .context("the server went away")?;
        if !r.ok {
            bail!("{}", r.error.unwrap_or_default());
        }
    }
    let deadline = Instant::now() + timeout;
    let mut shown = String::new();
    while Instant::now() < deadline {
        if let Some(state) = memory_value(config, "bridge/state").await? {
            if state["state"] == "open" {
                println!("linked as {}", state["jid"].as_str().unwrap_or("?"));
                return Ok(0);
            }
            let now = match (&phone, state["pairing_code"].as_str(), state["qr"].as_str()) {
                (Some(_), Some(code), _) => format!(
                    "pairing code: {code}\n(WhatsApp → Linked devices → Link with phone number)"
                ),
                (None, _, Some(qr)) => {
                    format!("{}\nscan with WhatsApp → Linked devices", render_qr(qr)?)
                }
                _ => String::new(),
            };
            if !now.is_empty() && now != shown {
                println!("{now}");
                shown = now;
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    bail!("not linked within {} s", timeout.as_secs())
}

/// Pairs with a bridge started just for it, then stops it.
async fn pair_here(s: &WhatsAppSettings, phone: Option<String>, timeout: Duration) -> Result<i32> {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    s.preflight().map_err(|e| anyhow::anyhow!(e))?;
    std::fs::create_dir_all(&s.session_dir)?;
    let mut child = tokio::process::Command::new(&s.node)
        .arg(s.script())
        .arg("--session-dir")
        .arg(&s.session_dir)
        .current_dir(&s.bridge_path)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot start {}", s.node))?;
    let mut stdin = child.stdin.take().expect("piped");
    let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
    let mut asked = false;
    let outcome = tokio::time::timeout(timeout, async {
        while let Some(line) = lines.next_line().await? {
            let Ok(event) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            match event["type"].as_str() {
                Some("qr") if phone.is_none() => {
                    println!("{}\nscan with WhatsApp → Linked devices", render_qr(event["qr"].as_str().unwrap_or(""))?);
                }
                Some("qr") if !asked => {
                    asked = true;
                    let cmd = serde_json::json!({"cmd": "request_pairing_code", "ref": "pair", "phone": phone});
                    stdin.write_all(format!("{cmd}\n").as_bytes()).await?;
                }
                Some("pairing_code") => println!(
                    "pairing code: {}\n(WhatsApp → Linked devices → Link with phone number)",
                    event["code"].as_str().unwrap_or("?")
                ),
                Some("connected") => {
                    println!("linked as {}", event["jid"].as_str().unwrap_or("?"));
                    return Ok::<i32, anyhow::Error>(0);
                }
                Some("error") => eprintln!("bridge: {}", event["message"].as_str().unwrap_or("")),
                _ => {}
            }
        }
        bail!("the bridge exited before linking")
    })
    .await;
    drop(stdin);
    let _ = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
    match outcome {
        Ok(r) => r,
        Err(_) => bail!("not linked within {} s", timeout.as_secs()),
    }
}
