//! Durable key-value storage, scoped to this component.
//!
//! An instance keeps nothing between calls, so anything that must last goes
//! here. Two components never see each other's keys; values survive
//! restarts and upgrades of the component.

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_names_the_key() {
        let e = decode::<u32>("notes/a", b"\"x\"").unwrap_err();
        assert!(e.message().contains("`notes/a`"), "{e}");
        assert_eq!(decode::<Vec<u8>>("k", b"[1,2]").unwrap(), vec![1, 2]);
    }
}
