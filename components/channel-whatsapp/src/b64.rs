//! Decoding standard base64 (RFC 4648, `+` and `/`), which the bridge uses
//! for media. The SDK's [`openpista_sdk::base64`] only encodes.

/// How many bytes `text` decodes to when it is well-formed base64
/// (padded or not), computed from its length alone, so that a too-large
/// file is refused without decoding it.
pub fn decoded_len_hint(text: &str) -> u64 {
    let len = text.len() as u64;
    let pad = text.bytes().rev().take_while(|b| *b == b'=').count() as u64;
    (len / 4 * 3 + (len % 4) * 3 / 4).saturating_sub(pad.min(2))
}

/// The bytes of `text`: padded (`aGk=`) or unpadded (`aGk`) standard
/// base64 without whitespace; `None` for anything else.
pub fn decode(text: &str) -> Option<Vec<u8>> {
    let body = text.strip_suffix("==").or_else(|| text.strip_suffix('='));
    let padded = body.is_some();
    let body = body.unwrap_or(text).as_bytes();
    if padded && !text.len().is_multiple_of(4) {
        return None;
    }
    if body.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(body.len() / 4 * 3 + 2);
    for group in body.chunks(4) {
        let mut n: u32 = 0;
        for (i, b) in group.iter().enumerate() {
            n |= u32::from(value(*b)?) << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..group.len()]);
    }
    Some(out)
}

fn value(b: u8) -> Option<u8> {
    match b {
        b'A'..=b'Z' => Some(b - b'A'),
        b'a'..=b'z' => Some(b - b'a' + 26),
        b'0'..=b'9' => Some(b - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openpista_sdk::base64::encode;

    #[test]
    fn rfc4648_vectors() {
        for (plain, coded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(decode(coded).unwrap(), plain.as_bytes(), "{coded}");
            assert_eq!(decoded_len_hint(coded), plain.len() as u64, "{coded}");
            let bare = coded.trim_end_matches('=');
            assert_eq!(decode(bare).unwrap(), plain.as_bytes(), "{bare}");
            assert_eq!(decoded_len_hint(bare), plain.len() as u64, "{bare}");
        }
    }

    #[test]
    fn round_trips_every_byte() {
        let all: Vec<u8> = (0..=255).cycle().take(1000).collect();
        for n in [0, 1, 2, 3, 254, 1000] {
            assert_eq!(decode(&encode(&all[..n])).unwrap(), &all[..n]);
        }
    }

    #[test]
    fn refuses_what_is_not_base64() {
        for bad in [
            "Zm9v!", "Zm9 v", "Z", "Zm9vY", "Zg=", "Z===", "=Zg=", "Zm-_", "Zg==Zg==",
        ] {
            assert_eq!(decode(bad), None, "{bad}");
        }
    }
}
