//! Request bodies: JSON, or `multipart/form-data` with `payload_json`
//! and `files[n]` (how Discord takes attachments), parsed by hand.

use serde_json::{Value, json};

use super::super::http1::{FormPart, Recorded, multipart};

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
        for FormPart {
            name,
            filename,
            content_type: kind,
            data: bytes,
        } in multipart(&request.raw, boundary.trim_matches('"'))
        {
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
