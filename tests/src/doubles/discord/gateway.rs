//! The Gateway side: the WebSocket upgrade, Hello, the socket's loop
//! (frames the double writes, frames the client sends, close frames) and
//! the opcodes a client sends (Heartbeat, Identify, Resume...).

use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role};

use super::super::http1::Recorded;
use super::answers::write;
use super::errors::api_error;
use super::payloads::{bot_user, frame};
use super::state::{Control, Session};
use super::{APP_ID, DiscordDouble, GatewayEvent, REQUIRED_INTENTS};

impl DiscordDouble {
    pub(super) async fn gateway(&self, mut stream: TcpStream, request: Recorded) {
        let upgrade = request
            .header("upgrade")
            .is_some_and(|u| u.eq_ignore_ascii_case("websocket"));
        let key = request.header("sec-websocket-key").map(str::to_string);
        let (true, Some(key), Some("13")) = (upgrade, key, request.header("sec-websocket-version"))
        else {
            let _ = write(&mut stream, api_error(400, 0, "400: Bad Request")).await;
            return;
        };
        let response = format!(
            "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\
             sec-websocket-accept: {}\r\n\r\n",
            derive_accept_key(key.as_bytes())
        );
        if stream.write_all(response.as_bytes()).await.is_err() {
            return;
        }
        let mut ws = WebSocketStream::from_raw_socket(stream, Role::Server, None).await;
        let (tx, mut rx) = mpsc::unbounded_channel();
        let conn = {
            let mut state = self.state.lock().unwrap();
            let g = &mut state.gateway;
            let conn = g.next_conn;
            g.next_conn += 1;
            g.conns.insert(conn, tx.clone());
            g.counters.connections += 1;
            g.events.push((
                Instant::now(),
                GatewayEvent::Connected {
                    conn,
                    path: request.path.clone(),
                },
            ));
            conn
        };
        // A held socket waits (its frames queue) before Hello.
        let mut hold = self.hold.subscribe();
        let _ = hold.wait_for(|held| !held).await;
        let query = request.path.split_once('?').map(|(_, q)| q).unwrap_or("");
        let version = query
            .split('&')
            .find_map(|p| p.strip_prefix("v="))
            .unwrap_or("10");
        if version != "10" {
            let _ = tx.send(Control::Close(4012, "Invalid API version.".into()));
        } else {
            let interval = self.state.lock().unwrap().gateway.heartbeat_interval;
            let _ = tx.send(Control::Send(frame(
                10,
                json!({"heartbeat_interval": interval, "_trace": ["[\"discord-double\"]"]}),
            )));
        }
        loop {
            tokio::select! {
                control = rx.recv() => match control {
                    Some(Control::Send(f)) => {
                        let text = f.to_string();
                        self.event(GatewayEvent::Sent { conn, frame: f });
                        if ws.send(Message::text(text)).await.is_err() {
                            break;
                        }
                    }
                    Some(Control::Close(code, reason)) => {
                        self.event(GatewayEvent::ServerClosed { conn, code });
                        let _ = ws
                            .send(Message::Close(Some(CloseFrame {
                                code: CloseCode::from(code),
                                reason: reason.into(),
                            })))
                            .await;
                        // Give the client a moment to answer the close.
                        let _ = tokio::time::timeout(Duration::from_secs(1), async {
                            while let Some(Ok(m)) = ws.next().await {
                                if m.is_close() {
                                    break;
                                }
                            }
                        })
                        .await;
                        break;
                    }
                    Some(Control::Drop) | None => break,
                },
                message = ws.next() => match message {
                    Some(Ok(Message::Text(text))) => {
                        let parsed: Value = serde_json::from_str(text.as_str()).unwrap_or(Value::Null);
                        self.event(GatewayEvent::Received { conn, frame: parsed.clone() });
                        self.on_frame(conn, &tx, parsed);
                    }
                    Some(Ok(Message::Binary(_))) => {
                        self.event(GatewayEvent::Received { conn, frame: Value::Null });
                        let _ = tx.send(Control::Close(4002, "Error while decoding payload.".into()));
                    }
                    Some(Ok(Message::Close(close))) => {
                        let code = close.map(|c| u16::from(c.code));
                        self.event(GatewayEvent::ClientClosed { conn, code });
                        let _ = ws.close(None).await;
                        break;
                    }
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => break,
                },
            }
        }
        drop(ws);
        let mut state = self.state.lock().unwrap();
        let g = &mut state.gateway;
        g.conns.remove(&conn);
        g.zombies.remove(&conn);
        for session in g.sessions.values_mut() {
            if session.conn == Some(conn) {
                session.conn = None;
            }
        }
        g.events
            .push((Instant::now(), GatewayEvent::Ended { conn }));
    }

