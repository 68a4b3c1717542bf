//! Worker tasks on the listener, for the web page and the TUI:
//!
//! - `GET /workers`: every task, newest first; `?task=ID`: one task with
//!   its reports (404 when unknown)
//! - `GET /workers/events?epoch=E&after=N`: the feed, long-polled: the
//!   events numbered after N, waiting up to 25 s for one (`wait=0`: not at
//!   all). `{"epoch": E, "next": M, "missed": false, "events": [...]}`;
//!   ask again with `epoch=E&after=M`. Numbers count within one run of the
//!   host (its epoch); `missed` says events were dropped, or the host
//!   restarted, and the list should be read again.
//!
//! Who may read: loopback peers, or the web channel's token as
//! `Authorization: Bearer`, as for `/metrics`.

use super::metrics::Access;
use crate::native::container::reports::Reports;
use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::Full;
use std::sync::Arc;
use std::time::Duration;

/// The list, and one task.
pub const ROUTE: &str = "/workers";
/// The feed.
pub const EVENTS_ROUTE: &str = "/workers/events";
/// The longest a poll waits.
const MAX_WAIT: Duration = Duration::from_secs(25);

/// What the listener needs to serve the routes.
pub struct Workers {
    pub reports: Arc<Reports>,
    pub access: Access,
}

fn json(status: StatusCode, body: serde_json::Value) -> Response<Full<Bytes>> {
    let mut response = super::plain(status, body.to_string(), "application/json");
    // The feed changes from one poll to the next.
    response.headers_mut().insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    response
}

/// The value of `name` in `query`.
fn param<'q>(query: &'q str, name: &str) -> Option<&'q str> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Answers `path` (one of the two routes) for an allowed peer.
pub async fn respond(workers: &Workers, path: &str, query: &str) -> Response<Full<Bytes>> {
    let store = workers.reports.store().clone();
    if path == EVENTS_ROUTE {
        let Ok(after) = param(query, "after").unwrap_or("0").parse::<u64>() else {
            return json(
                StatusCode::BAD_REQUEST,
                serde_json::json!({"error": "after must be an event number"}),
            );
        };
        let wait = match param(query, "wait").map(str::parse::<u64>) {
            None => MAX_WAIT,
            Some(Ok(secs)) => Duration::from_secs(secs).min(MAX_WAIT),
            Some(Err(_)) => {
                return json(
                    StatusCode::BAD_REQUEST,
                    serde_json::json!({"error": "wait must be a number of seconds"}),
                );
            }
        };
        let epoch = param(query, "epoch").filter(|e| !e.is_empty());
        let events = workers.reports.events_after(epoch, after, wait).await;
        return json(
            StatusCode::OK,
            serde_json::to_value(events).unwrap_or_default(),
        );
    }
    let task = param(query, "task").map(str::to_string);
    let read = tokio::task::spawn_blocking(move || {
        crate::native::container::reports::history(&store, task.as_deref())
    })
    .await;
    match read {
        Ok(Ok(serde_json::Value::Null)) => json(
            StatusCode::NOT_FOUND,
            serde_json::json!({"error": "no such worker task"}),
        ),
        Ok(Ok(value)) => json(StatusCode::OK, value),
        Ok(Err(e)) => json(
            StatusCode::SERVICE_UNAVAILABLE,
            serde_json::json!({"error": format!("cannot read the history: {e:#}")}),
        ),
        Err(_) => json(
            StatusCode::INTERNAL_SERVER_ERROR,
            serde_json::json!({"error": "reading the history failed"}),
        ),
    }
}

/// 401 for a peer that may not read.
pub fn refused() -> Response<Full<Bytes>> {
    let mut response = json(
        StatusCode::UNAUTHORIZED,
        serde_json::json!({"error": "send the web token as Authorization: Bearer"}),
    );
    response.headers_mut().insert(
        http::header::WWW_AUTHENTICATE,
        http::HeaderValue::from_static("Bearer"),
    );
    response
}
