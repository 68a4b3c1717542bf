//! Fuzzing of the client frames (target `web_client_frame`, seeds in
//! fuzz/corpus/web_client_frame): whatever a browser sends, a frame that
//! parses, written back as JSON, parses to the same frame, and every
//! refusal can be sent back as an `error` frame.

use openpista_sdk::base64::encode;
use openpista_sdk::serde_json::{self, Value, json};

use super::{ClientFrame, UserMessage, error, parse_client_frame, pong};
use openpista_sdk::base64 as b64;

/// `m` as the frame a client would send.
fn message_frame(m: &UserMessage) -> String {
    let attachments: Vec<Value> = m
        .attachments
        .iter()
        .map(|a| json!({"mime": a.mime, "name": a.name, "data": encode(&a.data)}))
        .collect();
    json!({"type": "message", "id": m.id, "text": m.text, "attachments": attachments}).to_string()
}

#[test]
fn fuzz_web_client_frame() {
    openpista_fuzz::run_str("web_client_frame", |text| match parse_client_frame(text) {
        Ok(ClientFrame::Message(m)) => {
            let again = message_frame(&m);
            assert_eq!(
                parse_client_frame(&again),
                Ok(ClientFrame::Message(m.clone()))
            );
            for a in &m.attachments {
                assert_eq!(b64::decoded_len(&encode(&a.data)), a.data.len());
                assert_eq!(a.mime, a.mime.trim());
            }
        }
        Ok(ClientFrame::Ping { t }) => {
            let answer: Value = serde_json::from_str(&pong(&t)).expect("a pong is JSON");
            assert_eq!(answer["t"], t);
            let again = json!({"type": "ping", "t": t}).to_string();
            assert_eq!(parse_client_frame(&again), Ok(ClientFrame::Ping { t }));
        }
        Err(e) => {
            let frame: Value = serde_json::from_str(&error(&e.message, e.id.as_deref()))
                .expect("an error frame is JSON");
            assert_eq!(frame["message"], e.message.as_str());
            if let Some(id) = &e.id {
                // Only a string `id` of the frame itself is echoed.
                let sent: Value = serde_json::from_str(text).expect("the frame was JSON");
                assert_eq!(sent["id"].as_str(), Some(id.as_str()));
            }
        }
    });
}
