//! The live worker feed in the TUI: every worker event becomes an
//! [`Event::Worker`] line (shown as a notice, and refreshing an open
//! `/workers` panel). In-process the events come from the host's own
//! reports service; attached, from long-polling the server's
//! `/workers/events` with the web token.

use super::super::action::{Action, Event};
use super::attached::Target;
use crate::native::container::reports::WorkerEvent;
use serde_json::Value;
use std::time::Duration;
use tokio::sync::broadcast;
use tokio::sync::mpsc::UnboundedSender;

/// Forwards the in-process feed until the TUI or the host goes.
pub fn follow_local(mut feed: broadcast::Receiver<WorkerEvent>, tx: UnboundedSender<Action>) {
    tokio::spawn(async move {
        loop {
            match feed.recv().await {
                Ok(event) => {
                    let line = event.task().line();
                    if tx.send(Action::Backend(Event::Worker(line))).is_err() {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    });
}

/// Long-polls the server's feed until aborted; a server without worker
/// reports (404) ends it.
pub fn follow_attached(target: Target, tx: UnboundedSender<Action>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        // (epoch, number) of the latest event seen.
        let mut after = None::<(String, u64)>;
        loop {
            // The first poll only learns where the feed stands: what
            // happened before the TUI opened is in `/workers`.
            let path = match &after {
                None => "/workers/events?after=0&wait=0".to_string(),
                Some((epoch, n)) => format!("/workers/events?epoch={epoch}&after={n}"),
            };
            let page = match get(&target, &path).await {
                Ok((200, body)) => serde_json::from_str::<Value>(&body).ok(),
                Ok((404, _)) => return,
                _ => None,
            };
            let Some(page) = page else {
                tokio::time::sleep(Duration::from_secs(3)).await;
                continue;
            };
            if after.is_some() {
                for event in page["events"].as_array().into_iter().flatten() {
                    let Some(line) = event["line"].as_str() else {
                        continue;
                    };
                    if tx
                        .send(Action::Backend(Event::Worker(line.to_string())))
                        .is_err()
                    {
                        return;
                    }
                }
            }
            after = Some((
                page["epoch"].as_str().unwrap_or_default().to_string(),
                page["next"].as_u64().unwrap_or(0),
            ));
        }
    })
}

/// `GET path` on the server with the web token: status and body.
async fn get(target: &Target, path: &str) -> anyhow::Result<(u16, String)> {
    use http_body_util::{BodyExt, Empty};
    let stream = tokio::net::TcpStream::connect(&target.address).await?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let request = http::Request::get(path)
        .header(http::header::HOST, target.address.as_str())
        .header(
            http::header::AUTHORIZATION,
            format!("Bearer {}", target.token),
        )
        .body(Empty::<bytes::Bytes>::new())?;
    let response =
        tokio::time::timeout(Duration::from_secs(60), sender.send_request(request)).await??;
    let status = response.status().as_u16();
    let body = response.into_body().collect().await?.to_bytes();
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}
