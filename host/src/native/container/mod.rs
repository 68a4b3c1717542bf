//! `container.run`: tasks in fresh Docker containers (placeholder until
//! the container tool lands).

use super::env::EnvScrub;
use super::settings::ContainerSettings;
use crate::tools::NativeTool;
use std::path::PathBuf;
use std::sync::Arc;

/// The Docker connection and the tasks running.
pub struct Containers {
    #[allow(dead_code)]
    settings: ContainerSettings,
}

impl Containers {
    pub fn new(
        settings: ContainerSettings,
        _scrub: EnvScrub,
        _workspace: PathBuf,
    ) -> Arc<Containers> {
        Arc::new(Containers { settings })
    }

    pub async fn shutdown(&self) {}
}

/// The container tools sharing `containers`.
pub fn tools(_containers: &Arc<Containers>) -> Vec<Arc<dyn NativeTool>> {
    Vec::new()
}
