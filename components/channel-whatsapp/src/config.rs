//! The channel's configuration, read from `host::config` strings.
//!
//! Every value is a string (the host stringifies the operator's
//! `[channels.whatsapp]` table); this module turns them into typed
//! [`Settings`] and says which key is wrong when one cannot be read. It
//! takes the lookup as a function so that it is tested natively.

use openpista_sdk::Error;
use openpista_sdk::settings::ConfigValues;

use crate::jid::{self, Jid};

/// Largest incoming file attached to an event by default (5 MiB).
pub const DEFAULT_MAX_MEDIA_BYTES: u64 = 5 * 1024 * 1024;

/// Who may always talk to the agent (`allowed_users`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Allowlist {
    /// Phone numbers, as digits (`15551234567`).
    pub phones: Vec<String>,
    /// Other JIDs (LIDs such as `12345@lid`), without a device part.
    pub jids: Vec<String>,
}

impl Allowlist {
    /// Whether the sender of a message is listed: its phone number, or
    /// its JID or LID.
    pub fn allows(&self, sender: &str, sender_lid: Option<&str>) -> bool {
        std::iter::once(sender)
            .chain(sender_lid)
            .filter_map(Jid::parse)
            .any(|j| match j.phone() {
                Some(digits) => self.phones.iter().any(|p| p == digits),
                None => self.jids.contains(&j.bare()),
            })
    }

    /// Adds `item`; `Err` says what it should have been.
    fn push(&mut self, item: &str) -> Result<(), &'static str> {
        if item.contains('@') {
            let j = Jid::parse(item).ok_or("a JID (such as 12345@lid)")?;
            match j.phone() {
                Some(digits) => self.phones.push(digits.to_string()),
                None => self.jids.push(j.bare()),
            }
        } else {
            let digits = jid::phone_digits(item).ok_or(
                "a phone number with its country code (such as +1 555 123 4567) \
                 or a JID; separate them with commas",
            )?;
            self.phones.push(digits);
        }
        Ok(())
    }
}

/// The typed configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// Senders always let through.
    pub allowed_users: Allowlist,
    /// Whether unknown senders get a pairing code (otherwise they are
    /// ignored).
    pub pairing: bool,
    /// Files larger than this (bytes) are described, not attached.
    pub max_media_bytes: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            allowed_users: Allowlist::default(),
            pairing: true,
            max_media_bytes: DEFAULT_MAX_MEDIA_BYTES,
        }
    }
}

impl Settings {
    /// Reads every key through `get` (`host::config` in the component); a
    /// missing or blank key keeps its default. A value that cannot be read
    /// is an [`Error::Unavailable`] naming the key and what it takes.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Settings, Error> {
        let values = ConfigValues::new("whatsapp", get);
        let mut s = Settings::default();
        for item in values.items("allowed_users") {
            s.allowed_users
                .push(&item)
                .map_err(|wanted| values.bad("allowed_users", &item, wanted))?;
        }
        if let Some(v) = values.flag("pairing")? {
            s.pairing = v;
        }
        if let Some(v) = values.number("max_media_bytes", "a whole number of bytes")? {
            s.max_media_bytes = v;
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(pairs: &[(&str, &str)]) -> Result<Settings, Error> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|key| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()))
    }

    #[test]
    fn defaults_when_nothing_is_set() {
        let s = lookup(&[]).unwrap();
        assert_eq!(s, Settings::default());
        assert!(s.pairing);
        assert_eq!(s.max_media_bytes, 5_242_880);
        assert!(!s.allowed_users.allows("15551234567@s.whatsapp.net", None));
    }

    #[test]
    fn reads_every_key() {
        let s = lookup(&[
            (
                "allowed_users",
                " +1 555 123 4567, 44-20-7946-0958,,49301234567@s.whatsapp.net:, 12345@lid ",
            ),
            ("pairing", "FALSE"),
            ("max_media_bytes", "100"),
        ]);
        // `…@s.whatsapp.net:` is no JID: the whole value is refused.
        assert!(s.is_err());
        let s = lookup(&[
            (
                "allowed_users",
                " +1 555 123 4567, 44-20-7946-0958,,49301234567:3@s.whatsapp.net, 12345@lid ",
            ),
            ("pairing", "FALSE"),
            ("max_media_bytes", "100"),
        ])
        .unwrap();
        assert_eq!(
            s.allowed_users.phones,
            vec!["15551234567", "442079460958", "49301234567"]
        );
        assert_eq!(s.allowed_users.jids, vec!["12345@lid"]);
        assert!(!s.pairing);
        assert_eq!(s.max_media_bytes, 100);
    }

    #[test]
    fn matching_uses_digits_jids_and_lids() {
        let s = lookup(&[("allowed_users", "+1 555-123-4567, 999@lid")]).unwrap();
        let a = &s.allowed_users;
        assert!(a.allows("15551234567@s.whatsapp.net", None));
        assert!(a.allows("15551234567:12@s.whatsapp.net", None));
        assert!(a.allows("15551234567@c.us", None));
        assert!(a.allows("999@lid", None));
        assert!(a.allows("999:4@lid", None));
        assert!(a.allows("44123456789@s.whatsapp.net", Some("999@lid")));
        assert!(!a.allows("44123456789@s.whatsapp.net", Some("998@lid")));
        assert!(!a.allows("15551234568@s.whatsapp.net", None));
        // A LID whose digits happen to be a listed phone number is not it.
        assert!(!a.allows("15551234567@lid", None));
        assert!(!a.allows("not a jid", None));
    }

    #[test]
    fn blank_values_keep_defaults() {
        let s = lookup(&[
            ("allowed_users", " "),
            ("pairing", ""),
            ("max_media_bytes", ""),
        ]);
        assert_eq!(s.unwrap(), Settings::default());
    }

    #[test]
    fn bad_values_name_the_key() {
        for (key, value) in [
            ("allowed_users", "+1 555 123 4567, bob"),
            ("allowed_users", "12 34"),
            ("allowed_users", "a b@lid"),
            ("pairing", "yes"),
            ("max_media_bytes", "5MB"),
            ("max_media_bytes", "-1"),
        ] {
            let e = lookup(&[(key, value)]).unwrap_err();
            assert_eq!(e.kind(), "unavailable", "{key}");
            assert!(e.message().contains(&format!("`{key}`")), "{e}");
        }
    }
}
