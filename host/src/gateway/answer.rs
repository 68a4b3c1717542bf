//! Answers on their way out: fitted to what the channel carries, with
//! buttons, session lists and status indicators where it shows them.

use super::commands;
use super::{Gateway, Origin, conversation_of, delivery};
use crate::runtime::bindings::Attachment;
use crate::runtime::bindings::channel::exports::openpista::plugin::messenger::{
    Outbound, StatusKind,
};
use crate::telemetry::metrics;
use std::sync::atomic::Ordering;

impl Gateway {
    /// Delivers an answer for `session` to the channel of `origin`, cut
    /// to what the channel can carry: text split at its
    /// `max-message-length`, files only where it takes files (otherwise
    /// named in the text).
    pub(super) async fn deliver(
        &self,
        origin: &Origin,
        session: &str,
        text: String,
        attachments: Vec<Attachment>,
        is_error: bool,
    ) {
        let Some(d) = self.route(origin, &origin.channel) else {
            self.stats.undelivered.fetch_add(1, Ordering::Relaxed);
            metrics::error(metrics::ErrorKind::Delivery);
            tracing::warn!(
                channel = %origin.channel,
                %session,
                "no channel {:?} is running; the answer is only in memory",
                origin.channel
            );
            return;
        };
        let limits = d.limits();
        let conversation = conversation_of(&origin.channel, session);
        let (text, attachments) = delivery::fit_attachments(text, attachments, &limits);
        let pieces = delivery::split(&text, limits.max_message_length);
        let last = pieces.len() - 1;
        let mut attachments = Some(attachments);
        for (i, piece) in pieces.into_iter().enumerate() {
            let message = Outbound {
                conversation: conversation.to_string(),
                text: piece,
                // Files go with the last piece, after the text they belong to.
                attachments: if i == last {
                    attachments.take().unwrap_or_default()
                } else {
                    Vec::new()
                },
                is_error,
            };
            if let Err(e) = d.send(message).await {
                self.stats.undelivered.fetch_add(1, Ordering::Relaxed);
                metrics::error(metrics::ErrorKind::Delivery);
                tracing::warn!(channel = %origin.channel, "answer not delivered: {e}");
                return;
            }
            metrics::channel_message(&origin.channel, metrics::Direction::Out);
        }
    }

    /// Delivers a command's reply, with its buttons where the channel
    /// shows buttons (the text names the commands otherwise).
    pub(super) async fn reply(&self, origin: &Origin, session: &str, reply: commands::Reply) {
        if self.show_sessions(origin, session, &reply).await {
            return;
        }
        if !reply.buttons.is_empty()
            && !reply.is_error
            && let Some(d) = self.route(origin, &origin.channel)
        {
            let conversation = conversation_of(&origin.channel, session);
            match d.offer(conversation, &reply.text, &reply.buttons).await {
                Ok(true) => return,
                Ok(false) => {}
                Err(e) => tracing::debug!(channel = %origin.channel, "buttons not shown: {e}"),
            }
        }
        self.deliver(origin, session, reply.text, Vec::new(), reply.is_error)
            .await;
    }

    /// Shows the history of the session a reply switched to and the
    /// conversation's sessions, where the channel shows them; true when
    /// the list was the whole answer.
    async fn show_sessions(&self, origin: &Origin, session: &str, reply: &commands::Reply) -> bool {
        let Some(d) = self.route(origin, &origin.channel) else {
            return false;
        };
        let conversation = conversation_of(&origin.channel, session);
        if let Some(id) = &reply.opened {
            let (title, history) = self.session_history(id);
            if let Err(e) = d.session_opened(conversation, &title, &history).await {
                tracing::debug!(channel = %origin.channel, "history not shown: {e}");
            }
        }
        if !reply.list_sessions {
            return false;
        }
        let entries = match self.session_entries(session) {
            Ok(entries) => entries,
            Err(e) => {
                tracing::warn!("the sessions of {session} are unreadable: {e:#}");
                return false;
            }
        };
        match d.show_sessions(conversation, &entries).await {
            Ok(shown) => shown && reply.list_is_answer,
            Err(e) => {
                tracing::debug!(channel = %origin.channel, "sessions not listed: {e}");
                false
            }
        }
    }

    pub(super) async fn status(&self, origin: &Origin, session: &str, kind: StatusKind) {
        if let Some(d) = self.route(origin, &origin.channel)
            && d.limits().typing
            && let Err(e) = d
                .status(conversation_of(&origin.channel, session), kind)
                .await
        {
            tracing::debug!(channel = %origin.channel, "status not shown: {e}");
        }
    }
}
