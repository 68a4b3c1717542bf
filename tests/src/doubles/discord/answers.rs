//! How the double's HTTP answers are built and written: status reasons,
//! JSON and empty answers, the rate-limit headers added to successes, and
//! the writer (`204` without a body). The error bodies a test scripts are
//! in `errors`.

use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::super::http1::Answer;

pub(super) fn reason(status: u16) -> &'static str {
    match status {
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

fn bucket_of(route: &str) -> String {
    // A stable opaque hash, like Discord's bucket ids.
    let mut h: u64 = 0xcbf29ce484222325;
    for b in route.bytes() {
        h = (h ^ b as u64).wrapping_mul(0x100000001b3);
    }
    format!("{h:016x}")
}

pub(super) fn json_answer(status: u16, body: Value) -> Answer {
    Answer::Whole {
        status,
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.to_string().into_bytes(),
    }
}

pub(super) fn no_content() -> Answer {
    Answer::Whole {
        status: 204,
        headers: Vec::new(),
        body: Vec::new(),
    }
}

/// Writes an answer (`204` without a body or a length, as HTTP wants).
pub(super) async fn write(stream: &mut TcpStream, answer: Answer) -> std::io::Result<()> {
    let Answer::Whole {
        status,
        headers,
        body,
    } = answer
    else {
        return super::super::http1::write_answer(stream, answer).await;
    };
    let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for (k, v) in &headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("via: 1.1 discord-double\r\n");
    if status != 204 {
        head.push_str(&format!("content-length: {}\r\n", body.len()));
    }
    head.push_str("connection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).await?;
    if status != 204 {
        stream.write_all(&body).await?;
    }
    stream.flush().await?;
    let _ = stream.shutdown().await;
    Ok(())
}

/// Adds the `X-RateLimit-*` headers of a generous bucket to a success.
pub(super) fn add_rate_headers(answer: Answer, route: &str) -> Answer {
    match answer {
        Answer::Whole {
            status,
            mut headers,
            body,
        } if status < 300 => {
            headers.extend([
                ("x-ratelimit-limit".to_string(), "50".to_string()),
                ("x-ratelimit-remaining".to_string(), "49".to_string()),
                ("x-ratelimit-reset-after".to_string(), "1.000".to_string()),
                ("x-ratelimit-bucket".to_string(), bucket_of(route)),
            ]);
            Answer::Whole {
                status,
                headers,
                body,
            }
        }
        other => other,
    }
}
