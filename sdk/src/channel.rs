//! The `channel` world: a messenger adapter (Telegram, a web page...).

use std::marker::PhantomData;

use crate::bindings::channel::exports::openpista::plugin::{
    approvals, choices, live, messenger, pairing, report, sessions,
};
use crate::{
    ApprovalRequest, Button, ChannelInfo, ChannelReport, Error, Frame, HistoryEntry, HttpRequest,
    HttpResponse, InboundEvent, Outbound, PairedUser, PairingRequest, SessionEntry, Settlement,
    StatusKind,
};

/// A component that connects the agent to a messenger.
///
/// The component owns the messenger's protocol; the host owns timers,
/// listeners, long-lived connections and identity, and turns them into
/// calls: [`Channel::poll`] in a loop when [`ChannelInfo::polls`] is set,
/// [`Channel::handle_http`] for requests on [`ChannelInfo::routes`],
/// [`Channel::handle_ws`] for frames on host-held WebSockets (answer them
/// with [`connections::ws_send`]). Export it with
/// [`export_channel!`](crate::export_channel).
///
/// The host decides who the channel is: its id is its manifest name without
/// a leading `channel-` (`channel-telegram` → `telegram`). The channel
/// names only what is its own inside that: conversations (`42`, which the
/// host makes the session `telegram:42`) and routes (`webhook`, served at
/// `/telegram/webhook`). Slash commands are the host's: set
/// [`InboundEvent::command`] with [`command::parse`](crate::command::parse)
/// and let the host answer them.
///
/// Only [`Channel::start`] and [`Channel::send`] are required. The other
/// methods, the `live`, `pairing` and `report` exports among them, have
/// defaults: doing nothing, having no pairing (or the SDK's, with
/// [`Channel::SDK_PAIRING`]), reporting nothing special.
///
/// The host keeps one long-lived instance of a channel and calls it one
/// call at a time, so what the channel knows about its connections can live
/// in a `static` between calls. It is lost when the instance is replaced
/// (an upgrade, a crash): keep what must survive in
/// [`memory`](crate::memory), and answer frames of connections it no longer
/// knows by closing them so that their clients reconnect. The host may also
/// call `pairing` and `report` on a fresh instance that was never started.
///
/// ```no_run
/// use openpista_sdk::prelude::*;
///
/// struct Hook;
///
/// impl Channel for Hook {
///     fn start() -> Result<ChannelInfo, Error> {
///         let mut info = ChannelInfo::new();
///         info.routes.push("webhook".into());
///         Ok(info)
///     }
///
///     fn handle_http(req: HttpRequest) -> Result<(HttpResponse, Vec<InboundEvent>), Error> {
///         let text = String::from_utf8_lossy(&req.body).into_owned();
///         let command = command::parse(&text, None);
///         let event = InboundEvent::new("default", "webhook", text).with_command(command);
///         Ok((HttpResponse::text(200, "ok"), vec![event]))
///     }
///
///     fn send(message: Outbound) -> Result<(), Error> {
///         host::info(&format!("answer for {}: {}", message.conversation, message.text));
///         Ok(())
///     }
/// }
///
/// openpista_sdk::export_channel!(Hook);
/// ```
pub trait Channel {
    /// Prepares the channel (registering a webhook, reading its bot
    /// identity) and says how the host should drive it.
    fn start() -> Result<ChannelInfo, Error>;

    /// Waits for and returns new inbound events. The default returns none,
    /// for channels that do not poll.
    fn poll() -> Result<Vec<InboundEvent>, Error> {
        Ok(Vec::new())
    }

    /// Handles a request on one of the channel's routes; its `path` is the
    /// route as declared, then the query (`webhook`, `ws?client=abc`). The
    /// default answers `404 Not Found`, for channels without routes.
    fn handle_http(request: HttpRequest) -> Result<(HttpResponse, Vec<InboundEvent>), Error> {
        let _ = request;
        Ok((HttpResponse::not_found(), Vec::new()))
    }

    /// Handles a frame on host-held WebSocket connection `id`. The default
    /// ignores it.
    fn handle_ws(id: u64, frame: Frame) -> Result<Vec<InboundEvent>, Error> {
        let _ = (id, frame);
        Ok(Vec::new())
    }

