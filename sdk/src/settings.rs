//! Reading a component's `[config]` values into typed settings, with
//! errors that name the key, the value and what it takes. The host hands
//! every value over as a string ([`host::config`](crate::host::config));
//! a channel turns its `[channels.NAME]` section back into numbers, flags
//! and lists here, the same way in every component.
//!
//! ```
//! use openpista_sdk::settings::ConfigValues;
//!
//! let values = ConfigValues::new("example", |key: &str| match key {
//!     "pairing" => Some("false".to_string()),
//!     "allowed_users" => Some(" 1, 2,,3".to_string()),
//!     _ => None,
//! });
//! assert_eq!(values.flag("pairing").unwrap(), Some(false));
//! assert_eq!(values.items("allowed_users"), ["1", "2", "3"]);
//! assert_eq!(values.number::<u64>("max_bytes", "a number of bytes").unwrap(), None);
//! ```

use crate::Error;
use std::str::FromStr;

/// A component's configuration values, read through `get` (in a
/// component, [`host::config`](crate::host::config); in a test, a table).
pub struct ConfigValues<F> {
    component: &'static str,
    get: F,
}

impl<F: Fn(&str) -> Option<String>> ConfigValues<F> {
    /// `component` names the channel in errors (`telegram: config …`).
    pub fn new(component: &'static str, get: F) -> Self {
        ConfigValues { component, get }
    }

    /// The value of `key`, trimmed; `None` when missing or blank, so that
    /// a blank value keeps the default.
    pub fn text(&self, key: &str) -> Option<String> {
        (self.get)(key)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    /// A URL root without its trailing `/`, so paths can be appended.
    pub fn url(&self, key: &str) -> Option<String> {
        self.text(key).map(|u| u.trim_end_matches('/').to_string())
    }

    /// `true` or `false` (any case); anything else is an error naming the
    /// key.
    pub fn flag(&self, key: &str) -> Result<Option<bool>, Error> {
        self.text(key)
            .map(|v| match v.to_ascii_lowercase().as_str() {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(self.bad(key, &v, "`true` or `false`")),
            })
            .transpose()
    }

    /// A number; `wanted` says what it is for the error (`a whole number
    /// of bytes`).
    pub fn number<T: FromStr>(&self, key: &str, wanted: &str) -> Result<Option<T>, Error> {
        self.text(key)
            .map(|v| v.parse::<T>().map_err(|_| self.bad(key, &v, wanted)))
            .transpose()
    }

    /// A comma-separated list, each item trimmed, blank items skipped (how
    /// the host writes `allowed_users`).
    pub fn items(&self, key: &str) -> Vec<String> {
        self.text(key)
            .map(|list| {
                list.split(',')
                    .map(str::trim)
                    .filter(|i| !i.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The error for a `value` of `key` that is not what it should be:
    /// an [`Error::Unavailable`], since the channel cannot run so.
    pub fn bad(&self, key: &str, value: &str, wanted: &str) -> Error {
        Error::unavailable(format!(
            "{}: config `{key}` is `{value}`, which is not {wanted}",
            self.component
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(
        pairs: &'static [(&'static str, &'static str)],
    ) -> ConfigValues<impl Fn(&str) -> Option<String>> {
        ConfigValues::new("demo", move |key: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn blanks_are_missing_and_urls_lose_their_slash() {
        let v = values(&[("a", "  "), ("url", " http://x/api/ ")]);
        assert_eq!(v.text("a"), None);
        assert_eq!(v.text("none"), None);
        assert_eq!(v.url("url").as_deref(), Some("http://x/api"));
        assert!(v.items("a").is_empty());
    }

    #[test]
    fn flags_and_numbers_are_strict_and_name_the_key() {
        let v = values(&[
            ("on", "TRUE"),
            ("off", "false"),
            ("odd", "yes"),
            ("n", "12"),
            ("m", "5MB"),
        ]);
        assert_eq!(v.flag("on").unwrap(), Some(true));
        assert_eq!(v.flag("off").unwrap(), Some(false));
        let e = v.flag("odd").unwrap_err();
        assert_eq!(e.kind(), "unavailable");
        assert_eq!(
            e.message(),
            "demo: config `odd` is `yes`, which is not `true` or `false`"
        );
        assert_eq!(v.number::<u64>("n", "bytes").unwrap(), Some(12));
        let e = v.number::<u64>("m", "a whole number of bytes").unwrap_err();
        assert!(
            e.message()
                .contains("`m` is `5MB`, which is not a whole number of bytes"),
            "{e}"
        );
    }

    #[test]
    fn items_keep_inner_spaces() {
        // Phone numbers are items with spaces in them.
        let v = values(&[("users", "+1 555 123 4567, 42 ,")]);
        assert_eq!(v.items("users"), ["+1 555 123 4567", "42"]);
    }
}
