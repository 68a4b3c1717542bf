//! `serve`'s channels: every enabled channel component started, its
//! routes claimed, its poller, ticker and bridge running, and in a
//! cluster the leases its singletons run under.

use crate::config::Config;
use crate::gateway::channels::ChannelDriver;
use crate::gateway::{Gateway, Origin, identity};
use crate::runtime::Runtime;
use crate::runtime::manifest::World;
use crate::server::ServerState;
use std::sync::Arc;
use std::time::Duration;

/// Starts every loaded channel component the configuration enables.
pub(super) async fn start_channels(
    config: &Config,
    runtime: &Arc<Runtime>,
    gateway: &Arc<Gateway>,
    server: &Arc<ServerState>,
    webhooks: &Arc<ServerState>,
    mut cluster: Option<&mut super::cluster_cmds::Joined>,
) -> (
    Vec<Arc<ChannelDriver>>,
    Vec<tokio::task::JoinHandle<()>>,
    Vec<String>,
    Vec<crate::gateway::bridge::Bridge>,
) {
    let mut tasks = Vec::new();
    let mut notes = Vec::new();
    let mut drivers = Vec::new();
    let mut bridges = Vec::new();
    for component in runtime.components() {
        if component.world() != World::Channel {
            continue;
        }
        if component.name() == "channel-web" && !config.channels.web.enabled {
            continue;
        }
        // A bridge that cannot start keeps the channel out entirely.
        let bridge_settings = if component.name() == crate::config::whatsapp::COMPONENT {
            match config.channels.whatsapp.resolve() {
                Ok(s) => match s.preflight() {
                    Ok(()) => Some(s),
                    Err(why) => {
                        notes.push(format!("channel whatsapp cannot run: {why}"));
                        continue;
                    }
                },
                Err(e) => {
                    notes.push(format!("channel whatsapp cannot run: {e:#}"));
                    continue;
                }
            }
        } else {
            None
        };
        let driver = ChannelDriver::new(runtime.clone(), component.name());
        // The host, not the component, says who the channel is.
        let id = identity::channel_id(component.name()).to_string();
        // In a cluster a connection of the channel's own (Discord's
        // Gateway, Slack's Socket Mode) is held by one node: none opens
        // before its lease is taken.
        let own_socket = cluster.is_some() && component.grants().websockets > 0;
        if own_socket {
            runtime
                .connections()
                .set_outbound_allowed(component.name(), false);
        }
        // Before `start`, which may open the channel's sockets.
        let pump = crate::gateway::sockets::spawn_socket_pump(
            runtime.connections(),
            driver.clone(),
            gateway.clone(),
            id.clone(),
        );
        let started = match driver.start().await {
            Ok(started) => started,
            Err(e) => {
                pump.abort();
                notes.push(format!("channel {} failed to start: {e}", component.name()));
                continue;
            }
        };
        // A messenger's webhook routes go on their own listener, which
        // the reverse proxy in front of the public URL reaches.
        let listener = if component.name() == crate::config::telegram::COMPONENT {
            webhooks
        } else {
            server
        };
        let claimed = match &started.claimed_name {
            Some(name) if *name != id => Err(format!(
                "it calls itself channel {name:?}, but its manifest name {} makes it channel {id}",
                component.name()
            )),
            _ if gateway.has_channel(&id) => Err(format!(
                "channel id {id} is already served by another component"
            )),
            _ => listener.claim_routes(
                &id,
                &started.info.routes,
                started.absolute_routes,
                driver.clone(),
            ),
        }
        .and_then(|paths| gateway.add_channel(&id, driver.clone()).map(|()| paths));
        let paths = match claimed {
            Ok(paths) => paths,
            Err(why) => {
                runtime.refuse(component.name(), &why);
                notes.push(format!("channel {} refused: {why}", component.name()));
                driver.shutdown().await;
                pump.abort();
                continue;
            }
        };
        drivers.push(driver.clone());
        tasks.push(pump);
        tasks.push(driver.spawn_ticker());
        if let Some(joined) = cluster.as_deref_mut()
            && own_socket
        {
            match joined.hold_socket(&id, &driver, runtime).await {
                Ok(task) => tasks.push(task),
                Err(e) => notes.push(format!("channel {id}: no connection: {e:#}")),
            }
        }
        if started.info.polls {
            // In a cluster one node at a time polls: the lease's holder.
            let gate = match cluster.as_deref_mut() {
                Some(joined) => match joined.want(&super::cluster_cmds::poll_lease(&id)).await {
                    Ok(held) => Ok(Some(held)),
                    Err(e) => Err(e),
                },
                None => Ok(None),
            };
            match gate {
                Ok(gate) => tasks.push(spawn_poller(
                    driver.clone(),
                    gateway.clone(),
                    id.clone(),
                    gate,
                )),
                Err(e) => notes.push(format!("channel {id}: not polling: {e:#}")),
            }
        }
        if let Some(settings) = &bridge_settings {
            match start_whatsapp_bridge(settings, &driver, gateway, runtime) {
                Ok(bridge) => bridges.push(bridge),
                Err(why) => notes.push(format!("channel whatsapp: {why}")),
            }
        }
        notes.push(format!(
            "channel {id} ({}) started{}",
            component.name(),
            if paths.is_empty() {
                String::new()
            } else {
                format!(" on {}", paths.join(", "))
            }
        ));
    }
    (drivers, tasks, notes, bridges)
}

