//! One accepted WebSocket: frames in go to the channel component's
//! `handle-ws` (events it returns go to the gateway), frames the component
//! sends through `connections` go out, and the component hears of the
//! close. Oversized messages close the connection with 1009.

use super::ServerState;
use crate::gateway::Origin;
use crate::gateway::channels::ChannelDriver;
use crate::runtime::bindings::channel::openpista::plugin::connections::Frame;
use crate::runtime::connections::Outgoing;
use futures::{SinkExt, StreamExt};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use std::sync::Arc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

/// Bytes read from a WebSocket at a time (tungstenite's default is 128 KiB).
const READ_BUFFER: usize = 8 << 10;

/// The WebSocket message for what the component sent.
fn message_of(out: Outgoing) -> Message {
    match out {
        Outgoing::Frame(Frame::Text(t)) => Message::Text(t.into()),
        Outgoing::Frame(Frame::Binary(b)) => Message::Binary(b.into()),
        Outgoing::Close { code, reason } => Message::Close(Some(CloseFrame {
            code: CloseCode::from(code),
            reason: reason.into(),
        })),
    }
}

/// Runs connection `id` until it closes.
pub async fn run(
    state: Arc<ServerState>,
    driver: Arc<ChannelDriver>,
    channel: String,
    id: u64,
    upgraded: Upgraded,
) {
    // Messages up to four times the limit are read whole and refused
    // with a proper close (1009); reading stops at a bigger one, which may
    // reset the connection instead.
    let mut config = WebSocketConfig::default();
    config.max_message_size = Some(state.max_frame.saturating_mul(4));
    config.max_frame_size = Some(state.max_frame.saturating_mul(4));
    // Chat frames are small and connections many. The default 128 KiB read
    // buffer was zero-filled on every read (4 % of the server's CPU at
    // 1,000 connections) and held per connection; a bigger frame still
    // grows it as far as it needs.
    config.read_buffer_size = READ_BUFFER;
    let ws =
        WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config)).await;
    let (mut sink, mut stream) = ws.split();
    let mut outgoing = state.hub.register(id, driver.component());
    let (closing_tx, mut closing_rx) = tokio::sync::mpsc::channel::<CloseFrame>(1);
    let writer = tokio::spawn(async move {
        'writing: loop {
            let message = tokio::select! {
                out = outgoing.recv() => match out {
                    Some(out) => message_of(out),
                    None => break,
                },
                Some(frame) = closing_rx.recv() => Message::Close(Some(frame)),
            };
            // Frames already queued behind this one go out in the same
            // write: one syscall and one TCP segment for a burst (a delta
            // and the answer) instead of one each.
            let mut next = Some(message);
            let mut close = false;
            while let Some(message) = next {
                close = matches!(message, Message::Close(_));
                if sink.feed(message).await.is_err() {
                    break 'writing;
                }
                next = if close {
                    None
                } else {
                    outgoing.try_recv().ok().map(message_of)
                };
            }
            if sink.flush().await.is_err() || close {
                break;
            }
        }
        let _ = sink.close().await;
    });
    let mut stopping = state.closing.subscribe();
    loop {
        let message = tokio::select! {
            m = stream.next() => match m {
                Some(m) => m,
                None => break,
            },
            () = stopped(&mut stopping) => {
                let _ = closing_tx
                    .send(CloseFrame {
                        code: CloseCode::Away,
                        reason: "server stopping".into(),
                    })
                    .await;
                break;
            }
        };
        let size = match &message {
            Ok(Message::Text(t)) => t.len(),
            Ok(Message::Binary(b)) => b.len(),
            _ => 0,
        };
        if size > state.max_frame {
            tracing::info!(id, size, "websocket message too large");
            let _ = closing_tx
                .send(CloseFrame {
                    code: CloseCode::Size,
                    reason: format!("message larger than {} bytes", state.max_frame).into(),
                })
                .await;
            // Read on until the client answers the close, so the
            // connection ends cleanly rather than with a reset.
            let _ = tokio::time::timeout(std::time::Duration::from_secs(2), async {
                while let Some(Ok(m)) = stream.next().await {
                    if matches!(m, Message::Close(_)) {
                        break;
                    }
                }
            })
            .await;
            break;
        }
        let frame = match message {
            Ok(Message::Text(t)) => Frame::Text(t.to_string()),
            Ok(Message::Binary(b)) => Frame::Binary(b.to_vec()),
            Ok(Message::Close(_)) => break,
            Ok(_) => continue, // ping/pong: tungstenite answers pings itself
            Err(WsError::Capacity(e)) => {
                tracing::info!(id, "websocket message too large: {e}");
                let _ = closing_tx
                    .send(CloseFrame {
                        code: CloseCode::Size,
                        reason: format!("message larger than {} bytes", state.max_frame).into(),
                    })
                    .await;
                break;
            }
            Err(e) => {
                tracing::debug!(id, "websocket ended: {e}");
                break;
            }
        };
        match driver.handle_ws(id, frame).await {
            Ok(events) => {
                for event in events {
                    state.gateway.dispatch(
                        Origin::channel(&channel),
                        crate::gateway::Incoming::from_channel(&channel, event),
                    );
                }
            }
            Err(e) => tracing::warn!(id, component = driver.component(), "handle-ws failed: {e}"),
        }
    }
    state.hub.remove(id);
    // Let a queued close frame go out before the writer stops.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(1), writer).await;
    if let Err(e) = driver.ws_closed(id).await {
        tracing::debug!(id, "ws-closed failed: {e}");
    }
}

/// Resolves once the server is stopping.
async fn stopped(rx: &mut tokio::sync::watch::Receiver<bool>) {
    loop {
        if *rx.borrow_and_update() {
            return;
        }
        if rx.changed().await.is_err() {
            // The server state is gone: stopping too.
            return;
        }
    }
}
