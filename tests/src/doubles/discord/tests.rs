//! The double's own tests: a Gateway session from Hello to a replayed
//! Resume, zombie connections and refused sessions; REST auth, content
//! length, scripted 429s and an interaction's callbacks.

use std::net::SocketAddr;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use super::{BOT_ID, DiscordDouble, Incoming, REQUIRED_INTENTS, rate_limited};

type Client = WebSocketStream<TcpStream>;

async fn connect(double: &DiscordDouble, path: &str) -> Client {
    let tcp = TcpStream::connect(double.addr).await.unwrap();
    let request = format!("ws://{}{path}", double.addr)
        .into_client_request()
        .unwrap();
    tokio_tungstenite::client_async(request, tcp)
        .await
        .unwrap()
        .0
}

async fn next(ws: &mut Client) -> Value {
    loop {
        let m = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("a frame within 5 s")
            .expect("the socket is open")
            .unwrap();
        if let Message::Text(t) = m {
            return serde_json::from_str(t.as_str()).unwrap();
        }
        if let Message::Close(c) = m {
            return json!({"close": c.map(|c| u16::from(c.code))});
        }
    }
}

async fn send(ws: &mut Client, v: Value) {
    ws.send(Message::text(v.to_string())).await.unwrap();
}

fn identify(token: &str) -> Value {
    json!({"op": 2, "d": {"token": token, "intents": REQUIRED_INTENTS,
        "properties": {"os": "linux", "browser": "t", "device": "t"}}})
}

#[tokio::test]
async fn hello_identify_heartbeat_and_resume_replay() {
    let double = DiscordDouble::start_with("T0K", 500).await;
    let mut ws = connect(&double, "/gateway?v=10&encoding=json").await;
    let hello = next(&mut ws).await;
    assert_eq!(hello["op"], 10);
    assert_eq!(hello["d"]["heartbeat_interval"], 500);
    send(&mut ws, identify("T0K")).await;
    let ready = next(&mut ws).await;
    assert_eq!(
        (ready["op"].clone(), ready["t"].clone(), ready["s"].clone()),
        (json!(0), json!("READY"), json!(1))
    );
    let sid = ready["d"]["session_id"].as_str().unwrap().to_string();
    assert!(
        ready["d"]["resume_gateway_url"]
            .as_str()
            .unwrap()
            .ends_with("/gateway/resume")
    );
    send(&mut ws, json!({"op": 1, "d": 1})).await;
    assert_eq!(next(&mut ws).await["op"], 11);

    double.dispatch_message(Incoming::dm("5", "100", "one"));
    let one = next(&mut ws).await;
    assert_eq!(
        (one["s"].clone(), one["d"]["content"].clone()),
        (json!(2), json!("one"))
    );
    assert!(one["d"].get("guild_id").is_none());

    // Dropped: what comes meanwhile is replayed after the Resume.
    assert_eq!(double.drop_connection(), 1);
    double.dispatch_message(Incoming::dm("5", "100", "two"));
    double.dispatch_message(Incoming::dm("5", "100", "three"));
    double
        .wait_until("the socket ended", 5, |d| {
            d.bound_connection().is_none() && d.state.lock().unwrap().gateway.conns.is_empty()
        })
        .await;
    let mut ws = connect(&double, "/gateway/resume/?v=10&encoding=json").await;
    assert_eq!(next(&mut ws).await["op"], 10);
    send(
        &mut ws,
        json!({"op": 6, "d": {"token": "T0K", "session_id": sid, "seq": 2}}),
    )
    .await;
    let mut got = Vec::new();
    for _ in 0..3 {
        let f = next(&mut ws).await;
        got.push((
            f["s"].as_u64().unwrap(),
            f["t"].as_str().unwrap().to_string(),
            f["d"]["content"].clone(),
        ));
    }
    assert_eq!(
        got,
        [
            (3, "MESSAGE_CREATE".to_string(), json!("two")),
            (4, "MESSAGE_CREATE".to_string(), json!("three")),
            (5, "RESUMED".to_string(), Value::Null),
        ]
    );
    let c = double.counters();
    assert_eq!(
        (c.connections, c.identifies, c.resumes, c.heartbeats),
        (2, 1, 1, 1)
    );

    // A zombie: no ACK.
    double.stop_acks();
    send(&mut ws, json!({"op": 1, "d": 5})).await;
    double.dispatch("TYPING_START", json!({"channel_id": "5"}));
    assert_eq!(
        next(&mut ws).await["t"],
        "TYPING_START",
        "no ACK came first"
    );
    double.resume_acks();
    send(&mut ws, json!({"op": 1, "d": 6})).await;
    assert_eq!(next(&mut ws).await["op"], 11);

    // Unknown session; a wrong token.
    let mut other = connect(&double, "/gateway").await;
    next(&mut other).await;
    send(
        &mut other,
        json!({"op": 6, "d": {"token": "T0K", "session_id": "nope", "seq": 1}}),
    )
    .await;
    assert_eq!(
        next(&mut other).await,
        json!({"op": 9, "d": false, "s": null, "t": null})
    );
    send(&mut other, identify("wrong")).await;
    assert_eq!(next(&mut other).await, json!({"close": 4004}));
}

