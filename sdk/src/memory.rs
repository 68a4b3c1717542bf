//! Durable key-value storage, scoped to this component.
//!
//! An instance keeps nothing between calls, so anything that must last goes
//! here. Two components never see each other's keys; values survive
//! restarts and upgrades of the component.
//!
//! The functions here call the host. Logic that only reads and writes keys
//! can be written against the [`Store`] trait instead, so that it runs on
//! the component's memory ([`Component`]) in the component and on a
//! [`MapStore`] in native unit tests, where the host is not there.

use std::cell::RefCell;
use std::collections::BTreeMap;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Error;
use crate::bindings::channel::openpista::plugin::memory as wit;

/// The value stored under `key`, if any.
pub fn get(key: &str) -> Result<Option<Vec<u8>>, Error> {
    wit::get(key)
}

/// Stores `value` under `key`, replacing what was there; durable when this
/// returns.
pub fn set(key: &str, value: &[u8]) -> Result<(), Error> {
    wit::set(key, value)
}

/// Removes `key`; `true` when something was removed.
pub fn delete(key: &str) -> Result<bool, Error> {
    wit::delete(key)
}

/// Keys that start with `prefix`, in byte order, at most `limit` of them.
pub fn list_keys(prefix: &str, limit: u32) -> Result<Vec<String>, Error> {
    wit::list_keys(prefix, limit)
}

/// The value under `key` decoded from JSON; an [`Error::Internal`] when
/// what is stored is not JSON of type `T`.
pub fn get_json<T: DeserializeOwned>(key: &str) -> Result<Option<T>, Error> {
    match get(key)? {
        None => Ok(None),
        Some(bytes) => decode(key, &bytes).map(Some),
    }
}

/// Stores `value` as JSON under `key`.
pub fn set_json<T: Serialize + ?Sized>(key: &str, value: &T) -> Result<(), Error> {
    let bytes = serde_json::to_vec(value).map_err(|e| {
        Error::internal(format!(
            "cannot encode the value for memory key `{key}` as JSON: {e}"
        ))
    })?;
    set(key, &bytes)
}

fn decode<T: DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(bytes).map_err(|e| {
        Error::internal(format!(
            "memory key `{key}` does not hold the expected JSON: {e}"
        ))
    })
}

/// Key-value storage as logic that must be testable natively sees it: the
/// component's memory in the component ([`Component`]), a map in tests
/// ([`MapStore`]). The methods mean what the functions of this module of
/// the same names mean.
pub trait Store {
    /// The value stored under `key`, if any.
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, Error>;
    /// Stores `value` under `key`, replacing what was there.
    fn set(&self, key: &str, value: &[u8]) -> Result<(), Error>;
    /// Removes `key`; `true` when something was removed.
    fn delete(&self, key: &str) -> Result<bool, Error>;
    /// Keys that start with `prefix`, in byte order, at most `limit`.
    fn list_keys(&self, prefix: &str, limit: u32) -> Result<Vec<String>, Error>;
}

/// The component's own memory, through the host.
#[derive(Clone, Copy, Debug, Default)]
pub struct Component;

impl Store for Component {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, Error> {
        get(key)
    }

    fn set(&self, key: &str, value: &[u8]) -> Result<(), Error> {
        set(key, value)
    }

    fn delete(&self, key: &str) -> Result<bool, Error> {
        delete(key)
    }

    fn list_keys(&self, prefix: &str, limit: u32) -> Result<Vec<String>, Error> {
        list_keys(prefix, limit)
    }
}

/// A [`Store`] in a map, for native unit tests of logic written against
/// [`Store`]. It never fails.
#[derive(Debug, Default)]
pub struct MapStore {
    entries: RefCell<BTreeMap<String, Vec<u8>>>,
}

impl MapStore {
    /// An empty store.
    pub fn new() -> Self {
        MapStore::default()
    }

    /// Every key, in byte order, to check what a test left behind.
    pub fn keys(&self) -> Vec<String> {
        self.entries.borrow().keys().cloned().collect()
    }
}

impl Store for MapStore {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, Error> {
        Ok(self.entries.borrow().get(key).cloned())
    }

    fn set(&self, key: &str, value: &[u8]) -> Result<(), Error> {
        self.entries
            .borrow_mut()
            .insert(key.to_string(), value.to_vec());
        Ok(())
    }

