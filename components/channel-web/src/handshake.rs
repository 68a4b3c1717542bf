//! The WebSocket handshake (`docs/WEB_PROTOCOL.md`, "Handshake"): deciding
//! from an HTTP request on the channel's route whether to accept it.
//!
//! The host passes the upgrade request to `handle-http` with the header
//! `x-openpista-connection: ID`; answering `101` accepts it. A plain `GET`
//! is the client's probe after a refused handshake (a browser cannot read a
//! refused handshake's status): `426` says the token is good, `401` that it
//! is not. The token check is passed in as a function so that this module
//! stays free of host calls (the component passes
//! `host::secret_matches("web_token", …)`).

use openpista_sdk::serde_json::json;
use openpista_sdk::{HttpRequest, HttpResponse};

/// The only route the channel declares: served at `/web/ws` and at the
/// host's first-party alias `/ws`, it reaches `handle-http` as `ws` (then
/// the query) either way.
pub const ROUTE: &str = "ws";
/// The header carrying the id the host gives the connection.
pub const CONNECTION_HEADER: &str = "x-openpista-connection";
/// The subprotocol the client offers and the server selects.
pub const SUBPROTOCOL: &str = "openpista";
/// Prefix of the subprotocol entry that carries the token.
pub const TOKEN_SUBPROTOCOL_PREFIX: &str = "token.";

/// What to do with a request.
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    /// Accept the WebSocket: answer `response` (a `101`) and remember
    /// `connection` as belonging to `client_id`.
    Accept {
        /// The host's id of the connection.
        connection: u64,
        /// The validated client id.
        client_id: String,
        /// The `101`, with the selected subprotocol when one was offered.
        response: HttpResponse,
    },
    /// Answer with this (`401`, `400`, `426`, `404`, `405`) and remember
    /// nothing.
    Respond(HttpResponse),
}

/// Decides what to answer to `request`; `token_ok` says whether a
/// candidate token is the right one.
pub fn decide(request: &HttpRequest, token_ok: impl Fn(&str) -> bool) -> Decision {
    let (path, query) = split_path(&request.path);
    if path != ROUTE {
        return Decision::Respond(HttpResponse::not_found());
    }
    if !request.method.eq_ignore_ascii_case("GET") {
        return Decision::Respond(
            HttpResponse::text(405, "method not allowed").with_header("allow", "GET"),
        );
    }
    let client_id = match query_param(query, "client") {
        Some(id) if valid_client_id(&id) => id,
        Some(_) => return bad_request("`client` must be 8 to 64 characters from A-Z a-z 0-9 _ -"),
        None => return bad_request("missing query parameter `client`"),
    };
    let upgrade = is_websocket_upgrade(&request.headers);
    let offered = subprotocols(&request.headers);
    if upgrade && !offered.is_empty() && !offered.iter().any(|p| p == SUBPROTOCOL) {
        return bad_request("offer the `openpista` subprotocol");
    }
    let connection = if upgrade {
        match header(&request.headers, CONNECTION_HEADER).map(|v| v.trim().parse::<u64>()) {
            Some(Ok(id)) => Some(id),
            _ => return bad_request("the host gave the upgrade no x-openpista-connection id"),
        }
    } else {
        None
    };
    let candidates = token_candidates(&offered, query);
    if !candidates.iter().any(|c| token_ok(c)) {
        return Decision::Respond(HttpResponse::json(401, &json!({"error": "unauthorized"})));
    }
    let Some(connection) = connection else {
        // The probe: the token is good, so a refused handshake was
        // something else (a proxy, the network).
        return Decision::Respond(
            HttpResponse::json(426, &json!({"error": "upgrade required"}))
                .with_header("upgrade", "websocket"),
        );
    };
    let mut response = HttpResponse::new(101, Vec::new());
    if !offered.is_empty() {
        response = response.with_header("sec-websocket-protocol", SUBPROTOCOL);
    }
    Decision::Accept {
        connection,
        client_id,
        response,
    }
}

/// `400` with a JSON reason.
fn bad_request(reason: &str) -> Decision {
    Decision::Respond(HttpResponse::json(
        400,
        &json!({"error": "bad request", "reason": reason}),
    ))
}

/// The tokens a request presents, best first: the first `token.` entry of
/// the subprotocol list, then the `token` query parameter. Empty ones are
/// left out, and there are at most two, so one request cannot try many.
pub fn token_candidates(offered: &[String], query: &str) -> Vec<String> {
    let from_protocol = offered
        .iter()
        .find_map(|p| p.strip_prefix(TOKEN_SUBPROTOCOL_PREFIX))
        .map(str::to_string);
    let mut candidates: Vec<String> = from_protocol.into_iter().collect();
    if let Some(token) = query_param(query, "token")
        && !candidates.contains(&token)
    {
        candidates.push(token);
    }
    candidates.retain(|c| !c.is_empty());
    candidates
}

