//! The webhook endpoint's rules: which requests it serves, where the
//! secret token is, and which updates it has already seen.
//!
//! Telegram sends every update as `POST /telegram/webhook` (the route
//! `webhook`, which the host serves under the channel's prefix) with the
//! header `X-Telegram-Bot-Api-Secret-Token` set to the secret given to
//! `setWebhook`; the glue checks the value with `host::secret_matches`.
//! Telegram re-sends an update it got no 2xx for, so the ids of the last
//! [`SEEN_MAX`] updates are kept (memory key [`SEEN_KEY`]) and a repeat
//! is answered 200 with no events.

use openpista_sdk::HttpResponse;
use serde_json::json;

/// The route the channel declares, served at `/telegram/webhook`.
pub const ROUTE: &str = "webhook";
/// The header carrying the secret token.
pub const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";
/// Memory key of the seen update ids (a JSON array, oldest first).
pub const SEEN_KEY: &str = "webhook/seen";
/// How many update ids are remembered.
pub const SEEN_MAX: usize = 200;

/// Whether a request is for the webhook, or the response refusing it.
pub fn check_route(method: &str, path: &str) -> Result<(), HttpResponse> {
    let path = path.split(['?', '#']).next().unwrap_or("");
    if path != ROUTE {
        return Err(HttpResponse::not_found());
    }
    if !method.eq_ignore_ascii_case("POST") {
        return Err(
            HttpResponse::text(405, "method not allowed: the webhook takes POST")
                .with_header("allow", "POST"),
        );
    }
    Ok(())
}

/// The secret token the request presents, if any (header names are
/// compared without regard to case).
pub fn secret_token(headers: &[(String, String)]) -> Option<&str> {
    headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(SECRET_HEADER))
        .map(|(_, value)| value.as_str())
}

/// The answer to a request without the right secret.
pub fn unauthorized() -> HttpResponse {
    HttpResponse::text(
        401,
        "unauthorized: missing or wrong X-Telegram-Bot-Api-Secret-Token",
    )
}

/// The answer to a body that is not an update; `why` says what is wrong.
pub fn bad_request(why: &str) -> HttpResponse {
    HttpResponse::text(400, format!("bad request: {why}"))
}

/// The answer to an accepted update.
pub fn accepted() -> HttpResponse {
    HttpResponse::json(200, &json!({}))
}

/// Records `update_id` in `seen` (the stored ids, oldest first); `false`
/// when it was already there. Only the last [`SEEN_MAX`] ids are kept.
pub fn record(seen: &mut Vec<i64>, update_id: i64) -> bool {
    if seen.contains(&update_id) {
        return false;
    }
    seen.push(update_id);
    if seen.len() > SEEN_MAX {
        let extra = seen.len() - SEEN_MAX;
        seen.drain(..extra);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert!(check_route("POST", "webhook").is_ok());
        assert!(check_route("post", "webhook?x=1").is_ok());
        assert_eq!(check_route("GET", "webhook").unwrap_err().status, 405);
        let r = check_route("PUT", "webhook").unwrap_err();
        assert!(r.headers.contains(&("allow".into(), "POST".into())));
        assert_eq!(check_route("POST", "webhook/x").unwrap_err().status, 404);
        assert_eq!(check_route("POST", "other").unwrap_err().status, 404);
        // The full path is the host's business, never the channel's.
        assert_eq!(
            check_route("POST", "/telegram/webhook").unwrap_err().status,
            404
        );
    }

    #[test]
    fn the_secret_header_is_found_in_any_case() {
        let h = |name: &str| {
            vec![
                ("a".to_string(), "b".to_string()),
                (name.to_string(), "tok".to_string()),
            ]
        };
        assert_eq!(
            secret_token(&h("X-Telegram-Bot-Api-Secret-Token")),
            Some("tok")
        );
        assert_eq!(
            secret_token(&h("x-telegram-bot-api-secret-token")),
            Some("tok")
        );
        assert_eq!(secret_token(&h("x-other")), None);
    }

    #[test]
    fn responses() {
        assert_eq!(unauthorized().status, 401);
        let bad = bad_request("the body is not JSON");
        assert_eq!(bad.status, 400);
        assert!(String::from_utf8(bad.body).unwrap().contains("not JSON"));
        let ok = accepted();
        assert_eq!((ok.status, ok.body.as_slice()), (200, b"{}".as_slice()));
    }

    #[test]
    fn repeats_are_recognised_and_the_list_is_bounded() {
        let mut seen = Vec::new();
        assert!(record(&mut seen, 5));
        assert!(!record(&mut seen, 5));
        for id in 6..300 {
            assert!(record(&mut seen, id));
        }
        assert_eq!(seen.len(), SEEN_MAX);
        assert_eq!(seen[0], 100);
        assert!(record(&mut seen, 5), "forgotten after 200 newer ids");
        assert!(!record(&mut seen, 299));
    }
}
