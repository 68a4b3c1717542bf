//! The outbox: commands written to the bridge but not yet confirmed, kept
//! in memory so that every message goes out at least once, across bridge
//! restarts and instance replacements.
//!
//! `outbox/{ref}` holds the command's JSON line before it is written.
//! `sent{ref}` deletes it; `error{ref}` counts an attempt in the record
//! (field `attempts`) and keeps it, up to [`MAX_ATTEMPTS`]; `connected`
//! writes every record again, in ref order. A record must fit in a
//! memory value (1 MiB): a larger `send_media` keeps its `data_b64` in
//! parts, `outbox-part/{ref}/{n}`, and says how many in `data_parts`.
//! Nothing here calls the host.

use serde::{Deserialize, Serialize};

use crate::outbound::{Command, ref_order};

/// Prefix of the records.
pub const PREFIX: &str = "outbox/";
/// Prefix of the parts of large files.
pub const PART_PREFIX: &str = "outbox-part/";
/// Failed attempts after which a command is dropped.
pub const MAX_ATTEMPTS: u32 = 5;
/// The largest record stored whole: under the host's 1 MiB value limit
/// with room for the `attempts` field.
pub const INLINE_MAX: usize = 1_000_000;
/// Bytes of `data_b64` per part.
pub const PART_BYTES: usize = 900_000;
/// How many records one `list_keys` call asks for.
pub const LIST_LIMIT: u32 = 10_000;

/// The memory key of a record.
pub fn key(reference: &str) -> String {
    format!("{PREFIX}{reference}")
}

/// The memory key of part `n` (from 0) of a record's file.
pub fn part_key(reference: &str, n: u32) -> String {
    format!("{PART_PREFIX}{reference}/{n}")
}

/// What `outbox/{ref}` holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    #[serde(flatten)]
    pub command: Command,
    /// Failed attempts so far.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub attempts: u32,
    /// Parts holding `data_b64`, which is then empty in the record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_parts: Option<u32>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Entry {
    /// A command not tried yet.
    pub fn new(command: Command) -> Entry {
        Entry {
            command,
            attempts: 0,
            data_parts: None,
        }
    }

    /// The record's bytes.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("entries always encode")
    }

    /// A record read back; the error says what is wrong with it.
    pub fn decode(bytes: &[u8]) -> Result<Entry, String> {
        serde_json::from_slice(bytes).map_err(|e| format!("not an outbox record: {e}"))
    }

    /// The command with its file's data put back from `parts` (in order),
    /// for records stored in parts.
    pub fn with_parts(mut self, parts: Vec<String>) -> Result<Command, String> {
        let Some(n) = self.data_parts else {
            return Ok(self.command);
        };
        if parts.len() != n as usize {
            return Err(format!("{} of its {n} data parts are there", parts.len()));
        }
        match &mut self.command {
            Command::SendMedia { data_b64, .. } => *data_b64 = parts.concat(),
            Command::Send { .. } => return Err("a text command with data parts".into()),
        }
        Ok(self.command)
    }
}

/// How to store `command`: its record and, for a large file, the parts
/// (key, base64 text) to store besides.
pub fn store(command: &Command) -> (Vec<u8>, Vec<(String, String)>) {
    let whole = Entry::new(command.clone()).encode();
    let Command::SendMedia { data_b64, .. } = command else {
        return (whole, Vec::new());
    };
    if whole.len() <= INLINE_MAX {
        return (whole, Vec::new());
    }
    // Base64 is ASCII, so any byte offset is a character boundary.
    let parts: Vec<(String, String)> = data_b64
        .as_bytes()
        .chunks(PART_BYTES)
        .enumerate()
        .map(|(n, chunk)| {
            let text = String::from_utf8(chunk.to_vec()).expect("base64 is ASCII");
            (part_key(command.reference(), n as u32), text)
        })
        .collect();
    let mut entry = Entry::new(command.clone());
    if let Command::SendMedia { data_b64, .. } = &mut entry.command {
        data_b64.clear();
    }
    entry.data_parts = Some(parts.len() as u32);
    (entry.encode(), parts)
}