/// Whether `id` is a client id: 8 to 64 characters from `[A-Za-z0-9_-]`.
pub fn valid_client_id(id: &str) -> bool {
    (8..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// `ws?client=x` → (`ws`, `client=x`); no `?` gives an empty query.
pub fn split_path(path: &str) -> (&str, &str) {
    path.split_once('?').unwrap_or((path, ""))
}

/// The first value of query parameter `name`, percent-decoded (`+` is a
/// space, as in forms).
pub fn query_param(query: &str, name: &str) -> Option<String> {
    query
        .split('&')
        .filter_map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(key) == name).then(|| percent_decode(value))
        })
        .next()
}

/// Decodes `%XX` escapes and `+`; a malformed escape stays as written and
/// bytes that are not UTF-8 become U+FFFD.
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&high), Some(&low)) => hex_pair(high, low),
            _ => None,
        };
        match (escaped, bytes[i]) {
            (Some(byte), _) => {
                out.push(byte);
                i += 3;
            }
            (None, b'+') => {
                out.push(b' ');
                i += 1;
            }
            (None, byte) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The byte written as two hex digits.
fn hex_pair(high: u8, low: u8) -> Option<u8> {
    let digit = |c: u8| (c as char).to_digit(16);
    Some((digit(high)? * 16 + digit(low)?) as u8)
}

/// The first value of header `name`, whatever the case of its name.
pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
}

/// Whether the request asks for a WebSocket (`upgrade: websocket`, in any
/// case, possibly among other tokens).
pub fn is_websocket_upgrade(headers: &[(String, String)]) -> bool {
    headers
        .iter()
        .filter(|(key, _)| key.eq_ignore_ascii_case("upgrade"))
        .flat_map(|(_, value)| value.split(','))
        .any(|token| token.trim().eq_ignore_ascii_case("websocket"))
}

