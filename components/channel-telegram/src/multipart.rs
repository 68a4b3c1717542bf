//! `multipart/form-data` bodies for `sendPhoto` and `sendDocument`,
//! built by hand (RFC 7578): text fields, then one file part.

/// A file part.
pub struct FilePart<'a> {
    /// The form field (`photo`, `document`).
    pub field: &'a str,
    pub filename: &'a str,
    pub content_type: &'a str,
    pub data: &'a [u8],
}

/// A finished body and the `content-type` header that goes with it.
pub struct Form {
    pub content_type: String,
    pub body: Vec<u8>,
}

/// A boundary from `seed` (random in the component) that occurs nowhere
/// in `data`, so that the file cannot end its own part.
pub fn boundary(seed: u64, data: &[u8]) -> String {
    let mut n = seed;
    loop {
        let candidate = format!("openpista-{n:016x}");
        if !contains(data, candidate.as_bytes()) {
            return candidate;
        }
        n = n
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
    }
}

/// The form with these text `fields` and `file`, separated by `boundary`.
pub fn build(boundary: &str, fields: &[(&str, String)], file: &FilePart) -> Form {
    let mut body = Vec::with_capacity(file.data.len() + 512);
    for (name, value) in fields {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        body.extend_from_slice(
            format!(
                "Content-Disposition: form-data; name=\"{}\"\r\n\r\n",
                quote(name)
            )
            .as_bytes(),
        );
        body.extend_from_slice(value.as_bytes());
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
    body.extend_from_slice(
        format!(
            "Content-Disposition: form-data; name=\"{}\"; filename=\"{}\"\r\n\
             Content-Type: {}\r\n\r\n",
            quote(file.field),
            quote(file.filename),
            file.content_type.replace(['\r', '\n'], "")
        )
        .as_bytes(),
    );
    body.extend_from_slice(file.data);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
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
    fn builds_fields_then_the_file() {
        let file = FilePart {
            field: "document",
            filename: "report \"v2\".pdf",
            content_type: "application/pdf",
            data: b"%PDF\x00\xff",
        };
        let fields = [
            ("chat_id", "-100".to_string()),
            ("message_thread_id", "7".to_string()),
        ];
        let form = build("BOUND", &fields, &file);
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
    fn names_cannot_break_the_headers() {
        let file = FilePart {
            field: "photo",
            filename: "a\r\nX-Evil: 1",
            content_type: "image/png\r\nX: y",
            data: b"",
        };
        let body = String::from_utf8(build("B", &[], &file).body).unwrap();
        assert!(body.contains("filename=\"a%0D%0AX-Evil: 1\""), "{body}");
        assert!(body.contains("Content-Type: image/pngX: y\r\n"), "{body}");
        assert_eq!(body.matches("\r\n").count(), 6);
    }

    #[test]
    fn the_boundary_never_occurs_in_the_data() {
        let first = boundary(1, b"");
        assert_eq!(first, "openpista-0000000000000001");
        let data = format!("xx{first}yy");
        let other = boundary(1, data.as_bytes());
        assert_ne!(other, first);
        assert!(!data.contains(&other));
    }
}