    fn delete(&self, key: &str) -> Result<bool, Error> {
        Ok(self.entries.borrow_mut().remove(key).is_some())
    }

    fn list_keys(&self, prefix: &str, limit: u32) -> Result<Vec<String>, Error> {
        let entries = self.entries.borrow();
        let keys = entries.keys().filter(|k| k.starts_with(prefix)).cloned();
        Ok(keys.take(limit as usize).collect())
    }
}

/// A value an instance keeps at hand and in memory, so that a fresh
/// instance (after an upgrade, or the one the host makes to ask for a
/// report) finds it too: the bot identity a channel read at `start`, say.
/// Declare it as a `static`:
///
/// ```
/// use openpista_sdk::memory::Kept;
///
/// static BOT_NAME: Kept<String> = Kept::new("bot-name");
/// ```
pub struct Kept<T> {
    key: &'static str,
    cache: std::sync::Mutex<Option<T>>,
}

impl<T: Clone + Serialize + DeserializeOwned> Kept<T> {
    /// A value kept under memory key `key`.
    pub const fn new(key: &'static str) -> Self {
        Kept {
            key,
            cache: std::sync::Mutex::new(None),
        }
    }

    /// Keeps `value`, in the component's memory and at hand.
    pub fn set(&self, value: &T) -> Result<(), Error> {
        self.set_in(&Component, value)
    }

    /// The value: at hand, else from the component's memory (then kept at
    /// hand); `None` when it was never set or memory cannot be read.
    pub fn get(&self) -> Option<T> {
        self.get_in(&Component)
    }

    /// [`Kept::set`] on `store`. The value is kept at hand even when the
    /// store fails, and the failure is returned.
    pub fn set_in(&self, store: &impl Store, value: &T) -> Result<(), Error> {
        *self.lock() = Some(value.clone());
        let bytes = serde_json::to_vec(value).map_err(|e| {
            Error::internal(format!(
                "cannot encode the value for memory key `{}` as JSON: {e}",
                self.key
            ))
        })?;
        store.set(self.key, &bytes)
    }

    /// [`Kept::get`] on `store`.
    pub fn get_in(&self, store: &impl Store) -> Option<T> {
        if let Some(value) = self.lock().clone() {
            return Some(value);
        }
        let stored: T = decode(self.key, &store.get(self.key).ok()??).ok()?;
        *self.lock() = Some(stored.clone());
        Some(stored)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<T>> {
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_value_is_found_by_a_fresh_instance() {
        let store = MapStore::new();
        let first: Kept<Vec<String>> = Kept::new("bot");
        assert_eq!(first.get_in(&store), None);
        first.set_in(&store, &vec!["@pista".to_string()]).unwrap();
        assert_eq!(first.get_in(&store).unwrap(), ["@pista"]);
        // Another instance's static starts empty and reads memory.
        let fresh: Kept<Vec<String>> = Kept::new("bot");
        assert_eq!(fresh.get_in(&store).unwrap(), ["@pista"]);
        // What memory holds that is not the type reads as nothing.
        store.set("bot", b"42").unwrap();
        let other: Kept<Vec<String>> = Kept::new("bot");
        assert_eq!(other.get_in(&store), None);
    }

    #[test]
    fn the_map_store_lists_by_prefix_in_order_and_up_to_the_limit() {
        let store = MapStore::new();
        for key in ["b/2", "a/1", "b/1", "b/3", "c"] {
            store.set(key, key.as_bytes()).unwrap();
        }
        assert_eq!(store.list_keys("b/", 10).unwrap(), ["b/1", "b/2", "b/3"]);
        assert_eq!(store.list_keys("b/", 2).unwrap(), ["b/1", "b/2"]);
        assert_eq!(
            store.get("a/1").unwrap().as_deref(),
            Some(b"a/1".as_slice())
        );
        assert!(store.delete("a/1").unwrap());
        assert!(!store.delete("a/1").unwrap());
        assert_eq!(store.keys(), ["b/1", "b/2", "b/3", "c"]);
    }

    #[test]
    fn decode_names_the_key() {
        let e = decode::<u32>("notes/a", b"\"x\"").unwrap_err();
        assert!(e.message().contains("`notes/a`"), "{e}");
        assert_eq!(decode::<Vec<u8>>("k", b"[1,2]").unwrap(), vec![1, 2]);
    }
}