#[tokio::test]
async fn rest_checks_auth_length_and_interaction_deadline() {
    let double = DiscordDouble::start("T0K").await;
    let base = double.addr;
    let get = |path: &str, auth: Option<&str>| {
        let auth = auth
            .map(|a| format!("authorization: {a}\r\n"))
            .unwrap_or_default();
        format!("GET /api/v10{path} HTTP/1.1\r\nhost: {base}\r\n{auth}connection: close\r\n\r\n")
    };
    let post = |path: &str, body: &Value| {
        let body = body.to_string();
        format!(
            "POST /api/v10{path} HTTP/1.1\r\nhost: {base}\r\nauthorization: Bot T0K\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    async fn raw(addr: SocketAddr, request: String) -> (u16, String) {
        use tokio::io::AsyncReadExt;
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(request.as_bytes()).await.unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        let status = out[9..12].parse().unwrap();
        (status, out.split_once("\r\n\r\n").unwrap().1.to_string())
    }
    assert_eq!(raw(base, get("/users/@me", None)).await.0, 401);
    let (status, me) = raw(base, get("/users/@me", Some("Bot T0K"))).await;
    assert_eq!(status, 200);
    assert!(me.contains(BOT_ID));
    let (_, gw) = raw(base, get("/gateway/bot", Some("Bot T0K"))).await;
    assert!(gw.contains(&double.gateway_url()));

    double.dispatch_message(Incoming::dm("5", "100", "hi"));
    let (status, body) = raw(
        base,
        post(
            "/channels/5/messages",
            &json!({"content": "x".repeat(2001)}),
        ),
    )
    .await;
    assert_eq!(status, 400);
    assert!(body.contains("50035"));
    double.fail_next("POST /channels/{id}/messages", rate_limited(0.5, "b1"));
    let (status, body) = raw(base, post("/channels/5/messages", &json!({"content": "a"}))).await;
    assert_eq!(status, 429);
    assert!(body.contains("retry_after"));
    let (status, _) = raw(base, post("/channels/5/messages", &json!({"content": "a"}))).await;
    assert_eq!(status, 200);
    assert_eq!(double.delivered("5").len(), 1);

    let (id, token) = double.dispatch_command("5", "100", None, "ask", json!([]));
    let path = format!("/interactions/{id}/{token}/callback");
    let (status, _) = raw(base, post(&path, &json!({"type": 5}))).await;
    assert_eq!(status, 204);
    let (status, _) = raw(
        base,
        post(&path, &json!({"type": 4, "data": {"content": "again"}})),
    )
    .await;
    assert_eq!(status, 400);
    let cb = double.callbacks();
    assert_eq!(cb[0].kind, 5);
    assert!(!cb[0].late);
    assert!(double.delivered("5")[1].deferred);
    assert_eq!(
        double
            .calls_of("POST /interactions/{id}/{token}/callback")
            .len(),
        2
    );
}
