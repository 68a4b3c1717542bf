//! A worker's answers to channels that run on edges: the gateway's
//! [`Routes`]. Each call is a NATS request to the edge the event came
//! through (`openpista.out.EDGE`), awaited, so one turn's calls arrive in
//! order; when that edge is gone (no responders) a `send` goes to any edge
//! serving the channel (`openpista.out.any.CHANNEL`), which can deliver
//! through a messenger's HTTP API. A connection held by the lost edge is
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

/// The gateway's [`Routes`] on a worker.
pub struct RemoteRoutes {
    client: async_nats::Client,
}

impl RemoteRoutes {
    pub fn new(cluster: &Cluster) -> Arc<RemoteRoutes> {
        Arc::new(RemoteRoutes {
            client: cluster.client.clone(),
        })
    }
}

impl Routes for RemoteRoutes {
    fn delivery(&self, via: Option<&Via>, channel: &str) -> Arc<dyn Delivery> {
        Arc::new(RemoteDelivery {
            client: self.client.clone(),
            via: via.cloned(),
            channel: channel.to_string(),
        })
    }
}

/// One channel on other nodes, for one event's answer.
struct RemoteDelivery {
    client: async_nats::Client,
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
    /// Makes `op` on the channel; the edge's answer.
    async fn call(&self, conversation: &str, op: Op) -> Result<bool, CallError> {
        let is_send = matches!(op, Op::Send { .. });
        let call = OutCall {
            channel: self.channel.clone(),
            event: self.via.as_ref().map(|v| v.event.clone()),
            conversation: conversation.to_string(),
            op,
        };
        let body: bytes::Bytes = serde_json::to_vec(&call).map_err(failed)?.into();
        let edge = self.via.as_ref().map(|v| out_subject(&v.edge));
        let mut answer = match &edge {
            Some(subject) => Some(self.request(subject.clone(), body.clone()).await),
            None => None,
        };
        let lost_edge = matches!(
            &answer,
            Some(Err(e)) if e.kind() == async_nats::client::RequestErrorKind::NoResponders
        );
        if answer.is_none() || (lost_edge && is_send) {
            if lost_edge {
                tracing::info!(channel = %self.channel, "cluster: the event's edge is gone; answering through another");
            }
            answer = Some(self.request(any_subject(&self.channel), body).await);
        }
        let message = match answer.expect("set above") {
            Ok(message) => message,
            Err(e) if e.kind() == async_nats::client::RequestErrorKind::NoResponders => {
                return Err(failed(format!(
                    "no edge serves channel {} now",
                    self.channel
                )));
            }
            Err(e) => return Err(failed(e)),
        };
        let reply: OutReply = serde_json::from_slice(&message.payload)
            .map_err(|e| failed(format!("malformed reply from an edge: {e}")))?;
        reply.result.map_err(failed)
    }

    async fn request(
        &self,
        subject: String,
        body: bytes::Bytes,
    ) -> Result<async_nats::Message, async_nats::RequestError> {
        self.client
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
