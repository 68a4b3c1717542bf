//! Fuzzing of the WebSocket handshake (target `web_handshake`, seeds in
//! fuzz/corpus/web_handshake): each seed is `METHOD PATH` on its first
//! line and `name: value` headers after it. Whatever the request, a
//! connection is accepted only with the token, for a valid client id and
//! the connection id the host gave, and at most two tokens are tried.

use std::cell::RefCell;

use openpista_sdk::HttpRequest;

use super::{
    CONNECTION_HEADER, Decision, decide, header, split_path, subprotocols, token_candidates,
    valid_client_id,
};

const TOKEN: &str = "s3cret";

/// The request a seed describes.
fn request(text: &str) -> HttpRequest {
    let mut lines = text.lines();
    let first = lines.next().unwrap_or("");
    let (method, path) = first.split_once(' ').unwrap_or((first, ""));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.trim_start().to_string()))
        .collect();
    HttpRequest {
        method: method.into(),
        path: path.into(),
        headers,
        body: Vec::new(),
    }
}

#[test]
fn fuzz_web_handshake() {
    openpista_fuzz::run_str("web_handshake", |text| {
        let req = request(text);
        let tried = RefCell::new(Vec::new());
        let decision = decide(&req, |candidate| {
            tried.borrow_mut().push(candidate.to_string());
            candidate == TOKEN
        });
        let (_, query) = split_path(&req.path);
        let candidates = token_candidates(&subprotocols(&req.headers), query);
        assert!(candidates.len() <= 2 && candidates.iter().all(|c| !c.is_empty()));
        assert!(tried.borrow().iter().all(|t| candidates.contains(t)));
        if let Decision::Accept {
            connection,
            client_id,
            response,
        } = decision
        {
            let given = header(&req.headers, CONNECTION_HEADER).map(|v| v.trim().parse());
            assert_eq!(given, Some(Ok(connection)));
            assert!(valid_client_id(&client_id), "{client_id:?}");
            assert!(tried.borrow().iter().any(|t| t == TOKEN));
            assert_eq!(response.status, 101);
        }
    });
}