/// The subprotocols offered in `sec-websocket-protocol` headers, in order
/// (a list may span several headers).
pub fn subprotocols(headers: &[(String, String)]) -> Vec<String> {
    headers
        .iter()
        .filter(|(key, _)| key.eq_ignore_ascii_case("sec-websocket-protocol"))
        .flat_map(|(_, value)| value.split(','))
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "s3cret token/+";
    const CLIENT: &str = "abcDEF12_-";

    fn request(method: &str, path: &str, headers: &[(&str, &str)]) -> HttpRequest {
        HttpRequest {
            method: method.into(),
            path: path.into(),
            headers: headers
                .iter()
                .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
                .collect(),
            body: Vec::new(),
        }
    }

    fn upgrade(path: &str, extra: &[(&str, &str)]) -> HttpRequest {
        let mut headers = vec![
            ("Upgrade", "WebSocket"),
            ("connection", "Upgrade"),
            ("x-openpista-connection", "42"),
        ];
        headers.extend_from_slice(extra);
        request("GET", path, &headers)
    }

    fn decide_with_token(req: &HttpRequest) -> Decision {
        decide(req, |candidate| candidate == TOKEN)
    }

    fn status(decision: &Decision) -> u16 {
        match decision {
            Decision::Accept { response, .. } | Decision::Respond(response) => response.status,
        }
    }

    fn body(decision: &Decision) -> String {
        match decision {
            Decision::Accept { response, .. } | Decision::Respond(response) => {
                String::from_utf8(response.body.clone()).unwrap()
            }
        }
    }

    #[test]
    fn accepts_a_token_in_the_subprotocol_list_and_selects_openpista() {
        let req = upgrade(
            &format!("ws?client={CLIENT}"),
            &[("Sec-WebSocket-Protocol", "openpista, token.s3cret token/+")],
        );
        let Decision::Accept {
            connection,
            client_id,
            response,
        } = decide_with_token(&req)
        else {
            panic!("refused: {:?}", decide_with_token(&req))
        };
        assert_eq!((connection, client_id.as_str()), (42, CLIENT));
        assert_eq!(response.status, 101);
        assert_eq!(
            header(&response.headers, "sec-websocket-protocol"),
            Some("openpista")
        );
    }

    #[test]
    fn accepts_a_percent_encoded_token_in_the_query_without_subprotocols() {
        let req = upgrade(
            &format!("ws?token=s3cret%20token%2F%2B&client={CLIENT}"),
            &[],
        );
        let decision = decide_with_token(&req);
        let Decision::Accept { response, .. } = decision else {
            panic!("{decision:?}")
        };
        assert!(response.headers.is_empty(), "no subprotocol was offered");
    }

    #[test]
    fn refuses_a_missing_or_wrong_token_with_401() {
        for req in [
            upgrade(&format!("ws?client={CLIENT}"), &[]),
            upgrade(&format!("ws?client={CLIENT}&token=nope"), &[]),
            upgrade(
                &format!("ws?client={CLIENT}"),
                &[("sec-websocket-protocol", "openpista, token.nope")],
            ),
            upgrade(&format!("ws?client={CLIENT}&token="), &[]),
        ] {
            let decision = decide_with_token(&req);
            assert_eq!(status(&decision), 401, "{}", req.path);
            assert_eq!(body(&decision), r#"{"error":"unauthorized"}"#);
        }
    }

    #[test]
    fn never_asks_about_an_empty_token_and_tries_at_most_two() {
        let asked = std::cell::RefCell::new(Vec::new());
        let req = upgrade(
            &format!("ws?client={CLIENT}&token=b&token=c"),
            &[(
                "sec-websocket-protocol",
                "openpista, token., token.a, token.z",
            )],
        );
        let decision = decide(&req, |c| {
            asked.borrow_mut().push(c.to_string());
            false
        });
        assert_eq!(status(&decision), 401);
        assert_eq!(*asked.borrow(), vec!["b".to_string()]);
    }

    #[test]
    fn refuses_a_bad_client_id_with_400_and_a_reason() {
        for path in [
            "ws?token=x",
            "ws?client=short&token=x",
            "ws?client=has%20space1&token=x",
            &format!("ws?client={}", "a".repeat(65)),
        ] {
            let decision = decide_with_token(&upgrade(path, &[]));
            assert_eq!(status(&decision), 400, "{path}");
            assert!(body(&decision).contains("client"), "{path}");
        }
    }

    #[test]
    fn refuses_an_offer_without_the_openpista_subprotocol() {
        let req = upgrade(
            &format!("ws?client={CLIENT}"),
            &[("sec-websocket-protocol", "chat, token.s3cret token/+")],
        );
        assert_eq!(status(&decide_with_token(&req)), 400);
    }

    #[test]
    fn the_probe_gets_426_for_a_good_token_and_401_for_a_bad_one() {
        let good = request(
            "GET",
            &format!("ws?client={CLIENT}&token=s3cret+token%2F%2B"),
            &[],
        );
        let decision = decide_with_token(&good);
        assert_eq!(status(&decision), 426);
        let Decision::Respond(response) = decision else {
            panic!()
        };
        assert_eq!(header(&response.headers, "Upgrade"), Some("websocket"));
        let bad = request("GET", &format!("ws?client={CLIENT}&token=x"), &[]);
        assert_eq!(status(&decide_with_token(&bad)), 401);
    }

    #[test]
    fn other_paths_and_methods_are_refused() {
        let path = format!("ws/x?client={CLIENT}&token=x");
        assert_eq!(status(&decide_with_token(&request("GET", &path, &[]))), 404);
        let post = request("POST", &format!("ws?client={CLIENT}"), &[]);
        assert_eq!(status(&decide_with_token(&post)), 405);
    }

    #[test]
    fn an_upgrade_without_a_connection_id_is_a_bad_request() {
        let req = request(
            "GET",
            &format!("ws?client={CLIENT}&token=s3cret%20token%2F%2B"),
            &[("upgrade", "websocket")],
        );
        assert_eq!(status(&decide_with_token(&req)), 400);
    }

    #[test]
    fn parses_queries_headers_and_escapes() {
        assert_eq!(split_path("ws"), ("ws", ""));
        assert_eq!(
            query_param("a=1&b=%41%zz+c&b=2", "b").as_deref(),
            Some("A%zz c")
        );
        assert_eq!(query_param("flag&x=1", "flag").as_deref(), Some(""));
        assert_eq!(query_param("x=1", "y"), None);
        assert_eq!(percent_decode("%E2%9C%93%"), "✓%");
        assert_eq!(percent_decode("%ff"), "\u{fffd}");
        let headers = vec![
            (
                "Sec-WebSocket-Protocol".to_string(),
                "openpista,".to_string(),
            ),
            (
                "sec-websocket-protocol".to_string(),
                " token.a ".to_string(),
            ),
            ("Upgrade".to_string(), "h2c, WebSocket".to_string()),
        ];
        assert_eq!(subprotocols(&headers), vec!["openpista", "token.a"]);
        assert!(is_websocket_upgrade(&headers));
        assert!(!is_websocket_upgrade(&headers[..2]));
        assert!(valid_client_id("abcdefgh") && valid_client_id(&"Z".repeat(64)));
        assert!(!valid_client_id("abcdefg") && !valid_client_id("abcdefgh!"));
    }
}

#[cfg(test)]
#[path = "handshake_fuzz.rs"]
mod fuzz;
