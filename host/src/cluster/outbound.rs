//! A worker's answers to channels that run on edges: the gateway's
//! [`Routes`]. Each call is a NATS request to the edge the event came
//! through (`openpista.out.EDGE`), awaited, so one turn's calls arrive in
//! order. When that edge does not answer (no responders), a `send` waits
//! for it while its heartbeat is fresh (it is reconnecting: the server
//! restarted), and goes to any edge serving the channel
//! (`openpista.out.any.CHANNEL`) once it is gone: that edge can deliver
//! through a messenger's HTTP API. A connection held by the dead edge is
//! gone with it: the answer stays in the conversation's memory.

use super::Cluster;
use super::edge::{any_subject, out_subject};
use super::wire::{self, Op, OutCall, OutReply};
use crate::gateway::channels::{BoxFuture, Delivery};
use crate::gateway::delivery::DeliveryLimits;
use crate::gateway::remote::{Routes, Via};
use crate::runtime::CallError;
use crate::runtime::bindings::channel::exports::openpista::plugin::messenger::{
    Outbound, StatusKind,
};
use crate::runtime::bindings::{ApprovalRequest, Button, HistoryEntry, SessionEntry, Settlement};
use std::sync::Arc;
use std::time::Duration;

/// How long an edge may take to carry out a call (a messenger's API
/// included).
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a `send` waits for an edge to serve its channel again.
const NO_EDGE_GRACE: Duration = Duration::from_secs(30);

/// The gateway's [`Routes`] on a worker.
pub struct RemoteRoutes {
    cluster: Cluster,
}

impl RemoteRoutes {
    pub fn new(cluster: &Cluster) -> Arc<RemoteRoutes> {
        Arc::new(RemoteRoutes {
            cluster: cluster.clone(),
        })
    }
}

impl Routes for RemoteRoutes {
    fn delivery(&self, via: Option<&Via>, channel: &str) -> Arc<dyn Delivery> {
        Arc::new(RemoteDelivery {
            cluster: self.cluster.clone(),
            via: via.cloned(),
            channel: channel.to_string(),
        })
    }
}

/// One channel on other nodes, for one event's answer.
struct RemoteDelivery {
    cluster: Cluster,
    via: Option<Via>,
    channel: String,
}

fn failed(why: impl std::fmt::Display) -> CallError {
    CallError::Trap {
        component: "cluster".into(),
        message: why.to_string(),
    }
}

impl RemoteDelivery {
    /// Makes `op` on the channel; the edge's answer. A `send` nobody can
    /// take (the edges are reconnecting after the server restarted, or
    /// starting) is tried again for a while before it is given up.
    async fn call(&self, conversation: &str, op: Op) -> Result<bool, CallError> {
        let is_send = matches!(op, Op::Send { .. });
        let call = OutCall {
            channel: self.channel.clone(),
            event: self.via.as_ref().map(|v| v.event.clone()),
            conversation: conversation.to_string(),
            op,
        };
        let body: bytes::Bytes = serde_json::to_vec(&call).map_err(failed)?.into();
        // Long enough for a dead edge's heartbeat to go stale.
        let until = tokio::time::Instant::now() + NO_EDGE_GRACE.max(self.cluster.lease_ttl * 4);
        let mut backoff = Duration::from_millis(50);
        let message = loop {
            match self.attempt(&body, is_send).await {
                Err(e)
                    if e.kind() == async_nats::client::RequestErrorKind::NoResponders
                        && is_send
                        && tokio::time::Instant::now() + backoff < until =>
                {
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                }
                Err(e) if e.kind() == async_nats::client::RequestErrorKind::NoResponders => {
                    return Err(failed(format!(
                        "no edge serves channel {} now",
                        self.channel
                    )));
                }
                Err(e) => return Err(failed(e)),
                Ok(message) => break message,
            }
        };
        let reply: OutReply = serde_json::from_slice(&message.payload)
            .map_err(|e| failed(format!("malformed reply from an edge: {e}")))?;
        reply.result.map_err(failed)
    }

