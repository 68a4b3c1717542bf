//! `openpista whatsapp status` and `openpista whatsapp pair`: the linked
//! device's state as the `channel-whatsapp` component reports it (its
//! `report` export), and pairing: through the running
//! server's bridge when there is one, else with a bridge started here just
//! for it. The credentials stay in the session folder, so `serve` uses them
//! afterwards.

use super::channel_cmds::ChannelAction;
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

/// The channel's report (`report.describe`): from the server, or a
/// component loaded here.
async fn report(config: &Config) -> Result<Value> {
    super::channel_cmds::ask_channel(config, "whatsapp", ChannelAction::Report).await
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
    match report(config).await {
        Ok(r) => super::channel_cmds::print_report(&r),
        Err(e) => println!("state:          unknown ({e:#})"),
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

/// Pairs through the running server's bridge, reading the channel's
/// report.
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
        if let Ok(state) = report(config).await {
            if state["state"] == "connected" {
                println!("linked as {}", state["account"].as_str().unwrap_or("?"));
                return Ok(0);
            }
            let link = &state["link"];
            let now = match (&phone, link["code"].as_str(), link["qr"].as_str()) {
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
