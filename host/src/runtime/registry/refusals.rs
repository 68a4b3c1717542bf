//! What the runtime refuses to serve although it loaded: a component that
//! lists a tool name another serving component or the host already holds,
//! or (on the wiring's word) a channel that claimed another's name or
//! routes. The first holder keeps the name; the later one is refused and
//! says why in `component list`, never hidden in silence.

use super::{Runtime, Slot};
use crate::runtime::component::LoadedComponent;
use std::collections::BTreeMap;

impl Runtime {
    /// Why `loaded` (to serve as `name`) may not: a tool name the host
    /// reserves, or one another serving component already lists. The
    /// component that came first keeps its name; the later one is refused,
    /// visibly, never hidden in silence.
    pub(super) fn tool_conflict(
        &self,
        name: &str,
        loaded: &LoadedComponent,
        slots: &BTreeMap<String, Slot>,
    ) -> Option<String> {
        let reserved = self.reserved_tools.read().unwrap();
        for tool in &loaded.tools {
            if reserved.contains(&tool.name) {
                return Some(format!(
                    "refused: tool {} is one of the host's native tools, which no component may replace",
                    tool.name
                ));
            }
            for (other, slot) in slots {
                if other != name
                    && let Some(active) = &slot.active
                    && active.tools.iter().any(|t| t.name == tool.name)
                {
                    return Some(format!(
                        "refused: tool {} is already provided by component {other}; rename it",
                        tool.name
                    ));
                }
            }
        }
        None
    }

    /// Reserves `tool` for the host (a native tool). A component already
    /// serving it is refused.
    pub fn reserve_tool(&self, tool: &str) {
        self.reserved_tools
            .write()
            .unwrap()
            .insert(tool.to_string());
        let owners: Vec<String> = self
            .components()
            .into_iter()
            .filter(|c| c.tools.iter().any(|t| t.name == tool))
            .map(|c| c.name().to_string())
            .collect();
        for owner in owners {
            self.refuse(
                &owner,
                &format!(
                    "tool {tool} is one of the host's native tools, which no component may replace"
                ),
            );
        }
    }

    /// Stops serving `name` because it claimed what is not its own; `why`
    /// shows in `component list` until a new version loads cleanly.
    pub fn refuse(&self, name: &str, why: &str) {
        tracing::error!(component = name, "component refused: {why}");
        let mut slots = self.slots.write().unwrap();
        let slot = slots.entry(name.to_string()).or_insert_with(Slot::empty);
        slot.active = None;
        slot.refused = true;
        slot.last_error = Some(format!("refused: {why}"));
        self.bump_generation();
    }
}
