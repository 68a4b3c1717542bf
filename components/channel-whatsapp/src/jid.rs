//! WhatsApp addresses (JIDs) and the channel's conversations.
//!
//! A JID is `user[:device]@server`: `15551234567@s.whatsapp.net` for a
//! phone number, `12345@lid` for a LID (WhatsApp's privacy alias),
//! `1203…@g.us` for a group. One conversation per sender, named by the
//! sender's JID (the host makes it the session `whatsapp:{JID}`), and an
//! answer goes back to that JID. Phone
//! numbers are compared as digits only, so `+1 555-123 4567`,
//! `15551234567` and `15551234567:12@s.whatsapp.net` are the same person.

use openpista_sdk::Error;

/// The channel's id as the host gives it (the manifest name without
/// `channel-`), for the texts that name it (`openpista pairing approve
/// whatsapp CODE`). The channel never prefixes anything with it.
pub const CHANNEL: &str = "whatsapp";

/// Servers whose JIDs are phone numbers (`c.us` is the older spelling).
pub const PHONE_SERVERS: [&str; 2] = ["s.whatsapp.net", "c.us"];

/// A JID split into its parts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Jid<'a> {
    /// The part before `:` and `@`: a phone number's digits, a LID...
    pub user: &'a str,
    /// The device number after `:`, when the JID names one device.
    pub device: Option<&'a str>,
    /// The part after `@`.
    pub server: &'a str,
}

impl<'a> Jid<'a> {
    /// `text` as a JID, as the bridge accepts them (`user@server`, no
    /// whitespace, the server in lower-case letters, digits and dots), or
    /// `None`.
    pub fn parse(text: &'a str) -> Option<Jid<'a>> {
        let (left, server) = text.split_once('@')?;
        let server_ok = !server.is_empty()
            && server
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.');
        if left.is_empty() || left.contains(char::is_whitespace) || !server_ok {
            return None;
        }
        let (user, device) = match left.split_once(':') {
            Some((user, device)) => (user, Some(device)),
            None => (left, None),
        };
        if user.is_empty() || device.is_some_and(str::is_empty) {
            return None;
        }
        Some(Jid {
            user,
            device,
            server,
        })
    }

    /// Whether this is a phone-number JID.
    pub fn is_phone(&self) -> bool {
        PHONE_SERVERS.contains(&self.server) && is_phone_digits(self.user)
    }

    /// The phone number's digits, for phone-number JIDs.
    pub fn phone(&self) -> Option<&'a str> {
        self.is_phone().then_some(self.user)
    }

    /// `user@server`, without the device part.
    pub fn bare(&self) -> String {
        format!("{}@{}", self.user, self.server)
    }
}

/// Whether `digits` can be a phone number in international form: 6 to 15
/// ASCII digits (E.164 allows at most 15).
pub fn is_phone_digits(digits: &str) -> bool {
    (6..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
}

/// A phone number as written by a person (`+1 (555) 123-4567`) as its
/// digits, or `None` when it holds anything but digits and the usual
/// separators (`+`, spaces, `-`, `.`, parentheses) or is not 6 to 15
/// digits long.
pub fn phone_digits(written: &str) -> Option<String> {
    let mut digits = String::new();
    for c in written.chars() {
        match c {
            '0'..='9' => digits.push(c),
            '+' | ' ' | '-' | '.' | '(' | ')' => {}
            _ => return None,
        }
    }
    is_phone_digits(&digits).then_some(digits)
}

/// The JID a conversation's answers go to: the conversation itself, when
/// it is a JID; an [`Error::InvalidInput`] naming it otherwise.
pub fn recipient(conversation: &str) -> Result<&str, Error> {
    match Jid::parse(conversation) {
        Some(_) => Ok(conversation),
        None => Err(Error::invalid_input(format!(
            "`{conversation}` is not a WhatsApp conversation (a JID, such as \
             15551234567@s.whatsapp.net)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_phone_lid_and_device_jids() {
        let j = Jid::parse("15551234567@s.whatsapp.net").unwrap();
        assert_eq!(
            (j.user, j.device, j.server),
            ("15551234567", None, "s.whatsapp.net")
        );
        assert_eq!(j.phone(), Some("15551234567"));
        let d = Jid::parse("15551234567:12@s.whatsapp.net").unwrap();
        assert_eq!((d.user, d.device), ("15551234567", Some("12")));
        assert_eq!(d.bare(), "15551234567@s.whatsapp.net");
        assert_eq!(d.phone(), Some("15551234567"));
        assert_eq!(
            Jid::parse("15551234567@c.us").unwrap().phone(),
            Some("15551234567")
        );
        let lid = Jid::parse("12345@lid").unwrap();
        assert!(!lid.is_phone());
        assert_eq!(lid.phone(), None);
        assert_eq!(lid.bare(), "12345@lid");
        assert_eq!(Jid::parse("120363@g.us").unwrap().phone(), None);
    }

    #[test]
    fn refuses_what_is_no_jid() {
        for bad in [
            "",
            "15551234567",
            "@s.whatsapp.net",
            "1555@",
            "a b@s.whatsapp.net",
            "1555@S.WhatsApp.net",
            "1555@s.whatsapp.net@x",
            ":12@s.whatsapp.net",
            "1555:@s.whatsapp.net",
        ] {
            assert_eq!(Jid::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn written_phone_numbers_become_digits() {
        assert_eq!(
            phone_digits("+1 555 123 4567").as_deref(),
            Some("15551234567")
        );
        assert_eq!(phone_digits("15551234567").as_deref(), Some("15551234567"));
        assert_eq!(
            phone_digits("+44 (20) 7946-0958").as_deref(),
            Some("442079460958")
        );
        assert_eq!(
            phone_digits("+49.30.1234567").as_deref(),
            Some("49301234567")
        );
        assert_eq!(phone_digits("bob"), None);
        assert_eq!(phone_digits("+1 555 x"), None);
        assert_eq!(phone_digits("12345"), None, "too short");
        assert_eq!(phone_digits("1234567890123456"), None, "too long");
    }

    #[test]
    fn conversations_are_the_senders_jids() {
        for jid in [
            "15551234567@s.whatsapp.net",
            "12345@lid",
            "1555:3@s.whatsapp.net",
        ] {
            assert_eq!(recipient(jid).unwrap(), jid);
        }
    }

    #[test]
    fn other_conversations_are_refused_by_name() {
        for bad in ["42", "", "15551234567", "a b@lid"] {
            let e = recipient(bad).unwrap_err();
            assert_eq!(e.kind(), "invalid-input");
            assert!(e.message().contains(&format!("`{bad}`")), "{e}");
        }
    }
}
