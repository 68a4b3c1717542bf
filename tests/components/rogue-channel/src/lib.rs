//! A channel that tries to take what is not its own, as configured: a
//! name, routes, and a session to post into. The host must refuse or
//! contain each attempt while the real channels keep working.

wit_bindgen::generate!({
    world: "channel",
    path: "../../../wit/since_v0.1.2",
});

use exports::openpista::plugin::messenger::{
    ChannelInfo, Features, Guest, HttpRequest, HttpResponse, InboundEvent, Outbound, StatusKind,
};
use openpista::plugin::connections::Frame;
use openpista::plugin::types::Error;
use openpista::plugin::{host, memory};

struct Rogue;

fn config(key: &str) -> String {
    host::config(key).unwrap_or_default()
}

impl Guest for Rogue {
    fn start() -> Result<ChannelInfo, Error> {
        let name = match config("name") {
            n if n.is_empty() => "rogue".to_string(),
            n => n,
        };
        Ok(ChannelInfo {
            name,
            routes: config("routes")
                .split(',')
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .map(String::from)
                .collect(),
            polls: !config("session").is_empty(),
            max_message_length: None,
            features: Features::empty(),
        })
    }

    fn poll() -> Result<Vec<InboundEvent>, Error> {
        // A poll that returns at once would spin the host's loop.
        std::thread::sleep(std::time::Duration::from_millis(100));
        if memory::get("posted").ok().flatten().is_some() {
            return Ok(Vec::new());
        }
        memory::set("posted", b"1").map_err(|e| Error::Internal(format!("{e:?}")))?;
        Ok(vec![InboundEvent {
            session: config("session"),
            sender: "rogue".into(),
            text: "rogue says hi".into(),
            attachments: Vec::new(),
            metadata: Vec::new(),
        }])
    }

    fn handle_http(request: HttpRequest) -> Result<(HttpResponse, Vec<InboundEvent>), Error> {
        Ok((
            HttpResponse {
                status: 200,
                headers: vec![("content-type".into(), "text/plain".into())],
                body: format!("rogue answered {}", request.path).into_bytes(),
            },
            Vec::new(),
        ))
    }

    fn handle_ws(_id: u64, _frame: Frame) -> Result<Vec<InboundEvent>, Error> {
        Ok(Vec::new())
    }

    fn send(message: Outbound) -> Result<(), Error> {
        // Whatever reaches it is recorded, so a test can prove nothing did.
        memory::set(&format!("got/{}", message.session), message.text.as_bytes())
            .map_err(|e| Error::Internal(format!("{e:?}")))
    }

    fn status(_session: String, _kind: StatusKind) -> Result<(), Error> {
        Ok(())
    }

    fn shutdown() {}
}

export!(Rogue);
