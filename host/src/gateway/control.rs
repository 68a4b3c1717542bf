//! Controlling turns from a channel: approval requests shown where the
//! turn runs (or in the operator's approver chat), answers checked and
//! passed on, and `/stop`. These commands are handled when they arrive,
//! ahead of the session's queue, since the turn they concern is what the
//! queue waits for.

use super::{Gateway, Incoming, Origin, conversation_of, delivery};
use crate::approvals::{Approvals, Asker, Audience, Choice, Outcome, Request};
use crate::runtime::CallError;
use crate::runtime::bindings::channel::exports::openpista::plugin::messenger::Outbound;
use crate::runtime::bindings::{ApprovalRequest, Settlement, WitError};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// Shows a turn's approval requests in its channel and waits for the
/// answer.
pub(super) struct ChannelAsker {
    pub gateway: Arc<Gateway>,
    pub origin: Origin,
    /// The conversation's session, where the request is shown.
    pub session: String,
    /// The active session of it, which an allowance is for.
    pub stored: String,
    pub sender: String,
}

/// Withdraws a request whose wait was dropped (the turn stopped): it is
/// closed, and the channel told, so its buttons do not linger.
struct Withdraw {
    gateway: Arc<Gateway>,
    origin: Origin,
    channel: String,
    conversation: String,
    id: Option<String>,
}

impl Drop for Withdraw {
    fn drop(&mut self) {
        let Some(id) = self.id.take() else { return };
        self.gateway.agent().settings.approvals.close(&id);
        let gateway = self.gateway.clone();
        let origin = self.origin.clone();
        let channel = std::mem::take(&mut self.channel);
        let conversation = std::mem::take(&mut self.conversation);
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                if let Some(d) = gateway.route(&origin, &channel) {
                    d.approval_settled(&conversation, &id, Settlement::Cancelled)
                        .await;
                }
            });
        }
    }
}

fn settlement(outcome: &Outcome) -> Settlement {
    match outcome {
        Outcome::Approved | Outcome::Auto | Outcome::AllowedBefore => Settlement::Approved,
        Outcome::Allowed => Settlement::Allowed,
        Outcome::Rejected | Outcome::Denied => Settlement::Rejected,
        Outcome::Expired | Outcome::Unreachable(_) => Settlement::Expired,
        Outcome::Cancelled => Settlement::Cancelled,
    }
}

/// The request as a message, for channels that cannot show it otherwise.
fn as_text(request: &Request) -> String {
    let mut text = format!(
        "Approval needed: the agent wants to run {}\n{}",
        request.tool, request.arguments
    );
    if let Some(folder) = &request.folder {
        text.push_str(&format!("\nin {folder}"));
    }
    let id = &request.id;
    text.push_str(&format!(
        "\n\nAnswer /approve {id}, /reject {id}, or /allow {id} (run it, and this same call again in this conversation without asking). Rejected unless answered within {} s.",
        request.timeout.as_secs()
    ));
    text
}

impl ChannelAsker {
    /// Where the request is shown and who may answer: the approver chat
    /// when the operator named one, else the turn's own conversation and
    /// the person who asked; approvers listed for that channel too.
    fn audience(&self, approvals: &Approvals) -> Audience {
        let (channel, session, asker) = match approvals.approver() {
            Some((channel, conversation)) => (
                channel.to_string(),
                format!("{channel}:{conversation}"),
                // In a private chat the person is the conversation.
                conversation.to_string(),
            ),
            None => (
                self.origin.channel.clone(),
                self.session.clone(),
                self.sender.clone(),
            ),
        };
        let mut senders = vec![asker];
        senders.extend(approvals.approvers_in(&channel));
        Audience {
            channel,
            session,
            senders,
        }
    }

    async fn show(
        &self,
        audience: &Audience,
        conversation: &str,
        request: &Request,
    ) -> Result<bool, String> {
        let d = self
            .gateway
            .route(&self.origin, &audience.channel)
            .ok_or_else(|| {
                format!(
                    "the channel {} that approvals go to is not running",
                    audience.channel
                )
            })?;
        let wit = ApprovalRequest {
            id: request.id.clone(),
            tool: request.tool.clone(),
            arguments: request.arguments.clone(),
            folder: request.folder.clone(),
            requester: Some(self.sender.clone()),
            timeout_secs: request.timeout.as_secs().min(u32::MAX as u64) as u32,
        };
        match d.ask_approval(conversation, &wit).await {
            Ok(true) => return Ok(true),
            Ok(false) => {}
            // "Unavailable" is a channel saying it shows requests as text
            // (the SDK's default, a web page not open): expected, so quiet.
            Err(CallError::Guest(WitError::Unavailable(why))) => {
                tracing::debug!(channel = %audience.channel, "approval request sent as text: {why}");
            }
            Err(e) => {
                tracing::warn!(channel = %audience.channel, "approval request not shown by the channel ({e}); sending it as text");
            }
        }
        let limits = d.limits();
        for piece in delivery::split(&as_text(request), limits.max_message_length) {
            d.send(Outbound {
                conversation: conversation.to_string(),
                text: piece,
                attachments: Vec::new(),
                is_error: false,
            })
            .await
            .map_err(|e| format!("the approval request could not be delivered: {e}"))?;
        }
        Ok(false)
    }
}

