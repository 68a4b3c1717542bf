//! Standard base64 (RFC 4648, `+` and `/`), both ways: encoding for data
//! URLs and JSON fields that carry bytes (an image attachment sent to a
//! model, a file handed to a bridge), decoding for bytes that arrive that
//! way (a browser's upload, a bridge's media).
//!
//! There is one decoding policy, the one every caller needs, and it is
//! strict about the characters so that corrupted or foreign text is
//! refused rather than silently turned into other bytes:
//!
//! - only the standard alphabet: whitespace, line breaks, the URL-safe
//!   alphabet (`-`, `_`) and a `data:` prefix are errors;
//! - padding is optional (`aGk=` and `aGk` both decode to `hi`), but when
//!   present it must be one or two `=` that end a text whose length is a
//!   multiple of four;
//! - unused low bits of the last character are ignored (`Zh==` decodes to
//!   `f` like `Zg==`), as RFC 4648 permits: they carry no byte.
//!
//! [`decoded_len`] tells the size before decoding, so that a caller can
//! refuse an oversized upload without allocating it.

use std::fmt;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// `bytes` in standard base64 with `=` padding.
pub fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for group in bytes.chunks(3) {
        let b = [
            group[0],
            group.get(1).copied().unwrap_or(0),
            group.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= group.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A `data:` URL of these bytes: `data:MIME;base64,...`.
pub fn data_url(mime: &str, bytes: &[u8]) -> String {
    format!("data:{mime};base64,{}", encode(bytes))
}

/// Why a text is not base64; its `Display` says where it went wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// A byte outside the standard alphabet, at this byte position.
    Character { byte: u8, position: usize },
    /// `=` that is not one or two characters ending a text whose length is
    /// a multiple of four.
    Padding,
    /// One character left over: a whole byte needs at least two.
    Truncated,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Character { byte, position } => write!(
                f,
                "character {:?} at position {position} is not standard base64",
                char::from(*byte)
            ),
            DecodeError::Padding => f.write_str("misplaced `=` padding"),
            DecodeError::Truncated => {
                f.write_str("truncated: its length is not a whole number of bytes")
            }
        }
    }
}

impl std::error::Error for DecodeError {}

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

/// The number of bytes `text` decodes to, from its length alone: exact for
/// any text [`decode`] accepts (padded or not), so that a caller can refuse
/// an oversized one before decoding it.
pub fn decoded_len(text: &str) -> usize {
    let digits = text.trim_end_matches('=').len();
    digits / 4 * 3 + (digits % 4).saturating_sub(1)
}

/// Decodes standard base64 by the rules in the [module docs](self).
pub fn decode(text: &str) -> Result<Vec<u8>, DecodeError> {
    let digits = text.trim_end_matches('=');
    let padding = text.len() - digits.len();
    if padding > 2 || (padding > 0 && !text.len().is_multiple_of(4)) {
        return Err(DecodeError::Padding);
    }
    let mut out = Vec::with_capacity(decoded_len(text));
    let mut acc: u32 = 0;
    let mut bits = 0;
    for (position, &byte) in digits.as_bytes().iter().enumerate() {
        let v = value(byte).ok_or(DecodeError::Character { byte, position })?;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    if digits.len() % 4 == 1 {
        return Err(DecodeError::Truncated);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const VECTORS: [(&str, &str); 7] = [
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ];

    #[test]
    fn rfc4648_vectors() {
        for (input, expected) in VECTORS {
            assert_eq!(encode(input.as_bytes()), expected);
        }
        assert_eq!(encode(&[0xff, 0xfe, 0xfd]), "//79");
        assert_eq!(data_url("image/png", b"hi"), "data:image/png;base64,aGk=");
    }

    #[test]
    fn decodes_rfc4648_vectors_with_and_without_padding() {
        for (plain, coded) in VECTORS {
            let bare = coded.trim_end_matches('=');
            for text in [coded, bare] {
                assert_eq!(decode(text).unwrap(), plain.as_bytes(), "{text}");
                assert_eq!(decoded_len(text), plain.len(), "{text}");
            }
        }
        assert_eq!(decode("//79").unwrap(), [0xff, 0xfe, 0xfd]);
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
    fn refuses_what_is_not_standard_base64_and_says_where() {
        let at = |byte: u8, position| Err(DecodeError::Character { byte, position });
        assert_eq!(decode("Zm9v YmFy"), at(b' ', 4));
        assert_eq!(decode("Zm9v\nYmFy"), at(b'\n', 4));
        assert_eq!(decode("Zm9-"), at(b'-', 3));
        assert_eq!(decode("Zm-_"), at(b'-', 2));
        assert_eq!(decode("Zm9v!"), at(b'!', 4));
        assert_eq!(decode("=Zg="), at(b'=', 0));
        assert!(decode("data:image/png;base64,aGk=").is_err());
        assert!(
            decode("Zm9 v")
                .unwrap_err()
                .to_string()
                .contains("' ' at position 3")
        );
    }

    #[test]
    fn refuses_bad_padding_and_lengths() {
        for bad in ["Zg===", "Z===", "Zg=", "Zm9vYg="] {
            assert_eq!(decode(bad), Err(DecodeError::Padding), "{bad}");
        }
        // Padding in the middle leaves a `=` among the digits.
        assert!(matches!(
            decode("Zg==Zg=="),
            Err(DecodeError::Character { byte: b'=', .. })
        ));
        for bad in ["Z", "Zm9vY"] {
            assert_eq!(decode(bad), Err(DecodeError::Truncated), "{bad}");
        }
        assert!(DecodeError::Truncated.to_string().contains("truncated"));
    }

    #[test]
    fn unused_trailing_bits_are_ignored() {
        assert_eq!(decode("Zh==").unwrap(), b"f");
        assert_eq!(decode("Zm9=").unwrap(), b"fo");
    }
}
