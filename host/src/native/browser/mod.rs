//! `browser.*`: Chromium over the DevTools protocol (placeholder until the
//! browser tools land).

use super::settings::BrowserSettings;
use crate::tools::NativeTool;
use std::sync::Arc;

/// One Chromium per host, started on first use.
pub struct BrowserPool {
    #[allow(dead_code)]
    settings: BrowserSettings,
}

impl BrowserPool {
    pub fn new(settings: BrowserSettings) -> Arc<BrowserPool> {
        Arc::new(BrowserPool { settings })
    }

    /// The browser's process id, when it runs.
    pub fn pid(&self) -> Option<u32> {
        None
    }

    pub async fn shutdown(&self) {}
}

/// The browser tools sharing `pool`.
pub fn tools(_pool: &Arc<BrowserPool>) -> Vec<Arc<dyn NativeTool>> {
    Vec::new()
}