    /// Delivers an answer, already split to
    /// [`ChannelInfo::max_message_length`] by the host.
    fn send(message: Outbound) -> Result<(), Error>;

    /// Shows or clears an indicator in `conversation`; called only for
    /// channels with [`Features::TYPING`](crate::Features::TYPING). The
    /// default does nothing.
    fn status(conversation: &str, kind: StatusKind) -> Result<(), Error> {
        let _ = (conversation, kind);
        Ok(())
    }

    /// Undoes what `start` set up. The default does nothing.
    fn shutdown() {}

    /// The next piece of the answer for `conversation` as the model writes
    /// it (`live.send-delta`). The whole answer follows through
    /// [`Channel::send`], so the default ignores pieces.
    fn send_delta(conversation: &str, delta: &str) -> Result<(), Error> {
        let _ = (conversation, delta);
        Ok(())
    }

    /// Connection `id` has closed (the peer left or the network failed);
    /// the host forgets the id after this call (`live.ws-closed`). The
    /// default does nothing.
    fn ws_closed(id: u64) {
        let _ = id;
    }

    /// The time, in milliseconds since the Unix epoch, about once a second
    /// while the channel runs (`live.tick`): close silent connections here
    /// with [`connections::ws_close`], since a component cannot keep a
    /// timer of its own. The default does nothing.
    fn tick(now_ms: u64) {
        let _ = now_ms;
    }

    /// Whether the channel pairs unknown senders with the SDK's helper
    /// ([`pairing::code_for`](crate::pairing::code_for) and
    /// [`pairing::is_approved`](crate::pairing::is_approved)). When it
    /// does, the defaults of the three pairing methods below answer the
    /// host from the records that helper keeps in memory, so a channel
    /// that pairs says so in one line: `const SDK_PAIRING: bool = true;`.
    /// When it does not, they say the channel has no pairing; a channel
    /// with pairing of its own overrides them instead.
    const SDK_PAIRING: bool = false;

    /// Pending pairing requests and approved people
    /// (`pairing.list-pairings`). The default answers from the SDK's
    /// helper with [`Channel::SDK_PAIRING`], else says the channel has no
    /// pairing.
    fn list_pairings() -> Result<(Vec<PairingRequest>, Vec<PairedUser>), Error> {
        if Self::SDK_PAIRING {
            crate::pairing::list()
        } else {
            Err(no_pairing())
        }
    }

    /// Lets the sender of the request with `code` in (`pairing.approve`).
    /// The default approves with the SDK's helper with
    /// [`Channel::SDK_PAIRING`], else says the channel has no pairing.
    fn approve_pairing(code: &str) -> Result<PairingRequest, Error> {
        if Self::SDK_PAIRING {
            crate::pairing::approve(code)
        } else {
            Err(no_pairing())
        }
    }

    /// Withdraws `user`'s approval (`pairing.revoke`). The default revokes
    /// with the SDK's helper with [`Channel::SDK_PAIRING`], else says the
    /// channel has no pairing.
    fn revoke_pairing(user: &str) -> Result<bool, Error> {
        if Self::SDK_PAIRING {
            crate::pairing::revoke(user)
        } else {
            Err(no_pairing())
        }
    }

    /// The channel's state for `openpista … status` (`report.describe`).
    /// It may run on a fresh instance that was never started: report what
    /// memory knows. The default reports `connected` and nothing else: a
    /// channel with no connection of its own (a webhook, the web page) is
    /// ready whenever the host runs it, and the host knows whether it does.
    fn describe() -> Result<ChannelReport, Error> {
        Ok(ChannelReport::new("connected"))
    }

    /// Shows an approval request in `conversation` with its three choices
    /// (`approvals.ask`): buttons or a numbered reply that come back as the
    /// commands `approve ID`, `reject ID` and `allow ID`
    /// ([`crate::approval`] has the helpers). The default says the channel
    /// cannot, and the host sends the request as text naming the commands.
    fn ask_approval(conversation: &str, request: ApprovalRequest) -> Result<(), Error> {
        let _ = (conversation, request);
        Err(Error::unavailable(
            "this channel shows approval requests as text",
        ))
    }

    /// Approval request `id` in `conversation` ended
    /// (`approvals.settled`): take its buttons away. The default does
    /// nothing.
    fn approval_settled(conversation: &str, id: &str, how: Settlement) {
        let _ = (conversation, id, how);
    }

