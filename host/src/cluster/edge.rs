//! An edge node's side of the workers' answers: the calls a worker makes
//! on this edge's channels (`openpista.out.NODE`: the person's connection
//! is here) and, in a queue group, those any edge serving the channel can
//! carry out (`openpista.out.any.CHANNEL`: a Bot API send). A `send` is
//! delivered once per event and content, cluster-wide: a redone turn's
//! answer is not repeated. (The events themselves go out through
//! [`super::inbound`].)

use super::Cluster;
use super::wire::{self, Op, OutCall, OutReply};
use crate::gateway::Gateway;
use anyhow::Result;
use async_nats::jetstream::kv::Store;
use futures::StreamExt;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

/// The KV bucket of answers already delivered: key = event and content.
pub const DELIVERED_BUCKET: &str = "openpista_delivered";
/// How long a delivered answer is remembered (longer than any redelivery).
const DELIVERED_FOR: Duration = Duration::from_secs(24 * 3600);
/// The queue group edges answer `openpista.out.any.*` in.
const EDGES_QUEUE: &str = "openpista-edges";

/// Where calls for edge `node`'s channels go.
pub fn out_subject(node: &str) -> String {
    format!("openpista.out.{node}")
}

/// Where calls any edge serving `channel` can make go.
pub fn any_subject(channel: &str) -> String {
    format!("openpista.out.any.{channel}")
}

/// Carries out workers' calls on this edge's channels until aborted.
pub async fn serve_calls(
    cluster: &Cluster,
    gateway: &Arc<Gateway>,
    channels: &[String],
) -> Result<tokio::task::JoinHandle<()>> {
    let delivered = cluster
        .bucket_with_age(DELIVERED_BUCKET, DELIVERED_FOR)
        .await?;
    let mut subscriptions = vec![cluster.client.subscribe(out_subject(&cluster.node)).await?];
    for channel in channels {
        subscriptions.push(
            cluster
                .client
                .queue_subscribe(any_subject(channel), EDGES_QUEUE.into())
                .await?,
        );
    }
    let mut calls = futures::stream::select_all(subscriptions);
    let edge = Arc::new(Edge {
        client: cluster.client.clone(),
        gateway: Arc::downgrade(gateway),
        delivered,
        answered: Mutex::new(std::collections::HashSet::new()),
    });
    Ok(tokio::spawn(async move {
        while let Some(message) = calls.next().await {
            let edge = edge.clone();
            // A worker awaits each call's reply, so one turn's calls come
            // one at a time and in order; different turns run side by side.
            tokio::spawn(async move {
                let result = match serde_json::from_slice::<OutCall>(&message.payload) {
                    Ok(call) => edge.carry_out(call).await,
                    Err(e) => Err(format!("malformed call on {}: {e}", message.subject)),
                };
                if let Err(why) = &result {
                    tracing::warn!("cluster: call not carried out: {why}");
                }
                if let Some(reply) = message.reply {
                    let body = serde_json::to_vec(&OutReply { result }).expect("serialises");
                    let _ = edge.client.publish(reply, body.into()).await;
                }
            });
        }
    }))
}

struct Edge {
    client: async_nats::Client,
    gateway: Weak<Gateway>,
    delivered: Store,
    /// Events whose answer this edge delivered: their late deltas (a
    /// redone turn's) are dropped. Cleared when large.
    answered: Mutex<std::collections::HashSet<String>>,
}

/// The key under which a `send` of `event` with this content is marked
/// delivered.
fn delivered_key(event: &str, text: &str, is_error: bool) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::new()
        .chain_update(text.as_bytes())
        .chain_update([u8::from(is_error)])
        .finalize();
    format!(
        "{}.{}",
        event.replace(
            |c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '_',
            "_"
        ),
        hex::encode(&digest[..12])
    )
}

impl Edge {
    async fn carry_out(&self, call: OutCall) -> std::result::Result<bool, String> {
        let gateway = self.gateway.upgrade().ok_or("the edge is stopping")?;
        let d = gateway
            .local_delivery(&call.channel)
            .ok_or_else(|| format!("channel {} does not run on this edge", call.channel))?;
        let conversation = call.conversation.as_str();
        let failed = |e: crate::runtime::CallError| e.to_string();
        match call.op {
            Op::Send {
                text,
                attachments,
                is_error,
            } => {
                let key = call
                    .event
                    .as_deref()
                    .map(|event| delivered_key(event, &text, is_error));
                if let Some(key) = &key {
                    match self.delivered.create(key, bytes::Bytes::new()).await {
                        Ok(_) => {}
                        Err(e)
                            if e.kind()
                                == async_nats::jetstream::kv::CreateErrorKind::AlreadyExists =>
                        {
                            tracing::info!(event = ?call.event, "cluster: answer already delivered; not repeated");
                            return Ok(true);
                        }
                        Err(e) => return Err(format!("cannot mark the answer delivered: {e}")),
                    }
                }
                let sent = d
                    .send(wire::outbound(conversation, text, attachments, is_error))
                    .await;
                match sent {
                    Ok(()) => {
                        if let Some(event) = call.event {
                            let mut answered = self.answered.lock().unwrap();
                            if answered.len() > 100_000 {
                                answered.clear();
                            }
                            answered.insert(event);
                        }
                        Ok(true)
                    }
                    Err(e) => {
                        // A channel that is not running sent nothing: the
                        // mark goes, so a redone turn can deliver. Any other
                        // failure may have come after the message went out
                        // (a deadline), and once is the promise: the mark
                        // stays, the answer is in memory.
                        if matches!(e, crate::runtime::CallError::NotLoaded(_))
                            && let Some(key) = &key
                        {
                            let _ = self.delivered.purge(key).await;
                        }
                        Err(failed(e))
                    }
                }
            }
            Op::Delta { text } => {
                if let Some(event) = &call.event
                    && self.answered.lock().unwrap().contains(event)
                {
                    return Ok(false);
                }
                d.delta(conversation, &text).await.map_err(failed)?;
                Ok(true)
            }
            Op::Status { kind } => {
                let kind = wire::status_kind(&kind).ok_or("unknown status kind")?;
                d.status(conversation, kind).await.map_err(failed)?;
                Ok(true)
            }
            Op::AskApproval(request) => d
                .ask_approval(conversation, &request.into())
                .await
                .map_err(failed),
            Op::Offer { text, buttons } => d
                .offer(conversation, &text, &wire::buttons(buttons))
                .await
                .map_err(failed),
            Op::ApprovalSettled { id, how } => {
                let how = wire::settlement(&how).ok_or("unknown settlement")?;
                d.approval_settled(conversation, &id, how).await;
                Ok(true)
            }
            Op::ShowSessions { entries } => d
                .show_sessions(conversation, &wire::session_entries(entries))
                .await
                .map_err(failed),
            Op::SessionOpened { title, history } => d
                .session_opened(conversation, &title, &wire::history(history))
                .await
                .map_err(failed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivered_keys_are_valid_kv_keys_and_differ_by_content() {
        let a = delivered_key("edge-a-ABC", "hello", false);
        let b = delivered_key("edge-a-ABC", "hello", true);
        let c = delivered_key("edge-a-ABC", "hullo", false);
        assert!(a != b && a != c);
        let weird = delivered_key("e.v/e n*t", "x", false);
        assert!(
            weird
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)),
            "{weird}"
        );
    }
}