/// What an `error` reply does to a record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AfterError {
    /// Keep it, with one more attempt counted: store this record.
    Keep(Entry),
    /// The last attempt failed: delete it.
    Drop(Entry),
}

/// Counts a failed attempt of `entry`.
pub fn after_error(mut entry: Entry) -> AfterError {
    entry.attempts = entry.attempts.saturating_add(1);
    if entry.attempts >= MAX_ATTEMPTS {
        AfterError::Drop(entry)
    } else {
        AfterError::Keep(entry)
    }
}

/// The refs of the records under `keys` (as `list_keys(PREFIX)` returns
/// them), in the order they were made.
pub fn resend_order(keys: &[String]) -> Vec<String> {
    let mut refs: Vec<&str> = keys
        .iter()
        .filter_map(|k| k.strip_prefix(PREFIX))
        .filter(|r| !r.is_empty())
        .collect();
    refs.sort_by_key(|r| ref_order(r));
    refs.into_iter().map(str::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send(reference: &str) -> Command {
        Command::Send {
            reference: reference.into(),
            to: "1555@s.whatsapp.net".into(),
            text: "hi".into(),
        }
    }

    fn media(reference: &str, data: String) -> Command {
        Command::SendMedia {
            reference: reference.into(),
            to: "1555@s.whatsapp.net".into(),
            mime: "image/png".into(),
            file_name: Some("a.png".into()),
            data_b64: data,
            caption: None,
        }
    }

    #[test]
    fn a_fresh_record_is_the_command_line() {
        let c = send("o-1-1");
        let (record, parts) = store(&c);
        assert_eq!(String::from_utf8(record.clone()).unwrap(), c.line());
        assert!(parts.is_empty());
        assert_eq!(Entry::decode(&record).unwrap(), Entry::new(c));
        assert_eq!(key("o-1-1"), "outbox/o-1-1");
        let m = media("o-1-2", "aGk=".into());
        assert_eq!(String::from_utf8(store(&m).0).unwrap(), m.line());
    }

    #[test]
    fn attempts_are_counted_and_the_fifth_drops() {
        let mut entry = Entry::new(send("o-1-1"));
        for n in 1..MAX_ATTEMPTS {
            match after_error(entry) {
                AfterError::Keep(e) => {
                    assert_eq!(e.attempts, n);
                    let json: serde_json::Value = serde_json::from_slice(&e.encode()).unwrap();
                    assert_eq!(json["attempts"], n);
                    assert_eq!(json["cmd"], "send");
                    // The line written again carries no bookkeeping.
                    assert!(!e.command.line().contains("attempts"));
                    entry = Entry::decode(&e.encode()).unwrap();
                }
                AfterError::Drop(_) => panic!("dropped after {n} attempts"),
            }
        }
        assert!(matches!(after_error(entry), AfterError::Drop(e) if e.attempts == 5));
    }

    #[test]
    fn large_files_are_kept_in_parts() {
        let data = "QUJD".repeat(500_000); // 2 MB of base64
        let c = media("o-1-3", data.clone());
        let (record, parts) = store(&c);
        assert!(record.len() < 1000);
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0].0, "outbox-part/o-1-3/0");
        assert!(parts.iter().all(|(_, p)| p.len() <= PART_BYTES));
        let entry = Entry::decode(&record).unwrap();
        assert_eq!(entry.data_parts, Some(3));
        let texts: Vec<String> = parts.iter().map(|(_, p)| p.clone()).collect();
        assert_eq!(entry.clone().with_parts(texts.clone()).unwrap(), c);
        assert!(entry.with_parts(texts[..2].to_vec()).is_err());
        assert_eq!(
            Entry::new(send("x")).with_parts(Vec::new()).unwrap(),
            send("x")
        );
    }

    #[test]
    fn resends_in_ref_order() {
        let keys: Vec<String> = ["outbox/o-5-10", "outbox/o-5-9", "outbox/o-40-1", "outbox/"]
            .map(String::from)
            .to_vec();
        assert_eq!(resend_order(&keys), ["o-5-9", "o-5-10", "o-40-1"]);
    }

    #[test]
    fn garbage_records_are_reported() {
        assert!(Entry::decode(b"{}").is_err());
        assert!(Entry::decode(b"nope").is_err());
    }
}
