//! Loading: a candidate read from the cache (or compiled), checked, and
//! installed in its slot; at start every candidate at once, concurrently,
//! installed in name order. Hot swap (`watch.rs`) calls
//! [`Runtime::reload`] for one name.

use super::{Runtime, Slot};
use crate::runtime::component::LoadedComponent;
use anyhow::Result;
use std::sync::Arc;

impl Runtime {
    /// Loads (or reloads) `name` from its current candidate. On failure the
    /// version already serving stays, and the error is kept for `status`.
    pub async fn reload(self: &Arc<Self>, name: &str) -> Result<()> {
        let _guard = self.reload_lock.lock().await;
        let prepared = self.prepare(name).await;
        self.install(name, prepared)
    }

    /// Whether the operator (or the configuration's defaults) turned `name`
    /// off.
    fn disabled(&self, name: &str) -> bool {
        self.config
            .policies
            .get(name)
            .and_then(|p| p.enabled)
            .is_some_and(|e| !e)
    }

    /// The compiled component for `name` (nothing is installed yet):
    /// `Ok(None)` when its files are gone or it is disabled.
    async fn prepare(self: &Arc<Self>, name: &str) -> Result<Option<LoadedComponent>> {
        if self.disabled(name) {
            return Ok(None);
        }
        self.load_candidate(name).await
    }

    /// Puts what [`prepare`](Self::prepare) gave into `name`'s slot. Called
    /// with `reload_lock` held, so the tool-conflict check sees every slot
    /// as it will be.
    fn install(&self, name: &str, prepared: Result<Option<LoadedComponent>>) -> Result<()> {
        let mut slots = self.slots.write().unwrap();
        if self.disabled(name) {
            slots.insert(
                name.to_string(),
                Slot {
                    disabled: true,
                    ..Slot::empty()
                },
            );
            self.bump_generation();
            return Ok(());
        }
        let result = match prepared {
            Ok(Some(loaded)) => match self.tool_conflict(name, &loaded, &slots) {
                Some(why) => Err(anyhow::anyhow!(why)),
                None => Ok(Some(loaded)),
            },
            other => other,
        };
        match result {
            Ok(Some(loaded)) => {
                let loaded = Arc::new(loaded);
                tracing::info!(
                    component = name,
                    hash = &loaded.hash[..12],
                    source = %loaded.source,
                    "component ready"
                );
                slots.insert(
                    name.to_string(),
                    Slot {
                        active: Some(loaded),
                        ..Slot::empty()
                    },
                );
                self.bump_generation();
                Ok(())
            }
            Ok(None) => {
                // Its files are gone: stop serving it.
                if slots.remove(name).is_some() {
                    tracing::info!(component = name, "component removed");
                    self.bump_generation();
                }
                Ok(())
            }
            Err(e) => {
                let message = format!("{e:#}");
                crate::telemetry::metrics::error(
                    crate::telemetry::metrics::ErrorKind::ComponentLoad,
                );
                tracing::error!(component = name, "component failed to load: {message}");
                let slot = slots.entry(name.to_string()).or_insert_with(Slot::empty);
                slot.last_error = Some(message);
                Err(e)
            }
        }
    }

    async fn load_candidate(self: &Arc<Self>, name: &str) -> Result<Option<LoadedComponent>> {
        let Some(candidate) = self.candidate(name)? else {
            return Ok(None);
        };
        let this = self.clone();
        let owned = name.to_string();
        // Compiling is CPU work: keep it off the threads serving calls.
        let mut loaded =
            tokio::task::spawn_blocking(move || this.compile(&owned, &candidate)).await??;
        if loaded.is_tool() {
            loaded.tools = loaded
                .list_tools()
                .await
                .map_err(|e| anyhow::anyhow!("listing its tools failed: {e}"))?;
            crate::runtime::tool_spec::check_all(&loaded.tools)
                .map_err(|e| anyhow::anyhow!("its tools are left out, because {e}"))?;
        }
        Ok(Some(loaded))
    }

    /// Loads `name` outside the slots, whether or not the operator enabled
    /// it: for asking a disabled channel about its own records (`pairing
    /// list` while the channel is off). Nothing serves it.
    pub async fn load_detached(self: &Arc<Self>, name: &str) -> Result<Option<LoadedComponent>> {
        self.load_candidate(name).await
    }

    /// Loads every candidate; returns the names that failed with why.
    ///
    /// Candidates are read from the cache (or compiled) concurrently, as
    /// many at a time as there are cores, and installed one by one in name
    /// order, so which of two components claiming one tool name wins does
    /// not depend on which finished first.
    pub async fn load_all(self: &Arc<Self>) -> Vec<(String, String)> {
        use futures::StreamExt;
        let _guard = self.reload_lock.lock().await;
        let names = self.candidate_names();
        let width = std::thread::available_parallelism().map_or(2, |n| n.get());
        let prepared: Vec<_> = futures::stream::iter(
            names
                .iter()
                .map(|name| async move { (name, self.prepare(name).await) }),
        )
        .buffered(width)
        .collect()
        .await;
        let mut failures = Vec::new();
        for (name, prepared) in prepared {
            if let Err(e) = self.install(name, prepared) {
                failures.push((name.clone(), format!("{e:#}")));
            }
        }
        failures
    }
}
