//! Reading a Web API call's parameters: JSON bodies, urlencoded and
//! `multipart/form-data` forms, query strings; percent-coding.

use serde_json::{Value, json};

use super::super::http1::{FormPart, Recorded, multipart};

/// The call's parameters and how they came: the JSON body, else the form
/// fields (urlencoded or multipart text parts), merged over the query
/// string.
pub(super) fn params_of(request: &Recorded) -> (Value, &'static str) {
    let mut out = serde_json::Map::new();
    if let Some((_, query)) = request.path.split_once('?') {
        for (k, v) in form_pairs(query) {
            out.insert(k, Value::String(v));
        }
    }
    let content_type = request
        .header("content-type")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let mut encoding = "none";
    if content_type.starts_with("application/json") {
        encoding = "json";
        if let Value::Object(body) = &request.body {
            out.extend(body.clone());
        }
    } else if content_type.starts_with("multipart/form-data") {
        encoding = "multipart";
        let ct = request.header("content-type").unwrap_or_default();
        if let Some(boundary) = ct.split("boundary=").nth(1) {
            for FormPart {
                name,
                filename,
                data: bytes,
                ..
            } in multipart(&request.raw, boundary.trim_matches('"'))
            {
                let value = match filename {
                    Some(f) => json!({"filename": f, "bytes": bytes.len()}),
                    None => Value::String(String::from_utf8_lossy(&bytes).into_owned()),
                };
                out.insert(name, value);
            }
        }
    } else if !request.raw.is_empty() {
        encoding = "form";
        for (k, v) in form_pairs(&String::from_utf8_lossy(&request.raw)) {
            out.insert(k, Value::String(v));
        }
    }
    (Value::Object(out), encoding)
}

fn form_pairs(text: &str) -> Vec<(String, String)> {
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

/// `application/x-www-form-urlencoded` decoding (`+` is a space).
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
                continue;
            }
            (b'+', _) => out.push(b' '),
            (b, _) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `application/x-www-form-urlencoded` encoding of one value.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
