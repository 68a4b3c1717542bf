//! `{{name}}`: an openpista channel component.
//!
//! A minimal webhook channel. The host gives it the id `{{channel_id}}` (its
//! name without a leading `channel-`) and serves its route `webhook` at
//! `/{{channel_id}}/webhook`. A POST of `{"chat": "42", "sender": "ada",
//! "text": "hi"}` there becomes a message in the conversation `42` (the
//! host's session `{{channel_id}}:42`), and the agent's answers are written
//! to the host's log. A real adapter would deliver them to its messenger's
//! API with `openpista_sdk::http`.
//!
//! Slash commands (`/help`, `/model NAME`) are the host's: the event says
//! when the text is one, and the host answers it. The other calls of the
//! `channel` world (`live`, `pairing`, `report`) keep the SDK's defaults;
//! override `Channel::describe` to report the channel's state, and see
//! `openpista_sdk::pairing` to let unknown senders ask for access.

use openpista_sdk::prelude::*;
use serde::Deserialize;

/// The component; it holds no state between calls.
struct Component;

/// The route the host forwards to `handle_http`, relative to the channel's
/// prefix: it arrives as `webhook`, then the query if any.
const ROUTE: &str = "webhook";

/// What the webhook accepts.
#[derive(Deserialize)]
struct Incoming {
    chat: String,
    sender: String,
    text: String,
}

/// A webhook body as an inbound event, or why it is not one.
fn parse_incoming(body: &[u8]) -> Result<InboundEvent, String> {
    let incoming: Incoming =
        openpista_sdk::serde_json::from_slice(body).map_err(|e| format!("bad request: {e}"))?;
    let command = command::parse(&incoming.text, None);
    Ok(InboundEvent::new(incoming.chat, incoming.sender, incoming.text).with_command(command))
}

impl Channel for Component {
    fn start() -> Result<ChannelInfo, Error> {
        let mut info = ChannelInfo::new();
        info.routes.push(ROUTE.to_string());
        Ok(info)
    }

    fn handle_http(req: HttpRequest) -> Result<(HttpResponse, Vec<InboundEvent>), Error> {
        let path = req.path.split('?').next().unwrap_or_default();
        if path != ROUTE {
            return Ok((HttpResponse::not_found(), Vec::new()));
        }
        if !req.method.eq_ignore_ascii_case("POST") {
            let response = HttpResponse::text(405, "use POST").with_header("allow", "POST");
            return Ok((response, Vec::new()));
        }
        Ok(match parse_incoming(&req.body) {
            Ok(event) => (
                HttpResponse::json(202, &json!({ "accepted": true })),
                vec![event],
            ),
            Err(message) => (HttpResponse::text(400, message), Vec::new()),
        })
    }

    fn send(message: Outbound) -> Result<(), Error> {
        host::log_with(
            host::LogLevel::Info,
            "answer",
            &[
                ("conversation", &message.conversation),
                ("text", &message.text),
            ],
        );
        Ok(())
    }
}

export_channel!(Component);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_bodies_become_events() {
        let event = parse_incoming(br#"{"chat": "42", "sender": "ada", "text": "hi"}"#).unwrap();
        assert_eq!(event.conversation, "42");
        assert_eq!((event.sender.as_str(), event.text.as_str()), ("ada", "hi"));
        assert_eq!(event.command, None);
        assert!(parse_incoming(b"{}").unwrap_err().contains("missing field"));
    }

    #[test]
    fn slash_commands_are_marked_for_the_host() {
        let body = br#"{"chat": "42", "sender": "ada", "text": "/model gpt-5"}"#;
        let command = parse_incoming(body).unwrap().command.unwrap();
        assert_eq!((command.name.as_str(), command.args.as_str()), ("model", "gpt-5"));
    }

    #[test]
    fn other_paths_are_not_found() {
        let req = HttpRequest {
            method: "GET".into(),
            path: "elsewhere".into(),
            headers: Vec::new(),
            body: Vec::new(),
        };
        assert_eq!(Component::handle_http(req).unwrap().0.status, 404);
    }
}
