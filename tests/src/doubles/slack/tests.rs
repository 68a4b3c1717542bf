//! The double's own tests: Slack's signature example, the Web API's token
//! and message checks, a scripted 429, and a Socket Mode session from
//! `hello` to a recorded ack and a refused reused ticket.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use super::{
    APP_ID, APP_TOKEN, BOT_TOKEN, BOT_USER_ID, SlackDouble, events_api, payloads, rate_limited,
};

#[test]
fn the_signature_is_slacks() {
    // The example of Slack's "Verifying requests from Slack".
    let body = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    assert_eq!(
        events_api::sign("8f742231b10e8888abcd99yyyzzz85a5", 1531420618, body),
        "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
    );
}

async fn call(double: &SlackDouble, method: &str, token: &str, body: Value) -> Value {
    let headers = vec![
        (
            "Content-Type".to_string(),
            "application/json; charset=utf-8".to_string(),
        ),
        ("Authorization".into(), format!("Bearer {token}")),
    ];
    let r = events_api::post(
        double.addr,
        &format!("/api/{method}"),
        &headers,
        body.to_string().as_bytes(),
    )
    .await;
    serde_json::from_str(&r.body).unwrap_or(json!({"status": r.status, "body": r.body}))
}

#[tokio::test]
async fn the_web_api_checks_tokens_and_messages() {
    let double = SlackDouble::start().await;
    let me = call(&double, "auth.test", BOT_TOKEN, json!({})).await;
    assert_eq!(me["user_id"], BOT_USER_ID);
    assert_eq!(
        call(&double, "auth.test", "xoxb-wrong", json!({})).await["error"],
        "invalid_auth"
    );
    assert_eq!(
        call(&double, "apps.connections.open", BOT_TOKEN, json!({})).await["error"],
        "not_allowed_token_type"
    );
    let a = call(
        &double,
        "chat.postMessage",
        BOT_TOKEN,
        json!({"channel": "C1", "text": "hi"}),
    )
    .await;
    let b = call(
        &double,
        "chat.postMessage",
        BOT_TOKEN,
        json!({"channel": "C1", "text": "again", "thread_ts": a["ts"]}),
    )
    .await;
    assert!(a["ts"].as_str().unwrap() < b["ts"].as_str().unwrap());
    assert_eq!(b["message"]["thread_ts"], a["ts"]);
    assert_eq!(
        call(
            &double,
            "chat.postMessage",
            BOT_TOKEN,
            json!({"channel": "C1"})
        )
        .await["error"],
        "no_text"
    );
    assert_eq!(
        call(
            &double,
            "chat.postMessage",
            BOT_TOKEN,
            json!({"channel": "#general", "text": "x"})
        )
        .await["error"],
        "channel_not_found"
    );
    let blocks = json!([{"type": "section", "text": {"type": "mrkdwn", "text": "x".repeat(3001)}}]);
    assert_eq!(
        call(
            &double,
            "chat.postMessage",
            BOT_TOKEN,
            json!({"channel": "C1", "text": "x", "blocks": blocks})
        )
        .await["error"],
        "invalid_blocks"
    );
    let up = call(
        &double,
        "chat.update",
        BOT_TOKEN,
        json!({"channel": "C1", "ts": a["ts"], "text": "edited"}),
    )
    .await;
    assert_eq!(up["ok"], true, "{up}");
    assert_eq!(double.posted("C1")[0].text, "edited");
    double.fail_next("chat.postMessage", rate_limited(1));
    let r = events_api::post(
        double.addr,
        "/api/chat.postMessage",
        &[("Authorization".into(), format!("Bearer {BOT_TOKEN}"))],
        b"channel=C1&text=hello+there",
    )
    .await;
    assert_eq!((r.status, r.header("retry-after")), (429, Some("1")));
    let calls = double.calls_of("chat.postMessage");
    assert_eq!(calls.last().unwrap().encoding, "form");
    assert_eq!(calls.last().unwrap().params["text"], "hello there");
    assert_eq!(double.posted("C1").len(), 2);
}

#[tokio::test]
async fn socket_mode_says_hello_and_records_acks() {
    let double = SlackDouble::start().await;
    let open = call(&double, "apps.connections.open", APP_TOKEN, json!({})).await;
    let url = open["url"].as_str().unwrap().to_string();
    let tcp = TcpStream::connect(double.addr).await.unwrap();
    let (mut ws, _) =
        tokio_tungstenite::client_async(url.clone().into_client_request().unwrap(), tcp)
            .await
            .unwrap();
    let next = async |ws: &mut WebSocketStream<TcpStream>| loop {
        match ws.next().await.unwrap().unwrap() {
            Message::Text(t) => return serde_json::from_str::<Value>(t.as_str()).unwrap(),
            _ => continue,
        }
    };
    let hello = next(&mut ws).await;
    assert_eq!(hello["type"], "hello");
    assert_eq!(hello["connection_info"]["app_id"], APP_ID);
    let id = double.push_event(payloads::callback(
        "Ev1",
        payloads::app_mention("U1", "C1", "<@UBOT> hi", "1.000100", None),
    ));
    let envelope = next(&mut ws).await;
    assert_eq!(envelope["envelope_id"], id.as_str());
    assert_eq!(envelope["payload"]["event"]["type"], "app_mention");
    ws.send(Message::text(json!({"envelope_id": id}).to_string()))
        .await
        .unwrap();
    let ack = double.wait_ack(&id, 5).await;
    assert!(ack.after.unwrap() < Duration::from_secs(1));
    // A ticket is good once.
    let tcp = TcpStream::connect(double.addr).await.unwrap();
    assert!(
        tokio_tungstenite::client_async(url.into_client_request().unwrap(), tcp)
            .await
            .is_err()
    );
    assert_eq!(double.counters().refused, 1);
}
