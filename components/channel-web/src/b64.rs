//! Decoding standard base64 (RFC 4648), for attachments the browser sends.
//!
//! The SDK's [`openpista_sdk::base64`] only encodes (components mostly send
//! bytes out); this is the other direction, strict enough that a corrupted
//! upload is refused rather than silently turned into other bytes.

/// The value of one base64 character, `None` for anything else.
fn value(c: u8) -> Option<u32> {
    match c {
        b'A'..=b'Z' => Some(u32::from(c - b'A')),
        b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
        b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// The number of bytes `text` decodes to, without decoding it: lets a
/// caller refuse an oversized upload before allocating it.
pub fn decoded_len(text: &str) -> usize {
    let digits = text.trim_end_matches('=').len();
    digits / 4 * 3 + (digits % 4).saturating_sub(1)
}

/// Decodes standard base64. Padding is optional (`aGk=` and `aGk` are both
/// `hi`); whitespace, the URL-safe alphabet and a `data:` prefix are
/// errors, which say where the text went wrong.
pub fn decode(text: &str) -> Result<Vec<u8>, String> {
    let bytes = text.as_bytes();
    let digits = text.trim_end_matches('=');
    let padding = bytes.len() - digits.len();
    if padding > 2 || (padding > 0 && !bytes.len().is_multiple_of(4)) {
        return Err("misplaced `=` padding".into());
    }
    let mut out = Vec::with_capacity(decoded_len(text));
    let mut acc: u32 = 0;
    let mut bits = 0;
    for (i, &c) in digits.as_bytes().iter().enumerate() {
        let v = value(c).ok_or_else(|| {
            format!(
                "character {:?} at position {i} is not standard base64",
                c as char
            )
        })?;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    if digits.len() % 4 == 1 {
        return Err("truncated: its length is not a whole number of bytes".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use openpista_sdk::base64::encode;

    #[test]
    fn decodes_rfc4648_vectors_with_and_without_padding() {
        for (text, plain) in [
            ("", ""),
            ("Zg==", "f"),
            ("Zm8=", "fo"),
            ("Zm9v", "foo"),
            ("Zm9vYg==", "foob"),
            ("Zm9vYmE=", "fooba"),
            ("Zm9vYmFy", "foobar"),
            ("Zm9vYg", "foob"),
            ("Zm8", "fo"),
        ] {
            assert_eq!(decode(text).unwrap(), plain.as_bytes(), "{text}");
            assert_eq!(decoded_len(text), plain.len(), "{text}");
        }
    }

    #[test]
    fn round_trips_every_byte() {
        let bytes: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();
        for n in [0, 1, 2, 3, 100, bytes.len()] {
            let text = encode(&bytes[..n]);
            assert_eq!(decode(&text).unwrap(), &bytes[..n]);
            assert_eq!(decoded_len(&text), n);
        }
    }

    #[test]
    fn refuses_what_is_not_base64() {
        assert!(decode("Zm9v YmFy").unwrap_err().contains("position 4"));
        assert!(decode("Zm9-").unwrap_err().contains("'-'"));
        assert!(decode("data:image/png;base64,aGk=").is_err());
        assert!(decode("Z").unwrap_err().contains("truncated"));
        assert!(decode("Zg===").is_err());
        assert!(decode("Zg=").is_err());
        assert!(decode("Zg==Zg==").is_err());
    }
}
