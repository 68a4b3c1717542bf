//! The seams a cluster splits the gateway at (`serve --role edge` and
//! `--role worker`, docs/SCALING.md). The gateway knows nothing of NATS;
//! the cluster plugs in here:
//! - on an **edge**, a [`Forward`] takes every event the channels deliver
//!   (after the host named its session) and hands it to the cluster
//!   instead of a local session worker;
//! - on a **worker**, events arrive with a [`Via`] in their origin (the
//!   edge they came through and their event id), and [`Routes`] gives the
//!   delivery that carries the answer back through that edge.

use super::channels::Delivery;
use super::delivery::DeliveryLimits;
use super::{Dispatched, Incoming, Origin};
use std::sync::Arc;

/// The edge an event came through, for the node that answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via {
    /// The edge's node name: where the person's connection is.
    pub edge: String,
    /// The event's id, unique in the cluster: answers are delivered once
    /// per id, however often the event is handled.
    pub event: String,
    /// What the channel on that edge can carry.
    pub limits: DeliveryLimits,
    /// The event may have been handled before (it was delivered to a
    /// worker that died or lost it): its earlier attempt is looked for.
    pub redelivered: bool,
}

/// Takes the events of an edge's channels to the nodes that answer them.
pub trait Forward: Send + Sync {
    /// Hands `event` on, with what its channel here can carry: `Queued`
    /// once it is on its way (its order among the session's events is
    /// kept), or why it was not taken (too large, too many waiting), for
    /// its sender.
    fn forward(
        &self,
        origin: Origin,
        event: Incoming,
        limits: DeliveryLimits,
    ) -> Result<Dispatched, String>;
}

/// Deliveries to channels that run on other nodes.
pub trait Routes: Send + Sync {
    /// The delivery for `channel`: through the edge `via` names when
    /// given (the one holding the person's connection), else through any
    /// edge serving the channel.
    fn delivery(&self, via: Option<&Via>, channel: &str) -> Arc<dyn Delivery>;
}

impl super::Gateway {
    /// Makes this gateway an edge's: events go to `forward` from now on.
    pub fn set_forward(&self, forward: Arc<dyn Forward>) {
        let _ = self.forward.set(forward);
    }

    /// Lets this gateway answer events whose channel runs elsewhere.
    pub fn set_routes(&self, routes: Arc<dyn Routes>) {
        let _ = self.routes.set(routes);
    }

    /// Where an answer to `channel` goes, for an event from `origin`: the
    /// channel's driver on this node, else back through the cluster.
    pub(crate) fn route(&self, origin: &Origin, channel: &str) -> Option<Arc<dyn Delivery>> {
        if let Some(local) = self.local_delivery(channel) {
            return Some(local);
        }
        let routes = self.routes.get()?;
        let via = origin.via.as_ref().filter(|_| origin.channel == channel);
        Some(routes.delivery(via, channel))
    }
}
