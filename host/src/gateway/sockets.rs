//! The WebSockets a channel opened (`connections.ws-open`) report here:
//! every frame becomes a `handle-ws` call on the channel's instance, in
//! the order the server sent them, and the events it returns are
//! dispatched like any other; an ended socket becomes a `ws-closed` call,
//! during which the channel can ask `ws-close-status` why.

use super::channels::ChannelDriver;
use super::{Gateway, Incoming, Origin};
use crate::runtime::connections::{ConnectionHub, SocketEvent};
use std::sync::Arc;
use tokio::sync::mpsc;

/// Makes `driver`'s event queue in `hub` (call it before the channel
/// starts, since `start` may open a socket) and drains it while the
/// returned task runs. Aborting the task drops the queue, which closes
/// the channel's sockets.
pub fn spawn_socket_pump(
    hub: &Arc<ConnectionHub>,
    driver: Arc<ChannelDriver>,
    gateway: Arc<Gateway>,
    channel: String,
) -> tokio::task::JoinHandle<()> {
    let events = hub.listen(driver.component());
    tokio::spawn(pump(hub.clone(), driver, gateway, channel, events))
}

async fn pump(
    hub: Arc<ConnectionHub>,
    driver: Arc<ChannelDriver>,
    gateway: Arc<Gateway>,
    channel: String,
    mut events: mpsc::Receiver<SocketEvent>,
) {
    while let Some(event) = events.recv().await {
        match event {
            SocketEvent::Frame(id, frame) => match driver.handle_ws(id, frame).await {
                Ok(events) => {
                    for event in events {
                        gateway.dispatch(
                            Origin::channel(&channel),
                            Incoming::from_channel(&channel, event),
                        );
                    }
                }
                Err(e) => {
                    tracing::warn!(id, component = driver.component(), "handle-ws failed: {e}")
                }
            },
            SocketEvent::Closed(id) => {
                if let Err(e) = driver.ws_closed(id).await {
                    tracing::warn!(id, component = driver.component(), "ws-closed failed: {e}");
                }
                hub.forget_closed(id);
            }
        }
    }
}
