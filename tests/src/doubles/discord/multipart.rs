//! Request bodies: JSON, or `multipart/form-data` with `payload_json`
//! and `files[n]` (how Discord takes attachments), parsed by hand.

use serde_json::{Value, json};

use super::super::http1::Recorded;

/// A file of a multipart body: field, file name, content type, bytes.
pub(super) type FormFile = (String, String, String, Vec<u8>);

/// The body as JSON (a multipart body's `payload_json`) and the files.
pub(super) fn body_of(request: &Recorded) -> (Value, Vec<FormFile>) {
    let content_type = request.header("content-type").unwrap_or_default();
    if content_type.starts_with("multipart/form-data")
        && let Some(boundary) = content_type.split("boundary=").nth(1)
    {
        let mut body = Value::Null;
        let mut files = Vec::new();
        for (name, filename, kind, bytes) in multipart(&request.raw, boundary.trim_matches('"')) {
            match filename {
                Some(f) => files.push((
                    name,
                    f,
                    kind.unwrap_or_else(|| "application/octet-stream".into()),
                    bytes,
                )),
                None if name == "payload_json" => {
                    body = serde_json::from_slice(&bytes).unwrap_or(Value::Null)
                }
                None => {}
            }
        }
        return (body, files);
    }
    if request.raw.is_empty() {
        return (json!({}), Vec::new());
    }
    (request.body.clone(), Vec::new())
}

type Part = (String, Option<String>, Option<String>, Vec<u8>);

/// The parts of a `multipart/form-data` body: (name, filename, content
/// type, bytes).
fn multipart(body: &[u8], boundary: &str) -> Vec<Part> {
    let delimiter = format!("--{boundary}");
    let mut parts = Vec::new();
    let mut rest = body;
    while let Some(start) = find(rest, delimiter.as_bytes()) {
        rest = &rest[start + delimiter.len()..];
        if rest.starts_with(b"--") {
            break;
        }
        let Some(head_end) = find(rest, b"\r\n\r\n") else {
            break;
        };
        let head = String::from_utf8_lossy(&rest[..head_end]).into_owned();
        let content = &rest[head_end + 4..];
        let end = find(content, format!("\r\n{delimiter}").as_bytes()).unwrap_or(content.len());
        let attr = |name: &str| {
            head.split(['\r', '\n', ';'])
                .map(str::trim)
                .find_map(|p| p.strip_prefix(&format!("{name}=")))
                .map(|v| v.trim_matches('"').to_string())
        };
        let kind = head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("content-type")
                .then(|| v.trim().to_string())
        });
        if let Some(name) = attr("name") {
            parts.push((name, attr("filename"), kind, content[..end].to_vec()));
        }
        rest = &content[end..];
    }
    parts
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}
