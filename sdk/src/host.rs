//! Services the host gives every component: logs, configuration, a clock,
//! and checks against secrets.

use crate::bindings::channel::openpista::plugin::host as wit;

pub use wit::LogLevel;

/// Writes a log record attributed to this component. The host redacts the
/// values of secrets before it keeps the record.
pub fn log(level: LogLevel, message: &str) {
    wit::log(level, message, &[]);
}

/// Writes a log record with structured fields (`("status", "503")`), which
/// the host keeps as fields rather than text.
pub fn log_with(level: LogLevel, message: &str, fields: &[(&str, &str)]) {
    let fields: Vec<(String, String)> = fields
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect();
    wit::log(level, message, &fields);
}

/// Logs at `trace` level.
pub fn trace(message: &str) {
    log(LogLevel::Trace, message);
}

/// Logs at `debug` level.
pub fn debug(message: &str) {
    log(LogLevel::Debug, message);
}

/// Logs at `info` level.
pub fn info(message: &str) {
    log(LogLevel::Info, message);
}

/// Logs at `warn` level.
pub fn warn(message: &str) {
    log(LogLevel::Warn, message);
}

/// Logs at `error` level.
pub fn error(message: &str) {
    log(LogLevel::Error, message);
}

/// A configuration value: the manifest's `[config]` table overlaid by the
/// operator's `[components.NAME.config]`. Secrets are never returned here:
/// write `{{secret:NAME}}` into an outbound URL or header instead (see
/// [`http`](crate::http)).
pub fn config(key: &str) -> Option<String> {
    wit::config(key)
}

/// A configuration value, or `default` when it is not set.
pub fn config_or(key: &str, default: &str) -> String {
    config(key).unwrap_or_else(|| default.to_string())
}

/// Wall-clock time in milliseconds since the Unix epoch, from the host.
pub fn now_ms() -> u64 {
    wit::now_ms()
}

/// Whether `candidate` equals the value of the secret `name` (a token a
/// client presented, say). The host compares them in constant time and
/// answers only yes or no: the secret's value never enters the component,
/// so a compromised or buggy component cannot leak it. `false` when the
/// manifest does not declare the secret or the operator gave it no value,
/// so a channel without a configured token admits nobody.
pub fn secret_matches(name: &str, candidate: &str) -> bool {
    wit::secret_matches(name, candidate)
}

/// Whether `mac_hex` is the HMAC-SHA256 of `message` keyed with the secret
/// `name` (since WIT 0.2.2): how a channel checks a signed webhook (Slack's
/// `v0=` signature over `v0:TIMESTAMP:BODY`) without holding the signing
/// secret. The host computes and compares in constant time; `false` when
/// the secret is not granted or has no value, or `mac_hex` is not hex.
pub fn secret_hmac_matches(name: &str, message: &[u8], mac_hex: &str) -> bool {
    wit::secret_hmac_matches(name, message, mac_hex)
}
