//! The 0.1 `host`, `memory` and `connections` imports: each call is the
//! 0.2 implementation's, so a 0.1 component gets exactly the same
//! capabilities, redaction and limits.

use super::bindings::channel::openpista::plugin::{connections, host, memory};
use crate::runtime::bindings::WitError;
use crate::runtime::bindings::channel::openpista::plugin::{
    connections as now_connections, host as now_host, memory as now_memory,
};
use crate::runtime::state::CallState;

impl host::Host for CallState {
    fn log(&mut self, level: host::LogLevel, message: String, fields: Vec<(String, String)>) {
        let level = match level {
            host::LogLevel::Trace => now_host::LogLevel::Trace,
            host::LogLevel::Debug => now_host::LogLevel::Debug,
            host::LogLevel::Info => now_host::LogLevel::Info,
            host::LogLevel::Warn => now_host::LogLevel::Warn,
            host::LogLevel::Error => now_host::LogLevel::Error,
        };
        now_host::Host::log(self, level, message, fields)
    }

    fn config(&mut self, key: String) -> Option<String> {
        now_host::Host::config(self, key)
    }

    fn now_ms(&mut self) -> u64 {
        now_host::Host::now_ms(self)
    }

    fn secret_matches(&mut self, name: String, candidate: String) -> bool {
        now_host::Host::secret_matches(self, name, candidate)
    }
}

impl memory::Host for CallState {
    fn get(&mut self, key: String) -> Result<Option<Vec<u8>>, WitError> {
        now_memory::Host::get(self, key)
    }

    fn set(&mut self, key: String, value: Vec<u8>) -> Result<(), WitError> {
        now_memory::Host::set(self, key, value)
    }

    fn delete(&mut self, key: String) -> Result<bool, WitError> {
        now_memory::Host::delete(self, key)
    }

    fn list_keys(&mut self, prefix: String, limit: u32) -> Result<Vec<String>, WitError> {
        now_memory::Host::list_keys(self, prefix, limit)
    }
}

impl connections::Host for CallState {
    fn ws_send(&mut self, id: u64, frame: connections::Frame) -> Result<(), WitError> {
        now_connections::Host::ws_send(self, id, super::convert::frame_now(frame))
    }

    fn ws_close(&mut self, id: u64, code: u16, reason: String) -> Result<(), WitError> {
        now_connections::Host::ws_close(self, id, code, reason)
    }
}
