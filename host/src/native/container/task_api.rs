//! The task API: a tiny HTTP/1.1 server on a unix socket, one per task,
//! through which a worker talks back to the host. In a container the
//! socket's folder is mounted read-only at `/openpista/run/`, so the
//! worker finds it at `$OPENPISTA_TASK_SOCKET`; no network is needed.
//!
//! - `GET /task`: the task as JSON (`task_id`, `task`, `command`)
//! - `POST /report`: the body (text, at most 1 MiB) becomes the task's
//!   report, which the caller gets back with the outcome
//!
//! Every request must carry `Authorization: Bearer $OPENPISTA_TASK_TOKEN`;
//! the token is checked against the live table on each request, so once
//! the task has ended (token revoked) the answer is 401 even on a
//! connection opened earlier. The socket is removed when the task ends.

use super::http::{self, bearer, error, reply};
use super::tokens::TokenTable;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::net::UnixListener;
use tokio::task::JoinHandle;

/// Largest report accepted, bytes.
pub const MAX_REPORT_BYTES: usize = 1 << 20;

/// What the server knows of its task.
struct Shared {
    task_id: String,
    task: Option<String>,
    command: String,
    tokens: Arc<TokenTable>,
    report: Mutex<Option<String>>,
}

/// A running task API; stopped (socket removed, connections closed) when
/// stopped or dropped.
pub struct TaskApi {
    socket: PathBuf,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

impl TaskApi {
    /// Listens on `socket` (which must not exist) for task `task_id`.
    pub fn start(
        socket: &Path,
        task_id: &str,
        task: Option<&str>,
        command: &str,
        tokens: Arc<TokenTable>,
    ) -> std::io::Result<TaskApi> {
        let listener = UnixListener::bind(socket)?;
        // The worker may run as any user; the token is the lock.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o666))?;
        let shared = Arc::new(Shared {
            task_id: task_id.to_string(),
            task: task.map(str::to_string),
            command: command.to_string(),
            tokens,
            report: Mutex::new(None),
        });
        let server = tokio::spawn(http::serve(listener, shared.clone(), answer));
        Ok(TaskApi {
            socket: socket.to_path_buf(),
            shared,
            server,
        })
    }

    /// The report posted so far.
    pub fn report(&self) -> Option<String> {
        self.shared.report.lock().unwrap().clone()
    }

    /// Stops the server and removes the socket; returns the report posted.
    pub fn stop(self) -> Option<String> {
        self.report()
        // Drop does the rest.
    }
}

impl Drop for TaskApi {
    fn drop(&mut self) {
        self.server.abort();
        let _ = std::fs::remove_file(&self.socket);
    }
}

async fn answer(shared: Arc<Shared>, request: Request<Incoming>) -> Response<Full<Bytes>> {
    match bearer(request.headers()) {
        Some(t) if shared.tokens.check(&shared.task_id, t) => {}
        Some(_) => {
            return error(
                StatusCode::UNAUTHORIZED,
                "the task token is wrong or no longer valid",
            );
        }
        None => {
            return error(
                StatusCode::UNAUTHORIZED,
                "send Authorization: Bearer $OPENPISTA_TASK_TOKEN",
            );
        }
    }
    match (request.method(), request.uri().path()) {
        (&Method::GET, "/task") => reply(
            StatusCode::OK,
            serde_json::json!({
                "task_id": shared.task_id,
                "task": shared.task,
                "command": shared.command,
            }),
        ),
        (&Method::POST, "/report") => {
            let body = match Limited::new(request.into_body(), MAX_REPORT_BYTES)
                .collect()
                .await
            {
                Ok(collected) => collected.to_bytes(),
                Err(e) if e.is::<http_body_util::LengthLimitError>() => {
                    return error(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        &format!("a report may have at most {MAX_REPORT_BYTES} bytes"),
                    );
                }
                Err(_) => return error(StatusCode::BAD_REQUEST, "the body could not be read"),
            };
            let text = String::from_utf8_lossy(&body).into_owned();
            let bytes = text.len();
            *shared.report.lock().unwrap() = Some(text);
            reply(
                StatusCode::OK,
                serde_json::json!({ "ok": true, "bytes": bytes }),
            )
        }
        (_, "/task" | "/report") => {
            error(StatusCode::METHOD_NOT_ALLOWED, "GET /task, POST /report")
        }
        _ => error(StatusCode::NOT_FOUND, "GET /task, POST /report"),
    }
}
