//! The `audit_log` projection: who did what to which aggregate, and when. One
//! row per event, written idempotently (the position is the key).

use async_trait::async_trait;
use flowforge_infra::{
    checkpoints::Checkpoints,
    event_store::{Position, RecordedEvent},
    read_model::{AuditEntry, AuditLog, ReadModelError, AUDIT_PROJECTION},
};

use crate::{Projection, ProjectionError};

/// Keeps the audit log.
pub struct AuditLogProjection {
    log: AuditLog,
    checkpoints: Checkpoints,
}

impl AuditLogProjection {
    /// A projection writing to `log`, its checkpoint kept in `checkpoints`.
    pub fn new(log: AuditLog, checkpoints: Checkpoints) -> Self {
        Self { log, checkpoints }
    }
}

#[async_trait]
impl Projection for AuditLogProjection {
    fn name(&self) -> &'static str {
        AUDIT_PROJECTION
    }

    async fn checkpoint(&self) -> Result<Position, ProjectionError> {
        self.checkpoints
            .get(AUDIT_PROJECTION)
            .await
            .map_err(|e| ProjectionError::ReadModel(ReadModelError::Database(e)))
    }

    async fn apply(&self, batch: &[RecordedEvent]) -> Result<(), ProjectionError> {
        let Some(last) = batch.last() else {
            return Ok(());
        };
        let entries: Vec<AuditEntry> = batch.iter().map(AuditEntry::from).collect();
        self.log.record(&entries, last.position).await?;
        Ok(())
    }
}
