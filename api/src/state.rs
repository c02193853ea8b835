//! The one shared state every handler receives through axum's `State`.

use std::{sync::Arc, time::Duration};

use flowforge_commands::CommandBus;
use flowforge_infra::{event_store::EventStore, read_model::WorkflowViewStore};
use flowforge_projections::ProjectionProgress;

use crate::error::ApiError;

/// What handlers need: the write side, the read side, and how far it has got.
#[derive(Clone)]
pub struct AppState {
    /// Runs commands against aggregates.
    pub commands: CommandBus,
    /// The event log, for history queries.
    pub store: Arc<dyn EventStore>,
    /// The workflow read model.
    pub workflows: Arc<dyn WorkflowViewStore>,
    /// The workflows projection's position, for read-your-writes.
    pub workflows_progress: ProjectionProgress,
    /// How long a `consistent_with` query waits before answering 503.
    pub consistency_timeout: Duration,
    /// The request body limit, repeated in 413 errors.
    pub max_body_bytes: u64,
}

impl AppState {
    /// Waits until the workflow read model reflects `position` (if given).
    pub async fn workflows_consistent_with(&self, position: Option<u64>) -> Result<(), ApiError> {
        let Some(position) = position else {
            return Ok(());
        };
        if self
            .workflows_progress
            .wait_for(position, self.consistency_timeout)
            .await
        {
            Ok(())
        } else {
            Err(ApiError::NotCaughtUp {
                position,
                current: self.workflows_progress.current(),
            })
        }
    }
}
