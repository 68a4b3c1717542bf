//! Socket Mode's WebSocket side: the upgrade at `/socket?ticket=N`, `hello`,
//! the writer of what a test pushes, and the record of frames and acks.

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

use super::super::http1::{Answer, Recorded, write_answer};
use super::state::Control;
use super::{APP_ID, Ack, SlackDouble, SocketEvent};

impl SlackDouble {
    pub(super) async fn socket(&self, mut stream: TcpStream, request: Recorded) {
        let upgrade = request
            .header("upgrade")
            .is_some_and(|u| u.eq_ignore_ascii_case("websocket"));
        let key = request.header("sec-websocket-key").map(str::to_string);
        let ticket = request
            .path
            .split_once('?')
            .map(|(_, q)| q)
            .unwrap_or("")
            .split('&')
            .find_map(|p| p.strip_prefix("ticket="))
            .and_then(|t| t.parse::<u64>().ok());
        let (true, Some(key), Some("13")) = (upgrade, key, request.header("sec-websocket-version"))
        else {
            let _ = write_answer(
                &mut stream,
                Answer::Whole {
                    status: 400,
                    headers: Vec::new(),
                    body: b"Bad Request".to_vec(),
                },
            )
            .await;
            return;
        };
        let valid = {
            let mut state = self.state.lock().unwrap();
            let s = &mut state.socket;
            match ticket.and_then(|t| s.tickets.iter().position(|x| *x == t)) {
                Some(i) => {
                    s.tickets.remove(i);
                    true
                }
                None => {
                    s.counters.refused += 1;
                    false
                }
            }
        };
        if !valid {
            let _ = write_answer(
                &mut stream,
                Answer::Whole {
                    status: 401,
                    headers: Vec::new(),
                    body: b"invalid_auth".to_vec(),
                },
            )
            .await;
            return;
        }
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
            let s = &mut state.socket;
            let conn = s.next_conn;
            s.next_conn += 1;
            s.conns.insert(conn, tx.clone());
            s.counters.connections += 1;
            s.events.push((
                Instant::now(),
                SocketEvent::Connected {
                    conn,
                    path: request.path.clone(),
                },
            ));
            let hello = json!({
                "type": "hello", "num_connections": s.conns.len(),
                "debug_info": {"host": "applink-double-1", "build_number": 1,
                               "approximate_connection_time": 18060},
                "connection_info": {"app_id": APP_ID},
            });
            let _ = tx.send(Control::Send(hello));
            conn
        };
        loop {
            tokio::select! {
                control = rx.recv() => match control {
                    Some(Control::Send(f)) => {
                        let text = f.to_string();
                        if ws.send(Message::text(text)).await.is_err() {
                            break;
                        }
                        let mut state = self.state.lock().unwrap();
                        if let Some(id) = f["envelope_id"].as_str() {
                            state.socket.sent.insert(id.to_string(), (conn, Instant::now()));
                        }
                        state.socket.events.push((Instant::now(), SocketEvent::Sent { conn, frame: f }));
                    }
                    Some(Control::Close(code, reason)) => {
                        self.event(SocketEvent::ServerClosed { conn, code });
                        let _ = ws
                            .send(Message::Close(Some(CloseFrame {
                                code: CloseCode::from(code),
                                reason: reason.into(),
                            })))
                            .await;
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
                    Some(Control::Drop) | None => {
                        self.event(SocketEvent::Dropped { conn });
                        break;
                    }
                },
                message = ws.next() => match message {
                    Some(Ok(Message::Text(text))) => {
                        let parsed: Value = serde_json::from_str(text.as_str()).unwrap_or(Value::Null);
                        self.on_frame(conn, parsed);
                    }
                    Some(Ok(Message::Close(close))) => {
                        let code = close.map(|c| u16::from(c.code));
                        self.event(SocketEvent::ClientClosed { conn, code });
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
        state.socket.conns.remove(&conn);
        state
            .socket
            .events
            .push((Instant::now(), SocketEvent::Ended { conn }));
    }

    fn event(&self, e: SocketEvent) {
        self.state
            .lock()
            .unwrap()
            .socket
            .events
            .push((Instant::now(), e));
    }

    fn on_frame(&self, conn: u64, frame: Value) {
        let now = Instant::now();
        let mut state = self.state.lock().unwrap();
        let s = &mut state.socket;
        if let Some(id) = frame["envelope_id"].as_str() {
            let after = s
                .sent
                .get(id)
                .map(|(_, at)| now.saturating_duration_since(*at));
            s.counters.acks += 1;
            s.acks.push(Ack {
                conn,
                envelope_id: id.to_string(),
                payload: frame["payload"].clone(),
                at: now,
                after,
            });
        }
        s.events.push((now, SocketEvent::Received { conn, frame }));
    }
}