    fn event(&self, e: GatewayEvent) {
        self.state
            .lock()
            .unwrap()
            .gateway
            .events
            .push((Instant::now(), e));
    }

    /// One frame from the client on socket `conn`.
    fn on_frame(&self, conn: u64, tx: &mpsc::UnboundedSender<Control>, f: Value) {
        let close = |code: u16, reason: &str| {
            let _ = tx.send(Control::Close(code, reason.into()));
        };
        let Some(op) = f["op"].as_u64() else {
            return close(4002, "Error while decoding payload.");
        };
        let mut state = self.state.lock().unwrap();
        let g = &mut state.gateway;
        let authenticated = g.sessions.values().any(|s| s.conn == Some(conn));
        match op {
            1 => {
                g.counters.heartbeats += 1;
                if !g.zombies.contains(&conn) {
                    g.counters.acks += 1;
                    let _ = tx.send(Control::Send(frame(11, Value::Null)));
                }
            }
            2 => {
                if authenticated {
                    return close(4005, "Already authenticated.");
                }
                let d = &f["d"];
                if d["token"].as_str() != Some(self.token.as_str()) {
                    return close(4004, "Authentication failed.");
                }
                let Some(intents) = d["intents"].as_u64() else {
                    return close(4013, "Invalid intent(s).");
                };
                if intents & REQUIRED_INTENTS != REQUIRED_INTENTS {
                    // Discord would deliver events without content, or
                    // none at all; the double refuses loudly instead.
                    return close(4013, "Invalid intent(s).");
                }
                if !d["properties"].is_object() {
                    return close(4002, "Error while decoding payload.");
                }
                g.counters.identifies += 1;
                let sid = format!("{:032x}", 0x5e55_0000_u64 + g.counters.identifies as u64);
                g.sessions.insert(
                    sid.clone(),
                    Session {
                        log: Vec::new(),
                        conn: Some(conn),
                        resumable: true,
                    },
                );
                g.current = Some(sid.clone());
                let ready = json!({
                    "v": 10, "user": bot_user(), "guilds": [], "session_id": sid,
                    "resume_gateway_url": format!("ws://{}/gateway/resume", self.addr),
                    "session_type": "normal", "private_channels": [], "relationships": [],
                    "presences": [], "guild_join_requests": [], "geo_ordered_rtc_regions": [],
                    "shard": d["shard"].as_array().map(|_| d["shard"].clone()).unwrap_or(json!([0, 1])),
                    "application": {"id": APP_ID, "flags": 0},
                    "_trace": ["[\"discord-double\"]"],
                });
                Self::dispatch_locked(g, "READY", ready);
                for (t, d) in std::mem::take(&mut g.pending) {
                    Self::dispatch_locked(g, &t, d);
                }
            }
            6 => {
                let d = &f["d"];
                if d["token"].as_str() != Some(self.token.as_str()) {
                    return close(4004, "Authentication failed.");
                }
                let sid = d["session_id"].as_str().unwrap_or("").to_string();
                let seq = d["seq"].as_u64().unwrap_or(0);
                let known = g.sessions.get(&sid).is_some_and(|s| s.resumable);
                if !known {
                    g.counters.refused_resumes += 1;
                    let _ = tx.send(Control::Send(frame(9, json!(false))));
                    return;
                }
                let session = g.sessions.get_mut(&sid).unwrap();
                if seq > session.log.len() as u64 {
                    return close(4007, "Invalid seq.");
                }
                g.counters.resumes += 1;
                // Another socket of the session is let go.
                if let Some(old) = session.conn.replace(conn)
                    && old != conn
                    && let Some(old_tx) = g.conns.get(&old)
                {
                    let _ = old_tx.send(Control::Close(4000, "Session resumed elsewhere.".into()));
                }
                for missed in &session.log[seq as usize..] {
                    let _ = tx.send(Control::Send(missed.clone()));
                }
                g.current = Some(sid);
                Self::dispatch_locked(g, "RESUMED", json!({"_trace": ["[\"discord-double\"]"]}));
            }
            3 | 4 | 8 | 31 => {
                if !authenticated {
                    close(4003, "Not authenticated.");
                }
            }
            _ => close(4001, "Unknown opcode."),
        }
    }
}