    /// Shows `text` with buttons that stand for host commands
    /// (`choices.offer`); a press comes back as the button's command
    /// ([`command::button_data`](crate::command::button_data) and
    /// [`command::parse_button`](crate::command::parse_button) make and
    /// read a button's payload). The default says the channel cannot, and
    /// the host sends the text alone, which names the commands.
    fn offer_choices(conversation: &str, text: &str, buttons: Vec<Button>) -> Result<(), Error> {
        let _ = (conversation, text, buttons);
        Err(Error::unavailable("this channel has no buttons"))
    }

    /// Shows the sessions of `conversation` as a list (`sessions.show`),
    /// in answer to `/sessions` and after each change. The default says
    /// the channel cannot, and the host answers with text (or buttons).
    fn show_sessions(conversation: &str, entries: Vec<SessionEntry>) -> Result<(), Error> {
        let _ = (conversation, entries);
        Err(Error::unavailable("this channel does not list sessions"))
    }

    /// `conversation` switched to the session `title`: show `history`
    /// (oldest first) in place of the old messages (`sessions.opened`).
    /// The default does not; the host's answer has a short recap.
    fn session_opened(
        conversation: &str,
        title: &str,
        history: Vec<HistoryEntry>,
    ) -> Result<(), Error> {
        let _ = (conversation, title, history);
        Err(Error::unavailable("this channel does not show histories"))
    }
}

/// The error of the `pairing` defaults.
fn no_pairing() -> Error {
    Error::unavailable("this channel has no pairing")
}

/// Adapts a [`Channel`] to the generated `messenger`, `live`, `pairing`
/// and `report` interfaces; used by
/// [`export_channel!`](crate::export_channel).
#[doc(hidden)]
pub struct ChannelExport<T>(PhantomData<T>);

impl<T: Channel> messenger::Guest for ChannelExport<T> {
    fn start() -> Result<ChannelInfo, Error> {
        T::start()
    }

    fn poll() -> Result<Vec<InboundEvent>, Error> {
        T::poll()
    }

    fn handle_http(request: HttpRequest) -> Result<(HttpResponse, Vec<InboundEvent>), Error> {
        T::handle_http(request)
    }

    fn handle_ws(id: u64, frame: Frame) -> Result<Vec<InboundEvent>, Error> {
        T::handle_ws(id, frame)
    }

    fn send(message: Outbound) -> Result<(), Error> {
        T::send(message)
    }

    fn status(conversation: String, kind: StatusKind) -> Result<(), Error> {
        T::status(&conversation, kind)
    }

    fn shutdown() {
        T::shutdown()
    }
}

impl<T: Channel> live::Guest for ChannelExport<T> {
    fn send_delta(conversation: String, delta: String) -> Result<(), Error> {
        T::send_delta(&conversation, &delta)
    }

    fn ws_closed(id: u64) {
        T::ws_closed(id)
    }

    fn tick(now_ms: u64) {
        T::tick(now_ms)
    }
}

impl<T: Channel> pairing::Guest for ChannelExport<T> {
    fn list_pairings() -> Result<(Vec<PairingRequest>, Vec<PairedUser>), Error> {
        T::list_pairings()
    }

    fn approve(code: String) -> Result<PairingRequest, Error> {
        T::approve_pairing(&code)
    }

    fn revoke(user: String) -> Result<bool, Error> {
        T::revoke_pairing(&user)
    }
}

impl<T: Channel> report::Guest for ChannelExport<T> {
    fn describe() -> Result<ChannelReport, Error> {
        T::describe()
    }
}

impl<T: Channel> choices::Guest for ChannelExport<T> {
    fn offer(conversation: String, text: String, buttons: Vec<Button>) -> Result<(), Error> {
        T::offer_choices(&conversation, &text, buttons)
    }
}

impl<T: Channel> sessions::Guest for ChannelExport<T> {
    fn show(conversation: String, entries: Vec<SessionEntry>) -> Result<(), Error> {
        T::show_sessions(&conversation, entries)
    }

    fn opened(
        conversation: String,
        title: String,
        history: Vec<HistoryEntry>,
    ) -> Result<(), Error> {
        T::session_opened(&conversation, &title, history)
    }
}