/// Starts the WhatsApp bridge the `channel-whatsapp` component talks to.
fn start_whatsapp_bridge(
    settings: &crate::config::whatsapp::WhatsAppSettings,
    driver: &Arc<ChannelDriver>,
    gateway: &Arc<Gateway>,
    runtime: &Arc<Runtime>,
) -> std::result::Result<crate::gateway::bridge::Bridge, String> {
    std::fs::create_dir_all(&settings.session_dir).map_err(|e| {
        format!(
            "cannot create the session folder {}: {e}",
            settings.session_dir.display()
        )
    })?;
    let spec = crate::gateway::bridge::BridgeSpec {
        channel: "whatsapp".into(),
        program: settings.node.clone(),
        args: vec![
            settings.script().display().to_string(),
            "--session-dir".into(),
            settings.session_dir.display().to_string(),
            "--max-media-bytes".into(),
            settings.max_media_bytes.to_string(),
        ],
        cwd: Some(settings.bridge_path.clone()),
    };
    Ok(crate::gateway::bridge::Bridge::spawn(
        spec,
        driver.clone(),
        gateway.clone(),
        runtime.connections().clone(),
    ))
}

/// Calls `poll` in a loop, backing off after failures; with a `gate`
/// (a cluster lease), only while it is true: a poll under way when it
/// turns false is abandoned, with its instance.
fn spawn_poller(
    driver: Arc<ChannelDriver>,
    gateway: Arc<Gateway>,
    channel: String,
    mut gate: Option<tokio::sync::watch::Receiver<bool>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut backoff = Duration::from_millis(500);
        loop {
            let polled = match &mut gate {
                None => driver.poll().await,
                Some(gate) => {
                    if !*gate.borrow_and_update() {
                        tracing::info!(%channel, "waiting for the poll lease");
                        if gate.wait_for(|held| *held).await.is_err() {
                            return;
                        }
                        tracing::info!(%channel, "polling: this node holds the lease");
                    }
                    tokio::select! {
                        polled = driver.poll() => polled,
                        _ = gate.wait_for(|held| !*held) => {
                            driver.abandon_poll();
                            tracing::warn!(%channel, "poll lease lost: polling stopped");
                            continue;
                        }
                    }
                }
            };
            match polled {
                Ok(events) => {
                    backoff = Duration::from_millis(500);
                    for event in events {
                        gateway.dispatch(
                            Origin::channel(&channel),
                            crate::gateway::Incoming::from_channel(&channel, event),
                        );
                    }
                }
                Err(e) => {
                    crate::telemetry::metrics::error(crate::telemetry::metrics::ErrorKind::Poll);
                    tracing::warn!(%channel, "poll failed: {e}; retrying in {backoff:?}");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                }
            }
        }
    })
}
