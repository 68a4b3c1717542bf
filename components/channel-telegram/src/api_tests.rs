//! Tests of [`super`]: URLs and the retry decisions.

use super::*;
use serde_json::json;

const MAX: u32 = POLICY.max_attempts;

fn response(status: u16, body: &str, headers: &[(&str, &str)]) -> Result<Response, Error> {
    Ok(Response {
        status,
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        body: body.as_bytes().to_vec(),
    })
}

fn json_step(attempt: u32, sent: Result<Response, Error>) -> Step<Value> {
    judge_json("sendMessage", attempt, MAX, sent)
}

fn waits(step: Step<Value>) -> u64 {
    match step {
        Step::Retry { wait_ms, .. } => wait_ms,
        Step::Done(d) => panic!("not retried: {d:?}"),
    }
}

fn failure(step: Step<Value>) -> ApiError {
    match step {
        Step::Done(Err(e)) => e,
        other => panic!("not a final failure: {other:?}"),
    }
}

#[test]
fn urls_carry_only_the_placeholder() {
    assert_eq!(
        method_url("https://api.telegram.org", "getMe"),
        "https://api.telegram.org/bot{{secret:telegram_bot_token}}/getMe"
    );
    assert_eq!(
        file_url("http://127.0.0.1:9", "photos/file 1.jpg"),
        "http://127.0.0.1:9/file/bot{{secret:telegram_bot_token}}/photos/file%201.jpg"
    );
}

#[test]
fn set_webhook_parameters_go_in_the_query() {
    assert_eq!(
        set_webhook_query(
            "https://h.example/telegram/webhook?a=1&b",
            &["message", "callback_query"]
        ),
        "url=https%3A%2F%2Fh.example%2Ftelegram%2Fwebhook%3Fa%3D1%26b\
         &secret_token={{secret:telegram_webhook_secret}}\
         &allowed_updates=%5B%22message%22%2C%22callback_query%22%5D"
    );
    assert_eq!(percent_encode("a-b_c.d~é"), "a-b_c.d~%C3%A9");
}

