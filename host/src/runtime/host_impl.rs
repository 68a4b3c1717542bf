//! The host side of the `host`, `memory` and `connections` interfaces,
//! implemented on [`CallState`]. Everything here acts on behalf of the
//! calling component only: its config, its keys, its log lines.

use super::bindings::WitError;
use super::bindings::channel::openpista::plugin::{connections, host, memory, types};
use super::connections::Outgoing;
use super::state::CallState;

impl types::Host for CallState {}

impl host::Host for CallState {
    fn log(&mut self, level: host::LogLevel, message: String, fields: Vec<(String, String)>) {
        let redact = |s: &str| self.ctx.grants.outbound.secrets.redact(s).into_owned();
        let message = redact(&message);
        let fields: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("{k}={}", redact(v)))
            .collect();
        let fields = fields.join(" ");
        let component = &*self.ctx.name;
        match level {
            host::LogLevel::Trace => tracing::trace!(component, %fields, "{message}"),
            host::LogLevel::Debug => tracing::debug!(component, %fields, "{message}"),
            host::LogLevel::Info => tracing::info!(component, %fields, "{message}"),
            host::LogLevel::Warn => tracing::warn!(component, %fields, "{message}"),
            host::LogLevel::Error => tracing::error!(component, %fields, "{message}"),
        }
    }

    fn config(&mut self, key: String) -> Option<String> {
        self.ctx.config.get(&key).cloned()
    }

    fn now_ms(&mut self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    }

    fn secret_matches(&mut self, name: String, candidate: String) -> bool {
        self.ctx.grants.outbound.secrets.matches(&name, &candidate)
    }

    fn secret_hmac_matches(&mut self, name: String, message: Vec<u8>, mac_hex: String) -> bool {
        self.ctx
            .grants
            .outbound
            .secrets
            .hmac_matches(&name, &message, &mac_hex)
    }
}

fn no_memory() -> WitError {
    WitError::Unavailable("the host runs without a memory database".into())
}

fn storage_error(e: anyhow::Error) -> WitError {
    WitError::Internal(format!("memory: {e:#}"))
}

impl memory::Host for CallState {
    fn get(&mut self, key: String) -> Result<Option<Vec<u8>>, WitError> {
        let store = self.ctx.memory.as_ref().ok_or_else(no_memory)?;
        store.kv_get(&self.ctx.name, &key).map_err(storage_error)
    }

    fn set(&mut self, key: String, value: Vec<u8>) -> Result<(), WitError> {
        let store = self.ctx.memory.as_ref().ok_or_else(no_memory)?;
        store
            .kv_set(&self.ctx.name, &key, &value)
            .map_err(|e| WitError::InvalidInput(format!("memory.set {key:?}: {e:#}")))
    }

    fn delete(&mut self, key: String) -> Result<bool, WitError> {
        let store = self.ctx.memory.as_ref().ok_or_else(no_memory)?;
        store.kv_delete(&self.ctx.name, &key).map_err(storage_error)
    }

    fn list_keys(&mut self, prefix: String, limit: u32) -> Result<Vec<String>, WitError> {
        let store = self.ctx.memory.as_ref().ok_or_else(no_memory)?;
        store
            .kv_list(&self.ctx.name, &prefix, limit.min(10_000) as usize)
            .map_err(storage_error)
    }
}

impl connections::Host for CallState {
    // Connections are the host's; a component reaches only those the
    // listener registered under its name.
    fn ws_send(&mut self, id: u64, frame: connections::Frame) -> Result<(), WitError> {
        let frame = match frame {
            // To a server the channel opened (a granted host), secrets go
            // as they go in its requests' headers: filled in by the host.
            // Never toward a client that connected to us.
            connections::Frame::Text(text)
                if text.contains("{{secret:")
                    && self.ctx.connections.is_outbound(&self.ctx.name, id) =>
            {
                let filled = self
                    .ctx
                    .grants
                    .outbound
                    .secrets
                    .substitute(&text)
                    .map_err(|name| {
                        WitError::Denied(format!(
                            "secret {name:?} is not granted to this component"
                        ))
                    })?
                    .into_owned();
                connections::Frame::Text(filled)
            }
            other => other,
        };
        self.ctx
            .connections
            .send(&self.ctx.name, id, Outgoing::Frame(frame))
    }

    fn ws_close(&mut self, id: u64, code: u16, reason: String) -> Result<(), WitError> {
        self.ctx
            .connections
            .send(&self.ctx.name, id, Outgoing::Close { code, reason })
    }

    // Only to granted hosts, only as many as the manifest declares, only
    // while the channel serves; see `ws_client`.
    fn ws_open(&mut self, url: String, headers: Vec<(String, String)>) -> Result<u64, WitError> {
        super::ws_client::open(
            &self.ctx.connections,
            &self.ctx.grants.outbound,
            self.ctx.grants.websockets,
            &url,
            headers,
        )
    }

    fn ws_close_status(&mut self, id: u64) -> Option<(u16, String)> {
        self.ctx.connections.close_status(&self.ctx.name, id)
    }
}
