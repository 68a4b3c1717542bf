//! `multipart/form-data` bodies (RFC 7578), for messenger APIs that take
//! files that way (Telegram's `sendDocument`, Discord's messages with
//! `files[N]`). Built by hand: a component has no HTTP client library,
//! and the rules are few: a boundary that occurs in no part, quoted
//! parameter values that cannot end their header, CRLF everywhere.
//!
//! ```
//! use openpista_sdk::multipart::{Part, boundary, build};
//!
//! let parts = [
//!     Part::text("chat_id", "42"),
//!     Part::file("document", "notes.txt", "text/plain", b"hello"),
//! ];
//! // In a component the seed comes from `wasi:random`.
//! let form = build(&boundary(7, &parts), &parts);
//! assert!(form.content_type.starts_with("multipart/form-data; boundary=openpista-"));
//! ```

/// One part of a form: a text field or a file.
#[derive(Debug, Clone, Copy)]
pub struct Part<'a> {
    /// The form field (`chat_id`, `document`, `files[0]`).
    pub name: &'a str,
    /// Set for a file.
    pub filename: Option<&'a str>,
    /// The part's `Content-Type`, when it has one.
    pub content_type: Option<&'a str>,
    pub data: &'a [u8],
}

impl<'a> Part<'a> {
    /// A plain text field.
    pub fn text(name: &'a str, value: &'a str) -> Self {
        Part {
            name,
            filename: None,
            content_type: None,
            data: value.as_bytes(),
        }
    }

    /// A JSON field (Discord's `payload_json`).
    pub fn json(name: &'a str, json: &'a str) -> Self {
        Part {
            name,
            filename: None,
            content_type: Some("application/json"),
            data: json.as_bytes(),
        }
    }

    /// A file.
    pub fn file(name: &'a str, filename: &'a str, content_type: &'a str, data: &'a [u8]) -> Self {
        Part {
            name,
            filename: Some(filename),
            content_type: Some(content_type),
            data,
        }
    }
}

/// A finished body and the `content-type` header that goes with it.
#[derive(Debug, Clone)]
pub struct Form {
    pub content_type: String,
    pub body: Vec<u8>,
}

/// A boundary from `seed` (random in a component) that occurs in no part,
/// so that no file can end its own part early.
pub fn boundary(seed: u64, parts: &[Part]) -> String {
    let mut n = seed;
    loop {
        let candidate = format!("openpista-{n:016x}");
        let clash = parts.iter().any(|p| contains(p.data, candidate.as_bytes()));
        if !clash {
            return candidate;
        }
        n = n
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
    }
}

/// The form of `parts`, in order, separated by `boundary`.
pub fn build(boundary: &str, parts: &[Part]) -> Form {
    let size: usize = parts.iter().map(|p| p.data.len() + 160).sum();
    let mut body = Vec::with_capacity(size + boundary.len() + 8);
    for part in parts {
        let mut head = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"",
            quote(part.name)
        );
        if let Some(filename) = part.filename {
            head.push_str(&format!("; filename=\"{}\"", quote(filename)));
        }
        head.push_str("\r\n");
        if let Some(content_type) = part.content_type {
            head.push_str(&format!(
                "Content-Type: {}\r\n",
                content_type.replace(['\r', '\n'], "")
            ));
        }
        head.push_str("\r\n");
        body.extend_from_slice(head.as_bytes());
        body.extend_from_slice(part.data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    Form {
        content_type: format!("multipart/form-data; boundary={boundary}"),
        body,
    }
}

/// A value for a quoted header parameter: `"`, CR and LF percent-encoded
/// as RFC 7578 suggests; other characters (UTF-8 too) as they are.
fn quote(value: &str) -> String {
    value
        .replace('"', "%22")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_fields_then_files() {
        let parts = [
            Part::text("chat_id", "-100"),
            Part::text("message_thread_id", "7"),
            Part::file(
                "document",
                "report \"v2\".pdf",
                "application/pdf",
                b"%PDF\x00\xff",
            ),
        ];
        let form = build("BOUND", &parts);
        assert_eq!(form.content_type, "multipart/form-data; boundary=BOUND");
        let mut expected = b"--BOUND\r\n\
            Content-Disposition: form-data; name=\"chat_id\"\r\n\r\n-100\r\n\
            --BOUND\r\n\
            Content-Disposition: form-data; name=\"message_thread_id\"\r\n\r\n7\r\n\
            --BOUND\r\n\
            Content-Disposition: form-data; name=\"document\"; filename=\"report %22v2%22.pdf\"\r\n\
            Content-Type: application/pdf\r\n\r\n"
            .to_vec();
        expected.extend_from_slice(b"%PDF\x00\xff\r\n--BOUND--\r\n");
        assert_eq!(form.body, expected);
    }

    #[test]
    fn a_json_part_says_so() {
        let parts = [
            Part::json("payload_json", r#"{"content":"hi"}"#),
            Part::file("files[0]", "a.txt", "text/plain", b"hello"),
        ];
        let text = String::from_utf8(build("XYZ", &parts).body).unwrap();
        assert!(text.starts_with(
            "--XYZ\r\nContent-Disposition: form-data; name=\"payload_json\"\r\nContent-Type: application/json\r\n\r\n{\"content\":\"hi\"}\r\n"
        ));
        assert!(text.ends_with(
            "name=\"files[0]\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--XYZ--\r\n"
        ));
    }

    #[test]
    fn names_cannot_break_the_headers() {
        let parts = [Part::file(
            "photo",
            "a\r\nX-Evil: 1",
            "image/png\r\nX: y",
            b"",
        )];
        let body = String::from_utf8(build("B", &parts).body).unwrap();
        assert!(body.contains("filename=\"a%0D%0AX-Evil: 1\""), "{body}");
        assert!(body.contains("Content-Type: image/pngX: y\r\n"), "{body}");
        assert_eq!(body.matches("\r\n").count(), 6);
    }

    #[test]
    fn the_boundary_never_occurs_in_the_data() {
        let first = boundary(1, &[]);
        assert_eq!(first, "openpista-0000000000000001");
        let data = format!("xx{first}yy");
        let parts = [
            Part::text("a", ""),
            Part::file("f", "f", "x/y", data.as_bytes()),
        ];
        let other = boundary(1, &parts);
        assert_ne!(other, first);
        assert!(!data.contains(&other));
    }
}
