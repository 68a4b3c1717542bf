//! Built against `wit/since_v0.1.0`, the first released channel contract:
//! whole session ids, absolute routes, commands in metadata, no `live`.
//! Its name is derived from its component name (`channel-old10` → `old10`)
//! the way the host derives channel ids, since 0.1 made channels name
//! themselves.

wit_bindgen::generate!({
    world: "channel",
    path: "../../../wit/since_v0.1.0",
});

use exports::openpista::plugin::messenger::{
    ChannelInfo, Features, Guest, HttpRequest, HttpResponse, InboundEvent, Outbound, StatusKind,
};
use openpista::plugin::connections::Frame;
use openpista::plugin::types::Error;
use openpista::plugin::{host, memory};

struct Legacy;

fn name() -> String {
    host::config("channel").unwrap_or_else(|| "old10".into())
}

impl Guest for Legacy {
    fn start() -> Result<ChannelInfo, Error> {
        Ok(ChannelInfo {
            name: name(),
            routes: vec![format!("/{}/hook", name())],
            polls: true,
            max_message_length: Some(12),
            features: Features::TYPING,
        })
    }

    fn poll() -> Result<Vec<InboundEvent>, Error> {
        std::thread::sleep(std::time::Duration::from_millis(100));
        if memory::get("polled").ok().flatten().is_some() {
            return Ok(Vec::new());
        }
        memory::set("polled", b"1").map_err(|e| Error::Internal(format!("{e:?}")))?;
        Ok(vec![
            InboundEvent {
                session: format!("{}:1", name()),
                sender: "old".into(),
                text: "hello from the past".into(),
                attachments: Vec::new(),
                metadata: Vec::new(),
            },
            InboundEvent {
                session: format!("{}:1", name()),
                sender: "old".into(),
                text: "/session".into(),
                attachments: Vec::new(),
                metadata: vec![("command".into(), "session".into())],
            },
        ])
    }

    fn handle_http(request: HttpRequest) -> Result<(HttpResponse, Vec<InboundEvent>), Error> {
        Ok((
            HttpResponse {
                status: 200,
                headers: Vec::new(),
                body: format!("0.1.0 channel saw {}", request.path).into_bytes(),
            },
            Vec::new(),
        ))
    }

    fn handle_ws(_id: u64, _frame: Frame) -> Result<Vec<InboundEvent>, Error> {
        Ok(Vec::new())
    }

    fn send(message: Outbound) -> Result<(), Error> {
        // Every piece it is sent, in order, under the session it knows.
        let key = format!("sent/{}", message.session);
        let mut all = memory::get(&key).ok().flatten().unwrap_or_default();
        all.extend_from_slice(message.text.as_bytes());
        all.push(b'|');
        memory::set(&key, &all).map_err(|e| Error::Internal(format!("{e:?}")))
    }

    fn status(_session: String, _kind: StatusKind) -> Result<(), Error> {
        Ok(())
    }

    fn shutdown() {}
}

export!(Legacy);
