//! `notes.*`: short named notes kept in the component's durable memory.
//!
//! A note is stored under the memory key `notes/NAME` as JSON
//! `{"text": ..., "updated_ms": ...}`. The logic is written against
//! [`Store`] so it can be tested without a host.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use openpista_sdk::Error;

/// Prefix of every note's memory key.
pub const KEY_PREFIX: &str = "notes/";
/// Longest note name, in characters.
pub const MAX_NAME: usize = 200;
/// Largest note, in bytes.
pub const MAX_TEXT: usize = 64 * 1024;
/// Default and largest `limit` of `notes.list`.
pub const DEFAULT_LIST: u32 = 100;
pub const MAX_LIST: u32 = 1000;

/// Where notes live: the host's memory in the component, a map in tests.
pub trait Store {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, Error>;
    fn set(&mut self, key: &str, value: &[u8]) -> Result<(), Error>;
    fn delete(&mut self, key: &str) -> Result<bool, Error>;
    fn list_keys(&self, prefix: &str, limit: u32) -> Result<Vec<String>, Error>;
}

/// The host's `memory` interface.
pub struct HostMemory;

impl Store for HostMemory {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, Error> {
        openpista_sdk::memory::get(key)
    }
    fn set(&mut self, key: &str, value: &[u8]) -> Result<(), Error> {
        openpista_sdk::memory::set(key, value)
    }
    fn delete(&mut self, key: &str) -> Result<bool, Error> {
        openpista_sdk::memory::delete(key)
    }
    fn list_keys(&self, prefix: &str, limit: u32) -> Result<Vec<String>, Error> {
        openpista_sdk::memory::list_keys(prefix, limit)
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Stored {
    text: String,
    updated_ms: u64,
}

/// Arguments of `notes.save`.
#[derive(Debug, Deserialize)]
pub struct SaveArgs {
    pub name: String,
    pub text: String,
}

/// Arguments of `notes.get` and `notes.delete`.
#[derive(Debug, Deserialize)]
pub struct NameArgs {
    pub name: String,
}

/// Arguments of `notes.list`.
#[derive(Debug, Default, Deserialize)]
pub struct ListArgs {
    #[serde(default)]
    pub prefix: String,
    #[serde(default)]
    pub limit: Option<u32>,
}

/// What a note tool answers: content for the model, and whether it is a
/// failure the model should see (a note that does not exist).
#[derive(Debug, PartialEq)]
pub enum Outcome {
    Ok(String),
    Failed(String),
}

fn check_name(name: &str) -> Result<(), Error> {
    if name.trim().is_empty() {
        return Err(Error::invalid_input("argument `name`: a note needs a name"));
    }
    if name.chars().count() > MAX_NAME {
        return Err(Error::invalid_input(format!(
            "argument `name`: at most {MAX_NAME} characters"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::invalid_input(
            "argument `name`: control characters are not allowed",
        ));
    }
    Ok(())
}

fn key(name: &str) -> String {
    format!("{KEY_PREFIX}{name}")
}

pub fn save(store: &mut dyn Store, args: SaveArgs, now_ms: u64) -> Result<Outcome, Error> {
    check_name(&args.name)?;
    if args.text.len() > MAX_TEXT {
        return Err(Error::invalid_input(format!(
            "argument `text`: a note holds at most {MAX_TEXT} bytes, this one has {}",
            args.text.len()
        )));
    }
    let existed = store.get(&key(&args.name))?.is_some();
    let stored = Stored {
        text: args.text,
        updated_ms: now_ms,
    };
    let bytes = serde_json::to_vec(&stored).map_err(|e| Error::internal(e.to_string()))?;
    store.set(&key(&args.name), &bytes)?;
    Ok(Outcome::Ok(format!(
        "{} note `{}` ({} characters)",
        if existed { "replaced" } else { "saved" },
        args.name,
        stored.text.chars().count()
    )))
}

pub fn get(store: &dyn Store, args: NameArgs) -> Result<Outcome, Error> {
    check_name(&args.name)?;
    match store.get(&key(&args.name))? {
        Some(bytes) => {
            let stored: Stored = serde_json::from_slice(&bytes).map_err(|e| {
                Error::internal(format!("note `{}` is stored damaged: {e}", args.name))
            })?;
            Ok(Outcome::Ok(stored.text))
        }
        None => Ok(Outcome::Failed(format!(
            "there is no note named `{}`; notes.list shows the saved ones",
            args.name
        ))),
    }
}

pub fn delete(store: &mut dyn Store, args: NameArgs) -> Result<Outcome, Error> {
    check_name(&args.name)?;
    if store.delete(&key(&args.name))? {
        Ok(Outcome::Ok(format!("deleted note `{}`", args.name)))
    } else {
        Ok(Outcome::Failed(format!(
            "there is no note named `{}`",
            args.name
        )))
    }
}

/// Names of the saved notes that start with `prefix`, in byte order, as a
/// JSON array (plus whether the list was cut at `limit`).
pub fn list(store: &dyn Store, args: ListArgs) -> Result<Outcome, Error> {
    let limit = args.limit.unwrap_or(DEFAULT_LIST);
    if limit == 0 || limit > MAX_LIST {
        return Err(Error::invalid_input(format!(
            "argument `limit`: between 1 and {MAX_LIST}"
        )));
    }
    // Ask for one more than the limit to know whether there are more.
    let keys = store.list_keys(&key(&args.prefix), limit + 1)?;
    let truncated = keys.len() > limit as usize;
    let names: Vec<&str> = keys
        .iter()
        .take(limit as usize)
        .filter_map(|k| k.strip_prefix(KEY_PREFIX))
        .collect();
    let value: Value = json!({ "names": names, "truncated": truncated });
    Ok(Outcome::Ok(value.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// An in-memory [`Store`] with the host's semantics.
    #[derive(Default)]
    pub struct MapStore(pub BTreeMap<String, Vec<u8>>);

    impl Store for MapStore {
        fn get(&self, key: &str) -> Result<Option<Vec<u8>>, Error> {
            Ok(self.0.get(key).cloned())
        }
        fn set(&mut self, key: &str, value: &[u8]) -> Result<(), Error> {
            self.0.insert(key.to_string(), value.to_vec());
            Ok(())
        }
        fn delete(&mut self, key: &str) -> Result<bool, Error> {
            Ok(self.0.remove(key).is_some())
        }
        fn list_keys(&self, prefix: &str, limit: u32) -> Result<Vec<String>, Error> {
            Ok(self
                .0
                .keys()
                .filter(|k| k.starts_with(prefix))
                .take(limit as usize)
                .cloned()
                .collect())
        }
    }

    fn save_note(store: &mut MapStore, name: &str, text: &str) -> Outcome {
        save(
            store,
            SaveArgs {
                name: name.into(),
                text: text.into(),
            },
            7,
        )
        .unwrap()
    }

    #[test]
    fn save_get_replace_delete() {
        let mut store = MapStore::default();
        assert_eq!(
            save_note(&mut store, "shopping", "milk"),
            Outcome::Ok("saved note `shopping` (4 characters)".into())
        );
        assert_eq!(
            get(
                &store,
                NameArgs {
                    name: "shopping".into()
                }
            )
            .unwrap(),
            Outcome::Ok("milk".into())
        );
        assert_eq!(
            save_note(&mut store, "shopping", "milk, eggs"),
            Outcome::Ok("replaced note `shopping` (10 characters)".into())
        );
        assert!(store.0.contains_key("notes/shopping"));
        assert_eq!(
            delete(
                &mut store,
                NameArgs {
                    name: "shopping".into()
                }
            )
            .unwrap(),
            Outcome::Ok("deleted note `shopping`".into())
        );
        assert!(matches!(
            get(&store, NameArgs { name: "shopping".into() }).unwrap(),
            Outcome::Failed(m) if m.contains("no note named `shopping`")
        ));
    }

    #[test]
    fn list_filters_and_truncates() {
        let mut store = MapStore::default();
        for name in ["b", "a", "ab", "c"] {
            save_note(&mut store, name, "x");
        }
        store.0.insert("other/key".into(), b"1".to_vec());
        let all = list(&store, ListArgs::default()).unwrap();
        assert_eq!(
            all,
            Outcome::Ok(r#"{"names":["a","ab","b","c"],"truncated":false}"#.into())
        );
        let some = list(
            &store,
            ListArgs {
                prefix: "a".into(),
                limit: Some(1),
            },
        )
        .unwrap();
        assert_eq!(
            some,
            Outcome::Ok(r#"{"names":["a"],"truncated":true}"#.into())
        );
        assert!(
            list(
                &store,
                ListArgs {
                    prefix: String::new(),
                    limit: Some(0)
                }
            )
            .is_err()
        );
    }

    #[test]
    fn names_are_checked() {
        let mut store = MapStore::default();
        let bad = |name: &str| {
            let mut store = MapStore::default();
            save(
                &mut store,
                SaveArgs {
                    name: name.into(),
                    text: "x".into(),
                },
                0,
            )
            .unwrap_err()
        };
        assert!(matches!(bad(" "), Error::InvalidInput(m) if m.contains("`name`")));
        assert!(matches!(bad("a\nb"), Error::InvalidInput(m) if m.contains("control")));
        assert!(matches!(bad(&"x".repeat(201)), Error::InvalidInput(_)));
        let huge = save(
            &mut store,
            SaveArgs {
                name: "big".into(),
                text: "x".repeat(MAX_TEXT + 1),
            },
            0,
        );
        assert!(matches!(huge, Err(Error::InvalidInput(m)) if m.contains("`text`")));
    }
}
