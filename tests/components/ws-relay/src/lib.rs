//! `ws-relay`: a channel that asks the host to open the WebSocket its
//! `url` config names, with the secret `relay_token` in a header and in its
//! first frame (both as placeholders the host fills in). Every text frame
//! the server sends becomes a message of conversation `room` from `server`;
//! every answer goes back as a frame `answer:TEXT`. When the socket ends it
//! records `ws-close-status` and opens a new one. `report` shows what it
//! saw: the ids it opened, the errors `ws-open` gave, and how sockets
//! ended, so the tests can read the host's behaviour through the guest.

use openpista_sdk::prelude::*;
use std::sync::Mutex;

/// The socket in use.
static CURRENT: Mutex<Option<u64>> = Mutex::new(None);

struct Relay;

/// Appends `line` to the list under memory key `key`.
fn record(key: &str, line: &str) {
    let mut text = memory::get(key)
        .ok()
        .flatten()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    if !text.is_empty() {
        text.push('\n');
    }
    text.push_str(line);
    let _ = memory::set(key, text.as_bytes());
}

fn open(url: &str) -> Option<u64> {
    match connections::ws_open(url, &[("authorization", "Bearer {{secret:relay_token}}")]) {
        Ok(id) => {
            record("opened", &id.to_string());
            // The host fills the placeholder: the token never enters here.
            let _ = connections::ws_send_text(id, "{\"token\":\"{{secret:relay_token}}\"}");
            Some(id)
        }
        Err(e) => {
            record("errors", &format!("{e:?}"));
            None
        }
    }
}

impl Channel for Relay {
    fn start() -> Result<ChannelInfo, Error> {
        let url = host::config("url").unwrap_or_default();
        if !url.is_empty() {
            *CURRENT.lock().unwrap() = open(&url);
        }
        let second = host::config("second_url").unwrap_or_default();
        if !second.is_empty() {
            open(&second);
        }
        Ok(ChannelInfo::new())
    }

    fn handle_ws(id: u64, frame: Frame) -> Result<Vec<InboundEvent>, Error> {
        match frame {
            Frame::Text(text) => {
                record("frames", &format!("{id} {text}"));
                Ok(vec![InboundEvent::new("room", "server", text)])
            }
            Frame::Binary(_) => Ok(Vec::new()),
        }
    }

    fn ws_closed(id: u64) {
        let status = connections::ws_close_status(id);
        record("closed", &format!("{id} {status:?}"));
        let mut current = CURRENT.lock().unwrap();
        if *current == Some(id) {
            let url = host::config("url").unwrap_or_default();
            *current = open(&url);
        }
    }

    fn send(message: Outbound) -> Result<(), Error> {
        let id = CURRENT
            .lock()
            .unwrap()
            .ok_or_else(|| Error::unavailable("no socket"))?;
        connections::ws_send_text(id, format!("answer:{}", message.text))
    }

    fn describe() -> Result<ChannelReport, Error> {
        let mut report = ChannelReport::new("connected");
        for key in ["opened", "errors", "frames", "closed"] {
            let value = memory::get(key)
                .ok()
                .flatten()
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            report.details.push((key.to_string(), value));
        }
        Ok(report)
    }
}

openpista_sdk::export_channel!(Relay);
