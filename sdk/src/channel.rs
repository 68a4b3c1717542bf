//! The `channel` world: a messenger adapter (Telegram, a web page...), and
//! the `live-channel` world: a channel that also holds live connections.

use std::marker::PhantomData;

use crate::bindings::channel::exports::openpista::plugin::messenger;
use crate::bindings::live_channel::exports::openpista::plugin::live;
use crate::{
    ChannelInfo, Error, Frame, HttpRequest, HttpResponse, InboundEvent, Outbound, StatusKind,
};

/// A component that connects the agent to a messenger.
///
/// The component owns the messenger's protocol; the host owns timers,
/// listeners and long-lived connections and turns them into calls:
/// [`Channel::poll`] in a loop when [`ChannelInfo::polls`] is set,
/// [`Channel::handle_http`] for requests on [`ChannelInfo::routes`],
/// [`Channel::handle_ws`] for frames on host-held WebSockets (answer them
/// with [`connections::ws_send`]). Export it with
/// [`export_channel!`](crate::export_channel).
///
/// Only [`Channel::start`] and [`Channel::send`] are required; the other
/// methods default to doing nothing.
///
/// ```no_run
/// use openpista_sdk::prelude::*;
///
/// struct Hook;
///
/// impl Channel for Hook {
///     fn start() -> Result<ChannelInfo, Error> {
///         let mut info = ChannelInfo::new("hook");
///         info.routes.push("/hook".into());
///         Ok(info)
///     }
///
///     fn handle_http(req: HttpRequest) -> Result<(HttpResponse, Vec<InboundEvent>), Error> {
///         let text = String::from_utf8_lossy(&req.body).into_owned();
///         let event = InboundEvent::new("hook:default", "webhook", text);
///         Ok((HttpResponse::text(200, "ok"), vec![event]))
///     }
///
///     fn send(message: Outbound) -> Result<(), Error> {
///         host::info(&format!("answer for {}: {}", message.session, message.text));
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

    /// Handles a request on one of the channel's routes. The default
    /// answers `404 Not Found`, for channels without routes.
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

    /// Delivers an answer.
    fn send(message: Outbound) -> Result<(), Error>;

    /// Shows or clears an indicator for `session`. The default does
    /// nothing, for messengers without indicators.
    fn status(session: &str, kind: StatusKind) -> Result<(), Error> {
        let _ = (session, kind);
        Ok(())
    }

    /// Undoes what `start` set up. The default does nothing.
    fn shutdown() {}
}

/// Adapts a [`Channel`] to the generated `messenger` interface; used by
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

    fn status(session: String, kind: StatusKind) -> Result<(), Error> {
        T::status(&session, kind)
    }

    fn shutdown() {
        T::shutdown()
    }
}

/// A [`Channel`] that holds live connections (the web page's WebSockets):
/// world `live-channel`, exported with
/// [`export_live_channel!`](crate::export_live_channel).
///
/// Besides the [`Channel`] calls, the host tells it of each piece of an
/// answer as the model writes it ([`LiveChannel::send_delta`]), of
/// connections that closed ([`LiveChannel::ws_closed`]) and of the time,
/// about once a second ([`LiveChannel::tick`]), so that it can run
/// heartbeats: a component cannot keep a timer of its own. Every method
/// has a default that does nothing, so a channel overrides only what it
/// uses.
///
/// The host keeps one long-lived instance of a channel and calls it one
/// call at a time, so what the channel knows about its connections can
/// live in a `static` between calls. It is lost when the instance is
/// replaced (an upgrade, a crash): keep what must survive in
/// [`memory`](crate::memory), and answer frames of connections it no
/// longer knows by closing them so that their clients reconnect.
///
/// ```no_run
/// use openpista_sdk::prelude::*;
///
/// struct Page;
///
/// impl Channel for Page {
///     fn start() -> Result<ChannelInfo, Error> {
///         let mut info = ChannelInfo::new("page");
///         info.routes.push("/ws".into());
///         Ok(info)
///     }
///
///     fn send(message: Outbound) -> Result<(), Error> {
///         host::info(&format!("answer for {}", message.session));
///         Ok(())
///     }
/// }
///
/// impl LiveChannel for Page {
///     fn tick(now_ms: u64) {
///         host::trace(&format!("tick at {now_ms}"));
///     }
/// }
///
/// openpista_sdk::export_live_channel!(Page);
/// ```
pub trait LiveChannel: Channel {
    /// The next piece of the answer for `session`. The whole answer follows
    /// through [`Channel::send`], so the default ignores pieces.
    fn send_delta(session: &str, delta: &str) -> Result<(), Error> {
        let _ = (session, delta);
        Ok(())
    }

    /// Connection `id` has closed (the peer left or the network failed);
    /// the host forgets the id after this call. The default does nothing.
    fn ws_closed(id: u64) {
        let _ = id;
    }

    /// The time, in milliseconds since the Unix epoch, about once a second
    /// while the channel runs: close silent connections here with
    /// [`connections::ws_close`]. The default does nothing.
    fn tick(now_ms: u64) {
        let _ = now_ms;
    }
}

/// Adapts a [`LiveChannel`] to the generated `live` interface; used with
/// [`ChannelExport`] by [`export_live_channel!`](crate::export_live_channel).
#[doc(hidden)]
pub struct LiveExport<T>(PhantomData<T>);

impl<T: LiveChannel> live::Guest for LiveExport<T> {
    fn send_delta(session: String, delta: String) -> Result<(), Error> {
        T::send_delta(&session, &delta)
    }

    fn ws_closed(id: u64) {
        T::ws_closed(id)
    }

    fn tick(now_ms: u64) {
        T::tick(now_ms)
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
}

/// Exports a [`Channel`] implementation as this component's `messenger`
/// interface.
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

/// Exports a [`LiveChannel`] implementation as this component's `messenger`
/// and `live` interfaces (world `live-channel`).
///
/// Use it once, at the crate root of a `cdylib` crate, instead of
/// [`export_channel!`](crate::export_channel):
/// `openpista_sdk::export_live_channel!(MyChannel);`
#[macro_export]
macro_rules! export_live_channel {
    ($component:ty) => {
        const _: () = {
            type __OpenpistaChannelExport = $crate::channel::ChannelExport<$component>;
            $crate::bindings::channel::export!(
                __OpenpistaChannelExport with_types_in $crate::bindings::channel
            );
            type __OpenpistaLiveExport = $crate::channel::LiveExport<$component>;
            $crate::bindings::live_channel::export!(
                __OpenpistaLiveExport with_types_in $crate::bindings::live_channel
            );
        };
    };
}