#[test]
fn success_yields_the_result() {
    let step = json_step(1, response(200, r#"{"ok":true,"result":{"id":1}}"#, &[]));
    assert_eq!(step, Step::Done(Ok(json!({"id": 1}))));
    let step = json_step(1, response(200, r#"{"ok":true,"result":true}"#, &[]));
    assert_eq!(step, Step::Done(Ok(json!(true))));
}

#[test]
fn too_many_requests_waits_exactly_retry_after() {
    let body = r#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 7","parameters":{"retry_after":7}}"#;
    assert_eq!(waits(json_step(1, response(429, body, &[]))), 7_000);
    // The body wins over the header; the header is the fallback.
    assert_eq!(
        waits(json_step(3, response(429, body, &[("retry-after", "2")]))),
        7_000
    );
    let bare = r#"{"ok":false,"error_code":429,"description":"Too Many Requests"}"#;
    assert_eq!(
        waits(json_step(1, response(429, bare, &[("Retry-After", "4")]))),
        4_000
    );
    // Neither: the ordinary backoff.
    assert_eq!(waits(json_step(2, response(429, bare, &[]))), 1_000);
}

#[test]
fn too_long_a_wait_or_the_last_attempt_is_returned() {
    let body =
        r#"{"ok":false,"error_code":429,"description":"Flood","parameters":{"retry_after":3600}}"#;
    let e = failure(json_step(1, response(429, body, &[])));
    assert_eq!(
        e,
        ApiError::Refused {
            method: "sendMessage".into(),
            code: 429,
            description: "Flood".into(),
            retry_after_secs: Some(3600)
        }
    );
    let body = r#"{"ok":false,"error_code":429,"description":"x","parameters":{"retry_after":1}}"#;
    assert!(failure(json_step(MAX, response(429, body, &[]))).is_code(429));
}

#[test]
fn server_errors_back_off_to_a_cap_with_bounded_attempts() {
    let got: Vec<u64> = (1..MAX)
        .map(|a| waits(json_step(a, response(502, "<html>bad gateway</html>", &[]))))
        .collect();
    assert_eq!(got, vec![500, 1_000, 2_000, 4_000, 8_000]);
    let e = failure(json_step(
        MAX,
        response(
            500,
            r#"{"ok":false,"error_code":500,"description":"Internal"}"#,
            &[],
        ),
    ));
    assert!(e.is_code(500), "{e:?}");
    let capped = judge_json("m", 8, 99, response(503, "", &[]));
    assert_eq!(waits(capped), 30_000);
}

#[test]
fn network_errors_are_retried_host_refusals_are_not() {
    let refused = || {
        Err(Error::upstream(
            None,
            "connection to api.telegram.org refused",
        ))
    };
    assert_eq!(waits(json_step(1, refused())), 500);
    assert_eq!(waits(json_step(2, Err(Error::timeout("slow")))), 1_000);
    assert!(matches!(
        failure(json_step(MAX, refused())),
        ApiError::Transport { .. }
    ));
    for e in [
        Error::denied("host not granted"),
        Error::invalid_input("bad url"),
    ] {
        assert!(matches!(
            failure(json_step(1, Err(e))),
            ApiError::Transport { .. }
        ));
    }
}

#[test]
fn client_errors_are_never_retried() {
    for code in [400u16, 401, 403, 404] {
        let body = format!(r#"{{"ok":false,"error_code":{code},"description":"nope {code}"}}"#);
        let e = failure(json_step(1, response(code, &body, &[("retry-after", "1")])));
        assert!(e.is_code(code), "{code}: {e:?}");
    }
    // Without a JSON body, the status and the text.
    let e = failure(json_step(1, response(404, "Not Found", &[])));
    assert_eq!(
        e,
        ApiError::Refused {
            method: "sendMessage".into(),
            code: 404,
            description: "Not Found".into(),
            retry_after_secs: None
        }
    );
}

#[test]
fn conflict_is_its_own_kind() {
    let body = r#"{"ok":false,"error_code":409,"description":"Conflict: terminated by other getUpdates request"}"#;
    let e = judge_json("getUpdates", 1, MAX, response(409, body, &[]));
    assert!(
        matches!(e, Step::Done(Err(ApiError::Conflict { ref method, .. })) if method == "getUpdates")
    );
}

#[test]
fn ok_false_with_a_200_is_still_a_refusal() {
    let body = r#"{"ok":false,"error_code":400,"description":"Bad Request: can't parse entities"}"#;
    assert!(failure(json_step(1, response(200, body, &[]))).is_parse_error());
}

#[test]
fn malformed_answers_name_the_method() {
    for body in ["not json", r#"{"result":1}"#, ""] {
        let e = failure(judge_json("getMe", 1, MAX, response(200, body, &[])));
        assert!(
            matches!(&e, ApiError::Malformed { method, .. } if method == "getMe"),
            "{e:?}"
        );
        assert!(e.to_string().contains("getMe"));
    }
}

#[test]
fn retries_stop_at_the_time_budget() {
    // A long poll (40 s timeout) may be tried twice, not three times.
    assert!(has_time(0, 40_000, 500, 40_000));
    assert!(!has_time(0, 80_500, 1_000, 40_000));
    assert!(has_time(0, 50_000, 30_000, 30_000));
    assert!(!has_time(0, 50_001, 30_000, 30_000));
    assert!(
        has_time(5, 0, 0, 0),
        "a clock going back is no reason to stop"
    );
}

#[test]
fn a_retry_carries_the_failure_to_return() {
    let body = r#"{"ok":false,"error_code":503,"description":"busy"}"#;
    match json_step(1, response(503, body, &[])) {
        Step::Retry { failure, .. } => assert!(failure.is_code(503)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn downloads_take_raw_bytes() {
    let ok = judge_bytes("file download", 1, MAX, response(200, "\u{0}bytes", &[]));
    assert_eq!(ok, Step::Done(Ok(b"\0bytes".to_vec())));
    let missing = judge_bytes(
        "file download",
        1,
        MAX,
        response(
            404,
            r#"{"ok":false,"error_code":404,"description":"Not Found"}"#,
            &[],
        ),
    );
    assert!(matches!(missing, Step::Done(Err(ref e)) if e.is_code(404)));
    assert!(matches!(
        judge_bytes("f", 1, MAX, response(503, "", &[])),
        Step::Retry { wait_ms: 500, .. }
    ));
}