impl Asker for ChannelAsker {
    fn ask<'a>(
        &'a self,
        approvals: &'a Approvals,
        request: &'a Request,
    ) -> Pin<Box<dyn Future<Output = Outcome> + Send + 'a>> {
        Box::pin(async move {
            let audience = self.audience(approvals);
            let conversation = conversation_of(&audience.channel, &audience.session).to_string();
            let answer = approvals.open(request, audience.clone());
            let mut withdraw = Withdraw {
                gateway: self.gateway.clone(),
                origin: self.origin.clone(),
                channel: audience.channel.clone(),
                conversation: conversation.clone(),
                id: Some(request.id.clone()),
            };
            let shown = match self.show(&audience, &conversation, request).await {
                Ok(shown) => shown,
                Err(why) => {
                    withdraw.id = None;
                    approvals.close(&request.id);
                    tracing::warn!(session = %self.session, "approval request failed closed: {why}");
                    return Outcome::Unreachable(why);
                }
            };
            let outcome = approvals.wait(&self.stored, request, answer).await;
            withdraw.id = None;
            if let Some(d) = self.gateway.route(&self.origin, &audience.channel) {
                d.approval_settled(&conversation, &request.id, settlement(&outcome))
                    .await;
                if !shown {
                    let line = match &outcome {
                        Outcome::Approved => format!("Approved: running {}.", request.tool),
                        Outcome::Allowed => {
                            format!("Allowed for this conversation: running {}.", request.tool)
                        }
                        Outcome::Rejected => format!("Rejected: {} was not run.", request.tool),
                        Outcome::Expired => format!(
                            "Nobody answered approval request {} in time: {} was not run.",
                            request.id, request.tool
                        ),
                        _ => String::new(),
                    };
                    if !line.is_empty() {
                        let _ = d
                            .send(Outbound {
                                conversation: conversation.clone(),
                                text: line,
                                attachments: Vec::new(),
                                is_error: false,
                            })
                            .await;
                    }
                }
            }
            outcome
        })
    }
}

impl Gateway {
    /// Handles a command that must not wait in the session's queue
    /// (`stop`, and the answers to approval requests); returns false for
    /// any other event.
    pub(super) fn control_now(self: &Arc<Self>, origin: &Origin, event: &Incoming) -> bool {
        let Some(command) = &event.command else {
            return false;
        };
        let reply = if command.name == "stop" {
            // In a group, the turn is stopped by the person whose message
            // it answers or by an approver, not by anyone in the room.
            let approvers = self
                .agent()
                .settings
                .approvals
                .approvers_in(&origin.channel);
            match self.running.lock().unwrap().get(&event.session) {
                Some(turn) if turn.sender == event.sender || approvers.contains(&event.sender) => {
                    turn.stop.notify_one();
                    None
                }
                Some(_) => Some((
                    "Only the person whose message is being answered (or an approver) may stop it."
                        .to_string(),
                    true,
                )),
                None => Some((
                    "Nothing is running in this conversation.".to_string(),
                    false,
                )),
            }
        } else if let Some(choice) = Choice::from_command(&command.name) {
            let id = command.args.trim();
            if id.is_empty() {
                Some((
                    format!(
                        "/{} needs the request's id: /{} ID",
                        command.name, command.name
                    ),
                    true,
                ))
            } else {
                match self.agent().settings.approvals.answer(
                    id,
                    &origin.channel,
                    &event.session,
                    &event.sender,
                    choice,
                ) {
                    Ok(()) => None,
                    Err(why) => Some((why, true)),
                }
            }
        } else {
            return false;
        };
        if let Some((text, is_error)) = reply {
            let gateway = self.clone();
            let origin = origin.clone();
            let session = event.session.clone();
            tokio::spawn(async move {
                gateway
                    .deliver(&origin, &session, text, Vec::new(), is_error)
                    .await;
            });
        }
        true
    }
}