impl<T: Channel> approvals::Guest for ChannelExport<T> {
    fn ask(conversation: String, request: ApprovalRequest) -> Result<(), Error> {
        T::ask_approval(&conversation, request)
    }

    fn settled(conversation: String, id: String, how: Settlement) {
        T::approval_settled(&conversation, &id, how)
    }
}

/// Connections the host holds for the channel (WebSocket clients).
pub mod connections {
    use crate::bindings::channel::openpista::plugin::connections as wit;
    use crate::{Error, Frame};

    /// Sends a frame on connection `id`; [`Error::NotFound`] once it has
    /// closed.
    pub fn ws_send(id: u64, frame: &Frame) -> Result<(), Error> {
        wit::ws_send(id, frame)
    }

    /// Sends a text frame on connection `id`.
    pub fn ws_send_text(id: u64, text: impl Into<String>) -> Result<(), Error> {
        wit::ws_send(id, &Frame::Text(text.into()))
    }

    /// Closes connection `id` with a WebSocket close code (1000 for a
    /// normal close) and a reason.
    pub fn ws_close(id: u64, code: u16, reason: &str) -> Result<(), Error> {
        wit::ws_close(id, code, reason)
    }

    /// Asks the host to open a WebSocket to `url` and hold it for this
    /// channel (since WIT 0.2.2); returns its id at once while the host
    /// connects. `wss://` to a host the manifest grants in `hosts` (`ws://`
    /// only to a loopback address a grant names), at most as many at once
    /// as the manifest's `websockets` capability allows. Header values may
    /// hold `{{secret:NAME}}` placeholders: the host fills them in, so a
    /// token never enters the component.
    ///
    /// What arrives comes to [`Channel::handle_ws`](crate::Channel::handle_ws)
    /// under the id; frames sent before the handshake ends wait for it. A
    /// connection that fails or ends is reported to
    /// [`Channel::ws_closed`](crate::Channel::ws_closed), where
    /// [`ws_close_status`] says why: reconnect (or resume) from there.
    pub fn ws_open(url: &str, headers: &[(&str, &str)]) -> Result<u64, Error> {
        let headers: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        wit::ws_open(url, &headers)
    }

    /// Why connection `id`, one this channel opened, ended: the close code
    /// and reason the server sent, or 1006 and the error's text when the
    /// network failed or the handshake was refused. Ask it in
    /// [`Channel::ws_closed`](crate::Channel::ws_closed); `None` while the
    /// connection is open and after that call.
    pub fn ws_close_status(id: u64) -> Option<(u16, String)> {
        wit::ws_close_status(id)
    }
}

/// Exports a [`Channel`] implementation as this component's `messenger`,
/// `live`, `pairing`, `report`, `approvals` and `choices` interfaces (world
/// `interactive-channel`).
///
/// Use it once, at the crate root of a `cdylib` crate:
/// `openpista_sdk::export_channel!(MyChannel);`
#[macro_export]
macro_rules! export_channel {
    ($component:ty) => {
        const _: () = {
            type __OpenpistaChannelExport = $crate::channel::ChannelExport<$component>;
            $crate::bindings::channel::export!(
                __OpenpistaChannelExport with_types_in $crate::bindings::channel
            );
        };
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Bare;

    impl Channel for Bare {
        fn start() -> Result<ChannelInfo, Error> {
            Ok(ChannelInfo::new())
        }

        fn send(_: Outbound) -> Result<(), Error> {
            Ok(())
        }
    }

    #[test]
    fn the_defaults_have_no_pairing_and_report_connected() {
        for e in [
            Bare::list_pairings().unwrap_err(),
            Bare::approve_pairing("ABCD2345").unwrap_err(),
            Bare::revoke_pairing("42").map(|_| ()).unwrap_err(),
        ] {
            assert_eq!(e, Error::unavailable("this channel has no pairing"));
        }
        let report = Bare::describe().unwrap();
        assert_eq!(report, ChannelReport::new("connected"));
        assert!(report.account.is_none() && report.link.is_none());
        assert_eq!(Bare::send_delta("c", "d"), Ok(()));
        let (response, events) = Bare::handle_http(HttpRequest {
            method: "GET".into(),
            path: "x".into(),
            headers: Vec::new(),
            body: Vec::new(),
        })
        .unwrap();
        assert_eq!((response.status, events.len()), (404, 0));
    }
}