    /// One try: the event's edge; for a `send`, any edge serving the
    /// channel when that one is gone.
    async fn attempt(
        &self,
        body: &bytes::Bytes,
        is_send: bool,
    ) -> Result<async_nats::Message, async_nats::RequestError> {
        if let Some(via) = &self.via {
            let answer = self.request(out_subject(&via.edge), body.clone()).await;
            let lost_edge = matches!(
                &answer,
                Err(e) if e.kind() == async_nats::client::RequestErrorKind::NoResponders
            );
            // An edge that still beats is reconnecting (the server
            // restarted): the person's connection is there, so it is
            // waited for. A dead one's messenger API is any edge's.
            if !(lost_edge && is_send) || self.edge_alive(&via.edge).await {
                return answer;
            }
            tracing::info!(channel = %self.channel, edge = %via.edge, "cluster: the event's edge is gone; trying any edge");
        }
        self.request(any_subject(&self.channel), body.clone()).await
    }

    /// Whether `edge`'s heartbeat is fresh.
    async fn edge_alive(&self, edge: &str) -> bool {
        match super::nodes::nodes(&self.cluster).await {
            Ok(nodes) => nodes.iter().any(|n| n.node == edge),
            // Unknown: keep waiting for it rather than answer elsewhere.
            Err(_) => true,
        }
    }

    async fn request(
        &self,
        subject: String,
        body: bytes::Bytes,
    ) -> Result<async_nats::Message, async_nats::RequestError> {
        self.cluster
            .client
            .send_request(
                subject,
                async_nats::Request::new()
                    .payload(body)
                    .timeout(Some(CALL_TIMEOUT)),
            )
            .await
    }
}

impl Delivery for RemoteDelivery {
    fn send(&self, message: Outbound) -> BoxFuture<'_, Result<(), CallError>> {
        Box::pin(async move {
            self.call(&message.conversation, Op::send(&message))
                .await
                .map(|_| ())
        })
    }

    fn delta<'a>(
        &'a self,
        conversation: &'a str,
        delta: &'a str,
    ) -> BoxFuture<'a, Result<(), CallError>> {
        Box::pin(async move {
            self.call(
                conversation,
                Op::Delta {
                    text: delta.to_string(),
                },
            )
            .await
            .map(|_| ())
        })
    }

    fn status<'a>(
        &'a self,
        conversation: &'a str,
        kind: StatusKind,
    ) -> BoxFuture<'a, Result<(), CallError>> {
        Box::pin(async move {
            let kind = wire::status_kind_name(kind).to_string();
            self.call(conversation, Op::Status { kind })
                .await
                .map(|_| ())
        })
    }

    fn limits(&self) -> DeliveryLimits {
        self.via.as_ref().map(|v| v.limits).unwrap_or_default()
    }

    fn ask_approval<'a>(
        &'a self,
        conversation: &'a str,
        request: &'a ApprovalRequest,
    ) -> BoxFuture<'a, Result<bool, CallError>> {
        Box::pin(self.call(conversation, Op::ask(request)))
    }

    fn offer<'a>(
        &'a self,
        conversation: &'a str,
        text: &'a str,
        buttons: &'a [Button],
    ) -> BoxFuture<'a, Result<bool, CallError>> {
        Box::pin(self.call(conversation, Op::offer(text, buttons)))
    }

    fn approval_settled<'a>(
        &'a self,
        conversation: &'a str,
        id: &'a str,
        how: Settlement,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let op = Op::ApprovalSettled {
                id: id.to_string(),
                how: wire::settlement_name(how).to_string(),
            };
            if let Err(e) = self.call(conversation, op).await {
                tracing::debug!("cluster: settlement not shown: {e}");
            }
        })
    }

    fn show_sessions<'a>(
        &'a self,
        conversation: &'a str,
        entries: &'a [SessionEntry],
    ) -> BoxFuture<'a, Result<bool, CallError>> {
        Box::pin(self.call(conversation, Op::show_sessions(entries)))
    }

    fn session_opened<'a>(
        &'a self,
        conversation: &'a str,
        title: &'a str,
        history: &'a [HistoryEntry],
    ) -> BoxFuture<'a, Result<bool, CallError>> {
        Box::pin(self.call(conversation, Op::session_opened(title, history)))
    }
}
